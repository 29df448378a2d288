//! Durable appends of the embedded master log (`FsyncPolicy::Always`, group commit)
//! next to `dd` on the same disk, in alternated rounds.
//!
//! ```text
//! cargo bench -p lk-benches --bench durable                         # every shape
//! cargo bench -p lk-benches --bench durable -- 8_threads_1_partitions  # one shape
//! ```
//!
//! Each shape is a number of threads appending to a number of partitions of one topic
//! (thread `i` to partition `i % partitions`). Every thread has one append in flight:
//! batches of 1,000 records of an 8-byte key and a 100-byte value, each acknowledged only
//! once an `fdatasync` that began after its write has finished. The threads are the sweep
//! of what one sync can cover (the producers of a broker, each waiting for its ack).
//!
//! This disk's speed changes from minute to minute (other I/O on the host), so one `dd`
//! beside one run says little. Each shape runs 5 rounds; a round measures, one right after
//! the other, in the same directory:
//!
//! 1. `dd bs=1M count=256 conv=fdatasync`: 256 MiB through the page cache and one
//!    `fdatasync` at the end (the goal's peer);
//! 2. `dd oflag=dsync` with writes of one batch (a sync per batch: one producer without
//!    group commit) and of 8 batches (what a sync covering 8 batches can reach);
//! 3. the log: the threads append the same 256 MiB (rounded up to whole batches).
//!
//! Before each `dd` and before the log's turn the bench runs `sync`, so that none pays for
//! the writeback of the one before. It prints every round, then per shape the medians and
//! ranges of the log's MB/s and of its ratio to each `dd` figure of the same round, and how
//! many appends each `fdatasync` covered. MB/s are 10^6 bytes of segment files (framing
//! included) per second.
//!
//! `cargo bench` passes `--bench`; without it (as under `cargo test --benches`) one round
//! of 8 MiB per shape checks the machinery.

#[path = "common/bench_env.rs"]
mod bench_env;

use std::path::Path;
use std::sync::Barrier;
use std::time::Instant;

use lk_benches::median;
use master_log::{EmbeddedLog, FsyncPolicy, Log, NewRecord};

use bench_env::{batch, open_log, settle};

const TOPIC: &str = "durable";

/// Threads and partitions of each shape.
const SHAPES: &[(u32, u32)] = &[
    (1, 1),
    (2, 1),
    (4, 1),
    (8, 1),
    (32, 1),
    (4, 4),
    (8, 4),
    (32, 4),
    (64, 4),
    (128, 4),
    (128, 16),
];

/// Retention per partition: old segments are deleted as new ones roll, so that the page
/// cache holds at most a few hundred MiB of the bench's files.
const RETENTION_BYTES: u64 = 256 * 1024 * 1024;

/// Rounds per shape and MiB written per round by each side.
#[derive(Debug, Clone, Copy)]
struct Plan {
    rounds: usize,
    mib: u64,
    /// Writes of the `oflag=dsync` peers.
    dsync_writes: u64,
}

/// One round's figures, MB/s.
#[derive(Debug, Clone, Copy)]
struct Round {
    log: f64,
    /// `conv=fdatasync`: one sync at the end.
    dd_fdatasync: f64,
    /// `oflag=dsync`, writes of one batch.
    dd_dsync_1: f64,
    /// `oflag=dsync`, writes of 8 batches.
    dd_dsync_8: f64,
}

/// Run `dd if=/dev/zero of=DIR/dd.out bs=BS count=COUNT FLAG` and return its MB/s
/// (10^6 bytes per second, from its byte count and seconds).
fn dd_mb_s(dir: &Path, bs: u64, count: u64, flag: &str) -> anyhow::Result<f64> {
    let out = dir.join("dd.out");
    let run = std::process::Command::new("dd")
        .arg("if=/dev/zero")
        .arg(format!("of={}", out.display()))
        .arg(format!("bs={bs}"))
        .arg(format!("count={count}"))
        .arg(flag)
        .output();
    let _ = std::fs::remove_file(&out);
    let run = run?;
    let text = String::from_utf8_lossy(&run.stderr);
    anyhow::ensure!(run.status.success(), "dd failed: {text}");
    parse_dd(&text).ok_or_else(|| anyhow::anyhow!("dd's report not understood: {text}"))
}

/// MB/s from `dd`'s report: "536870912 bytes (537 MB, 512 MiB) copied, 0.61 s, 880 MB/s".
fn parse_dd(text: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.contains(" copied, "))?;
    let bytes: f64 = line.split_whitespace().next()?.parse().ok()?;
    let secs: f64 = line
        .split(" copied, ")
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(bytes / secs / 1e6)
}

/// Bytes one batch of [`batch`] takes in a segment file (the framing included).
fn batch_bytes(records: &[NewRecord]) -> anyhow::Result<u64> {
    let dir = tempfile::tempdir()?;
    let log = open(dir.path(), FsyncPolicy::Never, 1)?;
    log.append(TOPIC, 0, records)?;
    Ok(log.describe_topic(TOPIC)?.partitions[0].bytes)
}

fn open(dir: &Path, fsync: FsyncPolicy, partitions: u32) -> anyhow::Result<EmbeddedLog> {
    open_log(dir, TOPIC, fsync, partitions, Some(RETENTION_BYTES))
}

