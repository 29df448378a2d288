//! Reading: fetch limits, lookup by append time, waking readers when data arrives, and
//! the typed errors of bad input (names, topics, partitions, offsets, sizes, a data
//! directory already in use).

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use master_log::{
    Bytes, Consumer, EmbeddedLog, FetchLimits, Header, Log, LogError, NewRecord, Record, StartFrom,
    TopicConfig,
};

const TOPIC: &str = "events";

fn setup(config: TopicConfig) -> (tempfile::TempDir, EmbeddedLog) {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path()).unwrap();
    log.create_topic(TOPIC, config).unwrap();
    (dir, log)
}

fn batch(start: u64, n: u64) -> Vec<NewRecord> {
    (start..start + n)
        .map(|o| NewRecord::value(format!("record {o:<60}"), o as i64))
        .collect()
}

fn offsets(records: &[master_log::Record]) -> Vec<u64> {
    records.iter().map(|r| r.offset).collect()
}

fn limits(max_records: usize, max_bytes: usize) -> FetchLimits {
    FetchLimits {
        max_records,
        max_bytes,
    }
}

#[test]
fn fetch_respects_record_and_byte_limits() {
    let (_dir, log) = setup(TopicConfig::default());
    // Three batches of ten records: [0, 10), [10, 20), [20, 30).
    for b in 0..3 {
        log.append(TOPIC, 0, &batch(b * 10, 10)).unwrap();
    }
    let big = 1 << 20;
    assert_eq!(
        offsets(&log.fetch(TOPIC, 0, 0, limits(5, big)).unwrap()),
        (0..5).collect::<Vec<_>>()
    );
    assert_eq!(
        offsets(&log.fetch(TOPIC, 0, 3, limits(15, big)).unwrap()),
        (3..18).collect::<Vec<_>>()
    );
    assert_eq!(log.fetch(TOPIC, 0, 0, limits(1000, big)).unwrap().len(), 30);
    assert!(log.fetch(TOPIC, 0, 0, limits(0, big)).unwrap().is_empty());

    // The byte limit is soft: at least one batch, and whole batches after that.
    for max_bytes in [0, 1, 100] {
        assert_eq!(
            offsets(&log.fetch(TOPIC, 0, 0, limits(1000, max_bytes)).unwrap()),
            (0..10).collect::<Vec<_>>(),
            "max_bytes {max_bytes}"
        );
        // From the middle of a batch: the rest of that batch.
        assert_eq!(
            offsets(&log.fetch(TOPIC, 0, 14, limits(1000, max_bytes)).unwrap()),
            (14..20).collect::<Vec<_>>(),
            "max_bytes {max_bytes}"
        );
    }
    let one_batch = log.describe_topic(TOPIC).unwrap().partitions[0].bytes as usize / 3;
    assert_eq!(
        log.fetch(TOPIC, 0, 0, limits(1000, one_batch))
            .unwrap()
            .len(),
        10
    );
    assert_eq!(
        log.fetch(TOPIC, 0, 0, limits(1000, one_batch + 1))
            .unwrap()
            .len(),
        20
    );
    // Both limits at once: the tighter one wins.
    assert_eq!(
        offsets(&log.fetch(TOPIC, 0, 2, limits(3, 1)).unwrap()),
        [2, 3, 4]
    );
}

#[test]
fn fetch_limits_hold_across_segments() {
    let (_dir, log) = setup(TopicConfig {
        segment_bytes: 1024,
        ..TopicConfig::default()
    });
    for b in 0..20 {
        log.append(TOPIC, 0, &batch(b * 4, 4)).unwrap();
    }
    assert!(log.describe_topic(TOPIC).unwrap().partitions[0].segments > 3);
    for from in 0..80 {
        let got = log.fetch(TOPIC, 0, from, limits(9, 1 << 20)).unwrap();
        let want: Vec<u64> = (from..(from + 9).min(80)).collect();
        assert_eq!(offsets(&got), want, "from {from}");
        // One batch at most when bytes are tight: up to the end of the batch of `from`.
        let got = log.fetch(TOPIC, 0, from, limits(100, 1)).unwrap();
        let want: Vec<u64> = (from..(from / 4 + 1) * 4).collect();
        assert_eq!(offsets(&got), want, "from {from}");
    }
}

