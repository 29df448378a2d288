//! One partition: an ordered list of segments, the last of which takes appends.

use std::collections::HashMap;
use std::fs::{self, File};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use parking_lot::Mutex;

use crate::buffers::ReadBuffers;
use crate::config::{FsyncPolicy, TopicConfig};
use crate::durable::sync_dir;
use crate::error::{IoContext, LogError, Result};
use crate::group_commit::{GroupCommit, Pending, SyncStats};
use crate::load::{FileId, file_id};
use crate::lost::LostRange;
use crate::manifest::{ClosedEntry, LostEntry, Manifest, manifest_path};
use crate::read::{Collector, Fetched, Gap};
use crate::record::{self, NewRecord, RecordRef};
use crate::recover::{self, normalize};
use crate::segment::{Segment, SegmentIssue, delete_indexes};

mod follow;

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

/// An append written to its segment. Under [`FsyncPolicy::Always`] it is not yet known to
/// be on disk: [`Written::durable`] waits for a sync that covers it.
#[derive(Debug)]
#[must_use = "an append under `FsyncPolicy::Always` is durable only once `durable` returned"]
pub(crate) struct Written {
    appended: Appended,
    pending: Option<Pending>,
}

impl Written {
    /// Under [`FsyncPolicy::Always`], wait until a sync that covers the append has
    /// finished (see `group_commit`); under the other policies, return at once. Call it
    /// with no lock of the partition held, so that other appends can join the sync.
    pub fn durable(self) -> Result<Appended> {
        if let Some(pending) = self.pending {
            pending.wait()?;
        }
        Ok(self.appended)
    }
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
    /// Appended to since the indexes and the manifest were last written: they are
    /// written when the partition is flushed or closed (and only then).
    dirty: bool,
    /// Offset ranges lost to damage found when the partition was opened (or recorded
    /// before), sorted, not overlapping.
    lost: Vec<LostRange>,
    /// Lost ranges readers found in closed segments since (a batch that fails its CRC
    /// where the indexes gave no sign of damage), recorded at the next manifest write.
    found: Mutex<Vec<LostRange>>,
    /// The partition directory, open: its `flock` is the partition's writer lock, taken
    /// around every write by any process (see `follow`).
    dir_lock: File,
    /// The directory's inode: a topic deleted (and maybe created again) by another
    /// process has another one, or none.
    dir_ino: u64,
    /// The manifest's identity when this process last read or wrote it.
    manifest_id: Option<FileId>,
    /// The manifest's path.
    manifest_path: PathBuf,
    /// The active segment file's length when this process last looked at it.
    seen_len: u64,
    /// Closed: what closing writes is written.
    closed: bool,
    /// The buffers fetches read into, taken back once their records are dropped.
    read_buffers: Arc<ReadBuffers>,
    /// Under [`FsyncPolicy::Always`], the syncs that appends wait for.
    commit: Arc<GroupCommit>,
}

