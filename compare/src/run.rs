//! One comparison run, as named phases: prepare the log, start the pipelines, feed while
//! observing, drain, score against the oracle, reprocess, report. See the crate docs for
//! the picture and the contract; both pipelines go through [`crate::pipelines`].

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use datasets::{DatasetKind, GenerateOptions};
use master_log::{Log, TopicConfig};
use parking_lot::Mutex;
use workloads::Workload;

use crate::alloc::{self, Owner};
use crate::assemble::{Measured, RunFacts, pipeline_report};
use crate::feed::{Due, feed, tick_of};
use crate::observe::{Reading, Sampler, Seen, observe};
use crate::pipelines::{Architecture, Final, Pipeline, Recompute, Setup};
use crate::report::{
    Arrivals, BatchRun, Complexity, Correctness, Params, Pipelines, Report, RunInfo,
    SCHEMA_VERSION, WorkloadFigures, WorkloadReport,
};
use crate::resources::{CpuMeter, ThreadClass};
use crate::score::{WorkloadScore, pool, score_workload};
use crate::{CompareError, Result};

pub use crate::options::{CompareOptions, Source};

/// What the run is doing, for a progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Appending the records.
    Feed,
    /// Waiting for both pipelines to show everything appended.
    CatchUp,
    /// Scoring the answers against the oracle's.
    Oracle,
    /// Recomputing the whole history with both pipelines.
    Reprocess,
}

/// Where the run is, for a progress display.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// The phase.
    pub phase: Phase,
    /// Records appended / to append.
    pub fed: u64,
    /// Records to append in all.
    pub total: u64,
    /// Records visible to queries in each pipeline.
    pub lambda_visible: u64,
    /// Records visible to queries in the Kappa pipeline.
    pub kappa_visible: u64,
}

