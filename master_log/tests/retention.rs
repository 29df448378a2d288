//! Retention by size and by age: whole closed segments go, oldest first; the active
//! segment stays; the earliest offset moves to the next segment's base; surviving
//! records keep their offsets; fetching below the earliest offset is an error.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::Duration;

use master_log::{EmbeddedLog, FetchLimits, Log, LogError, NewRecord, TopicConfig};

const TOPIC: &str = "ret";

/// The segment files of partition 0: base offset → contents.
fn segments(dir: &Path) -> BTreeMap<u64, Vec<u8>> {
    let pdir = dir.join("topics").join(TOPIC).join("0");
    fs::read_dir(pdir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .map(|p| {
            let base = p.file_stem().unwrap().to_str().unwrap().parse().unwrap();
            (base, fs::read(&p).unwrap())
        })
        .collect()
}

fn index_files(dir: &Path) -> Vec<u64> {
    let pdir = dir.join("topics").join(TOPIC).join("0");
    let mut v: Vec<u64> = fs::read_dir(pdir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e == "index" || e == "timeindex")
        })
        .map(|p| p.file_stem().unwrap().to_str().unwrap().parse().unwrap())
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

fn value_for(offset: u64) -> Vec<u8> {
    let mut v = format!("v{offset:05}:").into_bytes();
    v.resize(120, b'a' + (offset % 26) as u8);
    v
}

/// Append `n` records, one per batch, continuing at the partition's latest offset.
fn append(log: &EmbeddedLog, n: u64) {
    let start = log.offsets(TOPIC, 0).unwrap().1;
    for o in start..start + n {
        let a = log
            .append(TOPIC, 0, &[NewRecord::value(value_for(o), o as i64)])
            .unwrap();
        assert_eq!(a.base_offset, o);
    }
}

/// Every record from `earliest` to `latest` is there, at its original offset, intact.
fn assert_intact(log: &EmbeddedLog, earliest: u64, latest: u64) {
    assert_eq!(log.offsets(TOPIC, 0).unwrap(), (earliest, latest));
    let mut next = earliest;
    while next < latest {
        let got = log.fetch(TOPIC, 0, next, FetchLimits::default()).unwrap();
        assert!(!got.is_empty());
        for r in got {
            assert_eq!(r.offset, next);
            assert_eq!(r.value.as_deref(), Some(value_for(next).as_slice()));
            next += 1;
        }
    }
}

fn assert_out_of_range_below(log: &EmbeddedLog, earliest: u64, latest: u64) {
    for below in [0, earliest - 1] {
        match log.fetch(TOPIC, 0, below, FetchLimits::default()) {
            Err(LogError::OffsetOutOfRange {
                offset,
                earliest: e,
                latest: l,
                ..
            }) => {
                assert_eq!((offset, e, l), (below, earliest, latest));
            }
            other => panic!("fetch below earliest ({below}): {other:?}"),
        }
    }
}

fn config(retention_bytes: Option<u64>, retention_ms: Option<u64>) -> TopicConfig {
    TopicConfig {
        segment_bytes: 1024,
        retention_bytes,
        retention_ms,
        ..TopicConfig::default()
    }
}

#[test]
fn retention_by_bytes_deletes_oldest_whole_segments() {
    let dir = tempfile::tempdir().unwrap();
    let limit = 3000;
    let log = EmbeddedLog::open(dir.path()).unwrap();
    log.create_topic(TOPIC, config(Some(limit), None)).unwrap();
    // A roll applies retention too; record every segment as it was when it was closed.
    let mut seen: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    for _ in 0..40 {
        append(&log, 1);
        for (base, bytes) in segments(dir.path()) {
            seen.insert(base, bytes);
        }
    }
    let latest = 40;
    log.run_maintenance().unwrap();

    let now = segments(dir.path());
    let bases: Vec<u64> = now.keys().copied().collect();
    let all: Vec<u64> = seen.keys().copied().collect();
    assert!(all.len() >= 8, "{} segments were written", all.len());
    // What is left is the newest segments, each exactly as written: whole segments went.
    assert!(bases.len() < all.len());
    assert_eq!(bases[..], all[all.len() - bases.len()..]);
    for (base, bytes) in &now {
        if Some(base) != bases.last() {
            assert_eq!(bytes, &seen[base], "closed segment {base} changed");
        }
    }
    // The indexes of deleted segments went with them (the active segment writes its
    // indexes only when it is closed).
    assert_eq!(index_files(dir.path()), bases[..bases.len() - 1]);
    // As much was deleted as the limit allows, and no more.
    let total: u64 = now.values().map(|b| b.len() as u64).sum();
    let oldest = now.values().next().unwrap().len() as u64;
    assert!(total >= limit, "deleted too much: {total} bytes left");
    assert!(total - oldest < limit, "kept too much: {total} bytes");
    let d = log.describe_topic(TOPIC).unwrap().partitions[0];
    assert_eq!((d.earliest, d.latest, d.bytes), (bases[0], latest, total));

    let earliest = bases[0];
    assert!(earliest > 0);
    assert_intact(&log, earliest, latest);
    assert_out_of_range_below(&log, earliest, latest);

    // The earliest offset survives a reopening.
    drop(log);
    let log = EmbeddedLog::open(dir.path()).unwrap();
    assert_intact(&log, earliest, latest);
    assert_out_of_range_below(&log, earliest, latest);
}

