//! SQL workloads in the speed layer (the shared stream decoder evaluating them per
//! record): the six built-ins written in SQL give exactly the built-ins' answers at 1, 2
//! and 4 partitions, and SQL over an imported CSV equals the oracle's answer.

mod common;

use common::*;
use workloads::{SqlWorkload, Workload, sql::builtin_as_sql};

async fn realtime(
    fx: &Fixture,
    log: &std::sync::Arc<master_log::EmbeddedLog>,
    w: &Workload,
) -> workloads::PartialTable {
    let layer = fx.layer(log, w, fx.zeros());
    layer.run_until_caught_up().await.unwrap();
    layer.snapshot().merged().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_builtins_in_sql_equal_the_builtins() {
    for parts in PARTITIONS {
        for (kind, builtins) in datasets() {
            let fx = generated_n(kind, &builtins, parts, 8_000);
            let log = fx.target();
            fx.copy(log.as_ref(), &fx.zeros(), &fx.end());
            for b in builtins {
                let expected = fx.oracle(log.as_ref(), &Workload::BuiltIn(b));
                let w = Workload::Sql(Box::new(builtin_as_sql(b).unwrap()));
                let table = realtime(&fx, &log, &w).await;
                assert_exact(&expected, &w, &table, &format!("{b} {parts}p"));
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_over_an_imported_csv_equals_the_oracle() {
    let fx = testkit::csv_rows(2, 3_000);
    std::fs::write(
        fx.side.join("trips.zones.csv"),
        "zone,region\nJFK,queens\nLGA,queens\nSOHO,manhattan\n",
    )
    .unwrap();
    let log = fx.target();
    fx.copy(log.as_ref(), &fx.zeros(), &fx.end());
    for q in [
        "SELECT window_start, window_end, zone, COUNT(*) AS n, AVG(fare) AS a, MEDIAN(fare) AS m, COUNT(DISTINCT driver) AS d \
         FROM TUMBLE(trips, ts, INTERVAL '10' MINUTE) WHERE fare > 0 OR fare IS NULL GROUP BY window_start, window_end, zone HAVING COUNT(*) > 1",
        "SELECT window_start, window_end, z.region, SUM(CAST(fare AS BIGINT) % 7) AS s, MAX(zone || driver) AS t \
         FROM HOP(trips, ts, INTERVAL '5' MINUTE, INTERVAL '15' MINUTE) AS t LEFT JOIN zones z ON t.zone = z.zone \
         WHERE driver LIKE 'd1%' GROUP BY window_start, window_end, z.region",
        "SELECT window_start, window_end, driver, COUNT(*) AS n FROM SESSION(trips, ts, INTERVAL '2' MINUTE) GROUP BY window_start, window_end, driver",
    ] {
        let w = Workload::Sql(Box::new(SqlWorkload::parse(q, "q").unwrap()));
        let expected = fx.oracle(log.as_ref(), &w);
        let table = realtime(&fx, &log, &w).await;
        assert_exact(&expected, &w, &table, q);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nexmark_q1_and_q2_in_sql_equal_the_oracle() {
    let fx = generated_n(datasets::DatasetKind::Nexmark, &[], 2, 4_000);
    let log = fx.target();
    fx.copy(log.as_ref(), &fx.zeros(), &fx.end());
    for (file, text) in workloads::sql::NEXMARK_SQL {
        let w = Workload::Sql(Box::new(
            SqlWorkload::parse(text, file.trim_end_matches(".sql")).unwrap(),
        ));
        let expected = fx.oracle(log.as_ref(), &w);
        let table = realtime(&fx, &log, &w).await;
        assert_exact(&expected, &w, &table, file);
    }
}