/// Run a comparison on `log`. `stop` ends the feed early (Ctrl-C); the rest of the run
/// then reports what was measured.
pub fn run(
    log: Arc<dyn Log>,
    opts: &CompareOptions,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Report> {
    opts.validate()?;
    let started_wall = master_log::now_ms();
    let machine = crate::resources::machine();
    let (setup, dataset) = prepare_log(log, opts)?;
    let pipelines = start_pipelines(&setup)?;
    let live = feed_and_observe(&setup, dataset, &pipelines, stop, progress)?;
    let drained = drain(pipelines, live)?;
    report_progress(progress, Phase::Oracle, &drained.live);
    let scores = score(&setup, &drained)?;
    let reprocessed = if opts.reprocess && !drained.live.interrupted {
        report_progress(progress, Phase::Reprocess, &drained.live);
        reprocess(&setup)?
    } else {
        Vec::new()
    };
    let mut report = assemble(&setup, dataset, &drained, &scores, &reprocessed, machine)?;
    report.run.started = workloads::rfc3339_millis(started_wall);
    report.verdict = crate::verdict::verdict(&report);
    Ok(report)
}

/// Prepare the log: with a generated source, a fresh topic (and its dataset sidecars);
/// a clean working directory; the workloads and the namespace of the run.
fn prepare_log(log: Arc<dyn Log>, opts: &CompareOptions) -> Result<(Setup, Option<DatasetKind>)> {
    let (dataset, topic) = match &opts.source {
        Source::Generate(d) => {
            let topic = opts
                .topic
                .clone()
                .unwrap_or_else(|| format!("compare.{}", d.name()));
            master_log::validate_name(&topic)?;
            if log.list_topics()?.iter().any(|t| t.name == topic) {
                log.delete_topic(&topic)?;
            }
            log.create_topic(&topic, TopicConfig::with_partitions(opts.partitions))?;
            std::fs::create_dir_all(&opts.sidecar_dir).map_err(CompareError::io(format!(
                "create {}",
                opts.sidecar_dir.display()
            )))?;
            if *d == DatasetKind::Ysb {
                datasets::YsbCampaigns::new(opts.seed)
                    .write_csv(&opts.sidecar_dir.join(format!("{topic}.campaigns.csv")))?;
            }
            (Some(*d), topic)
        }
        Source::Topic(t) => (None, t.clone()),
    };
    log.partition_count(&topic)?;
    let workloads = resolve_workloads(opts, dataset)?;
    let work = opts.work_dir.join(&topic);
    if work.exists() {
        std::fs::remove_dir_all(&work)
            .map_err(CompareError::io(format!("clear {}", work.display())))?;
    }
    std::fs::create_dir_all(&work)
        .map_err(CompareError::io(format!("create {}", work.display())))?;
    // The harness' Kappa jobs live in their own namespace on the log, apart from the
    // user's jobs of the same workloads (`lk kappa run`).
    let namespace = if topic.starts_with("compare.") {
        topic.clone()
    } else {
        format!("compare.{topic}")
    };
    let setup = Setup {
        log,
        topic,
        workloads,
        sidecar_dir: opts.sidecar_dir.clone(),
        work,
        namespace,
        opts: opts.clone(),
    };
    Ok((setup, dataset))
}

/// Start both pipelines, their threads charged to them (CPU by thread name, heap by
/// thread owner).
fn start_pipelines(setup: &Setup) -> Result<Vec<Box<dyn Pipeline>>> {
    alloc::set_thread_owner(Owner::Harness);
    alloc::set_default_owner(Owner::Lambda);
    // The batch layer's decoding pool, named so that its CPU time is Lambda's. (If the
    // global pool already exists, its threads are unnamed and count as the harness'.)
    let _ = rayon::ThreadPoolBuilder::new()
        .thread_name(|i| format!("lambda-rayon-{i}"))
        .start_handler(|_| alloc::set_thread_owner(Owner::Lambda))
        .build_global();
    Architecture::BOTH
        .iter()
        .map(|&arch| crate::pipelines::start(arch, setup))
        .collect()
}

/// What the live phase measured.
struct Live {
    start: Instant,
    feed_end: Instant,
    fed: bool,
    records_fed: u64,
    total: u64,
    arrivals: Arrivals,
    interrupted: bool,
    /// One per pipeline, in [`Architecture::BOTH`] order.
    seen: Vec<Seen>,
    cpu_seconds: Vec<f64>,
    harness_cpu_seconds: f64,
    peak_heap_bytes: Vec<Option<u64>>,
    readings: Vec<Reading>,
    /// The feed's error, reported after the pipelines are stopped.
    feed_error: Option<CompareError>,
}

fn report_progress(progress: &mut dyn FnMut(&Progress), phase: Phase, live: &Live) {
    let visible = |i: usize| live.seen[i].records.load(Ordering::SeqCst);
    progress(&Progress {
        phase,
        fed: live.records_fed,
        total: live.total,
        lambda_visible: visible(0),
        kappa_visible: visible(1),
    });
}

/// Feed the topic on this thread at the run's rate while an observer per pipeline and
/// the sampler watch; then wait until both pipelines show everything fed, and read the
/// CPU and heap each used.
fn feed_and_observe(
    setup: &Setup,
    dataset: Option<DatasetKind>,
    pipelines: &[Box<dyn Pipeline>],
    stop: &AtomicBool,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Live> {
    let opts = &setup.opts;
    let cpu = Mutex::new(CpuMeter::start());
    alloc::reset_peaks();
    let start = Instant::now() + Duration::from_millis(20);
    let fed = dataset.is_some();
    let seen = vec![Seen::new()?, Seen::new()?];
    let sampler = Sampler {
        start,
        tick: tick_of(opts.rate),
        frontier: AtomicI64::new(i64::MIN),
        fed_batches: AtomicU64::new(0),
        stop: AtomicBool::new(false),
    };
    let abort = AtomicBool::new(false);
    let total = if fed {
        opts.events
    } else {
        setup.log.end_offsets(&setup.topic)?.iter().sum()
    };
    let mut live = Live {
        start,
        feed_end: start,
        fed,
        records_fed: 0,
        total,
        arrivals: Arrivals::default(),
        interrupted: false,
        seen: Vec::new(),
        cpu_seconds: Vec::new(),
        harness_cpu_seconds: 0.0,
        peak_heap_bytes: Vec::new(),
        readings: Vec::new(),
        feed_error: None,
    };
    thread::scope(|scope| -> Result<()> {
        let mut senders = Vec::new();
        let mut observers = Vec::new();
        for ((p, s), name) in pipelines
            .iter()
            .zip(&seen)
            .zip(["lk-observe-l", "lk-observe-k"])
        {
            let (tx, rx) = mpsc::channel::<Due>();
            senders.push(tx);
            let (p, abort) = (p.as_ref(), &abort);
            observers.push(harness_thread(scope, name, move || {
                observe(p, s, start, rx, abort)
            })?);
        }
        let watched: Vec<(&dyn Pipeline, &Seen)> =
            pipelines.iter().map(|p| p.as_ref()).zip(&seen).collect();
        let (sampler_ref, cpu_ref) = (&sampler, &cpu);
        let sampling = harness_thread(scope, "lk-sampler", move || {
            sampler_ref.run(&watched, cpu_ref)
        })?;
        run_feed(
            setup, dataset, &sampler, &senders, stop, &mut live, &seen, progress,
        );
        drop(senders);
        live.interrupted = stop.load(Ordering::SeqCst);
        // Catch-up: wait for both observers.
        while !observers.iter().all(|o| o.is_finished()) {
            progress(&Progress {
                phase: Phase::CatchUp,
                fed: live.records_fed,
                total,
                lambda_visible: seen[0].records.load(Ordering::SeqCst),
                kappa_visible: seen[1].records.load(Ordering::SeqCst),
            });
            thread::sleep(Duration::from_millis(100));
        }
        measure_resources(&cpu, &mut live);
        sampler.stop.store(true, Ordering::SeqCst);
        abort.store(true, Ordering::SeqCst);
        // Errors are kept for after the pipelines stopped (the feed's comes first).
        for o in observers {
            if let Err(e) = join(o, "an observer") {
                live.feed_error.get_or_insert(e);
            }
        }
        match join(sampling, "the sampler") {
            Ok(r) => live.readings = r,
            Err(e) => {
                live.feed_error.get_or_insert(e);
            }
        }
        Ok(())
    })?;
    live.seen = seen;
    Ok(live)
}

/// The feed itself: generated records at the schedule, each batch handed to every
/// observer; without a generated source, the topic's end as one batch due at the start.
#[allow(clippy::too_many_arguments)]
fn run_feed(
    setup: &Setup,
    dataset: Option<DatasetKind>,
    sampler: &Sampler,
    observers: &[mpsc::Sender<Due>],
    stop: &AtomicBool,
    live: &mut Live,
    seen: &[Seen],
    progress: &mut dyn FnMut(&Progress),
) {
    let opts = &setup.opts;
    let send = |d: &Due| {
        for tx in observers {
            // A closed channel means the observer stopped (it reports why).
            let _ = tx.send(d.clone());
        }
    };
    let Some(dataset) = dataset else {
        let target = match setup.log.end_offsets(&setup.topic) {
            Ok(t) => t,
            Err(e) => {
                live.feed_error = Some(e.into());
                return;
            }
        };
        let d = Due {
            index: 0,
            due: live.start,
            records: target.iter().sum(),
            target,
        };
        sampler.fed_batches.store(1, Ordering::SeqCst);
        send(&d);
        return;
    };
    let gen_opts = GenerateOptions {
        partitions: setup.opts.partitions,
        seed: opts.seed,
        rate: Some(opts.rate),
        event_rate: opts.event_rate,
        out_of_order: opts.out_of_order,
        max_delay_ms: opts.max_delay_ms,
        late: opts.late,
        late_delay_ms: opts.late_delay_ms,
        duplicates: opts.duplicates,
        ..GenerateOptions::new(dataset, &setup.topic, opts.events)
    };
    let (start, total) = (live.start, live.total);
    let mut records_fed = 0u64;
    let mut arrivals = Arrivals::default();
    let result = feed(
        setup.log.as_ref(),
        &setup.topic,
        &gen_opts,
        start,
        sampler.tick,
        stop,
        |fed_now| {
            if Instant::now() >= start {
                progress(&Progress {
                    phase: Phase::Feed,
                    fed: fed_now,
                    total,
                    lambda_visible: seen[0].records.load(Ordering::SeqCst),
                    kappa_visible: seen[1].records.load(Ordering::SeqCst),
                });
            }
        },
        |d: Due, max_time: i64, arrival: &Arrivals| {
            sampler.frontier.fetch_max(max_time, Ordering::SeqCst);
            sampler.fed_batches.store(d.index + 1, Ordering::SeqCst);
            records_fed += d.records;
            arrivals = *arrival;
            send(&d);
        },
    );
    live.records_fed = records_fed;
    live.arrivals = arrivals;
    live.feed_end = Instant::now();
    if let Err(e) = result {
        live.feed_error = Some(e);
    }
}

/// CPU seconds per pipeline (and the harness') and peak heap per pipeline, read when
/// both pipelines have caught up.
fn measure_resources(cpu: &Mutex<CpuMeter>, live: &mut Live) {
    let mut cpu = cpu.lock();
    cpu.sample();
    live.cpu_seconds = vec![
        cpu.seconds(ThreadClass::Lambda),
        cpu.seconds(ThreadClass::Kappa),
    ];
    live.harness_cpu_seconds = cpu.seconds(ThreadClass::Harness);
    live.peak_heap_bytes = [Owner::Lambda, Owner::Kappa]
        .iter()
        .map(|&o| alloc::installed().then(|| alloc::peak_bytes(o)))
        .collect();
}

/// What draining left: the live phase's measurements, each pipeline's final answers and
/// its recomputations.
struct Drained {
    live: Live,
    /// One per pipeline, in [`Architecture::BOTH`] order; each one per workload.
    finals: Vec<Vec<Final>>,
    recomputes: Vec<Recompute>,
}

/// Stop both pipelines and collect their final answers; then report the first error of
/// the live phase, if any (the feed's first, then the pipelines', then the observers').
fn drain(pipelines: Vec<Box<dyn Pipeline>>, mut live: Live) -> Result<Drained> {
    let recomputes = pipelines[0].recomputes();
    let names: Vec<&str> = pipelines.iter().map(|p| p.architecture().name()).collect();
    let mut finals = Vec::new();
    let mut stop_error = None;
    for p in pipelines {
        match p.stop() {
            Ok(f) => finals.push(f),
            Err(e) => {
                stop_error.get_or_insert(e);
            }
        }
    }
    if let Some(e) = live.feed_error.take().or(stop_error) {
        return Err(e);
    }
    for (seen, name) in live.seen.iter().zip(names) {
        if let Some(e) = seen.failed.lock().take() {
            return Err(CompareError::Run(format!("{name}: {e}")));
        }
    }
    Ok(Drained {
        live,
        finals,
        recomputes,
    })
}

/// Score every workload's answers, final and over time, against the oracle's.
fn score(setup: &Setup, drained: &Drained) -> Result<Vec<WorkloadScore>> {
    let max_delay = setup.opts.max_delay_ms as i64;
    setup
        .workloads
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let expected = oracle::answer(setup.log.as_ref(), w, &setup.topic, &setup.sidecar_dir)?;
            score_workload(
                i,
                w,
                &expected,
                &drained.finals,
                &drained.live.readings,
                max_delay,
            )
        })
        .collect()
}

