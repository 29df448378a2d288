//! One partition: an ordered list of segments, the last of which takes appends.

use std::collections::HashMap;
use std::fs;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use crate::config::{FsyncPolicy, TopicConfig};
use crate::durable::sync_dir;
use crate::error::{IoContext, LogError, Result};
use crate::record::{self, NewRecord, Record, RecordRef, RecordView};
use crate::segment::{self, ReadTally, RecordSink, Segment, SegmentIssue, VisitRecords};

/// Largest batch written in one piece; bigger appends are split into several batches.
const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;

/// Where an append landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Offset of the first record appended.
    pub base_offset: u64,
    /// Offset of the last record appended.
    pub last_offset: u64,
    /// The append time the log gave the records.
    pub append_time: i64,
}

/// What a compaction run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompactionStats {
    /// Records in the closed segments before the run.
    pub records_before: u64,
    /// Records kept in them.
    pub records_after: u64,
    /// Bytes of the closed segments' log files before the run.
    pub bytes_before: u64,
    /// Bytes of their log files after it.
    pub bytes_after: u64,
    /// Segments left empty and deleted.
    pub segments_deleted: u64,
}

/// What a retention run deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionStats {
    /// Whole segments deleted.
    pub segments_deleted: u64,
    /// Bytes of their log files.
    pub bytes_deleted: u64,
}

#[derive(Debug)]
pub(crate) struct Partition {
    pub topic: String,
    pub id: u32,
    dir: PathBuf,
    config: Arc<TopicConfig>,
    fsync: FsyncPolicy,
    /// Sorted by base offset; never empty; the last one is active.
    segments: Vec<Segment>,
    last_append_time: i64,
    last_sync: Instant,
    /// Bytes rolled into closed segments since the last compaction.
    dirty_bytes: u64,
    buf: Vec<u8>,
    /// Set when the topic is deleted: nothing is written back on drop.
    deleted: bool,
}

