//! One comparison run: feed, both pipelines, observers, sampler, then the final answers
//! against the oracle, reprocessing and code complexity. See the crate docs for the
//! picture and the contract.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use datasets::{Arrival, DatasetKind, GenerateOptions, Generator};
use hdrhistogram::Histogram;
use master_log::{Log, NewRecord, TopicConfig};
use parking_lot::Mutex;
use speed_layer::{SpeedConfig, SpeedLayer};
use workloads::{PartialTable, ResultSet, Workload};

use crate::alloc::{self, Owner};
use crate::live::LiveLambda;
use crate::report::{
    Arrivals, BatchRun, CdfPoint, Complexity, Correctness, Latency, Params, PipelineReport,
    Pipelines, Report, RunInfo, SCHEMA_VERSION, Sample, WorkloadFigures, WorkloadReport,
};
use crate::resources::{CpuMeter, ThreadClass};
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
    pub source: Source,
    /// The topic to feed (with [`Source::Generate`]); re-created if it exists.
    pub topic: Option<String>,
    /// The workloads both pipelines run; empty: every built-in of the dataset.
    pub workloads: Vec<Workload>,
    pub events: u64,
    /// Records appended per second.
    pub rate: u64,
    /// Seconds of event time per second of feed, as events per second of event time
    /// (default: `rate`, event time runs with the wall clock).
    pub event_rate: Option<u64>,
    pub partitions: u32,
    pub seed: u64,
    pub out_of_order: f64,
    pub max_delay_ms: u64,
    pub late: f64,
    pub late_delay_ms: u64,
    pub duplicates: f64,
    pub batch_every: Duration,
    pub allowed_lateness_ms: i64,
    /// Kappa's watermark bound (default: `max_delay_ms`, the data's known disorder).
    pub watermark_bound_ms: Option<i64>,
    pub checkpoint_interval: Duration,
    /// Kappa shows uncommitted results this often during the live phase (read-uncommitted,
    /// `kappa::JobConfig::uncommitted_every`), and its latency is measured to the table
    /// files; `None`: checkpointed results only (the job's default).
    pub kappa_uncommitted_every: Option<Duration>,
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

    fn validate(&self) -> Result<()> {
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

    fn watermark_bound(&self) -> i64 {
        self.watermark_bound_ms.unwrap_or(self.max_delay_ms as i64)
    }
}

/// What the run is doing, for a progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Feed,
    CatchUp,
    Oracle,
    Reprocess,
}

#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub phase: Phase,
    /// Records appended / to append.
    pub fed: u64,
    pub total: u64,
    /// Records visible to queries in each pipeline.
    pub lambda_visible: u64,
    pub kappa_visible: u64,
}

/// How often the sampler looks, and how often it also takes answers.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);
const ANSWERS_EVERY: usize = 20;
/// An observer gives up when a pipeline shows nothing new for this long.
const STALL_TIMEOUT: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_millis(200);

/// One scheduled batch of records: when it was due and the offsets that cover it.
#[derive(Debug, Clone)]
struct Due {
    index: u64,
    due: Instant,
    target: Vec<u64>,
    records: u64,
}

/// What one observer saw.
#[derive(Debug, Default)]
struct Seen {
    /// Batches and records visible so far.
    batches: AtomicU64,
    records: AtomicU64,
    /// Latency samples (visible at, latency), for the timeline.
    samples: Mutex<Vec<(Duration, Duration)>>,
    hist: Mutex<Option<Histogram<u64>>>,
    last_visible: Mutex<Option<Instant>>,
    failed: Mutex<Option<String>>,
}

/// The moment of a sampler reading, and answers if taken then.
struct Reading {
    t: Duration,
    lambda_staleness: Duration,
    kappa_staleness: Duration,
    lambda_visible: u64,
    kappa_visible: u64,
    batch_age: Option<Duration>,
    /// Newest event time appended by then, and the answers (per workload).
    answers: Option<(i64, Vec<PartialTable>, Vec<PartialTable>)>,
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
    alloc::set_thread_owner(Owner::Harness);
    alloc::set_default_owner(Owner::Lambda);
    // The batch layer's decoding pool, named so that its CPU time is Lambda's. (If the
    // global pool already exists, its threads are unnamed and count as the harness'.)
    let _ = rayon::ThreadPoolBuilder::new()
        .thread_name(|i| format!("lambda-rayon-{i}"))
        .start_handler(|_| alloc::set_thread_owner(Owner::Lambda))
        .build_global();
    let started_wall = master_log::now_ms();
    let machine = crate::resources::machine();

    // ---- the topic ----
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
    let partitions = log.partition_count(&topic)?;
    let workloads = resolve_workloads(opts, dataset)?;
    let work = opts.work_dir.join(&topic);
    if work.exists() {
        std::fs::remove_dir_all(&work)
            .map_err(CompareError::io(format!("clear {}", work.display())))?;
    }
    std::fs::create_dir_all(&work)
        .map_err(CompareError::io(format!("create {}", work.display())))?;