/// Recompute the whole history of every workload with both pipelines; seconds per
/// pipeline, per workload.
fn reprocess(setup: &Setup) -> Result<Vec<Vec<f64>>> {
    let mut secs = vec![Vec::new(); Architecture::BOTH.len()];
    for w in &setup.workloads {
        for (i, &arch) in Architecture::BOTH.iter().enumerate() {
            secs[i].push(crate::pipelines::reprocess(arch, setup, w)?);
        }
    }
    Ok(secs)
}

/// The report: complexity measured from the source, every figure assembled the same way
/// for both pipelines.
fn assemble(
    setup: &Setup,
    dataset: Option<DatasetKind>,
    drained: &Drained,
    scores: &[WorkloadScore],
    reprocessed: &[Vec<f64>],
    machine: crate::report::Machine,
) -> Result<Report> {
    let live = &drained.live;
    let records_total: u64 = setup.log.end_offsets(&setup.topic)?.iter().sum();
    let per_workload: Vec<(Complexity, Complexity)> = setup
        .workloads
        .iter()
        .map(crate::complexity::complexity)
        .collect::<code_metrics::Result<_>>()?;
    let (lambda_code, kappa_code) = crate::complexity::complexity_of(&setup.workloads)?;
    let facts = RunFacts {
        start: live.start,
        feed_end: live.feed_end,
        fed: live.fed,
        records_seen: if live.fed {
            live.records_fed
        } else {
            records_total
        },
        records_total,
        readings: &live.readings,
    };
    let mut reports = Vec::new();
    for (i, code) in [lambda_code, kappa_code].into_iter().enumerate() {
        let over_time = (0..live.readings.len())
            .map(|r| {
                let c: Vec<Correctness> = scores
                    .iter()
                    .filter_map(|s| s.over_time[i][r].clone())
                    .collect();
                (!c.is_empty()).then(|| pool(&c))
            })
            .collect();
        let measured = Measured {
            index: i,
            seen: &live.seen[i],
            cpu_seconds: live.cpu_seconds[i],
            peak_heap_bytes: live.peak_heap_bytes[i],
            finals: scores.iter().map(|s| s.finals[i].clone()).collect(),
            over_time,
            reprocess: reprocessed.get(i).cloned().unwrap_or_default(),
            complexity: code,
        };
        reports.push(pipeline_report(measured, &facts));
    }
    let kappa_report = reports
        .pop()
        .ok_or_else(|| CompareError::Run("no Kappa report".into()))?;
    let lambda_report = reports
        .pop()
        .ok_or_else(|| CompareError::Run("no Lambda report".into()))?;
    let figures = |i: usize, w: usize| WorkloadFigures {
        correctness: scores[w].finals[i].clone(),
        reprocess_seconds: reprocessed.get(i).and_then(|s| s.get(w)).copied(),
        complexity: if i == 0 {
            per_workload[w].0.clone()
        } else {
            per_workload[w].1.clone()
        },
    };
    let workload_reports = scores
        .iter()
        .enumerate()
        .map(|(w, s)| WorkloadReport {
            name: s.name.clone(),
            oracle_cells: s.oracle_cells,
            lambda: figures(0, w),
            kappa: figures(1, w),
        })
        .collect();
    let secs = |t: Instant| t.saturating_duration_since(live.start).as_secs_f64();
    Ok(Report {
        schema_version: SCHEMA_VERSION,
        params: params(setup, dataset, live, records_total),
        machine,
        run: RunInfo {
            started: String::new(),
            wall_seconds: secs(Instant::now()),
            feed_seconds: if live.fed {
                live.feed_end
                    .saturating_duration_since(live.start)
                    .as_secs_f64()
            } else {
                0.0
            },
            records_fed: live.records_fed,
            records_total,
            arrivals: live.arrivals,
            interrupted: live.interrupted,
            peak_rss_bytes: crate::resources::peak_rss_bytes(),
            harness_cpu_seconds: live.harness_cpu_seconds,
        },
        pipelines: Pipelines {
            lambda: lambda_report,
            kappa: kappa_report,
        },
        workloads: workload_reports,
        batch_runs: drained
            .recomputes
            .iter()
            .map(|r| BatchRun {
                workload: r.workload.clone(),
                started_s: secs(r.started),
                finished_s: secs(r.finished),
                horizon_records: r.horizon_records,
            })
            .collect(),
        verdict: Vec::new(),
    })
}

