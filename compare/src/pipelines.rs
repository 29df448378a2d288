//! Both architectures behind one interface: the harness starts, observes, queries, stops
//! and reprocesses Lambda and Kappa through [`Pipeline`] and the functions of this module
//! alone, so that a difference in the report can only come from the architectures (the
//! `lambda` and `kappa` crates), not from how the harness drives them.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lambda::{Lambda, LambdaConfig, RunningLambda};
use master_log::Log;
use workloads::{PartialTable, Workload};

use crate::alloc::{self, Owner};
use crate::options::CompareOptions;
use crate::{CompareError, Result};

/// The two architectures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    /// Batch layer + speed layer + serving merge (the `lambda` crate).
    Lambda,
    /// One stream job per workload, reprocessing by replay (the `kappa` crate).
    Kappa,
}

impl Architecture {
    /// Both, in report order.
    pub const BOTH: [Architecture; 2] = [Architecture::Lambda, Architecture::Kappa];

    /// Its name, as the report writes it.
    pub fn name(self) -> &'static str {
        match self {
            Architecture::Lambda => "Lambda",
            Architecture::Kappa => "Kappa",
        }
    }
}

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
    /// Whether a query of every workload shows every record below `target`, waiting up
    /// to about `timeout`.
    fn wait_visible(&self, target: &[u64], timeout: Duration) -> Result<bool>;
    /// What a query of each workload sees now (in workload order).
    fn tables(&self) -> Result<Vec<PartialTable>>;
    /// The recomputations run so far.
    fn recomputes(&self) -> Vec<Recompute>;
    /// Stop, and give each workload's final answer.
    fn stop(self: Box<Self>) -> Result<Vec<Final>>;
}

/// Start `arch` over `setup`.
pub(crate) fn start(arch: Architecture, setup: &Setup) -> Result<Box<dyn Pipeline>> {
    match arch {
        Architecture::Lambda => Ok(Box::new(LambdaPipeline::start(setup)?)),
        Architecture::Kappa => Ok(Box::new(KappaPipeline::start(setup)?)),
    }
}

/// Recompute the whole history of `workload` with `arch`; the seconds it took.
pub(crate) fn reprocess(arch: Architecture, setup: &Setup, workload: &Workload) -> Result<f64> {
    match arch {
        Architecture::Lambda => {
            let t = Instant::now();
            lambda::recompute(
                setup.log.as_ref(),
                workload,
                &setup.topic,
                &setup.sidecar_dir,
            )?;
            Ok(t.elapsed().as_secs_f64())
        }
        Architecture::Kappa => {
            let config = kappa::JobConfig {
                version: 2,
                serve_if_none: false,
                ..kappa_config(setup, setup.work.join("reprocess"))
            };
            let t = Instant::now();
            kappa::Job::new(setup.log.clone(), workload.clone(), config)?.run_until_caught_up()?;
            Ok(t.elapsed().as_secs_f64())
        }
    }
}

/// The Kappa job settings of the run (the same for the live job and the reprocessing).
fn kappa_config(setup: &Setup, dir: PathBuf) -> kappa::JobConfig {
    let o = &setup.opts;
    kappa::JobConfig {
        namespace: Some(setup.namespace.clone()),
        workers: o.kappa_workers,
        watermark_bound_ms: o.watermark_bound(),
        allowed_lateness_ms: o.allowed_lateness_ms,
        checkpoint_interval: o.checkpoint_interval,
        ..kappa::JobConfig::new(&setup.topic, dir, &setup.sidecar_dir)
    }
}

/// Lambda: one pipeline per workload, their speed layers on one runtime.
struct LambdaPipeline {
    log: Arc<dyn Log>,
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
            running,
            _runtime: runtime,
        })
    }
}

impl Pipeline for LambdaPipeline {
    fn architecture(&self) -> Architecture {
        Architecture::Lambda
    }

    fn wait_visible(&self, target: &[u64], timeout: Duration) -> Result<bool> {
        for r in &self.running {
            if !r.wait_visible(target, timeout)? {
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
            out.extend(r.status().batch_runs.into_iter().map(|b| Recompute {
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

/// Kappa: one stream job per workload.
struct KappaPipeline {
    jobs: Vec<kappa::RunningJob>,
    /// Visible once the table files show it (read-uncommitted), else once the
    /// checkpoint that covers it is published.
    uncommitted: bool,
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
                uncommitted_every: setup.opts.kappa_uncommitted_every,
                on_thread_start: Some(kappa::ThreadHook(Arc::new(|| {
                    alloc::set_thread_owner(Owner::Kappa)
                }))),
                ..kappa_config(setup, dir.clone())
            };
            jobs.push(kappa::Job::new(setup.log.clone(), w.clone(), config)?.start()?);
        }
        Ok(KappaPipeline {
            jobs,
            uncommitted: setup.opts.kappa_uncommitted_every.is_some(),
        })
    }
}

impl Pipeline for KappaPipeline {
    fn architecture(&self) -> Architecture {
        Architecture::Kappa
    }

    fn wait_visible(&self, target: &[u64], timeout: Duration) -> Result<bool> {
        for j in &self.jobs {
            let shown = if self.uncommitted {
                j.wait_visible(target, timeout)?
            } else {
                j.wait_checkpointed(target, timeout)?
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
            .map(|j| Ok(j.job().table()?.table))
            .collect()
    }

    fn recomputes(&self) -> Vec<Recompute> {
        Vec::new()
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