/// A fetch from the middle of a segment with a byte limit: the bytes of the batches
/// before `from` (read from the index entry before it) must not make the fetch take
/// itself for done with this segment and go on in the next one, skipping the rest.
#[test]
fn a_byte_limited_fetch_from_mid_segment_never_skips_records() {
    let (_dir, log) = setup(TopicConfig {
        segment_bytes: 64 * 1024,
        ..TopicConfig::default()
    });
    // One record per batch, so that an index entry (every 4 KiB) covers several batches.
    for o in 0..240u64 {
        log.append(TOPIC, 0, &[NewRecord::value(vec![b'x'; 1000], o as i64)])
            .unwrap();
    }
    assert!(log.describe_topic(TOPIC).unwrap().partitions[0].segments > 2);
    for from in 0..240 {
        let got = log.fetch(TOPIC, 0, from, limits(10_000, 20_000)).unwrap();
        let n = got.len() as u64;
        assert!(n > 0);
        assert_eq!(
            offsets(&got),
            (from..from + n).collect::<Vec<_>>(),
            "from {from}"
        );
        let mut shown = Vec::new();
        log.fetch_each(TOPIC, 0, from, limits(10_000, 20_000), &mut |v| {
            shown.push(v.offset);
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(shown, offsets(&got), "from {from}");
    }
}

/// Everything `fetch_each` shows from `from`, as owned records, stopping after `stop_after`.
/// Fetches reuse their read buffers once the records of an earlier fetch are dropped:
/// records still held keep their bytes whatever the fetches after them read, and every
/// fetch returns what was appended.
#[test]
fn records_held_keep_their_bytes_while_later_fetches_reuse_buffers() {
    let (_dir, log) = setup(TopicConfig::with_partitions(1));
    for i in 0..40 {
        log.append(TOPIC, 0, &batch(i * 500, 500)).unwrap();
    }
    let want = |r: &Record| format!("record {:<60}", r.offset);
    let check = |records: &[Record]| {
        for r in records {
            assert_eq!(r.value.as_deref(), Some(want(r).as_bytes()), "{}", r.offset);
        }
    };
    let fetch = |from: u64| log.fetch(TOPIC, 0, from, limits(5_000, 1 << 20)).unwrap();
    let held = fetch(0);
    assert_eq!(held.len(), 5_000);
    let mut kept_one = Vec::new();
    for round in 0..3 {
        let mut from = 0;
        while from < 20_000 {
            let records = fetch(from);
            check(&records);
            from = records.last().unwrap().offset + 1;
            if round == 1 && from > 10_000 && kept_one.is_empty() {
                kept_one = records;
            }
        }
        check(&held);
        check(&kept_one);
    }
}

fn shown(log: &EmbeddedLog, from: u64, limits: FetchLimits, stop_after: usize) -> Vec<Record> {
    let mut out = Vec::new();
    let n = log
        .fetch_each(TOPIC, 0, from, limits, &mut |v| {
            out.push(v.to_record());
            if out.len() == stop_after {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
    assert_eq!(n, out.len());
    out
}

#[test]
fn fetch_each_shows_exactly_what_fetch_returns() {
    let (_dir, log) = setup(TopicConfig {
        segment_bytes: 1024,
        ..TopicConfig::default()
    });
    // Keys, no keys, tombstones, empty values and headers, over several segments.
    let mut next = 0u64;
    for b in 0..40u64 {
        let records: Vec<NewRecord> = (0..5u64)
            .map(|i| {
                let o = next + i;
                let mut r = match o % 4 {
                    0 => NewRecord::value(format!("value {o}"), o as i64 * 7 - 50),
                    1 => NewRecord::keyed(format!("k{o}"), Vec::new(), o as i64),
                    2 => NewRecord::tombstone(format!("k{o}"), -(o as i64)),
                    _ => NewRecord::keyed(format!("k{o}"), format!("v{o:<40}"), o as i64),
                };
                if o.is_multiple_of(3) {
                    r.headers = vec![
                        Header {
                            key: format!("h{o}"),
                            value: Bytes::from(vec![o as u8; (o % 5) as usize]),
                        },
                        Header {
                            key: String::new(),
                            value: Bytes::new(),
                        },
                    ];
                }
                r
            })
            .collect();
        log.append(TOPIC, 0, &records).unwrap();
        next += 5;
        assert_eq!(log.offsets(TOPIC, 0).unwrap().1, 5 * (b + 1));
    }
    assert!(log.describe_topic(TOPIC).unwrap().partitions[0].segments > 3);
    for from in 0..=next {
        for lim in [
            limits(1, 1 << 20),
            limits(7, 1 << 20),
            limits(1000, 1),
            limits(1000, 1 << 20),
        ] {
            let want = log.fetch(TOPIC, 0, from, lim).unwrap();
            assert_eq!(
                shown(&log, from, lim, usize::MAX),
                want,
                "from {from}, {lim:?}"
            );
            // Breaking stops it where asked.
            let first3: Vec<Record> = want.iter().take(3).cloned().collect();
            assert_eq!(shown(&log, from, lim, 3), first3, "from {from}, {lim:?}");
        }
    }
    // The headers read in place are the ones appended.
    let r = log.fetch(TOPIC, 0, 3, limits(1, 1 << 20)).unwrap();
    assert_eq!(r[0].headers.len(), 2);
    assert_eq!(r[0].headers[0].key, "h3");
    // Out-of-range offsets are the same error, and nothing is shown.
    let mut called = false;
    let r = log.fetch_each(TOPIC, 0, next + 1, FetchLimits::default(), &mut |_| {
        called = true;
        ControlFlow::Continue(())
    });
    assert!(matches!(r, Err(LogError::OffsetOutOfRange { .. })), "{r:?}");
    assert!(!called);
}

#[test]
fn offset_for_time_finds_the_first_record_appended_at_or_after() {
    let (dir, log) = setup(TopicConfig {
        segment_bytes: 1024,
        index_interval_bytes: 128,
        ..TopicConfig::default()
    });
    // (append time, first offset) of each batch, appended at different times.
    let mut batches: Vec<(i64, u64)> = Vec::new();
    for b in 0..12 {
        let a = log.append(TOPIC, 0, &batch(b * 5, 5)).unwrap();
        batches.push((a.append_time, a.base_offset));
        std::thread::sleep(Duration::from_millis(3 + b % 3 * 5));
    }
    let distinct: std::collections::BTreeSet<i64> = batches.iter().map(|b| b.0).collect();
    assert!(distinct.len() >= 6, "append times {distinct:?}");
    assert!(log.describe_topic(TOPIC).unwrap().partitions[0].segments > 2);
    let first = batches[0].0;
    let last = batches.last().unwrap().0;
    // The answer the definition gives: the first offset whose append time is >= t.
    let expected = |t: i64| batches.iter().find(|b| b.0 >= t).map(|b| b.1);
    let check = |log: &EmbeddedLog| {
        for t in (first - 5)..=(last + 5) {
            assert_eq!(
                log.offset_for_time(TOPIC, 0, t).unwrap(),
                expected(t),
                "time {t}"
            );
        }
        assert_eq!(log.offset_for_time(TOPIC, 0, i64::MIN).unwrap(), Some(0));
        assert_eq!(log.offset_for_time(TOPIC, 0, i64::MAX).unwrap(), None);
    };
    check(&log);
    // The same from the index files of closed segments, after reopening.
    drop(log);
    let log = EmbeddedLog::open(dir.path()).unwrap();
    check(&log);
    // A consumer starting from a time starts there.
    let c = Consumer::assign(
        Arc::new(log.clone()),
        TOPIC,
        None,
        StartFrom::Time(batches[7].0),
    )
    .unwrap();
    assert_eq!(c.positions()[&0], expected(batches[7].0).unwrap());
}

/// A generous bound for "woke up promptly" (the waits below time out after a minute).
const PROMPT: Duration = Duration::from_secs(20);

#[test]
fn wait_for_wakes_when_another_thread_appends() {
    let (_dir, log) = setup(TopicConfig::with_partitions(2));
    // Nothing there: it waits the whole timeout and says no.
    let started = Instant::now();
    assert!(
        !log.wait_for(TOPIC, 0, 0, Duration::from_millis(50))
            .unwrap()
    );
    assert!(started.elapsed() >= Duration::from_millis(50));

    let started = Instant::now();
    let writer = {
        let log = log.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            // An append to another partition does not satisfy the waiter...
            log.append(TOPIC, 1, &batch(0, 1)).unwrap();
            std::thread::sleep(Duration::from_millis(100));
            // ...this one does.
            log.append(TOPIC, 0, &batch(0, 1)).unwrap();
        })
    };
    assert!(log.wait_for(TOPIC, 0, 0, Duration::from_secs(60)).unwrap());
    let waited = started.elapsed();
    assert!(waited < PROMPT, "woke after {waited:?}");
    // Not before the append to partition 0, which comes 200 ms after `started`.
    assert!(waited >= Duration::from_millis(200), "woke too early");
    writer.join().unwrap();
    assert_eq!(log.offsets(TOPIC, 0).unwrap(), (0, 1));
    // Data already there: no wait at all.
    assert!(log.wait_for(TOPIC, 0, 0, Duration::from_secs(60)).unwrap());

    // Through the trait object too.
    let shared: Arc<dyn Log> = Arc::new(log.clone());
    let writer = {
        let log = log.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            log.append(TOPIC, 0, &batch(1, 1)).unwrap();
        })
    };
    let started = Instant::now();
    assert!(
        shared
            .wait_for(TOPIC, 0, 1, Duration::from_secs(60))
            .unwrap()
    );
    assert!(started.elapsed() < PROMPT);
    writer.join().unwrap();
}

#[test]
fn consumer_poll_wakes_when_another_thread_appends() {
    let (_dir, log) = setup(TopicConfig::with_partitions(3));
    log.append(TOPIC, 1, &batch(0, 3)).unwrap();
    let mut c = Consumer::assign(Arc::new(log.clone()), TOPIC, None, StartFrom::Latest).unwrap();
    assert!(c.poll(Duration::from_millis(30)).unwrap().is_empty());

    let writer = {
        let log = log.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            log.append(TOPIC, 2, &batch(0, 2)).unwrap();
        })
    };
    let started = Instant::now();
    let got = c.poll(Duration::from_secs(60)).unwrap();
    assert!(
        started.elapsed() < PROMPT,
        "woke after {:?}",
        started.elapsed()
    );
    writer.join().unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].partition, 2);
    assert_eq!(offsets(&got[0].records), [0, 1]);
    assert_eq!(c.positions()[&2], 2);
    assert!(c.caught_up().unwrap());
}

