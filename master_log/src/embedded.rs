//! The embedded engine: the default [`Log`], in this process, on local files.
//!
//! ```text
//!  DATA/
//!    .lock                       held (flock, shared) by each process with the log open
//!    topics/NAME/topic.json      the topic's configuration, checksummed (`topic_meta`)
//!    topics/NAME/0/…             partition 0's segments (see `segment`), its manifest
//!                                (`manifest`) and quarantine file (`quarantine`)
//!    topics/__consumer_offsets/  committed offsets, a compacted internal topic
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use bytes::Bytes;
use event_listener::{Event, EventListener};
use parking_lot::{Mutex, RwLock};

use crate::buffers::ReadBuffers;
use crate::clock::now_ms;
use crate::config::{INTERNAL_PREFIX, LogOptions, TopicConfig, validate_name};
use crate::durable::sync_dir;
use crate::error::{IoContext, LogError, Result};
use crate::group::Coordinator;
use crate::group_commit::SyncStats;
use crate::log::{
    AssignmentStrategy, FetchLimits, GroupMembership, Log, LostRange, PartitionInfo, SkippedGap,
    TopicDescription, TopicInfo, split_for_produce,
};
use crate::partition::{Appended, CompactionStats, Partition, RetentionStats};
use crate::partitioner::partition_for_key;
use crate::read::Fetched;
use crate::record::{NewRecord, Record, RecordView};
use crate::segment::SegmentIssue;
use crate::topic_meta::TOPIC_META;

mod shared;

use shared::Committed;

/// The internal topic of committed offsets.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

#[derive(Debug)]
pub(crate) struct TopicState {
    pub name: String,
    pub config: Arc<TopicConfig>,
    pub partitions: Vec<RwLock<Partition>>,
    /// Fired after every append to any partition (by this process, or seen by the
    /// watcher of other processes' appends).
    pub appended: Event,
    /// A watcher thread follows other processes' appends (started by the first
    /// `listen`).
    pub watching: AtomicBool,
    /// The log was closed: the watcher stops.
    pub closed: AtomicBool,
}

impl TopicState {
    fn partition(&self, partition: u32) -> Result<&RwLock<Partition>> {
        self.partitions
            .get(partition as usize)
            .ok_or_else(|| LogError::UnknownPartition {
                topic: self.name.clone(),
                partition,
                partitions: self.config.partitions,
            })
    }
}

#[derive(Debug)]
pub(crate) struct Inner {
    dir: PathBuf,
    options: LogOptions,
    topics: RwLock<BTreeMap<String, Arc<TopicState>>>,
    /// Committed offsets, as read from the offsets topic.
    committed: Mutex<Committed>,
    coordinator: Arc<Coordinator>,
    issues: Vec<SegmentIssue>,
    /// Lost ranges readers stepped over (with `accept_gaps`).
    skipped: Mutex<BTreeSet<SkippedGap>>,
    /// The topics directory, open: its lock is held while a topic is created or deleted.
    topics_lock: File,
    _lock: File,
}

impl Drop for Inner {
    /// Close every partition here, in the thread that drops the log (not in a watcher
    /// thread that happens to hold a topic at that moment).
    fn drop(&mut self) {
        for t in self.topics.get_mut().values() {
            t.closed.store(true, std::sync::atomic::Ordering::Relaxed);
            for p in &t.partitions {
                p.write().close();
            }
        }
    }
}

/// The embedded master log. Cheap to clone; all clones share one open log.
#[derive(Debug, Clone)]
pub struct EmbeddedLog {
    inner: Arc<Inner>,
}

pub(crate) fn topics_dir(dir: &Path) -> PathBuf {
    dir.join("topics")
}

pub(crate) fn read_topic_config(topic_dir: &Path) -> Result<TopicConfig> {
    crate::topic_meta::read(topic_dir)
}

