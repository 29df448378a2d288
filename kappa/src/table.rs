//! Output tables: versioned, atomically replaced snapshot files, and the alias that names
//! the serving version.
//!
//! ```text
//!   <root>/tables/
//!     WORKLOAD.v1/part-0       one input partition's cells, position, counts (framed, CRC32C)
//!     WORKLOAD.v1/part-1
//!     WORKLOAD.v2/part-0 …
//!     WORKLOAD.alias           the serving version and its CRC32C ("2 7d2a4c1b\n"), replaced
//!                              by one rename
//! ```
//!
//! A table version is one file per input partition (a *part*): the partial aggregates
//! that partition's task contributed, and the offset they cover. A part file is a short
//! log: a whole snapshot of the part, then what changed after it:
//!
//! ```text
//!   "LKKTPART" | format u32 LE (4)                           (file header)
//!   len u32 LE | crc32c(payload) u32 LE | crc32c(the 8 bytes before) u32 LE
//!              | postcard Frame::Full                        (a whole snapshot: a TablePart)
//!   len | crc | header crc | postcard Frame::Delta            (what changed since: PartDelta)
//!   …          (more deltas, or another full snapshot)
//! ```
//!
//! The part is the file's last full snapshot with the deltas after it applied, up to the
//! **last whole frame**. A write appends a frame (one `write` call, then an fsync unless
//! the job shows uncommitted results); a reader reading meanwhile sees the frame or not,
//! and a frame cut short by a crash is ignored, so a reader sees each part as of one
//! write or the next, never a mix.
//!
//! **Torn writes and damage.** Only a last frame *cut short* — less than a whole frame
//! header after the last whole frame, or a header that passes its CRC followed by fewer
//! payload bytes than it announces — is a write that a crash interrupted: it is left out.
//! Everything else that fails a check is **damage**, a [`KappaError::Corrupt`] naming the
//! file and the byte where the bad frame starts: a frame header or payload failing its
//! CRC (the last frame included: a whole frame was written whole, so it cannot be torn),
//! a payload that does not decode, a delta before any snapshot, a file without a whole
//! snapshot, an unknown format. An older frame is never served in place of a damaged
//! one. The table is derived data: a starting job checks the part of every partition it
//! opens and rewrites it at once from the restored state when it is damaged, with a
//! warning (and in every case at its first table write). What no check can tell from a
//! torn write is a file cut at a frame boundary or inside its last frame: the part is
//! then read as of an earlier write, whose position says which records it covers.
//! Format 3 (frames without the header CRC, written before) is still read, with the same
//! rules; there a damaged length in the last frame can pass for a cut-short frame. The
//! job replaces a file of an older format at its first write.
//!
//! A **delta** holds the
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

use datasets::append_postcard;
use master_log::durable::{self, Durability};
use serde::{Deserialize, Serialize};
use workloads::{GroupKey, Partial, PartialTable, StoredCell, Window};

use crate::error::{KappaError, Result, corrupt, io_err};

/// The magic that opens a part file of format 3 or 4 (the format number follows it).
const PART_HEADER: &[u8; 8] = b"LKKTPART";
/// 4: a part file is a log of full snapshots and deltas, each frame with a CRC of its
/// payload and one of its header (3 had the payload's only, and is still read; 2 was one
/// postcard `PartFile` per part file, still read; 1 was one file per version).
const FORMAT: u32 = 4;
/// The format before [`FORMAT`]: frames without the header CRC.
const FORMAT_3: u32 = 3;
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

/// One input partition's share of a table version: the file `part-P`. `T` is how its
/// cells are held: a [`PartialTable`]; a reader keeping only some cells decodes the
/// fields before them alone as `TablePart<()>` (the cells come last, and `()` takes no
/// byte).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TablePart<T = PartialTable> {
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
    pub table: T,
}

