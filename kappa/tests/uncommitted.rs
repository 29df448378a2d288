//! Read-uncommitted visibility (`JobConfig::uncommitted_every`): the table files show
//! what the tasks have processed before any checkpoint covers it, each part the exact
//! result of its partition's records below its position; a crash moves the table back
//! to the checkpoints, and the restarted job ends at the same table as an uninterrupted
//! run.

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use kappa::{JobConfig, OutputTable, RunningJob};
use master_log::EmbeddedLog;
use workloads::{BuiltIn, Workload};

/// No checkpoint but the first and the last of a run: the wall-clock interval and the
/// record count are out of reach.
fn config(fx: &Fixture, kdir: &std::path::Path, uncommitted: Option<Duration>) -> JobConfig {
    JobConfig {
        checkpoint_interval: Duration::from_secs(3600),
        checkpoint_records: u64::MAX,
        uncommitted_every: uncommitted,
        ..fx.config(kdir, fx.covering_lateness_ms)
    }
}

/// The table of an uninterrupted, checkpointed run over the records below `to`.
fn reference(fx: &Fixture, w: &Workload, to: &[u64]) -> OutputTable {
    let (log, kdir) = fx.job_target();
    fx.copy(log.as_ref(), &fx.zeros(), to);
    let job = fx.job(&log, w, config(fx, &kdir, None));
    job.run_until_caught_up().unwrap();
    kappa::load_version(&kdir, w.name(), 1).unwrap()
}

/// A job over an empty target log of `fx`, started, that writes its table after every
/// read: the log, the Kappa directory and the running job.
fn start_showing_every_read(fx: &Fixture, w: &Workload) -> (Arc<EmbeddedLog>, PathBuf, RunningJob) {
    let (log, kdir) = fx.job_target();
    let running = fx
        .job(&log, w, config(fx, &kdir, Some(Duration::ZERO)))
        .start()
        .unwrap();
    (log, kdir, running)
}

/// A job of ysb-campaign-10s over 2,000 events in 2 partitions, started without
/// uncommitted visibility and caught up before any checkpoint of its own: the fixture,
/// the Kappa directory and the running job.
fn caught_up_without_a_checkpoint() -> (Fixture, PathBuf, RunningJob) {
    let fx = generated_n(
        datasets::DatasetKind::Ysb,
        &[BuiltIn::YsbCampaign10s],
        2,
        2_000,
    );
    let (log, kdir) = fx.job_target();
    let w = &fx.workloads[0];
    let running = fx.job(&log, w, config(&fx, &kdir, None)).start().unwrap();
    fx.copy(log.as_ref(), &fx.zeros(), &fx.end());
    assert!(running.wait_caught_up(Duration::from_secs(60)).unwrap());
    (fx, kdir, running)
}

#[test]
fn uncommitted_results_are_visible_before_a_checkpoint_and_a_crash_loses_nothing() {
    let fx = generated_n(
        datasets::DatasetKind::Ysb,
        &[BuiltIn::YsbCampaign10s],
        2,
        6_000,
    );
    let w = &fx.workloads[0];
    let half = fx.fraction(1, 2);
    for every in [Duration::ZERO, Duration::from_millis(5)] {
        let (log, kdir) = fx.job_target();
        let job = fx.job(&log, w, config(&fx, &kdir, Some(every)));
        let running = job.start().unwrap();
        fx.copy(log.as_ref(), &fx.zeros(), &half);
        // The table files show the first half while no checkpoint covers any of it.
        assert!(
            running
                .wait_visible(&half, Duration::from_secs(60))
                .unwrap()
        );
        assert!(!running.wait_checkpointed(&half, Duration::ZERO).unwrap());
        assert!(
            running
                .status()
                .partitions
                .iter()
                .all(|p| p.checkpointed == 0)
        );
        let shown = kappa::load_version(&kdir, w.name(), 1).unwrap();
        assert_eq!(shown.positions, half);
        assert!(
            same_result(&shown, &reference(&fx, w, &half)),
            "every {every:?}: the uncommitted table is the exact result of the first half"
        );
        // A crash: nothing was checkpointed since the start.
        running.abort().unwrap();
        // The restarted job shows its restored state first, then catches up to the end.
        fx.copy(log.as_ref(), &half, &fx.end());
        let job = fx.job(&log, w, config(&fx, &kdir, Some(every)));
        let report = job.run_until_caught_up().unwrap();
        assert!(report.restores.iter().all(|r| r.checkpoint.offset == 0));
        let end = kappa::load_version(&kdir, w.name(), 1).unwrap();
        assert_eq!(end.positions, fx.end());
        assert!(
            same_result(&end, &reference(&fx, w, &fx.end())),
            "every {every:?}: after the crash, the same table as an uninterrupted run"
        );
    }
}

