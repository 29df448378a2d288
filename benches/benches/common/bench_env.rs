//! What several benches share: the log benches' record batch and sequential read, the
//! event count they run with, and the check that a YSB Kappa table counts each applied event once.
#![allow(dead_code)] // each bench uses what it needs

use anyhow::{Result, anyhow, ensure};
use std::path::Path;

use master_log::{
    Bytes, EmbeddedLog, FetchLimits, FsyncPolicy, Log, LogOptions, NewRecord, TopicConfig, now_ms,
};

/// Key and value sizes of [`batch`]'s records, and its length.
pub const KEY_LEN: usize = 8;
pub const VALUE_LEN: usize = 100;
pub const BATCH: usize = 1_000;

/// `BATCH` records with distinct 8-byte keys and 100-byte values whose event times spread
/// over one second (1 ms apart), as a producer's batch would.
pub fn batch(seed: u64) -> Vec<NewRecord> {
    let t0 = now_ms();
    (0..BATCH as u64)
        .map(|i| {
            let n = seed * BATCH as u64 + i;
            let key = format!("{:08}", n % 100_000_000);
            debug_assert_eq!(key.len(), KEY_LEN);
            let mut value = vec![0u8; VALUE_LEN];
            value[..8].copy_from_slice(&n.to_le_bytes());
            for (j, b) in value[8..].iter_mut().enumerate() {
                *b = (n as u8).wrapping_add(j as u8);
            }
            NewRecord::keyed(Bytes::from(key), Bytes::from(value), t0 + i as i64)
        })
        .collect()
}

/// An embedded log in `dir` syncing by `fsync`, with `topic` created: `partitions`
/// partitions, `retention` bytes kept per partition (`None`: all).
pub fn open_log(
    dir: &Path,
    topic: &str,
    fsync: FsyncPolicy,
    partitions: u32,
    retention: Option<u64>,
) -> Result<EmbeddedLog> {
    let options = LogOptions {
        fsync,
        ..LogOptions::default()
    };
    let log = EmbeddedLog::open_with(dir, options)?;
    let config = TopicConfig {
        retention_bytes: retention,
        ..TopicConfig::with_partitions(partitions)
    };
    log.create_topic(topic, config)?;
    Ok(log)
}

/// Let the disk settle: write back every dirty page of the machine, so that a benchmark
/// does not pay for the writeback of the one before it.
pub fn settle() {
    let _ = std::process::Command::new("sync").status();
}

/// Events of a full run: `LK_BENCH_EVENTS` (underscores allowed: `10_000_000`) or
/// `default`.
/// Read partition 0 of `topic` from offset 0 to its end with `fetch` (`limits` per call).
/// Returns the records read and a checksum of their offsets and value lengths.
pub fn read_all(log: &dyn Log, topic: &str, limits: FetchLimits) -> (u64, u64) {
    let end = log.end_offsets(topic).expect("end offsets")[0];
    let (mut offset, mut n, mut sum) = (0u64, 0u64, 0u64);
    while offset < end {
        let records = log.fetch(topic, 0, offset, limits).expect("fetch");
        let Some(last) = records.last() else { break };
        offset = last.offset + 1;
        n += records.len() as u64;
        for r in &records {
            sum = sum.wrapping_add(r.offset ^ r.value.as_ref().map_or(0, |v| v.len() as u64));
        }
        std::hint::black_box(&records);
    }
    (n, sum)
}

/// [`read_all`] with [`Log::fetch_each`], as the pipelines read: each record shown where
/// the log read it, no `Record` made. Returns the same count and checksum.
pub fn read_all_each(log: &dyn Log, topic: &str, limits: FetchLimits) -> (u64, u64) {
    let end = log.end_offsets(topic).expect("end offsets")[0];
    let (mut offset, mut n, mut sum) = (0u64, 0u64, 0u64);
    while offset < end {
        let shown = log
            .fetch_each(topic, 0, offset, limits, &mut |r| {
                sum = sum.wrapping_add(r.offset ^ r.value.map_or(0, |v| v.len() as u64));
                offset = r.offset + 1;
                std::ops::ControlFlow::Continue(())
            })
            .expect("fetch_each");
        if shown == 0 {
            break;
        }
        n += shown as u64;
    }
    (n, sum)
}

pub fn events_from_env(default: u64) -> Result<u64> {
    match std::env::var("LK_BENCH_EVENTS") {
        Ok(v) => {
            let n: u64 = v
                .replace('_', "")
                .parse()
                .map_err(|e| anyhow!("LK_BENCH_EVENTS={v:?} is not a number: {e}"))?;
            ensure!(n > 0, "LK_BENCH_EVENTS must be positive");
            Ok(n)
        }
        Err(_) => Ok(default),
    }
}

/// A `ysb-campaign-10s` Kappa table counts every event it applied once, and none late.
pub fn check_ysb_counts(table: &kappa::OutputTable) -> Result<()> {
    let views: u64 = table
        .table
        .iter()
        .map(|(_, _, p)| match p.first() {
            Some(workloads::Partial::Count(n)) => *n,
            _ => 0,
        })
        .sum();
    ensure!(
        views == table.events && table.late_events == 0,
        "the table counts {views} views of {} events applied ({} late)",
        table.events,
        table.late_events
    );
    Ok(())
}