fn assert_invalid_name<T: std::fmt::Debug>(r: Result<T, LogError>, name: &str) {
    match r {
        Err(LogError::InvalidName { name: n, .. }) => assert_eq!(n, name),
        other => panic!("{name:?}: {other:?}"),
    }
}

#[test]
fn bad_names_are_refused() {
    let (dir, log) = setup(TopicConfig::default());
    let long = "x".repeat(250);
    for name in ["", ".", "..", "a/b", "../escape", "a b", long.as_str()] {
        assert_invalid_name(log.create_topic(name, TopicConfig::default()), name);
    }
    // Reserved for the log's own topics.
    assert_invalid_name(log.create_topic("__x", TopicConfig::default()), "__x");
    assert_invalid_name(
        log.delete_topic(master_log::OFFSETS_TOPIC),
        master_log::OFFSETS_TOPIC,
    );
    // Nothing was created, inside the data directory or outside it.
    let names: Vec<String> = log
        .list_topics()
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, [master_log::OFFSETS_TOPIC, TOPIC]);
    assert!(!dir.path().join("escape").exists());
    // The longest legal name works.
    log.create_topic(&"x".repeat(249), TopicConfig::default())
        .unwrap();
    // Group names follow the same rules.
    assert_invalid_name(log.commit_offsets("a/b", TOPIC, &[(0, 0)]), "a/b");
    assert_invalid_name(log.committed_offsets("", TOPIC), "");
    assert!(matches!(
        log.create_topic(TOPIC, TopicConfig::default()),
        Err(LogError::TopicExists(t)) if t == TOPIC
    ));
    assert!(matches!(
        log.create_topic("zero", TopicConfig::with_partitions(0)),
        Err(LogError::InvalidConfig(_))
    ));
}

