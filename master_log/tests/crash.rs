//! Crash safety: a writer process is killed with SIGKILL at random moments, round after
//! round on the same data directory; every record it acknowledged must be there, intact,
//! after each reopening, and the directory must verify clean.
//!
//! The writer is this very test binary, re-executed to run the `#[ignore]`d test
//! `crash_child` (which does nothing unless `CRASH_DIR_ENV` is set).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use master_log::{
    Bytes, EmbeddedLog, FetchLimits, FsyncPolicy, Log, LogOptions, NewRecord, SegmentIssue,
    TopicConfig,
};
use rand::Rng;

const CRASH_DIR_ENV: &str = "MASTER_LOG_CRASH_DIR";
const CRASH_ROUND_ENV: &str = "MASTER_LOG_CRASH_ROUND";
const TOPIC: &str = "crash";
const PARTITIONS: u32 = 2;
const ROUNDS: u64 = 5;
/// The child stops by itself after this long, so that nothing can hang.
const CHILD_LIFETIME: Duration = Duration::from_secs(30);

fn topic_config() -> TopicConfig {
    TopicConfig {
        partitions: PARTITIONS,
        // Small segments: kills also land in the middle of rolls.
        segment_bytes: 2048,
        index_interval_bytes: 256,
        ..TopicConfig::default()
    }
}

/// The value written at `offset` of `partition` in round `round`: it names all three and
/// pads itself with bytes derived from them, so that any damage shows.
fn value_for(round: u64, partition: u32, offset: u64) -> Vec<u8> {
    let mut v = format!("round={round};partition={partition};offset={offset};").into_bytes();
    let pad = (offset * 7 + round) % 90;
    v.extend((0..pad).map(|i| b'a' + ((offset + i + round) % 26) as u8));
    v
}

fn key_for(offset: u64) -> Option<Bytes> {
    (!offset.is_multiple_of(3)).then(|| Bytes::from(format!("key-{offset}")))
}

/// The writer: appends batches forever (or until `CHILD_LIFETIME`), printing
/// `ack PARTITION LAST_OFFSET` after each acknowledged append.
#[test]
#[ignore = "run by crash::records_acknowledged_before_sigkill_survive as a child process"]
fn crash_child() {
    let Ok(dir) = std::env::var(CRASH_DIR_ENV) else {
        return;
    };
    let round: u64 = std::env::var(CRASH_ROUND_ENV).unwrap().parse().unwrap();
    let log = EmbeddedLog::open_with(
        &dir,
        LogOptions {
            fsync: FsyncPolicy::Always,
            ..LogOptions::default()
        },
    )
    .unwrap();
    let start = Instant::now();
    let mut out = std::io::stdout().lock();
    let mut i: u64 = 0;
    while start.elapsed() < CHILD_LIFETIME {
        let p = (i % u64::from(PARTITIONS)) as u32;
        let count = 1 + i % 4;
        // One writer: the next offset is the partition's latest.
        let base = log.offsets(TOPIC, p).unwrap().1;
        let records: Vec<NewRecord> = (base..base + count)
            .map(|o| NewRecord {
                key: key_for(o),
                value: Some(Bytes::from(value_for(round, p, o))),
                event_time: o as i64,
                headers: Vec::new(),
            })
            .collect();
        let appended = log.append(TOPIC, p, &records).unwrap();
        assert_eq!(appended.base_offset, base);
        writeln!(out, "ack {p} {}", appended.last_offset).unwrap();
        out.flush().unwrap();
        i += 1;
    }
}

