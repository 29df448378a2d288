//! `lk demo`: the master log end to end in a few seconds — create a topic, append keyed
//! records in batches, read them back as a consumer group and again as the pipelines
//! read (records shown where the log read them), and verify the files.

use std::ops::ControlFlow;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use master_log::{
    AssignmentStrategy, Bytes, Consumer, FetchLimits, Log, LogError, NewRecord, StartFrom,
    TopicConfig, now_ms,
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

/// CPU time this thread has used so far: the first field of Linux's
/// `/proc/thread-self/schedstat` (nanoseconds on a CPU); `None` where it cannot be read.
fn thread_cpu() -> Option<Duration> {
    parse_schedstat(&std::fs::read_to_string("/proc/thread-self/schedstat").ok()?)
}

/// The time on a CPU that a `schedstat` line (`run_ns wait_ns slices`) gives.
fn parse_schedstat(line: &str) -> Option<Duration> {
    Some(Duration::from_nanos(
        line.split_whitespace().next()?.parse().ok()?,
    ))
}

/// ` (S s of CPU on this thread: R records per CPU second)`, for `n` records that took
/// the CPU time between `before` and `after`; empty when either is unknown. On a machine
/// shared with other work the elapsed time depends on how much of a core the demo got;
/// this is what the log itself cost.
fn cpu_figure(n: u64, before: Option<Duration>, after: Option<Duration>) -> String {
    match (before, after) {
        (Some(b), Some(a)) if a > b => {
            let cpu = (a - b).as_secs_f64();
            format!(
                " ({cpu:.2} s of CPU on this thread: {:.0} records per CPU second)",
                n as f64 / cpu
            )
        }
        _ => String::new(),
    }
}

/// Read the appended records (`before..after` of each partition) again the way the
/// pipelines read: [`Log::fetch_each`] shows each record where the log read it, with no
/// `Record` made of it. Checks that every record came back, 100 bytes each, and prints
/// the rate and the CPU time `cpu` tells (none for a cluster).
fn read_each(
    log: &dyn Log,
    topic: &str,
    before: &[u64],
    after: &[u64],
    cpu: impl Fn() -> Option<Duration>,
) -> anyhow::Result<()> {
    let start = Instant::now();
    let cpu_start = cpu();
    let (mut shown, mut value_bytes) = (0u64, 0u64);
    for (p, (&from, &to)) in before.iter().zip(after).enumerate() {
        let mut next = from;
        while next < to {
            let n = log.fetch_each(topic, p as u32, next, FetchLimits::default(), &mut |r| {
                value_bytes += r.value.map_or(0, |v| v.len() as u64);
                next = r.offset + 1;
                ControlFlow::Continue(())
            })?;
            anyhow::ensure!(n > 0, "partition {p} ended at offset {next}, before {to}");
            shown += n as u64;
        }
    }
    let took = start.elapsed();
    let want: u64 = before.iter().zip(after).map(|(b, a)| a - b).sum();
    anyhow::ensure!(
        shown == want && value_bytes == want * VALUE_LEN as u64,
        "read {shown} records ({value_bytes} value bytes) again, of {want}"
    );
    println!(
        "read again with Log::fetch_each (each record shown where the log read it, as the \
         pipelines read) in {:.2} s: {:.0} records/s{}",
        took.as_secs_f64(),
        shown as f64 / took.as_secs_f64(),
        cpu_figure(shown, cpu_start, cpu()),
    );
    Ok(())
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
    // The embedded log appends and reads on the calling thread: its CPU time is the log's.
    // A cluster's client works on threads of its own: no CPU figure for it.
    let cpu = || embedded_dir.and_then(|_| thread_cpu());
    let start = Instant::now();
    let cpu_start = cpu();
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
    let cpu_wrote = cpu();
    let after = log.end_offsets(&args.topic)?;
    println!(
        "appended {written} records ({VALUE_LEN} bytes each) in {:.2} s: {:.0} records/s \
         ({:.2} s in Log::produce: {:.0} records/s){}",
        wrote.as_secs_f64(),
        written as f64 / wrote.as_secs_f64(),
        in_produce.as_secs_f64(),
        written as f64 / in_produce.as_secs_f64(),
        cpu_figure(written, cpu_start, cpu_wrote),
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
    let cpu_start = cpu();
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
        "read back {read} records as group lk-demo in {:.2} s: {:.0} records/s{}",
        took.as_secs_f64(),
        read as f64 / took.as_secs_f64(),
        cpu_figure(read, cpu_start, cpu()),
    );
    read_each(log.as_ref(), &args.topic, &before, &after, cpu)?;
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
    fn schedstat_gives_the_time_on_cpu() {
        assert_eq!(
            parse_schedstat("123456789 55 7\n"),
            Some(Duration::from_nanos(123_456_789))
        );
        assert_eq!(parse_schedstat(""), None);
        assert_eq!(parse_schedstat("x 1 2"), None);
        assert_eq!(cpu_figure(10, Some(Duration::ZERO), None), "");
        assert_eq!(
            cpu_figure(
                1_000,
                Some(Duration::from_millis(500)),
                Some(Duration::from_millis(750))
            ),
            " (0.25 s of CPU on this thread: 4000 records per CPU second)"
        );
    }

    #[test]
    fn thread_cpu_counts_this_threads_work() {
        let before = thread_cpu().expect("schedstat readable");
        // Work on this thread for at least 20 ms of wall time.
        let start = Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(20) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let after = thread_cpu().expect("schedstat readable");
        assert!(after > before, "{before:?} then {after:?}");
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
