//! Kappa processing throughput: generate YSB events into an embedded log, run the
//! `ysb-campaign-10s` job from offset 0 until caught up, and print the rate.
//!
//! `cargo run --release -p kappa --example job_throughput -- [EVENTS] [PARTITIONS] [WORKERS]`

use std::sync::Arc;
use std::time::Instant;

use datasets::{DatasetKind, GenerateOptions};
use kappa::{Job, JobConfig};
use master_log::EmbeddedLog;
use workloads::{BuiltIn, Workload};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let events = args.first().copied().unwrap_or(1_000_000);
    let partitions = args.get(1).copied().unwrap_or(4) as u32;
    let workers = args.get(2).copied().unwrap_or(2) as usize;
    let dir = tempfile::tempdir()?;
    let log = Arc::new(EmbeddedLog::open(dir.path().join("log"))?);
    let side = dir.path().join("datasets");
    let opts = GenerateOptions {
        partitions,
        out_of_order: 0.05,
        max_delay_ms: 2_000,
        late: 0.01,
        late_delay_ms: 30_000,
        duplicates: 0.01,
        ..GenerateOptions::new(DatasetKind::Ysb, "ysb", events)
    };
    let summary = datasets::generate(log.as_ref(), &opts, Some(&side), &mut datasets::no_progress)?;
    let config = JobConfig {
        workers,
        allowed_lateness_ms: 70_000,
        ..JobConfig::new("ysb", dir.path().join("kappa"), &side)
    };
    let job = Job::new(log, Workload::BuiltIn(BuiltIn::YsbCampaign10s), config)?;
    let started = Instant::now();
    let report = job.run_until_caught_up()?;
    let secs = started.elapsed().as_secs_f64();
    let table = kappa::load_serving(&dir.path().join("kappa"), "ysb-campaign-10s")?;
    println!(
        "{} records ({} events) in {partitions} partitions, {workers} workers: {secs:.2} s, \
         {:.0} records/s; {} cells, {} duplicates dropped, {} late, {} table writes",
        summary.records,
        summary.events,
        summary.records as f64 / secs,
        table.table.len(),
        table.duplicates,
        table.late_events,
        report.table_writes,
    );
    Ok(())
}
