//! The `lk` binary end to end: topics, produce/consume, groups, verification and errors.

mod common;

use common::{lk, stdout_of};
use predicates::prelude::*;
use tempfile::TempDir;

fn consume_all(dir: &TempDir, topic: &str, extra: &[&str]) -> String {
    stdout_of(
        lk(dir)
            .args(["consume", topic, "--idle-timeout", "300ms"])
            .args(extra),
    )
}

#[test]
fn produce_then_consume_from_beginning_keeps_keys_and_values() {
    let dir = TempDir::new().unwrap();
    lk(&dir)
        .args(["topic", "create", "demo", "--partitions", "3"])
        .assert()
        .success();
    lk(&dir)
        .args(["produce", "demo"])
        .write_stdin("alice\thello\nbob\tworld\nvalue only\ncarol\ttab\tinside\n")
        .assert()
        .success()
        .stderr(predicate::str::contains("produced 4 records"));
    let out = consume_all(&dir, "demo", &["--from-beginning"]);
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort();
    assert_eq!(lines.len(), 4, "{out}");
    // alice → 0, bob → 0 and carol → 2 by Kafka's murmur2 over 3 partitions.
    assert!(lines.contains(&"0\t0\talice\thello"), "{out}");
    assert!(lines.contains(&"0\t1\tbob\tworld"), "{out}");
    assert!(lines.contains(&"2\t0\tcarol\ttab\\tinside"), "{out}");
    assert!(lines.iter().any(|l| l.ends_with("\t\tvalue only")), "{out}");
}

