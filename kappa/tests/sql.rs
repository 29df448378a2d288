//! SQL workloads as Kappa jobs (the shared stream decoder evaluating them per record):
//! the six built-ins written in SQL give exactly the built-ins' answers at 1, 2 and 4
//! partitions, and SQL over an imported CSV equals the oracle's answer.

mod common;

use common::*;
use workloads::{SqlWorkload, Workload, sql::builtin_as_sql};

fn kappa_table(
    fx: &Fixture,
    w: &Workload,
) -> (
    workloads::PartialTable,
    std::sync::Arc<master_log::EmbeddedLog>,
) {
    let (log, kdir) = fx.full_job_target();
    let job = fx.job(&log, w, fx.config(&kdir, fx.covering_lateness_ms));
    let report = job.run_until_caught_up().unwrap();
    assert!(report.status.caught_up);
    (kappa::load_serving(&kdir, w.name()).unwrap().table, log)
}

#[test]
fn the_builtins_in_sql_equal_the_builtins() {
    for parts in PARTITIONS {
        for (kind, builtins) in datasets() {
            let fx = generated(kind, &builtins, parts);
            for b in builtins {
                let w = Workload::Sql(Box::new(builtin_as_sql(b).unwrap()));
                let (table, log) = kappa_table(&fx, &w);
                let expected = fx.oracle(log.as_ref(), &Workload::BuiltIn(b));
                assert_exact(&expected, &w, &table, &format!("{b} {parts}p"));
            }
        }
    }
}

#[test]
fn sql_over_an_imported_csv_equals_the_oracle() {
    let fx = csv(2);
    std::fs::write(
        fx.side.join("trips.zones.csv"),
        "zone,region\nJFK,queens\nLGA,queens\nSOHO,manhattan\n",
    )
    .unwrap();
    for q in [
        "SELECT window_start, window_end, zone, COUNT(*) AS n, AVG(fare) AS a, QUANTILE_DISC(fare, 0.5) AS m, COUNT(DISTINCT driver) AS d \
         FROM TUMBLE(trips, ts, INTERVAL '10' MINUTE) GROUP BY window_start, window_end, zone",
        "SELECT window_start, window_end, z.region, COUNT(*) AS n FROM TUMBLE(trips, ts, INTERVAL '15' MINUTE) AS t \
         JOIN zones z ON t.zone = z.zone GROUP BY window_start, window_end, z.region",
    ] {
        let w = Workload::Sql(Box::new(SqlWorkload::parse(q, "q").unwrap()));
        let (table, log) = kappa_table(&fx, &w);
        let expected = fx.oracle(log.as_ref(), &w);
        assert_exact(&expected, &w, &table, q);
    }
}

#[test]
fn nexmark_q1_and_q2_in_sql_equal_the_oracle() {
    let fx = generated(datasets::DatasetKind::Nexmark, &[], 2);
    for (file, text) in workloads::sql::NEXMARK_SQL {
        let w = Workload::Sql(Box::new(
            SqlWorkload::parse(text, file.trim_end_matches(".sql")).unwrap(),
        ));
        let (table, log) = kappa_table(&fx, &w);
        let expected = fx.oracle(log.as_ref(), &w);
        assert_exact(&expected, &w, &table, file);
    }
}
