//! Output tables: versioned, atomically replaced snapshot files, and the alias that names
//! the serving version.
//!
//! ```text
//!   <root>/tables/
//!     WORKLOAD.v1/part-0       postcard: one input partition's cells, position, counts
//!     WORKLOAD.v1/part-1
//!     WORKLOAD.v2/part-0 …
//!     WORKLOAD.alias           the serving version ("2\n"), replaced by one rename
//! ```
//!
//! A table version is one file per input partition (a *part*): the partial aggregates
//! that partition's task contributed, and the offset they cover. A task's checkpoint
//! rewrites its own part only — written to a temporary file, synced, renamed over the
//! old one (and the directory synced) — so a reader sees each part's old snapshot or its
//! new one, never a mix, and the cost of a write is one partition's cells, not the
//! table's. Reading a version merges its parts (partials of one window and key from
//! several partitions combine, as they do within a job). Because parts are independent,
//! the tasks of one job may run in several processes ([`crate::JobConfig::distributed`])
//! and still make one table, as long as they write into one directory. A reader needs
//! no lock and never opens the job's state or the log.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use workloads::PartialTable;

use crate::error::{KappaError, Result, corrupt, io_err};

const MAGIC: u32 = 0x4c4b_4b54; // "LKKT"
/// 2: one file per input partition (1 was one file per version).
const FORMAT: u32 = 2;

/// One version of a workload's output table, as of a checkpoint of every task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputTable {
    pub workload: String,
    pub version: u32,
    pub topic: String,
    /// Per input partition, the offset the table covers up to (exclusive): every record
    /// below it is in the table, no record at or above it is.
    pub positions: Vec<u64>,
    /// The job's watermark (min over partitions that are not idle) when written: windows
    /// ending at or before `watermark - allowed_lateness` are final.
    pub watermark: Option<i64>,
    pub allowed_lateness_ms: i64,
    /// Events applied, duplicates dropped and late events reported, over all partitions.
    pub events: u64,
    pub duplicates: u64,
    pub late_events: u64,
    /// Wall-clock time of writing (ms since the epoch).
    pub written_ms: i64,
    /// Partial aggregates per (window, key), the layout of `Workload::empty_partials`.
    pub table: PartialTable,
}

/// One input partition's share of a table version: the file `part-P`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TablePart {
    pub workload: String,
    pub version: u32,
    pub topic: String,
    /// Partitions of the input topic (every part of a version agrees).
    pub partitions: u32,
    pub partition: u32,
    /// The offset of this partition the part covers up to (exclusive).
    pub position: u64,
    /// This partition's watermark at its checkpoint, and whether it was idle then (an
    /// idle partition does not hold the table's watermark back).
    pub watermark: Option<i64>,
    pub idle: bool,
    pub allowed_lateness_ms: i64,
    pub events: u64,
    pub duplicates: u64,
    pub late_events: u64,
    pub written_ms: i64,
    /// The partition's partial aggregates per (window, key), closed and open windows.
    pub table: PartialTable,
}

#[derive(Serialize, Deserialize)]
struct PartFile {
    magic: u32,
    format: u32,
    part: TablePart,
}

fn check_name(workload: &str) -> Result<()> {
    master_log::validate_name(workload)
        .map_err(|e| KappaError::Config(format!("workload name: {e}")))
}

/// `<root>/tables`.
pub fn tables_dir(root: &Path) -> PathBuf {
    root.join("tables")
}

/// The directory of one table version: `<root>/tables/WORKLOAD.vN`.
pub fn version_dir(root: &Path, workload: &str, version: u32) -> PathBuf {
    tables_dir(root).join(format!("{workload}.v{version}"))
}

fn alias_path(root: &Path, workload: &str) -> PathBuf {
    tables_dir(root).join(format!("{workload}.alias"))
}

fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(format!("sync {}", dir.display())))
}

/// Write `bytes` to `path` atomically: a temporary file, synced, renamed over `path`.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| KappaError::Config(format!("{} has no directory", path.display())))?;
    fs::create_dir_all(dir).map_err(io_err(format!("create {}", dir.display())))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut f = fs::File::create(&tmp).map_err(io_err(format!("create {}", tmp.display())))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(io_err(format!("write {}", tmp.display())))?;
    fs::rename(&tmp, path).map_err(io_err(format!("rename to {}", path.display())))?;
    sync_dir(dir)
}

fn part_path(root: &Path, workload: &str, version: u32, partition: u32) -> PathBuf {
    version_dir(root, workload, version).join(format!("part-{partition}"))
}

/// Write one partition's part of a table version atomically.
pub fn write_part(root: &Path, part: &TablePart) -> Result<()> {
    check_name(&part.workload)?;
    let file = PartFile {
        magic: MAGIC,
        format: FORMAT,
        part: part.clone(),
    };
    let bytes = postcard::to_stdvec(&file).map_err(|e| corrupt("output table", e))?;
    write_atomic(
        &part_path(root, &part.workload, part.version, part.partition),
        &bytes,
    )
}

