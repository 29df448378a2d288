//! Fresh results in memory (`Job::track_fresh`): what the tasks processed is in
//! `Job::fresh_table` as soon as they have processed it, before any checkpoint covers
//! it, while the table, its files and the checkpoints are those of a job that does not
//! track them; the cells of windows finalized between checkpoints reach the table at the
//! next checkpoint.

mod common;

use std::time::Duration;

use common::*;
use kappa::{JobConfig, OutputTable};
use workloads::{BuiltIn, Workload};

/// Checkpoints every `records` records (never by the clock).
fn config(fx: &Fixture, kdir: &std::path::Path, records: u64) -> JobConfig {
    JobConfig {
        checkpoint_interval: Duration::from_secs(3600),
        checkpoint_records: records,
        ..fx.config(kdir, fx.covering_lateness_ms)
    }
}

/// The table of an uninterrupted run, without fresh results, over the records below
/// `to`.
fn reference(fx: &Fixture, w: &Workload, to: &[u64]) -> OutputTable {
    let (log, kdir) = fx.job_target();
    fx.copy(log.as_ref(), &fx.zeros(), to);
    let job = fx.job(&log, w, config(fx, &kdir, u64::MAX));
    job.run_until_caught_up().unwrap();
    kappa::load_version(&kdir, w.name(), 1).unwrap()
}

#[test]
fn fresh_results_are_in_memory_before_a_checkpoint_and_nowhere_else() {
    let fx = generated_n(
        datasets::DatasetKind::Ysb,
        &[BuiltIn::YsbCampaign10s],
        2,
        6_000,
    );
    let w = &fx.workloads[0];
    let half = fx.fraction(1, 2);
    let (log, kdir) = fx.job_target();
    let job = fx.job(&log, w, config(&fx, &kdir, u64::MAX));
    job.track_fresh();
    let running = job.start().unwrap();
    fx.copy(log.as_ref(), &fx.zeros(), &half);
    assert!(running.wait_fresh(&half, Duration::from_secs(60)).unwrap());
    assert_eq!(job.fresh_positions(), half);
    // No checkpoint covers any of it: the table, its files and the checkpoints show
    // nothing of it.
    assert!(!running.wait_checkpointed(&half, Duration::ZERO).unwrap());
    assert_eq!(job.checkpointed_positions(), fx.zeros());
    assert_eq!(job.table().unwrap().positions, fx.zeros());
    assert!(job.table().unwrap().table.is_empty());
    assert!(!running.wait_visible(&half, Duration::ZERO).unwrap());
    let fresh = job.fresh_table().unwrap();
    assert_eq!(fresh.positions, half);
    assert!(
        same_result(&fresh, &reference(&fx, w, &half)),
        "the fresh table is the exact result of the first half"
    );
    // Stopping checkpoints: the table is what the fresh table showed, and they agree.
    running.stop().unwrap();
    let table = job.table().unwrap();
    assert_eq!(table.positions, half);
    assert!(same_result(&table, &fresh));
    assert!(same_result(&job.fresh_table().unwrap(), &table));
}

#[test]
fn windows_finalized_between_checkpoints_reach_the_table_at_the_next_one() {
    let fx = generated_n(
        datasets::DatasetKind::Ysb,
        &[BuiltIn::YsbCampaign10s],
        2,
        6_000,
    );
    let w = &fx.workloads[0];
    let (log, kdir) = fx.job_target();
    // Small reads, a checkpoint every 700 records: windows close between checkpoints,
    // their cells first in the fresh results alone.
    let mut c = config(&fx, &kdir, 700);
    c.fetch_limits.max_records = 100;
    let job = fx.job(&log, w, c);
    job.track_fresh();
    let running = job.start().unwrap();
    // Fresh queries all along, from another thread (which a failed assertion ends too).
    let done = std::sync::atomic::AtomicBool::new(false);
    struct Done<'a>(&'a std::sync::atomic::AtomicBool);
    impl Drop for Done<'_> {
        fn drop(&mut self) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }
    std::thread::scope(|s| {
        let _done = Done(&done);
        s.spawn(|| {
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                job.fresh_table().unwrap();
            }
        });
        for i in 1..=4 {
            let (from, to) = (fx.fraction(i - 1, 4), fx.fraction(i, 4));
            fx.copy(log.as_ref(), &from, &to);
            assert!(running.wait_fresh(&to, Duration::from_secs(60)).unwrap());
            let fresh = job.fresh_table().unwrap();
            assert!(
                same_result(&fresh, &reference(&fx, w, &to)),
                "piece {i}: the fresh table is the exact result of what was read"
            );
        }
    });
    let report = running.stop().unwrap();
    assert!(
        report.status.partitions.iter().all(|p| p.checkpoints > 2),
        "{:?}",
        report.status.partitions
    );
    let want = reference(&fx, w, &fx.end());
    assert!(same_result(&job.table().unwrap(), &want));
    assert!(same_result(&job.fresh_table().unwrap(), &want));
    let files = kappa::load_version(&kdir, w.name(), 1).unwrap();
    assert!(same_result(&files, &want));
}