    // ---- Lambda: speed layers on tokio, the batch layer on its own thread ----
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("lambda-speed")
        .on_thread_start(|| alloc::set_thread_owner(Owner::Lambda))
        .enable_all()
        .build()
        .map_err(CompareError::io("start the speed layer's runtime"))?;
    let start_offsets = log.end_offsets(&topic)?;
    let mut lambdas = Vec::new();
    for w in &workloads {
        let speed = SpeedLayer::new(
            log.clone(),
            w.clone(),
            SpeedConfig::new(&topic, &opts.sidecar_dir),
            vec![0; partitions as usize],
        )?;
        // The first batch run reads what the topic holds now; the speed layer starts a
        // generation there so that the hand-off is exact.
        speed.begin_generation(&start_offsets)?;
        lambdas.push(Arc::new(LiveLambda::new(w.clone(), topic.clone(), speed)));
    }
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let speed_tasks: Vec<_> = lambdas
        .iter()
        .map(|l| {
            let speed = l.speed.clone();
            let rx = shutdown_rx.clone();
            runtime.spawn(async move { speed.run(rx).await })
        })
        .collect();

    // ---- Kappa: one job per workload ----
    let kappa_dir = work.join("kappa");
    // The harness' Kappa jobs live in their own namespace on the log, apart from the
    // user's jobs of the same workloads (`lk kappa run`); what a previous comparison over
    // this topic left there (changelogs, late events) is removed first, or the jobs would
    // restore its state and offsets.
    let namespace = if topic.starts_with("compare.") {
        topic.clone()
    } else {
        format!("compare.{topic}")
    };
    for w in &workloads {
        for version in [1, 2] {
            let config = kappa::JobConfig {
                namespace: Some(namespace.clone()),
                ..kappa::JobConfig::new(&topic, &kappa_dir, &opts.sidecar_dir)
            };
            kappa::retire(log.as_ref(), &config, w.name(), version)?;
        }
    }
    let mut jobs = Vec::new();
    for w in &workloads {
        let config = kappa::JobConfig {
            namespace: Some(namespace.clone()),
            workers: opts.kappa_workers,
            watermark_bound_ms: opts.watermark_bound(),
            allowed_lateness_ms: opts.allowed_lateness_ms,
            checkpoint_interval: opts.checkpoint_interval,
            uncommitted_every: opts.kappa_uncommitted_every,
            on_thread_start: Some(kappa::ThreadHook(Arc::new(|| {
                alloc::set_thread_owner(Owner::Kappa)
            }))),
            ..kappa::JobConfig::new(&topic, &kappa_dir, &opts.sidecar_dir)
        };
        let job = kappa::Job::new(log.clone(), w.clone(), config)?;
        jobs.push(job.start()?);
    }

