//! Same seed and options → byte-identical log contents; another seed → other contents.

mod common;

use common::TestLog;
use datasets::{Codec, DatasetKind, GenerateOptions, Generator};

fn options(dataset: DatasetKind, seed: u64) -> GenerateOptions {
    GenerateOptions {
        seed,
        partitions: 3,
        out_of_order: 0.2,
        max_delay_ms: 2_000,
        late: 0.05,
        late_delay_ms: 20_000,
        duplicates: 0.03,
        key_skew: Some(1.1),
        batch_size: 700,
        ..GenerateOptions::new(dataset, "events", 30_000)
    }
}

#[test]
fn same_seed_same_log_for_every_dataset() {
    for dataset in DatasetKind::ALL {
        let a = TestLog::new();
        let b = TestLog::new();
        let sa = a.generate(&options(dataset, 7));
        let sb = b.generate(&options(dataset, 7));
        let da = a.dump("events");
        let db = b.dump("events");
        assert_eq!(da.len() as u64, sa.records, "{dataset}");
        assert_eq!(da, db, "{dataset}: same seed, different log contents");
        assert_eq!(sa.kinds, sb.kinds);
        assert_eq!(sa.records_per_partition, sb.records_per_partition);
        assert_eq!(
            (sa.in_order, sa.out_of_order, sa.late, sa.duplicates),
            (sb.in_order, sb.out_of_order, sb.late, sb.duplicates)
        );

        let c = TestLog::new();
        c.generate(&options(dataset, 8));
        assert_ne!(
            c.dump("events"),
            da,
            "{dataset}: another seed, same contents"
        );
    }
}

#[test]
fn batch_size_and_codec_choice_do_not_change_what_is_generated() {
    let a = TestLog::new();
    let b = TestLog::new();
    a.generate(&options(DatasetKind::Ysb, 1));
    b.generate(&GenerateOptions {
        batch_size: 10_000,
        ..options(DatasetKind::Ysb, 1)
    });
    assert_eq!(a.dump("events"), b.dump("events"));

    // The JSON codec carries the same events (same keys, event times, placement).
    let j = TestLog::new();
    j.generate(&GenerateOptions {
        codec: Codec::Json,
        ..options(DatasetKind::Ysb, 1)
    });
    let (pa, pj) = (a.dump("events"), j.dump("events"));
    assert_eq!(pa.len(), pj.len());
    for (x, y) in pa.iter().zip(&pj) {
        assert_eq!(
            (x.partition, x.offset, &x.key, x.event_time),
            (y.partition, y.offset, &y.key, y.event_time)
        );
        let ex: datasets::YsbEvent = datasets::decode(x.value.as_deref().unwrap()).unwrap();
        let ey: datasets::YsbEvent = datasets::decode(y.value.as_deref().unwrap()).unwrap();
        assert_eq!(ex, ey);
    }
}

#[test]
fn disorder_options_do_not_change_the_events_themselves() {
    // Contents and disorder come from separate random streams.
    let plain = GenerateOptions::new(DatasetKind::Pageviews, "events", 5_000);
    let disordered = GenerateOptions {
        out_of_order: 0.3,
        late: 0.1,
        duplicates: 0.1,
        ..plain.clone()
    };
    let mut a: Vec<_> = Generator::new(&plain)
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let mut b: Vec<_> = Generator::new(&disordered)
        .unwrap()
        .map(|r| r.unwrap())
        .filter(|r| r.arrival != datasets::Arrival::Duplicate)
        .collect();
    a.sort_by_key(|r| r.event_id);
    b.sort_by_key(|r| r.event_id);
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(
            (x.event_id, &x.key, &x.value, x.event_time),
            (y.event_id, &y.key, &y.value, y.event_time)
        );
    }
}

#[test]
fn event_times_come_from_the_base_clock_not_the_wall_clock() {
    let opts = GenerateOptions {
        event_rate: Some(100),
        start_ms: 1_000_000,
        ..GenerateOptions::new(DatasetKind::Nexmark, "events", 1_000)
    };
    let recs: Vec<_> = Generator::new(&opts).unwrap().map(|r| r.unwrap()).collect();
    assert_eq!(recs[0].event_time, 1_000_000);
    assert_eq!(recs[999].event_time, 1_000_000 + 999 * 10);
    assert!(recs.windows(2).all(|w| w[0].event_time <= w[1].event_time));
}
