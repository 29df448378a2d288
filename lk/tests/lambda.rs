//! The Lambda pipeline from the command line: batch below a horizon, speed above it,
//! and `lk query` equal to the oracle's answer.

mod common;

use common::{copy, generate_pageviews, lk, pageviews_per_minute_oracle, stdout_of};
use master_log::{EmbeddedLog, Log};
use tempfile::TempDir;

#[test]
fn batch_then_speed_then_query_equals_the_oracle() {
    let (src_dir, dir) = (TempDir::new().unwrap(), TempDir::new().unwrap());
    generate_pageviews(&src_dir, "1", 5000).assert().success();
    let src = EmbeddedLog::open(src_dir.path()).unwrap();
    let end = src.end_offsets("pageviews").unwrap();
    let mid: Vec<u64> = end.iter().map(|e| e / 2).collect();
    {
        let dst = EmbeddedLog::open(dir.path()).unwrap();
        dst.create_topic("pageviews", master_log::TopicConfig::with_partitions(2))
            .unwrap();
        copy(&src, &dst, &[0, 0], &mid);
    }
    lk(&dir)
        .args(["lambda", "batch", "--workload", "pageviews-per-minute"])
        .assert()
        .success();
    // The rest after the horizon: windows, duplicates and late events span it.
    {
        let dst = EmbeddedLog::open(dir.path()).unwrap();
        copy(&src, &dst, &mid, &end);
    }
    lk(&dir)
        .args([
            "lambda",
            "speed",
            "--workload",
            "pageviews-per-minute",
            "--until-caught-up",
        ])
        .assert()
        .success();
    let out = lk(&dir)
        .args([
            "query",
            "--workload",
            "pageviews-per-minute",
            "--format",
            "csv",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = String::from_utf8(out.stdout).unwrap();

    let expected = pageviews_per_minute_oracle(&dir);
    let mut want = vec!["window_start,window_end,page_id,views".to_string()];
    for r in &expected.rows {
        want.push(format!(
            "{},{},{},{}",
            workloads::rfc3339_millis(r.window.start),
            workloads::rfc3339_millis(r.window.end),
            r.key[0],
            r.values[0]
        ));
    }
    assert!(expected.rows.len() > 100);
    let got: Vec<&str> = got.lines().collect();
    let differing: Vec<(usize, &str, &str)> = got
        .iter()
        .zip(&want)
        .enumerate()
        .filter(|(_, (g, w))| **g != w.as_str())
        .map(|(i, (g, w))| (i, *g, w.as_str()))
        .take(5)
        .collect();
    assert!(
        got.len() == want.len() && differing.is_empty(),
        "{} rows vs the oracle's {}; first differences (line, got, want): {differing:?}",
        got.len(),
        want.len()
    );
}

#[test]
fn query_without_views_or_with_a_bad_workload_fails_clearly() {
    let dir = TempDir::new().unwrap();
    generate_pageviews(&dir, "1", 5000).assert().success();
    let out = lk(&dir)
        .args(["query", "--workload", "pageviews-per-minute"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no Lambda views yet"));
    let out = lk(&dir)
        .args(["query", "--workload", "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown workload"));
}

/// `lk lambda run --worker` on the embedded log (one worker owns every partition): its
/// per-partition batch views, then its per-partition realtime views of what arrived while
/// it was stopped, answer like the oracle; the one-process commands refuse the other
/// layout until `lk lambda reset`.
#[test]
fn a_worker_keeps_per_partition_views_that_answer_like_the_oracle() {
    use common::{Running, copy_dirs, first_half, pageviews_per_minute_csv};
    use std::time::Duration;

    let (src, dir) = (TempDir::new().unwrap(), TempDir::new().unwrap());
    generate_pageviews(&src, "7", 4000).assert().success();
    let (mid, end) = first_half(&src, &dir, 2);
    let worker: Vec<String> = [
        "lambda",
        "run",
        "--workload",
        "pageviews-per-minute",
        "--worker",
        "--batch-every",
        "1h",
        "--save-every",
        "100ms",
    ]
    .map(String::from)
    .to_vec();
    let minute = Duration::from_secs(60);
    // First run: no views yet, so each partition's batch view is computed at once.
    let mut first = Running::spawn(dir.path(), &worker);
    first.wait_for(
        &[0, 1].map(|p| format!("partition {p}: batch view v1 published, horizon {}", mid[p])),
        minute,
    );
    first.interrupt();
    // The rest arrives while no worker runs; the next one finds fresh batch views (under
    // an hour old), so its speed layers read the rest from the saved realtime views.
    copy_dirs(&src, &dir, &mid, &end);
    let mut second = Running::spawn(dir.path(), &worker);
    second.wait_for(
        &[0, 1].map(|p| format!("partition {p}: caught up at offset {}", end[p])),
        minute,
    );
    let out = second.interrupt();
    assert!(!out.contains("published"), "{out}");
    let want = pageviews_per_minute_csv(&dir);
    let query = || {
        stdout_of(lk(&dir).args([
            "query",
            "--workload",
            "pageviews-per-minute",
            "--format",
            "csv",
        ]))
    };
    assert_eq!(query(), want);

    // One process's commands refuse the workers' views, and the reverse.
    for args in [
        &["lambda", "batch", "--workload", "pageviews-per-minute"][..],
        &[
            "lambda",
            "run",
            "--workload",
            "pageviews-per-minute",
            "--until-caught-up",
        ],
    ] {
        let out = lk(&dir).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && stderr.contains("lk lambda reset"),
            "{stderr}"
        );
    }
    stdout_of(lk(&dir).args(["lambda", "reset", "--workload", "pageviews-per-minute"]));
    stdout_of(lk(&dir).args([
        "lambda",
        "run",
        "--workload",
        "pageviews-per-minute",
        "--until-caught-up",
    ]));
    assert_eq!(query(), want);
    let out = lk(&dir).args(&worker).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("lk lambda reset"),
        "{stderr}"
    );
}

#[test]
fn worker_flags_that_make_no_sense_are_refused() {
    let dir = TempDir::new().unwrap();
    generate_pageviews(&dir, "3", 200).assert().success();
    let w = ["lambda", "run", "--workload", "pageviews-per-minute"];
    for (extra, code, message) in [
        (
            &["--worker", "--until-caught-up"][..],
            2,
            "cannot be used with",
        ),
        (
            &["--worker", "--addr", "127.0.0.1:0"][..],
            2,
            "cannot be used with",
        ),
        (&["--save-every", "1s"][..], 2, "--worker"),
        (&["--namespace", "x"][..], 2, "--worker"),
        (
            &["--worker", "--save-every", "0s"][..],
            1,
            "longer than zero",
        ),
        (
            &["--worker", "--batch-every", "soon"][..],
            2,
            "not a duration",
        ),
        (&["--worker", "--namespace", "a/b"][..], 1, "--namespace"),
    ] {
        let out = lk(&dir).args(w).args(extra).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{extra:?}: {stderr}");
        assert!(stderr.contains(message), "{extra:?}: {stderr}");
    }
    let out = lk(&dir)
        .args(["lambda", "reset", "--workload", "no-such-workload"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    // Nothing was written by a refused command.
    assert!(!dir.path().join("lambda").exists());
}
