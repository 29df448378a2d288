//! `lk compare` from the command line: a small run writes the terminal table, the JSON
//! report (its documented fields: both visibility levels of both pipelines, the summary,
//! settings, warnings, provenance) and the HTML report; repeats, the controls alone and
//! a sweep; Ctrl-C during the feed still writes what was measured; bad options are
//! refused; what a run writes is removed at its end (unless `--keep`), and a user's topic
//! it reads is left byte for byte as it was.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{ctrl_c, generate_pageviews, lk, lk_process, stdout_of, wait_exit};
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
        "Latency, fresh",
        "Latency, stable",
        "exact cells",
        "lines of code",
        "process (read and compute)",
        "harness CPU: ",
        "reproduce: lk compare --dataset ysb --events 8000",
        "! Too few samples",
    ] {
        assert!(stdout.contains(label), "{label} in\n{stdout}");
    }
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["schema_version"], 3);
    assert_eq!(report["params"]["partitions"], 2);
    assert_eq!(report["params"]["workloads"][0], "ysb-campaign-10s");
    assert_eq!(report["params"]["allowed_lateness_from"], "data");
    let fed = report["run"]["records_fed"].as_u64().unwrap();
    for p in ["lambda", "kappa"] {
        let r = &report["pipelines"][p];
        let level = |l: &str, f: &str| r[l]["latency_ms"][f].as_f64().unwrap();
        for l in ["fresh", "stable"] {
            // One sample per scheduled batch of the feed (20 records a millisecond).
            assert_eq!(
                r[l]["latency_ms"]["samples"].as_u64().unwrap(),
                fed.div_ceil(20),
                "{p} {l}"
            );
            assert!(r[l]["what"].as_str().is_some_and(|w| !w.is_empty()));
        }
        // A result is stable only once it is fresh, batch by batch.
        assert!(level("fresh", "p50") <= level("stable", "p50"), "{p}");
        assert!(level("fresh", "max") <= level("stable", "max"), "{p}");
        assert!(r["throughput_eps"].as_f64().unwrap() > 0.0);
        assert!(r["cpu_seconds"].as_f64().unwrap() > 0.0, "{p} used CPU");
        // The binary installs the counting allocator: heap is measured.
        assert!(r["peak_heap_bytes"].as_u64().unwrap() > 0, "{p} heap");
        assert!(
            r["stable_updates"].as_u64().unwrap() >= 2,
            "{p} made results stable"
        );
        assert!(r["correctness"]["exact_fraction"].as_f64().is_some());
        assert!(r["correctness"]["max_abs_error"].as_f64().is_some());
        assert!(r["correctness"]["mean_abs_error"].as_f64().is_some());
        assert!(r["correctness"]["late_dropped"].as_u64().is_some());
        assert!(r["reprocess_seconds"].as_f64().unwrap() > 0.0);
        // Reprocessed from fresh state three times by default, in phases.
        let rp = &r["reprocess"];
        assert_eq!(rp["runs"], 3, "{p} reprocess runs");
        for phase in ["setup", "process", "publish", "total"] {
            assert_eq!(
                rp[phase]["values"].as_array().unwrap().len(),
                3,
                "{p} {phase}"
            );
        }
        assert_eq!(rp["total"]["median"], r["reprocess_seconds"], "{p}");
        for field in ["loc", "functions", "cyclomatic"] {
            assert!(r["complexity"][field].as_u64().unwrap() > 0, "{p} {field}");
        }
    }
    // The summary of one run: every figure's median is the run's value.
    let figures = report["summary"]["figures"].as_array().unwrap();
    let p99 = figures
        .iter()
        .find(|f| f["key"] == "latency_stable_p99_ms")
        .unwrap();
    assert_eq!(
        p99["kappa"]["median"],
        report["pipelines"]["kappa"]["stable"]["latency_ms"]["p99"]
    );
    assert_eq!(p99["level"], "stable");
    assert_eq!(report["summary"]["runs"], 1);
    // How it was made.
    let prov = &report["provenance"];
    assert!(!prov["version"].as_str().unwrap().is_empty());
    assert!(
        prov["command"]
            .as_str()
            .unwrap()
            .contains("compare --dataset ysb")
    );
    assert!(
        prov["reproduce"]
            .as_str()
            .unwrap()
            .starts_with("lk compare --dataset ysb")
    );
    let warnings = report["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains("fewer than 1,000")),
        "{warnings:?}"
    );
    // The data's disorder was measured, and the default allowed lateness covers it.
    assert!(report["disorder"]["max_ms"].as_i64().unwrap() > 0);
    assert_eq!(report["disorder"]["beyond_allowed_lateness"], 0);
    // Lambda's views are exact (nothing is late for it).
    assert_eq!(
        report["pipelines"]["lambda"]["correctness"]["exact_fraction"],
        1.0
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("id=\"lk-report\""));
    assert!(page.contains("ysb-campaign-10s"));
    assert!(page.contains("id=\"reproduce\""));
    assert!(page.contains("id=\"warnings\""));
}

