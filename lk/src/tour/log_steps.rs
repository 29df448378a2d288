//! The tour's steps on the log itself: topics, partitions and offsets; consumer groups
//! (queue and publish/subscribe); keys and per-key order; scaling with partitions.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use compare::format as fmt;
use master_log::{
    AssignmentStrategy, Bytes, Consumer, FetchLimits, Log, NewRecord, Record, StartFrom,
    TopicConfig, partition_for_key,
};

use super::out::cores;
use super::proc::lk;
use super::step::{Ctx, Step};
use crate::text::{count, join};

/// Step: the log.
pub const LOG: Step = Step {
    slug: "the-log",
    title: "The log: topics, partitions, offsets",
    about: "A classic message queue hands each message to a consumer and forgets it once \
        the consumer acknowledges it. Kafka keeps a log instead. A topic is split into \
        partitions; each partition is an append-only sequence of records numbered by \
        offsets 0, 1, 2, … . Producers append at the end; a consumer reads from any \
        offset it chooses and keeps its own position, so reading removes nothing: another \
        consumer, or the same one later, can read the same records again (a replay). \
        Records leave only by retention (by age or size) or by compaction (which keeps \
        the latest record of each key).\n\n\
        Here keyed records are appended to a topic of 3 partitions, one is read back by \
        its offset, and a partition is read twice.",
    run: the_log,
};

/// Step: consumer groups.
pub const GROUPS: Step = Step {
    slug: "groups",
    title: "Queue or publish/subscribe: consumer groups",
    about: "A queue gives each message to one of its consumers, which share the work; \
        publish/subscribe gives every message to every subscriber. Kafka does both with \
        consumer groups. The members of one group divide the topic's partitions among \
        themselves: each partition is read by exactly one member, so each record reaches \
        one member of the group (queue semantics). Every group keeps its own positions, \
        its committed offsets, so every group reads every record (publish/subscribe). \
        When a member joins or leaves, the group rebalances: the partitions are dealt out \
        again, in a new generation.\n\n\
        Here a topic of 4 partitions is read by a group of two consumers, by two other \
        groups of one consumer each, and by a group of five consumers, one more than \
        there are partitions.",
    run: groups,
};

/// Step: keys and ordering.
pub const KEYS: Step = Step {
    slug: "keys",
    title: "Keys, partitions and per-key order",
    about: "A record may carry a key, such as a member id. The producer sends a keyed \
        record to partition murmur2(key) mod P, P being the topic's partition count \
        (Kafka's default partitioner): all records of one key land in one partition, \
        where they stay in the order they were appended. That is per-key order. There is \
        no order across partitions: a consumer of several partitions interleaves them. \
        Adding partitions later changes murmur2(key) mod P for most keys, which is why a \
        topic's partition count is chosen up front.\n\n\
        Here 1,000 members each update their profile several times (update 1, 2, 3, …), \
        interleaved, into a topic of 4 partitions.",
    run: keys,
};

/// Step: scaling.
pub const SCALING: Step = Step {
    slug: "scaling",
    title: "Scaling consumers with partitions",
    about: "Within a group a partition is read by one member at a time, so a topic's \
        partitions bound how many consumers can work on it in parallel: with one \
        partition a second consumer would idle; with four, four consumers share the \
        work, as far as the machine has cores to run them. Partitions are Kafka's unit of \
        parallelism, as they are its unit of ordering.\n\n\
        Here the same records are written to topics of 1, 2 and 4 partitions and read by \
        a group with one consumer per partition, each on its own thread. Every record \
        costs the same fixed amount of CPU, a stand-in for decoding and business logic.",
    run: scaling,
};

/// A record's key or value as text.
pub fn text_of(b: &Option<Bytes>) -> String {
    String::from_utf8_lossy(b.as_deref().unwrap_or_default()).into_owned()
}

/// Every record of `topic`'s partition `p`, from its earliest offset.
pub fn read_partition(log: &dyn Log, topic: &str, p: u32) -> anyhow::Result<Vec<Record>> {
    let (mut next, end) = log.offsets(topic, p)?;
    let mut out = Vec::with_capacity((end - next) as usize);
    while next < end {
        let batch = log.fetch(topic, p, next, FetchLimits::default())?;
        let Some(last) = batch.last() else { break };
        next = last.offset + 1;
        out.extend(batch);
    }
    Ok(out)
}