    // ---- measurement threads ----
    let cpu = Arc::new(Mutex::new(CpuMeter::start()));
    alloc::reset_peaks();
    let start = Instant::now() + Duration::from_millis(20);
    let fed = !matches!(opts.source, Source::Topic(_));
    let lambda_seen = Arc::new(Seen::default());
    let kappa_seen = Arc::new(Seen::default());
    let (lambda_tx, lambda_rx) = mpsc::channel::<Due>();
    let (kappa_tx, kappa_rx) = mpsc::channel::<Due>();
    let abort = Arc::new(AtomicBool::new(false));
    let lambda_observer = {
        let seen = lambda_seen.clone();
        let speeds: Vec<SpeedLayer> = lambdas.iter().map(|l| l.speed.clone()).collect();
        let abort = abort.clone();
        spawn("lk-observe-l", move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(CompareError::io("start the observer's runtime"))?;
            observe(&seen, start, lambda_rx, &abort, |target| {
                rt.block_on(async {
                    for s in &speeds {
                        if tokio::time::timeout(POLL, s.wait_for_positions(target))
                            .await
                            .is_err()
                        {
                            return Ok(false);
                        }
                    }
                    Ok(true)
                })
            })
        })?
    };
    let kappa_observer = {
        let seen = kappa_seen.clone();
        let jobs: Vec<kappa::Job> = jobs.iter().map(|j| j.job().clone()).collect();
        let abort = abort.clone();
        // Read-uncommitted: visible once the part files show it. Otherwise once the
        // checkpoint that covers it is published (the table files follow at once).
        let uncommitted = opts.kappa_uncommitted_every.is_some();
        spawn("lk-observe-k", move || {
            observe(&seen, start, kappa_rx, &abort, |target| {
                for j in &jobs {
                    let shown = if uncommitted {
                        j.wait_visible(target, POLL)?
                    } else {
                        j.wait_checkpointed(target, POLL)?
                    };
                    if !shown {
                        return Ok(false);
                    }
                }
                Ok(true)
            })
        })?
    };

    // Batch layer thread.
    let batch_runs: Arc<Mutex<Vec<BatchRun>>> = Arc::default();
    let batch_stop = Arc::new(AtomicBool::new(false));
    // Instant (as ns since `start`, -1 before the first) the served batch view's horizon
    // was taken.
    let batch_taken = Arc::new(AtomicI64::new(-1));
    let batch_thread = {
        let lambdas = lambdas.clone();
        let log = log.clone();
        let topic = topic.clone();
        let sidecars = opts.sidecar_dir.clone();
        let runs = batch_runs.clone();
        let stop = batch_stop.clone();
        let taken = batch_taken.clone();
        let period = opts.batch_every;
        let first = start_offsets.clone();
        spawn("lambda-batch", move || {
            alloc::set_thread_owner(Owner::Lambda);
            let mut horizons: Vec<Vec<u64>> = vec![first; lambdas.len()];
            let mut taken_at = Instant::now();
            loop {
                let round = Instant::now();
                for (l, horizon) in lambdas.iter().zip(&horizons) {
                    if horizon.iter().all(|&h| h == 0) {
                        continue; // nothing below the horizon yet: no batch view
                    }
                    let began = Instant::now();
                    let view = batch_layer::recompute_at(
                        log.as_ref(),
                        &l.workload,
                        &topic,
                        &sidecars,
                        horizon,
                    )?;
                    l.publish(serving_layer::BatchPart {
                        horizon: view.horizon.clone(),
                        table: view.table,
                    })?;
                    runs.lock().push(BatchRun {
                        workload: l.workload.name().to_owned(),
                        started_s: secs_since(start, began),
                        finished_s: secs_since(start, Instant::now()),
                        horizon_records: view.horizon.iter().sum(),
                    });
                }
                taken.store(
                    taken_at.saturating_duration_since(start).as_nanos() as i64,
                    Ordering::SeqCst,
                );
                let next = round + period;
                while Instant::now() < next {
                    if stop.load(Ordering::SeqCst) {
                        return Ok(());
                    }
                    thread::sleep(Duration::from_millis(50).min(next - Instant::now()));
                }
                if stop.load(Ordering::SeqCst) {
                    return Ok(());
                }
                taken_at = Instant::now();
                horizons = lambdas
                    .iter()
                    .map(|l| l.speed.begin_generation_now())
                    .collect();
            }
        })?
    };

    // Sampler thread.
    let frontier = Arc::new(AtomicI64::new(i64::MIN));
    let fed_batches = Arc::new(AtomicU64::new(0));
    let sampler_stop = Arc::new(AtomicBool::new(false));
    let tick = tick_of(opts.rate);
    let sampler = {
        let lambda_seen = lambda_seen.clone();
        let kappa_seen = kappa_seen.clone();
        let lambdas = lambdas.clone();
        let jobs: Vec<kappa::Job> = jobs.iter().map(|j| j.job().clone()).collect();
        let log = log.clone();
        let stop = sampler_stop.clone();
        let frontier = frontier.clone();
        let fed_batches = fed_batches.clone();
        let taken = batch_taken.clone();
        let cpu = cpu.clone();
        spawn("lk-sampler", move || {
            let mut readings = Vec::new();
            let due = |i: u64| start + tick.interval * i as u32;
            let staleness = |seen: &Seen, now: Instant| {
                let visible = seen.batches.load(Ordering::SeqCst);
                if visible < fed_batches.load(Ordering::SeqCst) && due(visible) < now {
                    now - due(visible)
                } else {
                    Duration::ZERO
                }
            };
            let mut n = 0usize;
            while !stop.load(Ordering::SeqCst) {
                thread::sleep(SAMPLE_EVERY);
                let now = Instant::now();
                if now < start {
                    continue;
                }
                cpu.lock().sample();
                let answers = if n % ANSWERS_EVERY == ANSWERS_EVERY - 1 {
                    let f = frontier.load(Ordering::SeqCst);
                    let mut l = Vec::new();
                    for live in &lambdas {
                        l.push(live.snapshot(log.as_ref())?.merged()?);
                    }
                    let mut k = Vec::new();
                    for j in &jobs {
                        k.push(j.table()?.table);
                    }
                    Some((f, l, k))
                } else {
                    None
                };
                n += 1;
                let t = taken.load(Ordering::SeqCst);
                readings.push(Reading {
                    t: now - start,
                    lambda_staleness: staleness(&lambda_seen, now),
                    kappa_staleness: staleness(&kappa_seen, now),
                    lambda_visible: lambda_seen.records.load(Ordering::SeqCst),
                    kappa_visible: kappa_seen.records.load(Ordering::SeqCst),
                    batch_age: (t >= 0)
                        .then(|| (now - start).saturating_sub(Duration::from_nanos(t as u64))),
                    answers,
                });
            }
            Ok(readings)
        })?
    };

    // ---- the feed (this thread) ----
    let mut arrivals = Arrivals::default();
    let mut records_fed = 0u64;
    let total = if fed {
        opts.events
    } else {
        log.end_offsets(&topic)?.iter().sum()
    };
    let report_progress = |phase, fed: u64, progress: &mut dyn FnMut(&Progress)| {
        progress(&Progress {
            phase,
            fed,
            total,
            lambda_visible: lambda_seen.records.load(Ordering::SeqCst),
            kappa_visible: kappa_seen.records.load(Ordering::SeqCst),
        })
    };
    let mut feed_error = None;
    let mut feed_end = start;
    if fed {
        let Source::Generate(dataset) = opts.source else {
            unreachable!("fed implies a generated source")
        };
        let gen_opts = GenerateOptions {
            partitions,
            seed: opts.seed,
            rate: Some(opts.rate),
            event_rate: opts.event_rate,
            out_of_order: opts.out_of_order,
            max_delay_ms: opts.max_delay_ms,
            late: opts.late,
            late_delay_ms: opts.late_delay_ms,
            duplicates: opts.duplicates,
            ..GenerateOptions::new(dataset, &topic, opts.events)
        };
        let result = feed(
            log.as_ref(),
            &topic,
            &gen_opts,
            start,
            tick,
            stop,
            |fed_now| {
                let due = Instant::now();
                if due >= start {
                    report_progress(Phase::Feed, fed_now, progress);
                }
            },
            |d: Due, max_time: i64, arrival: &Arrivals| {
                frontier.fetch_max(max_time, Ordering::SeqCst);
                fed_batches.store(d.index + 1, Ordering::SeqCst);
                records_fed += d.records;
                arrivals = *arrival;
                // A closed channel means the observer stopped (it reports why).
                let _ = lambda_tx.send(d.clone());
                let _ = kappa_tx.send(d);
            },
        );
        if let Err(e) = result {
            feed_error = Some(e);
        }
        feed_end = Instant::now();
    } else {
        let target = log.end_offsets(&topic)?;
        let d = Due {
            index: 0,
            due: start,
            records: target.iter().sum(),
            target,
        };
        fed_batches.store(1, Ordering::SeqCst);
        let _ = lambda_tx.send(d.clone());
        let _ = kappa_tx.send(d);
    }
    drop(lambda_tx);
    drop(kappa_tx);
    let interrupted = stop.load(Ordering::SeqCst);

    // ---- catch-up: wait for both observers ----
    while !(lambda_observer.is_finished() && kappa_observer.is_finished()) {
        report_progress(Phase::CatchUp, records_fed, progress);
        thread::sleep(Duration::from_millis(100));
    }
    let (lambda_cpu, kappa_cpu, harness_cpu) = {
        let mut cpu = cpu.lock();
        cpu.sample();
        (
            cpu.seconds(ThreadClass::Lambda),
            cpu.seconds(ThreadClass::Kappa),
            cpu.seconds(ThreadClass::Harness),
        )
    };
    let lambda_heap = alloc::installed().then(|| alloc::peak_bytes(Owner::Lambda));
    let kappa_heap = alloc::installed().then(|| alloc::peak_bytes(Owner::Kappa));
    sampler_stop.store(true, Ordering::SeqCst);
    batch_stop.store(true, Ordering::SeqCst);
    abort.store(true, Ordering::SeqCst);
    let lambda_observed = join(lambda_observer, "the Lambda observer");
    let kappa_observed = join(kappa_observer, "the Kappa observer");
    let readings = join(sampler, "the sampler");
    let batch_result = join(batch_thread, "the batch layer");
    shutdown_tx.send_replace(true);
    let mut speed_result = Ok(());
    for t in speed_tasks {
        let r = runtime
            .block_on(t)
            .map_err(|e| CompareError::Run(format!("speed layer task: {e}")))
            .and_then(|r| r.map_err(CompareError::from));
        speed_result = speed_result.and(r);
    }
    let mut kappa_tables = Vec::new();
    let mut kappa_result = Ok(());
    for j in jobs {
        let job = j.job().clone();
        match j.stop() {
            Ok(_) => kappa_tables.push(job.table()?),
            Err(e) => kappa_result = Err(CompareError::from(e)),
        }
    }
    if let Some(e) = feed_error {
        return Err(e);
    }
    batch_result?;
    speed_result?;
    kappa_result?;
    lambda_observed?;
    kappa_observed?;
    let readings = readings?;
    if let Some(e) = lambda_seen.failed.lock().take() {
        return Err(CompareError::Run(format!("Lambda: {e}")));
    }
    if let Some(e) = kappa_seen.failed.lock().take() {
        return Err(CompareError::Run(format!("Kappa: {e}")));
    }
    let last_visible = |seen: &Seen| *seen.last_visible.lock();
    let lambda_last = last_visible(&lambda_seen);
    let kappa_last = last_visible(&kappa_seen);
    let live_end = Instant::now();

    // ---- final answers against the oracle ----
    report_progress(Phase::Oracle, records_fed, progress);
    let records_total: u64 = log.end_offsets(&topic)?.iter().sum();
    let max_delay = opts.max_delay_ms as i64;
    let mut figures = Vec::new();
    let mut over_time: Vec<(Vec<Correctness>, Vec<Correctness>)> =
        vec![(Vec::new(), Vec::new()); readings.len()];
    for (i, w) in workloads.iter().enumerate() {
        let expected = oracle::answer(log.as_ref(), w, &topic, &opts.sidecar_dir)?;
        let lambda_answer = w.finish(&lambdas[i].snapshot(log.as_ref())?.merged()?)?;
        let table = &kappa_tables[i];
        let kappa_answer = w.finish(&table.table)?;
        let lambda_c = correctness(&expected, &lambda_answer, 0, None);
        let kappa_c = correctness(
            &expected,
            &kappa_answer,
            table.late_events,
            Some(table.duplicates),
        );
        for (r, slot) in readings.iter().zip(over_time.iter_mut()) {
            let Some((frontier, l, k)) = &r.answers else {
                continue;
            };
            let complete = frontier.saturating_sub(max_delay);
            let expected = complete_windows(&expected, complete);
            slot.0.push(correctness(
                &expected,
                &complete_windows(&w.finish(&l[i])?, complete),
                0,
                None,
            ));
            slot.1.push(correctness(
                &expected,
                &complete_windows(&w.finish(&k[i])?, complete),
                0,
                None,
            ));
        }
        figures.push((
            w.name().to_owned(),
            expected.rows.len() as u64,
            lambda_c,
            kappa_c,
        ));
    }

    // ---- reprocessing the whole history ----
    let mut lambda_re = Vec::new();
    let mut kappa_re = Vec::new();
    if opts.reprocess && !interrupted {
        report_progress(Phase::Reprocess, records_fed, progress);
        for w in &workloads {
            let t = Instant::now();
            batch_layer::recompute(log.as_ref(), w, &topic, &opts.sidecar_dir)?;
            lambda_re.push(t.elapsed().as_secs_f64());
            let config = kappa::JobConfig {
                version: 2,
                workers: opts.kappa_workers,
                watermark_bound_ms: opts.watermark_bound(),
                allowed_lateness_ms: opts.allowed_lateness_ms,
                checkpoint_interval: opts.checkpoint_interval,
                serve_if_none: false,
                namespace: Some(namespace.clone()),
                ..kappa::JobConfig::new(&topic, work.join("reprocess"), &opts.sidecar_dir)
            };
            let t = Instant::now();
            kappa::Job::new(log.clone(), w.clone(), config)?.run_until_caught_up()?;
            kappa_re.push(t.elapsed().as_secs_f64());
        }
    }

    // ---- code complexity ----
    let mut complexity = Vec::new();
    for w in &workloads {
        complexity.push(crate::complexity::complexity(w)?);
    }
    let (lambda_code, kappa_code) = crate::complexity::complexity_of(&workloads)?;

    // ---- the report ----
    let feed_seconds = if fed {
        feed_end.saturating_duration_since(start).as_secs_f64()
    } else {
        0.0
    };
    let records_seen = if fed { records_fed } else { records_total };
    let reprocess = |secs: &[f64]| -> (Option<f64>, Option<f64>) {
        if secs.is_empty() {
            return (None, None);
        }
        let total: f64 = secs.iter().sum();
        let eps = (total > 0.0).then(|| (records_total * secs.len() as u64) as f64 / total);
        (Some(total), eps)
    };
    let pipeline = |seen: &Seen,
                    last: Option<Instant>,
                    cpu_seconds: f64,
                    heap: Option<u64>,
                    final_c: Vec<Correctness>,
                    re: &[f64],
                    code: Complexity,
                    kappa: bool|
     -> PipelineReport {
        let hist = seen.hist.lock();
        let (latency_ms, latency_cdf) = match hist.as_ref() {
            Some(h) if fed && !h.is_empty() => (Some(latency_of(h)), cdf_of(h)),
            _ => (None, Vec::new()),
        };
        let elapsed = last.map(|l| l.saturating_duration_since(start).as_secs_f64());
        let samples = seen.samples.lock();
        let mut timeline = Vec::with_capacity(readings.len());
        let mut prev = Duration::ZERO;
        for (r, c) in readings.iter().zip(&over_time) {
            let mut window: Vec<f64> = samples
                .iter()
                .filter(|(at, _)| *at > prev && *at <= r.t)
                .map(|(_, lat)| lat.as_secs_f64() * 1000.0)
                .collect();
            prev = r.t;
            let c = if kappa { &c.1 } else { &c.0 };
            timeline.push(Sample {
                t_s: r.t.as_secs_f64(),
                staleness_ms: if kappa {
                    r.kappa_staleness
                } else {
                    r.lambda_staleness
                }
                .as_secs_f64()
                    * 1000.0,
                visible_records: if kappa {
                    r.kappa_visible
                } else {
                    r.lambda_visible
                },
                batch_view_age_ms: if kappa {
                    None
                } else {
                    r.batch_age.map(|a| a.as_secs_f64() * 1000.0)
                },
                correctness: (!c.is_empty()).then(|| pool(c)),
                latency_p99_ms: quantile(&mut window, 0.99),
            });
        }
        let (reprocess_seconds, reprocess_eps) = reprocess(re);
        PipelineReport {
            latency_ms,
            latency_cdf,
            throughput_eps: elapsed
                .filter(|e| *e > 0.0)
                .map(|e| records_seen as f64 / e),
            catch_up_seconds: last.map(|l| l.saturating_duration_since(feed_end).as_secs_f64()),
            cpu_seconds,
            peak_heap_bytes: heap,
            correctness: pool(&final_c),
            reprocess_seconds,
            reprocess_eps,
            complexity: code,
            timeline,
        }
    };
    let lambda_report = pipeline(
        &lambda_seen,
        lambda_last,
        lambda_cpu,
        lambda_heap,
        figures.iter().map(|f| f.2.clone()).collect(),
        &lambda_re,
        lambda_code,
        false,
    );
    let kappa_report = pipeline(
        &kappa_seen,
        kappa_last,
        kappa_cpu,
        kappa_heap,
        figures.iter().map(|f| f.3.clone()).collect(),
        &kappa_re,
        kappa_code,
        true,
    );
    let workload_reports = figures
        .into_iter()
        .enumerate()
        .map(|(i, (name, oracle_cells, l, k))| WorkloadReport {
            name,
            oracle_cells,
            lambda: WorkloadFigures {
                correctness: l,
                reprocess_seconds: lambda_re.get(i).copied(),
                complexity: complexity[i].0.clone(),
            },
            kappa: WorkloadFigures {
                correctness: k,
                reprocess_seconds: kappa_re.get(i).copied(),
                complexity: complexity[i].1.clone(),
            },
        })
        .collect();
    let mut report = Report {
        schema_version: SCHEMA_VERSION,
        params: Params {
            dataset: dataset.map(|d| d.name().to_owned()),
            topic,
            fed,
            workloads: workloads.iter().map(|w| w.name().to_owned()).collect(),
            events: if fed { opts.events } else { records_total },
            rate_eps: if fed { opts.rate } else { 0 },
            event_rate_eps: if fed {
                opts.event_rate.unwrap_or(opts.rate)
            } else {
                0
            },
            partitions,
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
        },
        machine,
        run: RunInfo {
            started: workloads::rfc3339_millis(started_wall),
            wall_seconds: live_end.saturating_duration_since(start).as_secs_f64(),
            feed_seconds,
            records_fed,
            records_total,
            arrivals,
            interrupted,
            peak_rss_bytes: crate::resources::peak_rss_bytes(),
            harness_cpu_seconds: harness_cpu,
        },
        pipelines: Pipelines {
            lambda: lambda_report,
            kappa: kappa_report,
        },
        workloads: workload_reports,
        batch_runs: std::mem::take(&mut *batch_runs.lock()),
        verdict: Vec::new(),
    };
    report.run.wall_seconds = Instant::now()
        .saturating_duration_since(start)
        .as_secs_f64();
    report.verdict = crate::verdict::verdict(&report);
    Ok(report)
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

