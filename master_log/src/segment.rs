//! One segment: a log file of batches plus its sparse offset and time indexes.
//!
//! ```text
//!  partition dir/
//!    00000000000000000000.log        batches, appended only
//!    00000000000000000000.index      (relative offset u32, position u32) every ~4 KiB
//!    00000000000000000000.timeindex  (append time i64, relative offset u32, position u32)
//!                                    each index file ends with "LKIX" and the CRC32C of
//!                                    its entries (u32)
//!    00000000000000052817.log        the next segment starts at offset 52817
//!    ...
//! ```
//!
//! The active (last) segment keeps its indexes in memory and writes them when it is
//! rolled or closed after appends; on open it is rebuilt from a CRC-checked scan (see
//! `recover`). A closed segment loads its index files and checks them against the log
//! file; `recover` rebuilds them when they are missing or damaged.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::buffers::ReadBuffers;
use crate::durable::{Durability, write_atomic};
use crate::error::{IoContext, LogError, Result};
use crate::read::{Collector, FetchedBatch, Gap};
use crate::record::{BATCH_HEADER_LEN, BatchHeader};
pub(crate) use crate::scan::segment_file;
use crate::scan::{BatchLoc, BatchScanner, Continuity, ScanError, check_records, find_next_batch};

const INDEX_ENTRY: usize = 8;
const TIME_ENTRY: usize = 16;
/// Ends an index file after its entries, followed by the entries' CRC32C (u32 LE).
const INDEX_TRAILER: &[u8; 4] = b"LKIX";

/// An index file's bytes: its entries, then [`INDEX_TRAILER`] and their CRC32C.
fn seal(mut entries: Vec<u8>) -> Vec<u8> {
    let crc = crc32c::crc32c(&entries);
    entries.extend_from_slice(INDEX_TRAILER);
    entries.extend_from_slice(&crc.to_le_bytes());
    entries
}

/// The entries of an index file, its checksum checked, and whether it had one (files
/// written by older versions have none).
fn unseal(bytes: &[u8]) -> Result<(&[u8], bool), String> {
    let n = bytes.len();
    if n < 8 || &bytes[n - 8..n - 4] != INDEX_TRAILER {
        return Ok((bytes, false));
    }
    let body = &bytes[..n - 8];
    let crc = u32::from_le_bytes(bytes[n - 4..].try_into().unwrap());
    if crc32c::crc32c(body) != crc {
        return Err("checksum mismatch".into());
    }
    Ok((body, true))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct IndexEntry {
    rel_offset: u32,
    position: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TimeEntry {
    append_time: i64,
    rel_offset: u32,
    position: u32,
}

/// The outcome of opening a segment: what was found wrong and what was done about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SegmentIssue {
    /// The active segment's tail failed validation, held nothing recorded as appended
    /// (see the partition manifest), and was cut at `position`: a write torn by a crash.
    /// The bytes cut are kept in the partition's quarantine file.
    TruncatedTail {
        /// The segment's log file.
        file: PathBuf,
        /// Where the first damaged batch started: the file's new length.
        position: u64,
        /// How many bytes were cut.
        bytes_cut: u64,
        /// What was wrong with the batch at `position`.
        reason: String,
    },
    /// A closed segment's index (or the partition's manifest) was missing or damaged and
    /// was rebuilt.
    RebuiltIndex {
        /// The segment's log file.
        file: PathBuf,
        /// What was wrong with the index.
        reason: String,
    },
    /// Damage that lost records: a batch that fails validation (cut out of its segment,
    /// its bytes kept in the quarantine file), or a segment file missing, empty or
    /// shorter than recorded. The offsets lost are in the reason and in
    /// [`crate::Log::lost_ranges`]; readers of them get
    /// [`crate::LogError::LostOffsets`].
    DamagedBatch {
        /// The segment's log file.
        file: PathBuf,
        /// Where the damage starts in the file (0 for a missing file).
        position: u64,
        /// What is wrong with it.
        reason: String,
    },
}

impl std::fmt::Display for SegmentIssue {
    /// One line: what recovery found and did.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SegmentIssue::TruncatedTail {
                file,
                position,
                bytes_cut,
                reason,
            } => write!(
                f,
                "cut {bytes_cut} damaged bytes at the end of {} (from byte {position}): {reason}",
                file.display()
            ),
            SegmentIssue::RebuiltIndex { file, reason } => {
                let what = if file.extension().is_some_and(|e| e == "manifest") {
                    "rebuilt"
                } else {
                    "rebuilt the index of"
                };
                write!(f, "{what} {}: {reason}", file.display())
            }
            SegmentIssue::DamagedBatch {
                file,
                position,
                reason,
            } => write!(
                f,
                "damage in {} at byte {position}, cut out (the records after it are kept; \
                 readers of the lost offsets get an error; `lk log verify` lists them): \
                 {reason}",
                file.display()
            ),
        }
    }
}

