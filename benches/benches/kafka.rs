//! The Kafka backend (`master_log::KafkaLog`) against a Kafka-protocol broker, with the
//! embedded log (`master_log::EmbeddedLog`, in a temporary directory) as the reference
//! member of every group.
//!
//! ```text
//! scripts/with-kafka.sh cargo bench -p lk-benches --bench kafka                   # everything
//! scripts/with-kafka.sh cargo bench -p lk-benches --bench kafka -- kafka_consume  # one group
//! ```
//!
//! The broker's address comes from `LK_KAFKA_BROKERS` (`HOST:PORT[,HOST:PORT]`), which
//! `scripts/with-kafka.sh` sets after starting tansu in memory on a free port. Without it
//! the bench fails (it never passes silently), unless a filter leaves out every group.
//! The log connects with `KafkaOptions::default()` (idempotent producer, `acks=all`,
//! `linger.ms` 5, no compression) and `tansu_compat` on; set `LK_KAFKA_EXACT=1` against
//! a broker that needs no workaround (Apache Kafka, Redpanda). Every topic, and every
//! Kappa job version, is new to the broker (named after the process id and the clock):
//! the broker may be shared.
//!
//! Groups (the members of one group do the same work on the two logs):
//!
//! - `kafka_produce`: `Log::produce` of 1,000 keyed records (8-byte key, 100-byte value)
//!   to a topic of 4 partitions (`embedded`, `kafka`), and `Log::append` of the same
//!   1,000 records to one partition of it (`embedded_append`, `kafka_append`). A
//!   `KafkaLog` produce is one append per partition, one after the other, and each append
//!   waits for the delivery reports of all its records. The embedded topic has the
//!   retention of the `log` bench (256 MiB per partition) and `FsyncPolicy::Never`.
//! - `kafka_consume`: sequential `fetch` (default `FetchLimits`: up to 10,000 records per
//!   call) of a pre-filled one-partition topic from offset 0 to its end (200,000 of the
//!   same records), `embedded` and `kafka`.
//! - `kappa_on_kafka`: a new `kappa::Job` for `ysb-campaign-10s` (redb stores, 2 worker
//!   threads, default checkpoints, 70 s of allowed lateness) from `Job::new` to the return
//!   of `run_until_caught_up`, over the same YSB topic generated with `datasets::generate`
//!   into each log (`LK_BENCH_EVENTS` events, default 200,000; 2 partitions, 5 % out of
//!   order, 1 % late, 1 % duplicates), `embedded` and `kafka`. Every iteration is a new
//!   job version in a fresh directory (no state, no table, its own consumer group and
//!   changelog); after the timing its changelog and late-events topics are deleted, and
//!   its answer must equal the first embedded run's.
//!
//! Criterion reports records (events) per second (`Throughput::Elements`; one throughput
//! per group is all criterion allows). After each group the bench prints, per member,
//! the median over criterion's samples of the time per iteration, as records/s and as
//! MB/s (10^6 bytes) of the 100-byte values and of key + value; for `kappa_on_kafka`
//! events/s and the kafka ÷ embedded ratio.
//!
//! `cargo bench` passes `--bench`; without it (as under `cargo test --benches`) criterion
//! runs each routine once, the consumed partition holds 10,000 records and the YSB topic
//! 3,000 events; the broker is needed all the same.

#[path = "common/bench_env.rs"]
mod bench_env;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail, ensure};
use criterion::{BenchmarkGroup, Criterion, SamplingMode, Throughput, black_box};
use datasets::{DatasetKind, GenerateOptions};
use kappa::{Job, JobConfig};
use lk_benches::median;
use master_log::{
    EmbeddedLog, FetchLimits, FsyncPolicy, KafkaLog, KafkaOptions, Log, LogOptions, NewRecord,
    TopicConfig,
};
use workloads::{BuiltIn, ResultSet, Workload};

use bench_env::{BATCH, KEY_LEN, VALUE_LEN, batch, read_all};
const PRODUCE_PARTITIONS: u32 = 4;
/// Records in the partition the consume benchmark reads (full run, quick run).
const CONSUME_RECORDS: (u64, u64) = (200_000, 10_000);
/// YSB events of the Kappa benchmark (full run unless `LK_BENCH_EVENTS`, quick run).
const KAPPA_EVENTS: (u64, u64) = (200_000, 3_000);
const KAPPA_PARTITIONS: u32 = 2;
const ALLOWED_LATENESS_MS: i64 = 70_000;
/// Retention of the embedded produce topic, per partition (as in the `log` bench).
const RETENTION_BYTES: u64 = 256 * 1024 * 1024;
const SAMPLES: usize = 10;

