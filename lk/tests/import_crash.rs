//! SIGKILL during `lk ingest csv` and `lk generate`, then the same command again: the
//! topic holds every record of the import exactly once, as a run that was never killed
//! does, and nothing of the interrupted run is left over.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::lk;
use tempfile::TempDir;

/// Kills per command, at delays spread over the length of an uninterrupted run.
const KILLS: u32 = 10;

/// A CSV file of `rows` keyed rows.
fn write_csv(path: &Path, rows: u64) {
    let mut text = String::with_capacity(rows as usize * 32);
    text.push_str("ts,id,zone,fare\n");
    for i in 0..rows {
        text.push_str(&format!(
            "{},{i},z{},{}\n",
            1_700_000_000 + i,
            i % 97,
            i / 4
        ));
    }
    std::fs::write(path, text).unwrap();
}

/// The topic's export without its append-time column (the one value the log sets from
/// the clock), sorted.
fn export(dir: &TempDir, topic: &str) -> Vec<String> {
    let out = lk(dir)
        .args(["export", topic, "--out", "-"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let mut f: Vec<&str> = l.split(',').collect();
            f.remove(3);
            f.join(",")
        })
        .collect();
    lines.sort_unstable();
    lines
}

/// The topics of the data directory and the files of its sidecar directory.
fn leftovers(dir: &TempDir) -> (Vec<String>, Vec<String>) {
    let names = |sub: &str| {
        let mut v: Vec<String> = std::fs::read_dir(dir.path().join(sub))
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    (names("topics"), names("datasets"))
}

/// The `lk` command `args` in `dir`, as a plain child process.
fn child(dir: &TempDir, args: &[String]) -> Command {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("lk"));
    c.arg("--data")
        .arg(dir.path())
        .env_remove("LK_DATA")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

/// Run `args` uninterrupted in a fresh directory: the reference export, the topics and
/// sidecar files it leaves, and how long it took.
fn reference(args: &[String], topic: &str) -> (Vec<String>, (Vec<String>, Vec<String>), Duration) {
    let dir = TempDir::new().unwrap();
    let started = Instant::now();
    let out = child(&dir, args).output().unwrap();
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (export(&dir, topic), leftovers(&dir), took)
}

/// Kill `args` at `KILLS` delays spread over its uninterrupted run time, run it again
/// each time, and compare the topic with the uninterrupted run's. Returns how many
/// kills hit a running process.
fn kill_and_rerun(args: &[String], topic: &str, refusal: &str) -> u32 {
    let (want, files, took) = reference(args, topic);
    let mut hits = 0;
    for k in 0..KILLS {
        let dir = TempDir::new().unwrap();
        let delay = took * k / KILLS + Duration::from_millis(5);
        let mut running = child(&dir, args).spawn().unwrap();
        std::thread::sleep(delay);
        if running.try_wait().unwrap().is_none() {
            hits += 1;
        }
        running.kill().unwrap(); // SIGKILL
        running.wait().unwrap();
        let rerun = child(&dir, args).output().unwrap();
        let stderr = String::from_utf8_lossy(&rerun.stderr);
        // A run killed after its commit is finished by the rerun, which then refuses to
        // add the records again.
        assert!(
            rerun.status.success() || stderr.contains(refusal),
            "kill {k} after {delay:?}: {stderr}"
        );
        assert_eq!(
            export(&dir, topic),
            want,
            "kill {k} after {delay:?}: the topic differs from an uninterrupted run's"
        );
        assert_eq!(leftovers(&dir), files, "kill {k} after {delay:?}");
    }
    hits
}

#[test]
fn ingest_csv_killed_at_any_point_then_rerun_holds_every_row_once() {
    let files = TempDir::new().unwrap();
    let csv = files.path().join("rows.csv");
    write_csv(&csv, 200_000);
    let args: Vec<String> = [
        "ingest",
        "csv",
        csv.to_str().unwrap(),
        "--topic",
        "rows",
        "--time-column",
        "ts",
        "--time-format",
        "epoch-s",
        "--key-column",
        "id",
    ]
    .map(String::from)
    .to_vec();
    let hits = kill_and_rerun(&args, "rows", "was already imported");
    assert!(hits >= KILLS / 2, "only {hits} kills hit a running import");
}

#[test]
fn generate_killed_at_any_point_then_rerun_holds_every_event_once() {
    let args: Vec<String> = [
        "generate",
        "ysb",
        "--topic",
        "ads",
        "--events",
        "200000",
        "--out-of-order",
        "0.1",
        "--max-delay",
        "2s",
        "--duplicates",
        "0.01",
    ]
    .map(String::from)
    .to_vec();
    let hits = kill_and_rerun(&args, "ads", "already holds");
    assert!(
        hits >= KILLS / 2,
        "only {hits} kills hit a running generator"
    );
}