/// Whether a topic directory without metadata holds records: then its `topic.json` was
/// lost, and the directory is not a leftover of an interrupted create (whose segments
/// are all empty) to be cleared.
pub(crate) fn holds_records(topic_dir: &Path) -> Result<bool> {
    let Ok(partitions) = fs::read_dir(topic_dir) else {
        return Ok(false);
    };
    for p in partitions {
        let p = p.ctx(|| format!("list {}", topic_dir.display()))?;
        let Ok(files) = fs::read_dir(p.path()) else {
            continue;
        };
        for f in files {
            let f = f.ctx(|| format!("list {}", p.path().display()))?;
            let name = f.file_name();
            let meta = f
                .metadata()
                .ctx(|| format!("stat {}", f.path().display()))?;
            if crate::segment::parse_segment_name(&name.to_string_lossy()).is_some()
                && meta.len() > 0
            {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// The error for a topic directory that holds records but no metadata.
fn metadata_missing(topic_dir: &Path) -> LogError {
    LogError::Metadata {
        file: topic_dir.join(TOPIC_META),
        reason: "missing, but the topic's segments hold records (restore the file, or move \
                 the directory away to drop the topic)"
            .into(),
    }
}

impl EmbeddedLog {
    /// Open the log in `dir` (created if missing) with default options.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(dir, LogOptions::default())
    }

    /// Open the log in `dir` beside any other process that has it open (see the crate
    /// docs). A partition its last writer closed cleanly is loaded from its index files;
    /// any other is recovered when its writer lock is free: the active segment is
    /// checked batch by batch, damaged batches are cut out alone (their bytes kept in the
    /// partition's quarantine file) and every intact record after them kept, a torn tail
    /// is cut, segments that are missing or shorter than recorded are found, and missing
    /// or damaged indexes are rebuilt. What was found and done is in
    /// [`EmbeddedLog::recovery_issues`] (and logged as warnings); offsets lost are in
    /// [`Log::lost_ranges`] (and [`EmbeddedLog::all_lost_ranges`]). A clean data
    /// directory is opened without writing anything (its lock file is created if
    /// missing).
    ///
    /// Fails with [`LogError::Metadata`] when a topic's `topic.json` is damaged, or
    /// missing while its segments hold records (nothing of the topic is changed).
    pub fn open_with(dir: impl AsRef<Path>, options: LogOptions) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let lock = crate::locks::lock_data_dir(&dir)?;
        let tdir = topics_dir(&dir);
        fs::create_dir_all(&tdir).ctx(|| format!("create {}", tdir.display()))?;
        let topics_lock = crate::locks::open_dir(&tdir)?;
        if crate::locks::try_lock_exclusive(&topics_lock, &tdir)? {
            // No create or delete runs in another process: what they left is leftovers.
            let cleared = shared::clear_leftovers(&dir);
            crate::locks::unlock(&topics_lock, &tdir);
            cleared?;
        }
        let mut issues = Vec::new();
        let mut topics = BTreeMap::new();
        for name in shared::topic_names(&tdir)? {
            let config = read_topic_config(&tdir.join(&name))?;
            let state = open_topic(&tdir, &name, config, &options, &mut issues)?;
            topics.insert(name, Arc::new(state));
        }
        for issue in &issues {
            tracing::warn!("recovery: {issue}");
        }
        let log = EmbeddedLog {
            inner: Arc::new(Inner {
                dir,
                options,
                topics: RwLock::new(topics),
                committed: Mutex::new(Committed::default()),
                coordinator: Arc::default(),
                issues,
                skipped: Mutex::new(BTreeSet::new()),
                topics_lock,
                _lock: lock,
            }),
        };
        log.load_committed_offsets()?;
        Ok(log)
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// What recovery found and did when the log was opened.
    pub fn recovery_issues(&self) -> &[SegmentIssue] {
        &self.inner.issues
    }

    /// The offset ranges of every partition of every topic lost to damage, by topic
    /// and partition (partitions without any left out).
    pub fn all_lost_ranges(&self) -> Vec<(String, u32, Vec<LostRange>)> {
        let topics: Vec<Arc<TopicState>> = self.inner.topics.read().values().cloned().collect();
        let mut out = Vec::new();
        for t in topics {
            for (i, p) in t.partitions.iter().enumerate() {
                let lost = p.read().lost_ranges();
                if !lost.is_empty() {
                    out.push((t.name.clone(), i as u32, lost));
                }
            }
        }
        out
    }

    /// Read under the partition's lock only the batches a fetch needs; the caller
    /// decodes them with no lock held.
    fn collect(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        limits: FetchLimits,
    ) -> Result<Fetched> {
        let t = self.topic(topic)?;
        let accept = self.inner.options.accept_gaps;
        let part = t.partition(partition)?;
        if offset >= part.read().latest() {
            // At the end: what another process appended since may be there.
            self.fresh(&t, part)?;
        }
        let (fetched, skipped) = {
            let p = part.read();
            p.collect(offset, limits.max_records, limits.max_bytes, accept)?
        };
        if !skipped.is_empty() {
            let mut all = self.inner.skipped.lock();
            for g in skipped {
                all.insert(SkippedGap {
                    topic: topic.to_owned(),
                    partition,
                    first: g.first,
                    end: g.end,
                });
            }
        }
        Ok(fetched)
    }

    fn topic(&self, name: &str) -> Result<Arc<TopicState>> {
        if let Some(t) = self.inner.topics.read().get(name) {
            return Ok(t.clone());
        }
        // Created by another process since this one looked?
        self.discover(name)?
            .ok_or_else(|| LogError::UnknownTopic(name.to_owned()))
    }

    /// Create a topic: refused before anything is written when its name or
    /// configuration is invalid, the name is taken, or its partitions would not fit
    /// under the open-file limit; a create that fails halfway removes what it wrote.
    fn create(&self, name: &str, config: TopicConfig, internal: bool) -> Result<()> {
        validate_name(name)?;
        if !internal && name.starts_with(INTERNAL_PREFIX) {
            return Err(LogError::InvalidName {
                name: name.to_owned(),
                reason: "names starting with '__' are reserved for the log's internal topics",
            });
        }
        config.validate()?;
        let tdir = topics_dir(&self.inner.dir);
        // No other process creates or deletes a topic meanwhile.
        crate::locks::lock_exclusive(&self.inner.topics_lock, &tdir)?;
        let created = self.create_locked(&tdir, name, config);
        crate::locks::unlock(&self.inner.topics_lock, &tdir);
        created
    }

    fn create_locked(&self, tdir: &Path, name: &str, config: TopicConfig) -> Result<()> {
        let dir = tdir.join(name);
        if self.inner.topics.read().contains_key(name) || dir.join(TOPIC_META).exists() {
            return Err(LogError::TopicExists(name.to_owned()));
        }
        let mut topics = self.inner.topics.write();
        crate::open_files::check(name, u64::from(config.partitions))?;
        if dir.exists() {
            if holds_records(&dir)? {
                return Err(metadata_missing(&dir));
            }
            // A directory without a valid topic.json: left by an interrupted create.
            fs::remove_dir_all(&dir).ctx(|| format!("clear {}", dir.display()))?;
        }
        let made = self.create_files(tdir, name, config);
        match made {
            Ok(state) => {
                topics.insert(name.to_owned(), Arc::new(state));
                Ok(())
            }
            Err(e) => {
                if let Err(cleanup) = fs::remove_dir_all(&dir) {
                    tracing::warn!(
                        "removing {} after a failed create: {cleanup}",
                        dir.display()
                    );
                }
                Err(e)
            }
        }
    }

    /// The files of a new topic: its partitions, then its metadata file, written last
    /// (`Durability::Synced`, and the topics directory fsynced after it): a topic exists
    /// once it is there, and a created topic survives a power cut.
    fn create_files(&self, tdir: &Path, name: &str, config: TopicConfig) -> Result<TopicState> {
        let dir = tdir.join(name);
        fs::create_dir_all(&dir).ctx(|| format!("create {}", dir.display()))?;
        let mut issues = Vec::new();
        let meta = config.clone();
        let state = open_topic(tdir, name, config, &self.inner.options, &mut issues)?;
        crate::topic_meta::write(&dir, &meta)?;
        sync_dir(tdir).ctx(|| format!("sync directory {}", tdir.display()))?;
        Ok(state)
    }

    fn load_committed_offsets(&self) -> Result<()> {
        if self.topic(OFFSETS_TOPIC).is_err() {
            let config = TopicConfig {
                delete_retention_ms: 7 * 24 * 3600 * 1000,
                ..TopicConfig::compacted(self.inner.options.offsets_partitions.max(1))
            };
            match self.create(OFFSETS_TOPIC, config, true) {
                // Another process created it meanwhile.
                Ok(()) | Err(LogError::TopicExists(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let mut committed = self.inner.committed.lock();
        self.sync_committed(&mut committed)
    }

    /// Drop every group's committed offsets for `topic`, durably: tombstones in the offsets
    /// topic, so that they neither come back when the log is reopened nor apply to a new
    /// topic of the same name.
    fn forget_committed_offsets(&self, topic: &str) -> Result<()> {
        let otopic = self.topic(OFFSETS_TOPIC)?;
        let now = now_ms();
        let mut committed = self.inner.committed.lock();
        self.sync_committed(&mut committed)?;
        let mut tombstones: BTreeMap<u32, Vec<NewRecord>> = BTreeMap::new();
        for (g, t, p) in committed.map.keys().filter(|(_, t, _)| t == topic) {
            let op = partition_for_key(g.as_bytes(), otopic.config.partitions);
            tombstones
                .entry(op)
                .or_default()
                .push(NewRecord::tombstone(offset_key(g, t, *p), now));
        }
        for (op, records) in tombstones {
            let written = otopic.partition(op)?.write().append(&records, now)?;
            written.durable()?;
        }
        self.sync_committed(&mut committed)
    }

    /// Delete a topic (the topics directory's lock is held): its partitions' writer
    /// locks are taken and kept, so that no process writes it any more, then its
    /// directory goes to the trash and is removed.
    fn delete_locked(&self, tdir: &Path, name: &str) -> Result<()> {
        let state = self.topic(name)?;
        for (i, p) in state.partitions.iter().enumerate() {
            if let Err(e) = p.write().lock_for_delete() {
                for p in &state.partitions[..i] {
                    p.write().cancel_delete();
                }
                return Err(e);
            }
        }
        self.inner.topics.write().remove(name);
        self.forget_committed_offsets(name)?;
        let dir = tdir.join(name);
        let trash = self.inner.dir.join("trash");
        fs::create_dir_all(&trash).ctx(|| format!("create {}", trash.display()))?;
        let target = trash.join(format!("{name}-{}-{}", now_ms(), std::process::id()));
        fs::rename(&dir, &target).ctx(|| format!("move {} to trash", dir.display()))?;
        fs::remove_dir_all(&target).ctx(|| format!("delete {}", target.display()))?;
        Ok(())
    }

    /// Apply retention to every topic and compaction to compacted ones, now. (Both also
    /// run by themselves whenever a segment rolls.)
    pub fn run_maintenance(&self) -> Result<(RetentionStats, CompactionStats)> {
        let now = now_ms();
        let topics: Vec<Arc<TopicState>> = self.inner.topics.read().values().cloned().collect();
        let mut retention = RetentionStats::default();
        let mut compaction = CompactionStats::default();
        for t in topics {
            for p in &t.partitions {
                let mut p = p.write();
                let r = p.enforce_retention(now)?;
                retention.segments_deleted += r.segments_deleted;
                retention.bytes_deleted += r.bytes_deleted;
                if t.config.compact {
                    let c = p.compact(now)?;
                    compaction.records_before += c.records_before;
                    compaction.records_after += c.records_after;
                    compaction.bytes_before += c.bytes_before;
                    compaction.bytes_after += c.bytes_after;
                    compaction.segments_deleted += c.segments_deleted;
                }
            }
        }
        Ok((retention, compaction))
    }

    /// Roll the active segment of every partition of `topic` (mainly for tests and tools:
    /// retention and compaction act on closed segments only).
    pub fn roll(&self, topic: &str) -> Result<()> {
        let t = self.topic(topic)?;
        for p in &t.partitions {
            p.write().force_roll(now_ms())?;
        }
        Ok(())
    }

    /// The syncs of `topic`'s appends under [`FsyncPolicy::Always`](crate::FsyncPolicy)
    /// since it was opened (or created) in this log: appends acknowledged after a sync,
    /// and the syncs that covered them (see `group_commit`: concurrent appends share
    /// them). The syncs of rolls, flushes and the close are not counted.
    pub fn sync_stats(&self, topic: &str) -> Result<SyncStats> {
        let t = self.topic(topic)?;
        let mut stats = SyncStats::default();
        for p in &t.partitions {
            stats += p.read().sync_stats();
        }
        Ok(stats)
    }

    /// Write every partition's data and indexes to disk.
    pub fn flush(&self) -> Result<()> {
        let topics: Vec<Arc<TopicState>> = self.inner.topics.read().values().cloned().collect();
        for t in topics {
            for p in &t.partitions {
                p.write().flush()?;
            }
        }
        Ok(())
    }
}

fn open_topic(
    tdir: &Path,
    name: &str,
    config: TopicConfig,
    options: &LogOptions,
    issues: &mut Vec<SegmentIssue>,
) -> Result<TopicState> {
    let config = Arc::new(config);
    // One pool of read buffers for the topic's partitions: a consumer that reads them in
    // turn reuses the buffer it let go of last, still in the CPU's caches.
    let read_buffers = Arc::new(ReadBuffers::for_partitions(config.partitions));
    let mut partitions = Vec::with_capacity(config.partitions as usize);
    for p in 0..config.partitions {
        #[cfg(test)]
        if tests::FAIL_AT_PARTITION.get() == Some(p) {
            return Err(LogError::Io {
                context: format!("create partition {p}"),
                source: std::io::Error::other("failure injected by a test"),
            });
        }
        let dir = tdir.join(name).join(p.to_string());
        partitions.push(RwLock::new(Partition::open(
            name,
            p,
            dir,
            config.clone(),
            options.fsync,
            read_buffers.clone(),
            issues,
        )?));
    }
    Ok(TopicState {
        name: name.to_owned(),
        config,
        partitions,
        appended: Event::new(),
        watching: AtomicBool::new(false),
        closed: AtomicBool::new(false),
    })
}

fn offset_key(group: &str, topic: &str, partition: u32) -> Bytes {
    Bytes::from(format!("{group}\0{topic}\0{partition}"))
}

fn decode_offset_key(key: &[u8]) -> Option<(String, String, u32)> {
    let s = std::str::from_utf8(key).ok()?;
    let mut it = s.split('\0');
    let (g, t, p) = (it.next()?, it.next()?, it.next()?);
    Some((g.to_owned(), t.to_owned(), p.parse().ok()?))
}

impl Log for EmbeddedLog {
    fn create_topic(&self, name: &str, config: TopicConfig) -> Result<()> {
        self.create(name, config, false)
    }

    fn delete_topic(&self, name: &str) -> Result<()> {
        if name.starts_with(INTERNAL_PREFIX) {
            return Err(LogError::InvalidName {
                name: name.to_owned(),
                reason: "internal topics cannot be deleted",
            });
        }
        let tdir = topics_dir(&self.inner.dir);
        crate::locks::lock_exclusive(&self.inner.topics_lock, &tdir)?;
        let deleted = self.delete_locked(&tdir, name);
        crate::locks::unlock(&self.inner.topics_lock, &tdir);
        deleted
    }

    fn list_topics(&self) -> Result<Vec<TopicInfo>> {
        self.rescan_topics()?;
        Ok(self
            .inner
            .topics
            .read()
            .values()
            .map(|t| TopicInfo {
                name: t.name.clone(),
                config: (*t.config).clone(),
                internal: t.name.starts_with(INTERNAL_PREFIX),
            })
            .collect())
    }

    fn describe_topic(&self, name: &str) -> Result<TopicDescription> {
        let t = self.topic(name)?;
        self.fresh_topic(&t)?;
        let partitions = t
            .partitions
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let p = p.read();
                PartitionInfo {
                    partition: i as u32,
                    earliest: p.earliest(),
                    latest: p.latest(),
                    bytes: p.size_bytes(),
                    segments: p.segment_count() as u64,
                }
            })
            .collect();
        Ok(TopicDescription {
            info: TopicInfo {
                name: t.name.clone(),
                config: (*t.config).clone(),
                internal: t.name.starts_with(INTERNAL_PREFIX),
            },
            partitions,
        })
    }

    fn partition_count(&self, topic: &str) -> Result<u32> {
        Ok(self.topic(topic)?.config.partitions)
    }

    fn end_offsets(&self, topic: &str) -> Result<Vec<u64>> {
        let t = self.topic(topic)?;
        self.fresh_topic(&t)?;
        Ok(t.partitions.iter().map(|p| p.read().latest()).collect())
    }

    fn append(&self, topic: &str, partition: u32, records: &[NewRecord]) -> Result<Appended> {
        let t = self.topic(topic)?;
        let written = t.partition(partition)?.write().append(records, now_ms())?;
        // The partition's lock is released: other appends join the sync this one waits
        // for. The records are written either way, and readers may read them.
        let durable = written.durable();
        t.appended.notify(usize::MAX);
        durable
    }

    /// As the trait's [`Log::produce`], with one wake-up of the topic's listeners after
    /// every partition's append (not one per partition): a reader woken finds the whole
    /// call's records.
    fn produce(&self, topic: &str, records: Vec<NewRecord>) -> Result<Vec<(u32, Appended)>> {
        let t = self.topic(topic)?;
        let mut written = Vec::new();
        let mut failed = None;
        for (p, recs) in split_for_produce(records, t.config.partitions) {
            match t
                .partition(p)
                .and_then(|at| at.write().append(&recs, now_ms()))
            {
                Ok(w) => written.push((p, w)),
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        // No partition's lock is held: other appends join the syncs these wait for.
        let durable: Result<Vec<(u32, Appended)>> = written
            .into_iter()
            .map(|(p, w)| Ok((p, w.durable()?)))
            .collect();
        t.appended.notify(usize::MAX);
        match failed {
            Some(e) => Err(e),
            None => durable,
        }
    }

    fn fetch(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        limits: FetchLimits,
    ) -> Result<Vec<Record>> {
        self.collect(topic, partition, offset, limits)?.records()
    }

    /// The batches are read under the partition's read lock, which is released before
    /// the first record is shown: `each` runs with no lock of the log held.
    fn fetch_each(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        limits: FetchLimits,
        each: &mut dyn FnMut(RecordView<'_>) -> ControlFlow<()>,
    ) -> Result<usize> {
        self.collect(topic, partition, offset, limits)?.visit(each)
    }

    fn lost_ranges(&self, topic: &str, partition: u32) -> Result<Vec<LostRange>> {
        let t = self.topic(topic)?;
        let part = t.partition(partition)?;
        self.fresh(&t, part)?;
        let p = part.read();
        Ok(p.lost_ranges())
    }

    fn skipped_gaps(&self) -> Vec<SkippedGap> {
        self.inner.skipped.lock().iter().cloned().collect()
    }

    fn offsets(&self, topic: &str, partition: u32) -> Result<(u64, u64)> {
        let t = self.topic(topic)?;
        let part = t.partition(partition)?;
        self.fresh(&t, part)?;
        let p = part.read();
        Ok((p.earliest(), p.latest()))
    }

    fn offset_for_time(&self, topic: &str, partition: u32, time_ms: i64) -> Result<Option<u64>> {
        let t = self.topic(topic)?;
        let p = t.partition(partition)?.read();
        p.offset_for_time(time_ms)
    }

    /// Appends by this process wake the listener at once; other processes' within
    /// about 20 ms (a watcher thread polls the topic's files; see `shared`).
    fn listen(&self, topic: &str) -> Result<EventListener> {
        let t = self.topic(topic)?;
        let listener = t.appended.listen();
        self.watch(&t);
        Ok(listener)
    }

    fn commit_offsets(&self, group: &str, topic: &str, offsets: &[(u32, u64)]) -> Result<()> {
        validate_name(group)?;
        let t = self.topic(topic)?;
        for &(p, offset) in offsets {
            let part = t.partition(p)?;
            if offset > part.read().latest() {
                self.fresh(&t, part)?;
            }
            let part = part.read();
            if offset > part.latest() {
                return Err(LogError::OffsetOutOfRange {
                    topic: topic.to_owned(),
                    partition: p,
                    offset,
                    earliest: part.earliest(),
                    latest: part.latest(),
                });
            }
        }
        let now = now_ms();
        let records: Vec<NewRecord> = offsets
            .iter()
            .map(|&(p, offset)| NewRecord {
                key: Some(offset_key(group, topic, p)),
                value: Some(Bytes::copy_from_slice(&offset.to_le_bytes())),
                event_time: now,
                headers: Vec::new(),
            })
            .collect();
        if records.is_empty() {
            return Ok(());
        }
        let otopic = self.topic(OFFSETS_TOPIC)?;
        let op = partition_for_key(group.as_bytes(), otopic.config.partitions);
        // The map follows the offsets topic in its order, whichever process appended.
        let mut committed = self.inner.committed.lock();
        let written = otopic.partition(op)?.write().append(&records, now)?;
        written.durable()?;
        self.sync_committed(&mut committed)
    }

    fn committed_offsets(&self, group: &str, topic: &str) -> Result<BTreeMap<u32, u64>> {
        validate_name(group)?;
        self.topic(topic)?;
        let mut committed = self.inner.committed.lock();
        self.sync_committed(&mut committed)?;
        Ok(committed
            .map
            .iter()
            .filter(|((g, t, _), _)| g == group && t == topic)
            .map(|((_, _, p), o)| (*p, *o))
            .collect())
    }

    fn join_group(
        &self,
        group: &str,
        topics: &[&str],
        strategy: AssignmentStrategy,
    ) -> Result<Box<dyn GroupMembership>> {
        validate_name(group)?;
        let mut counts = BTreeMap::new();
        for &t in topics {
            counts.insert(t.to_owned(), self.partition_count(t)?);
        }
        let member = crate::group::join(
            self.inner.coordinator.clone(),
            Arc::new(self.clone()),
            group,
            counts,
            strategy,
        )?;
        Ok(Box::new(member))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        /// Makes the creation of a topic fail at this partition.
        pub(super) static FAIL_AT_PARTITION: std::cell::Cell<Option<u32>> =
            const { std::cell::Cell::new(None) };
    }

    /// Under `FsyncPolicy::Always`, appenders that meet a sync in flight are covered by
    /// the next single sync, and none returns before a sync that began after its records
    /// were written has finished.
    #[test]
    fn concurrent_durable_appends_share_syncs_and_return_only_once_synced() {
        const THREADS: u32 = 8;
        const APPENDS: u64 = 10;
        let dir = tempfile::tempdir().unwrap();
        let options = LogOptions {
            fsync: crate::FsyncPolicy::Always,
            ..LogOptions::default()
        };
        let log = EmbeddedLog::open_with(dir.path(), options).unwrap();
        log.create_topic("t", TopicConfig::with_partitions(2))
            .unwrap();
        let topic = log.topic("t").unwrap();
        let commits: Vec<_> = topic
            .partitions
            .iter()
            .map(|p| p.read().group_commit().clone())
            .collect();
        // Slow syncs, so that every appender meets one in flight.
        for c in &commits {
            *c.delay.lock() = std::time::Duration::from_millis(5);
        }
        std::thread::scope(|s| {
            for t in 0..THREADS {
                let (log, commits) = (&log, &commits);
                s.spawn(move || {
                    let p = t % 2;
                    for i in 0..APPENDS {
                        let record = NewRecord::keyed("k", format!("{t}/{i}"), 1);
                        let a = log.append("t", p, &[record]).unwrap();
                        let synced = commits[p as usize].synced_end();
                        assert!(
                            a.last_offset < synced,
                            "offset {} of partition {p} acknowledged when only the offsets \
                             below {synced} were synced",
                            a.last_offset
                        );
                    }
                });
            }
        });
        let stats = log.sync_stats("t").unwrap();
        assert_eq!(stats.durable_appends, u64::from(THREADS) * APPENDS);
        assert!(
            stats.syncs * 2 <= stats.durable_appends,
            "appends did not share syncs: {stats:?}"
        );
        let per_partition = u64::from(THREADS / 2) * APPENDS;
        assert_eq!(log.end_offsets("t").unwrap(), [per_partition; 2]);
    }

    #[test]
    fn a_produce_over_several_partitions_wakes_the_readers_once_all_are_appended() {
        use event_listener::Listener as _;
        let dir = tempfile::tempdir().unwrap();
        let log = EmbeddedLog::open(dir.path()).unwrap();
        log.create_topic("t", TopicConfig::with_partitions(4))
            .unwrap();
        let records: Vec<NewRecord> = (0..64)
            .map(|i| NewRecord::keyed(format!("k{i}"), "v", i))
            .collect();
        let mut want = [0u64; 4];
        for r in &records {
            want[partition_for_key(r.key.as_deref().unwrap(), 4) as usize] += 1;
        }
        assert!(want.iter().all(|&n| n > 0), "every partition gets records");
        let topic = log.topic("t").unwrap();
        let listener = log.listen("t").unwrap();
        let produced = std::thread::scope(|s| {
            // The last partition held: the produce appends to the others, then waits.
            let held = topic.partitions[3].write();
            let producer = s.spawn(|| log.produce("t", records).unwrap());
            let woken = listener.wait_timeout(std::time::Duration::from_millis(300));
            assert!(
                woken.is_none(),
                "a reader was woken before every partition's records were there"
            );
            drop(held);
            producer.join().unwrap()
        });
        let landed: Vec<(u32, u64)> = produced
            .iter()
            .map(|(p, a)| (*p, a.last_offset + 1))
            .collect();
        assert_eq!(
            landed,
            [(0, want[0]), (1, want[1]), (2, want[2]), (3, want[3])]
        );
        assert_eq!(log.end_offsets("t").unwrap(), want);
        // And the readers were woken then.
        let listener = log.listen("t").unwrap();
        log.produce("t", vec![NewRecord::keyed("k0", "v", 1)])
            .unwrap();
        assert!(
            listener
                .wait_timeout(std::time::Duration::from_secs(10))
                .is_some()
        );
    }

    #[test]
    fn a_create_that_fails_halfway_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let log = EmbeddedLog::open(dir.path()).unwrap();
        FAIL_AT_PARTITION.set(Some(3));
        let failed = log.create_topic("t", TopicConfig::with_partitions(5));
        FAIL_AT_PARTITION.set(None);
        assert!(matches!(failed, Err(LogError::Io { .. })), "{failed:?}");
        assert!(!dir.path().join("topics").join("t").exists());
        assert!(log.list_topics().unwrap().iter().all(|t| t.name != "t"));
        log.create_topic("t", TopicConfig::with_partitions(5))
            .unwrap();
        assert_eq!(log.partition_count("t").unwrap(), 5);
    }

    #[test]
    fn the_files_of_a_create_killed_before_its_metadata_are_removed_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let log = EmbeddedLog::open(dir.path()).unwrap();
        log.create_topic("kept", TopicConfig::with_partitions(2))
            .unwrap();
        log.append("kept", 0, &[NewRecord::keyed("k", "v", 1)])
            .unwrap();
        log.create_topic("t", TopicConfig::with_partitions(3))
            .unwrap();
        drop(log);
        // A create killed before its last step, the metadata file.
        let t = dir.path().join("topics").join("t");
        fs::remove_file(t.join(crate::topic_meta::TOPIC_META)).unwrap();
        let log = EmbeddedLog::open(dir.path()).unwrap();
        assert!(!t.exists());
        let names: Vec<String> = log
            .list_topics()
            .unwrap()
            .into_iter()
            .map(|t| t.name)
            .filter(|n| !n.starts_with("__"))
            .collect();
        assert_eq!(names, ["kept"]);
        assert_eq!(log.offsets("kept", 0).unwrap(), (0, 1));
    }
}
