//! The options of a comparison run (`lk compare`'s flags) and where its records come
//! from.

use std::path::PathBuf;
use std::time::Duration;

use datasets::DatasetKind;
use workloads::Workload;

use crate::{CompareError, Result};

/// Where the records come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// Generate this dataset into a fresh topic, paced at the run's rate.
    Generate(DatasetKind),
    /// Run both pipelines over a topic that already holds the data (no feed).
    Topic(String),
}

/// The options of a run (`lk compare`'s flags).
#[derive(Debug, Clone)]
pub struct CompareOptions {
    /// Where the records come from.
    pub source: Source,
    /// The topic to feed (with [`Source::Generate`]); re-created if it exists.
    pub topic: Option<String>,
    /// The workloads both pipelines run; empty: every built-in of the dataset.
    pub workloads: Vec<Workload>,
    /// Distinct events to generate.
    pub events: u64,
    /// Records appended per second.
    pub rate: u64,
    /// Seconds of event time per second of feed, as events per second of event time
    /// (default: `rate`, event time runs with the wall clock).
    pub event_rate: Option<u64>,
    /// Partitions of the generated topic.
    pub partitions: u32,
    /// The generator's seed (the same seed, the same records).
    pub seed: u64,
    /// Fraction of events arriving out of order, up to `max_delay_ms` late.
    pub out_of_order: f64,
    /// The most an out-of-order event is delayed (ms of event time).
    pub max_delay_ms: u64,
    /// Fraction of events arriving late, `late_delay_ms` or more behind.
    pub late: f64,
    /// How late the late events are (ms of event time).
    pub late_delay_ms: u64,
    /// Fraction of events sent twice.
    pub duplicates: f64,
    /// Lambda: a batch run starts this long after the previous one started.
    pub batch_every: Duration,
    /// Kappa: events this far behind the watermark still update their window.
    pub allowed_lateness_ms: i64,
    /// Kappa's watermark bound (default: `max_delay_ms`, the data's known disorder).
    pub watermark_bound_ms: Option<i64>,
    /// Kappa: how often each task checkpoints (and publishes its table).
    pub checkpoint_interval: Duration,
    /// Kappa shows uncommitted results this often during the live phase (read-uncommitted,
    /// `kappa::JobConfig::uncommitted_every`), and its latency is measured to the table
    /// files; `None`: checkpointed results only (the job's default).
    pub kappa_uncommitted_every: Option<Duration>,
    /// Kappa: worker threads per job.
    pub kappa_workers: usize,
    /// Recompute the whole history with both pipelines after the live phase.
    pub reprocess: bool,
    /// The pipelines' working files (batch views, state stores, tables).
    pub work_dir: PathBuf,
    /// The dataset sidecars (`<data>/datasets`).
    pub sidecar_dir: PathBuf,
}

impl CompareOptions {
    /// The embedded default: YSB, 2M events at 50,000/s, 4 partitions, a little
    /// disorder, lateness and duplication, a batch run every 10 s.
    pub fn new(work_dir: impl Into<PathBuf>, sidecar_dir: impl Into<PathBuf>) -> Self {
        CompareOptions {
            source: Source::Generate(DatasetKind::Ysb),
            topic: None,
            workloads: Vec::new(),
            events: 2_000_000,
            rate: 50_000,
            event_rate: None,
            partitions: 4,
            seed: 42,
            out_of_order: 0.05,
            max_delay_ms: 2_000,
            late: 0.001,
            late_delay_ms: 15_000,
            duplicates: 0.001,
            batch_every: Duration::from_secs(10),
            allowed_lateness_ms: 0,
            watermark_bound_ms: None,
            checkpoint_interval: Duration::from_millis(250),
            kappa_uncommitted_every: None,
            kappa_workers: 2,
            reprocess: true,
            work_dir: work_dir.into(),
            sidecar_dir: sidecar_dir.into(),
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(CompareError::Options(m.to_owned()));
        if self.rate == 0 {
            return bad("--rate must be at least 1 event per second");
        }
        if self.batch_every.is_zero() || self.checkpoint_interval.is_zero() {
            return bad("--batch-every and the checkpoint interval must be positive");
        }
        if self.kappa_workers == 0 {
            return bad("Kappa needs at least one worker");
        }
        if matches!(self.source, Source::Generate(_)) && self.events == 0 {
            return bad("--events must be at least 1");
        }
        Ok(())
    }

    pub(crate) fn watermark_bound(&self) -> i64 {
        self.watermark_bound_ms.unwrap_or(self.max_delay_ms as i64)
    }
}
