//! Both architectures behind one interface: the harness starts, observes, queries, stops
//! and reprocesses Lambda and Kappa through [`Pipeline`] and the functions of this module
//! alone, so that a difference in the report can only come from the architectures (the
//! `lambda` and `kappa` crates), not from how the harness drives them.
//!
//! Each pipeline is observed at both [`Visibility`] levels, read the same way for both:
//! *fresh* from the pipeline's memory (Lambda's batch view merged with the speed layer's
//! realtime view; Kappa's job table with what its tasks have processed, kept in memory by
//! the job), *stable* once the results survive a crash (Lambda's batch views are written
//! to files, as Kappa's checkpoints are: a published batch view; a committed checkpoint).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lambda::{Lambda, LambdaConfig, Layout, RunningLambda};
use master_log::Log;
use workloads::{PartialTable, Workload};

use crate::alloc::{self, Owner};
pub use crate::arch::Architecture;
use crate::options::CompareOptions;
pub use crate::report::Visibility;
use crate::{CompareError, Result};

/// What both pipelines run over: the same log, topic, workloads and settings.
#[derive(Debug, Clone)]
pub(crate) struct Setup {
    pub log: Arc<dyn Log>,
    pub topic: String,
    pub workloads: Vec<Workload>,
    pub sidecar_dir: PathBuf,
    /// The run's working directory (state stores, tables).
    pub work: PathBuf,
    /// Where the harness' Kappa jobs live on the log, apart from the user's.
    pub namespace: String,
    /// Kappa's allowed lateness (given, or from the data).
    pub allowed_lateness_ms: i64,
    pub opts: CompareOptions,
}

/// A recomputation a pipeline ran while it was live (Lambda's batch runs).
#[derive(Debug, Clone)]
pub(crate) struct Recompute {
    pub workload: String,
    pub started: Instant,
    pub finished: Instant,
    /// Records below the horizon it covered.
    pub horizon_records: u64,
    /// When its horizon was taken.
    pub horizon_taken: Instant,
}

/// A workload's final answer and what the pipeline set aside to make it.
#[derive(Debug, Clone)]
pub(crate) struct Final {
    pub table: PartialTable,
    /// Events left out as too late.
    pub late_dropped: u64,
    /// Duplicates removed, when the pipeline counts them.
    pub duplicates_removed: Option<u64>,
}

/// A running pipeline, as the harness sees it.
pub(crate) trait Pipeline: Send + Sync {
    /// Which architecture this is.
    fn architecture(&self) -> Architecture;
    /// What a query at `level` reads, in a few words.
    fn describe(&self, level: Visibility) -> &'static str;
    /// Per partition, the offset below which a query of every workload at `level`
    /// includes every record.
    fn visible(&self, level: Visibility) -> Result<Vec<u64>>;
    /// Whether a query of every workload at `level` shows every record below `target`,
    /// waiting up to about `timeout`.
    fn wait_visible(&self, level: Visibility, target: &[u64], timeout: Duration) -> Result<bool>;
    /// What a fresh query of each workload sees now (in workload order).
    fn tables(&self) -> Result<Vec<PartialTable>>;
    /// The recomputations run so far.
    fn recomputes(&self) -> Vec<Recompute>;
    /// How often results became stable so far (the fewest of a workload or a task).
    fn stable_updates(&self) -> u64;
    /// The cells of open windows held now, where the pipeline keeps them (Kappa).
    fn state_cells(&self) -> Option<u64>;
    /// Stop, and give each workload's final answer.
    fn stop(self: Box<Self>) -> Result<Vec<Final>>;
}

/// Per partition, the least of `positions` (each a workload's): what every workload
/// shows.
fn least(positions: impl IntoIterator<Item = Vec<u64>>) -> Vec<u64> {
    let mut out: Option<Vec<u64>> = None;
    for p in positions {
        out = Some(match out {
            None => p,
            Some(o) => o.iter().zip(&p).map(|(a, b)| *a.min(b)).collect(),
        });
    }
    out.unwrap_or_default()
}

