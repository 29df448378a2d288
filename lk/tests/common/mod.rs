//! What every `lk` end-to-end test needs.
#![allow(dead_code)]

use assert_cmd::Command;
use master_log::{EmbeddedLog, Log};
use tempfile::TempDir;

/// The `lk` binary with `--data` set to `dir` (and `$LK_DATA` cleared).
pub fn lk(dir: &TempDir) -> Command {
    let mut cmd = Command::cargo_bin("lk").unwrap();
    cmd.arg("--data").arg(dir.path()).env_remove("LK_DATA");
    cmd
}

/// Run `cmd`, require success (else fail with its stderr), and return its stdout.
pub fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `lk generate pageviews` into topic `pageviews` (2 partitions, 20 events/s of event
/// time) with out-of-order, late and duplicate events, as the pipelines' tests use it.
pub fn generate_pageviews(dir: &TempDir, seed: &str, events: u32) -> Command {
    generate_pageviews_into(lk(dir), "pageviews", seed, events)
}

/// [`generate_pageviews`] through the `lk` command `c`, into `topic`.
pub fn generate_pageviews_into(mut c: Command, topic: &str, seed: &str, events: u32) -> Command {
    c.args(["generate", "pageviews", "--topic", topic, "--events"])
        .arg(events.to_string())
        .args([
            "--partitions",
            "2",
            "--event-rate",
            "20",
            "--seed",
            seed,
            "--out-of-order",
            "0.1",
            "--max-delay",
            "5s",
            "--late",
            "0.02",
            "--late-delay",
            "1m",
            "--duplicates",
            "0.05",
        ]);
    c
}

/// Copy the records of `[from, to)` of every partition of `pageviews` from `src` into
/// `dst`, keeping partitions (the test's way to append "the rest" after a horizon).
pub fn copy(src: &EmbeddedLog, dst: &EmbeddedLog, from: &[u64], to: &[u64]) {
    for (p, (&a, &b)) in from.iter().zip(to).enumerate() {
        let mut next = a;
        while next < b {
            let recs = src
                .fetch(
                    "pageviews",
                    p as u32,
                    next,
                    master_log::FetchLimits::default(),
                )
                .unwrap();
            let recs: Vec<_> = recs.into_iter().filter(|r| r.offset < b).collect();
            next = recs.last().unwrap().offset + 1;
            let batch: Vec<master_log::NewRecord> = recs
                .into_iter()
                .map(|r| master_log::NewRecord {
                    key: r.key,
                    value: r.value,
                    event_time: r.event_time,
                    headers: r.headers,
                })
                .collect();
            dst.append("pageviews", p as u32, &batch).unwrap();
        }
    }
}

/// A generated dataset split in two: `src` holds all of it; `dir` gets a `pageviews` topic
/// of `partitions` partitions with the first half of every partition. Returns the
/// offsets where the halves meet and where they end, for [`copy`] of the rest.
pub fn first_half(src: &TempDir, dir: &TempDir, partitions: u32) -> (Vec<u64>, Vec<u64>) {
    let src_log = EmbeddedLog::open(src.path()).unwrap();
    let end = src_log.end_offsets("pageviews").unwrap();
    let mid: Vec<u64> = end.iter().map(|e| e / 2).collect();
    let dst = EmbeddedLog::open(dir.path()).unwrap();
    dst.create_topic(
        "pageviews",
        master_log::TopicConfig::with_partitions(partitions),
    )
    .unwrap();
    copy(&src_log, &dst, &vec![0; end.len()], &mid);
    (mid, end)
}

/// Copy `[from, to)` of `src`'s `pageviews` into `dir`'s.
pub fn copy_dirs(src: &TempDir, dir: &TempDir, from: &[u64], to: &[u64]) {
    let src_log = EmbeddedLog::open(src.path()).unwrap();
    let dst = EmbeddedLog::open(dir.path()).unwrap();
    copy(&src_log, &dst, from, to);
}

/// The oracle's answer of `pageviews-per-minute` over `dir`'s topic `pageviews`.
pub fn pageviews_per_minute_oracle(dir: &TempDir) -> workloads::ResultSet {
    let log = EmbeddedLog::open(dir.path()).unwrap();
    oracle::answer(
        &log,
        &workloads::Workload::BuiltIn(workloads::BuiltIn::PageviewsPerMinute),
        "pageviews",
        &dir.path().join("datasets"),
    )
    .unwrap()
}

/// The oracle's answer of `pageviews-per-minute` over `dir`'s `pageviews`, as `lk query
/// --format csv` prints it.
pub fn pageviews_per_minute_csv(dir: &TempDir) -> String {
    let expected = pageviews_per_minute_oracle(dir);
    assert!(expected.rows.len() > 50);
    let mut want = String::from("window_start,window_end,page_id,views\n");
    for r in &expected.rows {
        want.push_str(&format!(
            "{},{},{},{}\n",
            workloads::rfc3339_millis(r.window.start),
            workloads::rfc3339_millis(r.window.end),
            r.key[0],
            r.values[0]
        ));
    }
    want
}
