//! Append-to-subscriber wake-up latency of the embedded master log.
//!
//! ```text
//! cargo bench -p lk-benches --bench wakeup
//! ```
//!
//! One thread appends single records at a steady pace (one every 200 µs, 20,000 records)
//! while a subscriber thread blocks until they arrive. Each record's value carries the
//! nanoseconds (since a shared `Instant`) read just before its `append`; the subscriber
//! records, per record, the time from there to having the record in hand. Two
//! subscribers are measured, each in its own runs:
//!
//! - `wait_for`: [`Log::wait_for`] on the next offset, then [`Log::fetch`];
//! - `poll`: [`Consumer::poll`], as the pipelines read.
//!
//! Each is run 5 times, each run on a fresh log after a `sync`; the bench prints p50,
//! p90, p99, p99.9 and max of every run, and the median of each across the runs, in µs.
//! It also prints the same for the `append` calls alone (from just before to just after
//! the call), which tells a slow write from a slow wake-up.
//!
//! `cargo bench` passes `--bench`; without it (as under `cargo test --benches`) a tiny
//! run of each subscriber checks that the machinery works, in well under a second.
//! Criterion's options (`--save-baseline NAME`, ...) are accepted and ignored; a filter
//! that does not match `wakeup` skips the bench.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use lk_benches::{Summary, format_summary, median, summarize};
use master_log::{
    Consumer, EmbeddedLog, FetchLimits, Log, NewRecord, StartFrom, TopicConfig, now_ms,
};

const TOPIC: &str = "wakeup";
const VALUE_LEN: usize = 100;

#[derive(Debug, Clone, Copy)]
struct Plan {
    records: u64,
    pace: Duration,
    runs: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Subscriber {
    WaitFor,
    Poll,
}

impl Subscriber {
    fn name(self) -> &'static str {
        match self {
            Subscriber::WaitFor => "wait_for",
            Subscriber::Poll => "poll",
        }
    }
}

fn histogram() -> Histogram<u64> {
    Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).expect("histogram bounds")
}

/// One run: a fresh log, a pacing producer, one subscriber. Returns the histograms, in
/// ns, of the append-to-subscriber latencies and of the `append` calls themselves (the
/// part of the former spent before the subscriber can be woken).
fn run(plan: Plan, subscriber: Subscriber) -> (Histogram<u64>, Histogram<u64>) {
    // Start on a settled disk: write back what earlier benchmarks left dirty.
    let _ = std::process::Command::new("sync").status();
    let dir = tempfile::tempdir().expect("tempdir");
    let log = EmbeddedLog::open(dir.path()).expect("open log");
    log.create_topic(TOPIC, TopicConfig::with_partitions(1))
        .expect("create topic");
    let origin = Instant::now();
    let n = plan.records;

    let reader = {
        let log = log.clone();
        thread::spawn(move || {
            let mut hist = histogram();
            let mut note = |value: Option<&[u8]>| {
                let now = origin.elapsed().as_nanos() as u64;
                let value = value.expect("records have values");
                let sent = u64::from_le_bytes(value[..8].try_into().expect("8 bytes"));
                hist.record(now.saturating_sub(sent).max(1))
                    .expect("latency within bounds");
            };
            let mut next = 0u64;
            match subscriber {
                Subscriber::WaitFor => {
                    while next < n {
                        if !log
                            .wait_for(TOPIC, 0, next, Duration::from_secs(10))
                            .expect("wait_for")
                        {
                            panic!("no record {next} within 10 s");
                        }
                        let records = log
                            .fetch(TOPIC, 0, next, FetchLimits::default())
                            .expect("fetch");
                        for r in &records {
                            note(r.value.as_deref());
                        }
                        next += records.len() as u64;
                    }
                }
                Subscriber::Poll => {
                    let log: Arc<dyn Log> = Arc::new(log);
                    let mut consumer =
                        Consumer::assign(log, TOPIC, None, StartFrom::Earliest).expect("consumer");
                    while next < n {
                        let polled = consumer.poll(Duration::from_secs(10)).expect("poll");
                        assert!(!polled.is_empty(), "no record {next} within 10 s");
                        for p in &polled {
                            for r in &p.records {
                                note(r.value.as_deref());
                            }
                            next += p.records.len() as u64;
                        }
                    }
                }
            }
            assert_eq!(next, n, "every record arrives once");
            hist
        })
    };

    // Give the subscriber time to start waiting before the first record.
    thread::sleep(Duration::from_millis(20));
    let start = Instant::now();
    let mut value = vec![0u8; VALUE_LEN];
    let mut appends = histogram();
    for i in 0..n {
        let due = start + plan.pace * i as u32;
        let now = Instant::now();
        if due > now {
            thread::sleep(due - now);
        }
        let sent = origin.elapsed().as_nanos() as u64;
        value[..8].copy_from_slice(&sent.to_le_bytes());
        let record = NewRecord::keyed(i.to_le_bytes().to_vec(), value.clone(), now_ms());
        log.append(TOPIC, 0, std::slice::from_ref(&record))
            .expect("append");
        let took = (origin.elapsed().as_nanos() as u64).saturating_sub(sent);
        appends
            .record(took.max(1))
            .expect("append time within bounds");
    }
    (reader.join().expect("subscriber thread"), appends)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(full) = lk_benches::bench_mode("wakeup", &args) else {
        return;
    };
    let plan = if full {
        Plan {
            records: 20_000,
            pace: Duration::from_micros(200),
            runs: 5,
        }
    } else {
        Plan {
            records: 200,
            pace: Duration::from_micros(200),
            runs: 1,
        }
    };
    println!(
        "wakeup: {} single-record appends, one every {} µs, {} run(s) per subscriber; latency in µs",
        plan.records,
        plan.pace.as_micros(),
        plan.runs
    );
    for subscriber in [Subscriber::WaitFor, Subscriber::Poll] {
        let mut summaries = Vec::new();
        let mut append_summaries = Vec::new();
        for i in 0..plan.runs {
            let (hist, appends) = run(plan, subscriber);
            assert_eq!(hist.len(), plan.records);
            let s = summarize(&hist);
            let a = summarize(&appends);
            println!(
                "wakeup/{:<8} run {}: {}   (append call alone: p99 {:.1}, max {:.1})",
                subscriber.name(),
                i + 1,
                format_summary(&s),
                a[2],
                a[4]
            );
            summaries.push(s);
            append_summaries.push(a);
        }
        let med = |xs: &[Summary]| {
            let mut m = [0.0; 5];
            for (k, v) in m.iter_mut().enumerate() {
                *v = median(xs.iter().map(|s| s[k]).collect());
            }
            m
        };
        println!(
            "wakeup/{:<8} median of {}: {}",
            subscriber.name(),
            plan.runs,
            format_summary(&med(&summaries))
        );
        println!(
            "wakeup/{:<8} append call alone, median of {}: {}",
            subscriber.name(),
            plan.runs,
            format_summary(&med(&append_summaries))
        );
    }
}