#[test]
fn ctrl_c_during_the_feed_still_writes_the_report() {
    let dir = TempDir::new().unwrap();
    let json = dir.path().join("report.json");
    let mut args = small_run();
    // 30 s of feed, interrupted after a few seconds.
    args[4] = "600000".into();
    args.extend(["--json".into(), json.display().to_string()]);
    let mut child = spawn_lk(dir.path(), &args);
    // Interrupted once the feed has begun: records are in the run's topic (in its
    // scratch directory: the start, in a debug build on a loaded machine, can take long).
    let started = Instant::now();
    while !feed_began(dir.path()) {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the feed never began"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(1));
    ctrl_c(child.id());
    let code = wait_exit(
        &mut child,
        Duration::from_secs(120),
        "lk compare did not stop",
    )
    .code();
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
        report["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().starts_with("Interrupted"))
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("interrupted"),
        "the table says so"
    );
    // The interrupted run removed its data all the same: only the report is left.
    let left: Vec<PathBuf> = files(dir.path()).into_keys().collect();
    assert_eq!(left, vec![PathBuf::from("report.json")]);
}

/// Ctrl-C before any record is fed: a plain message and the status of SIGINT, no
/// report, and nothing left in the data directory.
#[test]
fn ctrl_c_before_the_feed_stops_cleanly() {
    let dir = TempDir::new().unwrap();
    let mut args = small_run();
    args[4] = "600000".into();
    let child = spawn_lk(dir.path(), &args);
    // The scratch directory exists once the Ctrl-C handler is installed.
    let started = Instant::now();
    while !files_or_dirs(dir.path())
        .iter()
        .any(|n| n.starts_with("compare-"))
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no scratch directory"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    ctrl_c(child.id());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        err.contains("interrupted before any record was fed"),
        "{err}"
    );
    assert!(!err.contains("oracle"), "{err}");
    assert_eq!(files_or_dirs(dir.path()), Vec::<String>::new());
}

