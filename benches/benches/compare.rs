//! Lambda and Kappa side by side: the same workload over the same generated log, one
//! criterion group per question, the two pipelines as its members.
//!
//! ```text
//! cargo bench -p lk-benches --bench compare                          # every group
//! cargo bench -p lk-benches --bench compare -- end_to_end/ysb        # one group
//! cargo bench -p lk-benches --bench compare -- --save-baseline before
//! cargo bench -p lk-benches --bench compare -- --baseline before
//! LK_BENCH_EVENTS=500000 cargo bench -p lk-benches --bench compare
//! ```
//!
//! Set-up (not timed), once per dataset: `LK_BENCH_EVENTS` events (default 300,000) are
//! generated with `datasets::generate` into a fresh embedded log: 4 partitions, 5 % out
//! of order (up to 2 s), 1 % late (30–60 s), 1 % duplicates, 1,000 events per second of
//! event time. The workloads of one dataset share its log. Per workload:
//!
//! - `end_to_end/<workload>`: what each pipeline does to answer over the whole log.
//!   - `lambda`: `batch_layer::recompute_at` up to a horizon at half of every partition,
//!     then a new `speed_layer::SpeedLayer` from that horizon reads to the end
//!     (`run_until_caught_up`, tokio multi-thread runtime), then the serving layer merges
//!     the batch view and the realtime generations (`lambda::LiveViews`) into rows.
//!     The two layers run one after the other (a deployment runs them side by side), so
//!     the time is the work of both.
//!   - `kappa`: a new `kappa::Job` version (redb stores, 2 worker threads, the default
//!     checkpoints: every second and every 100,000 records per task) reads the log from
//!     offset 0 with `run_until_caught_up`; its table is answered with
//!     `serving_layer::answer_table`.
//! - `reprocess/<workload>`: recomputing all of history after a change.
//!   - `lambda`: `batch_layer::recompute` over the whole log, from scratch.
//!   - `kappa`: `kappa::reprocess` into a new version: the job replays the log from
//!     offset 0 until caught up, checkpoints every task (table written), the alias
//!     switches to it, and the job stops (its local stores take in the checkpoints):
//!     the whole call is timed, the stop after the switch included.
//!
//! Every Kappa iteration starts in a fresh directory (no state, no table) with a new
//! version number (its own changelog and consumer group); its changelog and late-events
//! topics are deleted after the timing. The Kappa jobs allow 70 s of lateness, so that,
//! like the batch layer, they count the late events (which arrive at most 60 s after
//! their event time) instead of reporting them on the side topic.
//!
//! Throughput is in distinct events (`Throughput::Elements`); the records read include
//! the duplicates on top (about 1 %). `sample_size(10)`, flat sampling.
//!
//! Before timing, for each workload, the bench checks once that the Lambda answer, the
//! Kappa answer, the full batch recompute and the reprocessed Kappa table all equal the
//! exact answer of `oracle::answer`, so that no member can measure a wrong computation.
//!
//! `cargo bench` passes `--bench`; without it (as under `cargo test --benches`) the bench
//! uses 3,000 events and criterion runs each routine once. A filter (`-- end_to_end/ysb`)
//! also skips the set-up and checks of the workloads it leaves out.

#[path = "common/bench_env.rs"]
mod bench_env;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anyhow::{Result, anyhow, ensure};
use criterion::{BatchSize, Criterion, SamplingMode, Throughput};
use datasets::{DatasetKind, GenerateOptions};
use kappa::{Job, JobConfig};
use master_log::{EmbeddedLog, Log};
use serving_layer::{BatchPart, Query};
use speed_layer::{SpeedConfig, SpeedLayer};
use workloads::{BuiltIn, ResultSet, Workload};

const DEFAULT_EVENTS: u64 = 300_000;
const SMOKE_EVENTS: u64 = 3_000;
const PARTITIONS: u32 = 4;
/// Late events arrive 30–60 s after their event time; the Kappa jobs wait 70 s for them.
const LATE_DELAY_MS: u64 = 30_000;
const ALLOWED_LATENESS_MS: i64 = 70_000;
/// Longer than any run here: a Kappa reprocessing that does not catch up is an error.
const REPROCESS_TIMEOUT: Duration = Duration::from_secs(600);

/// The workloads compared, each on its dataset's log.
const WORKLOADS: [BuiltIn; 6] = [
    BuiltIn::YsbCampaign10s,
    BuiltIn::PageviewsPerMinute,
    BuiltIn::NexmarkQ7,
    BuiltIn::TopPagesHourly,
    BuiltIn::ProfileViewersHourly,
    BuiltIn::NexmarkQ5,
];

/// One dataset generated into its own log.
struct Fixture {
    dir: tempfile::TempDir,
    log: EmbeddedLog,
    topic: String,
    sidecars: PathBuf,
    events: u64,
    /// Per partition: half of the end offset (the Lambda horizon), and the end.
    half: Vec<u64>,
    end: Vec<u64>,
}

