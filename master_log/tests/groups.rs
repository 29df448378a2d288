//! Consumer groups of the embedded log: one owner per partition in every generation,
//! rebalancing on join and leave, fencing of stale members, durable committed offsets,
//! publish–subscribe across groups and queueing within one.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use master_log::{
    AssignmentStrategy, Consumer, EmbeddedLog, GroupMembership, Log, LogError, NewRecord,
    StartFrom, TopicConfig, TopicPartition,
};

const TOPIC: &str = "orders";
const PARTITIONS: u32 = 6;
const STRATEGIES: [AssignmentStrategy; 2] =
    [AssignmentStrategy::Range, AssignmentStrategy::RoundRobin];

fn setup() -> (tempfile::TempDir, EmbeddedLog) {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path()).unwrap();
    log.create_topic(TOPIC, TopicConfig::with_partitions(PARTITIONS))
        .unwrap();
    (dir, log)
}

/// Check one generation: every member sees the same generation, each of the 6 partitions
/// has exactly one owner, and the load is balanced. Returns the generation.
fn check_generation(members: &[Box<dyn GroupMembership>]) -> u64 {
    let assignments: Vec<_> = members.iter().map(|m| m.assignment()).collect();
    let generation = assignments[0].generation;
    let mut owners: BTreeMap<TopicPartition, Vec<&str>> = BTreeMap::new();
    for (m, a) in members.iter().zip(&assignments) {
        assert_eq!(
            a.generation, generation,
            "members disagree on the generation"
        );
        for tp in &a.partitions {
            owners.entry(tp.clone()).or_default().push(m.member_id());
        }
    }
    let want: BTreeSet<TopicPartition> = (0..PARTITIONS)
        .map(|p| TopicPartition::new(TOPIC, p))
        .collect();
    assert_eq!(
        owners.keys().cloned().collect::<BTreeSet<_>>(),
        want,
        "every partition is owned"
    );
    for (tp, who) in &owners {
        assert_eq!(who.len(), 1, "{tp} is owned by {who:?}");
    }
    let n = members.len() as u32;
    for a in &assignments {
        let k = a.partitions.len() as u32;
        assert!(
            k == PARTITIONS / n || k == PARTITIONS.div_ceil(n),
            "{k} partitions for one of {n} members"
        );
    }
    generation
}

#[test]
fn every_generation_has_one_owner_per_partition() {
    for strategy in STRATEGIES {
        let (_dir, log) = setup();
        let mut members: Vec<Box<dyn GroupMembership>> = Vec::new();
        let mut last_gen = 0;
        // Members join one by one...
        for _ in 0..4 {
            let before: Vec<Vec<TopicPartition>> =
                members.iter().map(|m| m.assignment().partitions).collect();
            members.push(log.join_group("g", &[TOPIC], strategy).unwrap());
            let generation = check_generation(&members);
            assert!(
                generation > last_gen,
                "{strategy:?}: a join starts a generation"
            );
            last_gen = generation;
            // ...and the old members give partitions up to the new one.
            let new = members.last().unwrap().assignment().partitions;
            assert!(!new.is_empty());
            for (m, old) in members.iter().zip(&before) {
                assert!(m.assignment().partitions.len() <= old.len());
            }
        }
        let ids: BTreeSet<&str> = members.iter().map(|m| m.member_id()).collect();
        assert_eq!(ids.len(), 4, "member ids are unique");
        // ...and leave (by being dropped) one by one, from the middle.
        while members.len() > 1 {
            let gone = members.remove(1);
            let gone_parts = gone.assignment().partitions;
            drop(gone);
            let generation = check_generation(&members);
            assert!(
                generation > last_gen,
                "{strategy:?}: a leave starts a generation"
            );
            last_gen = generation;
            // The partitions of the member that left went to the others.
            let now_owned: BTreeSet<TopicPartition> = members
                .iter()
                .flat_map(|m| m.assignment().partitions)
                .collect();
            assert!(gone_parts.iter().all(|tp| now_owned.contains(tp)));
        }
        assert_eq!(members[0].assignment().partitions.len(), 6);
    }
}