impl<T> TablePart<T> {
    /// The same part holding `table`.
    pub(crate) fn with_table<U>(self, table: U) -> TablePart<U> {
        TablePart {
            workload: self.workload,
            version: self.version,
            topic: self.topic,
            partitions: self.partitions,
            partition: self.partition,
            position: self.position,
            watermark: self.watermark,
            idle: self.idle,
            allowed_lateness_ms: self.allowed_lateness_ms,
            events: self.events,
            duplicates: self.duplicates,
            late_events: self.late_events,
            written_ms: self.written_ms,
            table,
        }
    }
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
/// the cells that changed since the previous frame. One struct for the owned delta that
/// is read back ([`PartDelta`]) and the one borrowed from the job's tables for writing
/// (`DeltaRef`): the same fields in the same order, so both encode alike (postcard writes
/// a struct as its fields in order, and a cell as a tuple of its three fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delta<U, R> {
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
    pub upserts: Vec<U>,
    /// Cells that are no longer in the part.
    pub removed: Vec<R>,
}

/// A [`Delta`] as read from a part file: cells owned.
pub type PartDelta = Delta<StoredCell, (Window, GroupKey)>;

/// A [`Delta`] whose cells are borrowed from the tables they are in, for writing.
pub(crate) type DeltaRef<'a> =
    Delta<(&'a Window, &'a GroupKey, &'a Vec<Partial>), (&'a Window, &'a GroupKey)>;

impl<U, R> Delta<U, R> {
    /// A delta to `now`'s position, watermark and counters, with no cell changed yet.
    pub fn header_of<T>(now: &TablePart<T>) -> Self {
        Delta {
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

    /// The same position, watermark and counters, with no cell changed.
    pub(crate) fn head<V, S>(&self) -> Delta<V, S> {
        Delta {
            position: self.position,
            watermark: self.watermark,
            idle: self.idle,
            events: self.events,
            duplicates: self.duplicates,
            late_events: self.late_events,
            written_ms: self.written_ms,
            upserts: Vec::new(),
            removed: Vec::new(),
        }
    }
}

impl PartDelta {
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

/// A [`Frame`] borrowed for encoding: its bytes are those of the owned frame (postcard
/// writes a variant's index, not its name), without copying the part or delta.
#[derive(Serialize)]
#[serde(rename = "Frame")]
pub(crate) enum FrameRef<'a, T: Serialize, D: Serialize> {
    Full(&'a TablePart<T>),
    Delta(&'a D),
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
    let frame = full_frame(part)?;
    let at = (part.workload.as_str(), part.version, part.partition);
    write_full_frame(root, at, &frame, sync, start_new)
}

/// The frame of a whole snapshot of `part` (a [`Frame::Full`]), for
/// [`write_full_frame`]; `T` is how its cells are held ([`MergedCells`], say).
pub(crate) fn full_frame<T: Serialize>(part: &TablePart<T>) -> Result<Vec<u8>> {
    frame_bytes(&FrameRef::<T, PartDelta>::Full(part))
}

/// Write `frame`, a whole snapshot of the part of `(workload, version, partition)`, as
/// [`write_part_with`] does. Returns the frame's size in bytes.
pub(crate) fn write_full_frame(
    root: &Path,
    (workload, version, partition): (&str, u32, u32),
    frame: &[u8],
    sync: bool,
    start_new: bool,
) -> Result<u64> {
    check_name(workload)?;
    let path = part_path(root, workload, version, partition);
    let limit = MAX_PART_FILE.max(16 * frame.len() as u64);
    if !start_new && append_frame(&path, frame, sync, limit)? {
        return Ok(frame.len() as u64);
    }
    let mut file = Vec::with_capacity(frame.len() + 12);
    file.extend_from_slice(&file_header());
    file.extend_from_slice(frame);
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
    let frame = frame_bytes(&FrameRef::<(), _>::Delta(delta))?;
    append_delta_frame(root, workload, version, partition, &frame, sync)
}

/// The frame of a delta whose cells are borrowed (a [`Frame::Delta`]), for
/// [`append_delta_frame`].
pub(crate) fn delta_frame(delta: &DeltaRef<'_>) -> Result<Vec<u8>> {
    frame_bytes(&FrameRef::<(), _>::Delta(delta))
}

/// Append `frame`, a delta, as [`append_part_delta`] does.
pub(crate) fn append_delta_frame(
    root: &Path,
    workload: &str,
    version: u32,
    partition: u32,
    frame: &[u8],
    sync: bool,
) -> Result<Option<u64>> {
    check_name(workload)?;
    let path = part_path(root, workload, version, partition);
    Ok(append_frame(&path, frame, sync, u64::MAX)?.then_some(frame.len() as u64))
}

/// The first 12 bytes of a part file of this format: the magic and the format number.
fn file_header() -> [u8; 12] {
    let mut h = [0u8; 12];
    h[..8].copy_from_slice(PART_HEADER);
    h[8..].copy_from_slice(&FORMAT.to_le_bytes());
    h
}

/// A frame of this format: length, payload CRC, header CRC, payload (encoded after the
/// 12 bytes of the header, in one buffer).
fn frame_bytes<T: Serialize, D: Serialize>(frame: &FrameRef<'_, T, D>) -> Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(512);
    bytes.resize(12, 0);
    append_postcard(frame, &mut bytes).map_err(|e| corrupt("output table", e))?;
    seal(bytes)
}

/// Fill in the frame's length and CRCs, in the 12 bytes `bytes` starts with, from the
/// payload after them.
pub(crate) fn seal(mut bytes: Vec<u8>) -> Result<Vec<u8>> {
    let len = u32::try_from(bytes.len() - 12)
        .map_err(|_| corrupt("output table", "a part of 4 GiB or more"))?;
    let crc = crc32c::crc32c(&bytes[12..]);
    bytes[..4].copy_from_slice(&len.to_le_bytes());
    bytes[4..8].copy_from_slice(&crc.to_le_bytes());
    let header_crc = crc32c::crc32c(&bytes[..8]);
    bytes[8..12].copy_from_slice(&header_crc.to_le_bytes());
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
/// applied (format 3 or 4), or a format-2 file; with `keep`, only the cells whose key it
/// accepts, the others dropped as each frame is decoded (never merged into a table).
fn decode_part(bytes: &[u8], path: &Path, keep: Option<KeyFilter<'_>>) -> Result<TablePart> {
    if !bytes.starts_with(PART_HEADER) {
        let file: PartFile = postcard::from_bytes(bytes).map_err(|e| damaged(path, 0, e))?;
        if file.magic != MAGIC_2 || file.format != FORMAT_2 {
            return Err(damaged(path, 0, "not a Kappa table file of a known format"));
        }
        let mut part = file.part;
        if let Some(keep) = keep {
            part.table.retain_keys(keep);
        }
        return Ok(part);
    }
    let frames = match keep {
        None => decode_frames(bytes, path, postcard::from_bytes)?,
        Some(keep) => decode_frames(bytes, path, |payload| decode_kept(payload, keep))?,
    };
    let mut part: Option<TablePart> = None;
    for (at, frame) in frames {
        match frame {
            Frame::Full(p) => part = Some(p),
            Frame::Delta(d) => match part.as_mut() {
                Some(p) => d.apply(p),
                None => return Err(damaged(path, at, "a delta before any full snapshot")),
            },
        }
    }
    part.ok_or_else(|| damaged(path, file_header().len(), "no whole snapshot in the file"))
}

/// A damaged part file: [`KappaError::Corrupt`] naming the file and the byte where the
/// damage was found.
fn damaged(path: &Path, at: usize, reason: impl ToString) -> KappaError {
    corrupt(
        format!("table part {} at byte {at}", path.display()),
        reason,
    )
}

fn le_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// The frames of a part file (format 3 or 4), up to its last whole one: a last frame cut
/// short (a write a crash interrupted) is left out; any frame that fails a check is
/// damage, an error (see the module's documentation). Each frame comes with the byte its
/// header starts at. What readers apply; for inspecting a part file, see [`part_frames`].
fn decode_frames<'b>(
    bytes: &'b [u8],
    path: &Path,
    mut decode: impl FnMut(&'b [u8]) -> postcard::Result<Frame>,
) -> Result<Vec<(usize, Frame)>> {
    let rest = bytes
        .strip_prefix(PART_HEADER.as_slice())
        .ok_or_else(|| damaged(path, 0, "not a Kappa table part of this format"))?;
    let format = rest.get(..4).map(le_u32);
    let header_len = match format {
        Some(FORMAT) => 12,
        Some(FORMAT_3) => 8,
        _ => {
            return Err(damaged(
                path,
                PART_HEADER.len(),
                format!("table part format {format:?}, expected {FORMAT} or {FORMAT_3}"),
            ));
        }
    };
    let mut at = PART_HEADER.len() + 4;
    let mut out = Vec::new();
    while at < bytes.len() {
        let Some(header) = bytes.get(at..at + header_len) else {
            break; // a header cut short: the last frame, torn
        };
        if header_len == 12 && crc32c::crc32c(&header[..8]) != le_u32(&header[8..]) {
            return Err(damaged(path, at, "a frame header fails its CRC"));
        }
        let len = le_u32(header) as usize;
        let start = at + header_len;
        let Some(payload) = start.checked_add(len).and_then(|end| bytes.get(start..end)) else {
            break; // a payload cut short: the last frame, torn
        };
        if crc32c::crc32c(payload) != le_u32(&header[4..]) {
            return Err(damaged(path, at, "a frame fails its CRC"));
        }
        out.push((at, decode(payload).map_err(|e| damaged(path, at, e))?));
        at = start + len;
    }
    Ok(out)
}

/// One frame's payload with only the cells `keep` accepts. A full snapshot's cells are
/// decoded one at a time and the others dropped at once, so a reader of one key never
/// holds a whole partition's cells. Postcard writes an enum as its variant's index (a
/// varint, as a `u32` is written) then the variant, a struct as its fields in order.
fn decode_kept(payload: &[u8], keep: KeyFilter<'_>) -> postcard::Result<Frame> {
    use serde::de::DeserializeSeed;
    let mut de = postcard::Deserializer::from_bytes(payload);
    if u32::deserialize(&mut de)? != 0 {
        // A delta: small, decoded whole.
        let Frame::Delta(mut d) = postcard::from_bytes::<Frame>(payload)? else {
            return Err(postcard::Error::DeserializeBadEnum);
        };
        d.upserts.retain(|c| keep(&c.key));
        d.removed.retain(|(_, k)| keep(k));
        return Ok(Frame::Delta(d));
    }
    let head = TablePart::<()>::deserialize(&mut de)?;
    let cells = KeptCells(keep).deserialize(&mut de)?;
    Ok(Frame::Full(head.with_table(PartialTable::from(cells))))
}

/// Decodes a list of cells keeping those whose key the filter accepts.
struct KeptCells<'a>(KeyFilter<'a>);

impl<'de> serde::de::DeserializeSeed<'de> for KeptCells<'_> {
    type Value = Vec<StoredCell>;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for KeptCells<'_> {
    type Value = Vec<StoredCell>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a list of cells")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        let mut kept = Vec::new();
        while let Some(cell) = seq.next_element::<StoredCell>()? {
            if (self.0)(&cell.key) {
                kept.push(cell);
            }
        }
        Ok(kept)
    }
}

/// The frames of the part file of `partition` of `workload.vN` (format 3 or 4), in
/// order, up to the last whole one: what a reader applies (damage is an error). For inspecting how a job writes its
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
    Ok(decode_frames(&bytes, &path, postcard::from_bytes)?
        .into_iter()
        .map(|(_, f)| f)
        .collect())
}

/// Check the part file of `partition` of `workload.vN` as a reader would read it: `Ok`
/// when it is missing or reads (a torn last frame included), the damage otherwise.
pub(crate) fn check_part(root: &Path, workload: &str, version: u32, partition: u32) -> Result<()> {
    check_name(workload)?;
    read_part(&part_path(root, workload, version, partition), None).map(|_| ())
}

/// Read one part file; `None` when it is not there (not written yet, or deleted with
/// its version).
fn read_part(path: &Path, keep: Option<KeyFilter<'_>>) -> Result<Option<TablePart>> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(format!("read {}", path.display()))(e)),
    };
    decode_part(&bytes, path, keep).map(Some)
}

/// Which group keys a reader keeps (see [`load_serving_where`]).
pub type KeyFilter<'a> = &'a (dyn Fn(&GroupKey) -> bool + Sync);

/// Read one table version: its parts, merged. A partition without a part yet counts as
/// covered up to offset 0 and holds the watermark back.
pub fn load_version(root: &Path, workload: &str, version: u32) -> Result<OutputTable> {
    load_version_where(root, workload, version, None)
}

/// [`load_version`], keeping only the cells whose group key `keep` accepts (every cell
/// without it): what a reader asked for one key reads, dropping the other keys' cells
/// before they are merged. Positions, watermark and counters are the whole table's.
/// The parts are read and decoded on threads of their own, one per part.
pub fn load_version_where(
    root: &Path,
    workload: &str,
    version: u32,
    keep: Option<KeyFilter<'_>>,
) -> Result<OutputTable> {
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
    for ((_, path), part) in files.iter().zip(read_parts(&files, keep)) {
        match part? {
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
    let partitions = first.partitions;
    let mut watermarks = vec![(None, false); partitions as usize];
    for (part, (p, path)) in parts.iter_mut().zip(&files) {
        if part.workload != workload
            || part.version != version
            || part.topic != out.topic
            || part.partitions != partitions
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
        if out.table.is_empty() {
            out.table = std::mem::take(&mut part.table);
        } else {
            out.table.merge(&part.table)?;
        }
    }
    out.watermark = combine_watermarks(watermarks.into_iter());
    Ok(out)
}

/// Read and decode the part files, each on a thread of its own (the first on this
/// one), the cells `keep` rejects dropped at once.
fn read_parts(
    files: &[(u32, PathBuf)],
    keep: Option<KeyFilter<'_>>,
) -> Vec<Result<Option<TablePart>>> {
    let read = |path: &Path| read_part(path, keep);
    let Some(((_, first), rest)) = files.split_first() else {
        return Vec::new();
    };
    std::thread::scope(|s| {
        let others: Vec<_> = rest
            .iter()
            .map(|(_, path)| s.spawn(|| read(path)))
            .collect();
        let mut out = vec![read(first)];
        for h in others {
            out.push(
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            );
        }
        out
    })
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

/// The text of an alias naming `version`: the number and the CRC32C of its decimal
/// digits (8 hex digits), then a newline.
fn alias_text(version: u32) -> String {
    let v = version.to_string();
    format!("{v} {:08x}\n", crc32c::crc32c(v.as_bytes()))
}

/// The version an alias's text names: `"N CRC\n"`, or `"N\n"` as written before the CRC
/// (still read). Anything else — a CRC that does not match, a text cut short (no final
/// newline) — is `None`.
fn parse_alias(text: &str) -> Option<u32> {
    let line = text.strip_suffix('\n')?;
    let (number, crc) = match line.split_once(' ') {
        Some((number, crc)) => (number, Some(crc)),
        None => (line, None),
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if crc.is_some_and(|crc| crc != format!("{:08x}", crc32c::crc32c(number.as_bytes()))) {
        return None;
    }
    number.parse().ok()
}

/// The serving version of `workload`, if an alias names one. A damaged alias (its CRC
/// fails, it is cut short, it is not an alias) is a [`KappaError::Corrupt`] naming the
/// file: never another version.
pub fn serving_version(root: &Path, workload: &str) -> Result<Option<u32>> {
    check_name(workload)?;
    let path = alias_path(root, workload);
    match fs::read(&path) {
        Ok(bytes) => std::str::from_utf8(&bytes)
            .ok()
            .and_then(parse_alias)
            .map(Some)
            .ok_or_else(|| {
                corrupt(
                    format!("alias {}", path.display()),
                    format!(
                        "{:?} is not a version with its CRC32C",
                        String::from_utf8_lossy(&bytes)
                    ),
                )
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(format!("read {}", path.display()))(e)),
    }
}

/// Make `version` the serving one: one atomic rename of the alias file, synced
/// (`Durability::Synced`: the switch survives a power cut). The version must have a table
/// already. The alias holds the version with its CRC32C (see [`serving_version`]).
pub fn set_serving(root: &Path, workload: &str, version: u32) -> Result<()> {
    load_version(root, workload, version)?;
    write_alias(root, workload, version)
}

/// Make `version` serving right after its job wrote and synced its parts (a reprocess's
/// switch): each of `partitions` must have its part file, but the parts are not read
/// back and merged as [`set_serving`] does, since every reader checks their CRCs anyway
/// (a job names itself serving after its first table write the same way).
pub fn set_serving_written(
    root: &Path,
    workload: &str,
    version: u32,
    partitions: &[u32],
) -> Result<()> {
    check_name(workload)?;
    let no_table = |why: String| KappaError::NoTable {
        workload: workload.to_owned(),
        reason: format!("version {version} has no table yet ({why})"),
    };
    if partitions.is_empty() {
        return Err(no_table("its job owned no partition".into()));
    }
    for &p in partitions {
        let path = part_path(root, workload, version, p);
        match fs::metadata(&path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(no_table(format!("{} is missing", path.display())));
            }
            Err(e) => return Err(io_err(format!("look at {}", path.display()))(e)),
        }
    }
    write_alias(root, workload, version)
}

/// Write the alias naming `version` (see [`set_serving`]) without reading the version
/// back: for the job that has just written a part of it.
pub(crate) fn write_alias(root: &Path, workload: &str, version: u32) -> Result<()> {
    check_name(workload)?;
    write_atomic(
        &alias_path(root, workload),
        alias_text(version).as_bytes(),
        Durability::Synced,
    )
}

/// Remove a damaged alias of `workload` (a job that is the workload's only version
/// names itself again at its first table write; see `JobConfig::serve_if_none`).
pub(crate) fn remove_alias(root: &Path, workload: &str) -> Result<()> {
    let path = alias_path(root, workload);
    match fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err(format!("remove {}", path.display()))(e)),
    }
}

/// The serving table of `workload` (what `lk query --pipeline kappa` reads). If the alias
/// switches and the old version is deleted between reading the alias and the table, the
/// alias is read again, so a query during a switch gets one version or the other, whole.
pub fn load_serving(root: &Path, workload: &str) -> Result<OutputTable> {
    load_serving_where(root, workload, None)
}

/// [`load_serving`], keeping only the cells whose group key `keep` accepts (see
/// [`load_version_where`]).
pub fn load_serving_where(
    root: &Path,
    workload: &str,
    keep: Option<KeyFilter<'_>>,
) -> Result<OutputTable> {
    let mut last = None;
    for _ in 0..3 {
        let Some(v) = serving_version(root, workload)? else {
            return Err(KappaError::NoTable {
                workload: workload.to_owned(),
                reason: "no serving version (run a Kappa job first)".into(),
            });
        };
        match load_version_where(root, workload, v, keep) {
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

#[path = "table_cells.rs"]
mod cells;
pub(crate) use cells::{
    EncodedCells, Joined, MergedCells, delta_frame_after_encoded, full_frame_of_encoded,
    joined_cells,
};

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