#[test]
fn json_output_has_every_field() {
    let dir = TempDir::new().unwrap();
    lk(&dir)
        .args(["topic", "create", "j", "--partitions", "1"])
        .assert()
        .success();
    lk(&dir)
        .args(["produce", "j"])
        .write_stdin("k\tv\n")
        .assert()
        .success();
    let out = consume_all(&dir, "j", &["--from-beginning", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["partition"], 0);
    assert_eq!(v["offset"], 0);
    assert_eq!(v["key"], "k");
    assert_eq!(v["value"], "v");
    assert!(v["append_time"].as_str().unwrap().ends_with('Z'));
    assert!(v["event_time"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn group_resumes_from_what_it_printed() {
    let dir = TempDir::new().unwrap();
    lk(&dir)
        .args(["topic", "create", "g", "--partitions", "1"])
        .assert()
        .success();
    let input: String = (0..10).map(|i| format!("v{i}\n")).collect();
    lk(&dir)
        .args(["produce", "g"])
        .write_stdin(input)
        .assert()
        .success();
    let first = consume_all(
        &dir,
        "g",
        &["--group", "readers", "--from-beginning", "--max", "4"],
    );
    assert_eq!(first.lines().count(), 4, "{first}");
    assert!(first.lines().last().unwrap().ends_with("\tv3"));
    let rest = consume_all(&dir, "g", &["--group", "readers", "--from-beginning"]);
    let offsets: Vec<&str> = rest
        .lines()
        .map(|l| l.split('\t').nth(1).unwrap())
        .collect();
    assert_eq!(offsets, ["4", "5", "6", "7", "8", "9"], "{rest}");
    // Another group reads everything again (publish-subscribe).
    let other = consume_all(&dir, "g", &["--group", "others", "--from-beginning"]);
    assert_eq!(other.lines().count(), 10);
    // Nothing left for the first group.
    assert_eq!(consume_all(&dir, "g", &["--group", "readers"]), "");
}

#[test]
fn offset_and_time_starts() {
    let dir = TempDir::new().unwrap();
    lk(&dir)
        .args(["topic", "create", "t", "--partitions", "2"])
        .assert()
        .success();
    lk(&dir)
        .args(["produce", "t"])
        .write_stdin("a\t1\na\t2\na\t3\n")
        .assert()
        .success();
    // "a" is in partition 0 of 2 (murmur2("a") = -1563381124).
    let out = consume_all(&dir, "t", &["--offset", "0:1"]);
    assert_eq!(out, "0\t1\ta\t2\n0\t2\ta\t3\n");
    let out = consume_all(&dir, "t", &["--from-time", "2000-01-01T00:00:00Z"]);
    assert_eq!(out.lines().count(), 3);
    let out = consume_all(&dir, "t", &["--from-time", "2999-01-01T00:00:00Z"]);
    assert_eq!(out, "");
}

#[test]
fn topic_list_describe_delete() {
    let dir = TempDir::new().unwrap();
    lk(&dir)
        .args([
            "topic",
            "create",
            "c",
            "--partitions",
            "2",
            "--compact",
            "--retention-ms",
            "1000",
        ])
        .assert()
        .success();
    lk(&dir)
        .args(["topic", "list"])
        .assert()
        .success()
        .stdout("c\t2 partitions compact\n");
    lk(&dir)
        .args(["topic", "describe", "c"])
        .assert()
        .success()
        .stdout(predicate::str::contains("compacted").and(predicate::str::contains("1000 ms")))
        .stdout(predicate::str::contains("1\t0\t0\t0\t1"));
    lk(&dir).args(["topic", "delete", "c"]).assert().success();
    lk(&dir)
        .args(["topic", "list"])
        .assert()
        .success()
        .stdout("");
}

#[test]
fn bad_input_is_one_line_and_nonzero() {
    let dir = TempDir::new().unwrap();
    lk(&dir).args(["topic", "create", "ok"]).assert().success();
    let cases: &[(&[&str], &str)] = &[
        (&["topic", "create", "../escape"], "invalid name"),
        (&["topic", "create", "."], "invalid name"),
        (&["topic", "create", "__mine"], "reserved"),
        (&["topic", "create", "ok"], "already exists"),
        (
            &["topic", "create", "zero", "--partitions", "0"],
            "partitions must be",
        ),
        (&["topic", "describe", "missing"], "unknown topic"),
        (&["consume", "missing", "--max", "1"], "unknown topic"),
        (&["consume", "ok", "--offset", "0:5"], "out of range"),
        (&["consume", "ok", "--offset", "7:0"], "no partition 7"),
        (
            &["consume", "ok", "--offset", "zero"],
            "expected PARTITION:OFFSET",
        ),
        (&["consume", "ok", "--from-time", "yesterday"], "RFC 3339"),
        (&["--fsync", "sometimes", "topic", "list"], "fsync policy"),
    ];
    for (args, needle) in cases {
        let out = lk(&dir).args(*args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.starts_with("lk: error: "), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
    // A usage error is clap's, with status 2: an unknown command, or a flag's value that
    // does not parse.
    lk(&dir).args(["topic", "frobnicate"]).assert().code(2);
    let out = lk(&dir)
        .args(["consume", "ok", "--idle-timeout", "soon"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"soon\" is not a duration"));
}

#[test]
fn verify_is_clean_then_finds_damage() {
    let dir = TempDir::new().unwrap();
    lk(&dir)
        .args(["topic", "create", "v", "--partitions", "1"])
        .assert()
        .success();
    let input: String = (0..100).map(|i| format!("k{i}\tvalue {i}\n")).collect();
    lk(&dir)
        .args(["produce", "v", "--batch", "10"])
        .write_stdin(input)
        .assert()
        .success();
    lk(&dir)
        .args(["log", "verify"])
        .assert()
        .success()
        .stdout(predicate::str::contains("100 records").and(predicate::str::contains("no damage")));
    // Flip one byte in the middle of the segment.
    let seg = dir.path().join("topics/v/0/00000000000000000000.log");
    let mut bytes = std::fs::read(&seg).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x5a;
    std::fs::write(&seg, bytes).unwrap();
    lk(&dir).args(["log", "verify"]).assert().code(1).stdout(
        predicate::str::contains("DAMAGED")
            .and(predicate::str::contains("00000000000000000000.log at byte"))
            .and(predicate::str::contains("0 lost]")),
    );
    // Opening the log cuts the damaged batch out alone, says so, and keeps everything
    // else. A reader gets every record before it, then fails naming the lost offsets.
    let out = lk(&dir)
        .args([
            "consume",
            "v",
            "--from-beginning",
            "--idle-timeout",
            "300ms",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("offsets ") && stderr.contains("of v/0 were lost to damage"),
        "{stderr}"
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let n = stdout.lines().count();
    assert!(n > 0 && n < 100, "{n} records before the damage");
    for (i, line) in stdout.lines().enumerate() {
        assert_eq!(line, format!("0\t{i}\tk{i}\tvalue {i}"));
    }
    // Told to accept gaps, it reads every intact record: all but the damaged batch.
    let out = consume_all(&dir, "v", &["--from-beginning", "--accept-gaps"]);
    let offsets: Vec<u64> = out
        .lines()
        .map(|l| l.split('\t').nth(1).unwrap().parse().unwrap())
        .collect();
    assert_eq!(offsets.len(), 90, "{out}");
    let lost: Vec<u64> = (0..100).filter(|o| !offsets.contains(o)).collect();
    assert_eq!(lost, (n as u64..n as u64 + 10).collect::<Vec<_>>());
    for line in out.lines() {
        let o = line.split('\t').nth(1).unwrap();
        assert_eq!(line, format!("0\t{o}\tk{o}\tvalue {o}"));
    }
    let lost_range = format!("offsets {n}..{}", n + 10);
    lk(&dir)
        .args(["topic", "describe", "v"])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "DAMAGED partition 0: {lost_range} lost"
        )));
    // The loss stays reported.
    lk(&dir)
        .args(["log", "verify"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(format!("[{lost_range} lost]")));
}

#[test]
fn a_second_process_produces_while_a_first_one_consumes_and_the_consumer_follows() {
    use std::io::BufRead;
    let dir = TempDir::new().unwrap();
    lk(&dir).args(["topic", "create", "l"]).assert().success();
    let mut follower = std::process::Command::new(assert_cmd::cargo::cargo_bin("lk"))
        .arg("--data")
        .arg(dir.path())
        .env_remove("LK_DATA")
        .args(["consume", "l", "--from-beginning", "--idle-timeout", "20s"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let out = follower.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines() {
            let _ = tx.send(line.unwrap());
        }
    });
    // Once the consumer has the log open (it holds the data directory's lock, shared),
    // another process appends, and reads the topic too: what the consumer then reads it
    // followed from the files.
    let pid = format!(" {} ", follower.id());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !std::fs::read_to_string("/proc/locks")
        .unwrap()
        .lines()
        .any(|l| l.contains("FLOCK") && l.contains(&pid))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the consumer never opened the log"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    lk(&dir)
        .args(["produce", "l"])
        .write_stdin("alice\thello\nbob\tworld\n")
        .assert()
        .success();
    lk(&dir).args(["topic", "describe", "l"]).assert().success();
    let mut seen = String::new();
    while !(seen.contains("hello") && seen.contains("world")) {
        match rx.recv_timeout(std::time::Duration::from_secs(15)) {
            Ok(line) => seen.push_str(&line),
            Err(e) => panic!("the consumer did not follow ({e}): {seen:?}"),
        }
    }
    follower.kill().unwrap();
    follower.wait().unwrap();
}

#[test]
fn demo_appends_reads_back_twice_and_verifies() {
    let dir = TempDir::new().unwrap();
    let out = stdout_of(lk(&dir).args(["demo", "--records", "5000", "--partitions", "2"]));
    assert!(out.contains("appended 5000 records"), "{out}");
    assert!(
        out.contains("read back 5000 records as group lk-demo"),
        "{out}"
    );
    assert!(out.contains("read again with Log::fetch_each"), "{out}");
    // The files hold the demo's records and the group's committed offsets.
    assert!(out.contains("records: no damage"), "{out}");
    // A second run appends after the first and reads only its own records.
    let out = stdout_of(lk(&dir).args(["demo", "--records", "3000", "--partitions", "2"]));
    assert!(out.contains("appending to existing topic demo"), "{out}");
    assert!(out.contains("read back 3000 records"), "{out}");
    assert!(out.contains("read again with Log::fetch_each"), "{out}");
    assert!(out.contains("records: no damage"), "{out}");
}
