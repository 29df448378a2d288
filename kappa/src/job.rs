//! Jobs: one workload over one topic, one task per input partition, tasks on worker
//! threads that take their partitions from the job's consumer group.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future as _;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::task::{Context as PollContext, Poll, Wake, Waker};
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};

use event_listener::{Event, EventListener};
use master_log::{AssignmentStrategy, FetchLimits, GroupMembership, Log, LogError, TopicConfig};
use parking_lot::{Condvar, Mutex};
use serde::Serialize;
use workloads::{GroupKey, PartialTable, StoredCell, Window, Workload};

use crate::error::{KappaError, Result};
use crate::operator::{Operator, WindowAggregate};
use crate::state::{Checkpoint, MemoryStore, RedbStore, StateStore};
use crate::table::{self, OutputTable, PartDelta, TablePart, combine_watermarks};
use crate::task::{Published, RestoreReport, Task, TaskTopics};
use crate::window_state::WindowState;

/// Where a task keeps its local state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreKind {
    /// A redb file per task under `<dir>/state/<job>/` (survives the process).
    #[default]
    Redb,
    /// In memory: every start restores from the changelog.
    Memory,
}

/// Default out-of-orderness bound of the watermark: 5 s of event time.
pub const DEFAULT_WATERMARK_BOUND_MS: i64 = 5_000;
/// Default de-duplication window: ids are remembered 10 minutes of event time.
pub const DEFAULT_DEDUP_WINDOW_MS: i64 = 10 * 60_000;

/// How a job runs.
#[derive(Debug, Clone)]
pub struct JobConfig {
    /// The input topic.
    pub topic: String,
    /// The table version this job writes (`WORKLOAD.vN`); also names its changelog.
    pub version: u32,
    /// The Kappa directory (`<data>/kappa`): `state/` and `tables/` live here.
    pub dir: PathBuf,
    /// The dataset sidecars (`<data>/datasets`).
    pub sidecar_dir: PathBuf,
    /// Worker threads (group members); at most one per partition is used.
    pub workers: usize,
    pub assignment: AssignmentStrategy,
    pub store: StoreKind,
    /// The watermark is the largest event time seen minus this bound.
    pub watermark_bound_ms: i64,
    /// A window takes events until its end plus this is at or below the watermark.
    pub allowed_lateness_ms: i64,
    /// A caught-up partition with no new record for this long does not hold the job's
    /// watermark back.
    pub idle_timeout: Duration,
    pub dedup_window_ms: i64,
    /// Checkpoint every task at least this often (wall clock) …
    pub checkpoint_interval: Duration,
    /// … and a task after this many records since its last checkpoint (which bounds
    /// the work a crash loses; its table part is written at the next interval).
    pub checkpoint_records: u64,
    /// Read-uncommitted visibility. `None` (the default): the table shows checkpointed
    /// results only, so what a reader sees is durable, and a result is visible after the
    /// checkpoint that covers it (up to `checkpoint_interval` plus the checkpoint's
    /// fsyncs). `Some(d)`: the parts of the partitions that moved are also written every
    /// `d` (after every read with `d` = 0) with what the tasks have processed since their
    /// last checkpoint, without waiting for one, and no table file is fsynced (the table
    /// is derived data: a starting job rewrites its parts from the restored state). A
    /// part is still the exact result of its partition's records below its position,
    /// but after a crash that position can move back to the last checkpoint until the
    /// restarted job has processed those records again (to the same cells). Kafka's
    /// `isolation.level=read_uncommitted`, for the output table.
    pub uncommitted_every: Option<Duration>,
    pub fetch_limits: FetchLimits,
    /// Make this version the serving one after its first table write, if no version is.
    pub serve_if_none: bool,
    /// Called first on every worker thread the job starts (e.g. to name or account the
    /// thread's resources).
    pub on_thread_start: Option<ThreadHook>,
    /// Keeps this job's topics and group apart from other jobs of the same workload and
    /// version on the same log (Kafka Streams' `application.id`): with `Some(ns)` they
    /// are named after `ns.WORKLOAD.vN` instead of `WORKLOAD.vN` (see
    /// [`JobConfig::log_name`]). The table keeps its name `WORKLOAD.vN` in [`Self::dir`].
    pub namespace: Option<String>,
    /// Other processes run this job too (`lk kappa run --worker`): the consumer group
    /// spreads the partitions over every process's workers, and this process reports,
    /// waits for and writes only the partitions it owns at the moment. Off, every
    /// partition is expected to be owned here.
    pub distributed: bool,
}

/// A function run at the start of each of a job's worker threads.
#[derive(Clone)]
pub struct ThreadHook(pub Arc<dyn Fn() + Send + Sync>);

impl std::fmt::Debug for ThreadHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ThreadHook")
    }
}

impl JobConfig {
    pub fn new(
        topic: impl Into<String>,
        dir: impl Into<PathBuf>,
        sidecar_dir: impl Into<PathBuf>,
    ) -> Self {
        JobConfig {
            topic: topic.into(),
            version: 1,
            dir: dir.into(),
            sidecar_dir: sidecar_dir.into(),
            workers: 2,
            assignment: AssignmentStrategy::Range,
            store: StoreKind::Redb,
            watermark_bound_ms: DEFAULT_WATERMARK_BOUND_MS,
            allowed_lateness_ms: 0,
            idle_timeout: Duration::from_secs(5),
            dedup_window_ms: DEFAULT_DEDUP_WINDOW_MS,
            checkpoint_interval: Duration::from_secs(1),
            checkpoint_records: 100_000,
            uncommitted_every: None,
            fetch_limits: FetchLimits::default(),
            serve_if_none: true,
            on_thread_start: None,
            namespace: None,
            distributed: false,
        }
    }

