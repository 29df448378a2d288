//! With zero allowed lateness, the Kappa table differs from the complete answer by
//! exactly the events reported late: it equals the oracle's answer over the log without
//! them. Every late event is on the side topic, none is dropped silently.

mod common;

use std::collections::BTreeSet;

use common::*;
use master_log::{EmbeddedLog, Log, TopicConfig};

#[test]
fn zero_lateness_differs_by_exactly_the_late_events() {
    for parts in PARTITIONS {
        for fx in all(parts) {
            let (log, kdir) = fx.full_job_target();
            let mut fixture_late = 0;
            for w in &fx.workloads {
                let what = format!("{parts}p {}", w.name());
                let job = fx.job(&log, w, fx.config(&kdir, 0));
                let report = job.run_until_caught_up().unwrap();
                let table = kappa::load_serving(&kdir, w.name()).unwrap();
                let late = late_sources(log.as_ref(), job.name());
                fixture_late += late.len();
                assert_eq!(late.len() as u64, table.late_events, "{what}");
                let late_total: u64 = report.status.partitions.iter().map(|p| p.late_events).sum();
                assert_eq!(late_total, table.late_events, "{what}");
                let late: BTreeSet<(u32, u64)> = late.into_iter().collect();
                assert_eq!(late.len() as u64, table.late_events, "{what}: written once");

                // Every late event changes a per-minute count: not the complete answer …
                if w.name() == "pageviews-per-minute" {
                    let full = fx.oracle(log.as_ref(), w);
                    let got = w.finish(&table.table).unwrap();
                    assert!(!workloads::compare(&full, &got).is_exact(), "{what}");
                }
                // … but exactly the answer without the late events.
                let dir = tempfile::tempdir().unwrap();
                let without = EmbeddedLog::open(dir.path()).unwrap();
                without
                    .create_topic(&fx.topic, TopicConfig::with_partitions(parts))
                    .unwrap();
                copy_filtered(
                    log.as_ref(),
                    &fx.topic,
                    &without,
                    &fx.zeros(),
                    &fx.end(),
                    |p, o| !late.contains(&(p, o)),
                );
                let expected = fx.oracle(&without, w);
                assert_exact(&expected, w, &table.table, &what);
            }
            assert!(
                fixture_late > 0,
                "{parts}p {}: the data has late events",
                fx.topic
            );
        }
    }
}

#[test]
fn lateness_decides_which_events_update_their_window() {
    // The same data with growing allowed lateness: fewer and fewer late events, each run
    // exact against the log without its late events, and none once lateness covers.
    let fx = generated(
        datasets::DatasetKind::Pageviews,
        &[workloads::BuiltIn::PageviewsPerMinute],
        2,
    );
    let (log, kdir) = fx.full_job_target();
    let w = &fx.workloads[0];
    let mut previous = u64::MAX;
    for (version, lateness) in [(1, 0), (2, 30_000), (3, 70_000), (4, GENERATED_LATENESS_MS)] {
        let config = kappa::JobConfig {
            version,
            ..fx.config(&kdir, lateness)
        };
        let job = fx.job(&log, w, config);
        job.run_until_caught_up().unwrap();
        let table = kappa::load_version(&kdir, w.name(), version).unwrap();
        assert!(table.late_events <= previous, "{lateness}");
        previous = table.late_events;
        let late: BTreeSet<(u32, u64)> =
            late_sources(log.as_ref(), job.name()).into_iter().collect();
        assert_eq!(late.len() as u64, table.late_events);
        let dir = tempfile::tempdir().unwrap();
        let without = EmbeddedLog::open(dir.path()).unwrap();
        without
            .create_topic(&fx.topic, TopicConfig::with_partitions(2))
            .unwrap();
        copy_filtered(
            log.as_ref(),
            &fx.topic,
            &without,
            &fx.zeros(),
            &fx.end(),
            |p, o| !late.contains(&(p, o)),
        );
        assert_exact(
            &fx.oracle(&without, w),
            w,
            &table.table,
            &format!("{lateness}"),
        );
    }
    assert_eq!(previous, 0);
}