const GROUPS: [(&str, &[&str]); 3] = [
    (
        "kafka_produce",
        &["embedded", "kafka", "embedded_append", "kafka_append"],
    ),
    ("kafka_consume", &["embedded", "kafka"]),
    ("kappa_on_kafka", &["embedded", "kafka"]),
];

fn full_run() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// Whether a filter given on the command line can select a member of `group` (a filter
/// with regex syntax is not interpreted: the group is set up).
fn selected(filter: Option<&str>, group: &str) -> bool {
    let Some(f) = filter else { return true };
    if f.contains(|c: char| "\\^$.|?*+()[]{}".contains(c)) {
        return true;
    }
    GROUPS
        .iter()
        .filter(|(g, _)| *g == group)
        .any(|(g, members)| members.iter().any(|m| format!("{g}/{m}").contains(f)))
}

/// A name no earlier run on a shared broker used: `prefix-PID-NANOS` (hex).
fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    format!("{prefix}-{}-{nanos:x}", std::process::id())
}

fn connect_kafka() -> Result<KafkaLog> {
    let brokers = match std::env::var("LK_KAFKA_BROKERS") {
        Ok(b) if !b.trim().is_empty() => b,
        _ => bail!(
            "LK_KAFKA_BROKERS is not set: the `kafka` bench needs a Kafka-protocol broker \
             (HOST:PORT); run it through scripts/with-kafka.sh, e.g. \
             `scripts/with-kafka.sh cargo bench -p lk-benches --bench kafka`"
        ),
    };
    let options = KafkaOptions {
        tansu_compat: std::env::var_os("LK_KAFKA_EXACT").is_none(),
        ..KafkaOptions::default()
    };
    KafkaLog::connect(&format!("kafka://{brokers}"), options)
        .with_context(|| format!("connect to the Kafka broker at {brokers}"))
}

fn open_embedded(dir: &Path) -> Result<EmbeddedLog> {
    Ok(EmbeddedLog::open_with(
        dir,
        LogOptions {
            fsync: FsyncPolicy::Never,
            ..LogOptions::default()
        },
    )?)
}

/// The time of each iteration criterion asked for, per call of the routine; the last
/// `SAMPLES` calls are the measurement (the ones before, the warm-up).
#[derive(Default)]
struct Samples(Vec<(u64, Duration)>);

impl Samples {
    fn record(&mut self, iters: u64, elapsed: Duration) -> Duration {
        self.0.push((iters, elapsed));
        elapsed
    }

    /// Median seconds per iteration over the measurement samples.
    fn median_secs(&self) -> Option<f64> {
        let measured = &self.0[self.0.len().saturating_sub(SAMPLES)..];
        (!measured.is_empty()).then(|| {
            median(
                measured
                    .iter()
                    .map(|(n, d)| d.as_secs_f64() / (*n).max(1) as f64)
                    .collect(),
            )
        })
    }
}

/// Print a member's median records/s and MB/s (of values, and of key + value).
fn report_records(id: &str, samples: &Samples, records: u64) {
    let Some(secs) = samples.median_secs() else {
        return;
    };
    let rate = records as f64 / secs;
    println!(
        "{id}: median {:.3} ms per iteration: {:.0} records/s, {:.2} MB/s of values, \
         {:.2} MB/s of key+value",
        secs * 1e3,
        rate,
        rate * VALUE_LEN as f64 / 1e6,
        rate * (KEY_LEN + VALUE_LEN) as f64 / 1e6,
    );
}

fn configure(group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>, measure_s: u64) {
    group
        .sample_size(SAMPLES)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(measure_s));
}

// ------------------------------------------------------------------- produce