/// A segment whose index files do not serve: its open log file, the file's length, and
/// what is wrong with the indexes (the caller rebuilds them from a scan).
pub(crate) type Unindexed = (Arc<File>, u64, String);

/// One segment of a partition.
#[derive(Debug)]
pub(crate) struct Segment {
    pub base_offset: u64,
    pub dir: PathBuf,
    /// The log file's path (`dir` and the name of `base_offset`).
    log_file: PathBuf,
    /// Shared with the group commit that syncs it after appends (see `group_commit`).
    file: Arc<File>,
    /// The log file's inode: another process that replaced the file (recovery,
    /// compaction, a topic deleted and created again) gave it a new one.
    pub ino: u64,
    /// Bytes of valid batches in the file.
    pub size: u64,
    /// One past the last offset stored here; `base_offset` when empty.
    pub next_offset: u64,
    /// Append time of the first batch, for rolling by age.
    pub first_append_time: Option<i64>,
    /// Append time of the last batch (`i64::MIN` when empty), for retention by time.
    pub max_append_time: i64,
    index: Vec<IndexEntry>,
    time_index: Vec<TimeEntry>,
    bytes_since_index: u64,
    /// The indexes were built from the log file, or loaded with their checksums: every
    /// entry is right. Index files of older versions have no checksum, and an entry
    /// used from them is checked against the log file first.
    index_checked: bool,
}

/// What a read of one segment met where a batch fails validation: the offsets it
/// reckons lost (`first..end`), and where the damage is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReadDamage {
    pub gap: Gap,
    pub position: u64,
    pub reason: String,
}

impl Segment {
    pub fn log_path(&self) -> PathBuf {
        self.log_file.clone()
    }

    /// The log file's path, borrowed.
    pub fn log_file(&self) -> &Path {
        &self.log_file
    }

    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// Create a new, empty segment file.
    pub fn create(dir: &Path, base_offset: u64) -> Result<Segment> {
        let path = segment_file(dir, base_offset, "log");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .ctx(|| format!("create segment {}", path.display()))?;
        Ok(Self::empty(dir, base_offset, file))
    }

    fn empty(dir: &Path, base_offset: u64, file: impl Into<Arc<File>>) -> Segment {
        let file = file.into();
        let ino = file.metadata().map_or(0, |m| m.ino());
        Segment {
            base_offset,
            dir: dir.to_path_buf(),
            log_file: segment_file(dir, base_offset, "log"),
            file,
            ino,
            size: 0,
            next_offset: base_offset,
            first_append_time: None,
            max_append_time: i64::MIN,
            index: Vec::new(),
            time_index: Vec::new(),
            bytes_since_index: 0,
            index_checked: true,
        }
    }

