//! Reprocessing: version 2 with a changed window replays the topic from offset 0 into its
//! own table while version 1 keeps serving; the alias then switches atomically. Queries
//! issued in a loop meanwhile never fail and always get one whole version.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::*;
use master_log::Log;

/// Fares per zone in tumbling windows of 10 minutes.
const TUMBLING_FARES: &str = "name = \"fares\"\ntopic = \"trips\"\nwindow = { kind = \"tumbling\", size = \"10m\" }\ngroup_by = [\"zone\"]\naggregates = [\"count\", \"sum(fare)\"]\n";

#[test]
fn a_changed_window_is_applied_to_all_of_history_and_switched_atomically() {
    let fx = csv(2);
    let (log, kdir) = fx.full_job_target();
    let v1 = spec(TUMBLING_FARES);
    let v2 = spec(
        "name = \"fares\"\ntopic = \"trips\"\nwindow = { kind = \"hopping\", size = \"10m\", slide = \"5m\" }\ngroup_by = [\"zone\"]\naggregates = [\"count\", \"sum(fare)\"]\n",
    );
    let lateness = fx.covering_lateness_ms;
    fx.job(&log, &v1, fx.config(&kdir, lateness))
        .run_until_caught_up()
        .unwrap();
    let t1 = kappa::load_serving(&kdir, "fares").unwrap();
    assert_eq!(t1.version, 1);
    assert_exact(&fx.oracle(log.as_ref(), &v1), &v1, &t1.table, "v1");

    // Queries in a loop while version 2 reprocesses and the alias switches.
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (kdir, stop, t1, end) = (kdir.clone(), stop.clone(), t1.table.clone(), fx.end());
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            loop {
                let done = stop.load(Ordering::SeqCst);
                let t = kappa::load_serving(&kdir, "fares").expect("a query never fails");
                if t.version == 1 {
                    assert_eq!(t.table, t1, "version 1 is served whole");
                } else {
                    assert_eq!(t.positions, end, "version 2 serves only once caught up");
                }
                if seen.last() != Some(&t.version) {
                    seen.push(t.version);
                }
                if done {
                    return seen;
                }
            }
        })
    };
    // Small fetches and a short interval: each task checkpoints and its table part is
    // written several times during the replay, whatever the timing of the two workers.
    let config = kappa::JobConfig {
        version: 2,
        checkpoint_records: 500,
        checkpoint_interval: Duration::from_millis(5),
        fetch_limits: master_log::FetchLimits {
            max_records: 200,
            ..master_log::FetchLimits::default()
        },
        ..fx.config(&kdir, lateness)
    };
    let mut ticks = 0;
    let report = kappa::reprocess(
        log.clone(),
        v2.clone(),
        config.clone(),
        0,
        Duration::from_secs(120),
        &mut |_| ticks += 1,
    )
    .unwrap();
    assert_eq!(report.old_version, Some(1));
    assert_eq!(report.new_version, 2);
    assert_eq!(report.records, fx.end().iter().sum::<u64>());
    // The time and the rate cover the job's setup, its replay, a checkpoint of every
    // task and the switch, in that order; the job's stop comes after the switch.
    assert!(report.setup_ms <= report.caught_up_ms, "{report:?}");
    assert!(report.caught_up_ms <= report.elapsed_ms, "{report:?}");
    assert!(
        report.elapsed_ms + report.stopped_ms + 1 >= report.run.elapsed_ms,
        "{report:?}"
    );
    let rate = report.records as f64 * 1000.0 / report.elapsed_ms.max(1) as f64;
    assert!(
        (report.records_per_s / rate - 1.0).abs() < 0.05 || report.elapsed_ms < 20,
        "{} records/s over {} ms",
        report.records_per_s,
        report.elapsed_ms
    );
    assert!(
        report.run.table_writes > 1,
        "v2's table was written while v1 served"
    );

    let t2 = kappa::load_serving(&kdir, "fares").unwrap();
    assert_eq!(t2.version, 2);
    assert_eq!(t2.positions, fx.end());
    assert_exact(&fx.oracle(log.as_ref(), &v2), &v2, &t2.table, "v2");

    // Reprocessing into the serving version is refused; retiring it too.
    assert!(
        kappa::reprocess(
            log.clone(),
            v2.clone(),
            config.clone(),
            0,
            Duration::from_secs(5),
            &mut |_| {}
        )
        .is_err()
    );
    assert!(kappa::retire(log.as_ref(), &config, "fares", 2).is_err());
    // Retire version 1: its table, state and topics are gone; version 2 still serves.
    kappa::retire(log.as_ref(), &config, "fares", 1).unwrap();
    assert_eq!(kappa::list_versions(&kdir, "fares").unwrap(), vec![2]);
    let topics: Vec<String> = log
        .list_topics()
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert!(!topics.contains(&kappa::changelog_topic("fares.v1")));
    assert!(topics.contains(&kappa::changelog_topic("fares.v2")));
    assert!(!kappa::state_dir(&kdir, "fares.v1").exists());
    assert_eq!(kappa::load_serving(&kdir, "fares").unwrap().version, 2);

    // The reader ran through the switch and the retirement without a failure.
    assert!(ticks >= 1);
    stop.store(true, Ordering::SeqCst);
    let seen = reader.join().unwrap();
    assert_eq!(seen.first(), Some(&1));
    assert_eq!(seen.last(), Some(&2));
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
}

#[test]
fn the_switch_comes_after_a_checkpoint_of_every_task_even_one_that_never_checkpointed() {
    let fx = csv(2);
    let (log, kdir) = fx.full_job_target();
    let w = spec(TUMBLING_FARES);
    // Neither the interval nor the record count comes during the replay: the tasks
    // checkpoint, and the table is written, only because the switch asks for it.
    let config = kappa::JobConfig {
        checkpoint_interval: Duration::from_secs(3600),
        checkpoint_records: u64::MAX,
        ..fx.config(&kdir, fx.covering_lateness_ms)
    };
    let report = kappa::reprocess(
        log.clone(),
        w.clone(),
        config,
        0,
        Duration::from_secs(120),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(report.new_version, 1);
    assert_eq!(report.records, fx.end().iter().sum::<u64>());
    let t = kappa::load_serving(&kdir, "fares").unwrap();
    assert_eq!((t.version, &t.positions), (1, &fx.end()));
    assert_exact(&fx.oracle(log.as_ref(), &w), &w, &t.table, "v1");
}
