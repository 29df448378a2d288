//! Reading batches out of a segment file: the sequential scanner every read uses, and
//! the recovery scan, which steps over damage to the next valid batch.
//!
//! A batch is *valid* when its header parses (magic, length, record count), its bytes
//! are all in the file, its CRC32C matches, its offsets and append time continue those
//! of the batch before it (offsets only go up, and stay within `u32` of the segment's
//! base; append times never go back), and every record in it is well formed. The
//! recovery scan ([`scan_file`]) checks all of that for every batch; where a batch
//! fails, it searches forward, byte by byte, for the next position that holds a valid
//! batch, and reports the bytes in between as a [`DamagedRegion`].

use std::fs::File;
use std::ops::ControlFlow;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::buffers::ReadBuffers;
use crate::record::{self, BATCH_HEADER_LEN, BatchHeader, MAGIC};

/// How much a scan reads at a time.
const SCAN_CHUNK: usize = 1024 * 1024;
/// How much a read of a range known to be wanted (see [`BatchScanner::whole_range`])
/// reads at once, at most: a fetch's range in one `pread`.
const RANGE_CHUNK: usize = 8 * 1024 * 1024;
/// Where the magic byte lies in a batch header (after base offset, length and CRC).
const MAGIC_AT: usize = 16;

/// File name of the segment starting at `base_offset`, with the given extension.
pub(crate) fn segment_file(dir: &Path, base_offset: u64, ext: &str) -> PathBuf {
    dir.join(format!("{base_offset:020}.{ext}"))
}

/// A batch found by a scan, with where it starts in the file.
#[derive(Debug, Clone)]
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
    /// Where the read buffers come from and go back to (a fetch's); else new ones.
    buffers: Option<&'f ReadBuffers>,
    /// The most one read takes (more when one batch is longer).
    chunk_limit: usize,
}

impl<'f> BatchScanner<'f> {
    /// A scanner of `[start, end)` of `file`, checking each batch's CRC when asked.
    pub fn new(file: &'f File, start: u64, end: u64, verify_crc: bool) -> Self {
        Self {
            file,
            pos: start,
            end,
            chunk: Bytes::new(),
            chunk_start: start,
            verify_crc,
            buffers: None,
            chunk_limit: SCAN_CHUNK,
        }
    }

    /// The same scanner, reading into `buffers`' buffers (see `buffers`).
    pub fn with_buffers(mut self, buffers: &'f ReadBuffers) -> Self {
        self.buffers = Some(buffers);
        self
    }

    /// The same scanner, reading its whole range at once (up to 8 MiB a read) instead of
    /// 1 MiB at a time: for a range that is all wanted (a fetch's, bounded by the index),
    /// one `pread`, and no batch read twice because it straddled two reads.
    pub fn whole_range(mut self) -> Self {
        self.chunk_limit = RANGE_CHUNK;
        self
    }

    fn fill(&mut self, at_least: usize) -> std::io::Result<()> {
        let want = usize::try_from(self.end - self.pos).unwrap_or(usize::MAX);
        let len = want.min(self.chunk_limit.max(at_least));
        // Let go of the chunk before: its buffer can then be taken back at once.
        self.chunk = Bytes::new();
        match self.buffers {
            Some(pool) => {
                // The buffer may be longer than this read: the chunk is its first `len`
                // bytes, and the pool keeps it whole.
                let mut buf = pool.take(len);
                self.file.read_exact_at(&mut buf[..len], self.pos)?;
                let whole = buf.freeze();
                pool.keep(&whole);
                self.chunk = whole.slice(..len);
            }
            None => {
                let mut buf = vec![0u8; len];
                self.file.read_exact_at(&mut buf, self.pos)?;
                self.chunk = Bytes::from(buf);
            }
        }
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

/// Where a scan stands in a segment: what the next batch must continue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Continuity {
    /// The segment's base offset (every offset in it is within `u32` of it).
    pub base_offset: u64,
    /// One past the last offset of the batch before (the base offset at the start).
    pub next_offset: u64,
    /// The append time of the batch before (`i64::MIN` at the start).
    pub max_append_time: i64,
}

impl Continuity {
    /// The state at the start of the segment based at `base_offset`.
    pub fn start(base_offset: u64) -> Self {
        Self {
            base_offset,
            next_offset: base_offset,
            max_append_time: i64::MIN,
        }
    }