/// The feed's pace: `batch` records every `interval`.
#[derive(Debug, Clone, Copy)]
struct Tick {
    batch: u64,
    interval: Duration,
}

/// One batch per millisecond at rates of 1,000/s and more; one record per batch below.
fn tick_of(rate: u64) -> Tick {
    if rate >= 1000 {
        let batch = rate / 1000;
        Tick {
            batch,
            interval: Duration::from_nanos(batch * 1_000_000_000 / rate),
        }
    } else {
        Tick {
            batch: 1,
            interval: Duration::from_nanos(1_000_000_000 / rate),
        }
    }
}

fn secs_since(start: Instant, t: Instant) -> f64 {
    t.saturating_duration_since(start).as_secs_f64()
}

fn spawn<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<thread::JoinHandle<Result<T>>> {
    thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            if name_is_harness() {
                alloc::set_thread_owner(Owner::Harness);
            }
            f()
        })
        .map_err(CompareError::io(format!("start thread {name}")))
}

fn name_is_harness() -> bool {
    thread::current()
        .name()
        .is_some_and(|n| n.starts_with("lk-"))
}

fn join<T>(h: thread::JoinHandle<Result<T>>, what: &str) -> Result<T> {
    h.join()
        .map_err(|_| CompareError::Run(format!("{what} panicked")))?
}

