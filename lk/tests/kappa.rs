//! The Kappa pipeline from the command line: `lk kappa run` into table v1, `lk query
//! --pipeline kappa` equal to the oracle, `lk kappa reprocess` into v2 with the alias
//! switched and v1 retired, and bad input refused.

mod common;

use common::{generate_pageviews, lk, pageviews_per_minute_csv as oracle_csv, stdout_of};
use tempfile::TempDir;

const WORKLOAD: &str = "pageviews-per-minute";

fn query_kappa(dir: &TempDir) -> String {
    stdout_of(lk(dir).args([
        "query",
        "--workload",
        WORKLOAD,
        "--pipeline",
        "kappa",
        "--format",
        "csv",
    ]))
}

#[test]
fn run_query_reprocess_and_versions() {
    let dir = TempDir::new().unwrap();
    generate_pageviews(&dir, "11", 4000).assert().success();
    let want = oracle_csv(&dir);
    // No table yet: a clear error.
    let out = lk(&dir)
        .args(["query", "--workload", WORKLOAD, "--pipeline", "kappa"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no Kappa table yet"));

    // Lateness covering the data's disorder (late events arrive a minute late): exact.
    let run = stdout_of(lk(&dir).args([
        "kappa",
        "run",
        "--workload",
        WORKLOAD,
        "--allowed-lateness",
        "5m",
        "--until-caught-up",
    ]));
    assert!(run.contains("0 late"), "{run}");
    assert_eq!(query_kappa(&dir), want);

    // Reprocess with zero lateness: v2 replaces v1, and it reports late events.
    let re = stdout_of(lk(&dir).args([
        "kappa",
        "reprocess",
        "--workload",
        WORKLOAD,
        "--allowed-lateness",
        "0s",
    ]));
    assert!(re.contains("into v2") && re.contains("retired v1"), "{re}");
    let versions = stdout_of(lk(&dir).args(["kappa", "versions", "--workload", WORKLOAD]));
    assert!(
        versions.contains(&format!("{WORKLOAD}.v2 (serving)")) && !versions.contains(".v1"),
        "{versions}"
    );
    let late_answer = query_kappa(&dir);
    assert_ne!(late_answer, want, "zero lateness must drop the late events");
    let table_late: u64 = versions
        .split(", ")
        .find_map(|part| part.strip_suffix(" late\n").or(part.strip_suffix(" late")))
        .and_then(|n| n.trim().parse().ok())
        .expect("the version line reports late events");
    assert!(table_late > 0, "{versions}");

    // Reprocess back to generous lateness: the oracle's answer again, now as v3.
    stdout_of(lk(&dir).args([
        "kappa",
        "reprocess",
        "--workload",
        WORKLOAD,
        "--allowed-lateness",
        "5m",
    ]));
    assert_eq!(query_kappa(&dir), want);
}

#[test]
fn bad_arguments_are_refused() {
    let dir = TempDir::new().unwrap();
    generate_pageviews(&dir, "11", 4000).assert().success();
    let run = ["kappa", "run", "--workload", WORKLOAD, "--until-caught-up"];
    for (args, code) in [
        (
            &["kappa", "run", "--workload", "nope", "--until-caught-up"][..],
            1,
        ),
        (&["--workers", "0"][..], 1),
        // A flag's value that does not parse is a usage error.
        (&["--allowed-lateness", "soon"][..], 2),
        (&["--uncommitted-every", "5"][..], 2),
    ] {
        let args: Vec<&str> = if args[0] == "kappa" {
            args.to_vec()
        } else {
            run.iter().chain(args).copied().collect()
        };
        let out = lk(&dir).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        let prefix = if code == 1 { "lk: error: " } else { "error: " };
        assert!(err.starts_with(prefix), "{args:?}: {err}");
    }
}
