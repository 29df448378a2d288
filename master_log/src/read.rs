//! A fetch in two steps: the batches are read (and CRC-checked) while the partition is
//! locked, and their records decoded after the lock is released.
//!
//! [`Collector`] gathers the batches a fetch needs — shared slices of the read buffers,
//! nothing copied — under the partition's read lock. [`Fetched`] then shows or decodes
//! their records with no lock held, so a reader that does real work per record (the
//! batch layer decodes every event) never holds up appends or other readers.

use std::ops::ControlFlow;
use std::path::PathBuf;

use bytes::Bytes;

use crate::error::{LogError, Result};
use crate::record::{self, BatchHeader, Record, RecordView};

/// A CRC-checked batch read for a fetch, and where it came from.
#[derive(Debug, Clone)]
pub(crate) struct FetchedBatch {
    pub header: BatchHeader,
    pub bytes: Bytes,
    /// Base offset of the segment it was read from.
    pub segment: u64,
    /// Its byte position in that segment's log file.
    pub position: u64,
}

/// A range of offsets a fetch found lost, and whether it stepped over it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Gap {
    pub first: u64,
    pub end: u64,
}

/// Gathers the batches of one fetch (under the partition's lock).
#[derive(Debug)]
pub(crate) struct Collector {
    pub batches: Vec<FetchedBatch>,
    /// Records of the gathered batches at or after the fetch offset (for compacted
    /// batches, an upper bound).
    pub records: usize,
    pub bytes: usize,
    pub max_records: usize,
    pub max_bytes: usize,
    /// Offsets at or past this are not gathered (the next lost range), unless gaps are
    /// accepted.
    pub until: u64,
    /// Step over lost ranges instead of stopping at them.
    pub accept_gaps: bool,
    /// Lost ranges stepped over.
    pub skipped: Vec<Gap>,
}

impl Collector {
    /// A collector for a fetch of at most `max_records` records, stopping after about
    /// `max_bytes` of batches.
    pub fn new(max_records: usize, max_bytes: usize, accept_gaps: bool) -> Self {
        Self {
            batches: Vec::new(),
            records: 0,
            bytes: 0,
            max_records,
            max_bytes,
            until: u64::MAX,
            accept_gaps,
            skipped: Vec::new(),
        }
    }

    /// Whether the fetch has what it needs (at least one batch, then the limits).
    pub fn full(&self) -> bool {
        self.records >= self.max_records || (self.records > 0 && self.bytes >= self.max_bytes)
    }

    /// Take `batch` for the records at or after `from`.
    pub fn push(&mut self, batch: FetchedBatch, from: u64) {
        let h = &batch.header;
        let count = if h.base_offset >= from {
            h.record_count as usize
        } else {
            (h.record_count as u64).min(h.last_offset() - from + 1) as usize
        };
        self.records += count;
        self.bytes += h.total_len;
        self.batches.push(batch);
    }
}

/// What a fetch read: its batches, to be decoded with no lock held.
#[derive(Debug)]
pub(crate) struct Fetched {
    /// The partition's directory (for naming a malformed batch's file).
    pub dir: PathBuf,
    /// The first offset asked for.
    pub from: u64,
    /// No record at or past this offset is shown.
    pub until: u64,
    pub max_records: usize,
    pub batches: Vec<FetchedBatch>,
}

impl Fetched {
    fn malformed(&self, b: &FetchedBatch, reason: String) -> LogError {
        LogError::Corrupt {
            file: crate::scan::segment_file(&self.dir, b.segment, "log"),
            position: b.position,
            reason,
        }
    }

    /// Show each record, borrowed from the batches, to `each` until it breaks or the
    /// fetch's limit is reached. Returns how many were shown.
    pub fn visit(&self, each: &mut dyn FnMut(RecordView<'_>) -> ControlFlow<()>) -> Result<usize> {
        let mut shown = 0;
        let mut stop = false;
        for b in &self.batches {
            if shown >= self.max_records || stop {
                break;
            }
            let until = self.until;
            let max = self.max_records;
            record::visit_records(&b.header, &b.bytes, self.from, |v| {
                if v.offset >= until {
                    stop = true;
                    return ControlFlow::Break(());
                }
                shown += 1;
                if each(v).is_break() {
                    stop = true;
                    return ControlFlow::Break(());
                }
                if shown >= max {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })
            .map_err(|reason| self.malformed(b, reason))?;
        }
        Ok(shown)
    }

    /// The records, as owned [`Record`]s sharing the batches' buffers.
    pub fn records(&self) -> Result<Vec<Record>> {
        let upper = self
            .batches
            .iter()
            .map(|b| b.header.record_count as usize)
            .sum::<usize>();
        let mut out = Vec::with_capacity(upper.min(self.max_records));
        for b in &self.batches {
            // Records at or past `until`, or beyond the fetch's limit, are not decoded.
            let stopped = record::decode_records_until(
                &b.header,
                &b.bytes,
                self.from,
                self.until,
                self.max_records,
                &mut out,
            )
            .map_err(|reason| self.malformed(b, reason))?;
            if stopped {
                break;
            }
        }
        Ok(out)
    }
}