/// Append `n` records `value(i)` keyed `key(i)` to `topic` through the default
/// partitioner, 1,000 per call. Returns how long it took.
pub fn produce(
    log: &dyn Log,
    topic: &str,
    n: u64,
    key: impl Fn(u64) -> String,
    value: impl Fn(u64) -> String,
) -> anyhow::Result<Duration> {
    let t = Instant::now();
    let now = master_log::now_ms();
    let mut i = 0;
    while i < n {
        let end = (i + 1_000).min(n);
        let batch = (i..end)
            .map(|j| NewRecord::keyed(key(j), value(j), now))
            .collect();
        log.produce(topic, batch)?;
        i = end;
    }
    Ok(t.elapsed())
}

/// Offsets per partition, as `p0 0–99,999` lines.
fn partition_lines(ctx: &mut Ctx, log: &dyn Log, topic: &str) -> anyhow::Result<()> {
    for (p, end) in log.end_offsets(topic)?.into_iter().enumerate() {
        ctx.say(format!(
            "  partition {p}: offsets 0 to {} ({})",
            fmt::count(end.saturating_sub(1)),
            count(end, "record")
        ));
    }
    Ok(())
}

fn the_log(ctx: &mut Ctx) -> anyhow::Result<()> {
    let n = ctx.size(300_000, 20_000);
    let log = ctx.open_log()?;
    log.create_topic("clicks", TopicConfig::with_partitions(3))?;
    ctx.say("created topic clicks with 3 partitions");
    let took = produce(
        log.as_ref(),
        "clicks",
        n,
        |i| format!("member-{}", i % 5_000),
        |i| format!("click {i}: member-{} opened /jobs/{}", i % 5_000, i % 97),
    )?;
    ctx.say(format!(
        "appended {} keyed by member in {} ({}); each partition got its own offsets:",
        count(n, "record"),
        fmt::seconds(took.as_secs_f64()),
        fmt::rate(n as f64 / took.as_secs_f64())
    ));
    partition_lines(ctx, log.as_ref(), "clicks")?;
    let limits = FetchLimits {
        max_records: 1,
        ..FetchLimits::default()
    };
    if let Some(r) = log.fetch("clicks", 1, 42, limits)?.first() {
        ctx.say(format!(
            "fetch partition 1 at offset 42: key {}, value \"{}\"",
            text_of(&r.key),
            text_of(&r.value)
        ));
    }
    let first = read_partition(log.as_ref(), "clicks", 0)?;
    let again = read_partition(log.as_ref(), "clicks", 0)?;
    ctx.say(format!(
        "read partition 0 from offset 0, twice: {} then {}, {}: reading removed nothing",
        count(first.len() as u64, "record"),
        count(again.len() as u64, "record"),
        if first == again {
            "the same records"
        } else {
            "DIFFERENT records"
        }
    ));
    anyhow::ensure!(first == again, "a second read of partition 0 differs");
    drop(log);
    lk(ctx, &["topic", "describe", "clicks"])?;
    Ok(())
}

/// Read with `consumers` until they have read `total` records together (or a poll finds
/// nothing for a while); each one's (partition, offset) pairs. Commits after each poll.
fn drain(consumers: &mut [Consumer], total: u64) -> anyhow::Result<Vec<Vec<(u32, u64)>>> {
    let mut seen: Vec<Vec<(u32, u64)>> = vec![Vec::new(); consumers.len()];
    let mut idle_rounds = 0;
    while seen.iter().map(|s| s.len() as u64).sum::<u64>() < total && idle_rounds < 50 {
        let mut got = false;
        for (c, s) in consumers.iter_mut().zip(&mut seen) {
            for b in c.poll(Duration::from_millis(5))? {
                got = true;
                s.extend(b.records.iter().map(|r| (b.partition, r.offset)));
            }
            c.commit()?;
        }
        idle_rounds = if got { 0 } else { idle_rounds + 1 };
    }
    Ok(seen)
}

