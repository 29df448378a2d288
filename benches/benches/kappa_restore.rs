//! Restore time of a Kappa job's state of about a million (window, key) cells.
//!
//! ```text
//! cargo bench -p lk-benches --bench kappa_restore
//! ```
//!
//! Set-up (not timed): 1,500,000 pageviews events over 1,000,000 pages (uniform), 20,000
//! events per second of event time, in order and without duplicates, in 4 partitions of a
//! fresh embedded log; a `pageviews-per-minute` job (redb stores, 2 worker threads, the
//! default checkpoints) runs over them until caught up. Its state is then one cell per
//! (minute, page) seen — about 1.05 M cells over the two minutes the events span — plus
//! the de-duplication set of all 1.5 M event ids (the de-duplication window is 10
//! minutes of event time), and its changelog holds every checkpoint's changes.
//!
//! Each restore is a new `Job` of the same version started with `Job::start`, timed until
//! `RunningJob::wait_caught_up` returns: every task has opened (restored its state) and
//! seen that it is at the end of its partition. Then the job is stopped (untimed; the
//! final table write of a million cells is not part of the restore). Three ways, 3 runs
//! each:
//!
//! - `changelog→redb`: `StoreKind::Redb` with the job's state directory deleted first: each
//!   task reads its changelog partition and rebuilds its redb store (one transaction);
//! - `changelog→memory`: `StoreKind::Memory`: each task reads its changelog into memory;
//! - `local redb`: `StoreKind::Redb` with the stores left in place (Samza's host
//!   affinity): each task reads its own redb file.
//!
//! Printed per run: seconds, the restore source the tasks reported, the changelog records
//! they read, the cells in the restored table, and cells per second (and changelog
//! records per second for the changelog restores); then the median seconds of each way.
//! The bench checks that every restore gives back the table the job had built.
//!
//! `cargo bench` passes `--bench`; without it (as under `cargo test --benches`) the same
//! with 20,000 events over 10,000 pages and one run per way. Criterion's options are
//! accepted and ignored; a filter that does not match `kappa_restore` skips the bench.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use datasets::{DatasetKind, GenerateOptions};
use kappa::{Job, JobConfig, RestoreSource, StoreKind};
use lk_benches::median;
use master_log::{EmbeddedLog, Log};
use workloads::{BuiltIn, PartialTable, Workload};

const TOPIC: &str = "pageviews";
const TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, Copy)]
struct Plan {
    events: u64,
    pages: u64,
    runs: usize,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Way {
    ChangelogToRedb,
    ChangelogToMemory,
    LocalRedb,
}

impl Way {
    fn label(self) -> &'static str {
        match self {
            Way::ChangelogToRedb => "changelog→redb",
            Way::ChangelogToMemory => "changelog→memory",
            Way::LocalRedb => "local redb",
        }
    }
}

struct Restored {
    secs: f64,
    sources: Vec<RestoreSource>,
    changelog_records: u64,
    table: PartialTable,
}

fn restore(log: &Arc<dyn Log>, config: &JobConfig, way: Way) -> Result<Restored> {
    let workload = Workload::BuiltIn(BuiltIn::PageviewsPerMinute);
    let state = kappa::state_dir(&config.dir, &kappa::job_name(workload.name(), 1));
    let store = match way {
        Way::ChangelogToRedb => {
            std::fs::remove_dir_all(&state)?;
            StoreKind::Redb
        }
        Way::ChangelogToMemory => StoreKind::Memory,
        Way::LocalRedb => StoreKind::Redb,
    };
    let config = JobConfig {
        store,
        ..config.clone()
    };
    // Start on a settled disk: write back what earlier runs left dirty.
    let _ = std::process::Command::new("sync").status();
    let started = Instant::now();
    let job = Job::new(log.clone(), workload, config)?;
    let running = job.start()?;
    ensure!(running.wait_caught_up(TIMEOUT)?, "the restore finished");
    let secs = started.elapsed().as_secs_f64();
    let table = job.table()?.table;
    let report = running.stop()?;
    Ok(Restored {
        secs,
        sources: report.restores.iter().map(|r| r.source).collect(),
        changelog_records: report.restores.iter().map(|r| r.changelog_records).sum(),
        table,
    })
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(full) = lk_benches::bench_mode("kappa_restore", &args) else {
        return Ok(());
    };
    let plan = if full {
        Plan {
            events: 1_500_000,
            pages: 1_000_000,
            runs: 3,
        }
    } else {
        Plan {
            events: 20_000,
            pages: 10_000,
            runs: 1,
        }
    };
    let dir = tempfile::tempdir()?;
    let log = EmbeddedLog::open(dir.path().join("log"))?;
    let sidecars = dir.path().join("datasets");
    let opts = GenerateOptions {
        partitions: 4,
        keys: Some(plan.pages),
        event_rate: Some(20_000),
        ..GenerateOptions::new(DatasetKind::Pageviews, TOPIC, plan.events)
    };
    datasets::generate(&log, &opts, Some(&sidecars), &mut datasets::no_progress)?;
    let log: Arc<dyn Log> = Arc::new(log);
    let config = JobConfig::new(TOPIC, dir.path().join("kappa"), &sidecars);
    let started = Instant::now();
    let job = Job::new(
        log.clone(),
        Workload::BuiltIn(BuiltIn::PageviewsPerMinute),
        config.clone(),
    )?;
    job.run_until_caught_up()?;
    let built = job.table()?.table;
    let changelog = kappa::changelog_topic(job.name());
    let changelog_len: u64 = log.end_offsets(&changelog)?.iter().sum();
    println!(
        "kappa_restore: pageviews-per-minute over {} events ({} pages, 4 partitions, 2 \
         workers): {} (minute, page) cells built in {:.1} s; the changelog holds {} records",
        plan.events,
        plan.pages,
        built.len(),
        started.elapsed().as_secs_f64(),
        changelog_len
    );
    drop(job);
    let state_bytes = dir_size(&kappa::state_dir(
        &config.dir,
        &kappa::job_name("pageviews-per-minute", 1),
    ))?;
    println!(
        "kappa_restore: the redb stores hold {:.0} MB",
        state_bytes as f64 / 1e6
    );
    for way in [Way::ChangelogToRedb, Way::ChangelogToMemory, Way::LocalRedb] {
        let mut secs = Vec::new();
        for i in 0..plan.runs {
            let r = restore(&log, &config, way)?;
            ensure!(
                r.table == built,
                "{}: the restored table is the one built",
                way.label()
            );
            let want = match way {
                Way::LocalRedb => RestoreSource::LocalStore,
                _ => RestoreSource::Changelog,
            };
            ensure!(
                r.sources.iter().all(|s| *s == want),
                "{}: the tasks restored from {:?}",
                way.label(),
                r.sources
            );
            let cells = r.table.len() as f64;
            println!(
                "kappa_restore {} run {}: {:.2} s, {} changelog records read ({:.0} records/s), \
                 {} cells ({:.0} cells/s)",
                way.label(),
                i + 1,
                r.secs,
                r.changelog_records,
                r.changelog_records as f64 / r.secs,
                r.table.len(),
                cells / r.secs
            );
            secs.push(r.secs);
        }
        let m = median(secs);
        println!(
            "kappa_restore {} median of {}: {m:.2} s ({:.0} cells/s)",
            way.label(),
            plan.runs,
            built.len() as f64 / m
        );
    }
    Ok(())
}

fn dir_size(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() {
            dir_size(&entry.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}