#[test]
fn unknown_topics_and_partitions_are_errors() {
    let (_dir, log) = setup(TopicConfig::with_partitions(2));
    let unknown = |r: Result<(), LogError>| match r {
        Err(LogError::UnknownTopic(t)) => assert_eq!(t, "nope"),
        other => panic!("{other:?}"),
    };
    unknown(log.fetch("nope", 0, 0, FetchLimits::default()).map(drop));
    unknown(log.append("nope", 0, &batch(0, 1)).map(drop));
    unknown(log.offsets("nope", 0).map(drop));
    unknown(log.describe_topic("nope").map(drop));
    unknown(log.listen("nope").map(drop));
    unknown(log.delete_topic("nope"));
    unknown(log.produce("nope", batch(0, 1)).map(drop));

    let bad_partition = |r: Result<(), LogError>| match r {
        Err(LogError::UnknownPartition {
            topic,
            partition,
            partitions,
        }) => assert_eq!((topic.as_str(), partition, partitions), (TOPIC, 2, 2)),
        other => panic!("{other:?}"),
    };
    bad_partition(log.fetch(TOPIC, 2, 0, FetchLimits::default()).map(drop));
    bad_partition(log.append(TOPIC, 2, &batch(0, 1)).map(drop));
    bad_partition(log.offsets(TOPIC, 2).map(drop));
    bad_partition(log.offset_for_time(TOPIC, 2, 0).map(drop));
    bad_partition(
        log.wait_for(TOPIC, 2, 0, Duration::from_millis(1))
            .map(drop),
    );
    bad_partition(log.commit_offsets("g", TOPIC, &[(2, 0)]));
    bad_partition(
        Consumer::assign(
            Arc::new(log.clone()),
            TOPIC,
            Some(vec![2]),
            StartFrom::Earliest,
        )
        .map(drop),
    );
}

