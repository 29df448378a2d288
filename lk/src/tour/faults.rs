//! The tour's step on fault tolerance: a group member drops out and the group rebalances;
//! a consumer process is killed and a new member resumes from the committed offsets; a
//! torn write is cut when the log opens.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;

use compare::format as fmt;
use master_log::{
    AssignmentStrategy, Consumer, EmbeddedLog, FetchLimits, Log, NewRecord, StartFrom, TopicConfig,
};

use super::log_steps::{produce, read_partition};
use super::proc::{kill, lk, spawn};
use super::step::{Ctx, Step};
use crate::text::{count, join};

/// Step: fault tolerance.
pub const FAULTS: Step = Step {
    slug: "faults",
    title: "Fault tolerance: a consumer killed, a torn write",
    about: "Things fail: a consumer process dies, a machine stops in the middle of a \
        write. A consumer commits its offsets to its group as it goes. When a member \
        dies, the group rebalances, and another member (or the restarted process) \
        resumes each partition at its last committed offset. Records processed after \
        that commit and before the crash are delivered again: delivery is at least \
        once, and nothing is lost. The log protects itself too: every batch of records \
        carries a CRC32C checksum, and when the log opens after a crash it checks the end \
        of every partition and cuts a torn last batch, so a half-written append is never \
        read as data.\n\n\
        Here a group member drops out mid-stream and its partner takes over; then an `lk \
        consume` process is killed with SIGKILL while it reads, and a new member resumes \
        from its commits; then an append is torn and the log recovers when it opens.",
    run: faults,
};

/// Count, per (partition, offset), how often it was processed; and check that every
/// offset below `ends` was, at least once. Returns how many were processed more than
/// once (the total beyond once).
fn check_once(processed: &BTreeMap<(u32, u64), u32>, ends: &[u64]) -> anyhow::Result<(u64, u64)> {
    let mut lost = 0u64;
    for (p, &end) in ends.iter().enumerate() {
        for o in 0..end {
            if !processed.contains_key(&(p as u32, o)) {
                lost += 1;
            }
        }
    }
    let again: u64 = processed
        .values()
        .map(|&n| u64::from(n.saturating_sub(1)))
        .sum();
    anyhow::ensure!(lost == 0, "{lost} records were never processed");
    Ok((again, lost))
}

fn faults(ctx: &mut Ctx) -> anyhow::Result<()> {
    member_leaves(ctx)?;
    process_killed(ctx)?;
    torn_write(ctx)
}

/// Two members share a topic; one reads a batch, does not commit it and leaves (as a
/// crashed member would); the other takes its partitions over from its commits.
fn member_leaves(ctx: &mut Ctx) -> anyhow::Result<()> {
    let n = ctx.size(80_000, 8_000);
    let batch = ctx.size(5_000, 500) as usize;
    let log = ctx.open_log()?;
    log.create_topic("shipments", TopicConfig::with_partitions(4))?;
    produce(
        log.as_ref(),
        "shipments",
        n,
        |i| format!("parcel-{i}"),
        |i| format!("parcel {i}"),
    )?;
    let limits = FetchLimits {
        max_records: batch,
        ..FetchLimits::default()
    };
    let join = || {
        Consumer::join(
            log.clone(),
            "shipping",
            "shipments",
            AssignmentStrategy::Range,
            StartFrom::Earliest,
        )
        .map(|c| c.with_limits(limits))
    };
    let (mut a, mut b) = (join()?, join()?);
    let mut processed: BTreeMap<(u32, u64), u32> = BTreeMap::new();
    let mut take = |c: &mut Consumer, commit: bool| -> anyhow::Result<u64> {
        let mut got = 0;
        for part in c.poll(Duration::from_millis(10))? {
            for r in &part.records {
                *processed.entry((part.partition, r.offset)).or_default() += 1;
            }
            got += part.records.len() as u64;
        }
        if commit {
            c.commit()?;
        }
        Ok(got)
    };
    // Both read and commit a few batches.
    for _ in 0..3 {
        take(&mut a, true)?;
        take(&mut b, true)?;
    }
    let (pa, pb): (Vec<u32>, Vec<u32>) = (
        a.positions().keys().copied().collect(),
        b.positions().keys().copied().collect(),
    );
    ctx.say(format!(
        "topic shipments: 4 partitions, {}; group shipping: member 1 reads partitions {}, \
         member 2 partitions {}, each committing after every batch of {}",
        count(n, "record"),
        join_u32(&pa),
        join_u32(&pb),
        fmt::count(batch as u64)
    ));
    let lost_batch = take(&mut a, false)?;
    let committed = log.committed_offsets("shipping", "shipments")?;
    drop(a);
    ctx.say(format!(
        "member 1 reads {} more and leaves without committing them, as a crashed member would",
        count(lost_batch, "record")
    ));
    while !b.caught_up()? {
        take(&mut b, true)?;
    }
    let resumed: Vec<String> = pa
        .iter()
        .map(|p| {
            let at = committed.get(p).copied().unwrap_or(0);
            format!("partition {p} at {}", fmt::count(at))
        })
        .collect();
    ctx.say(format!(
        "the group rebalanced: member 2 now owns partitions {}, and resumed member 1's \
         partitions at their committed offsets ({})",
        join_u32(&b.positions().keys().copied().collect::<Vec<_>>()),
        resumed.join(", ")
    ));
    let (again, lost) = check_once(&processed, &log.end_offsets("shipments")?)?;
    ctx.say(format!(
        "processed: every one of the {} at least once; {} twice (the uncommitted batch); lost: {lost}",
        count(n, "record"),
        fmt::count(again)
    ));
    Ok(())
}

