//! Throughput of one Kappa job over a generated YSB log.
//!
//! ```text
//! cargo bench -p lk-benches --bench kappa_throughput
//! LK_BENCH_EVENTS=1000000 cargo bench -p lk-benches --bench kappa_throughput
//! ```
//!
//! Set-up (not timed): `LK_BENCH_EVENTS` YSB events (default 10,000,000) are generated
//! with `datasets::generate` into a fresh embedded log (4 partitions, 5 % out of order
//! up to 2 s, 1 % late by 30–60 s, 1 % duplicates, so ~10.1 M records).
//!
//! Each run is a new `kappa::Job` for `ysb-campaign-10s` (new version, fresh directory:
//! no state, no table; redb stores; the default checkpoints, every second and every
//! 100,000 records per task; 70 s of allowed lateness so that late events are counted)
//! timed from `Job::new` to the return of `run_until_caught_up` (every partition read to
//! its end, final checkpoint, table written). The job's changelog and late-events topics
//! are deleted after each run. 3 runs with 2 worker threads (one per core here), then 3
//! with 1.
//!
//! Printed per run: distinct events per second of wall clock, that divided by the worker
//! threads, and events per second of CPU time (user + system of the whole process over
//! the run, from `/proc/self/stat`: the worker threads, plus the main thread, which only
//! waits) — the per-core figure that does not depend on what else the machine runs.
//! Then the median of each over the runs. The bench checks that each run's table counts
//! every view event it applied, that no event was left out as late, and that every run
//! applied the same events and dropped the same duplicates; in the quick mode, that the
//! answer equals the oracle's (the `compare` bench checks Kappa against the oracle on
//! logs of this generator too; the oracle is too heavy for 10 M events).
//!
//! `cargo bench` passes `--bench`; without it (as under `cargo test --benches`) one run
//! per worker count over 5,000 events checks the machinery. Criterion's options are
//! accepted and ignored; a filter that does not match `kappa_throughput` skips the bench.

#[path = "common/bench_env.rs"]
mod bench_env;

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Result, ensure};
use datasets::{DatasetKind, GenerateOptions};
use kappa::{Job, JobConfig};
use lk_benches::median;
use master_log::{EmbeddedLog, Log};
use workloads::{BuiltIn, Workload};

const TOPIC: &str = "ysb";
const DEFAULT_EVENTS: u64 = 10_000_000;
const SMOKE_EVENTS: u64 = 5_000;
const ALLOWED_LATENESS_MS: i64 = 70_000;

fn event_count(full: bool) -> Result<u64> {
    if !full {
        return Ok(SMOKE_EVENTS);
    }
    bench_env::events_from_env(DEFAULT_EVENTS)
}

/// CPU time (user + system) of this process so far, in seconds, from `/proc/self/stat`
/// (clock ticks of 1/100 s). `None` where that file does not exist.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name (in parentheses, which may hold spaces).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line: 11 and 12 after the name.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

struct RunResult {
    secs: f64,
    cpu_secs: Option<f64>,
    /// View events applied and duplicates dropped.
    counts: (u64, u64),
}

fn run(
    log: &EmbeddedLog,
    sidecars: &std::path::Path,
    workers: usize,
    version: u32,
    check: Option<&workloads::ResultSet>,
) -> Result<RunResult> {
    let dir = tempfile::tempdir()?;
    let workload = Workload::BuiltIn(BuiltIn::YsbCampaign10s);
    let config = JobConfig {
        version,
        workers,
        allowed_lateness_ms: ALLOWED_LATENESS_MS,
        ..JobConfig::new(TOPIC, dir.path().join("kappa"), sidecars)
    };
    let dyn_log: Arc<dyn Log> = Arc::new(log.clone());
    let cpu0 = cpu_seconds();
    let started = Instant::now();
    let job = Job::new(dyn_log, workload.clone(), config)?;
    let report = job.run_until_caught_up()?;
    let secs = started.elapsed().as_secs_f64();
    let cpu_secs = cpu_seconds().zip(cpu0).map(|(b, a)| b - a);
    ensure!(report.status.caught_up, "the job caught up");
    let table = job.table()?;
    bench_env::check_ysb_counts(&table)?;
    if let Some(want) = check {
        ensure!(
            &workload.finish(&table.table)? == want,
            "the job's answer differs from the oracle's"
        );
    }
    for topic in [
        kappa::changelog_topic(job.name()),
        kappa::late_topic(job.name()),
    ] {
        log.delete_topic(&topic)?;
    }
    Ok(RunResult {
        secs,
        cpu_secs,
        counts: (table.events, table.duplicates),
    })
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(full) = lk_benches::bench_mode("kappa_throughput", &args) else {
        return Ok(());
    };
    let events = event_count(full)?;
    let runs = if full { 3 } else { 1 };
    let dir = tempfile::tempdir()?;
    let log = EmbeddedLog::open(dir.path().join("log"))?;
    let sidecars = dir.path().join("datasets");
    let opts = GenerateOptions {
        partitions: 4,
        out_of_order: 0.05,
        max_delay_ms: 2_000,
        late: 0.01,
        late_delay_ms: 30_000,
        duplicates: 0.01,
        ..GenerateOptions::new(DatasetKind::Ysb, TOPIC, events)
    };
    let started = Instant::now();
    let summary = datasets::generate(&log, &opts, Some(&sidecars), &mut datasets::no_progress)?;
    println!(
        "kappa_throughput: {} YSB events ({} records, {} partitions) generated in {:.1} s",
        summary.events,
        summary.records,
        summary.partitions,
        started.elapsed().as_secs_f64()
    );
    // The oracle's answer, on the small log only (it holds every event in memory).
    let want = if full {
        None
    } else {
        Some(oracle::answer(
            &log,
            &Workload::BuiltIn(BuiltIn::YsbCampaign10s),
            TOPIC,
            &sidecars,
        )?)
    };
    let mut counts = None;
    let mut version = 1;
    for workers in [2usize, 1] {
        let mut rates = Vec::new();
        let mut cpu_rates = Vec::new();
        for i in 0..runs {
            let r = run(&log, &sidecars, workers, version, want.as_ref())?;
            ensure!(
                *counts.get_or_insert(r.counts) == r.counts,
                "every run applies the same events and drops the same duplicates"
            );
            version += 1;
            let rate = summary.events as f64 / r.secs;
            let cpu_rate = r.cpu_secs.map(|c| summary.events as f64 / c.max(0.01));
            println!(
                "kappa_throughput workers={workers} run {}: {:.2} s, {:.3} M events/s, \
                 {:.3} M events/s per worker thread, {}",
                i + 1,
                r.secs,
                rate / 1e6,
                rate / workers as f64 / 1e6,
                match (r.cpu_secs, cpu_rate) {
                    (Some(c), Some(cr)) =>
                        format!("{c:.2} s of CPU: {:.3} M events per CPU-second", cr / 1e6),
                    _ => "CPU time unknown".to_owned(),
                }
            );
            rates.push(rate);
            if let Some(cr) = cpu_rate {
                cpu_rates.push(cr);
            }
        }
        let m = median(rates);
        println!(
            "kappa_throughput workers={workers} median of {runs}: {:.3} M events/s, {:.3} M \
             events/s per worker thread{}",
            m / 1e6,
            m / workers as f64 / 1e6,
            if cpu_rates.is_empty() {
                String::new()
            } else {
                format!(", {:.3} M events per CPU-second", median(cpu_rates) / 1e6)
            }
        );
    }
    Ok(())
}
