//! `KafkaLog` on librdkafka's built-in mock cluster (feature `kafka`): the exact code
//! path (`tansu_compat` off) that a real Kafka cluster takes, without a broker.
//!
//! The mock answers ListOffsets exactly, serves fetches from inside a batch and holds
//! waiting fetches, as Kafka does; it has no CreateTopics and no DescribeConfigs
//! (topics are made through the mock, configurations read as defaults), no lookup by
//! timestamp, and answers every produce with the same LogAppendTime (1234).
#![cfg(feature = "kafka")]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use master_log::{FetchLimits, KafkaLog, KafkaOptions, Listener, Log, LogError, NewRecord, now_ms};
use rdkafka::mocking::MockCluster;

fn log_on(mock: &MockCluster<'_, rdkafka::producer::DefaultProducerContext>) -> KafkaLog {
    let options = KafkaOptions {
        // The mock has no DescribeConfigs: reading a topic's configuration waits this
        // long, then falls back to the defaults.
        request_timeout: Duration::from_secs(1),
        ..KafkaOptions::default()
    };
    KafkaLog::connect(&format!("kafka://{}", mock.bootstrap_servers()), options).unwrap()
}

#[test]
fn exact_offsets_mid_batch_fetches_and_times() {
    let mock = MockCluster::new(1).unwrap();
    mock.create_topic("events", 2, 1).unwrap();
    let log = log_on(&mock);
    assert_eq!(log.partition_count("events").unwrap(), 2);

    let first: Vec<NewRecord> = (0..5)
        .map(|i| NewRecord::keyed(format!("k{i}"), format!("v{i}"), 100 + i))
        .collect();
    let a = log.append("events", 1, &first).unwrap();
    assert_eq!((a.base_offset, a.last_offset), (0, 4));
    std::thread::sleep(Duration::from_millis(20));
    let b = log
        .append("events", 1, &[NewRecord::value("late", 7)])
        .unwrap();
    assert_eq!(b.base_offset, 5);
    // The mock's produce answer carries a fixed LogAppendTime (1234): the delivery
    // report's broker time is what `append` returns.
    assert_eq!((a.append_time, b.append_time), (1234, 1234));

    // ListOffsets is exact here: no confirmation read needed.
    assert_eq!(log.offsets("events", 1).unwrap(), (0, 6));
    assert_eq!(log.end_offsets("events").unwrap(), vec![0, 6]);
    let d = log.describe_topic("events").unwrap();
    assert_eq!(
        d.partitions.iter().map(|p| p.latest).collect::<Vec<_>>(),
        vec![0, 6]
    );

    // A fetch from inside the first batch starts exactly there.
    let got = log.fetch("events", 1, 2, FetchLimits::default()).unwrap();
    assert_eq!(
        got.iter().map(|r| r.offset).collect::<Vec<_>>(),
        vec![2, 3, 4, 5]
    );
    assert_eq!(got[0].event_time, 102);
    assert_eq!(got[0].key.as_deref(), Some(&b"k2"[..]));
    assert_eq!(got[3].event_time, 7);
    // Sequential reads reuse the reader; the end is empty at once.
    let two = log
        .fetch(
            "events",
            1,
            0,
            FetchLimits {
                max_records: 2,
                ..FetchLimits::default()
            },
        )
        .unwrap();
    assert_eq!(two.iter().map(|r| r.offset).collect::<Vec<_>>(), vec![0, 1]);
    let t = Instant::now();
    let rest = log.fetch("events", 1, 2, FetchLimits::default()).unwrap();
    assert_eq!(rest.len(), 4);
    assert!(
        t.elapsed() < Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );
    let t = Instant::now();
    assert!(
        log.fetch("events", 1, 6, FetchLimits::default())
            .unwrap()
            .is_empty()
    );
    assert!(t.elapsed() < Duration::from_millis(500));
    assert!(matches!(
        log.fetch("events", 1, 7, FetchLimits::default()),
        Err(LogError::OffsetOutOfRange { latest: 6, .. })
    ));

    // The mock has no lookup by timestamp (it answers "none" for every time).

    assert_eq!(
        log.offset_for_time("events", 1, now_ms() + 60_000).unwrap(),
        None
    );
}

#[test]
fn listen_commits_and_a_group() {
    let mock = MockCluster::new(1).unwrap();
    mock.create_topic("clicks", 4, 1).unwrap();
    let log = log_on(&mock);
    let other = log_on(&mock);

    other
        .append("clicks", 0, &[NewRecord::value("warm-up", 0)])
        .unwrap();
    let l = log.listen("clicks").unwrap();
    let sent = Instant::now();
    other
        .append("clicks", 3, &[NewRecord::value("x", 1)])
        .unwrap();
    assert!(l.wait_timeout(Duration::from_secs(5)).is_some());
    let woke = sent.elapsed();
    eprintln!("mock: listener woken {woke:?} after the other producer's send");
    assert!(woke < Duration::from_millis(500), "{woke:?}");

    log.commit_offsets("g", "clicks", &[(3, 1)]).unwrap();
    assert_eq!(
        log.committed_offsets("g", "clicks").unwrap(),
        BTreeMap::from([(3, 1)])
    );

    let m = log
        .join_group(
            "members",
            &["clicks"],
            master_log::AssignmentStrategy::Range,
        )
        .unwrap();
    let a = m.assignment();
    assert_eq!(a.partitions.len(), 4);
    m.commit(&[(a.partitions[3].clone(), 1)]).unwrap();
    assert_eq!(
        log.committed_offsets("members", "clicks").unwrap().get(&3),
        Some(&1)
    );
}
