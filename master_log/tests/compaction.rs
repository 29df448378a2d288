//! Compaction: in closed segments only the latest record of each key survives, at its
//! original offset; tombstones delete a key once older than `delete_retention_ms`; a
//! compacted topic refuses keyless records; the result survives reopening.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use master_log::{Bytes, EmbeddedLog, FetchLimits, Log, LogError, NewRecord, Record, TopicConfig};

const TOPIC: &str = "table";

fn config(delete_retention_ms: u64) -> TopicConfig {
    TopicConfig {
        segment_bytes: 1024,
        delete_retention_ms,
        ..TopicConfig::compacted(1)
    }
}

fn key(k: u64) -> Bytes {
    Bytes::from(format!("key-{k}"))
}

fn value(offset: u64) -> Bytes {
    Bytes::from(format!("value at {offset}"))
}

/// Append `n` records cycling over `keys` keys, three per batch; returns (offset, key) of
/// each.
fn append_cycle(log: &EmbeddedLog, n: u64, keys: u64) -> Vec<(u64, Bytes)> {
    let mut out = Vec::new();
    let start = log.offsets(TOPIC, 0).unwrap().1;
    let mut o = start;
    while o < start + n {
        let batch: Vec<NewRecord> = (o..(o + 3).min(start + n))
            .map(|o| NewRecord::keyed(key(o % keys), value(o), o as i64))
            .collect();
        let a = log.append(TOPIC, 0, &batch).unwrap();
        assert_eq!(a.base_offset, o);
        out.extend((o..=a.last_offset).map(|o| (o, key(o % keys))));
        o = a.last_offset + 1;
    }
    out
}

fn read_all(log: &EmbeddedLog) -> Vec<Record> {
    let (earliest, latest) = log.offsets(TOPIC, 0).unwrap();
    let mut out: Vec<Record> = Vec::new();
    let mut next = earliest;
    while next < latest {
        let got = log.fetch(TOPIC, 0, next, FetchLimits::default()).unwrap();
        let Some(last) = got.last() else { break };
        next = last.offset + 1;
        out.extend(got);
    }
    // Offsets only ever increase (compaction leaves holes, never reorders).
    assert!(out.windows(2).all(|w| w[0].offset < w[1].offset));
    out
}

/// The offsets of records of a key, for every key.
fn by_key(records: &[Record]) -> BTreeMap<Bytes, Vec<u64>> {
    let mut m: BTreeMap<Bytes, Vec<u64>> = BTreeMap::new();
    for r in records {
        m.entry(r.key.clone().expect("keyed"))
            .or_default()
            .push(r.offset);
    }
    m
}

fn assert_values_at_their_offsets(records: &[Record]) {
    for r in records {
        if let Some(v) = &r.value {
            assert_eq!(v, &value(r.offset), "record moved or changed");
        }
    }
}

fn assert_verify_clean(dir: &Path) {
    let report = master_log::verify(dir).unwrap();
    assert!(report.is_clean(), "{:#?}", report.problems);
}

#[test]
fn only_the_latest_record_per_key_survives() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path()).unwrap();
    log.create_topic(TOPIC, config(0)).unwrap();
    let written = append_cycle(&log, 120, 7);
    log.roll(TOPIC).unwrap();
    // Rolls compact by themselves already; the run compacts whatever they left.
    log.run_maintenance().unwrap();

    // Everything is in closed segments: exactly the latest offset of each key is left.
    let mut latest: BTreeMap<Bytes, u64> = BTreeMap::new();
    for (o, k) in &written {
        latest.insert(k.clone(), *o);
    }
    let got = read_all(&log);
    let mut want: Vec<u64> = latest.values().copied().collect();
    want.sort_unstable();
    assert_eq!(got.iter().map(|r| r.offset).collect::<Vec<_>>(), want);
    for r in &got {
        assert_eq!(latest[r.key.as_ref().unwrap()], r.offset);
    }
    assert_values_at_their_offsets(&got);
    // Compaction moves neither end of the log.
    assert_eq!(log.offsets(TOPIC, 0).unwrap(), (0, 120));

    // A second run has nothing left to do.
    let (_, stats) = log.run_maintenance().unwrap();
    assert_eq!(stats.records_before, stats.records_after);
    assert_eq!(read_all(&log), got);

    drop(log);
    assert_verify_clean(dir.path());
}

#[test]
fn active_segment_is_left_alone_but_supersedes_closed_records() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path()).unwrap();
    log.create_topic(TOPIC, config(0)).unwrap();
    append_cycle(&log, 60, 5);
    log.roll(TOPIC).unwrap();
    let closed_end = log.offsets(TOPIC, 0).unwrap().1;
    // key-0 twice more, in the active segment.
    let a = log
        .append(
            TOPIC,
            0,
            &[
                NewRecord::keyed(key(0), value(closed_end), 0),
                NewRecord::keyed(key(0), value(closed_end + 1), 0),
            ],
        )
        .unwrap();
    assert_eq!(a.base_offset, closed_end);
    log.run_maintenance().unwrap();

    let got = read_all(&log);
    let keys = by_key(&got);
    // key-0's closed records are superseded by the active segment's; both active records
    // are still there (the active segment is never compacted).
    assert_eq!(keys[&key(0)], vec![closed_end, closed_end + 1]);
    for k in 1..5 {
        let offs = &keys[&key(k)];
        assert_eq!(offs.len(), 1, "key-{k}: {offs:?}");
        assert!(offs[0] < closed_end);
    }
    assert_values_at_their_offsets(&got);
}

