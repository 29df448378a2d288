//! How a job runs ([`JobConfig`]) and what its parts are named: the job itself
//! (`WORKLOAD.vN`), its changelog and late-events topics, its consumer group and its
//! state directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use master_log::{AssignmentStrategy, FetchLimits};
use serde::Serialize;

use crate::error::{KappaError, Result};
use crate::operator::Operator;

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
    /// How the consumer group spreads the partitions over the workers.
    pub assignment: AssignmentStrategy,
    /// Where the tasks keep their local state.
    pub store: StoreKind,
    /// The watermark is the largest event time seen minus this bound.
    pub watermark_bound_ms: i64,
    /// A window takes events until its end plus this is at or below the watermark.
    pub allowed_lateness_ms: i64,
    /// A caught-up partition with no new record for this long does not hold the job's
    /// watermark back.
    pub idle_timeout: Duration,
    /// Event ids are remembered this long (event time) to drop duplicates.
    pub dedup_window_ms: i64,
    /// Checkpoint every task at least this often (wall clock) …
    pub checkpoint_interval: Duration,
    /// … and a task after this many records since its last checkpoint (which bounds
    /// the work a crash loses; its table part is written at the next interval).
    pub checkpoint_records: u64,
    /// How often a task's local store takes in the checkpoints written to its changelog
    /// since it last did (one fsynced transaction). The changelog is the state's durable
    /// record at every checkpoint; the store is its local copy (Samza's host affinity),
    /// which saves a restore from reading the whole changelog. A store behind by whole
    /// checkpoints — a crash before it took them in — is caught up from the changelog
    /// records after its own marker when the task opens. A task's first checkpoint, and
    /// the last one before it closes, always reach the store. Zero: at every checkpoint.
    pub store_commit_interval: Duration,
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
    /// How much one read of a task's partition takes at most.
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

/// Makes the operator of one task, given its partition.
pub type OperatorFactory = Arc<dyn Fn(u32) -> Result<Box<dyn Operator>> + Send + Sync>;

/// A function run at the start of each of a job's worker threads.
#[derive(Clone)]
pub struct ThreadHook(pub Arc<dyn Fn() + Send + Sync>);

impl std::fmt::Debug for ThreadHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ThreadHook")
    }
}

impl JobConfig {
    /// The defaults for a job over `topic`, with its Kappa directory `dir` and the
    /// dataset sidecars in `sidecar_dir`: version 1, 2 workers, redb stores, a 5 s
    /// watermark bound, no allowed lateness, checkpoints every second or 100,000 records,
    /// taken into the local store every 10 s.
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
            store_commit_interval: Duration::from_secs(10),
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

    /// Check the values against each other: a [`KappaError::Config`] names the first wrong one.
    pub(crate) fn validate(&self) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