#[test]
fn offsets_beyond_the_end_are_out_of_range() {
    let (_dir, log) = setup(TopicConfig::default());
    log.append(TOPIC, 0, &batch(0, 5)).unwrap();
    // The end itself is fine: nothing yet.
    assert!(
        log.fetch(TOPIC, 0, 5, FetchLimits::default())
            .unwrap()
            .is_empty()
    );
    for offset in [6, 100, u64::MAX] {
        match log.fetch(TOPIC, 0, offset, FetchLimits::default()) {
            Err(LogError::OffsetOutOfRange {
                topic,
                partition,
                offset: o,
                earliest,
                latest,
            }) => {
                assert_eq!((topic.as_str(), partition), (TOPIC, 0));
                assert_eq!((o, earliest, latest), (offset, 0, 5));
            }
            other => panic!("{offset}: {other:?}"),
        }
    }
}

#[test]
fn oversize_records_are_refused_and_nothing_is_written() {
    let max = 1024;
    let (dir, log) = setup(TopicConfig {
        max_record_bytes: max,
        ..TopicConfig::default()
    });
    log.append(TOPIC, 0, &batch(0, 2)).unwrap();
    let before = log.describe_topic(TOPIC).unwrap().partitions[0];
    let seg = dir.path().join("topics").join(TOPIC).join("0");
    let files_before: Vec<(std::path::PathBuf, u64)> = list_files(&seg);

    let fits = NewRecord::value(vec![1u8; 900], 0);
    assert!(fits.encoded_len() as u64 <= max);
    let huge = NewRecord::value(vec![7u8; max as usize], 0);
    assert!(huge.encoded_len() as u64 > max);
    // One oversize record spoils the whole append, even the records before it.
    match log.append(TOPIC, 0, &[fits.clone(), huge.clone()]) {
        Err(LogError::RecordTooLarge { size, max: m }) => {
            assert_eq!(size, huge.encoded_len());
            assert_eq!(m as u64, max);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        log.produce(TOPIC, vec![huge]),
        Err(LogError::RecordTooLarge { .. })
    ));
    assert_eq!(log.describe_topic(TOPIC).unwrap().partitions[0], before);
    assert_eq!(list_files(&seg), files_before);
    assert_eq!(
        log.fetch(TOPIC, 0, 0, FetchLimits::default())
            .unwrap()
            .len(),
        2
    );
    // A record that fits still goes in, at the next offset.
    assert_eq!(log.append(TOPIC, 0, &[fits]).unwrap().base_offset, 2);
}