#[test]
fn expired_tombstones_remove_their_key() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path()).unwrap();
    log.create_topic(TOPIC, config(0)).unwrap();
    append_cycle(&log, 30, 6);
    let t = log.offsets(TOPIC, 0).unwrap().1;
    log.append(
        TOPIC,
        0,
        &[
            NewRecord::tombstone(key(1), 0),
            NewRecord::tombstone(key(4), 0),
        ],
    )
    .unwrap();
    log.roll(TOPIC).unwrap();
    // delete_retention_ms is 0: a tombstone is expired as soon as the clock moves on.
    std::thread::sleep(Duration::from_millis(5));
    log.run_maintenance().unwrap();

    let got = read_all(&log);
    let keys = by_key(&got);
    assert!(!keys.contains_key(&key(1)), "{:?}", keys.get(&key(1)));
    assert!(!keys.contains_key(&key(4)), "{:?}", keys.get(&key(4)));
    for k in [0, 2, 3, 5] {
        assert_eq!(keys[&key(k)].len(), 1);
    }
    assert!(
        got.iter().all(|r| r.value.is_some()),
        "no tombstone is left"
    );
    assert!(got.iter().all(|r| r.offset < t));
    assert_values_at_their_offsets(&got);
    assert_eq!(log.offsets(TOPIC, 0).unwrap(), (0, t + 2));
}

#[test]
fn young_tombstones_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path()).unwrap();
    log.create_topic(TOPIC, config(3_600_000)).unwrap();
    append_cycle(&log, 30, 6);
    let t = log.offsets(TOPIC, 0).unwrap().1;
    log.append(TOPIC, 0, &[NewRecord::tombstone(key(1), 0)])
        .unwrap();
    log.roll(TOPIC).unwrap();
    std::thread::sleep(Duration::from_millis(5));
    log.run_maintenance().unwrap();

    let got = read_all(&log);
    let keys = by_key(&got);
    // The tombstone stays (readers must see the delete); the value it deletes is gone.
    assert_eq!(keys[&key(1)], vec![t]);
    let tomb = got.iter().find(|r| r.offset == t).unwrap();
    assert_eq!(tomb.value, None);
    for k in [0, 2, 3, 4, 5] {
        assert_eq!(keys[&key(k)].len(), 1);
    }
    assert_values_at_their_offsets(&got);
}

#[test]
fn keyless_records_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path()).unwrap();
    log.create_topic(TOPIC, config(0)).unwrap();
    append_cycle(&log, 3, 3);
    let batch = [NewRecord::keyed("k", "v", 0), NewRecord::value("no key", 0)];
    match log.append(TOPIC, 0, &batch) {
        Err(LogError::KeyRequired(t)) => assert_eq!(t, TOPIC),
        other => panic!("{other:?}"),
    }
    match log.produce(TOPIC, vec![NewRecord::value("no key", 0)]) {
        Err(LogError::KeyRequired(t)) => assert_eq!(t, TOPIC),
        other => panic!("{other:?}"),
    }
    // Nothing of the refused batch was written, not even its keyed record.
    assert_eq!(log.offsets(TOPIC, 0).unwrap(), (0, 3));
    assert_eq!(read_all(&log).len(), 3);
}

#[test]
fn compaction_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let (got, segments) = {
        let log = EmbeddedLog::open(dir.path()).unwrap();
        log.create_topic(TOPIC, config(0)).unwrap();
        append_cycle(&log, 90, 4);
        log.roll(TOPIC).unwrap();
        log.run_maintenance().unwrap();
        let got = read_all(&log);
        assert_eq!(got.len(), 4);
        (
            got,
            log.describe_topic(TOPIC).unwrap().partitions[0].segments,
        )
    };
    assert_verify_clean(dir.path());
    let log = EmbeddedLog::open(dir.path()).unwrap();
    assert!(
        log.recovery_issues().is_empty(),
        "{:?}",
        log.recovery_issues()
    );
    assert_eq!(read_all(&log), got);
    assert_eq!(log.offsets(TOPIC, 0).unwrap(), (0, 90));
    assert_eq!(
        log.describe_topic(TOPIC).unwrap().partitions[0].segments,
        segments
    );
    // Appends go on at the old log end; the next compaction keeps only the newest.
    let a = log
        .append(TOPIC, 0, &[NewRecord::keyed(key(0), value(90), 0)])
        .unwrap();
    assert_eq!(a.base_offset, 90);
    log.roll(TOPIC).unwrap();
    log.run_maintenance().unwrap();
    let keys = by_key(&read_all(&log));
    assert_eq!(keys[&key(0)], vec![90]);
    assert_eq!(keys.len(), 4);
}

/// A small fetch that starts in a gap compaction left — wider than the fetch's record
/// budget — still finds the next surviving record of the same segment.
#[test]
fn small_fetch_crosses_a_wide_compaction_gap() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path()).unwrap();
    let cfg = TopicConfig {
        index_interval_bytes: 64,
        ..config(0)
    };
    log.create_topic("gap", cfg).unwrap();
    // 200 single-record batches with distinct keys, then 199 of the keys again: after
    // compaction the first segment keeps only key 199 at offset 199.
    for k in 0..200u64 {
        log.append("gap", 0, &[NewRecord::keyed(key(k), value(k), 0)])
            .unwrap();
    }
    log.roll("gap").unwrap();
    for k in 0..199u64 {
        log.append("gap", 0, &[NewRecord::keyed(key(k), value(200 + k), 0)])
            .unwrap();
    }
    log.roll("gap").unwrap();
    log.run_maintenance().unwrap();
    let limits = FetchLimits {
        max_records: 10,
        max_bytes: 1 << 20,
    };
    let got = log.fetch("gap", 0, 0, limits).unwrap();
    assert_eq!(got.first().map(|r| r.offset), Some(199), "{got:?}");
    assert_eq!(got.first().and_then(|r| r.key.clone()), Some(key(199)));
}
