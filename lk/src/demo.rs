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

/// Bytes of each record's value.
const VALUE_LEN: usize = 100;

/// A value before its numbers are filled in: `view I of page P by member M`, the
/// numbers right-aligned in 10, 6 and 6 characters, padded with dots.
const TEMPLATE: &[u8; VALUE_LEN] = b"view            of page        by member       \
    .....................................................";
/// Where each number of [`TEMPLATE`] ends.
const VIEW_END: usize = 15;
const PAGE_END: usize = 30;
const MEMBER_END: usize = 47;

/// Records `first..first + n`: page view `i`, of page `i % 5000` by a member, keyed by the
/// member (`member-M`), its value [`TEMPLATE`] filled in, its event time `t0 + i` ms.
/// Keys and values lie in one buffer each, shared by the records.
fn page_views(first: u64, n: u64, t0: i64) -> Vec<NewRecord> {
    let mut keys = Vec::with_capacity(n as usize * 13);
    let mut values = Vec::with_capacity(n as usize * VALUE_LEN);
    let mut ends = Vec::with_capacity(n as usize);
    for i in first..first + n {
        let member = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % 100_000;
        keys.extend_from_slice(b"member-");
        let mut digits = [b' '; 20];
        let at = put_digits(&mut digits, member);
        keys.extend_from_slice(&digits[at..]);
        ends.push(keys.len());
        let start = values.len();
        if i < 10_000_000_000 {
            values.extend_from_slice(TEMPLATE);
            let value = &mut values[start..];
            put_digits(&mut value[..VIEW_END], i);
            put_digits(&mut value[..PAGE_END], i % 5_000);
            put_digits(&mut value[..MEMBER_END], member);
        } else {
            let text = format!("view {i} of page {:>6} by member {member:>6}", i % 5_000);
            values.extend_from_slice(text.as_bytes());
            values.resize(start + VALUE_LEN, b'.');
        }
    }
    let (keys, values) = (Bytes::from(keys), Bytes::from(values));
    let mut key_start = 0;
    ends.iter()
        .enumerate()
        .map(|(j, &key_end)| {
            let key = keys.slice(key_start..key_end);
            key_start = key_end;
            let value = values.slice(j * VALUE_LEN..(j + 1) * VALUE_LEN);
            NewRecord::keyed(key, value, t0 + (first + j as u64) as i64)
        })
        .collect()
}

/// Write `n` in decimal at the end of `buf` (which must be long enough); returns where
/// its first digit is.
fn put_digits(buf: &mut [u8], n: u64) -> usize {
    let mut at = buf.len();
    let mut rest = n;
    loop {
        at -= 1;
        buf[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            return at;
        }
    }
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

    // Page views keyed by member id: 100-byte values, event times one ms apart. Each
    // batch's keys and values are written into one buffer each, as a producer that
    // serializes a batch does, and the records share it.
    let start = Instant::now();
    let mut in_produce = Duration::ZERO;
    let t0 = now_ms();
    let mut written = 0u64;
    while written < args.records {
        let n = (args.records - written).min(args.batch as u64);
        let batch = page_views(written, n, t0);
        let call = Instant::now();
        log.produce(&args.topic, batch)?;
        in_produce += call.elapsed();
        written += n;
    }
    let wrote = start.elapsed();
    let after = log.end_offsets(&args.topic)?;
    println!(
        "appended {written} records ({VALUE_LEN} bytes each) in {:.2} s: {:.0} records/s \
         ({:.2} s in Log::produce: {:.0} records/s)",
        wrote.as_secs_f64(),
        written as f64 / wrote.as_secs_f64(),
        in_produce.as_secs_f64(),
        written as f64 / in_produce.as_secs_f64()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The records as `format!` writes them, for comparison.
    fn formatted(i: u64, t0: i64) -> NewRecord {
        let member = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % 100_000;
        let mut value = format!(
            "view {i:>10} of page {:>6} by member {member:>6}",
            i % 5_000
        );
        while value.len() < VALUE_LEN {
            value.push('.');
        }
        NewRecord::keyed(format!("member-{member}"), value, t0 + i as i64)
    }

    #[test]
    fn page_views_are_the_formatted_records() {
        for first in [0, 4_998, 123_456_789, 9_999_999_998] {
            let got = page_views(first, 5, 1_000);
            let want: Vec<NewRecord> = (first..first + 5).map(|i| formatted(i, 1_000)).collect();
            assert_eq!(got, want, "from {first}");
        }
    }
}