    /// The name a job of this configuration has on the log — its changelog and
    /// late-events topics and its consumer group are named after it: `job` itself, or
    /// `namespace.job`.
    pub fn log_name(&self, job: &str) -> String {
        match &self.namespace {
            Some(ns) => format!("{ns}.{job}"),
            None => job.to_owned(),
        }
    }

    fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(KappaError::Config(m.to_owned()));
        if self.workers == 0 {
            return bad("a job needs at least one worker");
        }
        if self.watermark_bound_ms < 0 || self.allowed_lateness_ms < 0 {
            return bad("the watermark bound and the allowed lateness cannot be negative");
        }
        if self.dedup_window_ms <= 0 {
            return bad("the de-duplication window must be positive");
        }
        if self.checkpoint_records == 0 || self.checkpoint_interval.is_zero() {
            return bad("checkpoints need a positive interval and record count");
        }
        if self.fetch_limits.max_records == 0 {
            return bad("a fetch must allow at least one record");
        }
        Ok(())
    }
}

/// The name of a job: `WORKLOAD.vN`.
pub fn job_name(workload: &str, version: u32) -> String {
    format!("{workload}.v{version}")
}

/// The changelog topic of a job (compacted, one partition per task). The log reserves
/// names starting with `__` for itself, so Kappa's internal topics start with `kappa.`.
pub fn changelog_topic(job: &str) -> String {
    format!("kappa.{job}.changelog")
}

/// The side topic of a job's late events (one partition per input partition).
pub fn late_topic(job: &str) -> String {
    format!("kappa.{job}.late")
}

/// The consumer group of a job.
pub fn group_name(job: &str) -> String {
    format!("kappa.{job}")
}

/// Where a job's local stores live: `<dir>/state/<job>/task-<p>.redb`.
pub fn state_dir(dir: &Path, job: &str) -> PathBuf {
    dir.join("state").join(job)
}

/// One input partition as the job sees it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionStatus {
    pub partition: u32,
    /// Next offset to read, and the log end offset when last looked at.
    pub position: u64,
    pub head: u64,
    /// Offset of the last checkpoint.
    pub checkpointed: u64,
    pub watermark: Option<i64>,
    /// Caught up and without a new record for `idle_timeout`.
    pub idle: bool,
    /// A task of this process reads the partition now (with
    /// [`JobConfig::distributed`], the others are other processes').
    pub owned: bool,
    pub records: u64,
    pub events: u64,
    pub duplicates: u64,
    pub late_events: u64,
}

/// A job's progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobStatus {
    pub job: String,
    pub partitions: Vec<PartitionStatus>,
    /// Min over non-idle partitions (max over all when every one is idle).
    pub watermark: Option<i64>,
    /// Every task has restored its state and started reading.
    pub ready: bool,
    /// Every partition has read to the head it last saw.
    pub caught_up: bool,
    /// Records between the positions and the heads.
    pub lag: u64,
    /// Cells of open windows, over all tasks.
    pub open_cells: u64,
}

/// What a run did.
#[derive(Debug, Clone, Serialize)]
pub struct JobReport {
    pub status: JobStatus,
    pub restores: Vec<RestoreReport>,
    pub elapsed_ms: u64,
    pub table_writes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    UntilCaughtUp,
    Continuous,
}

const RUN: u8 = 0;
const STOP: u8 = 1;
const ABORT: u8 = 2;

#[derive(Debug)]
struct Live {
    position: u64,
    head: u64,
    watermark: Option<i64>,
    last_data: Instant,
    records: u64,
    events: u64,
    duplicates: u64,
    late_events: u64,
    open_cells: u64,
    /// A task of this process has restored the partition and reads it.
    opened: bool,
}

#[derive(Debug)]
struct Shared {
    /// Per partition owned here: the cells of its closed windows, and of its open ones,
    /// as of its last checkpoint.
    closed: BTreeMap<u32, PartialTable>,
    open: BTreeMap<u32, PartialTable>,
    /// Partitions published since their part of the table was last written.
    dirty: BTreeSet<u32>,
    /// Per partition owned here, where its last publication is: a checkpoint, or with
    /// `uncommitted_every` what was processed then. What the table shows.
    checkpoints: BTreeMap<u32, Checkpoint>,
    /// Per partition owned here, the offset of its last committed checkpoint.
    committed: BTreeMap<u32, u64>,
    /// Per partition owned here, the position of its part as last written to its file.
    written: BTreeMap<u32, u64>,
    /// Per partition owned here, what its part file holds beyond the cells themselves,
    /// once this job has written it. A partition without an entry (its first write since
    /// its task opened: the file may end in a frame a crash cut short) starts its file
    /// anew.
    files: BTreeMap<u32, PartFileState>,
    /// Per partition owned here, the cells of windows finalized since its part was last
    /// written (a delta carries them).
    finalized_since: BTreeMap<u32, Vec<(Window, GroupKey)>>,
    live: Vec<Live>,
    restores: Vec<RestoreReport>,
    /// Bumped at every publication; a table write carries the value it was built at.
    table_writes: u64,
    errors: Vec<String>,
}

/// A part file as this job last wrote it.
#[derive(Debug, Default)]
struct PartFileState {
    /// The size of its last whole snapshot, and of the deltas appended since.
    full_bytes: u64,
    delta_bytes: u64,
    /// Its open cells (what a delta is computed against).
    open: PartialTable,
}

/// One part write of `Job::write_table`.
enum PartWrite {
    Full { part: TablePart, start_new: bool },
    Delta { partition: u32, delta: PartDelta },
}