    /// Open a segment's log file for reading and appending (opening writes nothing).
    pub fn open_file(path: &Path) -> Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .ctx(|| format!("open segment {}", path.display()))
    }

    /// The segment in `file` (of `size` bytes) whose valid batches are `batches`, with
    /// its indexes built in memory.
    pub fn from_batches(
        dir: &Path,
        base_offset: u64,
        file: impl Into<Arc<File>>,
        size: u64,
        batches: &[BatchLoc],
        index_interval: u64,
    ) -> Segment {
        let mut seg = Self::empty(dir, base_offset, file);
        for b in batches {
            seg.note_batch(&b.header, b.position, index_interval);
        }
        seg.size = size;
        seg
    }

    /// Record a batch written (or found) at `position` in the indexes and counters.
    fn note_batch(&mut self, h: &BatchHeader, position: u64, index_interval: u64) {
        if self.index.is_empty() || self.bytes_since_index >= index_interval {
            let rel_offset = (h.base_offset - self.base_offset) as u32;
            self.index.push(IndexEntry {
                rel_offset,
                position: position as u32,
            });
            self.time_index.push(TimeEntry {
                append_time: h.append_time,
                rel_offset,
                position: position as u32,
            });
            self.bytes_since_index = 0;
        }
        self.bytes_since_index += h.total_len as u64;
        self.size = position + h.total_len as u64;
        self.next_offset = h.last_offset() + 1;
        self.first_append_time.get_or_insert(h.append_time);
        self.max_append_time = h.append_time;
    }

    /// The segment of `base_offset` with its log file open (nothing read yet) and the
    /// file's length.
    fn open_log_file(dir: &Path, base_offset: u64) -> Result<(Segment, u64)> {
        let (file, len) = Self::open_file_len(&segment_file(dir, base_offset, "log"))?;
        Ok((Self::empty(dir, base_offset, file), len))
    }

    /// [`Segment::open_file`], with the file's length.
    fn open_file_len(path: &Path) -> Result<(File, u64)> {
        let file = Self::open_file(path)?;
        let len = file
            .metadata()
            .ctx(|| format!("stat {}", path.display()))?
            .len();
        Ok((file, len))
    }

    /// Open a closed segment from its index files, checked against the log file. `Err`
    /// gives the file back, with its length and what is wrong with the indexes, for the
    /// caller to rebuild them from a scan.
    pub fn open_closed(
        dir: &Path,
        base_offset: u64,
    ) -> Result<std::result::Result<Segment, Unindexed>> {
        let (mut seg, len) = Self::open_log_file(dir, base_offset)?;
        Ok(match seg.load_indexes(len) {
            Ok(()) => Ok(seg),
            Err(reason) => Err((seg.file, len, reason)),
        })
    }

    /// The entries of the segment's index files, checked against each other and against
    /// the log file's length `len`, and whether they carry checksums.
    #[allow(clippy::type_complexity)]
    fn read_index_files(
        &self,
        len: u64,
    ) -> Result<(Vec<IndexEntry>, Vec<TimeEntry>, bool), String> {
        let ipath = segment_file(&self.dir, self.base_offset, "index");
        let tpath = segment_file(&self.dir, self.base_offset, "timeindex");
        let ibytes = std::fs::read(&ipath).map_err(|e| format!("offset index: {e}"))?;
        let tbytes = std::fs::read(&tpath).map_err(|e| format!("time index: {e}"))?;
        let (ibytes, isealed) = unseal(&ibytes).map_err(|e| format!("offset index: {e}"))?;
        let (tbytes, tsealed) = unseal(&tbytes).map_err(|e| format!("time index: {e}"))?;
        if isealed != tsealed {
            let which = if isealed {
                "time index"
            } else {
                "offset index"
            };
            return Err(format!(
                "{which}: no checksum where the other index file has one"
            ));
        }
        if ibytes.len() % INDEX_ENTRY != 0 || tbytes.len() % TIME_ENTRY != 0 {
            return Err("index file has a partial entry".into());
        }
        if ibytes.len() / INDEX_ENTRY != tbytes.len() / TIME_ENTRY {
            return Err("offset and time indexes disagree in length".into());
        }
        let index: Vec<IndexEntry> = ibytes
            .chunks_exact(INDEX_ENTRY)
            .map(|c| IndexEntry {
                rel_offset: u32::from_le_bytes(c[0..4].try_into().unwrap()),
                position: u32::from_le_bytes(c[4..8].try_into().unwrap()),
            })
            .collect();
        let time_index: Vec<TimeEntry> = tbytes
            .chunks_exact(TIME_ENTRY)
            .map(|c| TimeEntry {
                append_time: i64::from_le_bytes(c[0..8].try_into().unwrap()),
                rel_offset: u32::from_le_bytes(c[8..12].try_into().unwrap()),
                position: u32::from_le_bytes(c[12..16].try_into().unwrap()),
            })
            .collect();
        if (len == 0) != index.is_empty() {
            return Err("index does not match the log file's size".into());
        }
        for (i, (e, t)) in index.iter().zip(&time_index).enumerate() {
            if e.rel_offset != t.rel_offset || e.position != t.position {
                return Err(format!("entry {i} differs between offset and time index"));
            }
            if i > 0 {
                let p = index[i - 1];
                if e.rel_offset <= p.rel_offset || e.position <= p.position {
                    return Err(format!("entry {i} is out of order"));
                }
                if t.append_time < time_index[i - 1].append_time {
                    return Err(format!("time entry {i} goes back in time"));
                }
            }
            if u64::from(e.position) >= len {
                return Err(format!("entry {i} points past the end of the log file"));
            }
        }
        if index.first().is_some_and(|first| first.position != 0) {
            return Err("the first index entry must point at byte 0".into());
        }
        Ok((index, time_index, isealed))
    }

    fn load_indexes(&mut self, len: u64) -> Result<(), String> {
        let (index, time_index, sealed) = self.read_index_files(len)?;
        self.index_checked = sealed;
        // Check the last entry against the log file and walk the few batches after it to
        // learn where the segment ends.
        let Some(last) = index.last().copied() else {
            return Ok(());
        };
        let mut next_offset = self.base_offset;
        let mut max_time = i64::MIN;
        let mut first = true;
        for item in BatchScanner::new(&self.file, u64::from(last.position), len, false) {
            let b = item.map_err(|e| format!("log file at byte {}: {}", e.position, e.reason))?;
            if first && b.header.base_offset != self.base_offset + u64::from(last.rel_offset) {
                return Err("last index entry does not point at its batch".into());
            }
            first = false;
            next_offset = b.header.last_offset() + 1;
            max_time = b.header.append_time;
        }
        let mut first_time = None;
        if let Some(h) = self.header_at(0)? {
            first_time = Some(h.append_time);
        }
        self.index = index;
        self.time_index = time_index;
        self.size = len;
        self.next_offset = next_offset;
        self.max_append_time = max_time;
        self.first_append_time = first_time;
        Ok(())
    }

    /// Open the active segment from its index files (written when it was last rolled,
    /// flushed or closed) without reading what they cover: the batch of their last entry
    /// and every batch after it are read, checked and indexed (see
    /// [`Segment::catch_up`]), up to the end of the file or the first batch that is
    /// incomplete or fails — returned: an append in progress, or a torn or damaged tail.
    /// `Err` gives the file back, with its length and why the indexes cannot serve, for
    /// the caller to scan it.
    #[allow(clippy::type_complexity)]
    pub fn open_active(
        dir: &Path,
        base_offset: u64,
        index_interval: u64,
    ) -> Result<std::result::Result<(Segment, u64, Option<ScanError>), Unindexed>> {
        let (mut seg, len) = Self::open_log_file(dir, base_offset)?;
        if len == 0 {
            return Ok(Ok((seg, 0, None)));
        }
        let (mut index, mut time_index) = match seg.read_index_files(len) {
            Ok((index, time_index, true)) => (index, time_index),
            Ok((_, _, false)) => {
                return Ok(Err((seg.file, len, "index files without checksum".into())));
            }
            Err(reason) => return Ok(Err((seg.file, len, reason))),
        };
        let (Some(last), Some(_)) = (index.pop(), time_index.pop()) else {
            return Ok(Err((seg.file, len, "no index entry".into())));
        };
        let first_time = match seg.header_at(0) {
            Ok(Some(h)) => h.append_time,
            _ => return Ok(Err((seg.file, len, "no batch at byte 0".into()))),
        };
        // Index again from the last entry on, as the appends did: the entries then match
        // a rebuild from the whole file.
        seg.index = index;
        seg.time_index = time_index;
        seg.size = u64::from(last.position);
        seg.next_offset = base_offset + u64::from(last.rel_offset);
        seg.bytes_since_index = u64::MAX;
        seg.first_append_time = Some(first_time);
        let stop = seg.catch_up(len, index_interval);
        if seg.size == u64::from(last.position) {
            let reason = match stop {
                Some(e) => format!("the last index entry: {}", e.reason),
                None => "the last index entry points at no batch".into(),
            };
            return Ok(Err((seg.file, len, reason)));
        }
        Ok(Ok((seg, len, stop)))
    }

    /// Read the batches written after the ones this segment holds, up to byte `len` of
    /// its file, checking each (framing, CRC32C, records, offsets following densely,
    /// append times not going back) and indexing it. Stops at the first batch that is
    /// incomplete or fails, and returns where and why; reads only.
    pub fn catch_up(&mut self, len: u64, index_interval: u64) -> Option<ScanError> {
        if len < self.size {
            return Some(ScanError {
                position: len,
                reason: format!(
                    "the file is {len} bytes, shorter than the {} read",
                    self.size
                ),
            });
        }
        let mut at = Continuity {
            base_offset: self.base_offset,
            next_offset: self.next_offset,
            max_append_time: self.max_append_time,
        };
        let mut found = Vec::new();
        let mut stop = None;
        for item in BatchScanner::new(&self.file, self.size, len, true) {
            let b = match item {
                Ok(b) => b,
                Err(e) => {
                    stop = Some(e);
                    break;
                }
            };
            let checked = if b.header.base_offset != at.next_offset {
                Err(format!(
                    "batch at offset {} does not follow offset {}",
                    b.header.base_offset,
                    at.next_offset.saturating_sub(1)
                ))
            } else {
                at.check(&b.header)
                    .and_then(|()| check_records(&b.header, &b.bytes))
            };
            if let Err(reason) = checked {
                stop = Some(ScanError {
                    position: b.position,
                    reason,
                });
                break;
            }
            at.advance(&b.header);
            found.push((b.header, b.position));
        }
        for (h, position) in found {
            self.note_batch(&h, position, index_interval);
        }
        stop
    }

    fn header_at(&self, position: u64) -> Result<Option<BatchHeader>, String> {
        let mut buf = [0u8; BATCH_HEADER_LEN];
        match self.file.read_exact_at(&mut buf, position) {
            Ok(()) => BatchHeader::parse(&buf),
            Err(_) => Ok(None),
        }
    }

    /// Open a segment whose index files are gone (it was just compacted): its indexes
    /// rebuilt from a scan of the log file, and written.
    pub fn open_rebuilt(dir: &Path, base_offset: u64, index_interval: u64) -> Result<Segment> {
        let path = segment_file(dir, base_offset, "log");
        let (file, len) = Self::open_file_len(&path)?;
        let scan = crate::scan::scan_file(&file, len, base_offset);
        if let Some(d) = scan.damaged.first() {
            return Err(LogError::Corrupt {
                file: path,
                position: d.position,
                reason: d.reason.clone(),
            });
        }
        let seg = Self::from_batches(dir, base_offset, file, len, &scan.batches, index_interval);
        seg.write_indexes()?;
        Ok(seg)
    }

    /// Write the in-memory indexes to their files, each replaced atomically with
    /// [`Durability::Synced`] (fsynced, then the directory fsynced after the rename).
    pub fn write_indexes(&self) -> Result<()> {
        let mut ibuf = Vec::with_capacity(self.index.len() * INDEX_ENTRY);
        for e in &self.index {
            ibuf.extend_from_slice(&e.rel_offset.to_le_bytes());
            ibuf.extend_from_slice(&e.position.to_le_bytes());
        }
        let mut tbuf = Vec::with_capacity(self.time_index.len() * TIME_ENTRY);
        for e in &self.time_index {
            tbuf.extend_from_slice(&e.append_time.to_le_bytes());
            tbuf.extend_from_slice(&e.rel_offset.to_le_bytes());
            tbuf.extend_from_slice(&e.position.to_le_bytes());
        }
        for (ext, bytes) in [("index", seal(ibuf)), ("timeindex", seal(tbuf))] {
            let path = segment_file(&self.dir, self.base_offset, ext);
            write_atomic(&path, &bytes, Durability::Synced)
                .ctx(|| format!("write {}", path.display()))?;
        }
        Ok(())
    }

    /// Append one encoded batch at the end of the file.
    pub fn append_batch(&mut self, batch: &[u8], index_interval: u64) -> Result<()> {
        let header = BatchHeader::parse(batch)
            .ok()
            .flatten()
            .expect("the log encodes valid batches");
        let position = self.size;
        self.file
            .write_all_at(batch, position)
            .ctx(|| format!("write {}", self.log_path().display()))?;
        self.note_batch(&header, position, index_interval);
        Ok(())
    }

    /// The open log file, for a sync outside the partition's lock.
    pub fn file_handle(&self) -> &Arc<File> {
        &self.file
    }

    pub fn sync(&self) -> Result<()> {
        self.file
            .sync_data()
            .ctx(|| format!("sync {}", self.log_path().display()))
    }

    /// Position of the batch holding `offset`, or of an earlier one, with the base
    /// offset of the batch there.
    fn start_position(&self, offset: u64) -> (u64, u64) {
        let rel = offset.saturating_sub(self.base_offset);
        let i = self
            .index
            .partition_point(|e| u64::from(e.rel_offset) <= rel);
        if i == 0 {
            return (0, self.base_offset);
        }
        let e = self.index[i - 1];
        let (position, base) = (
            u64::from(e.position),
            self.base_offset + u64::from(e.rel_offset),
        );
        if self.index_checked || self.points_at(position, base) {
            (position, base)
        } else {
            (0, self.base_offset)
        }
    }

    /// Whether a batch based at `base` starts at `position` (checked for an entry of an
    /// index without checksum; a wrong one sends the read to the start of the file).
    fn points_at(&self, position: u64, base: u64) -> bool {
        let ok = matches!(self.header_at(position), Ok(Some(h)) if h.base_offset == base);
        if !ok {
            tracing::warn!(
                "the index of {} does not match its log file at byte {position}; reading \
                 from the start of the segment",
                self.log_path().display()
            );
        }
        ok
    }

    fn corrupt(&self, e: ScanError) -> LogError {
        LogError::Corrupt {
            file: self.log_path(),
            position: e.position,
            reason: e.reason,
        }
    }

    /// Gather into `c` the batches holding records with `offset >= from` (and below
    /// `c.until`), until `c` is full. A batch that fails validation ends the read with
    /// the offsets it reckons lost — those after the last valid batch before it, up to
    /// the next valid batch (found by stepping over the damage) or the segment's end —
    /// unless gaps are accepted, in which case they are noted in `c` and stepped over.
    pub fn collect(
        &self,
        from: u64,
        c: &mut Collector,
        buffers: &ReadBuffers,
    ) -> Result<Option<ReadDamage>> {
        if from >= self.next_offset {
            return Ok(None);
        }
        let (start, start_base) = self.start_position(from);
        // Read no further than the first indexed batch past the last offset wanted or
        // past the byte budget: a small fetch then reads kilobytes, not the whole rest of
        // the segment.
        let wanted = c.max_records.saturating_sub(c.records).max(1) as u64;
        let rel = from
            .saturating_add(wanted - 1)
            .saturating_sub(self.base_offset);
        let byte_bound = start.saturating_add(c.max_bytes.saturating_sub(c.bytes) as u64);
        let i = self.index.partition_point(|e| {
            u64::from(e.rel_offset) <= rel && u64::from(e.position) < byte_bound
        });
        let end = self
            .index
            .get(i)
            .map_or(self.size, |e| u64::from(e.position).max(start));
        let mut at = Continuity::start(self.base_offset);
        at.next_offset = start_base;
        // The range up to the bound is all wanted: read it at once.
        let (pos, damage) = self.collect_range(from, start..end, true, &mut at, c, buffers)?;
        if damage.is_some() || c.full() || c.until <= at.next_offset || pos >= self.size {
            return Ok(damage);
        }
        // The bound fell short of the fetch's limits (the bytes before `from` count
        // against it, and compaction can leave gaps wider than it): read on, to the end
        // of the segment if need be. Moving to the next segment here would skip records.
        let (_, damage) = self.collect_range(from, pos..self.size, false, &mut at, c, buffers)?;
        Ok(damage)
    }

    /// [`Segment::collect`] over `range` of the file (read at once when `whole`, else a
    /// megabyte at a time); returns where it stopped.
    fn collect_range(
        &self,
        from: u64,
        range: std::ops::Range<u64>,
        whole: bool,
        at: &mut Continuity,
        c: &mut Collector,
        buffers: &ReadBuffers,
    ) -> Result<(u64, Option<ReadDamage>)> {
        let (mut pos, end) = (range.start, range.end);
        'scan: while pos < end {
            let scanner = BatchScanner::new(&self.file, pos, end, true).with_buffers(buffers);
            let scanner = if whole {
                scanner.whole_range()
            } else {
                scanner
            };
            for item in scanner {
                let e = match item {
                    Ok(b) => {
                        pos = b.position + b.header.total_len as u64;
                        if b.header.base_offset >= c.until {
                            return Ok((b.position, None));
                        }
                        at.advance(&b.header);
                        if b.header.last_offset() < from {
                            continue;
                        }
                        c.push(
                            FetchedBatch {
                                header: b.header,
                                bytes: b.bytes,
                                segment: self.base_offset,
                                position: b.position,
                            },
                            from,
                        );
                        if c.full() {
                            return Ok((pos, None));
                        }
                        continue;
                    }
                    Err(e) => e,
                };
                let damage = self.damage_at(e, at);
                if damage.gap.end <= from {
                    // Damage before the offsets wanted: not this read's loss.
                    pos = self.resume_after(&damage);
                    continue 'scan;
                }
                if !c.accept_gaps {
                    return Ok((damage.position, Some(damage)));
                }
                c.skipped.push(damage.gap);
                pos = self.resume_after(&damage);
                at.next_offset = damage.gap.end;
                continue 'scan;
            }
            break;
        }
        Ok((pos, None))
    }

    /// The damage a read met at `e`, after the batches `at` stands past.
    fn damage_at(&self, e: ScanError, at: &Continuity) -> ReadDamage {
        let next = find_next_batch(&self.file, e.position + 1, self.size, at);
        let end = next.map_or(self.next_offset, |(_, h)| h.base_offset);
        ReadDamage {
            gap: Gap {
                first: at.next_offset,
                end: end.max(at.next_offset),
            },
            position: e.position,
            reason: e.reason,
        }
    }

    /// Where reading goes on after `damage`: the next valid batch, or the end.
    fn resume_after(&self, damage: &ReadDamage) -> u64 {
        let at = Continuity {
            base_offset: self.base_offset,
            next_offset: damage.gap.first,
            max_append_time: i64::MIN,
        };
        find_next_batch(&self.file, damage.position + 1, self.size, &at)
            .map_or(self.size, |(p, _)| p)
    }

    /// The first offset whose append time is `>= time`, if this segment has one.
    pub fn offset_for_time(&self, time: i64) -> Result<Option<u64>> {
        if self.max_append_time < time {
            return Ok(None);
        }
        let i = self.time_index.partition_point(|e| e.append_time < time);
        let start = match i.checked_sub(1).map(|i| self.time_index[i]) {
            None => 0,
            Some(t) => {
                let (position, base) = (
                    u64::from(t.position),
                    self.base_offset + u64::from(t.rel_offset),
                );
                let checked = self.index_checked
                    || matches!(self.header_at(position), Ok(Some(h)) if h.base_offset == base && h.append_time == t.append_time);
                if checked { position } else { 0 }
            }
        };
        for item in BatchScanner::new(&self.file, start, self.size, false) {
            let b = item.map_err(|e| self.corrupt(e))?;
            if b.header.append_time >= time {
                return Ok(Some(b.header.base_offset));
            }
        }
        Ok(None)
    }

    /// Every batch of the segment, CRC-checked, for compaction.
    pub fn batches(&self) -> BatchScanner<'_> {
        BatchScanner::new(&self.file, 0, self.size, true)
    }

    /// Remove the segment's index files (the log file stays).
    pub fn delete_indexes(&self) -> Result<()> {
        delete_indexes(&self.dir, self.base_offset)
    }

    /// Remove the segment's files.
    pub fn delete(self) -> Result<()> {
        self.delete_indexes()?;
        let log = self.log_path();
        drop(self.file);
        remove_if_present(&log)
    }
}

