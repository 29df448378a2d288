//! One comparison run, as named phases: prepare the log, start the pipelines, feed while
//! observing, drain, score against the oracle, reprocess, assemble. See the crate docs
//! for the picture and the contract; both pipelines go through [`crate::pipelines`].
//! A run may start both pipelines or one alone (`--alone`, `--find-max-rate`); what
//! repeats, sweeps and searches runs is [`crate::plan`].

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
use crate::disorder::DisorderMeter;
use crate::feed::{Due, Fed, feed, tick_of};
use crate::observe::{Reading, Sampler, Seen, Watched, observe, stall_timeout};
use crate::pipelines::{Architecture, Final, Pipeline, Recompute, Setup, Visibility};
use crate::report::{
    BatchRun, Complexity, Correctness, Disorder, LatenessSource, Params, PipelineReport, RunInfo,
    WorkloadFigures, WorkloadReport,
};
use crate::reprocess::{History, Timings};
use crate::resources::{CpuMeter, ThreadClass};
use crate::score::{WorkloadScore, pool, score_workload};
use crate::{CompareError, Result};

pub use crate::options::{CompareOptions, Source};

/// What the run is doing, for a progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Appending the records.
    Feed,
    /// Waiting for both pipelines to show everything appended, fresh and stable.
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
    /// Records visible to fresh queries in the Lambda pipeline (0 when it does not run).
    pub lambda_visible: u64,
    /// Records visible to fresh queries in the Kappa pipeline (0 when it does not run).
    pub kappa_visible: u64,
    /// This run's number, from 1, of `runs` (repeats, sweep values, controls, probes).
    pub run: u32,
    /// Runs planned (probes of a rate search are counted as they come).
    pub runs: u32,
    /// What this run is: `both`, `Lambda alone`, `Kappa alone`, `max-rate probe`.
    pub what: &'static str,
}

/// What one run is for.
#[derive(Debug, Clone)]
pub(crate) struct Scope {
    /// The pipelines it starts, in report order.
    pub archs: Vec<Architecture>,
    /// Score the answers against the oracle.
    pub score: bool,
    /// Reprocess the history afterwards (when the options ask for it).
    pub reprocess: bool,
    /// Observe the stable level too (a rate probe needs the fresh one only, and would
    /// otherwise wait for Lambda's next batch run after its feed).
    pub stable: bool,
    /// For the progress display.
    pub run: u32,
    pub runs: u32,
    pub what: &'static str,
}

/// Counts the runs for the progress display.
pub(crate) struct Counter {
    pub done: u32,
    pub planned: u32,
}

impl Counter {
    /// A probe of a rate search: `arch` alone, fresh level only, not scored, not
    /// reprocessed.
    pub fn probe(&mut self, arch: Architecture) -> Scope {
        self.planned += 1;
        let mut s = self.scope(&[arch], "max-rate probe");
        s.score = false;
        s.stable = false;
        s
    }

    pub fn scope(&mut self, archs: &[Architecture], what: &'static str) -> Scope {
        self.done += 1;
        let both = archs.len() == 2;
        Scope {
            archs: archs.to_vec(),
            score: both,
            reprocess: both,
            stable: true,
            run: self.done,
            runs: self.planned.max(self.done),
            what,
        }
    }
}

/// The complexity figures of the run's workloads (the same in every run).
#[derive(Debug, Clone, Default)]
pub(crate) struct Code {
    pub lambda: Complexity,
    pub kappa: Complexity,
    /// Per workload: (Lambda, Kappa).
    pub per_workload: Vec<(Complexity, Complexity)>,
}

/// What one run measured.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    pub params: Params,
    pub run: RunInfo,
    pub disorder: Option<Disorder>,
    /// One per pipeline of the scope, in its order.
    pub reports: Vec<(Architecture, PipelineReport)>,
    /// Per workload, when both pipelines ran and were scored.
    pub workloads: Vec<WorkloadReport>,
    pub batch_runs: Vec<BatchRun>,
}

impl Outcome {
    /// The report of `arch`, if it ran.
    pub fn get(&self, arch: Architecture) -> Option<&PipelineReport> {
        self.reports
            .iter()
            .find(|(a, _)| *a == arch)
            .map(|(_, r)| r)
    }
}