/// The run's parameters as the report states them.
fn params(setup: &Setup, dataset: Option<DatasetKind>, live: &Live, records_total: u64) -> Params {
    let opts = &setup.opts;
    let fed = live.fed;
    Params {
        dataset: dataset.map(|d| d.name().to_owned()),
        topic: setup.topic.clone(),
        fed,
        workloads: setup
            .workloads
            .iter()
            .map(|w| w.name().to_owned())
            .collect(),
        events: if fed { opts.events } else { records_total },
        rate_eps: if fed { opts.rate } else { 0 },
        event_rate_eps: if fed {
            opts.event_rate.unwrap_or(opts.rate)
        } else {
            0
        },
        partitions: setup
            .log
            .partition_count(&setup.topic)
            .unwrap_or(opts.partitions),
        seed: opts.seed,
        out_of_order: opts.out_of_order,
        max_delay_ms: opts.max_delay_ms,
        late: opts.late,
        late_delay_ms: opts.late_delay_ms,
        duplicates: opts.duplicates,
        batch_every_ms: opts.batch_every.as_millis() as u64,
        allowed_lateness_ms: opts.allowed_lateness_ms,
        watermark_bound_ms: opts.watermark_bound(),
        checkpoint_interval_ms: opts.checkpoint_interval.as_millis() as u64,
        kappa_uncommitted_every_ms: opts.kappa_uncommitted_every.map(|d| d.as_millis() as u64),
        kappa_workers: opts.kappa_workers,
    }
}