/// `lk --data DIR ARGS…` started, its output piped.
fn spawn_lk(dir: &Path, args: &[String]) -> std::process::Child {
    lk_process(dir)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// The names in `dir`.
fn files_or_dirs(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// With 10 s checkpoints, Kappa's fresh results (in memory) show records long before
/// its stable ones (the checkpoint that covers them): both levels are measured, and
/// they are not the same thing.
#[test]
fn kappa_fresh_results_come_before_their_checkpoint() {
    let dir = TempDir::new().unwrap();
    let json = dir.path().join("report.json");
    let mut args = small_run();
    let every = args.iter().position(|a| a == "--checkpoint-every").unwrap();
    args[every + 1] = "10s".into();
    stdout_of(
        lk(&dir)
            .args(&args)
            .args(["--no-reprocess", "--json"])
            .arg(&json),
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["params"]["checkpoint_interval_ms"], 10_000);
    let kappa = &report["pipelines"]["kappa"];
    let fresh = kappa["fresh"]["latency_ms"]["p99"].as_f64().unwrap();
    let stable = kappa["stable"]["latency_ms"]["p50"].as_f64().unwrap();
    assert!(
        fresh < 2_000.0,
        "Kappa fresh p99 {fresh} ms with 10 s checkpoints"
    );
    // The feed takes under a second; the first checkpoint comes 10 s after the start.
    assert!(
        stable > 5_000.0,
        "Kappa stable p50 {stable} ms with 10 s checkpoints"
    );
}

/// `--repeat 2 --alone --sweep`: the summary has a median and a range per figure over
/// both runs, the controls ran alone, and the sweep has a point per value.
#[test]
fn repeats_controls_and_a_sweep_are_summarized() {
    let dir = TempDir::new().unwrap();
    let json = dir.path().join("report.json");
    let html = dir.path().join("report.html");
    let mut args = small_run();
    let events = args.iter().position(|a| a == "--events").unwrap();
    args[events + 1] = "3000".into();
    let out = stdout_of(
        lk(&dir)
            .args(&args)
            .args([
                "--no-reprocess",
                "--repeat",
                "2",
                "--alone",
                "--sweep",
                "allowed-lateness=0s,30s",
                "--json",
            ])
            .arg(&json)
            .arg("--html")
            .arg(&html),
    );
    assert!(
        out.contains("Each pipeline alone on the same feed"),
        "{out}"
    );
    assert!(out.contains("Sweep over allowed-lateness"), "{out}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["params"]["repeat"], 2);
    assert_eq!(report["summary"]["runs"], 2);
    for f in report["summary"]["figures"].as_array().unwrap() {
        for p in ["lambda", "kappa"] {
            let s = &f[p];
            if s.is_null() {
                continue;
            }
            let (median, min, max) = (
                s["median"].as_f64().unwrap(),
                s["min"].as_f64().unwrap(),
                s["max"].as_f64().unwrap(),
            );
            assert!(min <= median && median <= max, "{} {p}: {s}", f["key"]);
            assert_eq!(s["values"].as_array().unwrap().len(), 2, "{} {p}", f["key"]);
        }
    }
    let alone = report["alone"]["summary"]["figures"].as_array().unwrap();
    assert!(alone.iter().any(|f| f["key"] == "latency_fresh_p99_ms"));
    let points = report["sweep"]["points"].as_array().unwrap();
    assert_eq!(points.len(), 2);
    assert_eq!(points[1]["x"], 30_000.0);
    assert!(
        std::fs::read_to_string(&html)
            .unwrap()
            .contains("chart-tradeoff-fresh")
    );
}

#[test]
fn bad_options_are_refused_with_a_clear_error() {
    let dir = TempDir::new().unwrap();
    for (args, needle, code) in [
        (vec!["--rate", "0"], "--rate", 1),
        (vec!["--dataset", "tweets"], "tweets", 1),
        (vec!["--out-of-order", "1.5"], "--out-of-order", 2),
        (vec!["--batch-every", "soon"], "--batch-every", 2),
        (vec!["--allowed-lateness", "soon"], "--allowed-lateness", 2),
        (vec!["--repeat", "0"], "--repeat", 1),
        (vec!["--sweep", "speed=1,2"], "speed", 1),
        (vec!["--sweep", "rate=fast"], "fast", 1),
        (vec!["--max-rate-p99", "soon"], "--max-rate-p99", 2),
        (
            vec!["--workload", "no-such-workload"],
            "no-such-workload",
            1,
        ),
        (
            vec!["--topic", "missing", "--workload", "ysb-campaign-10s"],
            "missing",
            1,
        ),
    ] {
        let out = lk(&dir).arg("compare").args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
    // A refused run leaves nothing behind, not even its scratch directory.
    let left: Vec<PathBuf> = files(dir.path())
        .into_keys()
        .filter(|p| p.starts_with("compare-"))
        .collect();
    assert_eq!(left, Vec::<PathBuf>::new());
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| n == "topics" || n == ".lock"),
        "only the log's own files (opened for --topic): {names:?}"
    );
}

/// Every file under `dir` but the log's lock file (rewritten by every process that
/// opens the log), with its bytes.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else if e.file_name() != ".lock" {
                let rel = e.path().strip_prefix(dir).unwrap().to_path_buf();
                out.insert(rel, std::fs::read(e.path()).unwrap());
            }
        }
    }
    out
}

/// Whether a run in `data` has appended records to its topic (a segment of
/// `compare-*/topics/compare.ysb` is not empty); what vanishes meanwhile counts as not.
fn feed_began(data: &Path) -> bool {
    let Ok(runs) = std::fs::read_dir(data) else {
        return false;
    };
    runs.flatten()
        .filter(|r| r.file_name().to_string_lossy().starts_with("compare-"))
        .filter_map(|r| std::fs::read_dir(r.path().join("topics/compare.ysb")).ok())
        .flat_map(|parts| parts.flatten())
        .filter_map(|p| std::fs::read_dir(p.path()).ok())
        .flat_map(|files| files.flatten())
        .any(|f| {
            f.path().extension().is_some_and(|e| e == "log")
                && f.metadata().is_ok_and(|m| m.len() > 0)
        })
}

