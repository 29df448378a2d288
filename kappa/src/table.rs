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
//! that partition's task contributed, and the offset they cover. A part file is a short
//! log: a whole snapshot of the part, then what changed after it:
//!
//! ```text
//!   "LKKTPART" | format u32 LE                        (file header)
//!   len u32 LE | crc32c u32 LE | postcard Frame::Full   (a whole snapshot: a TablePart)
//!   len u32 LE | crc32c u32 LE | postcard Frame::Delta  (what changed since: PartDelta)
//!   …          (more deltas, or another full snapshot)
//! ```
//!
//! The part is the file's last full snapshot with the deltas after it applied, up to the
//! **last whole frame**. A write appends a frame (one `write` call, then an fsync unless
//! the job shows uncommitted results); a reader reading meanwhile sees the frame or not,
//! and a frame cut short by a crash fails its length or CRC and is ignored, so a reader
//! sees each part as of one write or the next, never a mix. A **delta** holds the
//! position, watermark and counters, and only the cells that changed since the previous
//! frame (the open windows' cells the task updated, the cells of windows it finalized,
//! the cells that went away): its cost is the change, not the partition's table. The job
//! writes a full snapshot at a task's first write after it opens (starting the file
//! anew: a temporary file, synced, renamed over the old one, the directory synced), and
//! again once the deltas since the last one add up to more than it (at least 1 MiB), so
//! a reader reads at most about twice a snapshot and the writing costs at most twice the
//! changes. Appending costs one write (microseconds) where replacing a file by a rename
//! costs hundreds of microseconds on ext4. Reading a version merges its parts (partials
//! of one window and key from
//! several partitions combine, as they do within a job). Because parts are independent,
//! the tasks of one job may run in several processes ([`crate::JobConfig::distributed`])
//! and still make one table, as long as they write into one directory. A reader needs
//! no lock and never opens the job's state or the log.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use master_log::durable::{self, Durability};
use serde::{Deserialize, Serialize};
use workloads::{GroupKey, PartialTable, StoredCell, Window};

use crate::error::{KappaError, Result, corrupt, io_err};

/// The magic that opens a part file of format 3 (the format number follows it).
const PART_HEADER: &[u8; 8] = b"LKKTPART";
/// 3: a part file is a log of full snapshots and deltas (2 was one postcard `PartFile`
/// per part file, still read; 1 was one file per version).
const FORMAT: u32 = 3;
/// The format-2 part file's magic and format numbers.
const MAGIC_2: u32 = 0x4c4b_4b54; // "LKKT"
const FORMAT_2: u32 = 2;
/// A part file is started anew when a full snapshot would take it past the larger of this
/// and 16 snapshots of the current size; the job writes a full snapshot once the deltas
/// since the last one add up to more than the larger of this and that snapshot.
pub const MAX_PART_FILE: u64 = 1 << 20;

/// One version of a workload's output table, as of a checkpoint of every task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputTable {
    /// The workload's name.
    pub workload: String,
    /// The table version (`WORKLOAD.vN`'s `N`).
    pub version: u32,
    /// The input topic.
    pub topic: String,
    /// Per input partition, the offset the table covers up to (exclusive): every record
    /// below it is in the table, no record at or above it is.
    pub positions: Vec<u64>,
    /// The job's watermark (min over partitions that are not idle) when written: windows
    /// ending at or before `watermark - allowed_lateness` are final.
    pub watermark: Option<i64>,
    /// The job's allowed lateness: how long after its end (in event time) a window
    /// still takes events.
    pub allowed_lateness_ms: i64,
    /// Events applied, over all partitions.
    pub events: u64,
    /// Duplicate events dropped, over all partitions.
    pub duplicates: u64,
    /// Late events reported, over all partitions.
    pub late_events: u64,
    /// Wall-clock time of writing (ms since the epoch).
    pub written_ms: i64,
    /// Partial aggregates per (window, key), the layout of `Workload::empty_partials`.
    pub table: PartialTable,
}

