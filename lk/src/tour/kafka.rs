//! The tour's step on replication and brokers, on a Kafka-protocol cluster: the cluster's
//! brokers and each partition's leader, replicas and in-sync replicas (a Metadata
//! request), appends with `acks=all` and `acks=1`, and a consumer group spread over two
//! processes, one of which is killed.
//!
//! `lk` reaches Kafka through `master_log`'s `Log` trait, which does not show brokers or
//! replicas; this step asks a broker for them itself with one Metadata request (version
//! 1 of the Kafka protocol, which every broker since Kafka 0.10 answers).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use compare::format as fmt;
use master_log::{AssignmentStrategy, Consumer, Log, StartFrom, TopicConfig};

use super::log_steps::produce;
use super::proc::shown;
use super::step::{Ctx, Step};
use crate::text::{count, join};

/// Step: replication and brokers.
pub const REPLICATION: Step = Step {
    slug: "replication",
    title: "Replication and brokers (Kafka backend)",
    about: "The embedded log is one process on one machine. Kafka spreads a topic over \
        brokers, the servers of a cluster: each partition has a leader broker, which \
        takes its appends and serves its reads, and is copied to follower brokers. The \
        replicas that are up to date form the in-sync replica set (ISR). A producer with \
        acks=all gets its acknowledgement once every in-sync replica has the records, so \
        an acknowledged record survives the loss of the leader: another in-sync replica \
        becomes leader. The brokers also keep the consumer groups, so a group's members \
        can be processes on different machines; when a member stops sending heartbeats \
        for the session timeout, the group rebalances without it.\n\n\
        This step runs against a Kafka-protocol broker named with `--log kafka://HOST:PORT` \
        or `LK_KAFKA_BROKERS=HOST:PORT` (`scripts/with-kafka.sh lk tour --step 6` starts \
        one), and is skipped without one.",
    run: replication,
};

/// A broker of the cluster, as Metadata shows it.
#[derive(Debug, Clone)]
struct Broker {
    id: i32,
    host: String,
    port: i32,
}

/// A partition of a topic, as Metadata shows it.
#[derive(Debug, Clone)]
struct PartitionMeta {
    partition: i32,
    leader: i32,
    replicas: Vec<i32>,
    isr: Vec<i32>,
}

/// What a Metadata (v1) answer holds of the cluster and one topic.
#[derive(Debug, Clone)]
struct Metadata {
    brokers: Vec<Broker>,
    controller: i32,
    partitions: Vec<PartitionMeta>,
}

/// A reader of a Kafka protocol response.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> anyhow::Result<&[u8]> {
        anyhow::ensure!(self.0.len() >= n, "the broker's answer is cut short");
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn i16(&mut self) -> anyhow::Result<i16> {
        Ok(i16::from_be_bytes(self.take(2)?.try_into()?))
    }
    fn i32(&mut self) -> anyhow::Result<i32> {
        Ok(i32::from_be_bytes(self.take(4)?.try_into()?))
    }
    fn string(&mut self) -> anyhow::Result<String> {
        let len = self.i16()?;
        if len < 0 {
            return Ok(String::new());
        }
        Ok(String::from_utf8_lossy(self.take(len as usize)?).into_owned())
    }
    fn count(&mut self) -> anyhow::Result<usize> {
        Ok(self.i32()?.max(0) as usize)
    }
    fn ids(&mut self) -> anyhow::Result<Vec<i32>> {
        (0..self.count()?).map(|_| self.i32()).collect()
    }
}

/// Ask the broker at `addr` (`HOST:PORT`) for the cluster's brokers and `topic`'s
/// partitions: one Metadata request, version 1.
fn metadata(addr: &str, topic: &str) -> anyhow::Result<Metadata> {
    let mut req = Vec::new();
    req.extend_from_slice(&3i16.to_be_bytes()); // api_key: Metadata
    req.extend_from_slice(&1i16.to_be_bytes()); // api_version
    req.extend_from_slice(&7i32.to_be_bytes()); // correlation_id
    let client = b"lk-tour";
    req.extend_from_slice(&(client.len() as i16).to_be_bytes());
    req.extend_from_slice(client);
    req.extend_from_slice(&1i32.to_be_bytes()); // one topic
    req.extend_from_slice(&(topic.len() as i16).to_be_bytes());
    req.extend_from_slice(topic.as_bytes());
    let mut conn = TcpStream::connect(addr).with_context(|| format!("connect to {addr}"))?;
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    conn.write_all(&(req.len() as i32).to_be_bytes())?;
    conn.write_all(&req)?;
    let mut len = [0u8; 4];
    conn.read_exact(&mut len)?;
    let len = i32::from_be_bytes(len);
    anyhow::ensure!(
        (4..64 << 20).contains(&len),
        "a Metadata answer of {len} bytes"
    );
    let mut body = vec![0u8; len as usize];
    conn.read_exact(&mut body)?;
    parse_metadata(&body, topic)
}

