//! Throughput of the Lambda pipeline's two layers over a generated YSB log.
//!
//! ```text
//! cargo bench -p lk-benches --bench lambda                      # both groups, 10M events
//! cargo bench -p lk-benches --bench lambda -- batch_recompute   # one group
//! LK_BENCH_EVENTS=1000000 cargo bench -p lk-benches --bench lambda
//! ```
//!
//! Set-up (not timed): `LK_BENCH_EVENTS` YSB events (default 10,000,000) are generated
//! with `datasets::generate` into a fresh embedded log (4 partitions, 5 % out of order,
//! 1 % late, 1 % duplicates; the ad → campaign table goes to the sidecar directory), and
//! the topic is exported once to a Parquet file with `datasets::export_parquet`. Both
//! groups report throughput in distinct events (`Throughput::Elements`); the records
//! read include the duplicates on top (about 1 %).
//!
//! - `batch_recompute/batch_layer`: `batch_layer::recompute` of the built-in workload
//!   `ysb-campaign-10s` over the whole log (read, decode, de-duplicate, the polars plan,
//!   the conversion to a `PartialTable`).
//! - `batch_recompute/polars_direct`: the same query as a polars user writes it over the
//!   Parquet export, timed from reading the Parquet file (and the campaign CSV) to the
//!   aggregated `DataFrame`: scan, keep `view` events, join the ad → campaign table on a
//!   `Categorical` key, window start `floor(t / 10 s) · 10 s`, count distinct
//!   `event_id`s per (window, campaign), on polars' streaming engine, with the polars
//!   features a user enables for speed (see `Cargo.toml`). The ratio of the two is the
//!   batch layer's overhead beyond polars. (`scripts/peer/run.py` times polars, DuckDB
//!   and Bytewax from Python beside `lk` on the same events.)
//! - `speed_layer/run_until_caught_up`: a new `speed_layer::SpeedLayer` for
//!   `ysb-campaign-10s` reads the same log from offset 0 to its end with
//!   `run_until_caught_up`, on a tokio multi-thread runtime (one worker per core). The
//!   layer is built outside the timing and dropped after it.
//!
//! Before timing, the bench checks once that the three answer the same: the same
//! (window, campaign) cells with the same counts.
//!
//! `cargo bench` passes `--bench`; without it (as under `cargo test --benches` or
//! clippy's test build) the bench uses 20,000 events and criterion runs each routine
//! once, in a few seconds.

#[path = "common/bench_env.rs"]
mod bench_env;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, bail, ensure};
use criterion::{BatchSize, Criterion, SamplingMode, Throughput, black_box};
use datasets::{DatasetKind, ExportOptions, GenerateOptions, YsbCampaigns};
use master_log::{EmbeddedLog, Log};
use polars::prelude::*;
use speed_layer::{SpeedConfig, SpeedLayer};
use workloads::{BuiltIn, Partial, PartialTable, Scalar, Workload};

const TOPIC: &str = "ysb";
const DEFAULT_EVENTS: u64 = 10_000_000;
const SMOKE_EVENTS: u64 = 20_000;
/// The window of `ysb-campaign-10s`, in ms.
const WINDOW_MS: i64 = 10_000;

/// (window start in ms, campaign id) → views.
type Cells = BTreeMap<(i64, String), u64>;

