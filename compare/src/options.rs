//! The options of a comparison run (`lk compare`'s flags) and where its records come
//! from.

use std::path::PathBuf;
use std::time::Duration;

use datasets::DatasetKind;
use workloads::Workload;

use crate::arch::Architecture;
use crate::sweep::{SweepSetting, SweepSpec};
use crate::{CompareError, Result};

/// A delay or a loss injected into one pipeline (**tests only**; see
/// [`CompareOptions::inject`] and the `inject` module).
#[doc(hidden)]
#[derive(Debug, Clone, PartialEq)]
pub struct Injection {
    /// The pipeline it goes into.
    pub pipeline: Architecture,
    /// Its results become visible this much later, at both levels.
    pub delay: Duration,
    /// Cells removed from its final answer of the first workload.
    pub drop_cells: u64,
}

/// Where the records come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// Generate this dataset into a fresh topic, paced at the run's rate.
    Generate(DatasetKind),
    /// Run both pipelines over a topic that already holds the data (no feed).
    Topic(String),
}

/// How `--find-max-rate` probes each pipeline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MaxRateOptions {
    /// A probe sustains its rate when the fresh latency's p99, and the time to catch up
    /// after the feed, are at most this.
    pub p99_bound: Duration,
    /// How long each probe feeds.
    pub probe: Duration,
}

impl Default for MaxRateOptions {
    /// A p99 of at most a second, 10 s of feed per probe.
    fn default() -> Self {
        MaxRateOptions {
            p99_bound: Duration::from_secs(1),
            probe: Duration::from_secs(10),
        }
    }
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
    /// `None`: the least that covers the data's disorder (see
    /// [`crate::report::LatenessSource::Data`]).
    pub allowed_lateness_ms: Option<i64>,
    /// Kappa's watermark bound (default: `max_delay_ms`, the data's known disorder).
    pub watermark_bound_ms: Option<i64>,
    /// Kappa: how often each task checkpoints (and publishes its table).
    pub checkpoint_interval: Duration,
    /// Kappa: worker threads per job.
    pub kappa_workers: usize,
    /// Recompute the whole history with both pipelines after the live phase.
    pub reprocess: bool,
    /// Reprocess this many times per pipeline and workload, each from fresh state (at
    /// least 1): every phase is then reported as its median and range.
    pub reprocess_runs: u32,
    /// Run the whole comparison this many times, each from fresh state.
    pub repeat: u32,
    /// Also run each pipeline by itself on the same feed, as a control.
    pub alone: bool,
    /// Run the comparison at each value of one setting.
    pub sweep: Option<SweepSpec>,
    /// Search for the highest rate each pipeline sustains.
    pub find_max_rate: Option<MaxRateOptions>,
    /// The command line as typed, for the report (`None`: called as a library).
    pub command: Option<String>,
    /// The pipelines' working files (batch views, state stores, tables).
    pub work_dir: PathBuf,
    /// The dataset sidecars (`<data>/datasets`).
    pub sidecar_dir: PathBuf,
    /// **Tests only**: a delay or a loss injected into one pipeline, so that tests can
    /// check that the harness measures what a pipeline does. `lk` never sets it.
    #[doc(hidden)]
    pub inject: Option<Injection>,
}