fn produce(c: &mut Criterion, kafka: &KafkaLog) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let embedded = open_embedded(dir.path())?;
    let topic = unique("lk-bench-produce");
    embedded.create_topic(
        &topic,
        TopicConfig {
            retention_bytes: Some(RETENTION_BYTES),
            ..TopicConfig::with_partitions(PRODUCE_PARTITIONS)
        },
    )?;
    kafka.create_topic(&topic, TopicConfig::with_partitions(PRODUCE_PARTITIONS))?;
    let records = batch(0);
    // Not timed: the idempotent producer's first append waits for its producer id (about
    // 1 s with tansu), and the first append to each partition looks up its leader.
    kafka.produce(&topic, records.clone())?;
    let logs: [(&str, &dyn Log); 2] = [("embedded", &embedded), ("kafka", kafka)];

    let mut group = c.benchmark_group("kafka_produce");
    configure(&mut group, 5);
    group.throughput(Throughput::Elements(BATCH as u64));
    let mut lines = Vec::new();
    for (name, log) in logs {
        let mut samples = Samples::default();
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                // `produce` takes its records by value: copies are made before the timing,
                // 100 batches at a time (the embedded log asks for thousands of iterations).
                let mut elapsed = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let n = left.min(100);
                    left -= n;
                    let batches: Vec<Vec<NewRecord>> = (0..n).map(|_| records.clone()).collect();
                    let started = Instant::now();
                    for recs in batches {
                        black_box(log.produce(&topic, recs).expect("produce"));
                    }
                    elapsed += started.elapsed();
                }
                samples.record(iters, elapsed)
            })
        });
        lines.push((format!("kafka_produce/{name}"), samples));
    }
    for (name, log) in logs {
        let mut samples = Samples::default();
        group.bench_function(format!("{name}_append"), |b| {
            b.iter_custom(|iters| {
                let started = Instant::now();
                for _ in 0..iters {
                    black_box(log.append(&topic, 0, black_box(&records)).expect("append"));
                }
                samples.record(iters, started.elapsed())
            })
        });
        lines.push((format!("kafka_produce/{name}_append"), samples));
    }
    group.finish();
    if full_run() {
        for (id, samples) in &lines {
            report_records(id, samples, BATCH as u64);
        }
        println!(
            "kafka_produce: records per partition: embedded {:?}, kafka {:?}",
            embedded.end_offsets(&topic)?,
            kafka.end_offsets(&topic)?
        );
    }
    kafka.delete_topic(&topic)?;
    Ok(())
}

// ------------------------------------------------------------------- consume

fn consume(c: &mut Criterion, kafka: &KafkaLog) -> Result<()> {
    let total = if full_run() {
        CONSUME_RECORDS.0
    } else {
        CONSUME_RECORDS.1
    };
    let dir = tempfile::tempdir()?;
    let embedded = open_embedded(dir.path())?;
    let topic = unique("lk-bench-consume");
    let logs: [(&str, &dyn Log); 2] = [("embedded", &embedded), ("kafka", kafka)];
    for (name, log) in logs {
        let started = Instant::now();
        log.create_topic(&topic, TopicConfig::with_partitions(1))?;
        for i in 0..total / BATCH as u64 {
            log.append(&topic, 0, &batch(i))?;
        }
        let (n, _) = read_all(log, &topic, FetchLimits::default());
        ensure!(n == total, "{name}: a scan reads {n} of {total} records");
        println!(
            "kafka_consume/{name}: {total} records written and read once in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    let mut group = c.benchmark_group("kafka_consume");
    configure(&mut group, 5);
    group
        .throughput(Throughput::Elements(total))
        .sampling_mode(SamplingMode::Flat);
    let mut lines = Vec::new();
    for (name, log) in logs {
        let mut samples = Samples::default();
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let started = Instant::now();
                for _ in 0..iters {
                    black_box(read_all(log, &topic, FetchLimits::default()));
                }
                samples.record(iters, started.elapsed())
            })
        });
        lines.push((format!("kafka_consume/{name}"), samples));
    }
    group.finish();
    if full_run() {
        for (id, samples) in &lines {
            report_records(id, samples, total);
        }
    }
    kafka.delete_topic(&topic)?;
    Ok(())
}

// ------------------------------------------------------------------- kappa

fn kappa_events() -> Result<u64> {
    if !full_run() {
        return Ok(KAPPA_EVENTS.1);
    }
    bench_env::events_from_env(KAPPA_EVENTS.0)
}

/// What a Kappa run computed: view events applied, duplicates dropped, the answer.
type Outcome = (u64, u64, ResultSet);

/// One new job version over `topic` from offset 0 until caught up. Returns the time from
/// `Job::new` to the return of `run_until_caught_up`, and what the job computed; its
/// changelog and late-events topics are deleted after the timing.
fn kappa_run(
    log: &Arc<dyn Log>,
    topic: &str,
    sidecars: &Path,
    version: u32,
) -> Result<(Duration, Outcome)> {
    let dir = tempfile::tempdir()?;
    let workload = Workload::BuiltIn(BuiltIn::YsbCampaign10s);
    let config = JobConfig {
        version,
        allowed_lateness_ms: ALLOWED_LATENESS_MS,
        ..JobConfig::new(topic, dir.path().join("kappa"), sidecars)
    };
    let started = Instant::now();
    let job = Job::new(log.clone(), workload.clone(), config)?;
    let report = job.run_until_caught_up()?;
    let elapsed = started.elapsed();
    ensure!(report.status.caught_up, "the job caught up");
    let table = job.table()?;
    bench_env::check_ysb_counts(&table)?;
    let answer = workload.finish(&table.table)?;
    let name = job.name().to_owned();
    drop(job);
    for t in [kappa::changelog_topic(&name), kappa::late_topic(&name)] {
        log.delete_topic(&t)?;
    }
    Ok((elapsed, (table.events, table.duplicates, answer)))
}