/// Start `arch` over `setup`.
pub(crate) fn start(arch: Architecture, setup: &Setup) -> Result<Box<dyn Pipeline>> {
    match arch {
        Architecture::Lambda => Ok(Box::new(LambdaPipeline::start(setup)?)),
        Architecture::Kappa => Ok(Box::new(KappaPipeline::start(setup)?)),
    }
}

/// The phases of one reprocessing run, in seconds, timed back to back by one clock (see
/// `crate::report` for what each covers in each pipeline).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Phases {
    /// Stores and directories opened, a job created.
    pub setup: f64,
    /// The whole history read and computed.
    pub process: f64,
    /// Until the new version serves queries.
    pub publish: f64,
}

impl Phases {
    /// The phases between four instants: start, set up, processed, published.
    pub fn between(t: [Instant; 4]) -> Phases {
        let secs = |a: Instant, b: Instant| b.saturating_duration_since(a).as_secs_f64();
        Phases {
            setup: secs(t[0], t[1]),
            process: secs(t[1], t[2]),
            publish: secs(t[2], t[3]),
        }
    }

    /// The three together.
    pub fn total(&self) -> f64 {
        self.setup + self.process + self.publish
    }
}

/// How each pipeline's reprocessing output is written: both fsync it before `publish`
/// ends (Lambda's `ViewStore::publish`; Kappa's table parts and alias written
/// `Durability::Synced`, its state on the changelog).
pub(crate) fn reprocess_durability(arch: Architecture) -> &'static str {
    match arch {
        Architecture::Lambda | Architecture::Kappa => "synced",
    }
}

/// Recompute the whole history of `workload` with `arch` from fresh state (run `run`: a
/// directory of its own under the run's working directory, removed afterwards); the
/// time of each phase.
pub(crate) fn reprocess(
    arch: Architecture,
    setup: &Setup,
    workload: &Workload,
    run: u32,
) -> Result<Phases> {
    let dir = setup
        .work
        .join("reprocess")
        .join(format!("{}-{run}", arch.name().to_lowercase()));
    remove_dir(&dir)?;
    let phases = match arch {
        Architecture::Lambda => reprocess_lambda(setup, workload, &dir)?,
        Architecture::Kappa => reprocess_kappa(setup, workload, &dir, run)?,
    };
    remove_dir(&dir)?;
    Ok(phases)
}

/// Remove `dir` and what it holds, if it exists.
fn remove_dir(dir: &std::path::Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(CompareError::io(format!("remove {}", dir.display()))(e)),
    }
}

/// Lambda's recompute in its phases: its view store opened, the batch layer over the
/// whole history, the view published (as `lambda::recompute_and_publish` does).
fn reprocess_lambda(setup: &Setup, workload: &Workload, dir: &std::path::Path) -> Result<Phases> {
    let t0 = Instant::now();
    let files = Layout::new(dir, workload).files()?;
    let t1 = Instant::now();
    let view = lambda::recompute(
        setup.log.as_ref(),
        workload,
        &setup.topic,
        &setup.sidecar_dir,
    )?;
    let t2 = Instant::now();
    files.store.publish(&view)?;
    Ok(Phases::between([t0, t1, t2, Instant::now()]))
}

/// Kappa's replay in its phases, timed by `kappa::reprocess` itself: the job created and
/// started; its replay until caught up; a checkpoint of every task with the table
/// written, and the alias switch (the job's stop after the switch, its local stores
/// taking in the checkpoints, is not in them). The job lives in a namespace of its own on
/// the log (its own changelog, late-events topic and group), retired before and after
/// the run.
fn reprocess_kappa(
    setup: &Setup,
    workload: &Workload,
    dir: &std::path::Path,
    run: u32,
) -> Result<Phases> {
    let config = kappa::JobConfig {
        version: 2,
        serve_if_none: false,
        namespace: Some(format!("{}.reprocess{run}", setup.namespace)),
        ..kappa_config(setup, dir.to_path_buf())
    };
    let retire = || kappa::retire(setup.log.as_ref(), &config, workload.name(), 2);
    retire()?;
    let report = kappa::reprocess(
        setup.log.clone(),
        workload.clone(),
        config.clone(),
        0,
        REPROCESS_TIMEOUT,
        &mut |_| {},
    )?;
    let secs = |ms: u64| ms as f64 / 1000.0;
    let phases = Phases {
        setup: secs(report.setup_ms),
        process: secs(report.caught_up_ms.saturating_sub(report.setup_ms)),
        publish: secs(report.elapsed_ms.saturating_sub(report.caught_up_ms)),
    };
    // The serving version's table cannot be retired: its directory (alias included)
    // goes first.
    remove_dir(dir)?;
    retire()?;
    Ok(phases)
}