/// One input partition's share of a table version: the file `part-P`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TablePart {
    /// The workload's name.
    pub workload: String,
    /// The table version.
    pub version: u32,
    /// The input topic.
    pub topic: String,
    /// Partitions of the input topic (every part of a version agrees).
    pub partitions: u32,
    /// The input partition this part holds.
    pub partition: u32,
    /// The offset of this partition the part covers up to (exclusive).
    pub position: u64,
    /// This partition's watermark at its checkpoint.
    pub watermark: Option<i64>,
    /// Whether the partition was idle then (an idle partition does not hold the table's
    /// watermark back).
    pub idle: bool,
    /// The job's allowed lateness (see [`OutputTable::allowed_lateness_ms`]).
    pub allowed_lateness_ms: i64,
    /// Events of this partition applied.
    pub events: u64,
    /// Duplicate events of this partition dropped.
    pub duplicates: u64,
    /// Late events of this partition reported.
    pub late_events: u64,
    /// Wall-clock time of writing (ms since the epoch).
    pub written_ms: i64,
    /// The partition's partial aggregates per (window, key), closed and open windows.
    pub table: PartialTable,
}

/// One frame of a part file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Frame {
    /// A whole snapshot of the part.
    Full(TablePart),
    /// What changed since the frame before.
    Delta(PartDelta),
}

/// A change to a part (a [`Frame::Delta`]): its new position, watermark and counters, and
/// the cells that changed since the previous frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartDelta {
    /// The part's new position ([`TablePart::position`]).
    pub position: u64,
    /// The part's new watermark ([`TablePart::watermark`]).
    pub watermark: Option<i64>,
    /// Whether the partition is idle now ([`TablePart::idle`]).
    pub idle: bool,
    /// The part's events applied, now.
    pub events: u64,
    /// The part's duplicates dropped, now.
    pub duplicates: u64,
    /// The part's late events reported, now.
    pub late_events: u64,
    /// Wall-clock time of writing (ms since the epoch).
    pub written_ms: i64,
    /// Cells with their partials now (new or changed).
    pub upserts: Vec<StoredCell>,
    /// Cells that are no longer in the part.
    pub removed: Vec<(Window, GroupKey)>,
}

impl PartDelta {
    /// A delta to `now`'s position, watermark and counters, with no cell changed yet.
    pub fn header_of(now: &TablePart) -> PartDelta {
        PartDelta {
            position: now.position,
            watermark: now.watermark,
            idle: now.idle,
            events: now.events,
            duplicates: now.duplicates,
            late_events: now.late_events,
            written_ms: now.written_ms,
            upserts: Vec::new(),
            removed: Vec::new(),
        }
    }

    fn apply(self, part: &mut TablePart) {
        part.position = self.position;
        part.watermark = self.watermark;
        part.idle = self.idle;
        part.events = self.events;
        part.duplicates = self.duplicates;
        part.late_events = self.late_events;
        part.written_ms = self.written_ms;
        for (window, key) in &self.removed {
            part.table.remove(*window, key);
        }
        for c in self.upserts {
            *part.table.cell_mut(c.window, c.key, Vec::new) = c.partials;
        }
    }
}

/// A format-2 part file.
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

/// Write `bytes` to `path` atomically ([`durable::write_atomic`]), creating its
/// directory if missing. `Durability::Synced`: the file's bytes and its directory are
/// synced; `Unsynced`: readers see the new file just as atomically, but a power failure
/// may lose it (or, on some file systems, leave it empty).
fn write_atomic(path: &Path, bytes: &[u8], durability: Durability) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| KappaError::Config(format!("{} has no directory", path.display())))?;
    fs::create_dir_all(dir).map_err(io_err(format!("create {}", dir.display())))?;
    durable::write_atomic(path, bytes, durability)
        .map_err(io_err(format!("write {}", path.display())))
}

