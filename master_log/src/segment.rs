//! One segment: a log file of batches plus its sparse offset and time indexes.
//!
//! ```text
//!  partition dir/
//!    00000000000000000000.log        batches, appended only
//!    00000000000000000000.index      (relative offset u32, position u32) every ~4 KiB
//!    00000000000000000000.timeindex  (append time i64, relative offset u32, position u32)
//!    00000000000000052817.log        the next segment starts at offset 52817
//!    ...
//! ```
//!
//! The active (last) segment keeps its indexes in memory and writes them when it is
//! rolled or closed; on open it is always rebuilt from a CRC-checked scan, which is also
//! what finds and cuts a torn tail. A closed segment loads its index files, checks them
//! against the log file, and rebuilds them when they are missing or damaged.

use std::fs::{File, OpenOptions};
use std::ops::ControlFlow;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::durable::{Durability, write_atomic};
use crate::error::{IoContext, LogError, Result};
use crate::record::{self, BATCH_HEADER_LEN, BatchHeader, Record, RecordView};

const INDEX_ENTRY: usize = 8;
const TIME_ENTRY: usize = 16;
/// How much a scan reads at a time.
const SCAN_CHUNK: usize = 1024 * 1024;

/// File name of the segment starting at `base_offset`, with the given extension.
pub(crate) fn segment_file(dir: &Path, base_offset: u64, ext: &str) -> PathBuf {
    dir.join(format!("{base_offset:020}.{ext}"))
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

/// What a read took: records given to its sink, bytes of batches read, and whether the
/// sink asked to stop.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ReadTally {
    pub records: usize,
    pub bytes: usize,
    pub stopped: bool,
}

/// Where a read puts the records of the batches it reads.
pub(crate) trait RecordSink {
    /// Take at most `limit` (≥ 1) of the records of the CRC-checked `batch` with
    /// `offset >= from`; returns how many were taken and whether the read stops here.
    /// `Err` says why the batch is malformed.
    fn batch(
        &mut self,
        header: &BatchHeader,
        batch: &Bytes,
        from: u64,
        limit: usize,
    ) -> std::result::Result<(usize, bool), String>;
}

impl RecordSink for Vec<Record> {
    fn batch(
        &mut self,
        header: &BatchHeader,
        batch: &Bytes,
        from: u64,
        limit: usize,
    ) -> std::result::Result<(usize, bool), String> {
        let before = self.len();
        record::decode_records(header, batch, from, self)?;
        self.truncate(before + limit);
        Ok((self.len() - before, false))
    }
}

/// A sink that shows each record, borrowed from the read buffer, to a closure.
pub(crate) struct VisitRecords<'f>(pub &'f mut dyn FnMut(RecordView<'_>) -> ControlFlow<()>);

impl RecordSink for VisitRecords<'_> {
    fn batch(
        &mut self,
        header: &BatchHeader,
        batch: &Bytes,
        from: u64,
        limit: usize,
    ) -> std::result::Result<(usize, bool), String> {
        let mut left = limit;
        let mut stop = false;
        let shown = record::visit_records(header, batch, from, |v| {
            left -= 1;
            if (self.0)(v).is_break() {
                stop = true;
                return ControlFlow::Break(());
            }
            if left == 0 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })?;
        Ok((shown, stop))
    }
}

/// A batch found by a scan, with where it starts in the file.
#[derive(Debug)]
pub(crate) struct ScannedBatch {
    pub position: u64,
    pub header: BatchHeader,
    pub bytes: Bytes,
}

/// Why a scan stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScanError {
    pub position: u64,
    pub reason: String,
}

/// Reads batches one after another from `[start, end)` of a file, in large chunks.
#[derive(Debug)]
pub(crate) struct BatchScanner<'f> {
    file: &'f File,
    pos: u64,
    end: u64,
    chunk: Bytes,
    chunk_start: u64,
    verify_crc: bool,
}

impl<'f> BatchScanner<'f> {
    pub fn new(file: &'f File, start: u64, end: u64, verify_crc: bool) -> Self {
        Self {
            file,
            pos: start,
            end,
            chunk: Bytes::new(),
            chunk_start: start,
            verify_crc,
        }
    }