/// How long a reprocessing run may take before the comparison fails.
const REPROCESS_TIMEOUT: Duration = Duration::from_secs(6 * 3600);

/// The Kappa job settings of the run (the same for the live job and the reprocessing).
fn kappa_config(setup: &Setup, dir: PathBuf) -> kappa::JobConfig {
    let o = &setup.opts;
    kappa::JobConfig {
        namespace: Some(setup.namespace.clone()),
        workers: o.kappa_workers,
        watermark_bound_ms: o.watermark_bound(),
        allowed_lateness_ms: setup.allowed_lateness_ms,
        checkpoint_interval: o.checkpoint_interval,
        ..kappa::JobConfig::new(&setup.topic, dir, &setup.sidecar_dir)
    }
}

/// Lambda: one pipeline per workload, their speed layers on one runtime, their batch
/// views written to files (what makes them stable).
struct LambdaPipeline {
    log: Arc<dyn Log>,
    partitions: usize,
    running: Vec<RunningLambda>,
    /// Declared after `running`: dropped after the pipelines that run on it.
    _runtime: tokio::runtime::Runtime,
}

impl LambdaPipeline {
    fn start(setup: &Setup) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("lambda-speed")
            .on_thread_start(|| alloc::set_thread_owner(Owner::Lambda))
            .enable_all()
            .build()
            .map_err(CompareError::io("start the speed layer's runtime"))?;
        let mut running = Vec::new();
        for w in &setup.workloads {
            let config = LambdaConfig {
                batch_every: setup.opts.batch_every,
                files: Some(Layout::new(&setup.work.join("lambda"), w).files()?),
                runtime: Some(runtime.handle().clone()),
                on_thread_start: Some(lambda::ThreadHook(Arc::new(|| {
                    alloc::set_thread_owner(Owner::Lambda)
                }))),
                ..LambdaConfig::new(&setup.topic, &setup.sidecar_dir)
            };
            running.push(Lambda::new(setup.log.clone(), w.clone(), config)?.start()?);
        }
        Ok(LambdaPipeline {
            log: setup.log.clone(),
            partitions: setup.log.partition_count(&setup.topic)? as usize,
            running,
            _runtime: runtime,
        })
    }
}

impl Pipeline for LambdaPipeline {
    fn architecture(&self) -> Architecture {
        Architecture::Lambda
    }