impl Partition {
    /// Open (or create) the partition in `dir`, recovering its active segment.
    pub fn open(
        topic: &str,
        id: u32,
        dir: PathBuf,
        config: Arc<TopicConfig>,
        fsync: FsyncPolicy,
        issues: &mut Vec<SegmentIssue>,
    ) -> Result<Partition> {
        fs::create_dir_all(&dir).ctx(|| format!("create {}", dir.display()))?;
        let mut bases = Vec::new();
        for entry in fs::read_dir(&dir).ctx(|| format!("list {}", dir.display()))? {
            let entry = entry.ctx(|| format!("list {}", dir.display()))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".tmp") || name.ends_with(".cleaned") {
                // Left over by a crash in the middle of an atomic replace: the original is
                // still in place.
                let p = entry.path();
                fs::remove_file(&p).ctx(|| format!("remove {}", p.display()))?;
            } else if let Some(base) = segment::parse_segment_name(&name) {
                bases.push(base);
            }
        }
        bases.sort_unstable();
        let interval = config.index_interval_bytes;
        let mut segments = Vec::with_capacity(bases.len().max(1));
        for (i, &base) in bases.iter().enumerate() {
            let (seg, issue) = if i + 1 == bases.len() {
                Segment::open_active(&dir, base, interval)?
            } else {
                Segment::open_closed(&dir, base, interval)?
            };
            issues.extend(issue);
            segments.push(seg);
        }
        if segments.is_empty() {
            segments.push(Segment::create(&dir, 0)?);
            if fsync != FsyncPolicy::Never {
                sync_dir(&dir).ctx(|| format!("sync directory {}", dir.display()))?;
            }
        }
        let last_append_time = segments
            .iter()
            .map(|s| s.max_append_time)
            .max()
            .unwrap_or(i64::MIN);
        let dirty_bytes = segments[..segments.len() - 1].iter().map(|s| s.size).sum();
        Ok(Partition {
            topic: topic.to_owned(),
            id,
            dir,
            config,
            fsync,
            segments,
            last_append_time,
            last_sync: Instant::now(),
            dirty_bytes,
            buf: Vec::new(),
            deleted: false,
        })
    }

    fn active(&self) -> &Segment {
        self.segments
            .last()
            .expect("a partition always has a segment")
    }

    fn active_mut(&mut self) -> &mut Segment {
        self.segments
            .last_mut()
            .expect("a partition always has a segment")
    }

    /// The first offset still in the log.
    pub fn earliest(&self) -> u64 {
        self.segments[0].base_offset
    }

    /// The offset the next appended record will get (Kafka's log end offset).
    pub fn latest(&self) -> u64 {
        self.active().next_offset
    }

    pub fn size_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.size).sum()
    }

    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Append `records` with `now` as the append time (raised if needed so that append
    /// times never decrease). Either every record is validated and written, or (on a
    /// validation error) none is.
    pub fn append(&mut self, records: &[NewRecord], now: i64) -> Result<Appended> {
        if records.is_empty() {
            return Err(LogError::InvalidConfig("nothing to append".into()));
        }
        let max = self.config.max_record_bytes as usize;
        for r in records {
            let size = r.encoded_len();
            if size > max {
                return Err(LogError::RecordTooLarge { size, max });
            }
            if self.config.compact && r.key.is_none() {
                return Err(LogError::KeyRequired(self.topic.clone()));
            }
        }
        let append_time = now.max(self.last_append_time);
        let base_offset = self.latest();
        let mut start = 0;
        while start < records.len() {
            // Cut the next batch at MAX_BATCH_BYTES.
            let mut end = start;
            let mut bytes = record::BATCH_HEADER_LEN;
            while end < records.len() {
                let n = records[end].encoded_len();
                if end > start && bytes + n > MAX_BATCH_BYTES {
                    break;
                }
                bytes += n;
                end += 1;
            }
            self.append_batch(&records[start..end], append_time)?;
            start = end;
        }
        self.last_append_time = append_time;
        self.maybe_sync()?;
        Ok(Appended {
            base_offset,
            last_offset: self.latest() - 1,
            append_time,
        })
    }

    fn append_batch(&mut self, records: &[NewRecord], append_time: i64) -> Result<()> {
        let base = self.latest();
        let mut buf = std::mem::take(&mut self.buf);
        record::encode_batch(
            &mut buf,
            base,
            append_time,
            records.iter().enumerate().map(|(i, r)| RecordRef {
                offset: base + i as u64,
                key: r.key.as_deref(),
                value: r.value.as_deref(),
                event_time: r.event_time,
                headers: &r.headers,
            }),
        );
        let result = self.write_batch(&buf, append_time);
        self.buf = buf;
        result
    }

    fn write_batch(&mut self, batch: &[u8], append_time: i64) -> Result<()> {
        let active = self.active();
        let too_big = active.size + batch.len() as u64 > self.config.segment_bytes;
        let too_old = match (self.config.segment_ms, active.first_append_time) {
            (Some(ms), Some(first)) => append_time.saturating_sub(first) >= ms as i64,
            _ => false,
        };
        if !active.is_empty() && (too_big || too_old) {
            self.roll(append_time)?;
        }
        let interval = self.config.index_interval_bytes;
        self.active_mut().append_batch(batch, interval)
    }

    /// Close the active segment and start a new one at the log end offset.
    fn roll(&mut self, now: i64) -> Result<()> {
        let next = self.latest();
        {
            let active = self.active();
            if self.fsync != FsyncPolicy::Never {
                active.sync()?;
            }
            active.write_indexes()?;
            self.dirty_bytes += active.size;
        }
        self.segments.push(Segment::create(&self.dir, next)?);
        if self.fsync != FsyncPolicy::Never {
            sync_dir(&self.dir).ctx(|| format!("sync directory {}", self.dir.display()))?;
        }
        self.enforce_retention(now)?;
        if self.config.compact && self.should_compact() {
            self.compact(now)?;
        }
        Ok(())
    }

    /// Roll now if the active segment holds anything.
    pub fn force_roll(&mut self, now: i64) -> Result<()> {
        if self.active().is_empty() {
            return Ok(());
        }
        self.roll(now.max(self.last_append_time))
    }

    pub fn mark_deleted(&mut self) {
        self.deleted = true;
    }

    fn maybe_sync(&mut self) -> Result<()> {
        let due = match self.fsync {
            FsyncPolicy::Always => true,
            FsyncPolicy::Interval(ms) => self.last_sync.elapsed().as_millis() as u64 >= ms,
            FsyncPolicy::Never => false,
        };
        if due {
            self.active().sync()?;
            self.last_sync = Instant::now();
        }
        Ok(())
    }

    /// Force everything written so far to disk and write the active segment's indexes.
    pub fn flush(&mut self) -> Result<()> {
        let active = self.active();
        active.sync()?;
        active.write_indexes()?;
        self.last_sync = Instant::now();
        Ok(())
    }

    fn check_range(&self, offset: u64) -> Result<()> {
        if offset < self.earliest() || offset > self.latest() {
            return Err(LogError::OffsetOutOfRange {
                topic: self.topic.clone(),
                partition: self.id,
                offset,
                earliest: self.earliest(),
                latest: self.latest(),
            });
        }
        Ok(())
    }

    /// Records from `offset` on, at most `max_records`, stopping after about `max_bytes`
    /// (at least one batch is returned when there is data).
    pub fn read(&self, offset: u64, max_records: usize, max_bytes: usize) -> Result<Vec<Record>> {
        self.check_range(offset)?;
        // Allocate the result once: growing it from empty costs more than decoding.
        let lag = usize::try_from(self.latest() - offset).unwrap_or(usize::MAX);
        let mut out = Vec::with_capacity(max_records.min(lag).min(1 << 16));
        self.read_into(offset, max_records, max_bytes, &mut out)?;
        Ok(out)
    }

    /// Show the records `read` would return to `each`, borrowed from the read buffer,
    /// until it breaks. Returns how many it was shown.
    pub fn read_each(
        &self,
        offset: u64,
        max_records: usize,
        max_bytes: usize,
        each: &mut dyn FnMut(RecordView<'_>) -> ControlFlow<()>,
    ) -> Result<usize> {
        self.check_range(offset)?;
        let tally = self.read_into(offset, max_records, max_bytes, &mut VisitRecords(each))?;
        Ok(tally.records)
    }

    fn read_into(
        &self,
        offset: u64,
        max_records: usize,
        max_bytes: usize,
        sink: &mut dyn RecordSink,
    ) -> Result<ReadTally> {
        let mut total = ReadTally::default();
        if max_records == 0 {
            return Ok(total);
        }
        let mut i = self
            .segments
            .partition_point(|s| s.base_offset <= offset)
            .saturating_sub(1);
        let mut from = offset;
        // The byte limit is soft: the first batch with data is returned whatever its size
        // (even with `max_bytes == 0`), so that a reader can always make progress.
        while i < self.segments.len()
            && total.records < max_records
            && (total.bytes < max_bytes || total.records == 0)
            && !total.stopped
        {
            let seg = &self.segments[i];
            let t = seg.read(
                from,
                max_records - total.records,
                max_bytes.saturating_sub(total.bytes),
                sink,
            )?;
            total.records += t.records;
            total.bytes += t.bytes;
            total.stopped = t.stopped;
            from = from.max(seg.next_offset);
            i += 1;
        }
        Ok(total)
    }

    /// The first offset with append time `>= time`, or `None` if every record is older.
    pub fn offset_for_time(&self, time: i64) -> Result<Option<u64>> {
        for seg in &self.segments {
            if let Some(o) = seg.offset_for_time(time)? {
                return Ok(Some(o));
            }
        }
        Ok(None)
    }

    /// Delete closed segments beyond the topic's retention.
    pub fn enforce_retention(&mut self, now: i64) -> Result<RetentionStats> {
        let mut stats = RetentionStats::default();
        let mut total = self.size_bytes();
        while self.segments.len() > 1 {
            let oldest = &self.segments[0];
            let by_time = self
                .config
                .retention_ms
                .is_some_and(|ms| oldest.max_append_time < now.saturating_sub(ms as i64));
            let by_bytes = self
                .config
                .retention_bytes
                .is_some_and(|limit| total.saturating_sub(oldest.size) >= limit);
            if !(by_time || by_bytes) {
                break;
            }
            let seg = self.segments.remove(0);
            total -= seg.size;
            stats.segments_deleted += 1;
            stats.bytes_deleted += seg.size;
            self.dirty_bytes = self.dirty_bytes.saturating_sub(seg.size);
            seg.delete()?;
        }
        Ok(stats)
    }

    fn should_compact(&self) -> bool {
        let closed: u64 = self.segments[..self.segments.len() - 1]
            .iter()
            .map(|s| s.size)
            .sum();
        // Kafka's min.cleanable.dirty.ratio of 0.5.
        closed > 0 && self.dirty_bytes * 2 >= closed
    }

    /// Keep only the latest record of each key in the closed segments; drop tombstones
    /// older than `delete_retention_ms`. Offsets of kept records never change.
    pub fn compact(&mut self, now: i64) -> Result<CompactionStats> {
        let mut stats = CompactionStats::default();
        if self.segments.len() < 2 {
            return Ok(stats);
        }
        // Pass 1: the latest offset of every key, over the whole partition (a record in
        // the active segment supersedes older ones in closed segments too).
        let mut latest: HashMap<Bytes, u64> = HashMap::new();
        let mut records = Vec::new();
        for seg in &self.segments {
            for item in seg.batches() {
                let b = item.map_err(|e| LogError::Corrupt {
                    file: seg.log_path(),
                    position: e.position,
                    reason: e.reason,
                })?;
                records.clear();
                record::decode_records(&b.header, &b.bytes, 0, &mut records).map_err(|reason| {
                    LogError::Corrupt {
                        file: seg.log_path(),
                        position: b.position,
                        reason,
                    }
                })?;
                for r in &records {
                    if let Some(k) = &r.key {
                        latest.insert(k.clone(), r.offset);
                    }
                }
            }
        }
        // Pass 2: rewrite each closed segment with only what survives.
        let tombstone_horizon = now.saturating_sub(self.config.delete_retention_ms as i64);
        let closed = self.segments.len() - 1;
        let mut kept_segments = Vec::with_capacity(self.segments.len());
        let old: Vec<Segment> = self.segments.drain(..closed).collect();
        for seg in old {
            let is_first = kept_segments.is_empty();
            let (new_seg, s) = self.rewrite_segment(seg, is_first, &latest, tombstone_horizon)?;
            stats.records_before += s.records_before;
            stats.records_after += s.records_after;
            stats.bytes_before += s.bytes_before;
            stats.bytes_after += s.bytes_after;
            match new_seg {
                Some(seg) => kept_segments.push(seg),
                None => stats.segments_deleted += 1,
            }
        }
        kept_segments.append(&mut self.segments);
        // The first segment's base offset is the log start offset: keep it even when
        // compaction emptied it, so that compaction never moves the earliest offset.
        self.segments = kept_segments;
        self.dirty_bytes = 0;
        Ok(stats)
    }

    fn rewrite_segment(
        &self,
        seg: Segment,
        is_first: bool,
        latest: &HashMap<Bytes, u64>,
        tombstone_horizon: i64,
    ) -> Result<(Option<Segment>, CompactionStats)> {
        let mut stats = CompactionStats {
            bytes_before: seg.size,
            ..CompactionStats::default()
        };
        let cleaned_path = seg.log_path().with_extension("log.cleaned");
        let mut out = Vec::new();
        let mut buf = Vec::new();
        let mut records = Vec::new();
        for item in seg.batches() {
            let b = item.map_err(|e| LogError::Corrupt {
                file: seg.log_path(),
                position: e.position,
                reason: e.reason,
            })?;
            records.clear();
            record::decode_records(&b.header, &b.bytes, 0, &mut records).map_err(|reason| {
                LogError::Corrupt {
                    file: seg.log_path(),
                    position: b.position,
                    reason,
                }
            })?;
            stats.records_before += records.len() as u64;
            records.retain(|r| {
                let key = r.key.as_ref().expect("compacted topics hold keyed records");
                let is_latest = latest.get(key) == Some(&r.offset);
                let expired_tombstone = r.value.is_none() && r.append_time < tombstone_horizon;
                is_latest && !expired_tombstone
            });
            if records.is_empty() {
                continue;
            }
            stats.records_after += records.len() as u64;
            record::encode_batch(
                &mut buf,
                records[0].offset,
                b.header.append_time,
                records.iter().map(RecordRef::from),
            );
            out.extend_from_slice(&buf);
        }
        stats.bytes_after = out.len() as u64;
        let dir = seg.dir.clone();
        let base = seg.base_offset;
        if out.is_empty() && !is_first {
            seg.delete()?;
            return Ok((None, stats));
        }
        if stats.records_after == stats.records_before {
            return Ok((Some(seg), stats));
        }
        fs::write(&cleaned_path, &out).ctx(|| format!("write {}", cleaned_path.display()))?;
        fs::File::open(&cleaned_path)
            .and_then(|f| f.sync_all())
            .ctx(|| format!("sync {}", cleaned_path.display()))?;
        // Remove the old indexes first: a crash between the two renames then finds a
        // missing index, which is rebuilt on open.
        let log_path = seg.log_path();
        seg.delete_indexes()?;
        drop(seg);
        fs::rename(&cleaned_path, &log_path).ctx(|| format!("replace {}", log_path.display()))?;
        sync_dir(&dir).ctx(|| format!("sync directory {}", dir.display()))?;
        let (new_seg, issue) = Segment::open_closed(&dir, base, self.config.index_interval_bytes)?;
        debug_assert!(matches!(
            issue,
            None | Some(SegmentIssue::RebuiltIndex { .. })
        ));
        Ok((Some(new_seg), stats))
    }
}

impl Drop for Partition {
    fn drop(&mut self) {
        if self.deleted {
            return;
        }
        let result = if self.fsync == FsyncPolicy::Never {
            self.active().write_indexes()
        } else {
            self.flush()
        };
        if let Err(e) = result {
            tracing::warn!(topic = %self.topic, partition = self.id, "closing partition: {e}");
        }
    }
}