    fn fill(&mut self, at_least: usize) -> std::io::Result<()> {
        let want = (self.end - self.pos) as usize;
        let len = want.min(SCAN_CHUNK.max(at_least));
        let mut buf = vec![0u8; len];
        self.file.read_exact_at(&mut buf, self.pos)?;
        self.chunk = Bytes::from(buf);
        self.chunk_start = self.pos;
        Ok(())
    }

    fn fail(&mut self, reason: String) -> Option<Result<ScannedBatch, ScanError>> {
        let position = self.pos;
        self.pos = self.end;
        Some(Err(ScanError { position, reason }))
    }
}

impl Iterator for BatchScanner<'_> {
    type Item = Result<ScannedBatch, ScanError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.end {
            return None;
        }
        let remaining = self.end - self.pos;
        if remaining < BATCH_HEADER_LEN as u64 {
            return self.fail(format!(
                "incomplete batch: {remaining} bytes where a header needs {BATCH_HEADER_LEN}"
            ));
        }
        let mut rel = (self.pos - self.chunk_start) as usize;
        if rel + BATCH_HEADER_LEN > self.chunk.len() {
            if let Err(e) = self.fill(BATCH_HEADER_LEN) {
                return self.fail(format!("read failed: {e}"));
            }
            rel = 0;
        }
        let header = match BatchHeader::parse(&self.chunk[rel..]) {
            Ok(Some(h)) => h,
            Ok(None) => return self.fail("incomplete batch header".into()),
            Err(reason) => return self.fail(reason),
        };
        if header.total_len as u64 > remaining {
            return self.fail(format!(
                "incomplete batch: {} bytes announced, {remaining} left in the file",
                header.total_len
            ));
        }
        if rel + header.total_len > self.chunk.len() {
            if let Err(e) = self.fill(header.total_len) {
                return self.fail(format!("read failed: {e}"));
            }
            rel = 0;
        }
        let bytes = self.chunk.slice(rel..rel + header.total_len);
        if self.verify_crc && !record::crc_ok(&header, &bytes) {
            return self.fail(format!(
                "CRC32C mismatch in the batch at offset {}",
                header.base_offset
            ));
        }
        let position = self.pos;
        self.pos += header.total_len as u64;
        Some(Ok(ScannedBatch {
            position,
            header,
            bytes,
        }))
    }
}

/// The outcome of opening a segment: what was found wrong and what was done about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SegmentIssue {
    /// The active segment's tail failed validation and was cut at `position`.
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
    /// A closed segment's index was missing or damaged and was rebuilt.
    RebuiltIndex {
        /// The segment's log file.
        file: PathBuf,
        /// What was wrong with the index.
        reason: String,
    },
    /// A closed segment holds a batch that fails validation; reads stop with an error there.
    DamagedBatch {
        /// The segment's log file.
        file: PathBuf,
        /// Where the damaged batch starts.
        position: u64,
        /// What is wrong with it.
        reason: String,
    },
}

/// One segment of a partition.
#[derive(Debug)]
pub(crate) struct Segment {
    pub base_offset: u64,
    pub dir: PathBuf,
    file: File,
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
    /// A closed segment whose rebuild stopped at a damaged batch: `next_offset` is where
    /// the damage starts, not where the segment ends, so reads past it must go to the file
    /// (and fail there) instead of taking the segment for exhausted.
    damaged: bool,
}

impl Segment {
    pub fn log_path(&self) -> PathBuf {
        segment_file(&self.dir, self.base_offset, "log")
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

    fn empty(dir: &Path, base_offset: u64, file: File) -> Segment {
        Segment {
            base_offset,
            dir: dir.to_path_buf(),
            file,
            size: 0,
            next_offset: base_offset,
            first_append_time: None,
            max_append_time: i64::MIN,
            index: Vec::new(),
            time_index: Vec::new(),
            bytes_since_index: 0,
            damaged: false,
        }
    }

    fn open_file(path: &Path) -> Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .ctx(|| format!("open segment {}", path.display()))
    }