impl Partition {
    /// Open (or create) the partition in `dir`. When its writer lock is free, the
    /// opener recovers it if it needs recovery (see `load` and `recover`); else another
    /// process is writing it, and the opener loads what is sound and leaves recovery to
    /// that writer.
    pub fn open(
        topic: &str,
        id: u32,
        dir: PathBuf,
        config: Arc<TopicConfig>,
        fsync: FsyncPolicy,
        read_buffers: Arc<ReadBuffers>,
        issues: &mut Vec<SegmentIssue>,
    ) -> Result<Partition> {
        use std::os::unix::fs::MetadataExt;
        fs::create_dir_all(&dir).ctx(|| format!("create {}", dir.display()))?;
        let dir_lock = File::open(&dir).ctx(|| format!("open {}", dir.display()))?;
        let dir_ino = dir_lock
            .metadata()
            .ctx(|| format!("stat {}", dir.display()))?
            .ino();
        let writer = match dir_lock.try_lock() {
            Ok(()) => true,
            Err(fs::TryLockError::WouldBlock) => false,
            Err(fs::TryLockError::Error(e)) => {
                return Err(LogError::Io {
                    context: format!("lock {}", dir.display()),
                    source: e,
                });
            }
        };
        let manifest_file = manifest_path(&dir);
        let mut p = Partition {
            topic: topic.to_owned(),
            id,
            dir,
            config,
            fsync,
            segments: Vec::new(),
            last_append_time: i64::MIN,
            last_sync: Instant::now(),
            dirty_bytes: 0,
            buf: Vec::new(),
            deleted: false,
            dirty: false,
            lost: Vec::new(),
            found: Mutex::new(Vec::new()),
            dir_lock,
            dir_ino,
            manifest_id: None,
            manifest_path: manifest_file,
            seen_len: 0,
            closed: false,
            read_buffers,
            commit: Arc::default(),
        };
        let loaded = p.load_files(writer, issues);
        if writer && let Err(e) = p.dir_lock.unlock() {
            tracing::warn!("unlocking {}: {e}", p.dir.display());
        }
        loaded?;
        p.dirty_bytes = p.segments[..p.segments.len() - 1]
            .iter()
            .map(|s| s.size)
            .sum();
        for l in &p.lost {
            tracing::warn!(topic = %p.topic, partition = p.id, "{l}");
        }
        Ok(p)
    }

    /// What the manifest records of the partition as it is now.
    fn manifest(&self) -> Manifest {
        let n = self.segments.len();
        let lost = normalize(
            self.lost
                .iter()
                .chain(self.found.lock().iter())
                .cloned()
                .collect(),
        );
        Manifest {
            start: self.earliest(),
            closed: self.segments[..n - 1]
                .iter()
                .map(|s| ClosedEntry {
                    base: s.base_offset,
                    next: s.next_offset,
                    bytes: s.size,
                })
                .collect(),
            active: self.active().base_offset,
            end: self.latest(),
            lost: lost
                .into_iter()
                .map(|l| LostEntry {
                    first: l.first,
                    end: l.end,
                    reason: l.reason,
                })
                .collect(),
        }
    }

    /// Cut out of their segments the damaged batches readers found since open (as
    /// recovery does at open: bytes kept in the quarantine file), and record the loss in
    /// the manifest. Damage in the active segment is cut by recovering the partition.
    fn repair_found(&mut self) -> Result<()> {
        let found = std::mem::take(&mut *self.found.lock());
        if found.is_empty() {
            return Ok(());
        }
        let mut lost = std::mem::take(&mut self.lost);
        lost.extend(found.iter().cloned());
        for i in 0..self.segments.len() - 1 {
            let seg = &self.segments[i];
            let (base, next) = (seg.base_offset, seg.next_offset);
            if !found.iter().any(|f| base <= f.first && f.first < next) {
                continue;
            }
            let seg = self.segments.remove(i);
            let (seg, cut, issues) = recover::repair_closed(&self.dir, &self.config, seg)?;
            for issue in issues {
                tracing::warn!(topic = %self.topic, partition = self.id, "repaired: {issue:?}");
            }
            lost.extend(cut);
            self.segments.insert(i, seg);
        }
        self.lost = normalize(lost);
        self.write_manifest()?;
        let active = self.active().base_offset;
        if found.iter().any(|f| f.end > active) {
            // Recovered as at open, now that the manifest records what was appended.
            let mut issues = Vec::new();
            self.recover_files(&mut issues)?;
            for issue in issues {
                tracing::warn!(topic = %self.topic, partition = self.id, "repaired: {issue}");
            }
        }
        Ok(())
    }

    /// Write the partition's manifest (see `manifest`).
    fn write_manifest(&mut self) -> Result<()> {
        self.manifest().write(&self.dir)?;
        self.manifest_id = file_id(&self.manifest_path)?;
        Ok(())
    }

