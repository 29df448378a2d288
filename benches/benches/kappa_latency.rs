//! Append-to-visible latency of a Kappa job at 100,000 events/s.
//!
//! ```text
//! cargo bench -p lk-benches --bench kappa_latency
//! ```
//!
//! The method is that of `lambda_latency.rs`, with a Kappa job in place of the speed
//! layer. YSB events are generated beforehand (`datasets::Generator`, 100,000 events/s of
//! event time, in order, no duplicates) and the ad → campaign table is written to a
//! sidecar directory. Each run opens a fresh embedded log (one topic, 4 partitions, after
//! a `sync`) and starts a `kappa::Job` for `ysb-campaign-10s` following it (`Job::start`,
//! 2 worker threads, redb stores, a fresh directory). Then:
//!
//! - a producer thread sends the events in batches of 100, one batch every 1 ms
//!   (100,000 events/s) for 10 s, with `Log::produce` (keyed: the batch is split over the
//!   partitions by Kafka's murmur2 of the ad id);
//! - an observer thread waits, batch after batch, with `RunningJob::wait_visible` until
//!   the table *files* cover the batch (every partition's part, as last written to its
//!   file, is at or past the batch's offsets: what `lk query` would read),
//!   and records the latency of each batch in an HDR histogram.
//!
//! **What "visible" means for Kappa.** By default a Kappa table shows a task's records
//! once the task has checkpointed them (changelog appended, redb transaction committed
//! with fsync, part written and fsynced), so the latency is bounded below by the
//! checkpoint interval and by the disk's fsync times. With `JobConfig::uncommitted_every`
//! (read-uncommitted) the parts are written, without fsync, with what the tasks have
//! processed, between checkpoints. The bench measures four configurations: the job's
//! default (`checkpoint_interval` 1 s, and a checkpoint every 100,000 records per task),
//! a short interval of 10 ms, and the default interval with uncommitted results shown
//! after every read (`uncommitted_every` = 0), all three to the table files; and `fresh`:
//! the default job answering fresh queries (`Job::track_fresh`), the observer waiting
//! with `RunningJob::wait_fresh` until the tasks have processed the batch, in memory —
//! what `lambda_latency.rs` measures of the speed layer (its positions cover the batch),
//! so the like-for-like figure of the two.
//!
//! **Coordinated omission.** A batch's latency is measured from its *intended* send
//! time, `start + i · 1 ms` (the schedule), not from when the producer actually appended
//! it; every batch is sent and recorded, so `Histogram::record_correct` is not used.
//!
//! 3 runs per configuration (`LK_KAPPA_LATENCY_ONLY=default|short|uncommitted|fresh`
//! runs one); the bench prints p50, p90, p99, p99.9 and max of each run and the median of each
//! across the runs, in µs, with how far the producer ever fell behind its schedule and
//! how many times the job wrote its table. The latency includes the observer's own
//! wake-up (a condition variable).
//!
//! `cargo bench` passes `--bench`; without it (as under `cargo test --benches`) one run of
//! 0.2 s per configuration checks that the machinery works. Criterion's options are
//! accepted and ignored; a filter that does not match `kappa_latency` skips the bench.

#[path = "common/ysb_schedule.rs"]
mod ysb_schedule;

use std::path::Path;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, ensure};
use hdrhistogram::Histogram;
use kappa::{Job, JobConfig};
use lk_benches::{format_summary, median, summarize};
use master_log::{EmbeddedLog, Log, TopicConfig};
use workloads::{BuiltIn, Workload};
use ysb_schedule::{BATCH, PACE, PARTITIONS, Plan, Schedule, TOPIC, prepare};

/// The observer gives up on a batch after waiting this long for it.
const VISIBLE_TIMEOUT: Duration = Duration::from_secs(30);

struct RunResult {
    hist: Histogram<u64>,
    behind: Duration,
    table_writes: u64,
}

/// Where the observer waits for a batch to be visible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Visible {
    /// In the table files (`RunningJob::wait_visible`).
    Files,
    /// In memory, processed by the tasks (`Job::track_fresh`, `RunningJob::wait_fresh`).
    Fresh,
}