/// Read one part file; `None` when it is not there (not written yet, or deleted with
/// its version).
fn read_part(path: &Path) -> Result<Option<TablePart>> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(format!("read {}", path.display()))(e)),
    };
    let file: PartFile = postcard::from_bytes(&bytes)
        .map_err(|e| corrupt(format!("table part {}", path.display()), e))?;
    if file.magic != MAGIC || file.format != FORMAT {
        return Err(corrupt(
            format!("table part {}", path.display()),
            "not a Kappa table file of this format",
        ));
    }
    Ok(Some(file.part))
}

/// Read one table version: its parts, merged. A partition without a part yet counts as
/// covered up to offset 0 and holds the watermark back.
pub fn load_version(root: &Path, workload: &str, version: u32) -> Result<OutputTable> {
    check_name(workload)?;
    let dir = version_dir(root, workload, version);
    let no_table = |why: String| KappaError::NoTable {
        workload: workload.to_owned(),
        reason: format!("version {version} has no table yet ({why})"),
    };
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(no_table(dir.display().to_string()));
        }
        Err(e) => return Err(io_err(format!("list {}", dir.display()))(e)),
    };
    let mut files: Vec<(u32, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let p = name.strip_prefix("part-")?.parse().ok()?;
            Some((p, e.path()))
        })
        .collect();
    files.sort();
    let mut parts = Vec::with_capacity(files.len());
    for (_, path) in &files {
        match read_part(path)? {
            Some(part) => parts.push(part),
            // The version was deleted while being read.
            None => return Err(no_table(format!("{} went away", path.display()))),
        }
    }
    let Some(first) = parts.first() else {
        return Err(no_table(format!("{} has no part", dir.display())));
    };
    let mut out = OutputTable {
        workload: workload.to_owned(),
        version,
        topic: first.topic.clone(),
        positions: vec![0; first.partitions as usize],
        watermark: None,
        allowed_lateness_ms: first.allowed_lateness_ms,
        events: 0,
        duplicates: 0,
        late_events: 0,
        written_ms: 0,
        table: PartialTable::new(),
    };
    let mut watermarks = vec![(None, false); first.partitions as usize];
    for (part, (p, path)) in parts.iter().zip(&files) {
        if part.workload != workload
            || part.version != version
            || part.topic != first.topic
            || part.partitions != first.partitions
            || part.partition != *p
            || part.partition >= part.partitions
        {
            return Err(corrupt(
                format!("table part {}", path.display()),
                "it belongs to another table or partition",
            ));
        }
        out.positions[*p as usize] = part.position;
        watermarks[*p as usize] = (part.watermark, part.idle);
        out.events += part.events;
        out.duplicates += part.duplicates;
        out.late_events += part.late_events;
        out.written_ms = out.written_ms.max(part.written_ms);
        out.table.merge(&part.table)?;
    }
    out.watermark = combine_watermarks(watermarks.into_iter());
    Ok(out)
}

/// Min over partitions that are not idle; when all are idle, the max.
pub(crate) fn combine_watermarks(parts: impl Iterator<Item = (Option<i64>, bool)>) -> Option<i64> {
    let mut active: Option<Option<i64>> = None;
    let mut all_max: Option<i64> = None;
    for (wm, idle) in parts {
        if let Some(w) = wm {
            all_max = Some(all_max.map_or(w, |m| m.max(w)));
        }
        if !idle {
            // A non-idle partition without a watermark holds the job's back entirely.
            active = Some(match (active, wm) {
                (None, w) => w,
                (Some(Some(a)), Some(w)) => Some(a.min(w)),
                _ => None,
            });
        }
    }
    match active {
        Some(w) => w,
        None => all_max,
    }
}