    fn describe(&self, level: Visibility) -> &'static str {
        match level {
            Visibility::Fresh => {
                "the batch view merged with the speed layer's realtime view, in memory"
            }
            Visibility::Stable => "the published batch view, written to files",
        }
    }

    fn visible(&self, level: Visibility) -> Result<Vec<u64>> {
        Ok(least(self.running.iter().map(|r| {
            let views = r.lambda().views();
            match level {
                Visibility::Fresh => views.speed().positions(),
                Visibility::Stable => views.horizon().unwrap_or_else(|| vec![0; self.partitions]),
            }
        })))
    }

    fn wait_visible(&self, level: Visibility, target: &[u64], timeout: Duration) -> Result<bool> {
        for r in &self.running {
            let shown = match level {
                Visibility::Fresh => r.wait_visible(target, timeout)?,
                Visibility::Stable => r.wait_published(target, timeout)?,
            };
            if !shown {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn tables(&self) -> Result<Vec<PartialTable>> {
        self.running
            .iter()
            .map(|r| Ok(r.lambda().views().table(self.log.as_ref())?))
            .collect()
    }

    fn recomputes(&self) -> Vec<Recompute> {
        let mut out = Vec::new();
        for r in &self.running {
            let workload = r.lambda().workload().name().to_owned();
            out.extend(r.batch_runs().into_iter().map(|b| Recompute {
                workload: workload.clone(),
                started: b.started,
                finished: b.finished,
                horizon_records: b.horizon.iter().sum(),
                horizon_taken: b.horizon_taken,
            }));
        }
        out.sort_by_key(|r| r.started);
        out
    }

    fn stable_updates(&self) -> u64 {
        let runs = self.running.iter().map(|r| r.batch_runs().len() as u64);
        runs.min().unwrap_or(0)
    }

    fn state_cells(&self) -> Option<u64> {
        None
    }

    fn stop(self: Box<Self>) -> Result<Vec<Final>> {
        let this = *self;
        let mut finals = Vec::new();
        let mut first_err = None;
        for r in this.running {
            let views = r.lambda().views().clone();
            match r.stop() {
                Ok(_) => finals.push(Final {
                    table: views.table(this.log.as_ref())?,
                    late_dropped: 0,
                    duplicates_removed: None,
                }),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        match first_err {
            Some(e) => Err(e.into()),
            None => Ok(finals),
        }
    }
}

/// Kappa: one stream job per workload, its fresh results kept in memory.
struct KappaPipeline {
    jobs: Vec<kappa::RunningJob>,
}

impl KappaPipeline {
    fn start(setup: &Setup) -> Result<Self> {
        let dir = setup.work.join("kappa");
        // What a previous comparison over this topic left on the log (changelogs, late
        // events) is removed first, or the jobs would restore its state and offsets.
        for w in &setup.workloads {
            for version in [1, 2] {
                let config = kappa_config(setup, dir.clone());
                kappa::retire(setup.log.as_ref(), &config, w.name(), version)?;
            }
        }
        let mut jobs = Vec::new();
        for w in &setup.workloads {
            let config = kappa::JobConfig {
                on_thread_start: Some(kappa::ThreadHook(Arc::new(|| {
                    alloc::set_thread_owner(Owner::Kappa)
                }))),
                ..kappa_config(setup, dir.clone())
            };
            let job = kappa::Job::new(setup.log.clone(), w.clone(), config)?;
            job.track_fresh();
            jobs.push(job.start()?);
        }
        Ok(KappaPipeline { jobs })
    }
}

impl Pipeline for KappaPipeline {
    fn architecture(&self) -> Architecture {
        Architecture::Kappa
    }

    fn describe(&self, level: Visibility) -> &'static str {
        match level {
            Visibility::Fresh => "the job's table with what its tasks processed, in memory",
            Visibility::Stable => "the committed checkpoints (changelog and state store)",
        }
    }

    fn visible(&self, level: Visibility) -> Result<Vec<u64>> {
        Ok(least(self.jobs.iter().map(|j| match level {
            Visibility::Fresh => j.job().fresh_positions(),
            Visibility::Stable => j.job().checkpointed_positions(),
        })))
    }

    fn wait_visible(&self, level: Visibility, target: &[u64], timeout: Duration) -> Result<bool> {
        for j in &self.jobs {
            let shown = match level {
                Visibility::Fresh => j.wait_fresh(target, timeout)?,
                Visibility::Stable => j.wait_checkpointed(target, timeout)?,
            };
            if !shown {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn tables(&self) -> Result<Vec<PartialTable>> {
        self.jobs
            .iter()
            .map(|j| Ok(j.job().fresh_table()?.table))
            .collect()
    }

    fn recomputes(&self) -> Vec<Recompute> {
        Vec::new()
    }

    fn stable_updates(&self) -> u64 {
        let tasks = self
            .jobs
            .iter()
            .flat_map(|j| j.status().partitions)
            .map(|p| p.checkpoints);
        tasks.min().unwrap_or(0)
    }

    fn state_cells(&self) -> Option<u64> {
        Some(self.jobs.iter().map(|j| j.status().open_cells).sum())
    }

    fn stop(self: Box<Self>) -> Result<Vec<Final>> {
        let mut finals = Vec::new();
        let mut first_err = None;
        for j in self.jobs {
            let job = j.job().clone();
            match j.stop() {
                Ok(_) => {
                    let t = job.table()?;
                    finals.push(Final {
                        table: t.table,
                        late_dropped: t.late_events,
                        duplicates_removed: Some(t.duplicates),
                    });
                }
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        match first_err {
            Some(e) => Err(e.into()),
            None => Ok(finals),
        }
    }
}
