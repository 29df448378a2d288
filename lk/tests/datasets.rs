//! `lk generate`, `lk ingest csv` and `lk export` end to end.

mod common;

use common::lk;
use predicates::prelude::*;
use tempfile::TempDir;

fn export(dir: &TempDir, topic: &str) -> String {
    let out = lk(dir)
        .args(["export", topic, "--out", "-"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Drop the append-time column, the only one the log sets from the clock.
fn without_append_time(csv: &str) -> Vec<String> {
    csv.lines()
        .map(|l| {
            let mut f: Vec<&str> = l.split(',').collect();
            f.remove(3);
            f.join(",")
        })
        .collect()
}

#[test]
fn generate_is_deterministic_through_the_command_line() {
    let (a, b) = (TempDir::new().unwrap(), TempDir::new().unwrap());
    for dir in [&a, &b] {
        lk(dir)
            .args([
                "generate",
                "nexmark",
                "--topic",
                "nx",
                "--events",
                "5000",
                "--partitions",
                "3",
                "--seed",
                "7",
                "--out-of-order",
                "0.1",
                "--max-delay",
                "2s",
                "--duplicates",
                "0.05",
            ])
            .assert()
            .success()
            .stdout(predicate::str::contains("generated 5000 nexmark events"));
    }
    let (ea, eb) = (export(&a, "nx"), export(&b, "nx"));
    assert!(
        ea.lines().count() > 5000,
        "duplicates come on top of the events"
    );
    assert_eq!(without_append_time(&ea), without_append_time(&eb));
    // A different seed gives different data.
    let c = TempDir::new().unwrap();
    lk(&c)
        .args([
            "generate",
            "nexmark",
            "--topic",
            "nx",
            "--events",
            "5000",
            "--partitions",
            "3",
            "--seed",
            "8",
        ])
        .assert()
        .success();
    assert_ne!(
        without_append_time(&ea),
        without_append_time(&export(&c, "nx"))
    );
}

#[test]
fn ingest_fails_atomically_with_the_line_or_skips_to_rejects() {
    let dir = TempDir::new().unwrap();
    let csv = dir.path().join("trips.csv");
    std::fs::write(
        &csv,
        "ts,zone,fare\n2026-01-01T00:00:00Z,JFK,12.5\n2026-01-01T00:10:00Z,LGA,NA\nnot-a-time,JFK,3\n",
    )
    .unwrap();
    let ingest = |extra: &[&str]| {
        let mut c = lk(&dir);
        c.args(["ingest", "csv"])
            .arg(&csv)
            .args([
                "--topic",
                "trips",
                "--time-column",
                "ts",
                "--key-column",
                "zone",
                "--null-values",
                "NA",
            ])
            .args(extra);
        c
    };
    ingest(&[]).assert().code(1).stderr(
        predicate::str::contains("trips.csv:4")
            .and(predicate::str::contains("nothing of this file was written")),
    );
    // Nothing was written.
    let described = lk(&dir)
        .args(["topic", "describe", "trips", "--format", "json"])
        .output()
        .unwrap();
    if described.status.success() {
        let v: serde_json::Value = serde_json::from_slice(&described.stdout).unwrap();
        for p in v["partitions"].as_array().unwrap() {
            assert_eq!(p["latest"], 0, "{v}");
        }
    }
    ingest(&["--on-error", "skip"]).assert().success().stdout(
        predicate::str::contains("imported 2 of 3 rows").and(predicate::str::contains("line 4")),
    );
    let rejects = std::fs::read_to_string(dir.path().join("datasets/trips.rejects.csv")).unwrap();
    assert!(rejects.contains("not-a-time"), "{rejects}");
    let exported = export(&dir, "trips");
    assert_eq!(exported.lines().count(), 3, "{exported}");
    assert!(
        exported.contains(",LGA,\n") || exported.contains(",LGA,\r\n"),
        "null fare stays null: {exported}"
    );
}

#[test]
fn export_to_parquet_writes_a_file() {
    let dir = TempDir::new().unwrap();
    lk(&dir)
        .args(["generate", "pageviews", "--topic", "pv", "--events", "2000"])
        .assert()
        .success();
    let out = dir.path().join("pv.parquet");
    lk(&dir)
        .args(["export", "pv", "--format", "parquet", "--out"])
        .arg(&out)
        .assert()
        .success()
        .stderr(predicate::str::contains("exported 2000 rows"));
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(&bytes[..4], b"PAR1");
    assert_eq!(&bytes[bytes.len() - 4..], b"PAR1");
    lk(&dir)
        .args(["export", "pv", "--format", "parquet", "--out", "-"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("Parquet needs a file"));
    lk(&dir)
        .args(["generate", "weather", "--topic", "w", "--events", "1"])
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with("lk: error: "));
}
