//! `lk compare` from the command line: a small run writes the terminal table, the JSON
//! report (its documented fields) and the HTML report; Ctrl-C during the feed still
//! writes what was measured; bad options are refused.

mod common;

use std::time::{Duration, Instant};

use common::{lk, stdout_of};
use tempfile::TempDir;

fn small_run() -> Vec<String> {
    [
        "compare",
        "--dataset",
        "ysb",
        "--events",
        "8000",
        "--rate",
        "20000",
        "--event-rate",
        "2000",
        "--partitions",
        "2",
        "--batch-every",
        "200ms",
        "--checkpoint-every",
        "50ms",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[test]
fn a_small_comparison_prints_a_table_and_writes_json_and_html() {
    let dir = TempDir::new().unwrap();
    let json = dir.path().join("report.json");
    let html = dir.path().join("report.html");
    let out = lk(&dir)
        .args(small_run())
        .arg("--json")
        .arg(&json)
        .arg("--html")
        .arg(&html)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for label in [
        "Lambda",
        "Kappa",
        "latency p99",
        "exact cells",
        "code: lines",
    ] {
        assert!(stdout.contains(label), "{label} in\n{stdout}");
    }
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["params"]["partitions"], 2);
    assert_eq!(report["params"]["workloads"][0], "ysb-campaign-10s");
    for p in ["lambda", "kappa"] {
        let r = &report["pipelines"][p];
        for field in ["p50", "p95", "p99", "max"] {
            assert!(
                r["latency_ms"][field].as_f64().unwrap() >= 0.0,
                "{p} {field}"
            );
        }
        assert!(r["throughput_eps"].as_f64().unwrap() > 0.0);
        assert!(r["cpu_seconds"].as_f64().unwrap() > 0.0, "{p} used CPU");
        // The binary installs the counting allocator: heap is measured.
        assert!(r["peak_heap_bytes"].as_u64().unwrap() > 0, "{p} heap");
        assert!(r["correctness"]["exact_fraction"].as_f64().is_some());
        assert!(r["correctness"]["max_abs_error"].as_f64().is_some());
        assert!(r["correctness"]["mean_abs_error"].as_f64().is_some());
        assert!(r["correctness"]["late_dropped"].as_u64().is_some());
        assert!(r["reprocess_seconds"].as_f64().unwrap() > 0.0);
        for field in ["loc", "functions", "cyclomatic"] {
            assert!(r["complexity"][field].as_u64().unwrap() > 0, "{p} {field}");
        }
    }
    // Lambda's views are exact (nothing is late for it).
    assert_eq!(
        report["pipelines"]["lambda"]["correctness"]["exact_fraction"],
        1.0
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("id=\"lk-report\""));
    assert!(page.contains("ysb-campaign-10s"));
}

#[test]
fn ctrl_c_during_the_feed_still_writes_the_report() {
    let dir = TempDir::new().unwrap();
    let json = dir.path().join("report.json");
    let mut args = small_run();
    // 30 s of feed, interrupted after a few seconds.
    args[4] = "600000".into();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("lk"))
        .arg("--data")
        .arg(dir.path())
        .args(&args)
        .arg("--json")
        .arg(&json)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(4));
    // `kill -INT` sends the signal a terminal's Ctrl-C does.
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(120);
    let code = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s.code();
        }
        assert!(Instant::now() < deadline, "lk compare did not stop");
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = child.wait_with_output().unwrap();
    assert_eq!(code, Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["run"]["interrupted"], true);
    let fed = report["run"]["records_fed"].as_u64().unwrap();
    assert!(fed > 0 && fed < 600_000, "fed {fed}");
    // What was fed was measured and checked; reprocessing was skipped.
    assert!(
        report["pipelines"]["kappa"]["correctness"]["cells"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert!(report["pipelines"]["lambda"]["reprocess_seconds"].is_null());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("interrupted"),
        "the table says so"
    );
}

/// With read-uncommitted Kappa, records show in the table files long before the (here
/// 10 s) checkpoint covers them; the report says which visibility was measured.
#[test]
fn kappa_read_uncommitted_shows_records_before_their_checkpoint() {
    let dir = TempDir::new().unwrap();
    let json = dir.path().join("report.json");
    let mut args = small_run();
    let every = args.iter().position(|a| a == "--checkpoint-every").unwrap();
    args[every + 1] = "10s".into();
    stdout_of(
        lk(&dir)
            .args(&args)
            .args([
                "--kappa-uncommitted-every",
                "0s",
                "--no-reprocess",
                "--json",
            ])
            .arg(&json),
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["params"]["kappa_uncommitted_every_ms"], 0);
    let p99 = report["pipelines"]["kappa"]["latency_ms"]["p99"]
        .as_f64()
        .unwrap();
    assert!(p99 < 2_000.0, "Kappa p99 {p99} ms with 10 s checkpoints");
}

#[test]
fn bad_options_are_refused_with_a_clear_error() {
    let dir = TempDir::new().unwrap();
    for (args, needle) in [
        (vec!["--rate", "0"], "--rate"),
        (vec!["--dataset", "tweets"], "tweets"),
        (vec!["--out-of-order", "1.5"], "--out-of-order"),
        (vec!["--batch-every", "soon"], "--batch-every"),
        (
            vec!["--kappa-uncommitted-every", "soon"],
            "--kappa-uncommitted-every",
        ),
        (vec!["--workload", "no-such-workload"], "no-such-workload"),
        (
            vec!["--topic", "missing", "--workload", "ysb-campaign-10s"],
            "missing",
        ),
    ] {
        let out = lk(&dir).arg("compare").args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}
