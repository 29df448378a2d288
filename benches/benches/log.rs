//! Throughput of the embedded master log: append, sequential read, keyed produce, and
//! durable appends from several threads next to `dd` on the same disk.
//!
//! ```text
//! cargo bench -p lk-benches --bench log                       # everything
//! cargo bench -p lk-benches --bench log -- append/            # one group
//! cargo bench -p lk-benches --bench log -- append_durable     # the durable appends
//! cargo bench -p lk-benches --bench log -- --save-baseline before
//! cargo bench -p lk-benches --bench log -- --baseline before  # compare with it
//! ```
//!
//! Every record is an 8-byte key and a 100-byte value; appends and produces send 1,000
//! records per call. Each benchmark opens its own log in a fresh temporary directory,
//! with the default 64 MiB segments: the append and produce benchmarks roll segments
//! many times while they run, and delete old ones by retention (`RETENTION_BYTES`).
//! Before each of them the bench runs `sync`, so that none pays for the writeback of the
//! data of the one before. After the `append/fsync_never` benchmark the bench prints the
//! framing overhead: bytes of segment files on disk per record beyond key and value.
//!
//! `append_durable` appends with `FsyncPolicy::Always` from 1, 2, 4, 8 and 32 threads to
//! one partition, and from 4, 8, 32 and 64 threads to 4 partitions of one topic, in MB/s of
//! segment bytes: each thread has one append in flight, so the threads are the sweep of
//! what a sync can cover (the producers of a broker, each waiting for its ack). Before each of them, `dd` writes to the same directory (`conv=fdatasync`: 512
//! MiB and one `fdatasync`; `oflag=dsync` with writes of one batch, and of 8 batches: a
//! sync per write); after each benchmark the bench prints its MB/s over the whole run, its ratio
//! to each `dd` figure, and how many appends each `fdatasync` covered (group commit:
//! appends that arrive while a sync runs share the next one).
//!
//! Under `cargo test --benches` criterion runs each routine once, as a smoke test.

#[path = "common/bench_env.rs"]
mod bench_env;

use std::cell::{Cell, OnceCell};
use std::path::Path;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, SamplingMode, Throughput, black_box};
use master_log::{EmbeddedLog, FetchLimits, FsyncPolicy, Log, LogOptions, NewRecord, TopicConfig};

use bench_env::{BATCH, KEY_LEN, VALUE_LEN, batch, read_all};
/// Records in the partition the read benchmark scans.
const READ_RECORDS: u64 = 1_000_000;
const TOPIC: &str = "bench";

/// Retention of the append and produce benchmarks' topics, per partition: old segments
/// are deleted as new ones roll, so that a benchmark writing gigabytes keeps only a few
/// hundred MiB of (mostly not yet written back) files. Without it the figures measure how
/// fast this machine's disk absorbs the page cache's dirty pages, not the log.
const RETENTION_BYTES: u64 = 256 * 1024 * 1024;

fn open(dir: &Path, fsync: FsyncPolicy, partitions: u32, retention: Option<u64>) -> EmbeddedLog {
    let log = EmbeddedLog::open_with(
        dir,
        LogOptions {
            fsync,
            ..LogOptions::default()
        },
    )
    .expect("open log");
    let config = TopicConfig {
        retention_bytes: retention,
        ..TopicConfig::with_partitions(partitions)
    };
    log.create_topic(TOPIC, config).expect("create topic");
    log
}

/// Let the disk settle: write back every dirty page of the machine, so that a benchmark
/// does not pay for the writeback of the one before it.
fn settle() {
    let _ = std::process::Command::new("sync").status();
}

/// Bytes of the `.log` files and of the index files under `dir`, recursively.
fn disk_bytes(dir: &Path) -> (u64, u64) {
    let (mut log, mut index) = (0, 0);
    for entry in std::fs::read_dir(dir).expect("list dir") {
        let entry = entry.expect("list dir");
        let path = entry.path();
        let meta = entry.metadata().expect("stat");
        if meta.is_dir() {
            let (l, i) = disk_bytes(&path);
            log += l;
            index += i;
        } else {
            match path.extension().and_then(|e| e.to_str()) {
                Some("log") => log += meta.len(),
                Some("index" | "timeindex") => index += meta.len(),
                _ => {}
            }
        }
    }
    (log, index)
}

/// Print the framing overhead of what the append benchmark wrote to partition 0.
fn report_framing(log: &EmbeddedLog, dir: &Path) {
    log.flush().expect("flush");
    let desc = log.describe_topic(TOPIC).expect("describe");
    let p = &desc.partitions[0];
    let records = p.latest - p.earliest;
    if records == 0 {
        return; // the benchmark was filtered out
    }
    let (log_bytes, index_bytes) = disk_bytes(&dir.join("topics").join(TOPIC).join("0"));
    assert_eq!(
        log_bytes, p.bytes,
        "segment sizes on disk and in the log agree"
    );
    let payload = records * (KEY_LEN + VALUE_LEN) as u64;
    println!(
        "framing: {records} records in {} segments, {log_bytes} bytes of segments \
         ({payload} of key+value): {:.3} bytes/record of framing; indexes add {:.3} bytes/record",
        p.segments,
        (log_bytes - payload) as f64 / records as f64,
        index_bytes as f64 / records as f64,
    );
}