    /// Open the active segment: scan every batch with its CRC, cut a damaged tail, and
    /// build the indexes in memory.
    pub fn open_active(
        dir: &Path,
        base_offset: u64,
        index_interval: u64,
    ) -> Result<(Segment, Option<SegmentIssue>)> {
        let path = segment_file(dir, base_offset, "log");
        let file = Self::open_file(&path)?;
        let len = file
            .metadata()
            .ctx(|| format!("stat {}", path.display()))?
            .len();
        let mut seg = Self::empty(dir, base_offset, file);
        let error = seg.scan_into_index(len, index_interval);
        let issue = match error {
            None => None,
            Some(err) => {
                seg.file
                    .set_len(err.position)
                    .ctx(|| format!("truncate {}", path.display()))?;
                seg.file
                    .sync_all()
                    .ctx(|| format!("sync {}", path.display()))?;
                Some(SegmentIssue::TruncatedTail {
                    file: path,
                    position: err.position,
                    bytes_cut: len - err.position,
                    reason: err.reason,
                })
            }
        };
        Ok((seg, issue))
    }

    /// Scan the whole file from 0, (re)building the in-memory indexes, stopping at the
    /// first invalid batch (returned).
    fn scan_into_index(&mut self, len: u64, index_interval: u64) -> Option<ScanError> {
        self.index.clear();
        self.time_index.clear();
        self.size = 0;
        self.bytes_since_index = 0;
        self.next_offset = self.base_offset;
        self.first_append_time = None;
        self.max_append_time = i64::MIN;
        let file = self.file.try_clone().ok()?;
        let mut scanner = BatchScanner::new(&file, 0, len, true);
        for item in &mut scanner {
            let b = match item {
                Ok(b) => b,
                Err(e) => return Some(e),
            };
            if let Err(reason) = self.check_order(&b.header) {
                return Some(ScanError {
                    position: b.position,
                    reason,
                });
            }
            let mut records = Vec::new();
            if let Err(reason) = record::decode_records(&b.header, &b.bytes, 0, &mut records) {
                return Some(ScanError {
                    position: b.position,
                    reason,
                });
            }
            self.note_batch(&b.header, b.position, index_interval);
        }
        None
    }