/// The workloads of the run: the given ones, or every built-in of the dataset.
fn resolve_workloads(opts: &CompareOptions, dataset: Option<DatasetKind>) -> Result<Vec<Workload>> {
    if !opts.workloads.is_empty() {
        return Ok(opts.workloads.clone());
    }
    let Some(d) = dataset else {
        return Err(CompareError::Options(
            "with --topic, name the workloads to run with --workload".into(),
        ));
    };
    Ok(workloads::BuiltIn::ALL
        .iter()
        .filter(|b| b.dataset() == d.name())
        .map(|b| Workload::BuiltIn(*b))
        .collect())
}

/// Start a harness thread in `scope` (its allocations are the harness').
fn harness_thread<'scope, 'env, T: Send + 'scope>(
    scope: &'scope thread::Scope<'scope, 'env>,
    name: &str,
    f: impl FnOnce() -> Result<T> + Send + 'scope,
) -> Result<thread::ScopedJoinHandle<'scope, Result<T>>> {
    thread::Builder::new()
        .name(name.to_owned())
        .spawn_scoped(scope, move || {
            alloc::set_thread_owner(Owner::Harness);
            f()
        })
        .map_err(CompareError::io(format!("start thread {name}")))
}

fn join<T>(h: thread::ScopedJoinHandle<'_, Result<T>>, what: &str) -> Result<T> {
    h.join()
        .map_err(|_| CompareError::Run(format!("{what} panicked")))?
}