/// One run: a fresh log, a job following it, a paced producer, an observer.
fn run(
    w: &Schedule,
    sidecars: &Path,
    checkpoint_interval: Duration,
    uncommitted_every: Option<Duration>,
    visible: Visible,
) -> Result<RunResult> {
    let _ = std::process::Command::new("sync").status();
    let dir = tempfile::tempdir()?;
    let log = EmbeddedLog::open(dir.path().join("log"))?;
    log.create_topic(TOPIC, TopicConfig::with_partitions(PARTITIONS))?;
    let dyn_log: Arc<dyn Log> = Arc::new(log.clone());
    let config = JobConfig {
        checkpoint_interval,
        uncommitted_every,
        ..JobConfig::new(TOPIC, dir.path().join("kappa"), sidecars)
    };
    let job = Job::new(dyn_log, Workload::BuiltIn(BuiltIn::YsbCampaign10s), config)?;
    if visible == Visible::Fresh {
        job.track_fresh();
    }
    let running = job.start()?;
    // Let the tasks open and reach their first wait on the empty log.
    ensure!(
        running.wait_caught_up(Duration::from_secs(10))?,
        "the job started"
    );
    thread::sleep(Duration::from_millis(100));

    let start = Instant::now() + Duration::from_millis(10);
    let due = move |i: usize| start + PACE * i as u32;
    let (hist, behind) = thread::scope(|s| -> Result<(Histogram<u64>, Duration)> {
        let observer = s.spawn(|| -> Result<Histogram<u64>> {
            let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)?;
            for (i, target) in w.targets.iter().enumerate() {
                let seen = match visible {
                    Visible::Files => running.wait_visible(target, VISIBLE_TIMEOUT)?,
                    Visible::Fresh => running.wait_fresh(target, VISIBLE_TIMEOUT)?,
                };
                ensure!(seen, "batch {i} not visible after {VISIBLE_TIMEOUT:?}");
                let latency = Instant::now().saturating_duration_since(due(i));
                hist.record((latency.as_nanos() as u64).max(1))?;
            }
            Ok(hist)
        });
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
        Ok((hist, behind))
    })?;
    let report = running.stop()?;
    let last = w.targets.last().cloned().unwrap_or_default();
    let positions: Vec<u64> = report
        .status
        .partitions
        .iter()
        .map(|p| p.position)
        .collect();
    ensure!(positions == last, "the job read every record");
    ensure!(job.table()?.events > 0, "the table counted views");
    Ok(RunResult {
        hist,
        behind,
        table_writes: report.table_writes,
    })
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(full) = lk_benches::bench_mode("kappa_latency", &args) else {
        return Ok(());
    };
    let plan = Plan::for_mode(full);
    let sidecars = tempfile::tempdir()?;
    let w = prepare(plan, sidecars.path())?;
    let default_interval = JobConfig::new(TOPIC, "", "").checkpoint_interval;
    // `LK_KAPPA_LATENCY_ONLY=uncommitted` (or `default`, `short`, `fresh`): one
    // configuration.
    let only = std::env::var("LK_KAPPA_LATENCY_ONLY").ok();
    for (label, interval, uncommitted, visible) in [
        ("default", default_interval, None, Visible::Files),
        ("short", Duration::from_millis(10), None, Visible::Files),
        (
            "uncommitted",
            default_interval,
            Some(Duration::ZERO),
            Visible::Files,
        ),
        ("fresh", default_interval, None, Visible::Fresh),
    ] {
        if only.as_deref().is_some_and(|o| o != label) {
            continue;
        }
        println!(
            "kappa_latency: job ysb-campaign-10s ({PARTITIONS} partitions, 2 workers), checkpoint \
             interval {interval:?}, uncommitted_every {uncommitted:?} ({label}), at {} events/s: \
             {} batches of {BATCH}, one every {} µs, {} run(s); latency from each batch's \
             scheduled send time to visible {}, in µs",
            BATCH as u128 * 1_000_000 / PACE.as_micros(),
            plan.batches,
            PACE.as_micros(),
            plan.runs,
            match visible {
                Visible::Files => "in the table files",
                Visible::Fresh => "in memory (processed by the tasks: a fresh query's answer)",
            }
        );
        let mut summaries = Vec::new();
        for i in 0..plan.runs {
            let r = run(&w, sidecars.path(), interval, uncommitted, visible)?;
            ensure!(r.hist.len() == plan.batches as u64, "every batch recorded");
            let s = summarize(&r.hist);
            println!(
                "kappa_latency {label} run {}: {}   (producer at most {:.1} µs behind schedule; \
                 {} table writes)",
                i + 1,
                format_summary(&s),
                r.behind.as_nanos() as f64 / 1000.0,
                r.table_writes
            );
            summaries.push(s);
        }
        let mut m = [0.0; 5];
        for (k, v) in m.iter_mut().enumerate() {
            *v = median(summaries.iter().map(|s| s[k]).collect());
        }
        println!(
            "kappa_latency {label} median of {}: {}",
            plan.runs,
            format_summary(&m)
        );
    }
    Ok(())
}