fn list_files(dir: &std::path::Path) -> Vec<(std::path::PathBuf, u64)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.path(), e.metadata().unwrap().len())
        })
        .collect();
    v.sort();
    v
}

#[test]
fn a_data_directory_opens_in_several_logs_at_once_each_seeing_the_others_writes() {
    let dir = tempfile::tempdir().unwrap();
    let first = EmbeddedLog::open(dir.path()).unwrap();
    first.create_topic(TOPIC, TopicConfig::default()).unwrap();
    // flock locks belong to an open file description: a second open in this very process
    // shares the directory as another process would.
    let second = EmbeddedLog::open(dir.path()).unwrap();
    first.append(TOPIC, 0, &batch(0, 3)).unwrap();
    // The second log follows the first one's appends, and appends after them.
    assert_eq!(second.offsets(TOPIC, 0).unwrap(), (0, 3));
    assert_eq!(
        second.append(TOPIC, 0, &batch(3, 2)).unwrap().base_offset,
        3
    );
    assert_eq!(
        first
            .fetch(TOPIC, 0, 3, FetchLimits::default())
            .unwrap()
            .len(),
        2
    );
    // A topic one log creates is known to the other.
    second
        .create_topic("other", TopicConfig::default())
        .unwrap();
    assert!(
        first
            .list_topics()
            .unwrap()
            .iter()
            .any(|t| t.name == "other")
    );
    assert!(matches!(
        first.create_topic("other", TopicConfig::default()),
        Err(LogError::TopicExists(_))
    ));
    // verify checks the log while it is open (each partition under its writer lock).
    assert!(master_log::verify(dir.path()).unwrap().is_clean());
    drop(first);
    drop(second);
    let again = EmbeddedLog::open(dir.path()).unwrap();
    assert_eq!(again.offsets(TOPIC, 0).unwrap(), (0, 5));
}

#[test]
fn a_data_directory_held_whole_by_an_older_version_is_refused_naming_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    drop(EmbeddedLog::open(dir.path()).unwrap());
    // An older version takes the lock file exclusively.
    let lock = std::fs::File::options()
        .read(true)
        .write(true)
        .open(dir.path().join(".lock"))
        .unwrap();
    lock.lock().unwrap();
    match EmbeddedLog::open(dir.path()) {
        Err(LogError::Locked { path, holder }) => {
            assert_eq!(path, dir.path());
            let pid = std::process::id().to_string();
            assert!(holder.contains(&pid), "{holder}");
        }
        other => panic!("open: {other:?}"),
    }
    assert!(matches!(
        master_log::verify(dir.path()),
        Err(LogError::Locked { .. })
    ));
    drop(lock);
    EmbeddedLog::open(dir.path()).unwrap();
}
