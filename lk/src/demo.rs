//! `lk demo`: the master log end to end in a few seconds — create a topic, append keyed
//! records in batches, read them back as a consumer group, and verify the files.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use master_log::{
    AssignmentStrategy, Bytes, Consumer, Log, LogError, NewRecord, StartFrom, TopicConfig, now_ms,
};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Topic to write (created if missing).
    #[arg(long, default_value = "demo")]
    topic: String,
    /// Records to append.
    #[arg(long, default_value_t = 1_000_000)]
    records: u64,
    /// Partitions of the topic when it is created.
    #[arg(long, short = 'p', default_value_t = 4)]
    partitions: u32,
    /// Records per append call.
    #[arg(long, default_value_t = 1_000)]
    batch: usize,
}

pub fn run(
    args: DemoArgs,
    embedded_dir: Option<&std::path::Path>,
    open: impl Fn() -> anyhow::Result<Arc<dyn Log>>,
) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.batch > 0, "--batch must be at least 1");
    let log = open()?;
    match log.create_topic(&args.topic, TopicConfig::with_partitions(args.partitions)) {
        Ok(()) => println!(
            "created topic {} with {} partitions",
            args.topic, args.partitions
        ),
        Err(LogError::TopicExists(_)) => println!("appending to existing topic {}", args.topic),
        Err(e) => return Err(e.into()),
    }
    let before = log.end_offsets(&args.topic)?;

    // Page views keyed by member id: 100-byte values, event times one ms apart.
    let start = Instant::now();
    let t0 = now_ms();
    let mut written = 0u64;
    let mut value = vec![b'.'; 100];
    while written < args.records {
        let n = (args.records - written).min(args.batch as u64);
        let batch: Vec<NewRecord> = (written..written + n)
            .map(|i| {
                let member = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % 100_000;
                let head = format!(
                    "view {i:>10} of page {:>6} by member {member:>6}",
                    i % 5_000
                );
                value[..head.len()].copy_from_slice(head.as_bytes());
                NewRecord::keyed(
                    format!("member-{member}"),
                    Bytes::copy_from_slice(&value),
                    t0 + i as i64,
                )
            })
            .collect();
        log.produce(&args.topic, batch)?;
        written += n;
    }
    let wrote = start.elapsed();
    let after = log.end_offsets(&args.topic)?;
    println!(
        "appended {written} records ({} bytes each) in {:.2} s: {:.0} records/s",
        100,
        wrote.as_secs_f64(),
        written as f64 / wrote.as_secs_f64()
    );
    println!("partition\tfrom\tto\trecords");
    for (p, (b, a)) in before.iter().zip(&after).enumerate() {
        println!("{p}\t{b}\t{a}\t{}", a - b);
    }

    // Read back what was appended, as a consumer group that commits its positions.
    let mut consumer = Consumer::join(
        log.clone(),
        "lk-demo",
        &args.topic,
        AssignmentStrategy::Range,
        StartFrom::Offsets(
            before
                .iter()
                .enumerate()
                .map(|(p, &o)| (p as u32, o))
                .collect(),
        ),
    )?;
    for (p, &o) in before.iter().enumerate() {
        consumer.seek(p as u32, o)?;
    }
    let start = Instant::now();
    let mut read = 0u64;
    let mut sample = None;
    while read < written {
        let batches = consumer.poll(Duration::from_millis(100))?;
        anyhow::ensure!(
            !batches.is_empty(),
            "read back only {read} of {written} records"
        );
        for b in &batches {
            read += b.records.len() as u64;
            if sample.is_none() {
                sample = b.records.first().map(|r| (b.partition, r.clone()));
            }
        }
    }
    consumer.commit()?;
    let took = start.elapsed();
    println!(
        "read back {read} records as group lk-demo in {:.2} s: {:.0} records/s",
        took.as_secs_f64(),
        read as f64 / took.as_secs_f64()
    );
    if let Some((p, r)) = sample {
        println!(
            "first record read: partition {p} offset {} key {} value {:?}",
            r.offset,
            String::from_utf8_lossy(r.key.as_deref().unwrap_or_default()),
            String::from_utf8_lossy(
                &r.value.as_deref().unwrap_or_default()
                    [..60.min(r.value.as_ref().map_or(0, |v| v.len()))]
            ),
        );
    }
    drop(consumer);
    drop(log);
    // The embedded log's files, checked batch by batch; a cluster checks its own.
    let mut clean = true;
    if let Some(dir) = embedded_dir {
        let report = master_log::verify(dir)?;
        clean = report.is_clean();
        println!(
            "verified {} segments, {} batches, {} records: {}",
            report.segments,
            report.batches,
            report.records,
            if report.is_clean() {
                "no damage"
            } else {
                "DAMAGED (run `lk log verify`)"
            }
        );
    }
    Ok(if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