/// Remove a file; one that is not there is no error.
pub(crate) fn remove_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(LogError::Io {
            context: format!("delete {}", path.display()),
            source: e,
        }),
    }
}

/// Remove the index files of the segment based at `base_offset` in `dir`.
pub(crate) fn delete_indexes(dir: &Path, base_offset: u64) -> Result<()> {
    for ext in ["index", "timeindex"] {
        remove_if_present(&segment_file(dir, base_offset, ext))?;
    }
    Ok(())
}

/// What checking one segment found.
#[derive(Debug, Default)]
pub(crate) struct SegmentCheck {
    pub batches: u64,
    pub records: u64,
    pub bytes: u64,
    pub next_offset: u64,
    /// The damaged stretches of the log file.
    pub damaged: Vec<crate::scan::DamagedRegion>,
    /// What is wrong with the index files, if anything.
    pub index_problem: Option<String>,
}

impl Segment {
    /// Check every batch (framing, CRC32C, record encoding, offset and time order),
    /// stepping over damage to the next valid batch, and the index files against the
    /// log, changing nothing.
    pub fn check(dir: &Path, base_offset: u64, index_interval: u64) -> Result<SegmentCheck> {
        let path = segment_file(dir, base_offset, "log");
        let file = File::open(&path).ctx(|| format!("open {}", path.display()))?;
        let len = file
            .metadata()
            .ctx(|| format!("stat {}", path.display()))?
            .len();
        let scan = crate::scan::scan_file(&file, len, base_offset);
        let mut seg = Self::empty(dir, base_offset, file);
        let loaded = seg.load_indexes(len);
        let (file_index, file_time) = (
            std::mem::take(&mut seg.index),
            std::mem::take(&mut seg.time_index),
        );
        let rebuilt = Self::from_batches(
            dir,
            base_offset,
            seg.file,
            len,
            &scan.batches,
            index_interval,
        );
        let index_problem = match loaded {
            Err(reason) => Some(reason),
            Ok(())
                if scan.damaged.is_empty()
                    && (file_index != rebuilt.index || file_time != rebuilt.time_index) =>
            {
                Some("entries differ from the log file's batches".into())
            }
            Ok(()) => None,
        };
        Ok(SegmentCheck {
            batches: scan.batches.len() as u64,
            records: scan.records,
            bytes: len,
            next_offset: scan.next_offset(base_offset),
            damaged: scan.damaged,
            index_problem,
        })
    }
}

/// Parse a segment file name `<20 digits>.log` into its base offset.
pub(crate) fn parse_segment_name(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(".log")?;
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}