    /// Whether a batch with header `h` may follow; `Err` says why not.
    pub fn check(&self, h: &BatchHeader) -> Result<(), String> {
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

    /// Move past the batch with header `h`.
    pub fn advance(&mut self, h: &BatchHeader) {
        self.next_offset = h.last_offset() + 1;
        self.max_append_time = h.append_time;
    }
}

/// Check that every record of a CRC-checked batch is well formed.
pub(crate) fn check_records(header: &BatchHeader, bytes: &[u8]) -> Result<(), String> {
    record::visit_records(header, bytes, 0, |_| ControlFlow::Continue(())).map(|_| ())
}

/// Where a valid batch lies in a file and what its header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchLoc {
    pub position: u64,
    pub header: BatchHeader,
}

/// Bytes of a segment file that hold no valid batch, found by [`scan_file`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DamagedRegion {
    /// Where the damage starts.
    pub position: u64,
    /// How many bytes it spans: to the next valid batch, or to the end of the file.
    pub len: u64,
    /// What is wrong with the bytes at `position`.
    pub reason: String,
    /// The first offset the damaged bytes may have held (one past the batch before).
    pub first_offset: u64,
    /// The base offset of the next valid batch; `None` when none follows in the file.
    pub next_base: Option<u64>,
}

/// Everything [`scan_file`] found in a segment file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FileScan {
    /// The valid batches, in file order.
    pub batches: Vec<BatchLoc>,
    /// The damaged stretches between (or after) them.
    pub damaged: Vec<DamagedRegion>,
    /// Records in the valid batches.
    pub records: u64,
}

impl FileScan {
    /// One past the last offset of the valid batches; `base_offset` when there is none.
    pub fn next_offset(&self, base_offset: u64) -> u64 {
        self.batches
            .last()
            .map_or(base_offset, |b| b.header.last_offset() + 1)
    }
}

/// Scan `[0, len)` of the segment file based at `base_offset`, checking every batch
/// (see the module docs), stepping over damage to the next valid batch. Reads only.
pub(crate) fn scan_file(file: &File, len: u64, base_offset: u64) -> FileScan {
    let mut out = FileScan::default();
    let mut at = Continuity::start(base_offset);
    let mut pos = 0;
    while pos < len {
        match scan_run(file, pos, len, &mut at, &mut out) {
            None => break,
            Some(err) => {
                let next = find_next_batch(file, err.position + 1, len, &at);
                let end = next.map_or(len, |(p, _)| p);
                out.damaged.push(DamagedRegion {
                    position: err.position,
                    len: end - err.position,
                    reason: err.reason,
                    first_offset: at.next_offset,
                    next_base: next.map(|(_, h)| h.base_offset),
                });
                pos = end;
            }
        }
    }
    out
}

/// Read valid batches from `pos` on into `out`; the first failure, if any.
fn scan_run(
    file: &File,
    pos: u64,
    len: u64,
    at: &mut Continuity,
    out: &mut FileScan,
) -> Option<ScanError> {
    for item in BatchScanner::new(file, pos, len, true) {
        let b = match item {
            Ok(b) => b,
            Err(e) => return Some(e),
        };
        let checked = at
            .check(&b.header)
            .and_then(|()| check_records(&b.header, &b.bytes));
        if let Err(reason) = checked {
            return Some(ScanError {
                position: b.position,
                reason,
            });
        }
        at.advance(&b.header);
        out.records += u64::from(b.header.record_count);
        out.batches.push(BatchLoc {
            position: b.position,
            header: b.header,
        });
    }
    None
}

/// The first position at or after `from` (and before `len`) where a valid batch that may
/// follow `at` starts, with its header. Reads the file a chunk at a time.
pub(crate) fn find_next_batch(
    file: &File,
    from: u64,
    len: u64,
    at: &Continuity,
) -> Option<(u64, BatchHeader)> {
    let mut start = from;
    let mut buf = Vec::new();
    while start + (BATCH_HEADER_LEN as u64) <= len {
        let n = (len - start).min((SCAN_CHUNK + BATCH_HEADER_LEN) as u64) as usize;
        buf.resize(n, 0);
        file.read_exact_at(&mut buf, start).ok()?;
        let last = n - BATCH_HEADER_LEN;
        for i in 0..=last {
            if buf[i + MAGIC_AT] != MAGIC {
                continue;
            }
            let position = start + i as u64;
            if let Some(h) = valid_batch_at(file, &buf[i..], position, len, at) {
                return Some((position, h));
            }
        }
        start += last as u64 + 1;
    }
    None
}