/// Append the generated records at the schedule `start + i × tick.interval`, calling
/// `on_batch` after each batch with its offsets, the newest event time so far and the
/// arrivals so far.
#[allow(clippy::too_many_arguments)]
fn feed(
    log: &dyn Log,
    topic: &str,
    opts: &GenerateOptions,
    start: Instant,
    tick: Tick,
    stop: &AtomicBool,
    mut on_progress: impl FnMut(u64),
    mut on_batch: impl FnMut(Due, i64, &Arrivals),
) -> Result<()> {
    opts.validate()?;
    let mut ends = log.end_offsets(topic)?;
    let mut arrivals = Arrivals::default();
    let mut max_time = i64::MIN;
    let mut batch = Vec::with_capacity(tick.batch as usize);
    let mut index = 0u64;
    let mut fed = 0u64;
    let mut last_progress = Instant::now();
    let mut records = Generator::new(opts)?.peekable();
    while records.peek().is_some() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        batch.clear();
        for rec in records.by_ref().take(tick.batch as usize) {
            let rec = rec?;
            match rec.arrival {
                Arrival::InOrder => arrivals.in_order += 1,
                Arrival::OutOfOrder => arrivals.out_of_order += 1,
                Arrival::Late => arrivals.late += 1,
                Arrival::Duplicate => arrivals.duplicates += 1,
            }
            max_time = max_time.max(rec.event_time);
            batch.push(NewRecord::keyed(rec.key, rec.value, rec.event_time));
        }
        let due = start + tick.interval * index as u32;
        let now = Instant::now();
        if due > now {
            thread::sleep(due - now);
        }
        let n = batch.len() as u64;
        for (p, appended) in log.produce(topic, std::mem::take(&mut batch))? {
            let end = &mut ends[p as usize];
            *end = (*end).max(appended.last_offset + 1);
        }
        fed += n;
        on_batch(
            Due {
                index,
                due,
                target: ends.clone(),
                records: n,
            },
            max_time,
            &arrivals,
        );
        index += 1;
        if last_progress.elapsed() >= Duration::from_millis(100) {
            on_progress(fed);
            last_progress = Instant::now();
        }
    }
    on_progress(fed);
    Ok(())
}