/// Join `members` consumers to `group` on `topic`, all before any reads (so that each
/// starts with its final assignment).
fn join_group(
    log: &Arc<dyn Log>,
    group: &str,
    topic: &str,
    members: usize,
) -> anyhow::Result<Vec<Consumer>> {
    let mut out = Vec::with_capacity(members);
    for _ in 0..members {
        out.push(Consumer::join(
            log.clone(),
            group,
            topic,
            AssignmentStrategy::Range,
            StartFrom::Earliest,
        )?);
    }
    // A poll picks up the assignment of the last rebalance.
    for c in &mut out {
        let mut parked: Vec<(u32, u64)> = Vec::new();
        for b in c.poll(Duration::ZERO)? {
            if let Some(first) = b.records.first() {
                parked.push((b.partition, first.offset));
            }
        }
        for (p, o) in parked {
            c.seek(p, o)?;
        }
    }
    Ok(out)
}

fn groups(ctx: &mut Ctx) -> anyhow::Result<()> {
    let n = ctx.size(100_000, 10_000);
    let log = ctx.open_log()?;
    log.create_topic("orders", TopicConfig::with_partitions(4))?;
    produce(
        log.as_ref(),
        "orders",
        n,
        |i| format!("order-{i}"),
        |i| format!("order {i}"),
    )?;
    ctx.say(format!(
        "topic orders: 4 partitions, {}",
        count(n, "record")
    ));
    // One group, two members: the partitions are split, each record read once.
    let mut billing = join_group(&log, "billing", "orders", 2)?;
    let seen = drain(&mut billing, n)?;
    ctx.say("group billing, two members (a queue: they share the work):");
    let mut all: BTreeSet<(u32, u64)> = BTreeSet::new();
    for (i, (c, s)) in billing.iter().zip(&seen).enumerate() {
        let parts: Vec<u32> = c.positions().keys().copied().collect();
        ctx.say(format!(
            "  member {}: partitions {}, {}",
            i + 1,
            join(&parts),
            count(s.len() as u64, "record")
        ));
        all.extend(s.iter().copied());
    }
    let both: u64 = seen.iter().map(|s| s.len() as u64).sum();
    ctx.say(format!(
        "  together {}, {} distinct: every record reached exactly one member",
        fmt::count(both),
        fmt::count(all.len() as u64)
    ));
    anyhow::ensure!(
        both == n && all.len() as u64 == n,
        "group billing read {both} of {n}"
    );
    let committed = log.committed_offsets("billing", "orders")?;
    let offsets: Vec<String> = committed
        .iter()
        .map(|(p, o)| format!("{p}: {}", fmt::count(*o)))
        .collect();
    ctx.say(format!(
        "  committed offsets of billing (where it resumes after a restart): {}",
        offsets.join(", ")
    ));
    drop(billing);
    // Two more groups: each gets everything.
    ctx.say("groups audit and search, one member each (publish/subscribe):");
    for group in ["audit", "search"] {
        let mut c = join_group(&log, group, "orders", 1)?;
        let got = drain(&mut c, n)?[0].len() as u64;
        ctx.say(format!(
            "  group {group}: {} of {}",
            count(got, "record"),
            fmt::count(n)
        ));
        anyhow::ensure!(got == n, "group {group} read {got} of {n}");
    }
    // More members than partitions: one idles.
    let crowd = join_group(&log, "crowd", "orders", 5)?;
    let sizes: Vec<usize> = crowd.iter().map(|c| c.positions().len()).collect();
    ctx.say(format!(
        "group crowd, 5 members on 4 partitions: the members own {} partitions; a partition \
         is never split, so {}",
        join(&sizes),
        match sizes.iter().filter(|s| **s == 0).count() {
            1 => "1 member idles".to_owned(),
            n => format!("{n} members idle"),
        }
    ));
    Ok(())
}