fn join_u32(v: &[u32]) -> String {
    join(v)
}

/// Parse a line of `lk consume` text output: partition and offset.
fn partition_offset(line: &str) -> Option<(u32, u64)> {
    let mut f = line.split('\t');
    Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?))
}

/// An `lk consume --group` process reads, is killed mid-stream; a new member of its
/// group resumes from its committed offsets.
fn process_killed(ctx: &mut Ctx) -> anyhow::Result<()> {
    let n = ctx.size(60_000, 30_000);
    let stop_after = ctx.size(25_000, 15_000) as usize;
    let log = ctx.open_log()?;
    log.create_topic("payments", TopicConfig::with_partitions(2))?;
    produce(
        log.as_ref(),
        "payments",
        n,
        |i| format!("account-{}", i % 1_000),
        |i| format!("payment {i}"),
    )?;
    drop(log);
    ctx.say(format!(
        "topic payments: 2 partitions, {}",
        count(n, "record")
    ));
    let mut child = spawn(
        ctx,
        &[
            "consume",
            "payments",
            "--group",
            "payments-app",
            "--from-beginning",
        ],
    )?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no output from lk consume"))?;
    let mut lines = BufReader::new(stdout).lines();
    let mut processed: BTreeMap<(u32, u64), u32> = BTreeMap::new();
    for line in lines.by_ref().take(stop_after) {
        if let Some(po) = partition_offset(&line?) {
            *processed.entry(po).or_default() += 1;
        }
    }
    ctx.say(format!(
        "read {} of its output, then stopped reading: it blocks on the full pipe, mid-stream \
         (it commits after printing each batch of up to 10,000 records)",
        count(stop_after as u64, "line")
    ));
    kill(ctx, &mut child)?;
    // What it wrote into the pipe before it died was delivered too.
    for line in lines {
        if let Some(po) = partition_offset(&line?) {
            *processed.entry(po).or_default() += 1;
        }
    }
    let printed = processed.len() as u64;
    let log = ctx.open_log()?;
    let committed = log.committed_offsets("payments-app", "payments")?;
    let at: Vec<String> = committed
        .iter()
        .map(|(p, o)| format!("partition {p} at {}", fmt::count(*o)))
        .collect();
    ctx.say(format!(
        "it had printed {}; its group had committed {}",
        count(printed, "record"),
        at.join(", ")
    ));
    let mut c = Consumer::join(
        log.clone(),
        "payments-app",
        "payments",
        AssignmentStrategy::Range,
        StartFrom::Earliest,
    )?;
    let mut resumed = 0u64;
    while !c.caught_up()? {
        for part in c.poll(Duration::from_millis(10))? {
            for r in &part.records {
                *processed.entry((part.partition, r.offset)).or_default() += 1;
            }
            resumed += part.records.len() as u64;
        }
    }
    c.commit()?;
    let (again, lost) = check_once(&processed, &log.end_offsets("payments")?)?;
    ctx.say(format!(
        "a new member of payments-app resumed at the committed offsets and read {}",
        count(resumed, "record")
    ));
    ctx.say(format!(
        "every one of the {} was processed at least once; {} twice (printed after the last \
         commit, before the kill); lost: {lost}",
        count(n, "record"),
        fmt::count(again)
    ));
    Ok(())
}