/// Wait for each batch in turn to be visible (`visible(target)` answers within about
/// [`POLL`]), recording its latency from its scheduled time.
fn observe(
    seen: &Seen,
    start: Instant,
    batches: mpsc::Receiver<Due>,
    abort: &AtomicBool,
    mut visible: impl FnMut(&[u64]) -> Result<bool>,
) -> Result<()> {
    // Up to an hour, 3 significant digits.
    let mut hist = Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 3)
        .map_err(|e| CompareError::Run(format!("latency histogram: {e}")))?;
    for d in batches {
        let waiting = Instant::now();
        while !visible(&d.target)? {
            if abort.load(Ordering::SeqCst) {
                *seen.failed.lock() = Some(format!("stopped before batch {} was visible", d.index));
                return Ok(());
            }
            if waiting.elapsed() > STALL_TIMEOUT {
                *seen.failed.lock() = Some(format!(
                    "records at offsets {:?} not visible after {} s",
                    d.target,
                    STALL_TIMEOUT.as_secs()
                ));
                return Ok(());
            }
        }
        let now = Instant::now();
        let latency = now.saturating_duration_since(d.due);
        hist.saturating_record((latency.as_nanos() as u64).max(1));
        seen.samples
            .lock()
            .push((now.saturating_duration_since(start), latency));
        seen.batches.store(d.index + 1, Ordering::SeqCst);
        seen.records.fetch_add(d.records, Ordering::SeqCst);
        *seen.last_visible.lock() = Some(now);
        *seen.hist.lock() = Some(hist.clone());
    }
    *seen.hist.lock() = Some(hist);
    Ok(())
}