/// The paths in `after` that are new or changed since `before`.
fn changed(
    before: &BTreeMap<PathBuf, Vec<u8>>,
    after: &BTreeMap<PathBuf, Vec<u8>>,
) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = after
        .iter()
        .filter(|(p, b)| before.get(*p) != Some(*b))
        .map(|(p, _)| p.clone())
        .collect();
    out.extend(before.keys().filter(|p| !after.contains_key(*p)).cloned());
    out
}

/// A data directory that already holds a topic of the user's.
fn data_with_a_topic() -> TempDir {
    let dir = TempDir::new().unwrap();
    generate_pageviews(&dir, "3", 3000).assert().success();
    dir
}

#[test]
fn a_comparison_removes_what_it_wrote_and_leaves_the_data_directory_as_it_was() {
    let dir = data_with_a_topic();
    let before = files(dir.path());
    let mut args = small_run();
    let events = args.iter().position(|a| a == "--events").unwrap();
    args[events + 1] = "3000".into();
    let out = stdout_of(lk(&dir).args(&args).args(["--reprocess-runs", "1"]));
    let last = out.lines().last().unwrap();
    assert!(
        last.starts_with("removed the comparison's data: ") && last.contains("compare-"),
        "{out}"
    );
    assert_eq!(changed(&before, &files(dir.path())), Vec::<PathBuf>::new());
    let topics = stdout_of(lk(&dir).args(["topic", "list"]));
    assert_eq!(topics.trim(), "pageviews\t2 partitions", "{topics}");
}

#[test]
fn a_comparison_over_a_users_topic_leaves_it_intact_and_deletes_its_own_topics() {
    let dir = data_with_a_topic();
    let topic_files = |d: &Path| {
        let mut f = files(d);
        f.retain(|p, _| p.starts_with("topics/pageviews"));
        f
    };
    let before = files(dir.path());
    let user_topic = topic_files(dir.path());
    assert!(!user_topic.is_empty());
    let out = stdout_of(lk(&dir).args([
        "compare",
        "--topic",
        "pageviews",
        "--workload",
        "pageviews-per-minute",
        "--batch-every",
        "200ms",
        "--checkpoint-every",
        "50ms",
        "--reprocess-runs",
        "1",
    ]));
    let last = out.lines().last().unwrap();
    assert!(last.contains("topic(s) from the log"), "{out}");
    assert_eq!(
        changed(&user_topic, &topic_files(dir.path())),
        Vec::<PathBuf>::new(),
        "the user's topic, byte for byte"
    );
    // Kappa's changelogs and late-events topics are gone; what stays is its groups'
    // committed offsets (the log cannot delete a group).
    let topics = stdout_of(lk(&dir).args(["topic", "list"]));
    assert_eq!(topics.trim(), "pageviews\t2 partitions", "{topics}");
    let after = files(dir.path());
    let other: Vec<PathBuf> = changed(&before, &after)
        .into_iter()
        .filter(|p| !p.starts_with("topics/__consumer_offsets"))
        .collect();
    assert_eq!(other, Vec::<PathBuf>::new());
}

#[test]
fn with_keep_the_comparisons_data_stays_and_the_last_line_says_where() {
    let dir = TempDir::new().unwrap();
    let mut args = small_run();
    let events = args.iter().position(|a| a == "--events").unwrap();
    args[events + 1] = "2000".into();
    let out = stdout_of(lk(&dir).args(&args).args(["--no-reprocess", "--keep"]));
    let last = out.lines().last().unwrap();
    assert!(last.starts_with("kept the comparison's data: "), "{out}");
    let kept: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(last.contains(&kept[0].display().to_string()), "{last}");
    // A data directory of its own, with the fed topic in it.
    let topics = stdout_of(
        assert_cmd::Command::cargo_bin("lk")
            .unwrap()
            .env_remove("LK_DATA")
            .arg("--data")
            .arg(&kept[0])
            .args(["topic", "describe", "compare.ysb"]),
    );
    assert!(
        topics.contains("topic compare.ysb: 2 partitions"),
        "{topics}"
    );
    // A later run does not take a kept directory for a killed run's.
    let mut args = small_run();
    args[events + 1] = "1000".into();
    stdout_of(lk(&dir).args(&args).arg("--no-reprocess"));
    assert!(kept[0].join("topics/compare.ysb").is_dir());
}
