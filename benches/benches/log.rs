//! Throughput of the embedded master log: append, sequential read and keyed produce.
//!
//! ```text
//! cargo bench -p lk-benches --bench log                       # everything
//! cargo bench -p lk-benches --bench log -- append/            # one group
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
//! Durable appends (`FsyncPolicy::Always`, group commit) next to `dd` are the `durable`
//! bench (`benches/durable.rs`).
//!
//! Under `cargo test --benches` criterion runs each routine once, as a smoke test.

#[path = "common/bench_env.rs"]
mod bench_env;

use std::path::Path;
use std::time::Duration;

use criterion::{BatchSize, Criterion, SamplingMode, Throughput, black_box};
use master_log::{EmbeddedLog, FetchLimits, FsyncPolicy, Log};

use bench_env::{BATCH, KEY_LEN, VALUE_LEN, batch, open_log, read_all, read_all_each, settle};
/// Records in the partition the read benchmark scans.
const READ_RECORDS: u64 = 1_000_000;
const TOPIC: &str = "bench";

/// Retention of the append and produce benchmarks' topics, per partition: old segments
/// are deleted as new ones roll, so that a benchmark writing gigabytes keeps only a few
/// hundred MiB of (mostly not yet written back) files. Without it the figures measure how
/// fast this machine's disk absorbs the page cache's dirty pages, not the log.
const RETENTION_BYTES: u64 = 256 * 1024 * 1024;

fn open(dir: &Path, fsync: FsyncPolicy, partitions: u32, retention: Option<u64>) -> EmbeddedLog {
    open_log(dir, TOPIC, fsync, partitions, retention).expect("open log")
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
    // The same scan as the pipelines read: records shown where the log read them.
    let limits = FetchLimits::default();
    assert_eq!(
        read_all_each(&log, TOPIC, limits),
        read_all(&log, TOPIC, limits),
        "fetch_each shows what fetch returns"
    );
    group.bench_function("fetch_each_10000", |b| {
        b.iter(|| black_box(read_all_each(&log, TOPIC, limits)))
    });
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

fn main() {
    let mut c = Criterion::default().configure_from_args();
    append(&mut c);
    read(&mut c);
    produce(&mut c);
    c.final_summary();
}