fn part_path(root: &Path, workload: &str, version: u32, partition: u32) -> PathBuf {
    version_dir(root, workload, version).join(format!("part-{partition}"))
}

/// Write one partition's part of a table version atomically, and durably (synced), as
/// the first snapshot of a new file.
pub fn write_part(root: &Path, part: &TablePart) -> Result<()> {
    write_part_with(root, part, true, true).map(|_| ())
}

/// Write a whole snapshot of one partition's part: appended to its file, or, with
/// `start_new` (or when the file is missing, of another format, or would grow past
/// `max(1 MiB, 16 snapshots)`), as a new file holding only it. With `sync`, synced (the
/// appended frame, or the new file as `Durability::Synced`), else not at all
/// (`Durability::Unsynced`; see `JobConfig::uncommitted_every`); readers see the old part
/// or the new one either way.
/// A writer that may find a torn frame at the end of the file (its first write after a
/// crash, or after another process wrote the file) must `start_new`. Returns the frame's
/// size in bytes.
pub fn write_part_with(root: &Path, part: &TablePart, sync: bool, start_new: bool) -> Result<u64> {
    check_name(&part.workload)?;
    let frame = frame_bytes(&Frame::Full(part.clone()))?;
    let path = part_path(root, &part.workload, part.version, part.partition);
    let limit = MAX_PART_FILE.max(16 * frame.len() as u64);
    if !start_new && append_frame(&path, &frame, sync, limit)? {
        return Ok(frame.len() as u64);
    }
    let mut file = file_header().to_vec();
    file.extend_from_slice(&frame);
    let durability = if sync {
        Durability::Synced
    } else {
        Durability::Unsynced
    };
    write_atomic(&path, &file, durability)?;
    Ok(frame.len() as u64)
}

/// Append a delta to the part file of `partition` of `workload.vN`, which this writer
/// started (with a full snapshot, [`write_part_with`]) and nobody else writes. Returns the
/// frame's size, or `None` when the file is missing or not of this format (then write a
/// full snapshot instead).
pub fn append_part_delta(
    root: &Path,
    workload: &str,
    version: u32,
    partition: u32,
    delta: &PartDelta,
    sync: bool,
) -> Result<Option<u64>> {
    check_name(workload)?;
    let frame = frame_bytes(&Frame::Delta(delta.clone()))?;
    let path = part_path(root, workload, version, partition);
    Ok(append_frame(&path, &frame, sync, u64::MAX)?.then_some(frame.len() as u64))
}

/// The first 12 bytes of a part file of this format: the magic and the format number.
fn file_header() -> [u8; 12] {
    let mut h = [0u8; 12];
    h[..8].copy_from_slice(PART_HEADER);
    h[8..].copy_from_slice(&FORMAT.to_le_bytes());
    h
}

fn frame_bytes(frame: &Frame) -> Result<Vec<u8>> {
    let payload = postcard::to_stdvec(frame).map_err(|e| corrupt("output table", e))?;
    let len = u32::try_from(payload.len())
        .map_err(|_| corrupt("output table", "a part of 4 GiB or more"))?;
    let mut bytes = Vec::with_capacity(payload.len() + 8);
    bytes.extend_from_slice(&len.to_le_bytes());
    bytes.extend_from_slice(&crc32c::crc32c(&payload).to_le_bytes());
    bytes.extend_from_slice(&payload);
    Ok(bytes)
}

