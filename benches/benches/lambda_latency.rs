//! Append-to-visible latency of the Lambda speed layer at 100,000 events/s.
//!
//! ```text
//! cargo bench -p lk-benches --bench lambda_latency
//! ```
//!
//! YSB events are generated beforehand (`datasets::Generator`, 100,000 events/s of event
//! time, in order, no duplicates) and the ad → campaign table is written to a sidecar
//! directory. Each run opens a fresh embedded log (one topic, 4 partitions, after a
//! `sync`) and starts a `speed_layer::SpeedLayer` for `ysb-campaign-10s` following it
//! (`SpeedLayer::run`, on a tokio multi-thread runtime with one worker per core). Then:
//!
//! - a producer thread sends the events in batches of 100, one batch every 1 ms
//!   (100,000 events/s) for 10 s, with `Log::produce` (keyed: the batch is split over the
//!   partitions by Kafka's murmur2 of the ad id);
//! - an observer thread (its own current-thread tokio runtime) waits, batch after batch,
//!   with `SpeedLayer::wait_for_positions` until the speed layer's positions cover the
//!   batch (every record of it decoded, de-duplicated and folded into the realtime view),
//!   and records the latency of each batch in an HDR histogram.
//!
//! **Coordinated omission.** A batch's latency is measured from its *intended* send
//! time, `start + i · 1 ms` (the schedule), not from when the producer actually
//! appended it. If the producer is held up (a slow append, a preemption), the batches
//! due meanwhile are sent late, and that delay is part of their latency, as it would be
//! for a source that does not wait for the pipeline. Every batch is sent and recorded,
//! whatever the delays, so the histogram needs no synthetic samples:
//! `Histogram::record_correct` is not used (it would add samples for a stall that the
//! schedule-based measure has already counted).
//!
//! 3 runs; the bench prints p50, p90, p99, p99.9 and max of each run and the median of
//! each across the runs, in µs, with how far the producer ever fell behind its schedule.
//! The latency includes the observer's own wake-up (a `tokio::sync::watch` change).
//!
//! `cargo bench` passes `--bench`; without it (as under `cargo test --benches`) one run of
//! 0.2 s checks that the machinery works. Criterion's options are accepted and ignored;
//! a filter that does not match `lambda_latency` skips the bench.

#[path = "common/ysb_schedule.rs"]
mod ysb_schedule;

use std::path::Path;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, ensure};
use hdrhistogram::Histogram;
use lk_benches::{format_summary, median, summarize};
use master_log::{EmbeddedLog, Log, TopicConfig};
use speed_layer::{SpeedConfig, SpeedLayer};
use workloads::{BuiltIn, Workload};
use ysb_schedule::{BATCH, PACE, PARTITIONS, Plan, Schedule, TOPIC, prepare};

/// The observer gives up on a batch after waiting this long for it (rather than hanging
/// if the speed layer stopped).
const VISIBLE_TIMEOUT: Duration = Duration::from_secs(30);

/// One run: a fresh log, a speed layer following it, a paced producer, an observer.
/// Returns the latency histogram (ns) and the producer's largest lag behind schedule.
fn run(w: &Schedule, sidecars: &Path) -> Result<(Histogram<u64>, Duration)> {
    // Start on a settled disk: write back what earlier runs left dirty.
    let _ = std::process::Command::new("sync").status();
    let dir = tempfile::tempdir()?;
    let log = EmbeddedLog::open(dir.path())?;
    log.create_topic(TOPIC, TopicConfig::with_partitions(PARTITIONS))?;
    let dyn_log: Arc<dyn Log> = Arc::new(log.clone());
    let speed = SpeedLayer::new(
        dyn_log,
        Workload::BuiltIn(BuiltIn::YsbCampaign10s),
        SpeedConfig::new(TOPIC, sidecars),
        vec![0; PARTITIONS as usize],
    )?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let following = rt.spawn({
        let speed = speed.clone();
        async move { speed.run(shutdown).await }
    });
    // Let the partition tasks reach their first wait on the empty log.
    thread::sleep(Duration::from_millis(100));

    let start = Instant::now() + Duration::from_millis(10);
    let due = move |i: usize| start + PACE * i as u32;
    let observer = {
        let speed = speed.clone();
        let targets = w.targets.clone();
        thread::spawn(move || -> Result<Histogram<u64>> {
            let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)?;
            let local = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            local.block_on(async {
                for (i, target) in targets.iter().enumerate() {
                    tokio::time::timeout(VISIBLE_TIMEOUT, speed.wait_for_positions(target))
                        .await
                        .map_err(|_| anyhow!("batch {i} not visible after {VISIBLE_TIMEOUT:?}"))?;
                    let latency = Instant::now().saturating_duration_since(due(i));
                    hist.record((latency.as_nanos() as u64).max(1))?;
                }
                Ok::<_, anyhow::Error>(())
            })?;
            Ok(hist)
        })
    };

    let mut behind = Duration::ZERO;
    for (i, batch) in w.batches.iter().enumerate() {
        let now = Instant::now();
        let at = due(i);
        if at > now {
            thread::sleep(at - now);
        } else {
            behind = behind.max(now - at);
        }
        log.produce(TOPIC, batch.clone())?;
    }
    let hist = observer
        .join()
        .map_err(|_| anyhow!("observer thread panicked"))??;
    stop.send(true).ok();
    rt.block_on(following)??;
    let last = w.targets.last().cloned().unwrap_or_default();
    ensure!(
        speed.positions() == last,
        "the speed layer read every record"
    );
    let views: u64 = speed
        .snapshot()
        .merged()?
        .iter()
        .map(|(_, _, p)| match p.first() {
            Some(workloads::Partial::Count(n)) => *n,
            _ => 0,
        })
        .sum();
    ensure!(views > 0, "the realtime view counted views");
    Ok((hist, behind))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(full) = lk_benches::bench_mode("lambda_latency", &args) else {
        return Ok(());
    };
    let plan = Plan::for_mode(full);
    let sidecars = tempfile::tempdir()?;
    let w = prepare(plan, sidecars.path())?;
    println!(
        "lambda_latency: speed layer (ysb-campaign-10s, {PARTITIONS} partitions) at {} events/s: \
         {} batches of {BATCH}, one every {} µs, {} run(s); latency from each batch's \
         scheduled send time to visible, in µs",
        BATCH as u128 * 1_000_000 / PACE.as_micros(),
        plan.batches,
        PACE.as_micros(),
        plan.runs
    );
    let mut summaries = Vec::new();
    for i in 0..plan.runs {
        let (hist, behind) = run(&w, sidecars.path())?;
        ensure!(hist.len() == plan.batches as u64, "every batch recorded");
        let s = summarize(&hist);
        println!(
            "lambda_latency run {}: {}   (producer at most {:.1} µs behind schedule)",
            i + 1,
            format_summary(&s),
            behind.as_nanos() as f64 / 1000.0
        );
        summaries.push(s);
    }
    let mut m = [0.0; 5];
    for (k, v) in m.iter_mut().enumerate() {
        *v = median(summaries.iter().map(|s| s[k]).collect());
    }
    println!(
        "lambda_latency median of {}: {}",
        plan.runs,
        format_summary(&m)
    );
    Ok(())
}