fn kappa_on_kafka(c: &mut Criterion, kafka: &KafkaLog) -> Result<()> {
    let events = kappa_events()?;
    let dir = tempfile::tempdir()?;
    let embedded = EmbeddedLog::open(dir.path().join("log"))?;
    let topic = unique("lk-bench-ysb");
    let opts = GenerateOptions {
        partitions: KAPPA_PARTITIONS,
        out_of_order: 0.05,
        max_delay_ms: 2_000,
        late: 0.01,
        late_delay_ms: 30_000,
        duplicates: 0.01,
        ..GenerateOptions::new(DatasetKind::Ysb, &topic, events)
    };
    let logs: [(&str, Arc<dyn Log>); 2] = [
        ("embedded", Arc::new(embedded.clone())),
        ("kafka", Arc::new(kafka.clone())),
    ];
    let mut sidecars = Vec::new();
    for (name, log) in &logs {
        let dir = dir.path().join(format!("datasets-{name}"));
        let started = Instant::now();
        let s = datasets::generate(log.as_ref(), &opts, Some(&dir), &mut datasets::no_progress)?;
        println!(
            "kappa_on_kafka/{name}: {} YSB events ({} records, {} partitions) generated in {:.1} s",
            s.events,
            s.records,
            s.partitions,
            started.elapsed().as_secs_f64()
        );
        sidecars.push(dir);
    }
    ensure!(
        logs[0].1.end_offsets(&topic)? == logs[1].1.end_offsets(&topic)?,
        "the two logs hold the same records per partition"
    );

    // Versions new to the (maybe shared) broker: their changelogs and groups too.
    let mut version = (SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        % 1_000_000) as u32
        * 1_000;
    let mut reference: Option<Outcome> = None;
    let mut group = c.benchmark_group("kappa_on_kafka");
    group
        .throughput(Throughput::Elements(events))
        .sampling_mode(SamplingMode::Flat);
    let mut rates = Vec::new();
    for ((name, log), sidecars) in logs.iter().zip(&sidecars) {
        // The embedded runs take a fraction of a second, the Kafka ones seconds: criterion
        // runs at least one iteration per sample whatever the time asked for.
        configure(&mut group, if *name == "kafka" { 30 } else { 10 });
        let mut samples = Samples::default();
        group.bench_function(*name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    version += 1;
                    let (elapsed, outcome) =
                        kappa_run(log, &topic, sidecars, version).expect("kappa run");
                    let want = reference.get_or_insert_with(|| outcome.clone());
                    assert!(
                        *want == outcome,
                        "{name}: the job computed other counts or another answer than the first \
                         embedded run ({:?} vs {:?} events, duplicates)",
                        (outcome.0, outcome.1),
                        (want.0, want.1)
                    );
                    total += elapsed;
                }
                samples.record(iters, total)
            })
        });
        if let Some(secs) = samples.median_secs() {
            rates.push((*name, events as f64 / secs, secs));
        }
    }
    group.finish();
    if full_run() {
        for (name, rate, secs) in &rates {
            println!(
                "kappa_on_kafka/{name}: median {secs:.3} s per run: {:.0} events/s",
                rate
            );
        }
        if let [(_, embedded_rate, _), (_, kafka_rate, _)] = rates[..] {
            println!(
                "kappa_on_kafka: kafka ÷ embedded = {:.3} ({:.1}× slower on Kafka)",
                kafka_rate / embedded_rate,
                embedded_rate / kafka_rate
            );
        }
    }
    kafka.delete_topic(&topic)?;
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        for (g, members) in GROUPS {
            for m in members {
                println!("{g}/{m}: benchmark");
            }
        }
        return Ok(());
    }
    let filter = lk_benches::filter(&args);
    let wanted: Vec<&str> = GROUPS
        .iter()
        .map(|(g, _)| *g)
        .filter(|g| selected(filter, g))
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let kafka = connect_kafka()?;
    let mut c = Criterion::default().configure_from_args();
    if wanted.contains(&"kafka_produce") {
        produce(&mut c, &kafka)?;
    }
    if wanted.contains(&"kafka_consume") {
        consume(&mut c, &kafka)?;
    }
    if wanted.contains(&"kappa_on_kafka") {
        kappa_on_kafka(&mut c, &kafka)?;
    }
    c.final_summary();
    Ok(())
}