/// Append `frame` to the part file at `path` in one write, if the file is there, of this
/// format, and stays within `limit` bytes. Returns whether it did.
fn append_frame(path: &Path, frame: &[u8], sync: bool, limit: u64) -> Result<bool> {
    let mut f = match fs::OpenOptions::new().read(true).append(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io_err(format!("open {}", path.display()))(e)),
    };
    let size = f
        .metadata()
        .map_err(io_err(format!("stat {}", path.display())))?
        .len();
    // Only onto a file of this format (its header read back, from the start: appends go
    // to the end whatever the read position; a file of the previous format is replaced).
    let mut header = [0u8; 12];
    let ours = size >= 12
        && std::io::Read::read_exact(&mut f, &mut header).is_ok()
        && header == file_header();
    if !ours || size.saturating_add(frame.len() as u64) > limit {
        return Ok(false);
    }
    f.write_all(frame)
        .and_then(|()| if sync { f.sync_data() } else { Ok(()) })
        .map_err(io_err(format!("append to {}", path.display())))?;
    Ok(true)
}

/// The part in a part file's bytes: its last full snapshot with the deltas after it
/// applied (format 3), or a format-2 file.
fn decode_part(bytes: &[u8], path: &Path) -> Result<TablePart> {
    let what = || format!("table part {}", path.display());
    if !bytes.starts_with(PART_HEADER) {
        let file: PartFile = postcard::from_bytes(bytes).map_err(|e| corrupt(what(), e))?;
        if file.magic != MAGIC_2 || file.format != FORMAT_2 {
            return Err(corrupt(what(), "not a Kappa table file of a known format"));
        }
        return Ok(file.part);
    }
    let mut part: Option<TablePart> = None;
    for frame in decode_frames(bytes, path)? {
        match frame {
            Frame::Full(p) => part = Some(p),
            Frame::Delta(d) => match part.as_mut() {
                Some(p) => d.apply(p),
                None => return Err(corrupt(what(), "a delta before any full snapshot")),
            },
        }
    }
    part.ok_or_else(|| corrupt(what(), "no whole snapshot in the file"))
}

/// The frames of a part file (format 3), up to its last whole one: a last frame cut
/// short or failing its CRC (a write a crash interrupted) is left out; damage before it
/// is an error. What readers apply; for inspecting a part file, see [`part_frames`].
fn decode_frames(bytes: &[u8], path: &Path) -> Result<Vec<Frame>> {
    let what = || format!("table part {}", path.display());
    let rest = bytes
        .strip_prefix(PART_HEADER.as_slice())
        .ok_or_else(|| corrupt(what(), "not a Kappa table part of this format"))?;
    let format = rest
        .get(..4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    if format != Some(FORMAT) {
        return Err(corrupt(
            what(),
            format!("table part format {format:?}, expected {FORMAT}"),
        ));
    }
    let mut frames = &rest[4..];
    let mut out = Vec::new();
    while frames.len() >= 8 {
        let len = u32::from_le_bytes([frames[0], frames[1], frames[2], frames[3]]) as usize;
        let crc = u32::from_le_bytes([frames[4], frames[5], frames[6], frames[7]]);
        let Some(payload) = frames.get(8..8 + len) else {
            break; // cut short
        };
        let rest = &frames[8 + len..];
        if crc32c::crc32c(payload) != crc {
            if rest.is_empty() {
                break; // the last frame, torn
            }
            return Err(corrupt(what(), "a snapshot before the last fails its CRC"));
        }
        out.push(postcard::from_bytes(payload).map_err(|e| corrupt(what(), e))?);
        frames = rest;
    }
    Ok(out)
}

/// The frames of the part file of `partition` of `workload.vN` (format 3), in order, up
/// to the last whole one: what a reader applies. For inspecting how a job writes its
/// table (full snapshots and deltas); readers of the table use [`load_version`].
pub fn part_frames(
    root: &Path,
    workload: &str,
    version: u32,
    partition: u32,
) -> Result<Vec<Frame>> {
    check_name(workload)?;
    let path = part_path(root, workload, version, partition);
    let bytes = fs::read(&path).map_err(io_err(format!("read {}", path.display())))?;
    decode_frames(&bytes, &path)
}

/// Read one part file; `None` when it is not there (not written yet, or deleted with
/// its version).
fn read_part(path: &Path) -> Result<Option<TablePart>> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(format!("read {}", path.display()))(e)),
    };
    decode_part(&bytes, path).map(Some)
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