fn append(c: &mut Criterion) {
    let mut group = c.benchmark_group("append");
    group
        .throughput(Throughput::Elements(BATCH as u64))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    let records = batch(0);
    for (name, fsync) in [
        ("fsync_never", FsyncPolicy::Never),
        ("fsync_always", FsyncPolicy::Always),
    ] {
        settle();
        let dir = tempfile::tempdir().expect("tempdir");
        let log = open(dir.path(), fsync, 1, Some(RETENTION_BYTES));
        group.bench_function(name, |b| {
            b.iter(|| black_box(log.append(TOPIC, 0, black_box(&records)).expect("append")))
        });
        let p = log.describe_topic(TOPIC).expect("describe").partitions[0];
        println!(
            "append/{name}: {} records appended; the partition ended with {} segments \
             (older ones deleted by retention)",
            p.latest, p.segments
        );
        if fsync == FsyncPolicy::Never {
            report_framing(&log, dir.path());
        }
    }
    group.finish();
}

/// Read the partition from 0 to its end with `fetch`, `chunk` records at a time.
fn read_chunks(log: &EmbeddedLog, chunk: usize) -> (u64, u64) {
    let limits = FetchLimits {
        max_records: chunk,
        ..FetchLimits::default()
    };
    read_all(log, TOPIC, limits)
}

fn read(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open(dir.path(), FsyncPolicy::Never, 1, None);
    // Under `cargo test --benches` a smaller partition keeps the smoke test quick.
    let total = if std::env::args().any(|a| a == "--bench") {
        READ_RECORDS
    } else {
        10 * BATCH as u64
    };
    for i in 0..total / BATCH as u64 {
        log.append(TOPIC, 0, &batch(i)).expect("fill");
    }
    let mut group = c.benchmark_group("read");
    group
        .throughput(Throughput::Elements(total))
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    for chunk in [10_000, 1_000] {
        assert_eq!(
            read_chunks(&log, chunk).0,
            total,
            "a scan reads every record"
        );
        group.bench_function(format!("fetch_{chunk}"), |b| {
            b.iter(|| black_box(read_chunks(&log, chunk)))
        });
    }
    group.finish();
}

fn produce(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    settle();
    let log = open(dir.path(), FsyncPolicy::Never, 4, Some(RETENTION_BYTES));
    let records = batch(0);
    let mut group = c.benchmark_group("produce");
    group
        .throughput(Throughput::Elements(BATCH as u64))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    group.bench_function("keyed_4_partitions", |b| {
        b.iter_batched(
            || records.clone(),
            |recs| black_box(log.produce(TOPIC, recs).expect("produce")),
            BatchSize::SmallInput,
        )
    });
    group.finish();
    let spread: Vec<u64> = log.end_offsets(TOPIC).expect("end offsets");
    println!("produce/keyed_4_partitions: records per partition {spread:?}");
}

/// What `dd` writes to the disk of the log's directory: MB/s (10^6 bytes per second),
/// the same 10^6 `dd` prints, but computed from its byte count and seconds.
#[derive(Debug, Clone, Copy)]
struct DdPeer {
    /// `bs=1M count=512 conv=fdatasync`: 512 MiB through the page cache, one
    /// `fdatasync` at the end.
    fdatasync_mb_s: f64,
    /// `bs=<one batch> oflag=dsync`: every write of one batch synced before the next.
    dsync_batch_mb_s: f64,
    /// `bs=<8 batches> oflag=dsync`: what one sync covering 8 batches can reach.
    dsync_8_batches_mb_s: f64,
}

