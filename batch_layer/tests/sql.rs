//! SQL workloads in the batch layer (the polars translation): the six built-ins written
//! in SQL give exactly the built-ins' answers at 1, 2 and 4 partitions, and SQL over an
//! imported CSV with nulls (expressions, every aggregate, HAVING, a side table) equals the
//! oracle's answer.

use std::path::Path;

use datasets::{DatasetKind, GenerateOptions, ImportOptions};
use master_log::EmbeddedLog;
use workloads::{BuiltIn, SqlWorkload, Workload, compare, sql::builtin_as_sql};

fn sql(text: &str) -> Workload {
    Workload::Sql(Box::new(SqlWorkload::parse(text, "q").unwrap()))
}

fn exact(
    log: &EmbeddedLog,
    expected: &workloads::ResultSet,
    w: &Workload,
    topic: &str,
    side: &Path,
    what: &str,
) {
    let view = batch_layer::recompute(log, w, topic, side).unwrap();
    let got = w.finish(&view.table).unwrap();
    let c = compare(expected, &got);
    assert!(c.is_exact(), "{what}: {}", testkit::describe(&c));
}

#[test]
fn the_builtins_in_sql_equal_the_builtins_at_1_2_and_4_partitions() {
    for parts in [1, 2, 4] {
        for (kind, builtins) in testkit::datasets() {
            let fx = testkit::generated_n(kind, &builtins, parts, 8_000);
            for b in builtins {
                let expected = fx.oracle(&fx.src, &Workload::BuiltIn(b));
                let w = Workload::Sql(Box::new(builtin_as_sql(b).unwrap()));
                exact(
                    &fx.src,
                    &expected,
                    &w,
                    &fx.topic,
                    &fx.side,
                    &format!("{b} {parts}p"),
                );
            }
        }
    }
}

/// Queries over the CSV fixture (`trips`: ts, zone, fare, driver; nulls in all three).
pub const CSV_QUERIES: &[&str] = &[
    "SELECT window_start, window_end, zone, COUNT(*) AS n, COUNT(fare) AS fares, AVG(fare) AS avg_fare, \
     MAX(fare) AS max_fare, MIN(fare) AS min_fare, SUM(fare) AS total, COUNT(DISTINCT driver) AS drivers \
     FROM TUMBLE(trips, DESCRIPTOR(ts), INTERVAL '10' MINUTE) GROUP BY window_start, window_end, zone",
    "SELECT window_start, window_end, driver, MEDIAN(fare) AS med, QUANTILE_CONT(fare, 0.9) AS p90, \
     QUANTILE_DISC(fare, 0.25) AS q1 FROM HOP(trips, ts, INTERVAL '5' MINUTE, INTERVAL '10' MINUTE) \
     WHERE fare IS NOT NULL AND zone IN ('JFK', 'LGA', 'SOHO') GROUP BY window_start, window_end, driver \
     HAVING COUNT(*) >= 2",
    "SELECT window_start, window_end, CASE WHEN fare > 50 THEN 'high' WHEN fare >= 0 THEN 'low' ELSE 'refund' END AS band, \
     COUNT(*) AS n, SUM(fare * 2 + 1) AS s, SUM(CAST(fare AS BIGINT)) AS whole, MAX(zone || '/' || driver) AS tag \
     FROM TUMBLE(trips, event_time, INTERVAL '30' MINUTE) WHERE zone LIKE '%O%' OR zone IS NULL OR fare / 3 > 10 \
     GROUP BY window_start, window_end, CASE WHEN fare > 50 THEN 'high' WHEN fare >= 0 THEN 'low' ELSE 'refund' END",
    "SELECT window_start, window_end, driver, COUNT(*) AS visits, MAX(fare) AS top \
     FROM SESSION(trips, ts, INTERVAL '2' MINUTE) WHERE zone IS NOT NULL GROUP BY window_start, window_end, driver",
    "SELECT window_start, window_end, zone, fares, r FROM (SELECT window_start, window_end, zone, COUNT(fare) AS fares, \
     DENSE_RANK() OVER (PARTITION BY window_start, window_end ORDER BY COUNT(fare) DESC) AS r \
     FROM TUMBLE(trips, ts, INTERVAL '1' HOUR) GROUP BY window_start, window_end, zone) WHERE r <= 2",
    "SELECT window_start, window_end, z.region, COUNT(*) AS n, AVG(fare) AS avg_fare \
     FROM TUMBLE(trips, ts, INTERVAL '20' MINUTE) AS t LEFT JOIN zones AS z ON t.zone = z.zone \
     GROUP BY window_start, window_end, z.region",
];

/// The side table of [`CSV_QUERIES`]: a region per zone (EWR has none).
pub const ZONES: &str = "zone,region\nJFK,queens\nLGA,queens\nSOHO,manhattan\n";

#[test]
fn sql_over_an_imported_csv_equals_the_oracle() {
    for parts in [1, 3] {
        let fx = testkit::csv_rows(parts, 3_000);
        std::fs::write(fx.side.join("trips.zones.csv"), ZONES).unwrap();
        for (i, q) in CSV_QUERIES.iter().enumerate() {
            let w = sql(q);
            let expected = fx.oracle(&fx.src, &w);
            exact(
                &fx.src,
                &expected,
                &w,
                &fx.topic,
                &fx.side,
                &format!("query {i} {parts}p"),
            );
        }
    }
}

#[test]
fn a_query_that_does_not_fit_the_topic_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path().join("log")).unwrap();
    let side = dir.path().join("side");
    let opts = GenerateOptions::new(DatasetKind::Pageviews, "pv", 100);
    datasets::generate(&log, &opts, Some(&side), &mut datasets::no_progress).unwrap();
    let w = sql(
        "SELECT window_start, SUM(country) AS s FROM TUMBLE(pv, event_time, INTERVAL '1' MINUTE) GROUP BY window_start",
    );
    let e = batch_layer::recompute(&log, &w, "pv", &side).unwrap_err();
    match &e {
        batch_layer::BatchError::Dataset(datasets::DatasetError::Workload(w)) => {
            assert!(w.is_usage(), "{e}")
        }
        other => panic!("{other:?}"),
    }
    let _ = ImportOptions::new(Path::new("x"), "t", "ts");
    let _ = BuiltIn::ALL;
}

#[test]
fn nexmark_q1_and_q2_in_sql_equal_the_oracle() {
    for parts in [1, 2] {
        let fx = testkit::generated_n(DatasetKind::Nexmark, &[], parts, 4_000);
        for (file, text) in workloads::sql::NEXMARK_SQL {
            let w = Workload::Sql(Box::new(
                SqlWorkload::parse(text, file.trim_end_matches(".sql")).unwrap(),
            ));
            let expected = fx.oracle(&fx.src, &w);
            exact(
                &fx.src,
                &expected,
                &w,
                &fx.topic,
                &fx.side,
                &format!("{file} {parts}p"),
            );
        }
    }
}