/// Make `version` the serving one: one atomic rename of the alias file, synced
/// (`Durability::Synced`: the switch survives a power cut). The version must have a table
/// already.
pub fn set_serving(root: &Path, workload: &str, version: u32) -> Result<()> {
    load_version(root, workload, version)?;
    write_atomic(
        &alias_path(root, workload),
        format!("{version}\n").as_bytes(),
        Durability::Synced,
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

    fn file(root: &Path, partition: u32) -> PathBuf {
        part_path(root, "w", 1, partition)
    }

    fn len(path: &Path) -> u64 {
        std::fs::metadata(path).unwrap().len()
    }

    #[test]
    fn a_part_file_is_a_log_of_snapshots_and_the_last_whole_one_counts() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let path = file(root, 0);
        write_part_with(root, &part(1, 0, 1), false, true).unwrap();
        let one = len(&path);
        // Appends: the file grows by a frame each, the last snapshot is the part.
        for n in 2..=5 {
            write_part_with(root, &part(1, 0, n), n % 2 == 0, false).unwrap();
        }
        assert!(len(&path) > 3 * one, "appended, not replaced");
        assert_eq!(load_version(root, "w", 1).unwrap().positions, vec![5, 0]);
        // A frame cut short by a crash (any length of it) is ignored: the one before
        // counts.
        let whole = std::fs::read(&path).unwrap();
        write_part_with(root, &part(1, 0, 6), false, false).unwrap();
        let with_6 = std::fs::read(&path).unwrap();
        for cut in [1, 4, 8, 9, with_6.len() - whole.len() - 1] {
            std::fs::write(&path, &with_6[..whole.len() + cut]).unwrap();
            assert_eq!(
                load_version(root, "w", 1).unwrap().positions,
                vec![5, 0],
                "{cut}"
            );
        }
        // The last frame with a flipped byte is ignored too; one before the last is
        // damage, an error.
        let mut bad = with_6.clone();
        *bad.last_mut().unwrap() ^= 1;
        std::fs::write(&path, &bad).unwrap();
        assert_eq!(load_version(root, "w", 1).unwrap().positions, vec![5, 0]);
        let mut bad = with_6.clone();
        bad[whole.len() - 1] ^= 1;
        std::fs::write(&path, &bad).unwrap();
        assert!(matches!(
            load_version(root, "w", 1),
            Err(KappaError::Corrupt { .. })
        ));
        // Starting anew drops whatever the file held.
        write_part_with(root, &part(1, 0, 7), false, true).unwrap();
        assert_eq!(len(&path), one);
        assert_eq!(load_version(root, "w", 1).unwrap().positions, vec![7, 0]);
        // A header without any whole snapshot, or an unknown format, is an error.
        std::fs::write(&path, &with_6[..12]).unwrap();
        assert!(matches!(
            load_version(root, "w", 1),
            Err(KappaError::Corrupt { .. })
        ));
        let mut other = with_6.clone();
        other[8] = 9;
        std::fs::write(&path, &other).unwrap();
        assert!(matches!(
            load_version(root, "w", 1),
            Err(KappaError::Corrupt { .. })
        ));
    }

    #[test]
    fn a_part_file_starts_anew_before_it_grows_past_its_bound() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let path = file(root, 1);
        // A part of 100 cells: about 1 KB a snapshot.
        let big = |n: u64| {
            let mut p = part(1, 1, n);
            for k in 0..100 {
                p.table
                    .cell_mut(Window { start: 0, end: 10 }, vec![Scalar::Int(k)], || {
                        vec![Partial::Count(n)]
                    });
            }
            p
        };
        write_part_with(root, &big(0), false, true).unwrap();
        let mut largest = 0;
        let mut restarted = false;
        for n in 1..3_000 {
            let before = len(&path);
            write_part_with(root, &big(n), false, false).unwrap();
            restarted |= len(&path) < before;
            largest = largest.max(len(&path));
        }
        assert!(restarted, "the file was started anew");
        assert!(largest <= MAX_PART_FILE, "{largest}");
        assert_eq!(
            load_version(root, "w", 1).unwrap().positions,
            vec![0, 2_999]
        );
    }

    #[test]
    fn a_part_file_of_the_previous_format_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let old = PartFile {
            magic: MAGIC_2,
            format: FORMAT_2,
            part: part(1, 0, 3),
        };
        std::fs::create_dir_all(version_dir(root, "w", 1)).unwrap();
        std::fs::write(file(root, 0), postcard::to_stdvec(&old).unwrap()).unwrap();
        assert_eq!(load_version(root, "w", 1).unwrap().positions, vec![3, 0]);
        // Appending to it starts a file of the current format.
        write_part_with(root, &part(1, 0, 4), false, false).unwrap();
        assert!(
            std::fs::read(file(root, 0))
                .unwrap()
                .starts_with(PART_HEADER)
        );
        assert_eq!(load_version(root, "w", 1).unwrap().positions, vec![4, 0]);
    }

    #[test]
    fn deltas_apply_to_the_last_full_snapshot_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let w = |s: i64| Window {
            start: s,
            end: s + 10,
        };
        let cell = |s: i64, k: i64, n: u64| StoredCell {
            window: w(s),
            key: vec![Scalar::Int(k)],
            partials: vec![Partial::Count(n)],
        };
        // Full: one cell (window 0, key 1) = 3.
        write_part_with(root, &part(1, 0, 3), false, true).unwrap();
        let delta =
            |position: u64, upserts: Vec<StoredCell>, removed: Vec<(Window, GroupKey)>| PartDelta {
                position,
                upserts,
                removed,
                ..PartDelta::header_of(&part(1, 0, position))
            };
        let d1 = delta(5, vec![cell(0, 1, 5), cell(10, 2, 1)], vec![]);
        let d2 = delta(7, vec![cell(10, 2, 3)], vec![(w(0), vec![Scalar::Int(1)])]);
        for d in [&d1, &d2] {
            assert!(
                append_part_delta(root, "w", 1, 0, d, false)
                    .unwrap()
                    .is_some()
            );
        }
        let t = load_version(root, "w", 1).unwrap();
        assert_eq!(t.positions, vec![7, 0]);
        let cells: Vec<_> = t
            .table
            .iter()
            .map(|(w, k, p)| (*w, k.clone(), p.clone()))
            .collect();
        assert_eq!(
            cells,
            vec![(w(10), vec![Scalar::Int(2)], vec![Partial::Count(3)])]
        );
        // A torn last delta: the part as of the one before.
        let path = file(root, 0);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        let t = load_version(root, "w", 1).unwrap();
        assert_eq!((t.positions.clone(), count(&t)), (vec![5, 0], 5));
        // A full snapshot replaces everything before it; deltas continue from it.
        write_part_with(root, &part(1, 0, 9), false, true).unwrap();
        append_part_delta(
            root,
            "w",
            1,
            0,
            &delta(11, vec![cell(0, 1, 11)], vec![]),
            false,
        )
        .unwrap()
        .unwrap();
        let t = load_version(root, "w", 1).unwrap();
        assert_eq!(
            (t.positions.clone(), t.table.len(), count(&t)),
            (vec![11, 0], 1, 11)
        );
        // No file: nothing to append to. A delta before any full snapshot is damage.
        assert_eq!(
            append_part_delta(root, "w", 1, 1, &d1, false).unwrap(),
            None
        );
        let mut only_delta = file_header().to_vec();
        only_delta.extend_from_slice(&frame_bytes(&Frame::Delta(d1.clone())).unwrap());
        std::fs::write(file(root, 1), only_delta).unwrap();
        assert!(matches!(
            load_version(root, "w", 1),
            Err(KappaError::Corrupt { .. })
        ));
    }
}
