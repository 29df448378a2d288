//! Output tables: versioned, atomically replaced snapshot files, and the alias that names
//! the serving version.
//!
//! ```text
//!   <root>/tables/
//!     WORKLOAD.v1/table        postcard: positions covered, watermark, counts, PartialTable
//!     WORKLOAD.v2/table
//!     WORKLOAD.alias           the serving version ("2\n"), replaced by one rename
//! ```
//!
//! A job rewrites its version's `table` at every checkpoint: written to a temporary file,
//! synced, renamed over the old one (and the directory synced), so a reader sees the old
//! snapshot or the new one, never a mix. A reader needs no lock and never opens the job's
//! state or the log (whose data directory one process holds at a time).

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use workloads::PartialTable;

use crate::error::{KappaError, Result, corrupt, io_err};

const MAGIC: u32 = 0x4c4b_4b54; // "LKKT"
const FORMAT: u32 = 1;

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

#[derive(Serialize, Deserialize)]
struct TableFile {
    magic: u32,
    format: u32,
    table: OutputTable,
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

/// Write a table version's snapshot atomically.
pub fn write_table(root: &Path, table: &OutputTable) -> Result<()> {
    check_name(&table.workload)?;
    let file = TableFile {
        magic: MAGIC,
        format: FORMAT,
        table: table.clone(),
    };
    let bytes = postcard::to_stdvec(&file).map_err(|e| corrupt("output table", e))?;
    write_atomic(
        &version_dir(root, &table.workload, table.version).join("table"),
        &bytes,
    )
}

/// Read one table version.
pub fn load_version(root: &Path, workload: &str, version: u32) -> Result<OutputTable> {
    check_name(workload)?;
    let path = version_dir(root, workload, version).join("table");
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(KappaError::NoTable {
                workload: workload.to_owned(),
                reason: format!("version {version} has no table yet ({})", path.display()),
            });
        }
        Err(e) => return Err(io_err(format!("read {}", path.display()))(e)),
    };
    let file: TableFile = postcard::from_bytes(&bytes)
        .map_err(|e| corrupt(format!("table {}", path.display()), e))?;
    if file.magic != MAGIC || file.format != FORMAT {
        return Err(corrupt(
            format!("table {}", path.display()),
            "not a Kappa table file of this format",
        ));
    }
    Ok(file.table)
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

    fn table(version: u32, n: u64) -> OutputTable {
        let mut t = PartialTable::new();
        t.cell_mut(Window { start: 0, end: 10 }, vec![Scalar::Int(1)], || {
            vec![Partial::Count(n)]
        });
        OutputTable {
            workload: "w".into(),
            version,
            topic: "t".into(),
            positions: vec![n],
            watermark: Some(5),
            allowed_lateness_ms: 0,
            events: n,
            duplicates: 0,
            late_events: 0,
            written_ms: 0,
            table: t,
        }
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
        write_table(root, &table(1, 3)).unwrap();
        set_serving(root, "w", 1).unwrap();
        assert_eq!(load_serving(root, "w").unwrap(), table(1, 3));
        write_table(root, &table(2, 4)).unwrap();
        assert_eq!(load_serving(root, "w").unwrap().version, 1);
        assert!(delete_version(root, "w", 1).is_err());
        set_serving(root, "w", 2).unwrap();
        delete_version(root, "w", 1).unwrap();
        assert_eq!(list_versions(root, "w").unwrap(), vec![2]);
        assert_eq!(load_serving(root, "w").unwrap(), table(2, 4));
        // Bad names and damaged files are errors.
        assert!(load_version(root, "../x", 1).is_err());
        std::fs::write(version_dir(root, "w", 2).join("table"), b"junk").unwrap();
        assert!(matches!(
            load_serving(root, "w"),
            Err(KappaError::Corrupt { .. })
        ));
    }
}