/// A Metadata v1 answer (after its size): brokers, controller, and `topic`'s partitions.
fn parse_metadata(body: &[u8], topic: &str) -> anyhow::Result<Metadata> {
    let mut r = Reader(body);
    r.i32()?; // correlation_id
    let mut brokers = Vec::new();
    for _ in 0..r.count()? {
        let id = r.i32()?;
        let host = r.string()?;
        let port = r.i32()?;
        r.string()?; // rack
        brokers.push(Broker { id, host, port });
    }
    let controller = r.i32()?;
    let mut partitions = Vec::new();
    for _ in 0..r.count()? {
        let error = r.i16()?;
        let name = r.string()?;
        r.take(1)?; // is_internal
        for _ in 0..r.count()? {
            r.i16()?; // the partition's error code
            let partition = r.i32()?;
            let leader = r.i32()?;
            let replicas = r.ids()?;
            let isr = r.ids()?;
            if name == topic {
                partitions.push(PartitionMeta {
                    partition,
                    leader,
                    replicas,
                    isr,
                });
            }
        }
        anyhow::ensure!(
            error == 0 || name != topic,
            "the broker answered error {error} for topic {name}"
        );
    }
    partitions.sort_by_key(|p| p.partition);
    Ok(Metadata {
        brokers,
        controller,
        partitions,
    })
}

fn replication(ctx: &mut Ctx) -> anyhow::Result<()> {
    let Some(args) = ctx.kafka.clone() else {
        ctx.say(
            "skipped: no Kafka broker named (pass --log kafka://HOST:PORT or set \
             LK_KAFKA_BROKERS=HOST:PORT; `scripts/with-kafka.sh lk tour --step 6` starts a \
             local one)",
        );
        return Ok(());
    };
    let log = args.open(&ctx.dir)?;
    let topic = format!("lk-tour-{}", std::process::id());
    let result = on_cluster(ctx, &args, log.clone(), &topic);
    // Leave the cluster as it was, whatever happened.
    let _ = log.delete_topic(&topic);
    result
}

/// The step's work on the cluster, in `topic` (deleted afterwards by the caller).
fn on_cluster(
    ctx: &mut Ctx,
    args: &crate::backend::LogArgs,
    log: std::sync::Arc<dyn Log>,
    topic: &str,
) -> anyhow::Result<()> {
    let servers = master_log::parse_kafka_uri(&args.uri)?;
    log.create_topic(topic, TopicConfig::with_partitions(3))?;
    let meta = metadata(&servers[0], topic)?;
    let brokers: Vec<String> = meta
        .brokers
        .iter()
        .map(|b| format!("broker {} at {}:{}", b.id, b.host, b.port))
        .collect();
    ctx.say(format!(
        "cluster: {}; controller: broker {}",
        brokers.join(", "),
        meta.controller
    ));
    ctx.say(format!("created topic {topic} with 3 partitions:"));
    for p in &meta.partitions {
        ctx.say(format!(
            "  partition {}: leader broker {}, replicas {}, in sync {}",
            p.partition,
            p.leader,
            join(&p.replicas),
            join(&p.isr)
        ));
    }
    if meta.brokers.len() == 1 {
        ctx.say(
            "one broker: every partition has a single replica, its leader; with three \
             brokers and replication factor 3 each partition would list three",
        );
    }
    acks(ctx, args, log.as_ref(), topic)?;
    group_over_processes(ctx, args, log, topic)
}

/// Appends with acks=all, then acks=1, timed.
fn acks(
    ctx: &mut Ctx,
    args: &crate::backend::LogArgs,
    log: &dyn Log,
    topic: &str,
) -> anyhow::Result<()> {
    let n = ctx.size(20_000, 2_000);
    let one = crate::backend::LogArgs {
        kafka_acks: "1".into(),
        ..args.clone()
    }
    .open(&ctx.dir)?;
    for (name, l) in [("acks=all", log), ("acks=1", one.as_ref())] {
        // A first small append opens the producer's connections.
        produce(
            l,
            topic,
            10,
            |i| format!("w{i}"),
            |i| format!("warm-up {i}"),
        )?;
        let took = produce(l, topic, n, |i| format!("k{i}"), |i| format!("record {i}"))?;
        ctx.say(format!(
            "{name}: appended {} in {} ({})",
            count(n, "record"),
            fmt::seconds(took.as_secs_f64()),
            fmt::rate(n as f64 / took.as_secs_f64())
        ));
    }
    ctx.say(
        "acks=all waits for every in-sync replica, acks=1 for the leader alone (and turns \
         the idempotent producer off); here the leader is the only replica",
    );
    Ok(())
}

/// The `lk consume` command line of a member in another process, on the cluster.
fn consume_args<'a>(args: &'a crate::backend::LogArgs, topic: &'a str) -> Vec<&'a str> {
    let mut a = vec!["--log", args.uri.as_str()];
    if args.kafka_tansu_compat {
        a.push("--kafka-tansu-compat");
    }
    a.extend([
        "consume",
        topic,
        "--group",
        "tour-readers",
        "--from-beginning",
    ]);
    a
}