#[test]
fn retention_never_deletes_the_active_segment() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path()).unwrap();
    // Any size is too much and any age too old: only the active segment may stay.
    log.create_topic(TOPIC, config(Some(1), Some(1))).unwrap();
    append(&log, 30);
    std::thread::sleep(Duration::from_millis(20));
    log.run_maintenance().unwrap();
    let now = segments(dir.path());
    assert_eq!(now.len(), 1, "only the active segment is left");
    let (&base, bytes) = now.iter().next().unwrap();
    assert!(
        !bytes.is_empty(),
        "the active segment still holds its records"
    );
    assert!(base > 0 && base < 30);
    assert_intact(&log, base, 30);
    assert_out_of_range_below(&log, base, 30);

    // Once rolled, it is a closed segment like any other and goes at the next run.
    log.roll(TOPIC).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    log.run_maintenance().unwrap();
    assert_eq!(
        segments(dir.path()).keys().copied().collect::<Vec<_>>(),
        [30]
    );
    assert_eq!(log.offsets(TOPIC, 0).unwrap(), (30, 30));
    assert!(
        log.fetch(TOPIC, 0, 30, FetchLimits::default())
            .unwrap()
            .is_empty()
    );
    assert_out_of_range_below(&log, 30, 30);
    // New records still get the next offsets.
    append(&log, 2);
    assert_intact(&log, 30, 32);
}

#[test]
fn retention_by_time_deletes_only_old_closed_segments() {
    let retention = Duration::from_millis(1500);
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path()).unwrap();
    log.create_topic(TOPIC, config(None, Some(retention.as_millis() as u64)))
        .unwrap();
    // Two old closed segments.
    append(&log, 5);
    log.roll(TOPIC).unwrap();
    append(&log, 5);
    log.roll(TOPIC).unwrap();
    // Records in the active segment get old too, but the active segment stays.
    append(&log, 3);
    std::thread::sleep(retention + Duration::from_millis(100));
    let before = segments(dir.path());
    assert_eq!(before.keys().copied().collect::<Vec<_>>(), [0, 5, 10]);

    let (stats, _) = log.run_maintenance().unwrap();
    assert_eq!(stats.segments_deleted, 2);
    assert_eq!(
        stats.bytes_deleted,
        (before[&0].len() + before[&5].len()) as u64
    );
    let after = segments(dir.path());
    assert_eq!(after.keys().copied().collect::<Vec<_>>(), [10]);
    assert_intact(&log, 10, 13);
    assert_out_of_range_below(&log, 10, 13);

    // A young closed segment stays while an old one before it goes. The young one was
    // written right before the check; only a stall of the whole retention time (1.5 s)
    // between the two could make this test fail.
    log.roll(TOPIC).unwrap(); // closes [10, 13), old by now: deleted by this very roll
    append(&log, 4);
    log.roll(TOPIC).unwrap(); // closes [13, 17), young
    log.run_maintenance().unwrap();
    assert_eq!(
        segments(dir.path()).keys().copied().collect::<Vec<_>>(),
        [13, 17]
    );
    assert_intact(&log, 13, 17);
    assert_out_of_range_below(&log, 13, 17);
}
