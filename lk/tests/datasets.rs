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

/// Records in every partition of `topic` (0 when it does not exist).
fn topic_records(dir: &TempDir, topic: &str) -> u64 {
    let described = lk(dir)
        .args(["topic", "describe", topic, "--format", "json"])
        .output()
        .unwrap();
    if !described.status.success() {
        return 0;
    }
    let v: serde_json::Value = serde_json::from_slice(&described.stdout).unwrap();
    v["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["latest"].as_u64().unwrap() - p["earliest"].as_u64().unwrap())
        .sum()
}

#[test]
fn ingest_refuses_a_10_mb_field_with_its_line_before_writing_anything() {
    let dir = TempDir::new().unwrap();
    let csv = dir.path().join("big.csv");
    let mut text = String::from("ts,id,note\n");
    for i in 0..6_000 {
        let note = if i == 5_000 {
            "n".repeat(10_000_000)
        } else {
            format!("row {i}")
        };
        text.push_str(&format!("{},{i},{note}\n", 1_700_000_000 + i));
    }
    std::fs::write(&csv, text).unwrap();
    let ingest = |extra: &[&str]| {
        let mut c = lk(&dir);
        c.args(["ingest", "csv"])
            .arg(&csv)
            .args(["--topic", "big", "--time-column", "ts"])
            .args(["--time-format", "epoch-s", "--key-column", "id"])
            .args(extra);
        c
    };
    ingest(&[]).assert().code(1).stderr(
        predicate::str::contains("big.csv:5002:")
            .and(predicate::str::contains("--max-field-bytes"))
            .and(predicate::str::contains("nothing of this file was written")),
    );
    assert_eq!(topic_records(&dir, "big"), 0);
    // Raised above the field, the limit lets the row through to the topic's own record
    // limit (1 MiB), which refuses it just as early.
    ingest(&["--max-field-bytes", "16MiB"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("big.csv:5002:")
                .and(predicate::str::contains("max_record_bytes")),
        );
    assert_eq!(topic_records(&dir, "big"), 0);
    ingest(&["--on-error", "skip"]).assert().success().stdout(
        predicate::str::contains("imported 5999 of 6000 rows")
            .and(predicate::str::contains("line 5002: column \"note\"")),
    );
    assert_eq!(topic_records(&dir, "big"), 5_999);
    let rejects = std::fs::read_to_string(dir.path().join("datasets/big.rejects.csv")).unwrap();
    assert!(
        rejects.starts_with("line,reason,fields\n5002,"),
        "{}",
        &rejects[..200]
    );
}

#[test]
fn ingest_of_input_without_newlines_stops_at_the_line_limit_with_the_offset() {
    let dir = TempDir::new().unwrap();
    let flat = dir.path().join("flat.csv");
    std::fs::write(&flat, vec![b'a'; 4 << 20]).unwrap();
    lk(&dir)
        .args(["ingest", "csv"])
        .arg(&flat)
        .args(["--topic", "flat", "--max-line-bytes", "64KiB"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("line 1: the header").and(predicate::str::contains(
                "passes the limit at byte offset 65536",
            )),
        );
    assert_eq!(topic_records(&dir, "flat"), 0);
    lk(&dir)
        .args(["ingest", "csv"])
        .arg(&flat)
        .args(["--topic", "flat", "--max-line-bytes", "lots"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--max-line-bytes"));
}

#[test]
fn export_removes_the_temporary_file_an_interrupted_export_left() {
    let dir = TempDir::new().unwrap();
    common::generate_pageviews(&dir, "1", 500)
        .assert()
        .success();
    let out = dir.path().join("views.csv");
    let tmp = dir.path().join(".views.csv.tmp");
    for (topic, ok) in [("pageviews", true), ("no-such-topic", false)] {
        // What a SIGKILL in the middle of an export leaves.
        std::fs::write(&tmp, "partition,offset\n0,").unwrap();
        let done = lk(&dir).args(["export", topic, "--out"]).arg(&out).assert();
        if ok {
            done.success();
            assert!(std::fs::read_to_string(&out).unwrap().lines().count() > 500);
        } else {
            done.failure();
        }
        assert!(!tmp.exists(), "{topic}: the temporary file is still there");
    }
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

/// Without `--topic`, `lk generate` writes the topic named after the dataset.
#[test]
fn generate_without_a_topic_writes_the_dataset_s_own() {
    let dir = TempDir::new().unwrap();
    lk(&dir)
        .args(["generate", "nexmark", "--events", "500"])
        .assert()
        .success();
    // 500 events, and the few duplicates the generator adds by default.
    let records = topic_records(&dir, "nexmark");
    assert!((500..510).contains(&records), "{records}");
}