/// Run `dd if=/dev/zero of=DIR/dd.out bs=BS count=COUNT FLAG` and return its MB/s;
/// `None` when there is no `dd` or its output is not understood.
fn dd_mb_s(dir: &Path, bs: u64, count: u64, flag: &str) -> Option<f64> {
    let out = dir.join("dd.out");
    let run = std::process::Command::new("dd")
        .arg("if=/dev/zero")
        .arg(format!("of={}", out.display()))
        .arg(format!("bs={bs}"))
        .arg(format!("count={count}"))
        .arg(flag)
        .output();
    let _ = std::fs::remove_file(&out);
    let run = run.ok().filter(|r| r.status.success())?;
    // "536870912 bytes (537 MB, 512 MiB) copied, 0.61 s, 880 MB/s"
    let text = String::from_utf8_lossy(&run.stderr);
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

/// Measure the dd peers in `dir` (smaller runs under `cargo test --benches`), before the
/// benchmark `before`.
fn dd_peer(dir: &Path, batch_bytes: u64, full: bool, before: &str) -> Option<DdPeer> {
    let (mib, syncs) = if full { (512, 300) } else { (8, 10) };
    settle();
    let fdatasync_mb_s = dd_mb_s(dir, 1 << 20, mib, "conv=fdatasync")?;
    let dsync_batch_mb_s = dd_mb_s(dir, batch_bytes, syncs, "oflag=dsync")?;
    let dsync_8_batches_mb_s = dd_mb_s(dir, 8 * batch_bytes, syncs / 4, "oflag=dsync")?;
    let peer = DdPeer {
        fdatasync_mb_s,
        dsync_batch_mb_s,
        dsync_8_batches_mb_s,
    };
    println!(
        "dd before append_durable/{before}: bs=1M count={mib} conv=fdatasync \
         {fdatasync_mb_s:.1} MB/s; bs={batch_bytes} (one batch) count={syncs} oflag=dsync {dsync_batch_mb_s:.1} MB/s \
         ({:.2} ms per synced write); bs={} (8 batches) count={} oflag=dsync \
         {dsync_8_batches_mb_s:.1} MB/s ({:.2} ms per synced write)",
        batch_bytes as f64 / dsync_batch_mb_s / 1e3,
        8 * batch_bytes,
        syncs / 4,
        8.0 * batch_bytes as f64 / dsync_8_batches_mb_s / 1e3,
    );
    Some(peer)
}

/// Bytes one batch of [`batch`] takes in a segment file (the framing included).
fn batch_bytes(records: &[NewRecord]) -> u64 {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open(dir.path(), FsyncPolicy::Never, 1, None);
    log.append(TOPIC, 0, records).expect("append");
    log.describe_topic(TOPIC).expect("describe").partitions[0].bytes
}

/// `threads` threads append `iters` batches each, thread `i` to partition
/// `i % partitions`, all released at once; the time until the last append returned.
fn append_concurrently(
    log: &EmbeddedLog,
    records: &[NewRecord],
    threads: u32,
    partitions: u32,
    iters: u64,
) -> Duration {
    let barrier = Barrier::new(threads as usize + 1);
    let start = std::thread::scope(|s| {
        for t in 0..threads {
            let barrier = &barrier;
            s.spawn(move || {
                barrier.wait();
                for _ in 0..iters {
                    black_box(log.append(TOPIC, t % partitions, records).expect("append"));
                }
            });
        }
        barrier.wait();
        Instant::now()
    });
    start.elapsed()
}

/// Durable appends (`FsyncPolicy::Always`: each append is on disk before it returns)
/// from several threads at once, in MB/s of segment bytes, next to `dd` on the same disk
/// measured in the same run.
fn append_durable(c: &mut Criterion) {
    let records = batch(0);
    let bytes = batch_bytes(&records);
    let full = std::env::args().any(|a| a == "--bench");
    let mut group = c.benchmark_group("append_durable");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for (threads, partitions) in [
        (1, 1),
        (2, 1),
        (4, 1),
        (8, 1),
        (32, 1),
        (4, 4),
        (8, 4),
        (32, 4),
        (64, 4),
    ] {
        let name = format!("{threads}_threads_{partitions}_partitions");
        group.throughput(Throughput::BytesDecimal(bytes * u64::from(threads)));
        let dir = tempfile::tempdir().expect("tempdir");
        let log = open(
            dir.path(),
            FsyncPolicy::Always,
            partitions,
            Some(RETENTION_BYTES),
        );
        let (spent, appends) = (Cell::new(Duration::ZERO), Cell::new(0u64));
        let peer = OnceCell::new();
        group.bench_function(&name, |b| {
            // This disk's sync costs change from minute to minute (other I/O on the host):
            // the peer is measured just before the benchmark (unless a filter leaves it
            // out), in its directory, outside the routine that criterion times.
            peer.get_or_init(|| {
                let peer = dd_peer(dir.path(), bytes, full, &name);
                settle();
                peer
            });
            b.iter_custom(|iters| {
                let t = append_concurrently(&log, &records, threads, partitions, iters);
                spent.set(spent.get() + t);
                appends.set(appends.get() + iters * u64::from(threads));
                t
            })
        });
        if appends.get() == 0 {
            continue; // filtered out
        }
        let mb_s = (appends.get() * bytes) as f64 / spent.get().as_secs_f64() / 1e6;
        let ratios = peer.get().copied().flatten().map_or_else(
            || "no dd figure".to_owned(),
            |p| {
                format!(
                    "{:.0} % of dd conv=fdatasync, {:.0} % of dd oflag=dsync of one batch, \
                     {:.0} % of dd oflag=dsync of 8 batches",
                    100.0 * mb_s / p.fdatasync_mb_s,
                    100.0 * mb_s / p.dsync_batch_mb_s,
                    100.0 * mb_s / p.dsync_8_batches_mb_s,
                )
            },
        );
        let stats = log.sync_stats(TOPIC).expect("sync stats");
        println!(
            "append_durable/{name}: {} appends of {bytes} bytes, {mb_s:.1} MB/s over the \
             whole run (warm-up included): {ratios}; {} fdatasyncs, {:.2} appends per sync",
            appends.get(),
            stats.syncs,
            stats.durable_appends as f64 / stats.syncs.max(1) as f64,
        );
    }
    group.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    append(&mut c);
    read(&mut c);
    produce(&mut c);
    append_durable(&mut c);
    c.final_summary();
}