/// The serving version of `workload`, if an alias names one.
pub fn serving_version(root: &Path, workload: &str) -> Result<Option<u32>> {
    check_name(workload)?;
    let path = alias_path(root, workload);
    match fs::read_to_string(&path) {
        Ok(text) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(|e| corrupt(format!("alias {}", path.display()), e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(format!("read {}", path.display()))(e)),
    }
}

/// Make `version` the serving one: one atomic rename of the alias file. The version must
/// have a table already.
pub fn set_serving(root: &Path, workload: &str, version: u32) -> Result<()> {
    load_version(root, workload, version)?;
    write_atomic(
        &alias_path(root, workload),
        format!("{version}\n").as_bytes(),
    )
}

/// The serving table of `workload` (what `lk query --pipeline kappa` reads). If the alias
/// switches and the old version is deleted between reading the alias and the table, the
/// alias is read again, so a query during a switch gets one version or the other, whole.
pub fn load_serving(root: &Path, workload: &str) -> Result<OutputTable> {
    let mut last = None;
    for _ in 0..3 {
        let Some(v) = serving_version(root, workload)? else {
            return Err(KappaError::NoTable {
                workload: workload.to_owned(),
                reason: "no serving version (run a Kappa job first)".into(),
            });
        };
        match load_version(root, workload, v) {
            Ok(t) => return Ok(t),
            Err(e @ KappaError::NoTable { .. }) => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| KappaError::NoTable {
        workload: workload.to_owned(),
        reason: "the serving version has no table".into(),
    }))
}

/// The versions of `workload` that have a directory, ascending.
pub fn list_versions(root: &Path, workload: &str) -> Result<Vec<u32>> {
    check_name(workload)?;
    let dir = tables_dir(root);
    let mut out = Vec::new();
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(io_err(format!("list {}", dir.display()))(e)),
    };
    let prefix = format!("{workload}.v");
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(v) = name.strip_prefix(&prefix).and_then(|v| v.parse().ok()) {
            out.push(v);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Delete a table version's files. The serving version cannot be deleted.
pub fn delete_version(root: &Path, workload: &str, version: u32) -> Result<()> {
    if serving_version(root, workload)? == Some(version) {
        return Err(KappaError::Config(format!(
            "{workload}.v{version} is the serving version; switch the alias first"
        )));
    }
    let dir = version_dir(root, workload, version);
    match fs::remove_dir_all(&dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err(format!("delete {}", dir.display()))(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use workloads::{Partial, Scalar, Window};

    /// Partition `partition` of a 2-partition table: `n` events in one cell, covering
    /// offsets below `n`, watermark `n`.
    fn part(version: u32, partition: u32, n: u64) -> TablePart {
        let mut t = PartialTable::new();
        t.cell_mut(Window { start: 0, end: 10 }, vec![Scalar::Int(1)], || {
            vec![Partial::Count(n)]
        });
        TablePart {
            workload: "w".into(),
            version,
            topic: "t".into(),
            partitions: 2,
            partition,
            position: n,
            watermark: Some(n as i64),
            idle: false,
            allowed_lateness_ms: 0,
            events: n,
            duplicates: 0,
            late_events: 0,
            written_ms: 0,
            table: t,
        }
    }

    fn count(t: &OutputTable) -> u64 {
        match t.table.iter().next().map(|(_, _, v)| &v[0]) {
            Some(Partial::Count(n)) => *n,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parts_merge_into_one_version() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write_part(root, &part(1, 0, 3)).unwrap();
        let t = load_version(root, "w", 1).unwrap();
        // Partition 1 has no part yet: covered to 0, and it holds the watermark back.
        assert_eq!(
            (t.positions.clone(), t.watermark, count(&t)),
            (vec![3, 0], None, 3)
        );
        write_part(root, &part(1, 1, 4)).unwrap();
        let t = load_version(root, "w", 1).unwrap();
        assert_eq!(t.positions, vec![3, 4]);
        assert_eq!((t.watermark, t.events, count(&t)), (Some(3), 7, 7));
        // A rewrite replaces its own part only.
        write_part(root, &part(1, 0, 5)).unwrap();
        let t = load_version(root, "w", 1).unwrap();
        assert_eq!((t.positions.clone(), count(&t)), (vec![5, 4], 9));
        // An idle partition does not hold the watermark back.
        write_part(
            root,
            &TablePart {
                idle: true,
                ..part(1, 0, 5)
            },
        )
        .unwrap();
        assert_eq!(load_version(root, "w", 1).unwrap().watermark, Some(4));
    }

    #[test]
    fn versions_alias_switch_and_delete() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        assert!(matches!(
            load_serving(root, "w"),
            Err(KappaError::NoTable { .. })
        ));
        // An alias cannot name a version without a table.
        assert!(set_serving(root, "w", 1).is_err());
        write_part(root, &part(1, 0, 3)).unwrap();
        set_serving(root, "w", 1).unwrap();
        assert_eq!(load_serving(root, "w").unwrap().version, 1);
        write_part(root, &part(2, 0, 4)).unwrap();
        write_part(root, &part(2, 1, 4)).unwrap();
        assert_eq!(load_serving(root, "w").unwrap().version, 1);
        assert!(delete_version(root, "w", 1).is_err());
        set_serving(root, "w", 2).unwrap();
        delete_version(root, "w", 1).unwrap();
        assert_eq!(list_versions(root, "w").unwrap(), vec![2]);
        let t = load_serving(root, "w").unwrap();
        assert_eq!(
            (t.version, t.positions.clone(), count(&t)),
            (2, vec![4, 4], 8)
        );
        // Bad names, damaged files and misplaced parts are errors.
        assert!(load_version(root, "../x", 1).is_err());
        std::fs::write(version_dir(root, "w", 2).join("part-1"), b"junk").unwrap();
        assert!(matches!(
            load_serving(root, "w"),
            Err(KappaError::Corrupt { .. })
        ));
        write_part(root, &part(2, 1, 4)).unwrap();
        std::fs::copy(
            version_dir(root, "w", 2).join("part-1"),
            version_dir(root, "w", 2).join("part-0"),
        )
        .unwrap();
        assert!(matches!(
            load_serving(root, "w"),
            Err(KappaError::Corrupt { .. })
        ));
    }
}