/// A group with a member here and one in an `lk consume` process; the process is
/// killed, and the group gives its partitions to the member here after the session
/// timeout.
fn group_over_processes(
    ctx: &mut Ctx,
    args: &crate::backend::LogArgs,
    log: std::sync::Arc<dyn Log>,
    topic: &str,
) -> anyhow::Result<()> {
    let mut here = Consumer::join(
        log.clone(),
        "tour-readers",
        topic,
        AssignmentStrategy::Range,
        StartFrom::Earliest,
    )?;
    let cargs = consume_args(args, topic);
    ctx.say(format!("$ lk {} &", shown(&cargs)));
    let mut child = std::process::Command::new(&ctx.exe)
        .arg("--data")
        .arg(&ctx.dir)
        .args(&cargs)
        .env_remove("LK_LOG_URI")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .context("start lk consume")?;
    let owned = |c: &mut Consumer| -> anyhow::Result<Vec<u32>> {
        c.poll(Duration::from_millis(100))?;
        Ok(c.positions().keys().copied().collect())
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut mine = owned(&mut here)?;
    while mine.len() == 3 && Instant::now() < deadline {
        mine = owned(&mut here)?;
    }
    if mine.len() == 3 {
        let _ = child.kill();
        let _ = child.wait();
        anyhow::bail!("the lk consume process did not join group tour-readers within a minute");
    }
    ctx.say(format!(
        "group tour-readers: the member in this process owns {}, the lk consume process the \
         others",
        if mine.is_empty() {
            "no partition".to_owned()
        } else {
            format!("partitions {}", join(&mine))
        }
    ));
    ctx.say(format!("$ kill -KILL {}", child.id()));
    child.kill()?;
    child.wait()?;
    let killed = Instant::now();
    // The coordinator gives up on the dead member once its session (10 s) times out.
    while mine.len() < 3 && killed.elapsed() < Duration::from_secs(13) {
        mine = owned(&mut here)?;
    }
    if mine.len() == 3 {
        ctx.say(format!(
            "{} after the kill the coordinator had given up on the killed member (no \
             heartbeat for the session timeout, 10 s) and rebalanced: this process owns \
             partitions {}",
            fmt::seconds(killed.elapsed().as_secs_f64()),
            join(&mine)
        ));
        return Ok(());
    }
    // Some brokers (tansu 0.6) expire a dead member only when the group changes: a
    // replacement joins, as a restarted process would.
    let mut replacement = Consumer::join(
        log,
        "tour-readers",
        topic,
        AssignmentStrategy::Range,
        StartFrom::Earliest,
    )?;
    let covered = |a: &[u32], b: &[u32]| {
        let all: std::collections::BTreeSet<u32> = a.iter().chain(b).copied().collect();
        all.len() == 3 && a.len() + b.len() == 3
    };
    let mut theirs = Vec::new();
    while killed.elapsed() < Duration::from_secs(90) {
        mine = owned(&mut here)?;
        theirs = owned(&mut replacement)?;
        if covered(&mine, &theirs) {
            break;
        }
    }
    anyhow::ensure!(
        covered(&mine, &theirs),
        "the group did not rebalance without the killed member"
    );
    ctx.say(format!(
        "no rebalance by itself after the session timeout (this broker expires a dead member \
         when the group changes); a replacement member joined in this process, and {} after \
         the kill the group had rebalanced without the killed member: partitions {} here, {} \
         in the replacement",
        fmt::seconds(killed.elapsed().as_secs_f64()),
        join(&mine),
        join(&theirs)
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_metadata_answer_is_read() {
        let mut b = Vec::new();
        b.extend_from_slice(&7i32.to_be_bytes());
        b.extend_from_slice(&1i32.to_be_bytes()); // one broker
        b.extend_from_slice(&1i32.to_be_bytes());
        b.extend_from_slice(&9i16.to_be_bytes());
        b.extend_from_slice(b"localhost");
        b.extend_from_slice(&9092i32.to_be_bytes());
        b.extend_from_slice(&(-1i16).to_be_bytes()); // no rack
        b.extend_from_slice(&1i32.to_be_bytes()); // controller
        b.extend_from_slice(&1i32.to_be_bytes()); // one topic
        b.extend_from_slice(&0i16.to_be_bytes());
        b.extend_from_slice(&1i16.to_be_bytes());
        b.extend_from_slice(b"t");
        b.push(0);
        b.extend_from_slice(&1i32.to_be_bytes()); // one partition
        b.extend_from_slice(&0i16.to_be_bytes());
        b.extend_from_slice(&0i32.to_be_bytes());
        b.extend_from_slice(&1i32.to_be_bytes()); // leader
        for _ in 0..2 {
            b.extend_from_slice(&1i32.to_be_bytes());
            b.extend_from_slice(&1i32.to_be_bytes());
        }
        let m = parse_metadata(&b, "t").unwrap();
        assert_eq!(m.brokers[0].host, "localhost");
        assert_eq!(m.controller, 1);
        assert_eq!(m.partitions[0].replicas, [1]);
        assert!(parse_metadata(&b[..20], "t").is_err());
    }
}