fn keys(ctx: &mut Ctx) -> anyhow::Result<()> {
    const MEMBERS: u64 = 1_000;
    let rounds = ctx.size(50, 10);
    let log = ctx.open_log()?;
    log.create_topic("profile-updates", TopicConfig::with_partitions(4))?;
    // Round r: every member's update r + 1; the value holds (member, update, global seq).
    produce(
        log.as_ref(),
        "profile-updates",
        MEMBERS * rounds,
        |i| format!("member-{}", i % MEMBERS),
        |i| format!("{} {} {i}", i % MEMBERS, i / MEMBERS + 1),
    )?;
    ctx.say(format!(
        "{} each made {} ({} in all, interleaved)",
        count(MEMBERS, "member"),
        count(rounds, "update"),
        fmt::count(MEMBERS * rounds)
    ));
    for m in 0..4 {
        let key = format!("member-{m}");
        ctx.say(format!(
            "  key {key}: murmur2 → partition {}",
            partition_for_key(key.as_bytes(), 4)
        ));
    }
    partition_lines(ctx, log.as_ref(), "profile-updates")?;
    // Per key: one partition, updates in order.
    let mut home: BTreeMap<u64, BTreeSet<u32>> = BTreeMap::new();
    let mut last: BTreeMap<u64, u64> = BTreeMap::new();
    let mut out_of_order = 0u64;
    for p in 0..4 {
        for r in read_partition(log.as_ref(), "profile-updates", p)? {
            let v = text_of(&r.value);
            let mut it = v.split(' ').map(|x| x.parse::<u64>().unwrap_or(0));
            let (m, update) = (it.next().unwrap_or(0), it.next().unwrap_or(0));
            home.entry(m).or_default().insert(p);
            if last.insert(m, update).is_some_and(|prev| prev >= update) {
                out_of_order += 1;
            }
        }
    }
    let one_home = home.values().filter(|s| s.len() == 1).count() as u64;
    ctx.say(format!(
        "read back: {} of {} live in one partition; updates out of order within a key: {}",
        fmt::count(one_home),
        count(MEMBERS, "member"),
        out_of_order
    ));
    anyhow::ensure!(
        one_home == MEMBERS && out_of_order == 0,
        "per-key order broken"
    );
    // Across partitions: a consumer of all four interleaves them.
    let mut c = Consumer::assign(log.clone(), "profile-updates", None, StartFrom::Earliest)?
        .with_limits(FetchLimits {
            max_records: 500,
            ..FetchLimits::default()
        });
    let mut seqs = Vec::new();
    while !c.caught_up()? {
        for b in c.poll(Duration::from_millis(10))? {
            for r in &b.records {
                let v = text_of(&r.value);
                seqs.push(
                    v.rsplit(' ')
                        .next()
                        .and_then(|s| s.parse::<u64>().ok())
                        .unwrap_or(0),
                );
            }
        }
    }
    // A record overtook another when something appended before it is still unread.
    let mut read: BTreeSet<u64> = BTreeSet::new();
    let mut lowest_unread = 0u64;
    let mut overtaking = 0u64;
    for &s in &seqs {
        if s > lowest_unread {
            overtaking += 1;
        }
        read.insert(s);
        while read.contains(&lowest_unread) {
            lowest_unread += 1;
        }
    }
    ctx.say(format!(
        "a consumer of all 4 partitions read {}: {} of them came before an update appended \
         earlier (order holds within a partition, not across partitions)",
        count(seqs.len() as u64, "update"),
        fmt::percent_approx(overtaking as f64 / seqs.len().max(1) as f64)
    ));
    for p in [5u32, 8] {
        let moved = (0..MEMBERS)
            .filter(|m| {
                let k = format!("member-{m}");
                partition_for_key(k.as_bytes(), 4) != partition_for_key(k.as_bytes(), p)
            })
            .count();
        ctx.say(format!(
            "with {p} partitions instead of 4, {} of the members would map to another partition",
            fmt::percent_approx(moved as f64 / MEMBERS as f64)
        ));
    }
    Ok(())
}

/// The fixed CPU cost of one record: rounds of xorshift over its bytes.
fn work(value: &[u8]) -> u64 {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for &b in value {
        x ^= u64::from(b);
    }
    for _ in 0..3_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    std::hint::black_box(x)
}