    fn check_order(&self, h: &BatchHeader) -> Result<(), String> {
        if h.base_offset < self.next_offset {
            return Err(format!(
                "batch at offset {} goes back before offset {}",
                h.base_offset, self.next_offset
            ));
        }
        if h.base_offset - self.base_offset > u64::from(u32::MAX) - u64::from(h.last_offset_delta) {
            return Err(format!(
                "batch at offset {} is too far from the segment base {}",
                h.base_offset, self.base_offset
            ));
        }
        if h.append_time < self.max_append_time {
            return Err(format!(
                "append time {} goes back before {}",
                h.append_time, self.max_append_time
            ));
        }
        Ok(())
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

    /// Open a closed segment: load and check its index files, rebuilding them if needed.
    pub fn open_closed(
        dir: &Path,
        base_offset: u64,
        index_interval: u64,
    ) -> Result<(Segment, Option<SegmentIssue>)> {
        let path = segment_file(dir, base_offset, "log");
        let file = Self::open_file(&path)?;
        let len = file
            .metadata()
            .ctx(|| format!("stat {}", path.display()))?
            .len();
        let mut seg = Self::empty(dir, base_offset, file);
        match seg.load_indexes(len) {
            Ok(()) => Ok((seg, None)),
            Err(reason) => {
                let issue = match seg.scan_into_index(len, index_interval) {
                    None => SegmentIssue::RebuiltIndex {
                        file: path.clone(),
                        reason,
                    },
                    Some(err) => {
                        seg.damaged = true;
                        SegmentIssue::DamagedBatch {
                            file: path.clone(),
                            position: err.position,
                            reason: err.reason,
                        }
                    }
                };
                // The file keeps its full length: damaged bytes in a closed segment are
                // reported, never silently dropped.
                seg.size = len;
                seg.write_indexes()?;
                Ok((seg, Some(issue)))
            }
        }
    }

    fn load_indexes(&mut self, len: u64) -> Result<(), String> {
        let ipath = segment_file(&self.dir, self.base_offset, "index");
        let tpath = segment_file(&self.dir, self.base_offset, "timeindex");
        let ibytes = std::fs::read(&ipath).map_err(|e| format!("offset index: {e}"))?;
        let tbytes = std::fs::read(&tpath).map_err(|e| format!("time index: {e}"))?;
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

    fn header_at(&self, position: u64) -> Result<Option<BatchHeader>, String> {
        let mut buf = [0u8; BATCH_HEADER_LEN];
        match self.file.read_exact_at(&mut buf, position) {
            Ok(()) => BatchHeader::parse(&buf),
            Err(_) => Ok(None),
        }
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
        for (ext, bytes) in [("index", &ibuf), ("timeindex", &tbuf)] {
            let path = segment_file(&self.dir, self.base_offset, ext);
            write_atomic(&path, bytes, Durability::Synced)
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

    pub fn sync(&self) -> Result<()> {
        self.file
            .sync_data()
            .ctx(|| format!("sync {}", self.log_path().display()))
    }

    /// Position of the batch holding `offset`, or of an earlier one.
    fn start_position(&self, offset: u64) -> u64 {
        let rel = offset.saturating_sub(self.base_offset);
        let i = self
            .index
            .partition_point(|e| u64::from(e.rel_offset) <= rel);
        if i == 0 {
            0
        } else {
            u64::from(self.index[i - 1].position)
        }
    }

    fn corrupt(&self, e: ScanError) -> LogError {
        LogError::Corrupt {
            file: self.log_path(),
            position: e.position,
            reason: e.reason,
        }
    }

    /// Give the records with `offset >= from` to `sink`, until it has taken `max_records`
    /// or stops, or `max_bytes` of batches are read (after at least one batch).
    pub fn read(
        &self,
        from: u64,
        max_records: usize,
        max_bytes: usize,
        sink: &mut dyn RecordSink,
    ) -> Result<ReadTally> {
        if from >= self.next_offset && !self.damaged {
            return Ok(ReadTally::default());
        }
        let start = self.start_position(from);
        // Read no further than the first indexed batch past the last offset wanted or
        // past the byte budget: a small fetch then reads kilobytes, not the whole rest of
        // the segment.
        let last_wanted = from.saturating_add(max_records.max(1) as u64 - 1);
        let rel = last_wanted.saturating_sub(self.base_offset);
        let byte_bound = start.saturating_add(max_bytes as u64);
        let i = self.index.partition_point(|e| {
            u64::from(e.rel_offset) <= rel && u64::from(e.position) < byte_bound
        });
        let end = self
            .index
            .get(i)
            .map_or(self.size, |e| u64::from(e.position).max(start));
        let mut tally = self.read_range(from, start, end, max_records, max_bytes, sink)?;
        if tally.records == 0 && !tally.stopped && end < self.size {
            // Compaction can leave a gap wider than the bound: keep going to the end.
            tally = self.read_range(from, end, self.size, max_records, max_bytes, sink)?;
        }
        Ok(tally)
    }

    fn read_range(
        &self,
        from: u64,
        start: u64,
        end: u64,
        max_records: usize,
        max_bytes: usize,
        sink: &mut dyn RecordSink,
    ) -> Result<ReadTally> {
        let mut tally = ReadTally::default();
        for item in BatchScanner::new(&self.file, start, end, true) {
            let b = item.map_err(|e| self.corrupt(e))?;
            if b.header.last_offset() < from {
                continue;
            }
            let (taken, stop) = sink
                .batch(&b.header, &b.bytes, from, max_records - tally.records)
                .map_err(|reason| LogError::Corrupt {
                    file: self.log_path(),
                    position: b.position,
                    reason,
                })?;
            tally.records += taken;
            tally.bytes += b.header.total_len;
            if stop {
                tally.stopped = true;
                break;
            }
            if tally.records >= max_records || tally.bytes >= max_bytes {
                break;
            }
        }
        Ok(tally)
    }

    /// The first offset whose append time is `>= time`, if this segment has one.
    pub fn offset_for_time(&self, time: i64) -> Result<Option<u64>> {
        if self.max_append_time < time {
            return Ok(None);
        }
        let i = self.time_index.partition_point(|e| e.append_time < time);
        let start = if i == 0 {
            0
        } else {
            u64::from(self.time_index[i - 1].position)
        };
        for item in BatchScanner::new(&self.file, start, self.size, false) {
            let b = item.map_err(|e| self.corrupt(e))?;
            if b.header.append_time >= time {
                return Ok(Some(b.header.base_offset));
            }
        }
        Ok(None)
    }

    /// Every batch of the segment, CRC-checked, for compaction and verification.
    pub fn batches(&self) -> BatchScanner<'_> {
        BatchScanner::new(&self.file, 0, self.size, true)
    }

    /// Remove the segment's index files (the log file stays).
    pub fn delete_indexes(&self) -> Result<()> {
        for ext in ["index", "timeindex"] {
            let p = segment_file(&self.dir, self.base_offset, ext);
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(LogError::Io {
                        context: format!("delete {}", p.display()),
                        source: e,
                    });
                }
            }
        }
        Ok(())
    }

    /// Remove the segment's files.
    pub fn delete(self) -> Result<()> {
        self.delete_indexes()?;
        let log = self.log_path();
        drop(self.file);
        std::fs::remove_file(&log).ctx(|| format!("delete {}", log.display()))
    }
}

/// What checking one segment found.
#[derive(Debug, Default)]
pub(crate) struct SegmentCheck {
    pub batches: u64,
    pub records: u64,
    pub bytes: u64,
    pub next_offset: u64,
    /// (byte position, reason); the position is `None` for index problems.
    pub problems: Vec<(Option<u64>, String)>,
}

impl Segment {
    /// Check every batch (framing, CRC32C, record encoding, offset and time order) and
    /// the index files against the log, changing nothing. `min_offset` is the first offset
    /// the segment may hold (the end of the previous segment).
    pub fn check(
        dir: &Path,
        base_offset: u64,
        index_interval: u64,
        min_offset: u64,
    ) -> Result<SegmentCheck> {
        let path = segment_file(dir, base_offset, "log");
        let file = File::open(&path).ctx(|| format!("open {}", path.display()))?;
        let len = file
            .metadata()
            .ctx(|| format!("stat {}", path.display()))?
            .len();
        let mut check = SegmentCheck::default();
        if base_offset < min_offset {
            check.problems.push((
                Some(0),
                format!("segment starts at offset {base_offset}, inside the previous segment (which ends at {min_offset})"),
            ));
        }
        let mut seg = Self::empty(dir, base_offset, file);
        let loaded = seg.load_indexes(len);
        let (file_index, file_time) = (
            std::mem::take(&mut seg.index),
            std::mem::take(&mut seg.time_index),
        );
        let mut records = Vec::new();
        seg.next_offset = base_offset;
        seg.max_append_time = i64::MIN;
        seg.bytes_since_index = 0;
        seg.size = 0;
        let file = seg
            .file
            .try_clone()
            .ctx(|| format!("open {}", path.display()))?;
        for item in BatchScanner::new(&file, 0, len, true) {
            let b = match item {
                Ok(b) => b,
                Err(e) => {
                    check.problems.push((Some(e.position), e.reason));
                    break;
                }
            };
            if let Err(reason) = seg.check_order(&b.header) {
                check.problems.push((Some(b.position), reason));
                break;
            }
            records.clear();
            if let Err(reason) = record::decode_records(&b.header, &b.bytes, 0, &mut records) {
                check.problems.push((Some(b.position), reason));
                break;
            }
            check.batches += 1;
            check.records += records.len() as u64;
            seg.note_batch(&b.header, b.position, index_interval);
        }
        check.bytes = len;
        check.next_offset = seg.next_offset;
        match loaded {
            Err(reason) => check.problems.push((None, format!("index: {reason}"))),
            Ok(())
                if check.problems.is_empty()
                    && (file_index != seg.index || file_time != seg.time_index) =>
            {
                check.problems.push((
                    None,
                    "index: entries differ from the log file's batches".into(),
                ));
            }
            Ok(()) => {}
        }
        Ok(check)
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