#[derive(Debug)]
struct Inner {
    log: Arc<dyn Log>,
    workload: Workload,
    config: JobConfig,
    name: String,
    changelog: String,
    late: String,
    group: String,
    partitions: u32,
    shared: Mutex<Shared>,
    changed: Condvar,
    /// Serializes table file writes.
    writing: Mutex<()>,
    /// A serving alias exists (no need to look for it at every table write).
    serving_known: AtomicBool,
    /// The group memberships of workers that returned, kept until every worker has: a
    /// worker that finished first must not hand its partitions to the others (they
    /// would restore them for nothing).
    finished: Mutex<Vec<Box<dyn GroupMembership>>>,
    flag: AtomicU8,
    wake: Event,
    factory: Factory,
}

/// Makes the operator of one task, given its partition.
pub type OperatorFactory = Arc<dyn Fn(u32) -> Result<Box<dyn Operator>> + Send + Sync>;

struct Factory(OperatorFactory);

impl std::fmt::Debug for Factory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OperatorFactory")
    }
}

/// A Kappa job: `workload` over `config.topic`, writing table version `config.version`.
/// Cheap to clone.
#[derive(Debug, Clone)]
pub struct Job {
    inner: Arc<Inner>,
}

fn ensure_topic(log: &dyn Log, name: &str, config: TopicConfig) -> Result<()> {
    match log.create_topic(name, config.clone()) {
        Ok(()) => Ok(()),
        Err(LogError::TopicExists(_)) => {
            let have = log.partition_count(name)?;
            if have != config.partitions {
                return Err(KappaError::Config(format!(
                    "topic {name} has {have} partitions; the job needs {}",
                    config.partitions
                )));
            }
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

impl Job {
    /// Set up a job: check the workload against the topic, create its changelog and
    /// late-events topics if missing. Nothing is read yet. Every task runs the
    /// workload's stream form, [`WindowAggregate`].
    pub fn new(log: Arc<dyn Log>, workload: Workload, config: JobConfig) -> Result<Job> {
        // Fail early on a workload that cannot run over this topic.
        WindowAggregate::new(&workload, &config.topic, &config.sidecar_dir)?;
        let (w, topic, side) = (
            workload.clone(),
            config.topic.clone(),
            config.sidecar_dir.clone(),
        );
        let factory: OperatorFactory = Arc::new(move |_partition| {
            Ok(Box::new(WindowAggregate::new(&w, &topic, &side)?) as Box<dyn Operator>)
        });
        Self::with_operator(log, workload, config, factory)
    }

    /// A job whose tasks run operators made by `factory` (one per partition). The
    /// operators' cells must have the layout of `workload.empty_partials()`, so that the
    /// table finishes with `workload.finish`.
    pub fn with_operator(
        log: Arc<dyn Log>,
        workload: Workload,
        config: JobConfig,
        factory: OperatorFactory,
    ) -> Result<Job> {
        config.validate()?;
        let name = job_name(workload.name(), config.version);
        let changelog = changelog_topic(&config.log_name(&name));
        let late = late_topic(&config.log_name(&name));
        for t in [&changelog, &late] {
            master_log::validate_name(t)
                .map_err(|e| KappaError::Config(format!("job {name}: {e}")))?;
        }
        let partitions = log.partition_count(&config.topic)?;
        ensure_topic(
            log.as_ref(),
            &changelog,
            TopicConfig {
                max_record_bytes: 64 * 1024 * 1024,
                ..TopicConfig::compacted(partitions)
            },
        )?;
        ensure_topic(
            log.as_ref(),
            &late,
            TopicConfig::with_partitions(partitions),
        )?;
        let now = Instant::now();
        let live = (0..partitions)
            .map(|_| Live {
                position: 0,
                head: 0,
                watermark: None,
                last_data: now,
                records: 0,
                events: 0,
                duplicates: 0,
                late_events: 0,
                open_cells: 0,
                opened: false,
            })
            .collect();
        Ok(Job {
            inner: Arc::new(Inner {
                log,
                group: group_name(&config.log_name(&name)),
                workload,
                config,
                name,
                changelog,
                late,
                partitions,
                shared: Mutex::new(Shared {
                    closed: BTreeMap::new(),
                    open: BTreeMap::new(),
                    dirty: BTreeSet::new(),
                    checkpoints: BTreeMap::new(),
                    committed: BTreeMap::new(),
                    written: BTreeMap::new(),
                    files: BTreeMap::new(),
                    finalized_since: BTreeMap::new(),
                    live,
                    restores: Vec::new(),
                    table_writes: 0,
                    errors: Vec::new(),
                }),
                changed: Condvar::new(),
                writing: Mutex::new(()),
                serving_known: AtomicBool::new(false),
                finished: Mutex::new(Vec::new()),
                flag: AtomicU8::new(RUN),
                wake: Event::new(),
                factory: Factory(factory),
            }),
        })
    }

    /// `WORKLOAD.vN`.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    pub fn workload(&self) -> &Workload {
        &self.inner.workload
    }

    pub fn config(&self) -> &JobConfig {
        &self.inner.config
    }

    /// Read from the checkpoints (or from offset 0) until every partition has reached the
    /// head, checkpoint, write the table, and return.
    pub fn run_until_caught_up(&self) -> Result<JobReport> {
        self.start_mode(Mode::UntilCaughtUp)?.finish()
    }

    /// Start the worker threads; they run until [`RunningJob::stop`] (or `abort`).
    pub fn start(&self) -> Result<RunningJob> {
        self.start_mode(Mode::Continuous)
    }

    fn start_mode(&self, mode: Mode) -> Result<RunningJob> {
        let inner = &self.inner;
        if inner.flag.load(Ordering::SeqCst) != RUN {
            return Err(KappaError::Config(format!(
                "job {} was stopped; open a new Job to run it again",
                inner.name
            )));
        }
        let workers = inner.config.workers.min(inner.partitions as usize).max(1);
        // Join every member first, so that each thread starts with its final assignment.
        let mut members = Vec::with_capacity(workers);
        for _ in 0..workers {
            members.push(inner.log.join_group(
                &inner.group,
                &[inner.config.topic.as_str()],
                inner.config.assignment,
            )?);
        }
        let started = Instant::now();
        let mut threads = Vec::with_capacity(workers);
        for (i, m) in members.into_iter().enumerate() {
            let inner = self.inner.clone();
            let handle = thread::Builder::new()
                .name(format!("kappa-{}-{i}", inner.name))
                .spawn(move || {
                    if let Some(hook) = &inner.config.on_thread_start {
                        (hook.0)();
                    }
                    let r = worker(&inner, m.as_ref(), mode);
                    inner.finished.lock().push(m);
                    if let Err(e) = &r {
                        inner.shared.lock().errors.push(e.to_string());
                    }
                    inner.changed.notify_all();
                    r
                })
                .map_err(|e| KappaError::Worker(format!("spawn: {e}")))?;
            threads.push(handle);
        }
        Ok(RunningJob {
            job: self.clone(),
            threads,
            started,
        })
    }

    /// Block until every partition's last committed checkpoint is at or past `target`
    /// (offsets per partition), or a worker failed, or `timeout` passed. Returns whether
    /// the checkpoints cover `target`. (Without `uncommitted_every`, this is also what
    /// [`Job::table`] shows.)
    pub fn wait_checkpointed(&self, target: &[u64], timeout: Duration) -> Result<bool> {
        self.wait_covered(target, timeout, |s| &s.committed)
    }

    /// Block until every partition's part of the table, as written to its file (what
    /// `lk query` and other readers of the table see), covers `target` (offsets per
    /// partition), or a worker failed, or `timeout` passed. Returns whether it does.
    pub fn wait_visible(&self, target: &[u64], timeout: Duration) -> Result<bool> {
        self.wait_covered(target, timeout, |s| &s.written)
    }

    fn wait_covered(
        &self,
        target: &[u64],
        timeout: Duration,
        offsets: fn(&Shared) -> &BTreeMap<u32, u64>,
    ) -> Result<bool> {
        let deadline = Instant::now() + timeout;
        let inner = &self.inner;
        let covered = |shared: &Shared| {
            target
                .iter()
                .enumerate()
                .all(|(p, &t)| t == 0 || offsets(shared).get(&(p as u32)).is_some_and(|&o| o >= t))
        };
        let mut shared = inner.shared.lock();
        loop {
            if let Some(e) = shared.errors.first() {
                return Err(KappaError::Worker(e.clone()));
            }
            if covered(&shared) {
                return Ok(true);
            }
            if inner.changed.wait_until(&mut shared, deadline).timed_out() {
                return Ok(covered(&shared));
            }
        }
    }

    /// The job's progress now.
    pub fn status(&self) -> JobStatus {
        let shared = self.inner.shared.lock();
        self.status_of(&shared)
    }

    fn status_of(&self, shared: &Shared) -> JobStatus {
        let idle_after = self.inner.config.idle_timeout;
        let partitions: Vec<PartitionStatus> = shared
            .live
            .iter()
            .enumerate()
            .map(|(p, l)| {
                // The log's end now (the worker's last look may be older).
                let head = self
                    .inner
                    .log
                    .offsets(&self.inner.config.topic, p as u32)
                    .map_or(l.head, |(_, latest)| latest.max(l.head));
                PartitionStatus {
                    partition: p as u32,
                    position: l.position,
                    head,
                    checkpointed: shared.committed.get(&(p as u32)).copied().unwrap_or(0),
                    watermark: l.watermark,
                    idle: l.opened && l.position >= head && l.last_data.elapsed() >= idle_after,
                    owned: l.opened,
                    records: l.records,
                    events: l.events,
                    duplicates: l.duplicates,
                    late_events: l.late_events,
                }
            })
            .collect();
        let watermark = combine_watermarks(
            partitions
                .iter()
                .map(|p| (p.watermark, p.idle || (p.head == 0 && p.position == 0))),
        );
        // Distributed, the partitions owned here; else all of them.
        let mine = |p: &PartitionStatus| {
            !self.inner.config.distributed || shared.live[p.partition as usize].opened
        };
        let ready = if self.inner.config.distributed {
            shared.live.iter().any(|l| l.opened)
        } else {
            shared.live.iter().all(|l| l.opened)
        };
        JobStatus {
            job: self.inner.name.clone(),
            ready,
            caught_up: ready
                && partitions
                    .iter()
                    .filter(|p| mine(p))
                    .all(|p| p.position >= p.head),
            lag: partitions
                .iter()
                .filter(|p| mine(p))
                .map(|p| p.head.saturating_sub(p.position))
                .sum(),
            open_cells: shared.live.iter().map(|l| l.open_cells).sum(),
            watermark,
            partitions,
        }
    }

    /// The table as of the last checkpoint of every task (what the table file holds).
    pub fn table(&self) -> Result<OutputTable> {
        let shared = self.inner.shared.lock();
        self.table_of(&shared)
    }

    fn table_of(&self, shared: &Shared) -> Result<OutputTable> {
        let mut table = PartialTable::new();
        for t in shared.closed.values().chain(shared.open.values()) {
            table.merge(t)?;
        }
        let status = self.status_of(shared);
        let bound = self.inner.config.watermark_bound_ms;
        let ckpt = |p: u32| shared.checkpoints.get(&p);
        let watermark = combine_watermarks(status.partitions.iter().map(|s| {
            let c = ckpt(s.partition);
            let wm = c
                .and_then(|c| c.max_event_time)
                .map(|t| t.saturating_sub(bound));
            (wm, s.idle && c.is_some_and(|c| c.offset >= s.head))
        }));
        let sum = |f: fn(&Checkpoint) -> u64| shared.checkpoints.values().map(f).sum();
        Ok(OutputTable {
            workload: self.inner.workload.name().to_owned(),
            version: self.inner.config.version,
            topic: self.inner.config.topic.clone(),
            positions: (0..self.inner.partitions)
                .map(|p| ckpt(p).map_or(0, |c| c.offset))
                .collect(),
            watermark,
            allowed_lateness_ms: self.inner.config.allowed_lateness_ms,
            events: sum(|c| c.events),
            duplicates: sum(|c| c.duplicates),
            late_events: sum(|c| c.late_events),
            written_ms: master_log::now_ms(),
            table,
        })
    }

    /// One partition's part of the table as of its last checkpoint (`None` before it).
    /// `status` is the job's, as of `shared` (its heads are looked up on the log once per
    /// table write, not once per part).
    fn part_of(
        &self,
        shared: &Shared,
        status: &JobStatus,
        partition: u32,
    ) -> Result<Option<TablePart>> {
        let Some(mut part) = self.part_header(shared, status, partition) else {
            return Ok(None);
        };
        for t in [&shared.closed, &shared.open] {
            if let Some(t) = t.get(&partition) {
                part.table.merge(t)?;
            }
        }
        Ok(Some(part))
    }

    /// What changed in one partition's part since its last write (`files`): the cells of
    /// windows finalized since, the open cells that differ from those written, and the
    /// open cells written that are gone. `None` before its first checkpoint.
    fn delta_of(
        &self,
        shared: &Shared,
        status: &JobStatus,
        partition: u32,
        written: &PartialTable,
    ) -> Option<PartDelta> {
        let header = self.part_header(shared, status, partition)?;
        let mut delta = PartDelta::header_of(&header);
        let empty = PartialTable::new();
        let closed = shared.closed.get(&partition).unwrap_or(&empty);
        let open = shared.open.get(&partition).unwrap_or(&empty);
        let finalized = shared.finalized_since.get(&partition);
        for (w, k) in finalized.into_iter().flatten() {
            if let Some(v) = closed.get(*w, k) {
                delta.upserts.push(StoredCell {
                    window: *w,
                    key: k.clone(),
                    partials: v.clone(),
                });
            }
        }
        for (w, k, v) in open.iter() {
            if written.get(*w, k) != Some(v) {
                delta.upserts.push(StoredCell {
                    window: *w,
                    key: k.clone(),
                    partials: v.clone(),
                });
            }
        }
        for (w, k, _) in written.iter() {
            if open.get(*w, k).is_none() && closed.get(*w, k).is_none() {
                delta.removed.push((*w, k.clone()));
            }
        }
        Some(delta)
    }

    /// One partition's part without its cells, as of its last publication.
    fn part_header(
        &self,
        shared: &Shared,
        status: &JobStatus,
        partition: u32,
    ) -> Option<TablePart> {
        let c = shared.checkpoints.get(&partition)?;
        let status = &status.partitions[partition as usize];
        Some(TablePart {
            workload: self.inner.workload.name().to_owned(),
            version: self.inner.config.version,
            topic: self.inner.config.topic.clone(),
            partitions: self.inner.partitions,
            partition,
            position: c.offset,
            watermark: c
                .max_event_time
                .map(|t| t.saturating_sub(self.inner.config.watermark_bound_ms)),
            idle: status.idle && c.offset >= status.head,
            allowed_lateness_ms: self.inner.config.allowed_lateness_ms,
            events: c.events,
            duplicates: c.duplicates,
            late_events: c.late_events,
            written_ms: master_log::now_ms(),
            table: PartialTable::new(),
        })
    }

    /// Write the parts of the partitions published since their last write (the others
    /// stay as they are): a delta of what changed, or a whole snapshot at a task's first
    /// write and once the deltas since the last snapshot outgrow it (see the `table`
    /// module). Synced, unless the job shows uncommitted results (then no table file is;
    /// see `JobConfig::uncommitted_every`).
    fn write_table(&self) -> Result<()> {
        let sync = self.inner.config.uncommitted_every.is_none();
        // Held while the writes are made and the files' state recorded: writes of a part
        // land in the order they were built.
        let _w = self.inner.writing.lock();
        let writes = {
            let mut shared = self.inner.shared.lock();
            let dirty = std::mem::take(&mut shared.dirty);
            let mut writes = Vec::with_capacity(dirty.len());
            if !dirty.is_empty() {
                let status = self.status_of(&shared);
                for p in dirty {
                    let write = match shared.files.get(&p) {
                        Some(f) if f.delta_bytes <= table::MAX_PART_FILE.max(f.full_bytes) => self
                            .delta_of(&shared, &status, p, &f.open)
                            .map(|delta| PartWrite::Delta {
                                partition: p,
                                delta,
                            }),
                        file => self
                            .part_of(&shared, &status, p)?
                            .map(|part| PartWrite::Full {
                                part,
                                start_new: file.is_none(),
                            }),
                    };
                    if let Some(write) = write {
                        // What the part file holds once this write is made.
                        let open = shared.open.get(&p).cloned().unwrap_or_default();
                        shared.finalized_since.remove(&p);
                        writes.push((write, open));
                    }
                }
            }
            writes
        };
        if writes.is_empty() {
            return Ok(());
        }
        let dir = &self.inner.config.dir;
        let (workload, version) = (self.inner.workload.name(), self.inner.config.version);
        let mut done = Vec::with_capacity(writes.len());
        for (write, open) in writes {
            match write {
                PartWrite::Full { part, start_new } => {
                    let bytes = table::write_part_with(dir, &part, sync, start_new)?;
                    done.push((part.partition, part.position, true, bytes, open));
                }
                PartWrite::Delta { partition, delta } => {
                    match table::append_part_delta(dir, workload, version, partition, &delta, sync)?
                    {
                        Some(bytes) => done.push((partition, delta.position, false, bytes, open)),
                        // The file went away (its version deleted meanwhile): a whole
                        // snapshot next time, in a new file.
                        None => {
                            let mut shared = self.inner.shared.lock();
                            shared.dirty.insert(partition);
                            shared.files.remove(&partition);
                        }
                    }
                }
            }
        }
        if self.inner.config.serve_if_none && !self.inner.serving_known.load(Ordering::Relaxed) {
            if table::serving_version(dir, workload)?.is_none() {
                table::set_serving(dir, workload, version)?;
            }
            // An alias, once there, is only ever switched (never removed) while this
            // version runs.
            self.inner.serving_known.store(true, Ordering::Relaxed);
        }
        let mut shared = self.inner.shared.lock();
        shared.table_writes += 1;
        for (partition, position, full, bytes, open) in done {
            // Not if the partition was closed here meanwhile (another member owns it).
            if !shared.checkpoints.contains_key(&partition) {
                continue;
            }
            shared.written.insert(partition, position);
            let file = shared.files.entry(partition).or_default();
            if full {
                file.full_bytes = bytes;
                file.delta_bytes = 0;
            } else {
                file.delta_bytes += bytes;
            }
            file.open = open;
        }
        drop(shared);
        // What readers of the table see moved: wake `wait_visible`.
        self.inner.changed.notify_all();
        Ok(())
    }

    fn publish(&self, partition: u32, p: Published) -> Result<()> {
        let mut shared = self.inner.shared.lock();
        shared
            .closed
            .entry(partition)
            .or_default()
            .merge(&p.finalized)?;
        shared
            .finalized_since
            .entry(partition)
            .or_default()
            .extend(p.finalized.iter().map(|(w, k, _)| (*w, k.clone())));
        shared.open.insert(partition, p.open);
        if p.committed {
            shared.committed.insert(partition, p.checkpoint.offset);
        }
        shared.checkpoints.insert(partition, p.checkpoint);
        shared.dirty.insert(partition);
        drop(shared);
        // What the table shows moved: wake `wait_checkpointed`.
        self.inner.changed.notify_all();
        Ok(())
    }
}

/// A job whose worker threads are running.
#[derive(Debug)]
pub struct RunningJob {
    job: Job,
    threads: Vec<JoinHandle<Result<()>>>,
    started: Instant,
}

impl RunningJob {
    pub fn job(&self) -> &Job {
        &self.job
    }

    pub fn status(&self) -> JobStatus {
        self.job.status()
    }

    /// Block until every partition has read to the head it sees (or a worker failed, or
    /// `timeout` passed). Returns whether it caught up.
    pub fn wait_caught_up(&self, timeout: Duration) -> Result<bool> {
        let deadline = Instant::now() + timeout;
        let inner = &self.job.inner;
        let mut shared = inner.shared.lock();
        loop {
            if let Some(e) = shared.errors.first() {
                return Err(KappaError::Worker(e.clone()));
            }
            if self.job.status_of(&shared).caught_up {
                return Ok(true);
            }
            if inner.changed.wait_until(&mut shared, deadline).timed_out() {
                return Ok(self.job.status_of(&shared).caught_up);
            }
        }
    }

    /// See [`Job::wait_checkpointed`].
    pub fn wait_checkpointed(&self, target: &[u64], timeout: Duration) -> Result<bool> {
        self.job.wait_checkpointed(target, timeout)
    }

    /// See [`Job::wait_visible`].
    pub fn wait_visible(&self, target: &[u64], timeout: Duration) -> Result<bool> {
        self.job.wait_visible(target, timeout)
    }

    /// Stop: every task checkpoints, the table is written, the threads end.
    pub fn stop(self) -> Result<JobReport> {
        self.job.inner.flag.store(STOP, Ordering::SeqCst);
        self.job.inner.wake.notify(usize::MAX);
        self.finish()
    }

    /// Stop at once without a final checkpoint, as a crash would: what was processed
    /// since each task's last checkpoint is lost and will be read again by the next run.
    pub fn abort(self) -> Result<()> {
        self.job.inner.flag.store(ABORT, Ordering::SeqCst);
        self.job.inner.wake.notify(usize::MAX);
        let mut first = None;
        for t in self.threads {
            match t.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => first = first.or(Some(e)),
                Err(_) => first = first.or(Some(KappaError::Worker("a worker panicked".into()))),
            }
        }
        // Every worker is done: the members leave the group now.
        self.job.inner.finished.lock().clear();
        first.map_or(Ok(()), Err)
    }

    fn finish(self) -> Result<JobReport> {
        let mut first = None;
        for t in self.threads {
            match t.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => first = first.or(Some(e)),
                Err(_) => first = first.or(Some(KappaError::Worker("a worker panicked".into()))),
            }
        }
        self.job.inner.finished.lock().clear();
        if let Some(e) = first {
            return Err(e);
        }
        self.job.write_table()?;
        let shared = self.job.inner.shared.lock();
        let mut restores = shared.restores.clone();
        restores.sort_by_key(|r| r.partition);
        Ok(JobReport {
            status: self.job.status_of(&shared),
            restores,
            elapsed_ms: self.started.elapsed().as_millis() as u64,
            table_writes: shared.table_writes,
        })
    }
}