/// CPU time this thread has had, in ns (Linux's `/proc/thread-self/schedstat`); `None`
/// elsewhere.
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Read all of `topic` with a group of one consumer per partition, each on its own
/// thread, doing [`work`] per record. Returns the wall time and the CPU time the
/// consumers had (if the system tells).
fn consume_in_parallel(
    log: &Arc<dyn Log>,
    topic: &str,
    partitions: u32,
) -> anyhow::Result<(Duration, Option<Duration>)> {
    let consumers = join_group(log, &format!("{topic}-readers"), topic, partitions as usize)?;
    let ends = log.end_offsets(topic)?;
    let t = Instant::now();
    let handles: Vec<_> = consumers
        .into_iter()
        .map(|mut c| {
            let ends = ends.clone();
            // The consumer is handed back: a member that left at its end would make the
            // group rebalance under the others.
            std::thread::spawn(move || -> anyhow::Result<(Consumer, Option<u64>)> {
                let cpu = thread_cpu_ns();
                let mut read = 0u64;
                let want: u64 = c.positions().keys().map(|&p| ends[p as usize]).sum();
                while read < want {
                    for b in c.poll(Duration::from_millis(10))? {
                        for r in &b.records {
                            work(r.value.as_deref().unwrap_or_default());
                        }
                        read += b.records.len() as u64;
                    }
                }
                c.commit()?;
                let cpu = cpu.zip(thread_cpu_ns()).map(|(a, b)| b.saturating_sub(a));
                Ok((c, cpu))
            })
        })
        .collect();
    let mut done = Vec::with_capacity(handles.len());
    let mut cpu = Some(0u64);
    for h in handles {
        let (c, ns) = h
            .join()
            .map_err(|_| anyhow::anyhow!("a consumer thread panicked"))??;
        cpu = cpu.zip(ns).map(|(a, b)| a + b);
        done.push(c);
    }
    let took = t.elapsed();
    drop(done);
    Ok((took, cpu.map(Duration::from_nanos)))
}

fn scaling(ctx: &mut Ctx) -> anyhow::Result<()> {
    let n = ctx.size(300_000, 8_000);
    let log = ctx.open_log()?;
    ctx.say(format!(
        "{} per topic; this machine has {}",
        count(n, "record"),
        count(cores() as u64, "core")
    ));
    let mut base = None;
    let mut busiest = 0f64;
    for p in [1u32, 2, 4] {
        let topic = format!("work-{p}");
        log.create_topic(&topic, TopicConfig::with_partitions(p))?;
        produce(
            log.as_ref(),
            &topic,
            n,
            |i| format!("job-{i}"),
            |i| format!("job {i}"),
        )?;
        let (took, cpu) = consume_in_parallel(&log, &topic, p)?;
        let took = took.as_secs_f64();
        let rate = n as f64 / took;
        let speedup = base.map_or(String::new(), |b: f64| {
            format!(", {} the 1-partition rate", fmt::ratio(rate / b))
        });
        base.get_or_insert(rate);
        let busy = cpu.map_or(String::new(), |c| {
            let cores = c.as_secs_f64() / took;
            busiest = busiest.max(cores);
            format!("; the consumers kept {} cores busy", fmt::number(cores))
        });
        ctx.say(format!(
            "{} read by {}: {} ({}{speedup}){busy}",
            count(u64::from(p), "partition"),
            count(u64::from(p), "consumer"),
            fmt::seconds(took),
            fmt::rate(rate)
        ));
    }
    let cores = cores();
    if busiest >= 0.75 * cores.min(4) as f64 {
        ctx.say(format!(
            "the rate grows with the partitions while there are cores to run the consumers \
             ({cores} here); past that, more consumers share the same cores"
        ));
    } else {
        ctx.say(format!(
            "the rate follows the CPU time the consumers got, and other processes held most \
             of this machine's {cores} cores during the run (the consumers had {} of them at \
             best): on an idle machine the rate grows with the partitions up to the number of \
             cores",
            fmt::number(busiest)
        ));
    }
    Ok(())
}