/// One run on `log` of the pipelines of `scope`. `stop` ends the feed early (Ctrl-C);
/// the rest of the run then reports what was measured.
pub(crate) fn once(
    log: Arc<dyn Log>,
    opts: &CompareOptions,
    scope: &Scope,
    code: &Code,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Outcome> {
    let started_wall = master_log::now_ms();
    let (setup, dataset, lateness_from, topic_disorder) = prepare_log(log, opts)?;
    let pipelines = start_pipelines(&setup, &scope.archs)?;
    let live = feed_and_observe(&setup, dataset, &pipelines, scope, stop, progress)?;
    let drained = drain(pipelines, live)?;
    if drained.live.interrupted && drained.live.records_fed == 0 {
        return Err(CompareError::Interrupted);
    }
    let scores = if scope.score {
        report_progress(progress, scope, Phase::Oracle, &drained.live);
        score(&setup, &drained)?
    } else {
        Vec::new()
    };
    let reprocessed = if scope.reprocess && opts.reprocess && !drained.live.interrupted {
        report_progress(progress, scope, Phase::Reprocess, &drained.live);
        crate::reprocess::run_all(&setup, &scope.archs)?
    } else {
        Vec::new()
    };
    let mut outcome = assemble(&setup, dataset, &drained, &scores, &reprocessed, code)?;
    outcome.params.allowed_lateness_from = lateness_from;
    if outcome.disorder.is_none() {
        outcome.disorder = topic_disorder;
    }
    outcome.run.started = workloads::rfc3339_millis(started_wall);
    Ok(outcome)
}

/// Prepare the log: with a generated source, a fresh topic (and its dataset sidecars);
/// a clean working directory; the workloads, the namespace and the allowed lateness of
/// the run (for an existing topic, measured from its records when not given).
#[allow(clippy::type_complexity)]
fn prepare_log(
    log: Arc<dyn Log>,
    opts: &CompareOptions,
) -> Result<(Setup, Option<DatasetKind>, LatenessSource, Option<Disorder>)> {
    let (dataset, topic) = match &opts.source {
        Source::Generate(d) => {
            let topic = generated_topic(opts, *d);
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
    // An existing topic's disorder is measured before the run (the feed measures a
    // generated one as it goes).
    let measured = match &opts.source {
        Source::Topic(_) => {
            let mut d = crate::disorder::measure_topic(
                log.as_ref(),
                &topic,
                opts.watermark_bound(),
                opts.allowed_lateness_ms.unwrap_or(0),
            )?;
            if opts.allowed_lateness_ms.is_none() {
                // The allowed lateness is made to cover all of it.
                d.beyond_allowed_lateness = 0;
            }
            Some(d)
        }
        Source::Generate(_) => None,
    };
    let (allowed_lateness_ms, from) = crate::disorder::allowed_lateness(opts, measured.as_ref());
    let namespace = namespace_of(&topic);
    let setup = Setup {
        log,
        topic,
        workloads,
        sidecar_dir: opts.sidecar_dir.clone(),
        work,
        namespace,
        allowed_lateness_ms,
        opts: opts.clone(),
    };
    Ok((setup, dataset, from, measured))
}

/// The namespace of the harness' Kappa jobs over `topic`: their own on the log, apart
/// from the user's jobs of the same workloads (`lk kappa run`).
pub(crate) fn namespace_of(topic: &str) -> String {
    if topic.starts_with("compare.") {
        topic.to_owned()
    } else {
        format!("compare.{topic}")
    }
}

/// The topic a generated run feeds.
pub(crate) fn generated_topic(opts: &CompareOptions, d: DatasetKind) -> String {
    opts.topic
        .clone()
        .unwrap_or_else(|| format!("compare.{}", d.name()))
}

/// Start the pipelines of `archs`, their threads charged to them (CPU by thread name,
/// heap by thread owner), each with the test-only injection meant for it, if any.
fn start_pipelines(setup: &Setup, archs: &[Architecture]) -> Result<Vec<Box<dyn Pipeline>>> {
    alloc::set_thread_owner(Owner::Harness);
    alloc::set_default_owner(Owner::Lambda);
    // The batch layer's decoding pool, named so that its CPU time is Lambda's. (If the
    // global pool already exists, its threads are unnamed and count as the harness'.)
    let _ = rayon::ThreadPoolBuilder::new()
        .thread_name(|i| format!("lambda-rayon-{i}"))
        .start_handler(|_| alloc::set_thread_owner(Owner::Lambda))
        .build_global();
    archs
        .iter()
        .map(|&arch| {
            let p = crate::pipelines::start(arch, setup)?;
            crate::inject::wrap(p, setup.opts.inject.as_ref())
        })
        .collect()
}

/// What the live phase measured. Per pipeline vectors are in the scope's order.
struct Live {
    start: Instant,
    feed_end: Instant,
    fed: bool,
    records_fed: u64,
    total: u64,
    fed_stats: Fed,
    disorder: Option<Disorder>,
    interrupted: bool,
    archs: Vec<Architecture>,
    /// Per pipeline, per level (in [`Visibility::BOTH`] order).
    seen: Vec<[Seen; 2]>,
    /// Per pipeline, what a query at each level reads.
    what: Vec<[&'static str; 2]>,
    cpu_seconds: Vec<f64>,
    harness_cpu_seconds: f64,
    peak_heap_bytes: Vec<Option<u64>>,
    readings: Vec<Reading>,
    /// The feed's error, reported after the pipelines are stopped.
    feed_error: Option<CompareError>,
}

impl Live {
    /// Records fresh in the pipeline of `arch` so far (0 when it does not run).
    fn visible(&self, seen: &[[Seen; 2]], arch: Architecture) -> u64 {
        self.archs
            .iter()
            .position(|a| *a == arch)
            .map_or(0, |i| seen[i][0].records.load(Ordering::SeqCst))
    }

    fn progress(&self, seen: &[[Seen; 2]], scope: &Scope, phase: Phase, fed: u64) -> Progress {
        Progress {
            phase,
            fed,
            total: self.total,
            lambda_visible: self.visible(seen, Architecture::Lambda),
            kappa_visible: self.visible(seen, Architecture::Kappa),
            run: scope.run,
            runs: scope.runs,
            what: scope.what,
        }
    }
}

fn report_progress(progress: &mut dyn FnMut(&Progress), scope: &Scope, phase: Phase, live: &Live) {
    progress(&live.progress(&live.seen, scope, phase, live.records_fed));
}

/// Feed the topic on this thread at the run's rate while two observers per pipeline
/// (one per visibility level) and the sampler watch; then wait until every pipeline
/// shows everything fed at both levels, and read the CPU and heap each used.
fn feed_and_observe(
    setup: &Setup,
    dataset: Option<DatasetKind>,
    pipelines: &[Box<dyn Pipeline>],
    scope: &Scope,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Live> {
    let opts = &setup.opts;
    let cpu = Mutex::new(CpuMeter::start());
    alloc::reset_peaks();
    let start = Instant::now() + Duration::from_millis(20);
    let fed = dataset.is_some();
    let seen: Vec<[Seen; 2]> = pipelines
        .iter()
        .map(|_| Ok([Seen::new()?, Seen::new()?]))
        .collect::<Result<_>>()?;
    let sampler = Sampler {
        start,
        tick: tick_of(opts.rate),
        frontier: AtomicI64::new(i64::MIN),
        fed_batches: AtomicU64::new(0),
        stop: AtomicBool::new(false),
    };
    let abort = AtomicBool::new(false);
    let stall = stall_timeout(opts.batch_every.max(opts.checkpoint_interval));
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
        fed_stats: Fed::default(),
        disorder: None,
        interrupted: false,
        archs: pipelines.iter().map(|p| p.architecture()).collect(),
        seen: Vec::new(),
        what: pipelines
            .iter()
            .map(|p| Visibility::BOTH.map(|l| p.describe(l)))
            .collect(),
        cpu_seconds: Vec::new(),
        harness_cpu_seconds: 0.0,
        peak_heap_bytes: Vec::new(),
        readings: Vec::new(),
        feed_error: None,
    };
    thread::scope(|s| -> Result<()> {
        let mut senders = Vec::new();
        let mut observers = Vec::new();
        for (p, levels) in pipelines.iter().zip(&seen) {
            for (level, seen_at) in Visibility::BOTH.into_iter().zip(levels) {
                if level == Visibility::Stable && !scope.stable {
                    continue;
                }
                let (tx, rx) = mpsc::channel::<Due>();
                senders.push(tx);
                let (p, abort) = (p.as_ref(), &abort);
                let name = format!("lk-observe-{}", level.name());
                // Stable results are fresh too: the fresh observer takes the stable
                // observer's sighting of a batch when that came first.
                // (`levels` is in `Visibility::BOTH` order: fresh, then stable.)
                let implied_by = (level == Visibility::Fresh && scope.stable).then(|| &levels[1]);
                observers.push(harness_thread(s, &name, move || {
                    observe(p, level, seen_at, implied_by, start, rx, abort, stall)
                })?);
            }
        }
        let watched: Vec<Watched<'_>> = pipelines
            .iter()
            .zip(&seen)
            .map(|(p, [f, st])| Watched {
                pipeline: p.as_ref(),
                seen: [f, st],
            })
            .collect();
        let (sampler_ref, cpu_ref) = (&sampler, &cpu);
        let sampling = harness_thread(s, "lk-sampler", move || sampler_ref.run(&watched, cpu_ref))?;
        run_feed(
            setup, dataset, &sampler, &senders, stop, &mut live, &seen, scope, progress,
        );
        drop(senders);
        live.interrupted = stop.load(Ordering::SeqCst);
        // Catch-up: wait for every observer.
        while !observers.iter().all(|o| o.is_finished()) {
            progress(&live.progress(&seen, scope, Phase::CatchUp, live.records_fed));
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
    seen: &[[Seen; 2]],
    scope: &Scope,
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
        partitions: opts.partitions,
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
    let mut meter = match DisorderMeter::new(
        opts.partitions,
        opts.watermark_bound(),
        setup.allowed_lateness_ms,
    ) {
        Ok(m) => m,
        Err(e) => {
            live.feed_error = Some(e);
            return;
        }
    };
    let start = live.start;
    let mut records_fed = 0u64;
    let mut fed_stats = Fed::default();
    let result = {
        let live_ref = &*live;
        feed(
            setup.log.as_ref(),
            &setup.topic,
            &gen_opts,
            start,
            sampler.tick,
            stop,
            &mut meter,
            |fed_now| {
                if Instant::now() >= start {
                    progress(&live_ref.progress(seen, scope, Phase::Feed, fed_now));
                }
            },
            |d: Due, fed: &Fed| {
                sampler.frontier.fetch_max(fed.max_time, Ordering::SeqCst);
                sampler.fed_batches.store(d.index + 1, Ordering::SeqCst);
                records_fed += d.records;
                fed_stats = *fed;
                send(&d);
            },
        )
    };
    live.records_fed = records_fed;
    live.fed_stats = fed_stats;
    live.disorder = Some(meter.report());
    live.feed_end = Instant::now();
    if let Err(e) = result {
        live.feed_error = Some(e);
    }
}

/// The CPU class of a pipeline's threads.
fn class_of(arch: Architecture) -> ThreadClass {
    match arch {
        Architecture::Lambda => ThreadClass::Lambda,
        Architecture::Kappa => ThreadClass::Kappa,
    }
}

/// The heap owner of a pipeline's threads.
fn owner_of(arch: Architecture) -> Owner {
    match arch {
        Architecture::Lambda => Owner::Lambda,
        Architecture::Kappa => Owner::Kappa,
    }
}

/// CPU seconds per pipeline (and the harness') and peak heap per pipeline, read when
/// every pipeline has caught up.
fn measure_resources(cpu: &Mutex<CpuMeter>, live: &mut Live) {
    let mut cpu = cpu.lock();
    cpu.sample();
    live.cpu_seconds = live
        .archs
        .iter()
        .map(|&a| cpu.seconds(class_of(a)))
        .collect();
    live.harness_cpu_seconds = cpu.seconds(ThreadClass::Harness);
    live.peak_heap_bytes = live
        .archs
        .iter()
        .map(|&a| alloc::installed().then(|| alloc::peak_bytes(owner_of(a))))
        .collect();
}

/// What draining left: the live phase's measurements, each pipeline's final answers,
/// Lambda's recomputations and how often each pipeline made its results stable.
struct Drained {
    live: Live,
    /// One per pipeline; each one per workload.
    finals: Vec<Vec<Final>>,
    recomputes: Vec<Recompute>,
    stable_updates: Vec<u64>,
}

/// Stop the pipelines and collect their final answers; then report the first error of
/// the live phase, if any (the feed's first, then the pipelines', then the observers').
fn drain(pipelines: Vec<Box<dyn Pipeline>>, mut live: Live) -> Result<Drained> {
    let recomputes = pipelines
        .iter()
        .flat_map(|p| p.recomputes())
        .collect::<Vec<_>>();
    let stable_updates = pipelines.iter().map(|p| p.stable_updates()).collect();
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
    for (levels, name) in live.seen.iter().zip(names) {
        for (seen, level) in levels.iter().zip(Visibility::BOTH) {
            if let Some(e) = seen.failed.lock().take() {
                return Err(CompareError::Run(format!("{name} ({}): {e}", level.name())));
            }
        }
    }
    Ok(Drained {
        live,
        finals,
        recomputes,
        stable_updates,
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

/// The run's figures: every pipeline's assembled the same way.
fn assemble(
    setup: &Setup,
    dataset: Option<DatasetKind>,
    drained: &Drained,
    scores: &[WorkloadScore],
    reprocessed: &Timings,
    code: &Code,
) -> Result<Outcome> {
    let live = &drained.live;
    let records_total: u64 = setup.log.end_offsets(&setup.topic)?.iter().sum();
    let history = crate::reprocess::history(setup.log.as_ref(), &setup.topic, records_total)?;
    let facts = RunFacts {
        start: live.start,
        feed_end: live.feed_end,
        fed: live.fed,
        records_seen: if live.fed {
            live.records_fed
        } else {
            records_total
        },
        readings: &live.readings,
    };
    let mut reports = Vec::new();
    for (i, &arch) in live.archs.iter().enumerate() {
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
            what: live.what[i],
            cpu_seconds: live.cpu_seconds[i],
            peak_heap_bytes: live.peak_heap_bytes[i],
            stable_updates: drained.stable_updates[i],
            finals: scores.iter().map(|s| s.finals[i].clone()).collect(),
            over_time,
            reprocess: reprocessed.get(i).map_or(&[], Vec::as_slice),
            reprocess_durability: crate::pipelines::reprocess_durability(arch),
            history,
            complexity: match arch {
                Architecture::Lambda => code.lambda.clone(),
                Architecture::Kappa => code.kappa.clone(),
            },
        };
        reports.push((arch, pipeline_report(measured, &facts)));
    }
    let both = live.archs == Architecture::BOTH;
    let workload_reports = if both {
        workload_reports(scores, reprocessed, history, code)
    } else {
        Vec::new()
    };
    let secs = |t: Instant| t.saturating_duration_since(live.start).as_secs_f64();
    Ok(Outcome {
        params: params(setup, dataset, live, records_total),
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
            arrivals: live.fed_stats.arrivals,
            feed_behind_ms: live.fed_stats.behind.as_secs_f64() * 1000.0,
            interrupted: live.interrupted,
            peak_rss_bytes: crate::resources::peak_rss_bytes(),
            harness_cpu_seconds: live.harness_cpu_seconds,
        },
        disorder: live.disorder.clone(),
        reports,
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
    })
}

/// Per workload, both pipelines' figures (pipeline 0 is Lambda, 1 Kappa).
fn workload_reports(
    scores: &[WorkloadScore],
    reprocessed: &Timings,
    history: History,
    code: &Code,
) -> Vec<WorkloadReport> {
    let figures = |i: usize, w: usize| {
        let reprocess = reprocessed.get(i).and_then(|s| s.get(w)).and_then(|runs| {
            let arch = Architecture::BOTH[i];
            crate::reprocess::figures(
                std::slice::from_ref(runs),
                history,
                crate::pipelines::reprocess_durability(arch),
            )
        });
        WorkloadFigures {
            correctness: scores[w].finals[i].clone(),
            reprocess_seconds: reprocess.as_ref().map(|r| r.total.median),
            reprocess,
            complexity: code
                .per_workload
                .get(w)
                .map(|c| if i == 0 { c.0.clone() } else { c.1.clone() })
                .unwrap_or_default(),
        }
    };
    scores
        .iter()
        .enumerate()
        .map(|(w, s)| WorkloadReport {
            name: s.name.clone(),
            oracle_cells: s.oracle_cells,
            lambda: figures(0, w),
            kappa: figures(1, w),
        })
        .collect()
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
        allowed_lateness_ms: setup.allowed_lateness_ms,
        allowed_lateness_from: LatenessSource::Option,
        watermark_bound_ms: opts.watermark_bound(),
        checkpoint_interval_ms: opts.checkpoint_interval.as_millis() as u64,
        kappa_workers: opts.kappa_workers,
        repeat: opts.repeat,
    }
}

/// The workloads of the run: the given ones, or every built-in of the dataset.
pub(crate) fn resolve_workloads(
    opts: &CompareOptions,
    dataset: Option<DatasetKind>,
) -> Result<Vec<Workload>> {
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
