//! SQL workloads, computed by the oracle's own evaluator: the six built-ins written in SQL
//! (`workloads/sql/`) give exactly the built-ins' answers on generated data (disordered,
//! late, duplicated) at 1, 2 and 4 partitions.

use datasets::{DatasetKind, GenerateOptions};
use master_log::EmbeddedLog;
use workloads::{BuiltIn, Workload, compare, sql::builtin_as_sql};

#[test]
fn the_builtins_in_sql_equal_the_builtins() {
    for parts in [1, 2, 4] {
        for (kind, builtins) in [
            (
                DatasetKind::Pageviews,
                &[
                    BuiltIn::PageviewsPerMinute,
                    BuiltIn::ProfileViewersHourly,
                    BuiltIn::TopPagesHourly,
                ][..],
            ),
            (DatasetKind::Ysb, &[BuiltIn::YsbCampaign10s][..]),
            (
                DatasetKind::Nexmark,
                &[BuiltIn::NexmarkQ5, BuiltIn::NexmarkQ7][..],
            ),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let log = EmbeddedLog::open(dir.path().join("log")).unwrap();
            let side = dir.path().join("side");
            let opts = GenerateOptions {
                partitions: parts,
                event_rate: Some(20),
                out_of_order: 0.1,
                max_delay_ms: 5_000,
                late: 0.02,
                late_delay_ms: 60_000,
                duplicates: 0.05,
                ..GenerateOptions::new(kind, "events", 6_000)
            };
            datasets::generate(&log, &opts, Some(&side), &mut datasets::no_progress).unwrap();
            for b in builtins {
                let builtin =
                    oracle::answer(&log, &Workload::BuiltIn(*b), "events", &side).unwrap();
                assert!(!builtin.rows.is_empty());
                let sql = Workload::Sql(Box::new(builtin_as_sql(*b).unwrap()));
                let got = oracle::answer(&log, &sql, "events", &side).unwrap();
                let c = compare(&builtin, &got);
                assert!(c.is_exact(), "{b} at {parts} partitions: {c:?}");
                assert_eq!(got.value_columns, builtin.value_columns);
                assert_eq!(got.key_columns, builtin.key_columns);
            }
        }
    }
}