/// An answer against the oracle's.
fn correctness(
    expected: &ResultSet,
    actual: &ResultSet,
    late_dropped: u64,
    duplicates_removed: Option<u64>,
) -> Correctness {
    let c = workloads::compare(expected, actual);
    Correctness {
        cells: c.cells,
        exact_cells: c.exact,
        exact_fraction: c.exact_fraction(),
        missing_cells: c.missing,
        extra_cells: c.extra,
        max_abs_error: c.max_abs_error,
        mean_abs_error: c.mean_abs_error,
        max_rel_error: c.max_rel_error,
        late_dropped,
        duplicates_removed,
    }
}

/// The rows of windows that end at or before `until` (ms).
fn complete_windows(r: &ResultSet, until: i64) -> ResultSet {
    ResultSet {
        key_columns: r.key_columns.clone(),
        value_columns: r.value_columns.clone(),
        rows: r
            .rows
            .iter()
            .filter(|row| row.window.end <= until)
            .cloned()
            .collect(),
    }
}

/// Several workloads' figures as one: counts added, maxima kept, means weighted by cells.
fn pool(cs: &[Correctness]) -> Correctness {
    let mut p = Correctness::default();
    let mut weighted = 0.0;
    let mut duplicates = Some(0u64);
    for c in cs {
        p.cells += c.cells;
        p.exact_cells += c.exact_cells;
        p.missing_cells += c.missing_cells;
        p.extra_cells += c.extra_cells;
        p.max_abs_error = p.max_abs_error.max(c.max_abs_error);
        p.max_rel_error = p.max_rel_error.max(c.max_rel_error);
        weighted += c.mean_abs_error * c.cells as f64;
        p.late_dropped += c.late_dropped;
        duplicates = duplicates.zip(c.duplicates_removed).map(|(a, b)| a + b);
    }
    p.exact_fraction = if p.cells == 0 {
        1.0
    } else {
        p.exact_cells as f64 / p.cells as f64
    };
    p.mean_abs_error = if p.cells == 0 {
        0.0
    } else {
        weighted / p.cells as f64
    };
    p.duplicates_removed = if cs.is_empty() { None } else { duplicates };
    p
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

fn latency_of(h: &Histogram<u64>) -> Latency {
    Latency {
        p50: ms(h.value_at_quantile(0.50)),
        p95: ms(h.value_at_quantile(0.95)),
        p99: ms(h.value_at_quantile(0.99)),
        max: ms(h.max()),
        samples: h.len(),
    }
}

/// The latency CDF at fixed fractions (denser in the tail).
fn cdf_of(h: &Histogram<u64>) -> Vec<CdfPoint> {
    const FRACTIONS: [f64; 24] = [
        0.0, 0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.925, 0.95, 0.97,
        0.98, 0.99, 0.995, 0.999, 0.9995, 0.9999, 0.99999, 1.0,
    ];
    FRACTIONS
        .iter()
        .map(|&q| CdfPoint {
            latency_ms: ms(if q >= 1.0 {
                h.max()
            } else {
                h.value_at_quantile(q)
            }),
            fraction: q,
        })
        .collect()
}

/// The `q` quantile (nearest rank) of `xs`, `None` when empty.
fn quantile(xs: &mut [f64], q: f64) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let rank = ((q * xs.len() as f64).ceil() as usize).clamp(1, xs.len());
    Some(xs[rank - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_feed_schedule_matches_the_rate() {
        let t = tick_of(50_000);
        assert_eq!(t.batch, 50);
        assert_eq!(t.interval, Duration::from_millis(1));
        let t = tick_of(2_500);
        assert_eq!((t.batch, t.interval), (2, Duration::from_micros(800)));
        let t = tick_of(10);
        assert_eq!((t.batch, t.interval), (1, Duration::from_millis(100)));
    }

    #[test]
    fn quantiles_are_nearest_rank() {
        let mut xs = vec![5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(quantile(&mut xs, 0.5), Some(3.0));
        assert_eq!(quantile(&mut xs, 0.99), Some(5.0));
        assert_eq!(quantile(&mut xs, 0.0), Some(1.0));
        assert_eq!(quantile(&mut [], 0.5), None);
    }

    #[test]
    fn pooled_correctness_adds_counts_and_weights_means() {
        let a = Correctness {
            cells: 10,
            exact_cells: 10,
            exact_fraction: 1.0,
            duplicates_removed: Some(3),
            ..Correctness::default()
        };
        let b = Correctness {
            cells: 30,
            exact_cells: 15,
            exact_fraction: 0.5,
            max_abs_error: 4.0,
            mean_abs_error: 2.0,
            late_dropped: 7,
            duplicates_removed: Some(1),
            ..Correctness::default()
        };
        let p = pool(&[a.clone(), b]);
        assert_eq!((p.cells, p.exact_cells, p.late_dropped), (40, 25, 7));
        assert_eq!(p.exact_fraction, 25.0 / 40.0);
        assert_eq!(p.mean_abs_error, 2.0 * 30.0 / 40.0);
        assert_eq!(p.max_abs_error, 4.0);
        assert_eq!(p.duplicates_removed, Some(4));
        let unknown = Correctness {
            duplicates_removed: None,
            ..a
        };
        assert_eq!(pool(&[unknown]).duplicates_removed, None);
        assert_eq!(pool(&[]).exact_fraction, 1.0);
    }
}