fn full_run() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn event_count() -> Result<u64> {
    if !full_run() {
        return Ok(SMOKE_EVENTS);
    }
    bench_env::events_from_env(DEFAULT_EVENTS)
}

fn dataset_kind(name: &str) -> Result<DatasetKind> {
    Ok(match name {
        "pageviews" => DatasetKind::Pageviews,
        "ysb" => DatasetKind::Ysb,
        "nexmark" => DatasetKind::Nexmark,
        other => return Err(anyhow!("no generator for dataset {other:?}")),
    })
}

fn fixture(dataset: &str, events: u64) -> Result<Fixture> {
    let dir = tempfile::tempdir()?;
    let log = EmbeddedLog::open(dir.path().join("log"))?;
    let sidecars = dir.path().join("datasets");
    let opts = GenerateOptions {
        partitions: PARTITIONS,
        out_of_order: 0.05,
        max_delay_ms: 2_000,
        late: 0.01,
        late_delay_ms: LATE_DELAY_MS,
        duplicates: 0.01,
        ..GenerateOptions::new(dataset_kind(dataset)?, dataset, events)
    };
    let summary = datasets::generate(&log, &opts, Some(&sidecars), &mut datasets::no_progress)?;
    let end = log.end_offsets(dataset)?;
    println!(
        "compare: {dataset}: {} events ({} records, {} partitions)",
        summary.events, summary.records, summary.partitions
    );
    Ok(Fixture {
        half: end.iter().map(|e| e / 2).collect(),
        end,
        dir,
        log,
        topic: dataset.to_owned(),
        sidecars,
        events: summary.events,
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Lambda: batch view up to half the log, speed layer from there to the end, merged by
/// the `lambda` crate's live views (the batch view published into them).
fn lambda_answer(
    f: &Fixture,
    workload: &Workload,
    rt: &tokio::runtime::Runtime,
) -> Result<ResultSet> {
    let batch = batch_layer::recompute_at(&f.log, workload, &f.topic, &f.sidecars, &f.half)?;
    let log: Arc<dyn Log> = Arc::new(f.log.clone());
    let speed = SpeedLayer::new(
        log,
        workload.clone(),
        SpeedConfig::new(&f.topic, &f.sidecars),
        f.half.clone(),
    )?;
    rt.block_on(speed.run_until_caught_up())?;
    let views = lambda::LiveViews::new(workload.clone(), f.topic.clone(), speed);
    views.publish(BatchPart {
        horizon: batch.horizon,
        table: batch.table,
    })?;
    Ok(views
        .snapshot(&f.log)?
        .answer(workload, &Query::default())?
        .result)
}

/// A Kappa directory and version for one iteration. Dropped after the timing: deletes the
/// version's changelog and late-events topics from the shared log, then the directory.
struct KappaRun {
    log: EmbeddedLog,
    config: JobConfig,
    job: String,
    _dir: tempfile::TempDir,
}

static NEXT_VERSION: AtomicU32 = AtomicU32::new(1);

impl KappaRun {
    fn new(f: &Fixture) -> Result<KappaRun> {
        let dir = tempfile::tempdir_in(f.dir.path())?;
        let version = NEXT_VERSION.fetch_add(1, Ordering::Relaxed);
        let config = JobConfig {
            version,
            allowed_lateness_ms: ALLOWED_LATENESS_MS,
            ..JobConfig::new(&f.topic, dir.path().join("kappa"), &f.sidecars)
        };
        Ok(KappaRun {
            log: f.log.clone(),
            config,
            job: String::new(),
            _dir: dir,
        })
    }
}

impl Drop for KappaRun {
    fn drop(&mut self) {
        if self.job.is_empty() {
            return;
        }
        for topic in [
            kappa::changelog_topic(&self.job),
            kappa::late_topic(&self.job),
        ] {
            let _ = self.log.delete_topic(&topic);
        }
    }
}

fn arc_log(f: &Fixture) -> Arc<dyn Log> {
    Arc::new(f.log.clone())
}

/// Kappa: a new job version from offset 0 until caught up, then its table's answer.
fn kappa_answer(f: &Fixture, workload: &Workload, run: &mut KappaRun) -> Result<ResultSet> {
    let job = Job::new(arc_log(f), workload.clone(), run.config.clone())?;
    run.job = job.name().to_owned();
    job.run_until_caught_up()?;
    let table = job.table()?;
    let head = f.log.end_offsets(&f.topic)?;
    Ok(serving_layer::answer_table(
        workload,
        &table.table,
        &table.positions,
        &head,
        &Query::default(),
    )?
    .result)
}

/// Kappa reprocessing: a new version replays the log and becomes the serving one.
fn kappa_reprocess(f: &Fixture, workload: &Workload, run: &mut KappaRun) -> Result<()> {
    run.job = kappa::job_name(workload.name(), run.config.version);
    let report = kappa::reprocess(
        arc_log(f),
        workload.clone(),
        run.config.clone(),
        0,
        REPROCESS_TIMEOUT,
        &mut |_| {},
    )?;
    ensure!(
        report.run.status.caught_up,
        "{}: the reprocessing did not catch up",
        run.job
    );
    Ok(())
}

fn same(what: &str, got: &ResultSet, want: &ResultSet) -> Result<()> {
    if got == want {
        return Ok(());
    }
    let first = got
        .rows
        .iter()
        .zip(&want.rows)
        .position(|(a, b)| a != b)
        .unwrap_or(got.rows.len().min(want.rows.len()));
    Err(anyhow!(
        "{what}: {} rows, the oracle {}; first difference at row {first}: {:?} vs the oracle's {:?}",
        got.rows.len(),
        want.rows.len(),
        got.rows.get(first),
        want.rows.get(first)
    ))
}

/// The four computations equal the oracle's answer (checked once, untimed).
fn check_against_oracle(
    f: &Fixture,
    workload: &Workload,
    rt: &tokio::runtime::Runtime,
) -> Result<()> {
    let name = workload.name();
    let want = oracle::answer(&f.log, workload, &f.topic, &f.sidecars)?;
    ensure!(
        !want.rows.is_empty(),
        "{name}: the oracle's answer is empty"
    );
    same(
        &format!("{name}: lambda end to end"),
        &lambda_answer(f, workload, rt)?,
        &want,
    )?;
    let mut run = KappaRun::new(f)?;
    same(
        &format!("{name}: kappa end to end"),
        &kappa_answer(f, workload, &mut run)?,
        &want,
    )?;
    let batch = batch_layer::recompute(&f.log, workload, &f.topic, &f.sidecars)?;
    ensure!(
        batch.horizon == f.end,
        "{name}: the batch read the whole log"
    );
    same(
        &format!("{name}: batch recompute"),
        &workload.finish(&batch.table)?,
        &want,
    )?;
    let mut run = KappaRun::new(f)?;
    kappa_reprocess(f, workload, &mut run)?;
    let table = kappa::load_serving(&run.config.dir, name)?;
    ensure!(
        table.version == run.config.version,
        "{name}: the alias names the reprocessed version"
    );
    same(
        &format!("{name}: kappa reprocess"),
        &workload.finish(&table.table)?,
        &want,
    )?;
    println!(
        "compare: {name}: lambda, kappa, batch recompute and kappa reprocess equal the oracle \
         ({} rows)",
        want.rows.len()
    );
    Ok(())
}

fn group<'a>(
    c: &'a mut Criterion,
    name: String,
    events: u64,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(events))
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    g
}

fn bench_workload(
    c: &mut Criterion,
    f: &Fixture,
    workload: &Workload,
    rt: &tokio::runtime::Runtime,
) {
    let name = workload.name();
    let mut g = group(c, format!("end_to_end/{name}"), f.events);
    g.bench_function("lambda", |b| {
        b.iter_batched(
            || (),
            |()| lambda_answer(f, workload, rt).expect("lambda answer"),
            BatchSize::PerIteration,
        )
    });
    g.bench_function("kappa", |b| {
        b.iter_batched(
            || KappaRun::new(f).expect("kappa directory"),
            |mut run| {
                let answer = kappa_answer(f, workload, &mut run).expect("kappa answer");
                // Both dropped after the timing.
                (answer, run)
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();

    let mut g = group(c, format!("reprocess/{name}"), f.events);
    g.bench_function("lambda", |b| {
        b.iter_batched(
            || (),
            |()| {
                batch_layer::recompute(&f.log, workload, &f.topic, &f.sidecars)
                    .expect("batch recompute")
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("kappa", |b| {
        b.iter_batched(
            || KappaRun::new(f).expect("kappa directory"),
            |mut run| {
                kappa_reprocess(f, workload, &mut run).expect("kappa reprocess");
                run
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

/// Whether a filter given on the command line can select one of the workload's benches
/// (a filter with regex syntax is not interpreted: everything is set up).
fn selected(filter: Option<&str>, workload: &str) -> bool {
    let Some(f) = filter else { return true };
    if f.contains(|c: char| "\\^$.|?*+()[]{}".contains(c)) {
        return true;
    }
    ["end_to_end", "reprocess"].iter().any(|g| {
        ["lambda", "kappa"]
            .iter()
            .any(|m| format!("{g}/{workload}/{m}").contains(f))
    })
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let filter = lk_benches::filter(&args);
    let mut c = Criterion::default().configure_from_args();
    let events = event_count()?;
    let rt = runtime();
    let mut fixtures: Vec<Fixture> = Vec::new();
    for b in WORKLOADS {
        if !selected(filter, b.name()) {
            continue;
        }
        let dataset = b.dataset();
        if !fixtures.iter().any(|f| f.topic == dataset) {
            fixtures.push(fixture(dataset, events)?);
        }
        let f = fixtures
            .iter()
            .find(|f| f.topic == dataset)
            .expect("the fixture was just made");
        let workload = Workload::BuiltIn(b);
        check_against_oracle(f, &workload, &rt)?;
        bench_workload(&mut c, f, &workload, &rt);
    }
    c.final_summary();
    Ok(())
}
