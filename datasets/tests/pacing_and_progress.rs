//! Real-time pacing and the progress hook.

mod common;

use std::time::Instant;

use common::TestLog;
use datasets::{DatasetKind, GenerateOptions, ImportOptions, Phase, Progress};

#[test]
fn rate_paces_in_real_time_without_changing_the_contents() {
    let fast = TestLog::new();
    let paced = TestLog::new();
    let opts = GenerateOptions {
        out_of_order: 0.1,
        duplicates: 0.05,
        ..GenerateOptions::new(DatasetKind::Ysb, "ysb", 4_000)
    };
    fast.generate(&opts);
    let started = Instant::now();
    let s = paced.generate(&GenerateOptions {
        rate: Some(8_000),
        event_rate: Some(1_000),
        ..opts.clone()
    });
    let secs = started.elapsed().as_secs_f64();
    // About 4,200 records at 8,000/s: half a second.
    assert!(secs > 0.4, "{secs} s");
    assert!(secs < 5.0, "{secs} s");
    assert!(s.records_per_s < 9_000.0, "{}", s.records_per_s);
    // The event-time clock is the modelled one, so the log is the same.
    assert_eq!(fast.dump("ysb"), paced.dump("ysb"));
}

#[test]
fn progress_reaches_done_for_each_phase() {
    let t = TestLog::new();
    let mut seen: Vec<Progress> = Vec::new();
    datasets::generate(
        &t.log,
        &GenerateOptions::new(DatasetKind::Pageviews, "pv", 150_000),
        None,
        &mut |p: &Progress| seen.push(*p),
    )
    .unwrap();
    assert!(seen.len() >= 3, "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0].items <= w[1].items));
    let last = seen.last().unwrap();
    assert_eq!(
        (last.phase, last.items, last.done),
        (Phase::Generate, 150_000, true)
    );
    assert_eq!(last.fraction(), Some(1.0));

    let file = t.dir.path().join("f.csv");
    let mut text = String::from("ts,v\n");
    for i in 0..70_000 {
        text.push_str(&format!("{},{i}\n", 1_700_000_000_000i64 + i));
    }
    std::fs::write(&file, &text).unwrap();
    let mut phases = Vec::new();
    datasets::import_csv(
        &t.log,
        &ImportOptions {
            time_format: datasets::TimeFormat::EpochMs,
            ..ImportOptions::new(&file, "csv", "ts")
        },
        None,
        &mut |p: &Progress| {
            assert!(p.bytes <= text.len() as u64);
            if p.done {
                phases.push(p.phase);
            }
        },
    )
    .unwrap();
    assert_eq!(phases, [Phase::Infer, Phase::Validate, Phase::Write]);
}
