//! The datasets' hot paths: decoding one event value (the YSB target is ≥ 10M events/s on
//! one core) and generating events into the embedded log (target ≥ 2M events/s).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use datasets::{DatasetKind, GenerateOptions, Generator, NexmarkEvent, PageView, YsbEvent};
use master_log::EmbeddedLog;

const EVENTS: u64 = 100_000;

fn values(dataset: DatasetKind) -> Vec<master_log::Bytes> {
    let opts = GenerateOptions::new(dataset, "bench", EVENTS);
    Generator::new(&opts)
        .expect("valid options")
        .map(|r| r.expect("generated").value)
        .collect()
}

fn decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(EVENTS));
    let ysb = values(DatasetKind::Ysb);
    g.bench_function("ysb", |b| {
        b.iter(|| {
            for v in &ysb {
                black_box(datasets::decode::<YsbEvent>(v).expect("decodes"));
            }
        })
    });
    let pv = values(DatasetKind::Pageviews);
    g.bench_function("pageviews", |b| {
        b.iter(|| {
            for v in &pv {
                black_box(datasets::decode::<PageView>(v).expect("decodes"));
            }
        })
    });
    let nx = values(DatasetKind::Nexmark);
    g.bench_function("nexmark", |b| {
        b.iter(|| {
            for v in &nx {
                black_box(datasets::decode::<NexmarkEvent<'_>>(v).expect("decodes"));
            }
        })
    });
    g.finish();
}

fn generate(c: &mut Criterion) {
    let mut g = c.benchmark_group("generate");
    g.throughput(Throughput::Elements(EVENTS));
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    for dataset in [
        DatasetKind::Pageviews,
        DatasetKind::Ysb,
        DatasetKind::Nexmark,
    ] {
        g.bench_function(dataset.to_string(), |b| {
            b.iter_batched(
                || {
                    let dir = tempfile::tempdir().expect("tempdir");
                    let log = EmbeddedLog::open(dir.path()).expect("open");
                    (dir, log)
                },
                |(dir, log)| {
                    let opts = GenerateOptions {
                        partitions: 4,
                        ..GenerateOptions::new(dataset, "bench", EVENTS)
                    };
                    let s = datasets::generate(&log, &opts, None, &mut datasets::no_progress)
                        .expect("generates");
                    black_box(s.records);
                    // Closing the log (index writes) happens outside the measurement.
                    (log, dir)
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, decode, generate);
criterion_main!(benches);