/// `threads` threads append `per_thread` batches each, thread `i` to partition
/// `i % partitions`, all released at once; MB/s of segment bytes until the last returned.
fn append_round(
    log: &EmbeddedLog,
    records: &[NewRecord],
    (threads, partitions): (u32, u32),
    per_thread: u64,
    batch_bytes: u64,
) -> anyhow::Result<f64> {
    let barrier = Barrier::new(threads as usize + 1);
    let (start, results) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let barrier = &barrier;
                s.spawn(move || -> master_log::Result<()> {
                    barrier.wait();
                    for _ in 0..per_thread {
                        log.append(TOPIC, t % partitions, records)?;
                    }
                    Ok(())
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let results: Vec<_> = handles.into_iter().map(|h| h.join()).collect();
        (start, results)
    });
    let secs = start.elapsed().as_secs_f64();
    for r in results {
        r.map_err(|_| anyhow::anyhow!("an appending thread panicked"))??;
    }
    let bytes = per_thread * u64::from(threads) * batch_bytes;
    Ok(bytes as f64 / secs / 1e6)
}

/// One round in `dir`: the `dd` peers, then the log's appends of as many bytes.
fn round(
    dir: &Path,
    log: &EmbeddedLog,
    records: &[NewRecord],
    shape: (u32, u32),
    plan: Plan,
    batch_bytes: u64,
) -> anyhow::Result<Round> {
    settle();
    let dd_fdatasync = dd_mb_s(dir, 1 << 20, plan.mib, "conv=fdatasync")?;
    settle();
    let dd_dsync_1 = dd_mb_s(dir, batch_bytes, plan.dsync_writes, "oflag=dsync")?;
    settle();
    let dd_dsync_8 = dd_mb_s(dir, 8 * batch_bytes, plan.dsync_writes / 4, "oflag=dsync")?;
    settle();
    let batches = (plan.mib << 20).div_ceil(batch_bytes);
    let per_thread = batches.div_ceil(u64::from(shape.0));
    let log = append_round(log, records, shape, per_thread, batch_bytes)?;
    Ok(Round {
        log,
        dd_fdatasync,
        dd_dsync_1,
        dd_dsync_8,
    })
}

/// "median (min–max)" of `xs`, each shown by `f`.
fn spread(xs: &[f64], f: impl Fn(f64) -> String) -> String {
    let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{} ({}–{})", f(median(xs.to_vec())), f(lo), f(hi))
}

/// Run every round of one shape and print them and their summary.
fn shape(
    name: &str,
    records: &[NewRecord],
    shape: (u32, u32),
    plan: Plan,
    batch_bytes: u64,
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let log = open(dir.path(), FsyncPolicy::Always, shape.1)?;
    let mut rounds = Vec::new();
    for i in 0..plan.rounds {
        let r = round(dir.path(), &log, records, shape, plan, batch_bytes)?;
        println!(
            "{name} round {}: log {:.0} MB/s; dd conv=fdatasync {:.0} MB/s ({:.0} %), \
             oflag=dsync of one batch {:.0} MB/s ({:.0} %), of 8 batches {:.0} MB/s ({:.0} %)",
            i + 1,
            r.log,
            r.dd_fdatasync,
            100.0 * r.log / r.dd_fdatasync,
            r.dd_dsync_1,
            100.0 * r.log / r.dd_dsync_1,
            r.dd_dsync_8,
            100.0 * r.log / r.dd_dsync_8,
        );
        rounds.push(r);
    }
    let mb = |x: f64| format!("{x:.0}");
    let pct = |x: f64| format!("{:.0} %", 100.0 * x);
    let of = |peer: fn(&Round) -> f64| rounds.iter().map(|r| r.log / peer(r)).collect::<Vec<_>>();
    let logs: Vec<f64> = rounds.iter().map(|r| r.log).collect();
    let dds: Vec<f64> = rounds.iter().map(|r| r.dd_fdatasync).collect();
    let stats = log.sync_stats(TOPIC)?;
    println!(
        "{name}: log {} MB/s, dd conv=fdatasync {} MB/s; the log's ratio, round by round, \
         to dd conv=fdatasync {}, to oflag=dsync of one batch {}, of 8 batches {}; \
         {:.2} appends per fdatasync ({} rounds)",
        spread(&logs, mb),
        spread(&dds, mb),
        spread(&of(|r| r.dd_fdatasync), pct),
        spread(&of(|r| r.dd_dsync_1), pct),
        spread(&of(|r| r.dd_dsync_8), pct),
        stats.durable_appends as f64 / stats.syncs.max(1) as f64,
        plan.rounds,
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        println!("durable: bench");
        return Ok(());
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` does not.
    let full = args.iter().any(|a| a == "--bench");
    // A filter picks shapes by name; "durable" (or part of it) means all of them.
    let filter = lk_benches::filter(&args).filter(|f| !"durable".contains(f));
    let plan = if full {
        Plan {
            rounds: 5,
            mib: 256,
            dsync_writes: 300,
        }
    } else {
        Plan {
            rounds: 1,
            mib: 8,
            dsync_writes: 8,
        }
    };
    let records = batch(0);
    let bytes = batch_bytes(&records)?;
    println!(
        "durable: batches of {} records, {bytes} bytes each on disk; {} rounds of {} MiB per shape, \
         dd and the log taking turns",
        records.len(),
        plan.rounds,
        plan.mib
    );
    for &(threads, partitions) in SHAPES {
        let name = format!("append_durable/{threads}_threads_{partitions}_partitions");
        if filter.is_some_and(|f| !name.contains(f)) {
            continue;
        }
        shape(&name, &records, (threads, partitions), plan, bytes)?;
    }
    Ok(())
}