#[test]
fn without_uncommitted_visibility_the_table_waits_for_a_checkpoint() {
    let (fx, kdir, running) = caught_up_without_a_checkpoint();
    let w = &fx.workloads[0];
    assert!(
        !running
            .wait_visible(&fx.end(), Duration::from_millis(300))
            .unwrap()
    );
    // Stopping checkpoints, and the table shows everything.
    running.stop().unwrap();
    let t = kappa::load_version(&kdir, w.name(), 1).unwrap();
    assert_eq!(t.positions, fx.end());
}

#[test]
fn checkpoint_now_checkpoints_every_task_and_writes_the_table_while_the_job_runs() {
    let (fx, kdir, running) = caught_up_without_a_checkpoint();
    let w = &fx.workloads[0];
    // Neither the interval nor the record count has come: nothing is checkpointed yet.
    assert_eq!(running.job().checkpointed_positions(), fx.zeros());
    assert!(running.checkpoint_now(Duration::from_secs(60)).unwrap());
    assert_eq!(running.job().checkpointed_positions(), fx.end());
    let t = kappa::load_version(&kdir, w.name(), 1).unwrap();
    assert_eq!(
        t.positions,
        fx.end(),
        "the table's files show the checkpoints"
    );
    // Nothing new: the next request returns at once, covered.
    assert!(running.checkpoint_now(Duration::ZERO).unwrap());
    running.stop().unwrap();
    assert!(same_result(
        &kappa::load_version(&kdir, w.name(), 1).unwrap(),
        &reference(&fx, w, &fx.end())
    ));
}

#[test]
fn a_running_job_appends_deltas_of_what_changed() {
    let fx = generated_n(
        datasets::DatasetKind::Pageviews,
        &[BuiltIn::PageviewsPerMinute],
        1,
        6_000,
    );
    let w = &fx.workloads[0];
    let (log, kdir, running) = start_showing_every_read(&fx, w);
    for i in 1..=4 {
        let (from, to) = (fx.fraction(i - 1, 4), fx.fraction(i, 4));
        fx.copy(log.as_ref(), &from, &to);
        assert!(running.wait_visible(&to, Duration::from_secs(60)).unwrap());
    }
    let frames = kappa::part_frames(&kdir, w.name(), 1, 0).unwrap();
    let (full, deltas): (Vec<_>, Vec<_>) = frames
        .iter()
        .partition(|f| matches!(f, kappa::Frame::Full(_)));
    assert_eq!(full.len(), 1, "one snapshot, at the task's first write");
    assert!(deltas.len() >= 3, "{} deltas", deltas.len());
    // A delta carries what changed: fewer cells than the part holds by the end.
    let cells = kappa::load_version(&kdir, w.name(), 1).unwrap().table.len();
    for d in &deltas {
        let kappa::Frame::Delta(d) = d else {
            unreachable!()
        };
        assert!(d.upserts.len() < cells, "{} of {cells}", d.upserts.len());
    }
    running.stop().unwrap();
    assert!(same_result(
        &kappa::load_version(&kdir, w.name(), 1).unwrap(),
        &reference(&fx, w, &fx.end())
    ));
}

#[test]
fn wait_visible_wakes_at_the_table_write_not_at_its_timeout() {
    let fx = generated_n(
        datasets::DatasetKind::Ysb,
        &[BuiltIn::YsbCampaign10s],
        2,
        2_000,
    );
    let w = &fx.workloads[0];
    let (log, _, running) = start_showing_every_read(&fx, w);
    let end = fx.end();
    // The waiter sleeps before the records are there; only a table write can wake it
    // before its timeout (which would also return true, the records being visible then).
    let timeout = Duration::from_secs(120);
    let (visible, took) = std::thread::scope(|s| {
        let waiter = s.spawn(|| {
            let t = std::time::Instant::now();
            (running.wait_visible(&end, timeout).unwrap(), t.elapsed())
        });
        std::thread::sleep(Duration::from_millis(100));
        fx.copy(log.as_ref(), &fx.zeros(), &end);
        waiter.join().unwrap()
    });
    assert!(visible);
    assert!(took < timeout / 2, "woken after {took:?}");
    running.stop().unwrap();
}