/// The header of the valid batch starting at `position` (whose first bytes are `head`),
/// if one does and it may follow `at`.
fn valid_batch_at(
    file: &File,
    head: &[u8],
    position: u64,
    len: u64,
    at: &Continuity,
) -> Option<BatchHeader> {
    let h = BatchHeader::parse(head).ok().flatten()?;
    if h.total_len as u64 > len - position || at.check(&h).is_err() {
        return None;
    }
    let mut owned;
    let bytes: &[u8] = if head.len() >= h.total_len {
        &head[..h.total_len]
    } else {
        owned = vec![0u8; h.total_len];
        file.read_exact_at(&mut owned, position).ok()?;
        &owned
    };
    (record::crc_ok(&h, bytes) && check_records(&h, bytes).is_ok()).then_some(h)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::record::{RecordRef, encode_batch};

    fn batch(base: u64, n: u64, time: i64) -> Vec<u8> {
        let values: Vec<Vec<u8>> = (0..n).map(|i| format!("v{}", base + i).into()).collect();
        let mut buf = Vec::new();
        encode_batch(
            &mut buf,
            base,
            time,
            values.iter().enumerate().map(|(i, v)| RecordRef {
                offset: base + i as u64,
                key: None,
                value: Some(v),
                event_time: 0,
                headers: &[],
            }),
        );
        buf
    }

    fn file_of(bytes: &[u8]) -> (tempfile::NamedTempFile, u64) {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(bytes).unwrap();
        (f, bytes.len() as u64)
    }

    #[test]
    fn a_whole_range_is_read_at_once() {
        let value = vec![b'x'; 60_000];
        let mut bytes = Vec::new();
        for i in 0..45u64 {
            let mut buf = Vec::new();
            encode_batch(
                &mut buf,
                i,
                0,
                std::iter::once(RecordRef {
                    offset: i,
                    key: None,
                    value: Some(&value),
                    event_time: 0,
                    headers: &[],
                }),
            );
            bytes.extend_from_slice(&buf);
        }
        let (f, len) = file_of(&bytes);
        // 2.7 MB: three reads of (at most) 1 MiB, or one of the whole range.
        for (whole, reads) in [(false, 3), (true, 1)] {
            let pool = ReadBuffers::default();
            let scanner = BatchScanner::new(f.as_file(), 0, len, true).with_buffers(&pool);
            let scanner = if whole {
                scanner.whole_range()
            } else {
                scanner
            };
            let batches: Vec<ScannedBatch> = scanner.collect::<Result<_, _>>().unwrap();
            assert_eq!(batches.len(), 45);
            assert_eq!(
                &batches[44].bytes[..],
                &bytes[bytes.len() - batches[44].bytes.len()..]
            );
            // Every buffer is still held by the batches: one per read.
            assert_eq!(pool.kept_lens().len(), reads, "whole range: {whole}");
        }
    }

    #[test]
    fn steps_over_a_damaged_batch_to_the_next_valid_one() {
        let (a, b, c) = (batch(10, 3, 1), batch(13, 2, 2), batch(15, 4, 3));
        let mut bytes = [a.clone(), b.clone(), c.clone()].concat();
        let bad = a.len() + b.len() / 2;
        bytes[bad] ^= 0x40;
        let (f, len) = file_of(&bytes);
        let scan = scan_file(f.as_file(), len, 10);
        let bases: Vec<u64> = scan.batches.iter().map(|b| b.header.base_offset).collect();
        assert_eq!(bases, [10, 15]);
        assert_eq!(
            scan.damaged,
            [DamagedRegion {
                position: a.len() as u64,
                len: b.len() as u64,
                reason: "CRC32C mismatch in the batch at offset 13".into(),
                first_offset: 13,
                next_base: Some(15),
            }]
        );
        assert_eq!(scan.records, 7);
        assert_eq!(scan.next_offset(10), 19);
    }

    #[test]
    fn zeroed_tail_and_garbage_are_one_region_each() {
        let (a, b) = (batch(0, 2, 1), batch(2, 2, 2));
        let mut bytes = [a.clone(), vec![0u8; 300], b.clone(), vec![0xAB; 70]].concat();
        bytes.extend_from_slice(&[0u8; 10]);
        let (f, len) = file_of(&bytes);
        let scan = scan_file(f.as_file(), len, 0);
        assert_eq!(scan.batches.len(), 2);
        assert_eq!(scan.damaged.len(), 2);
        assert_eq!(scan.damaged[0].position, a.len() as u64);
        assert_eq!(scan.damaged[0].len, 300);
        assert_eq!(scan.damaged[0].next_base, Some(2));
        assert_eq!(scan.damaged[1].next_base, None);
        assert_eq!(scan.damaged[1].len, 80);
        assert_eq!(scan.damaged[1].first_offset, 4);
    }

    #[test]
    fn a_valid_batch_that_goes_back_is_not_a_resync_point() {
        // A copy of an earlier batch after the damage is not taken for the next one.
        let (a, b) = (batch(0, 2, 1), batch(2, 2, 2));
        let bytes = [a.clone(), vec![7u8; 60], a.clone(), b.clone()].concat();
        let (f, len) = file_of(&bytes);
        let scan = scan_file(f.as_file(), len, 0);
        let bases: Vec<u64> = scan.batches.iter().map(|b| b.header.base_offset).collect();
        assert_eq!(bases, [0, 2]);
        assert_eq!(scan.damaged[0].len, 60 + a.len() as u64);
    }
}