// ------------------------------------------------------------------ worker threads

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Block until either listener fires or `deadline` passes (no spinning: the thread parks
/// until a listener wakes it).
fn wait_either(a: &mut EventListener, b: &mut EventListener, deadline: Instant) {
    let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
    let mut cx = PollContext::from_waker(&waker);
    loop {
        if let Poll::Ready(()) = Pin::new(&mut *a).poll(&mut cx) {
            return;
        }
        if let Poll::Ready(()) = Pin::new(&mut *b).poll(&mut cx) {
            return;
        }
        let now = Instant::now();
        if now >= deadline {
            return;
        }
        thread::park_timeout(deadline - now);
    }
}

fn open_store(inner: &Inner, partition: u32) -> Result<Box<dyn StateStore>> {
    Ok(match inner.config.store {
        StoreKind::Memory => Box::new(MemoryStore::new()),
        StoreKind::Redb => {
            let path =
                state_dir(&inner.config.dir, &inner.name).join(format!("task-{partition}.redb"));
            match RedbStore::open(&path) {
                Ok(s) => Box::new(s),
                Err(e @ KappaError::Store { .. }) => {
                    // Not intact: start it over and restore from the changelog.
                    tracing::warn!("{e}; restoring task {partition} from the changelog");
                    std::fs::remove_file(&path)
                        .map_err(crate::error::io_err(format!("remove {}", path.display())))?;
                    Box::new(RedbStore::open(&path)?)
                }
                Err(e) => return Err(e),
            }
        }
    })
}

/// Open the task of `partition`: restore its state (local store or changelog) and
/// publish what it restored.
fn open_task(inner: &Inner, partition: u32) -> Result<Task> {
    let config = &inner.config;
    let operator = (inner.factory.0)(partition)?;
    let state = WindowState::new(
        partition,
        config.watermark_bound_ms,
        config.allowed_lateness_ms,
        config.dedup_window_ms,
    );
    let (task, closed, report) = Task::open(
        inner.log.clone(),
        TaskTopics {
            input: config.topic.clone(),
            changelog: inner.changelog.clone(),
            late: inner.late.clone(),
        },
        partition,
        open_store(inner, partition)?,
        operator,
        state,
    )?;
    let head = inner.log.offsets(&config.topic, partition)?.1;
    let mut shared = inner.shared.lock();
    shared.closed.insert(partition, closed);
    shared.open.insert(partition, task.state.open_table());
    shared.committed.insert(partition, report.checkpoint.offset);
    shared
        .checkpoints
        .insert(partition, report.checkpoint.clone());
    // Rewritten from the restored state (a part written after the last checkpoint, or
    // not synced, may show more, or be gone).
    shared.written.remove(&partition);
    shared.files.remove(&partition);
    shared.finalized_since.remove(&partition);
    shared.dirty.insert(partition);
    shared.restores.push(report);
    let l = &mut shared.live[partition as usize];
    l.position = task.position;
    l.head = head;
    l.opened = true;
    update_live(l, &task);
    Ok(task)
}

/// Close the tasks of a worker whose assignment changed: their partitions may be
/// another member's now, which restores them from the changelog (what was processed
/// here since their last checkpoint is processed again there). This process's view of
/// them is dropped; their table parts stay until the new owner rewrites them.
fn close_tasks(inner: &Inner, tasks: &mut Vec<Task>) {
    let mut shared = inner.shared.lock();
    for task in tasks.drain(..) {
        let p = task.partition;
        shared.closed.remove(&p);
        shared.open.remove(&p);
        shared.checkpoints.remove(&p);
        shared.committed.remove(&p);
        shared.written.remove(&p);
        shared.files.remove(&p);
        shared.finalized_since.remove(&p);
        shared.dirty.remove(&p);
        shared.live[p as usize].opened = false;
    }
}

/// The partitions of the job's topic that `membership` owns, and the generation.
fn owned(inner: &Inner, membership: &dyn GroupMembership) -> (u64, Vec<u32>) {
    let a = membership.assignment();
    let parts = a
        .partitions
        .iter()
        .filter(|tp| tp.topic == inner.config.topic)
        .map(|tp| tp.partition)
        .collect();
    (a.generation, parts)
}

/// A checkpoint refused because the group took the partition away.
fn rebalanced(e: &KappaError) -> bool {
    matches!(e, KappaError::Log(LogError::Group { .. }))
}

/// Checkpoint every task and write the table; `Ok(false)` when the group took a
/// partition away meanwhile (the tasks must be reopened for the new assignment).
fn checkpoint_round(
    job: &Job,
    tasks: &mut [Task],
    membership: &dyn GroupMembership,
) -> Result<bool> {
    match checkpoint_all(job, tasks, membership) {
        Ok(()) => Ok(true),
        Err(e) if rebalanced(&e) => {
            // Parts of the partitions checkpointed before the refusal.
            job.write_table()?;
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

fn worker(inner: &Arc<Inner>, membership: &dyn GroupMembership, mode: Mode) -> Result<()> {
    let job = Job {
        inner: inner.clone(),
    };
    let config = &inner.config;
    let mut tasks: Vec<Task> = Vec::new();
    // The generation the tasks were opened for; `None` reopens every task (after a
    // refused checkpoint, whose changes were taken from the tasks' state).
    let mut opened_for: Option<u64> = None;
    let mut next_checkpoint = Instant::now() + config.checkpoint_interval;
    // With `uncommitted_every`: when the parts are next written without a checkpoint.
    let mut next_shown = Instant::now();
    loop {
        // The group moved partitions: keep the tasks still owned whose changelog nobody
        // else wrote meanwhile, close the others, open the new ones.
        let (generation, partitions) = owned(inner, membership);
        if opened_for != Some(generation) {
            let mut kept = Vec::with_capacity(partitions.len());
            let mut gone = Vec::new();
            for task in tasks.drain(..) {
                if opened_for.is_some()
                    && partitions.contains(&task.partition)
                    && task.is_current()?
                {
                    kept.push(task);
                } else {
                    gone.push(task);
                }
            }
            close_tasks(inner, &mut gone);
            for p in partitions {
                if !kept.iter().any(|t| t.partition == p) {
                    kept.push(open_task(inner, p)?);
                }
            }
            tasks = kept;
            opened_for = Some(generation);
            inner.changed.notify_all();
        }
        // Listeners first, then the checks: no wake-up can be lost in between.
        let mut data = inner.log.listen(&config.topic)?;
        let mut wake = inner.wake.listen();
        match inner.flag.load(Ordering::SeqCst) {
            ABORT => return Ok(()),
            STOP => {
                checkpoint_round(&job, &mut tasks, membership)?;
                return Ok(());
            }
            _ => {}
        }
        let mut read = 0;
        let mut all_caught_up = true;
        let mut fenced = false;
        for task in tasks.iter_mut() {
            let n = task.poll(config.fetch_limits)?;
            read += n;
            let head = inner.log.offsets(&config.topic, task.partition)?.1;
            if task.position < head {
                all_caught_up = false;
            }
            {
                let mut shared = inner.shared.lock();
                let l = &mut shared.live[task.partition as usize];
                l.position = task.position;
                l.head = head;
                if n > 0 {
                    l.last_data = Instant::now();
                }
                update_live(l, task);
            }
            if task.since_checkpoint >= config.checkpoint_records {
                // Bounds the work a crash can lose; the part is written at the next
                // interval's round (a part rewritten per 100,000 records made the table
                // writing grow with the square of the log's length).
                match checkpoint_one(&job, task, membership) {
                    Ok(()) => {}
                    Err(e) if rebalanced(&e) => {
                        fenced = true;
                        break;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        inner.changed.notify_all();
        if !fenced && Instant::now() >= next_checkpoint {
            fenced = !checkpoint_round(&job, &mut tasks, membership)?;
            next_checkpoint = Instant::now() + config.checkpoint_interval;
        } else if let Some(every) = config.uncommitted_every
            && !fenced
            && Instant::now() >= next_shown
            && tasks.iter().any(Task::has_unshown)
        {
            show_uncommitted(&job, &mut tasks)?;
            next_shown = Instant::now() + every;
        }
        if fenced {
            // Revoked: wait for the new assignment (the loop's top reopens the tasks).
            membership.wait_for_rebalance(generation, config.checkpoint_interval);
            opened_for = None;
            continue;
        }
        if mode == Mode::UntilCaughtUp && all_caught_up {
            if checkpoint_round(&job, &mut tasks, membership)? {
                return Ok(());
            }
            opened_for = None;
            continue;
        }
        if read == 0 {
            // Also wake for a rebalance: poll the assignment at least every 100 ms; and
            // to show what was read before the wait, when its turn comes.
            let mut deadline = next_checkpoint.min(Instant::now() + Duration::from_millis(100));
            if config.uncommitted_every.is_some() && tasks.iter().any(Task::has_unshown) {
                deadline = deadline.min(next_shown);
            }
            wait_either(&mut data, &mut wake, deadline);
        }
    }
}

fn update_live(l: &mut Live, task: &Task) {
    l.watermark = task.state.watermark();
    l.records = task.records;
    l.events = task.state.events;
    l.duplicates = task.state.duplicates;
    l.late_events = task.state.late_events;
    l.open_cells = task.state.open_cells() as u64;
}

fn checkpoint_one(job: &Job, task: &mut Task, membership: &dyn GroupMembership) -> Result<()> {
    if let Some(p) = task.checkpoint(Some(membership))? {
        job.publish(task.partition, p)?;
    }
    Ok(())
}

/// Publish what every task processed since its last publication, without a checkpoint,
/// and write the parts that moved (`JobConfig::uncommitted_every`).
fn show_uncommitted(job: &Job, tasks: &mut [Task]) -> Result<()> {
    for t in tasks.iter_mut() {
        if let Some(p) = t.publish_uncommitted() {
            job.publish(t.partition, p)?;
        }
    }
    job.write_table()
}

fn checkpoint_all(job: &Job, tasks: &mut [Task], membership: &dyn GroupMembership) -> Result<()> {
    for t in tasks.iter_mut() {
        checkpoint_one(job, t, membership)?;
    }
    job.write_table()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_job_watermark_is_the_min_over_partitions_not_idle() {
        let c = |v: &[(Option<i64>, bool)]| combine_watermarks(v.iter().copied());
        assert_eq!(c(&[(Some(10), false), (Some(5), false)]), Some(5));
        // An idle partition does not hold it back …
        assert_eq!(c(&[(Some(10), false), (Some(5), true)]), Some(10));
        // … a busy one without any event yet does.
        assert_eq!(c(&[(Some(10), false), (None, false)]), None);
        // All idle: the largest.
        assert_eq!(c(&[(Some(10), true), (Some(5), true)]), Some(10));
        assert_eq!(c(&[]), None);
    }

    #[test]
    fn names_of_a_job() {
        let job = job_name("top-pages-hourly", 3);
        assert_eq!(job, "top-pages-hourly.v3");
        assert_eq!(changelog_topic(&job), "kappa.top-pages-hourly.v3.changelog");
        assert_eq!(late_topic(&job), "kappa.top-pages-hourly.v3.late");
        assert_eq!(group_name(&job), "kappa.top-pages-hourly.v3");
        for t in [changelog_topic(&job), late_topic(&job)] {
            master_log::validate_name(&t).unwrap();
        }
        let mut config = JobConfig::new("views", "kappa", "datasets");
        assert_eq!(config.log_name(&job), job);
        config.namespace = Some("compare.views".into());
        assert_eq!(
            changelog_topic(&config.log_name(&job)),
            "kappa.compare.views.top-pages-hourly.v3.changelog"
        );
    }
}
