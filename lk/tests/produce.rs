//! `lk produce`: a line the log would refuse stops it with the line's number, after
//! committing exactly the lines before it; input without newlines is not read whole.

mod common;

use common::lk;
use master_log::{EmbeddedLog, FetchLimits, Log};
use predicates::prelude::*;
use tempfile::TempDir;

/// Every value of `topic` (values are `v<line>`) as its line number, sorted.
fn values(dir: &TempDir, topic: &str) -> Vec<u64> {
    let log = EmbeddedLog::open(dir.path()).unwrap();
    let mut v = Vec::new();
    for p in 0..log.partition_count(topic).unwrap() {
        let limits = FetchLimits {
            max_records: usize::MAX,
            max_bytes: usize::MAX,
        };
        for r in log.fetch(topic, p, 0, limits).unwrap() {
            let value = r.value.unwrap();
            v.push(std::str::from_utf8(&value[1..]).unwrap().parse().unwrap());
        }
    }
    v.sort();
    v
}

fn create(dir: &TempDir, topic: &str, extra: &[&str]) {
    lk(dir)
        .args(["topic", "create", topic, "--partitions", "3"])
        .args(extra)
        .assert()
        .success();
}

#[test]
fn an_oversized_line_is_named_and_exactly_the_lines_before_it_are_committed() {
    let dir = TempDir::new().unwrap();
    create(&dir, "t", &[]);
    let mut input = String::new();
    for i in 1..=2_500u64 {
        if i == 1_700 {
            // A line within 1 MiB whose record, framing included, is over the topic's
            // 1 MiB record limit, inside a batch of keyed lines.
            input.push_str(&format!("k{i}\t{}\n", "x".repeat((1 << 20) - 12)));
        } else {
            input.push_str(&format!("k{i}\tv{i}\n"));
        }
    }
    lk(&dir)
        .args(["produce", "t", "--batch", "1000"])
        .write_stdin(input)
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("line 1700: its record takes")
                .and(predicate::str::contains("max_record_bytes"))
                .and(predicate::str::contains(
                    "lines 1 to 1699 were committed (1699 records), nothing after them",
                )),
        );
    assert_eq!(values(&dir, "t"), (1..1_700).collect::<Vec<_>>());
}

#[test]
fn input_without_newlines_stops_at_the_record_limit() {
    let dir = TempDir::new().unwrap();
    create(&dir, "t", &[]);
    let mut input = "k1\tv1\nk2\tv2\n".to_owned();
    input.push_str(&"y".repeat(5 << 20));
    lk(&dir)
        .args(["produce", "t"])
        .write_stdin(input)
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("line 3: longer than the topic's record limit")
                .and(predicate::str::contains("not read to its end"))
                .and(predicate::str::contains("lines 1 to 2 were committed")),
        );
    assert_eq!(values(&dir, "t"), vec![1, 2]);
}

#[test]
fn a_keyless_line_on_a_compacted_topic_is_named_before_anything_of_its_batch_is_sent() {
    let dir = TempDir::new().unwrap();
    create(&dir, "c", &["--compact"]);
    lk(&dir)
        .args(["produce", "c"])
        .write_stdin("a\tv1\nv2\nb\tv3\n")
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("line 2: topic c is compacted").and(predicate::str::contains(
                "lines 1 to 1 were committed (1 records)",
            )),
        );
    assert_eq!(values(&dir, "c"), vec![1]);
    // A first line refused: nothing at all.
    lk(&dir)
        .args(["produce", "c"])
        .write_stdin("v9\n")
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("line 1:")
                .and(predicate::str::contains("nothing was committed")),
        );
    lk(&dir)
        .args(["produce", "c"])
        .write_stdin("a\tv4\nb\tv5\n")
        .assert()
        .success()
        .stderr(predicate::str::contains("produced 2 records to c"));
}