impl CompareOptions {
    /// The embedded default: YSB, 2M events at 50,000/s, 4 partitions, a little
    /// disorder, lateness and duplication, a batch run every 10 s, an allowed lateness
    /// that covers the data's disorder.
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
            allowed_lateness_ms: None,
            watermark_bound_ms: None,
            checkpoint_interval: Duration::from_millis(250),
            kappa_workers: 2,
            reprocess: true,
            reprocess_runs: 3,
            repeat: 1,
            alone: false,
            sweep: None,
            find_max_rate: None,
            command: None,
            work_dir: work_dir.into(),
            sidecar_dir: sidecar_dir.into(),
            inject: None,
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
        if self.repeat == 0 {
            return bad("--repeat must be at least 1");
        }
        if self.reprocess_runs == 0 {
            return bad("--reprocess-runs must be at least 1");
        }
        if self.allowed_lateness_ms.is_some_and(|l| l < 0) {
            return bad("--allowed-lateness cannot be negative");
        }
        if let Some(m) = &self.find_max_rate {
            if m.probe.is_zero() || m.p99_bound.is_zero() {
                return bad("the max-rate probe and its p99 bound must be positive");
            }
            if !matches!(self.source, Source::Generate(_)) {
                return bad("--find-max-rate needs a generated dataset (it feeds at rising rates)");
            }
        }
        if let Some(s) = &self.sweep
            && s.setting.needs_feed()
            && !matches!(self.source, Source::Generate(_))
        {
            return Err(CompareError::Options(format!(
                "--sweep {}: needs a generated dataset (an existing topic is not fed)",
                s.setting.name()
            )));
        }
        Ok(())
    }

    /// The options of the run at value `i` of `sweep`, and the value as a number in the
    /// setting's unit.
    pub(crate) fn at_sweep_value(&self, sweep: &SweepSpec, i: usize) -> Result<(Self, f64)> {
        let x = sweep.setting.number(&sweep.values[i])?;
        let mut o = self.clone();
        let ms = Duration::from_millis(x as u64);
        match sweep.setting {
            SweepSetting::BatchEvery => o.batch_every = ms,
            SweepSetting::CheckpointEvery => o.checkpoint_interval = ms,
            SweepSetting::AllowedLateness => o.allowed_lateness_ms = Some(x as i64),
            SweepSetting::Rate => o.rate = x as u64,
            SweepSetting::Partitions => o.partitions = x as u32,
        }
        Ok((o, x))
    }

    pub(crate) fn watermark_bound(&self) -> i64 {
        self.watermark_bound_ms.unwrap_or(self.max_delay_ms as i64)
    }

    /// How far behind the newest event of its partition a generated record can arrive:
    /// twice the late delay with late events, else the out-of-order delay; a duplicate's
    /// second copy comes up to max(out-of-order delay, 1 s) after its first.
    pub(crate) fn generated_disorder_ms(&self) -> i64 {
        let late = if self.late > 0.0 {
            2 * self.late_delay_ms
        } else {
            0
        };
        let ooo = if self.out_of_order > 0.0 {
            self.max_delay_ms
        } else {
            0
        };
        let duplicate = if self.duplicates > 0.0 {
            self.max_delay_ms.max(1_000)
        } else {
            0
        };
        (late.max(ooo) + duplicate) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sweep_value_sets_its_setting() {
        let base = CompareOptions::new("w", "s");
        let s = SweepSpec::parse("allowed-lateness=0s,20s").unwrap();
        let (o, x) = base.at_sweep_value(&s, 1).unwrap();
        assert_eq!((o.allowed_lateness_ms, x), (Some(20_000), 20_000.0));
        let (o, x) = base
            .at_sweep_value(&SweepSpec::parse("rate=1000,2000").unwrap(), 0)
            .unwrap();
        assert_eq!((o.rate, x), (1000, 1000.0));
        let (o, _) = base
            .at_sweep_value(&SweepSpec::parse("batch-every=2s").unwrap(), 0)
            .unwrap();
        assert_eq!(o.batch_every, Duration::from_secs(2));
        let mut topic = base.clone();
        topic.source = Source::Topic("t".into());
        topic.sweep = Some(SweepSpec::parse("partitions=1,2").unwrap());
        assert!(matches!(topic.validate(), Err(CompareError::Options(_))));
    }

    #[test]
    fn reprocessing_needs_at_least_one_run() {
        let mut o = CompareOptions::new("w", "s");
        assert_eq!(o.reprocess_runs, 3, "three runs by default");
        assert!(o.validate().is_ok());
        o.reprocess_runs = 0;
        assert!(matches!(o.validate(), Err(CompareError::Options(_))));
    }
}
