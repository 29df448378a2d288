//! With allowed lateness covering the data's disorder, every workload's Kappa table
//! finishes to exactly the oracle's answer, at 1, 2 and 4 partitions, and the serving
//! table file holds the same.

mod common;

use common::*;

#[test]
fn every_workload_equals_the_oracle() {
    for parts in PARTITIONS {
        for fx in all(parts) {
            let (log, kdir) = fx.full_job_target();
            for (i, w) in fx.workloads.iter().enumerate() {
                let expected = fx.oracle(log.as_ref(), w);
                let mut config = fx.config(&kdir, fx.covering_lateness_ms);
                // Exercise both assignors and both stores.
                config.workers = 1 + i % 2;
                if i % 2 == 1 {
                    config.assignment = master_log::AssignmentStrategy::RoundRobin;
                    config.store = kappa::StoreKind::Memory;
                }
                // Checkpoints mid-stream too, not only at the end.
                config.checkpoint_records = 1_500;
                // Every other workload shows uncommitted results after every read: its
                // part files are a snapshot and many deltas, read back below.
                if i % 2 == 0 {
                    config.uncommitted_every = Some(std::time::Duration::ZERO);
                    config.fetch_limits.max_records = 250;
                }
                let job = fx.job(&log, w, config);
                let report = job.run_until_caught_up().unwrap();
                let what = format!("{parts}p");
                assert!(report.status.caught_up, "{what}");
                assert_eq!(
                    report
                        .status
                        .partitions
                        .iter()
                        .map(|p| p.position)
                        .collect::<Vec<_>>(),
                    fx.end()
                );
                assert!(report.table_writes >= 1);
                if i % 2 == 0 {
                    assert!(report.table_writes > 2, "{what}: written after reads");
                }
                let table = kappa::load_serving(&kdir, w.name()).unwrap();
                assert_eq!(table.version, 1);
                assert_eq!(table.positions, fx.end(), "{what} {}", w.name());
                assert_eq!(table.late_events, 0, "{what} {}: lateness covers", w.name());
                assert_eq!(table.table, job.table().unwrap().table);
                assert_exact(&expected, w, &table.table, &what);
                if fx.topic == "events" {
                    assert!(table.duplicates > 0, "{what} {}", w.name());
                }
                // The serving layer answers from the same table.
                let answer = serving_layer::answer_table(
                    w,
                    &table.table,
                    &table.positions,
                    &fx.end(),
                    &serving_layer::Query::default(),
                )
                .unwrap();
                assert!(workloads::compare(&expected, &answer.result).is_exact());
            }
        }
    }
}

#[test]
fn bad_input_is_a_typed_error() {
    let fx = csv(2);
    let (log, kdir) = fx.full_job_target();
    // A built-in over the CSV topic: its records do not decode as page views.
    let pv = workloads::Workload::BuiltIn(workloads::BuiltIn::PageviewsPerMinute);
    let job = fx.job(&log, &pv, fx.config(&kdir, 0));
    let e = job.run_until_caught_up().unwrap_err();
    assert!(matches!(e, kappa::KappaError::BadRecord { .. }), "{e}");
    // A spec naming a column the topic lacks.
    let bad = spec(
        "name = \"x\"\ntopic = \"trips\"\nwindow = { kind = \"tumbling\", size = \"1h\" }\ngroup_by = [\"nope\"]\naggregates = [\"count\"]\n",
    );
    let e = kappa::Job::new(log.clone(), bad, fx.config(&kdir, 0)).unwrap_err();
    assert!(e.to_string().contains("nope"), "{e}");
    // Bad configurations.
    let w = &fx.workloads[0];
    for config in [
        kappa::JobConfig {
            workers: 0,
            ..fx.config(&kdir, 0)
        },
        kappa::JobConfig {
            allowed_lateness_ms: -1,
            ..fx.config(&kdir, 0)
        },
        kappa::JobConfig {
            topic: "missing".into(),
            ..fx.config(&kdir, 0)
        },
    ] {
        assert!(kappa::Job::new(log.clone(), w.clone(), config).is_err());
    }
}