/// Check every record of the log: dense offsets, and each value the one some round wrote
/// at that offset, rounds never going back. Returns the latest offset of each partition.
fn check_contents(log: &EmbeddedLog, round: u64) -> Vec<u64> {
    let mut latest = Vec::new();
    for p in 0..PARTITIONS {
        let (earliest, end) = log.offsets(TOPIC, p).unwrap();
        assert_eq!(earliest, 0);
        let mut next = 0;
        let mut last_round = 0;
        while next < end {
            let records = log.fetch(TOPIC, p, next, FetchLimits::default()).unwrap();
            assert!(!records.is_empty());
            for r in records {
                assert_eq!(r.offset, next, "offsets are dense");
                let value = r.value.as_ref().expect("no tombstones were written");
                let text = String::from_utf8_lossy(value);
                let written_in: u64 = text
                    .strip_prefix("round=")
                    .and_then(|t| t.split(';').next())
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| panic!("{p}/{next}: garbled value {text:?}"));
                assert!(written_in >= last_round && written_in <= round);
                last_round = written_in;
                assert_eq!(
                    value.as_ref(),
                    value_for(written_in, p, next).as_slice(),
                    "{p}/{next}: damaged value"
                );
                assert_eq!(r.key, key_for(next), "{p}/{next}: damaged key");
                assert_eq!(r.event_time, next as i64);
                next += 1;
            }
        }
        latest.push(end);
    }
    latest
}

/// One round: start the writer, let it acknowledge for a random while, SIGKILL it.
/// Returns the highest acknowledged offset per partition.
fn run_child(dir: &Path, round: u64) -> BTreeMap<u32, u64> {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args(["--exact", "crash_child", "--ignored", "--nocapture"])
        .args(["--test-threads", "1"])
        .env(CRASH_DIR_ENV, dir)
        .env(CRASH_ROUND_ENV, round.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<(u32, u64)>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // The test harness prints its own lines too; only acks count.
            let Some(rest) = line.strip_prefix("ack ") else {
                continue;
            };
            let (p, o) = rest.split_once(' ').unwrap();
            if tx.send((p.parse().unwrap(), o.parse().unwrap())).is_err() {
                break;
            }
        }
    });

    let mut acked: BTreeMap<u32, u64> = BTreeMap::new();
    let mut note = |(p, o): (u32, u64)| {
        let e = acked.entry(p).or_insert(o);
        assert!(o >= *e, "acknowledged offsets go back: {o} after {e}");
        *e = o;
    };
    // Wait for the writer to get going, then let it run a random while.
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(ack) => note(ack),
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("round {round}: the writer acknowledged nothing: {e}");
        }
    }
    let delay = Duration::from_millis(rand::rng().random_range(20..400));
    std::thread::sleep(delay);
    // `Child::kill` is SIGKILL on unix: the writer gets no chance to clean up.
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "the writer was killed, not finished");
    reader.join().unwrap();
    // Everything printed before the kill was acknowledged before the kill.
    for ack in rx.try_iter() {
        note(ack);
    }
    acked
}

#[test]
fn records_acknowledged_before_sigkill_survive() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = EmbeddedLog::open(dir.path()).unwrap();
        log.create_topic(TOPIC, topic_config()).unwrap();
    }
    let mut acked_total: BTreeMap<u32, u64> = BTreeMap::new();
    for round in 1..=ROUNDS {
        let acked = run_child(dir.path(), round);
        assert!(!acked.is_empty());
        eprintln!("round {round}: acknowledged up to {acked:?}");
        for (&p, &o) in &acked {
            acked_total.insert(p, o);
        }
        {
            let log = EmbeddedLog::open(dir.path()).unwrap();
            for issue in log.recovery_issues() {
                // A kill can at most leave a torn last batch in an active segment.
                assert!(
                    matches!(issue, SegmentIssue::TruncatedTail { .. }),
                    "round {round}: {issue:?}"
                );
            }
            let latest = check_contents(&log, round);
            for (&p, &o) in &acked_total {
                assert!(
                    latest[p as usize] > o,
                    "round {round}: partition {p} ends at {} but offset {o} was acknowledged",
                    latest[p as usize]
                );
            }
        }
        let report = master_log::verify(dir.path()).unwrap();
        assert!(
            report.is_clean(),
            "round {round}: verify found {:#?}",
            report.problems
        );
    }
    // The rounds did roll segments, so kills could land around rolls.
    let log = EmbeddedLog::open(dir.path()).unwrap();
    let d = log.describe_topic(TOPIC).unwrap();
    assert!(d.partitions.iter().all(|p| p.segments > 1), "{d:?}");
}