#[test]
fn range_and_round_robin_assign_as_kafka_does() {
    let (_dir, log) = setup();
    let a = log
        .join_group("r", &[TOPIC], AssignmentStrategy::Range)
        .unwrap();
    let b = log
        .join_group("r", &[TOPIC], AssignmentStrategy::Range)
        .unwrap();
    let c = log
        .join_group("r", &[TOPIC], AssignmentStrategy::Range)
        .unwrap();
    let d = log
        .join_group("r", &[TOPIC], AssignmentStrategy::Range)
        .unwrap();
    let parts = |m: &dyn GroupMembership| -> Vec<u32> {
        m.assignment()
            .partitions
            .iter()
            .map(|tp| tp.partition)
            .collect()
    };
    // Range: consecutive partitions, the first members get the extra ones.
    assert_eq!(parts(&*a), [0, 1]);
    assert_eq!(parts(&*b), [2, 3]);
    assert_eq!(parts(&*c), [4]);
    assert_eq!(parts(&*d), [5]);

    let a = log
        .join_group("rr", &[TOPIC], AssignmentStrategy::RoundRobin)
        .unwrap();
    let b = log
        .join_group("rr", &[TOPIC], AssignmentStrategy::RoundRobin)
        .unwrap();
    let c = log
        .join_group("rr", &[TOPIC], AssignmentStrategy::RoundRobin)
        .unwrap();
    let d = log
        .join_group("rr", &[TOPIC], AssignmentStrategy::RoundRobin)
        .unwrap();
    // Round robin: dealt out one by one.
    assert_eq!(parts(&*a), [0, 4]);
    assert_eq!(parts(&*b), [1, 5]);
    assert_eq!(parts(&*c), [2]);
    assert_eq!(parts(&*d), [3]);

    // A group keeps the strategy it was formed with.
    match log.join_group("rr", &[TOPIC], AssignmentStrategy::Range) {
        Err(LogError::Group { group, .. }) => assert_eq!(group, "rr"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_member_cannot_commit_for_a_partition_it_lost() {
    for strategy in STRATEGIES {
        let (_dir, log) = setup();
        for p in 0..PARTITIONS {
            log.append(TOPIC, p, &vec![NewRecord::value("x", 0); 10])
                .unwrap();
        }
        let first = log.join_group("g", &[TOPIC], strategy).unwrap();
        let all = first.assignment().partitions;
        assert_eq!(all.len(), 6);
        let commit_all: Vec<(TopicPartition, u64)> = all.iter().map(|tp| (tp.clone(), 0)).collect();
        first.commit(&commit_all).unwrap();

        let second = log.join_group("g", &[TOPIC], strategy).unwrap();
        let lost = second.assignment().partitions;
        assert!(!lost.is_empty());
        for tp in &lost {
            match first.commit(&[(tp.clone(), 0)]) {
                Err(LogError::Group { group, reason }) => {
                    assert_eq!(group, "g");
                    assert!(reason.contains(first.member_id()), "{reason}");
                }
                other => panic!("{strategy:?}: commit for lost {tp}: {other:?}"),
            }
        }
        // A refused commit stores nothing, not even for the partitions still owned.
        let kept = first.assignment().partitions;
        let mixed = vec![(kept[0].clone(), 5), (lost[0].clone(), 5)];
        assert!(matches!(first.commit(&mixed), Err(LogError::Group { .. })));
        let committed = log.committed_offsets("g", TOPIC).unwrap();
        assert_eq!(committed.len(), 6);
        assert!(committed.values().all(|&o| o == 0), "{committed:?}");
        // A fenced write runs only for owned partitions, and a failed one commits nothing.
        let mut ran = 0;
        let r = first.commit_with(&[(lost[0].clone(), 7)], &mut || {
            ran += 1;
            Ok(())
        });
        assert!(matches!(r, Err(LogError::Group { .. })) && ran == 0);
        let r = first.commit_with(&[(kept[0].clone(), 7)], &mut || {
            Err(LogError::InvalidConfig("the write failed".into()))
        });
        assert!(matches!(r, Err(LogError::InvalidConfig(_))));
        assert_eq!(
            log.committed_offsets("g", TOPIC).unwrap()[&kept[0].partition],
            0
        );
        first
            .commit_with(&[(kept[0].clone(), 7)], &mut || {
                ran += 1;
                Ok(())
            })
            .unwrap();
        assert_eq!(ran, 1);
        assert_eq!(
            log.committed_offsets("g", TOPIC).unwrap()[&kept[0].partition],
            7
        );
        // What each member owns now, it may commit.
        first
            .commit(&kept.iter().map(|tp| (tp.clone(), 0)).collect::<Vec<_>>())
            .unwrap();
        second
            .commit(&lost.iter().map(|tp| (tp.clone(), 0)).collect::<Vec<_>>())
            .unwrap();
        // Once the second member leaves, the first owns everything again.
        drop(second);
        first.commit(&commit_all).unwrap();
    }
}

#[test]
fn committed_offsets_survive_reopening() {
    let (dir, log) = setup();
    for p in 0..PARTITIONS {
        let records: Vec<NewRecord> = (0..10)
            .map(|i| NewRecord::value(format!("{p}-{i}"), 0))
            .collect();
        log.append(TOPIC, p, &records).unwrap();
    }
    {
        let m = log
            .join_group("g", &[TOPIC], AssignmentStrategy::Range)
            .unwrap();
        let offsets: Vec<(TopicPartition, u64)> = (0..PARTITIONS)
            .map(|p| (TopicPartition::new(TOPIC, p), u64::from(p) + 1))
            .collect();
        m.commit(&offsets).unwrap();
        // A later commit replaces an earlier one.
        m.commit(&[(TopicPartition::new(TOPIC, 0), 7)]).unwrap();
    }
    log.commit_offsets("other", TOPIC, &[(3, 10)]).unwrap();
    // Committing beyond the log end is refused.
    assert!(matches!(
        log.commit_offsets("other", TOPIC, &[(3, 11)]),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    let want_g: BTreeMap<u32, u64> = [(0, 7), (1, 2), (2, 3), (3, 4), (4, 5), (5, 6)].into();
    let want_other: BTreeMap<u32, u64> = [(3, 10)].into();
    assert_eq!(log.committed_offsets("g", TOPIC).unwrap(), want_g);
    drop(log);

    let log = EmbeddedLog::open(dir.path()).unwrap();
    assert_eq!(log.committed_offsets("g", TOPIC).unwrap(), want_g);
    assert_eq!(log.committed_offsets("other", TOPIC).unwrap(), want_other);
    assert!(log.committed_offsets("none", TOPIC).unwrap().is_empty());

    // A consumer of the group resumes from the committed positions.
    let c = Consumer::join(
        Arc::new(log.clone()),
        "g",
        TOPIC,
        AssignmentStrategy::Range,
        StartFrom::Earliest,
    )
    .unwrap();
    assert_eq!(c.positions(), &want_g);
    drop(c);
    drop(log);
    let report = master_log::verify(dir.path()).unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
}

/// Poll consumers round-robin until they have `total` records between them (or a
/// generous deadline passes); returns what each got, as (partition, offset) pairs.
fn drain(consumers: &mut [Consumer], total: usize) -> Vec<BTreeSet<(u32, u64)>> {
    let mut got = vec![BTreeSet::new(); consumers.len()];
    let deadline = Instant::now() + Duration::from_secs(20);
    while got.iter().map(BTreeSet::len).sum::<usize>() < total && Instant::now() < deadline {
        for (c, seen) in consumers.iter_mut().zip(&mut got) {
            for batch in c.poll(Duration::from_millis(10)).unwrap() {
                for r in batch.records {
                    assert!(
                        seen.insert((batch.partition, r.offset)),
                        "record delivered twice"
                    );
                }
            }
        }
    }
    got
}

fn produce_all(log: &EmbeddedLog, n: u64) -> BTreeSet<(u32, u64)> {
    let records: Vec<NewRecord> = (0..n)
        .map(|i| NewRecord::keyed(format!("customer-{i}"), format!("order {i}"), 0))
        .collect();
    let mut all = BTreeSet::new();
    for (p, a) in log.produce(TOPIC, records).unwrap() {
        all.extend((a.base_offset..=a.last_offset).map(|o| (p, o)));
    }
    assert_eq!(all.len() as u64, n);
    all
}

#[test]
fn groups_each_see_everything_members_share() {
    for strategy in STRATEGIES {
        let (_dir, log) = setup();
        let all = produce_all(&log, 120);
        let shared: Arc<dyn Log> = Arc::new(log.clone());
        let join = |group: &str| {
            Consumer::join(shared.clone(), group, TOPIC, strategy, StartFrom::Earliest).unwrap()
        };
        // Publish–subscribe: two groups of one member each both read everything.
        let mut pubsub = [join("billing"), join("shipping")];
        let got = drain(&mut pubsub, 2 * all.len());
        assert_eq!(got[0], all, "{strategy:?}: billing");
        assert_eq!(got[1], all, "{strategy:?}: shipping");

        // Queue: three members of one group split the records between them.
        let mut queue = [join("workers"), join("workers"), join("workers")];
        let got = drain(&mut queue, all.len());
        let mut union = BTreeSet::new();
        for (i, g) in got.iter().enumerate() {
            assert!(!g.is_empty(), "{strategy:?}: member {i} got nothing");
            for x in g {
                assert!(union.insert(*x), "{strategy:?}: {x:?} went to two members");
            }
        }
        assert_eq!(union, all, "{strategy:?}");
        // Each member read only the partitions it owns.
        for (c, g) in queue.iter().zip(&got) {
            let owned: BTreeSet<u32> = c.positions().keys().copied().collect();
            assert!(g.iter().all(|(p, _)| owned.contains(p)));
        }
    }
}

#[test]
fn wait_for_rebalance_wakes_on_a_join() {
    let (_dir, log) = setup();
    let first = log
        .join_group("g", &[TOPIC], AssignmentStrategy::Range)
        .unwrap();
    let generation = first.assignment().generation;
    // Nothing happens: it times out and says so.
    assert!(!first.wait_for_rebalance(generation, Duration::from_millis(50)));

    let joiner = {
        let log = log.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            log.join_group("g", &[TOPIC], AssignmentStrategy::Range)
                .unwrap()
        })
    };
    let started = Instant::now();
    assert!(first.wait_for_rebalance(generation, Duration::from_secs(60)));
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "woke only after {:?}",
        started.elapsed()
    );
    let second = joiner.join().unwrap();
    let new_gen = first.assignment().generation;
    assert!(new_gen > generation);
    assert_eq!(second.assignment().generation, new_gen);
    assert_eq!(first.assignment().partitions.len(), 3);

    // A leave wakes it too.
    let waiter = std::thread::spawn(move || {
        let woke = first.wait_for_rebalance(new_gen, Duration::from_secs(60));
        (woke, first.assignment().partitions.len())
    });
    std::thread::sleep(Duration::from_millis(50));
    drop(second);
    assert_eq!(waiter.join().unwrap(), (true, 6));
}

#[test]
fn deleting_a_topic_forgets_its_committed_offsets() {
    let (dir, log) = setup();
    log.append(TOPIC, 2, &vec![NewRecord::value("x", 0); 10])
        .unwrap();
    log.commit_offsets("g", TOPIC, &[(2, 10)]).unwrap();
    log.create_topic("kept", TopicConfig::with_partitions(1))
        .unwrap();
    log.append("kept", 0, &[NewRecord::value("y", 0)]).unwrap();
    log.commit_offsets("g", "kept", &[(0, 1)]).unwrap();

    log.delete_topic(TOPIC).unwrap();
    log.create_topic(TOPIC, TopicConfig::with_partitions(PARTITIONS))
        .unwrap();
    assert!(log.committed_offsets("g", TOPIC).unwrap().is_empty());
    drop(log);

    // Not even after reopening: a new topic of the same name starts without positions.
    let log = EmbeddedLog::open(dir.path()).unwrap();
    assert!(log.committed_offsets("g", TOPIC).unwrap().is_empty());
    assert_eq!(
        log.committed_offsets("g", "kept").unwrap(),
        BTreeMap::from([(0, 1)])
    );
    log.append(TOPIC, 2, &[NewRecord::value("new", 0)]).unwrap();
    let mut c = Consumer::join(
        Arc::new(log.clone()),
        "g",
        TOPIC,
        AssignmentStrategy::Range,
        StartFrom::Earliest,
    )
    .unwrap();
    assert_eq!(c.positions()[&2], 0);
    let got = c.poll(Duration::from_secs(5)).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].records[0].value.as_deref(), Some(&b"new"[..]));
}