    /// The offset ranges lost to damage, known at open and found by readers since.
    pub fn lost_ranges(&self) -> Vec<LostRange> {
        normalize(
            self.lost
                .iter()
                .chain(self.found.lock().iter())
                .cloned()
                .collect(),
        )
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

    /// The first offset still in the log (lost ones included: a reader from the start
    /// meets them instead of silently starting after them).
    pub fn earliest(&self) -> u64 {
        let base = self.segments[0].base_offset;
        self.lost.first().map_or(base, |l| l.first.min(base))
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
    /// validation error) none is. Runs under the writer lock, after what other processes
    /// appended. Under [`FsyncPolicy::Always`] the caller waits for the sync with
    /// [`Written::durable`] once it released the partition's lock.
    pub fn append(&mut self, records: &[NewRecord], now: i64) -> Result<Written> {
        self.write_locked(|p| p.append_now(records, now))
    }

    /// What the syncs of durable appends did so far.
    pub fn sync_stats(&self) -> SyncStats {
        self.commit.stats()
    }

    /// The partition's group commit, for tests to look at.
    #[cfg(test)]
    pub fn group_commit(&self) -> &Arc<GroupCommit> {
        &self.commit
    }

    fn append_now(&mut self, records: &[NewRecord], now: i64) -> Result<Written> {
        if records.is_empty() {
            return Err(LogError::InvalidConfig("nothing to append".into()));
        }
        let max = self.config.max_record_bytes as usize;
        let mut total = record::BATCH_HEADER_LEN;
        for r in records {
            let size = r.encoded_len();
            if size > max {
                return Err(LogError::RecordTooLarge { size, max });
            }
            if self.config.compact && r.key.is_none() {
                return Err(LogError::KeyRequired(self.topic.clone()));
            }
            total += size;
        }
        let append_time = now.max(self.last_append_time);
        let base_offset = self.latest();
        if total <= MAX_BATCH_BYTES {
            self.append_batch(records, append_time)?;
        } else {
            self.append_split(records, append_time)?;
        }
        self.last_append_time = append_time;
        self.dirty = true;
        self.seen_len = self.active().size;
        // Every byte of the append is in the active segment's file: a roll in between
        // synced the earlier ones (under a syncing policy).
        let pending = if self.fsync == FsyncPolicy::Always {
            let active = self.active();
            let end = active.next_offset;
            Some(
                self.commit
                    .written(active.file_handle(), active.log_file(), end),
            )
        } else {
            self.maybe_sync()?;
            None
        };
        Ok(Written {
            appended: Appended {
                base_offset,
                last_offset: self.latest() - 1,
                append_time,
            },
            pending,
        })
    }

    /// Append `records` as several batches, each cut at [`MAX_BATCH_BYTES`].
    fn append_split(&mut self, records: &[NewRecord], append_time: i64) -> Result<()> {
        let mut start = 0;
        while start < records.len() {
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
        Ok(())
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
        self.seen_len = 0;
        if self.fsync != FsyncPolicy::Never {
            sync_dir(&self.dir).ctx(|| format!("sync directory {}", self.dir.display()))?;
        }
        self.write_manifest()?;
        self.dirty = false;
        self.enforce_retention_now(now)?;
        if self.config.compact && self.should_compact() {
            self.compact_now(now)?;
        }
        Ok(())
    }

    /// Roll now if the active segment holds anything.
    pub fn force_roll(&mut self, now: i64) -> Result<()> {
        self.write_locked(|p| {
            if p.active().is_empty() {
                return Ok(());
            }
            p.roll(now.max(p.last_append_time))
        })
    }

    pub fn mark_deleted(&mut self) {
        self.deleted = true;
    }

    /// Under [`FsyncPolicy::Interval`], sync the active segment when the last sync is
    /// older than the interval (under `Always` the appends' group commit syncs instead).
    fn maybe_sync(&mut self) -> Result<()> {
        let due = match self.fsync {
            FsyncPolicy::Interval(ms) => self.last_sync.elapsed().as_millis() as u64 >= ms,
            FsyncPolicy::Always | FsyncPolicy::Never => false,
        };
        if due {
            self.active().sync()?;
            self.last_sync = Instant::now();
        }
        Ok(())
    }

    /// Force everything appended since the last flush to disk, and write the active
    /// segment's indexes and the manifest; a partition with no new appends writes
    /// nothing.
    pub fn flush(&mut self) -> Result<()> {
        if !self.dirty {
            return Ok(());
        }
        self.write_locked(Self::flush_now)
    }

    fn flush_now(&mut self) -> Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let active = self.active();
        active.sync()?;
        active.write_indexes()?;
        self.write_manifest()?;
        self.last_sync = Instant::now();
        self.dirty = false;
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

    /// The batches holding the records from `offset` on — at most `max_records`, about
    /// `max_bytes` (at least one batch when there is data) — to be decoded once the
    /// caller has released the partition's lock, and the lost ranges stepped over.
    ///
    /// A read never crosses a lost range: it stops before one, and one starting at
    /// `offset` is [`LogError::LostOffsets`], unless `accept_gaps`, when it is stepped
    /// over (and returned).
    pub fn collect(
        &self,
        offset: u64,
        max_records: usize,
        max_bytes: usize,
        accept_gaps: bool,
    ) -> Result<(Fetched, Vec<Gap>)> {
        self.check_range(offset)?;
        let mut c = Collector::new(max_records, max_bytes, accept_gaps);
        let mut from = offset;
        let mut i = self.segment_index(offset);
        while max_records > 0 && i < self.segments.len() && !c.full() {
            if let Some(g) = self.lost_at(from) {
                if !accept_gaps {
                    if c.batches.is_empty() {
                        return Err(self.lost_error(g));
                    }
                    break;
                }
                c.skipped.push(g);
                from = g.end;
                i = self.segment_index(from);
                continue;
            }
            c.until = self.next_lost_after(from).map_or(u64::MAX, |g| g.first);
            let seg = &self.segments[i];
            if let Some(d) = seg.collect(from, &mut c, &self.read_buffers)? {
                self.note_found(
                    d.gap,
                    &format!(
                        "{} at byte {} of {}",
                        d.reason,
                        d.position,
                        seg.log_path().display()
                    ),
                );
                if c.batches.is_empty() {
                    return Err(self.lost_error(d.gap));
                }
                break;
            }
            let seg_end = seg.next_offset.max(from);
            if c.until < seg_end {
                // A lost range inside this segment: the next round meets it.
                from = c.until.max(from);
                continue;
            }
            from = seg_end;
            i += 1;
        }
        for g in &c.skipped {
            self.note_found(*g, "damage found by a reader");
        }
        let until = if accept_gaps {
            u64::MAX
        } else {
            self.next_lost_after(offset).map_or(u64::MAX, |g| g.first)
        };
        let fetched = Fetched {
            dir: self.dir.clone(),
            from: offset,
            until,
            max_records,
            batches: c.batches,
        };
        Ok((fetched, c.skipped))
    }

    /// The segment that holds `offset` (or the first one after it).
    fn segment_index(&self, offset: u64) -> usize {
        self.segments
            .partition_point(|s| s.base_offset <= offset)
            .saturating_sub(1)
    }

    /// The lost range holding `offset`, if any.
    fn lost_at(&self, offset: u64) -> Option<Gap> {
        let hit = |l: &LostRange| {
            (l.first <= offset && offset < l.end).then_some(Gap {
                first: l.first,
                end: l.end,
            })
        };
        self.lost
            .iter()
            .find_map(hit)
            .or_else(|| self.found.lock().iter().find_map(hit))
    }

    /// The first lost range that starts after `offset`.
    fn next_lost_after(&self, offset: u64) -> Option<Gap> {
        let found = self.found.lock();
        self.lost
            .iter()
            .chain(found.iter())
            .filter(|l| l.first > offset)
            .min_by_key(|l| l.first)
            .map(|l| Gap {
                first: l.first,
                end: l.end,
            })
    }

    /// Remember a lost range a reader met that was not known.
    fn note_found(&self, gap: Gap, reason: &str) {
        if self
            .lost
            .iter()
            .any(|l| l.first <= gap.first && gap.end <= l.end)
        {
            return;
        }
        let mut found = self.found.lock();
        if found
            .iter()
            .any(|l| l.first <= gap.first && gap.end <= l.end)
        {
            return;
        }
        tracing::warn!(topic = %self.topic, partition = self.id, "offsets {}..{} lost: {reason}", gap.first, gap.end);
        found.push(LostRange {
            first: gap.first,
            end: gap.end,
            reason: reason.to_owned(),
        });
        let merged = normalize(std::mem::take(&mut *found));
        *found = merged;
    }

    fn lost_error(&self, g: Gap) -> LogError {
        LogError::LostOffsets {
            topic: self.topic.clone(),
            partition: self.id,
            first: g.first,
            end: g.end,
        }
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

    /// Delete closed segments beyond the topic's retention. The manifest records the
    /// new start first, so that a crash halfway leaves files it no longer lists (removed
    /// at the next open), never a shorter log it takes for damage.
    pub fn enforce_retention(&mut self, now: i64) -> Result<RetentionStats> {
        self.write_locked(|p| p.enforce_retention_now(now))
    }

    fn enforce_retention_now(&mut self, now: i64) -> Result<RetentionStats> {
        let mut stats = RetentionStats::default();
        let mut total = self.size_bytes();
        let mut count = 0;
        while count + 1 < self.segments.len() {
            let oldest = &self.segments[count];
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
            total -= oldest.size;
            count += 1;
        }
        if count == 0 {
            return Ok(stats);
        }
        let deleted: Vec<Segment> = self.segments.drain(..count).collect();
        let start = self.segments[0].base_offset;
        self.lost.retain(|l| l.end > start);
        self.found.lock().retain(|l| l.end > start);
        self.write_manifest()?;
        for seg in deleted {
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
    ///
    /// The compacted segments are written beside the originals (`.log.cleaned`,
    /// fsynced), then the manifest records the result (the commit point: a crash before
    /// it keeps the originals, one after it puts the compacted files in place at the
    /// next open), then the files are swapped.
    pub fn compact(&mut self, now: i64) -> Result<CompactionStats> {
        self.write_locked(|p| p.compact_now(now))
    }

    fn compact_now(&mut self, now: i64) -> Result<CompactionStats> {
        let mut stats = CompactionStats::default();
        if self.segments.len() < 2 {
            return Ok(stats);
        }
        let latest = self.latest_per_key()?;
        let tombstone_horizon = now.saturating_sub(self.config.delete_retention_ms as i64);
        let closed = self.segments.len() - 1;
        let mut plans = Vec::with_capacity(closed);
        for (i, seg) in self.segments[..closed].iter().enumerate() {
            let (plan, s) = self.plan_segment(seg, i == 0, &latest, tombstone_horizon)?;
            stats.records_before += s.records_before;
            stats.records_after += s.records_after;
            stats.bytes_before += s.bytes_before;
            stats.bytes_after += s.bytes_after;
            plans.push(plan);
        }
        if plans.iter().all(|p| matches!(p, Plan::Keep)) {
            self.dirty_bytes = 0;
            return Ok(stats);
        }
        self.commit_compaction(plans, &mut stats)?;
        self.dirty_bytes = 0;
        Ok(stats)
    }

    /// Pass 1 of compaction: the latest offset of every key, over the whole partition (a
    /// record in the active segment supersedes older ones in closed segments too).
    fn latest_per_key(&self) -> Result<HashMap<Bytes, u64>> {
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
        Ok(latest)
    }

    /// Pass 2 of compaction for one closed segment: what becomes of it, its compacted
    /// version written beside it when it changes.
    fn plan_segment(
        &self,
        seg: &Segment,
        is_first: bool,
        latest: &HashMap<Bytes, u64>,
        tombstone_horizon: i64,
    ) -> Result<(Plan, CompactionStats)> {
        let mut stats = CompactionStats {
            bytes_before: seg.size,
            ..CompactionStats::default()
        };
        let mut out = Vec::new();
        let mut buf = Vec::new();
        let mut records = Vec::new();
        let mut next = seg.base_offset;
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
            let Some(last) = records.last() else {
                continue;
            };
            next = last.offset + 1;
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
        if out.is_empty() && !is_first {
            return Ok((Plan::Delete, stats));
        }
        if stats.records_after == stats.records_before {
            return Ok((Plan::Keep, stats));
        }
        let cleaned = seg.log_path().with_extension("log.cleaned");
        fs::write(&cleaned, &out).ctx(|| format!("write {}", cleaned.display()))?;
        fs::File::open(&cleaned)
            .and_then(|f| f.sync_all())
            .ctx(|| format!("sync {}", cleaned.display()))?;
        let plan = Plan::Replace {
            cleaned,
            next,
            bytes: out.len() as u64,
        };
        Ok((plan, stats))
    }

    /// Record the compaction's result in the manifest, then put it in place.
    fn commit_compaction(&mut self, plans: Vec<Plan>, stats: &mut CompactionStats) -> Result<()> {
        let mut manifest = self.manifest();
        manifest.closed = self
            .segments
            .iter()
            .zip(&plans)
            .filter_map(|(seg, plan)| match plan {
                Plan::Keep => Some(ClosedEntry {
                    base: seg.base_offset,
                    next: seg.next_offset,
                    bytes: seg.size,
                }),
                Plan::Delete => None,
                Plan::Replace { next, bytes, .. } => Some(ClosedEntry {
                    base: seg.base_offset,
                    next: *next,
                    bytes: *bytes,
                }),
            })
            .collect();
        manifest.write(&self.dir)?;
        self.manifest_id = file_id(&self.manifest_path)?;
        let closed = plans.len();
        let old: Vec<Segment> = self.segments.drain(..closed).collect();
        let mut kept = Vec::with_capacity(self.segments.len() + closed);
        for (seg, plan) in old.into_iter().zip(plans) {
            match plan {
                Plan::Keep => kept.push(seg),
                Plan::Delete => {
                    stats.segments_deleted += 1;
                    seg.delete()?;
                }
                Plan::Replace { cleaned, .. } => {
                    // Remove the old indexes first: a crash between the two renames then
                    // finds a missing index, which is rebuilt on open.
                    let (dir, base, log_path) = (seg.dir.clone(), seg.base_offset, seg.log_path());
                    delete_indexes(&dir, base)?;
                    drop(seg);
                    fs::rename(&cleaned, &log_path)
                        .ctx(|| format!("replace {}", log_path.display()))?;
                    sync_dir(&dir).ctx(|| format!("sync directory {}", dir.display()))?;
                    kept.push(Segment::open_rebuilt(
                        &dir,
                        base,
                        self.config.index_interval_bytes,
                    )?);
                }
            }
        }
        kept.append(&mut self.segments);
        // The first segment's base offset is the log start offset: it is kept even when
        // compaction emptied it, so that compaction never moves the earliest offset.
        self.segments = kept;
        Ok(())
    }
}

/// What compaction does with one closed segment.
#[derive(Debug)]
enum Plan {
    /// Nothing removed: it stays as it is.
    Keep,
    /// Nothing kept (and it is not the first): it goes.
    Delete,
    /// Replaced by its compacted version, written at `cleaned`.
    Replace {
        cleaned: PathBuf,
        next: u64,
        bytes: u64,
    },
}

impl Drop for Partition {
    fn drop(&mut self) {
        self.close();
    }
}