/// The generated log, its sidecars and its Parquet export, in one temporary directory.
struct Fixture {
    _dir: tempfile::TempDir,
    log: EmbeddedLog,
    sidecars: PathBuf,
    parquet: PathBuf,
    events: u64,
    records: u64,
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

fn fixture(events: u64) -> Result<Fixture> {
    let dir = tempfile::tempdir()?;
    let log = EmbeddedLog::open(dir.path().join("data"))?;
    let sidecars = dir.path().join("datasets");
    let opts = GenerateOptions {
        partitions: 4,
        out_of_order: 0.05,
        late: 0.01,
        duplicates: 0.01,
        ..GenerateOptions::new(DatasetKind::Ysb, TOPIC, events)
    };
    let started = std::time::Instant::now();
    let summary = datasets::generate(&log, &opts, Some(&sidecars), &mut datasets::no_progress)?;
    let generated = started.elapsed();
    let parquet = dir.path().join("ysb.parquet");
    let started = std::time::Instant::now();
    let export = ExportOptions {
        topic: TOPIC.into(),
        ..ExportOptions::default()
    };
    let exported = datasets::export_parquet(
        &log,
        &export,
        Some(&sidecars),
        &parquet,
        &mut datasets::no_progress,
    )?;
    ensure!(
        exported.rows == summary.records,
        "the export has every record"
    );
    println!(
        "lambda: {} YSB events ({} records, {} partitions) generated in {:.1} s; \
         Parquet export {:.0} MB in {:.1} s",
        summary.events,
        summary.records,
        summary.partitions,
        generated.as_secs_f64(),
        std::fs::metadata(&parquet)?.len() as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    Ok(Fixture {
        _dir: dir,
        log,
        sidecars,
        parquet,
        events: summary.events,
        records: summary.records,
    })
}

/// `ysb-campaign-10s` as a polars user writes it over the Parquet export: from reading
/// the files to the aggregated frame (`window_start`, `campaign_id`, `views`).
///
/// - The join key is a `Categorical` on both sides (polars' dictionary type, in the
///   global categories): the join hashes 32-bit category ids, not 36-character strings.
/// - The duplicates (re-sends of one event: same id, ad and event time, so the same
///   cell) are dropped by counting distinct `event_id`s per cell (`n_unique`), not by a
///   `unique` over every view first: one hash table per cell's ids instead of one over
///   all of them, and no materialized de-duplicated frame.
/// - It runs on polars' streaming engine (`Engine::Streaming`), which scans, filters,
///   joins and aggregates the row groups of the file morsel by morsel on every core.
fn polars_direct(parquet: &Path, sidecars: &Path) -> PolarsResult<DataFrame> {
    let table = YsbCampaigns::read_csv(&sidecars.join(format!("{TOPIC}.campaigns.csv")))
        .map_err(|e| PolarsError::ComputeError(e.to_string().into()))?;
    let (ads, campaigns): (Vec<String>, Vec<String>) = table
        .ads
        .iter()
        .map(|a| (a.ad_id.to_string(), a.campaign_id.to_string()))
        .unzip();
    let ad = DataType::from_categories(Categories::global());
    let dim = DataFrame::new(
        ads.len(),
        vec![
            Column::new("ad_id".into(), ads).cast(&ad)?,
            Column::new("campaign_id".into(), campaigns),
        ],
    )?;
    // Event times are whole milliseconds, stored as Datetime(µs).
    let window_us = WINDOW_MS * 1_000;
    LazyFrame::scan_parquet(
        PlRefPath::try_from_path(parquet)?,
        ScanArgsParquet::default(),
    )?
    .filter(col("event_type").eq(lit("view")))
    .with_column(col("ad_id").cast(ad))
    .join(
        dim.lazy(),
        [col("ad_id")],
        [col("ad_id")],
        JoinArgs::new(JoinType::Inner),
    )
    .group_by([
        (col("event_time")
            .cast(DataType::Int64)
            .floor_div(lit(window_us))
            * lit(WINDOW_MS))
        .alias("window_start"),
        col("campaign_id"),
    ])
    .agg([col("event_id").n_unique().alias("views")])
    .collect_with_engine(Engine::Streaming)
    .map(|r| r.unwrap_single())
}

fn frame_cells(df: &DataFrame) -> Result<Cells> {
    let ws = df.column("window_start")?.i64()?;
    let campaign = df.column("campaign_id")?.str()?;
    let views = df.column("views")?.cast(&DataType::UInt64)?;
    let views = views.u64()?;
    let mut cells = Cells::new();
    for i in 0..df.height() {
        let (Some(w), Some(c), Some(n)) = (ws.get(i), campaign.get(i), views.get(i)) else {
            bail!("null in row {i} of the polars result");
        };
        cells.insert((w, c.to_owned()), n);
    }
    Ok(cells)
}

fn table_cells(table: &PartialTable, what: &str) -> Result<Cells> {
    let mut cells = Cells::new();
    for (w, key, partials) in table.iter() {
        ensure!(
            w.end - w.start == WINDOW_MS,
            "{what}: window {w:?} is not 10 s"
        );
        let (Some(Scalar::Str(c)), [Partial::Count(n)]) = (key.first(), partials.as_slice()) else {
            bail!("{what}: unexpected cell {key:?} {partials:?}");
        };
        if *n > 0 {
            cells.insert((w.start, c.clone()), *n);
        }
    }
    Ok(cells)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn speed_layer(f: &Fixture, workload: &Workload) -> SpeedLayer {
    let log: Arc<dyn Log> = Arc::new(f.log.clone());
    let partitions = log.partition_count(TOPIC).expect("partitions") as usize;
    SpeedLayer::new(
        log,
        workload.clone(),
        SpeedConfig::new(TOPIC, &f.sidecars),
        vec![0; partitions],
    )
    .expect("speed layer")
}

/// The three answer the same: same cells, same counts (checked once, untimed).
fn check_same_answer(f: &Fixture, workload: &Workload, rt: &tokio::runtime::Runtime) -> Result<()> {
    let view = batch_layer::recompute(&f.log, workload, TOPIC, &f.sidecars)?;
    ensure!(
        view.records_read == f.records,
        "the batch layer read every record"
    );
    ensure!(view.events == f.events, "the batch layer de-duplicated");
    let batch = table_cells(&view.table, "batch_layer")?;
    let direct = frame_cells(&polars_direct(&f.parquet, &f.sidecars)?)?;
    let speed = speed_layer(f, workload);
    rt.block_on(speed.run_until_caught_up())?;
    let speed = table_cells(&speed.snapshot().merged()?, "speed_layer")?;
    ensure!(!batch.is_empty(), "an empty answer");
    for (name, other) in [("polars_direct", &direct), ("speed_layer", &speed)] {
        ensure!(
            batch.len() == other.len(),
            "batch_layer has {} cells, {name} {}",
            batch.len(),
            other.len()
        );
        if let Some((k, v)) = batch.iter().find(|(k, v)| other.get(*k) != Some(*v)) {
            bail!(
                "cell {k:?}: batch_layer {v}, {name} {:?}",
                other.get(k).copied()
            );
        }
    }
    println!(
        "lambda: batch_layer, polars_direct and speed_layer agree: {} (window, campaign) cells, \
         {} views",
        batch.len(),
        batch.values().sum::<u64>()
    );
    Ok(())
}

fn batch_recompute(c: &mut Criterion, f: &Fixture, workload: &Workload) {
    let mut group = c.benchmark_group("batch_recompute");
    group
        .throughput(Throughput::Elements(f.events))
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(20));
    group.bench_function("batch_layer", |b| {
        b.iter_batched(
            || (),
            |()| {
                // Returned, so the view is dropped outside the timing.
                batch_layer::recompute(&f.log, workload, TOPIC, &f.sidecars).expect("recompute")
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("polars_direct", |b| {
        b.iter_batched(
            || (),
            |()| polars_direct(&f.parquet, &f.sidecars).expect("polars query"),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn speed(c: &mut Criterion, f: &Fixture, workload: &Workload, rt: &tokio::runtime::Runtime) {
    let mut group = c.benchmark_group("speed_layer");
    group
        .throughput(Throughput::Elements(f.events))
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(20));
    group.bench_function("run_until_caught_up", |b| {
        b.iter_batched(
            || speed_layer(f, workload),
            |speed| {
                rt.block_on(speed.run_until_caught_up())
                    .expect("speed layer");
                black_box(speed)
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn main() -> Result<()> {
    let mut c = Criterion::default().configure_from_args();
    let f = fixture(event_count()?)?;
    let workload = Workload::BuiltIn(BuiltIn::YsbCampaign10s);
    let rt = runtime();
    check_same_answer(&f, &workload, &rt)?;
    batch_recompute(&mut c, &f, &workload);
    speed(&mut c, &f, &workload, &rt);
    c.final_summary();
    Ok(())
}