/// The newest segment file (`*.log`) of partition 0 of `topic` in the embedded log at
/// `dir`.
fn active_segment(dir: &Path, topic: &str) -> anyhow::Result<PathBuf> {
    let pdir = dir.join("topics").join(topic).join("0");
    let mut logs: Vec<PathBuf> = std::fs::read_dir(&pdir)
        .map_err(|e| anyhow::anyhow!("list {}: {e}", pdir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    logs.pop()
        .ok_or_else(|| anyhow::anyhow!("no segment file in {}", pdir.display()))
}

/// Appends, then an append cut halfway through (as a crash mid-write leaves it); the log
/// cuts it when it opens and keeps every acknowledged record.
fn torn_write(ctx: &mut Ctx) -> anyhow::Result<()> {
    let log = EmbeddedLog::open(&ctx.dir)?;
    log.create_topic("ledger", TopicConfig::with_partitions(1))?;
    let now = master_log::now_ms();
    let batch = |from: u64| -> Vec<NewRecord> {
        (from..from + 100)
            .map(|i| NewRecord::keyed(format!("entry-{i}"), format!("ledger entry {i}"), now))
            .collect()
    };
    for b in 0..10 {
        log.append("ledger", 0, &batch(b * 100))?;
    }
    drop(log);
    let segment = active_segment(&ctx.dir, "ledger")?;
    let before = std::fs::metadata(&segment)?.len();
    // The partition's files before the 11th append: a crash in mid-write leaves them so,
    // plus part of the new batch at the end of the segment (the partition's manifest
    // does not count the batch yet, so recovery knows it was never acknowledged).
    let partition_dir = segment.parent().context("segment without a directory")?;
    let saved = read_dir_files(partition_dir)?;
    let log = EmbeddedLog::open(&ctx.dir)?;
    log.append("ledger", 0, &batch(1_000))?;
    drop(log);
    let written = std::fs::read(&segment)?;
    let after = written.len() as u64;
    let cut = before + (after - before) / 2;
    restore_dir_files(partition_dir, &saved)?;
    let mut f = std::fs::OpenOptions::new().append(true).open(&segment)?;
    std::io::Write::write_all(&mut f, &written[before as usize..cut as usize])?;
    drop(f);
    ctx.say(format!(
        "topic ledger: 10 appends of 100 records acknowledged; an 11th append of {} was \
         cut after {} of them, as a crash in mid-write leaves it",
        fmt::bytes(after - before),
        fmt::bytes(cut - before)
    ));
    // The next command to open the log recovers it, and says so.
    lk(ctx, &["topic", "describe", "ledger"])?;
    let log = EmbeddedLog::open(&ctx.dir)?;
    let records = read_partition(&log, "ledger", 0)?;
    let next = log.append("ledger", 0, &batch(1_000))?;
    ctx.say(format!(
        "after recovery: {} (offsets 0 to {}), every acknowledged one; the next append got \
         offset {}",
        count(records.len() as u64, "record"),
        fmt::count(records.len().saturating_sub(1) as u64),
        fmt::count(next.base_offset)
    ));
    anyhow::ensure!(
        records.len() == 1_000,
        "recovery kept {} records",
        records.len()
    );
    drop(log);
    lk(ctx, &["log", "verify"])?;
    Ok(())
}

/// The files of `dir` (not its subdirectories) with their bytes.
fn read_dir_files(dir: &Path) -> anyhow::Result<Vec<(PathBuf, Vec<u8>)>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_file() {
            let bytes = std::fs::read(&path)?;
            files.push((path, bytes));
        }
    }
    Ok(files)
}

/// Make the files of `dir` exactly `files` again (as [`read_dir_files`] read them).
fn restore_dir_files(dir: &Path, files: &[(PathBuf, Vec<u8>)]) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_file() && !files.iter().any(|(p, _)| *p == path) {
            std::fs::remove_file(&path)?;
        }
    }
    for (path, bytes) in files {
        std::fs::write(path, bytes)?;
    }
    Ok(())
}
