//! SQL workloads through `lk`: a query's answer is the same from Lambda and Kappa, the
//! shipped SQL form of a built-in answers as the built-in does, and a query that is not
//! supported is a usage error (exit status 2) naming the construct and its position.

mod common;

use common::{lk, stdout_of};
use tempfile::TempDir;

/// The YSB built-in `ysb-campaign-10s` as shipped in SQL.
const YSB_SQL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../workloads/sql/ysb_campaign_10s.sql"
);

/// A data directory with 20,000 generated YSB events, in order and without duplicates
/// (every event on time, so that Kappa with no allowed lateness is exact too).
fn ysb() -> TempDir {
    let dir = TempDir::new().unwrap();
    stdout_of(lk(&dir).args([
        "generate",
        "ysb",
        "--topic",
        "ysb",
        "--events",
        "20000",
        "--partitions",
        "2",
        "--out-of-order",
        "0",
        "--late",
        "0",
        "--duplicates",
        "0",
    ]));
    dir
}

/// `lk query` of the SQL file `sql` from `pipeline`, as CSV rows sorted.
fn query_sql(dir: &TempDir, pipeline: &str) -> Vec<String> {
    let out = stdout_of(lk(dir).args([
        "query",
        "--sql",
        YSB_SQL,
        "--pipeline",
        pipeline,
        "--format",
        "csv",
    ]));
    let mut rows: Vec<String> = out.lines().skip(1).map(str::to_owned).collect();
    rows.sort();
    rows
}

#[test]
fn a_sql_workload_answers_the_same_from_lambda_kappa_and_its_built_in() {
    let dir = ysb();
    stdout_of(lk(&dir).args(["lambda", "batch", "--sql", YSB_SQL]));
    stdout_of(lk(&dir).args(["kappa", "run", "--sql", YSB_SQL, "--until-caught-up"]));
    let lambda = query_sql(&dir, "lambda");
    assert!(lambda.len() > 10, "{lambda:?}");
    assert_eq!(lambda, query_sql(&dir, "kappa"));

    // The built-in over the same data: the same cells, the same counts.
    stdout_of(lk(&dir).args(["lambda", "batch", "--workload", "ysb-campaign-10s"]));
    let out = stdout_of(lk(&dir).args([
        "query",
        "--workload",
        "ysb-campaign-10s",
        "--pipeline",
        "lambda",
        "--format",
        "csv",
    ]));
    let mut built_in: Vec<String> = out.lines().skip(1).map(str::to_owned).collect();
    built_in.sort();
    assert_eq!(lambda, built_in);
}

#[test]
fn unsupported_sql_is_a_usage_error_with_its_position() {
    let dir = ysb();
    let query = "SELECT window_start, ad_id,\n  NTILE(4) OVER (PARTITION BY window_start ORDER BY COUNT(*)) AS n\nFROM TUMBLE(ysb, DESCRIPTOR(event_time), INTERVAL '10' SECOND)\nGROUP BY window_start, ad_id";
    for args in [
        &["lambda", "batch"][..],
        &["kappa", "run", "--until-caught-up"][..],
        &["query"][..],
    ] {
        let out = lk(&dir)
            .args(args)
            .args(["--sql-text", query])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("line 2, column 3") && stderr.contains("NTILE"),
            "{args:?}: {stderr}"
        );
    }
    // A run-time failure is not a usage error: no such topic.
    let out = lk(&dir)
        .args(["lambda", "batch", "--sql-text"])
        .arg(
            query
                .replace(
                    "NTILE(4) OVER (PARTITION BY window_start ORDER BY COUNT(*))",
                    "COUNT(*)",
                )
                .replace("ysb,", "nowhere,"),
        )
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
