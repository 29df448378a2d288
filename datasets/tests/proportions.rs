//! The proportions the options ask for are met, measured on the generated data.
//!
//! Tolerances: NEXMark's 1:3:46 is exact by construction (event number `i` decides the
//! kind); the disorder and duplicate fractions are random draws, checked within
//! ±0.5 percentage point on 200,000 events (the standard deviation of a fraction near
//! 0.1 on 200,000 draws is 0.07 point).

mod common;

use std::collections::{HashMap, HashSet};

use common::TestLog;
use datasets::{Arrival, DatasetKind, GenerateOptions, Generator, NexmarkEvent, PageView};

const TOLERANCE: f64 = 0.005;

#[test]
fn nexmark_is_exactly_one_three_forty_six() {
    let t = TestLog::new();
    let s = t.generate(&GenerateOptions {
        duplicates: 0.05,
        ..GenerateOptions::new(DatasetKind::Nexmark, "nexmark", 50_000)
    });
    assert_eq!(s.kinds["person"], 1_000);
    assert_eq!(s.kinds["auction"], 3_000);
    assert_eq!(s.kinds["bid"], 46_000);

    // Measured on the log: distinct event ids by kind.
    let mut seen = HashSet::new();
    let mut counts: HashMap<&str, u64> = HashMap::new();
    let mut auctions = HashSet::new();
    let mut bids = Vec::new();
    for r in t.dump("nexmark") {
        let ev: NexmarkEvent<'_> = datasets::decode(r.value.as_deref().unwrap()).unwrap();
        if !seen.insert(datasets::Event::event_id(&ev)) {
            continue;
        }
        *counts.entry(ev.kind()).or_default() += 1;
        match ev {
            NexmarkEvent::Auction(a) => {
                assert_eq!(r.key.as_deref(), Some(a.id.to_string().as_bytes()));
                auctions.insert(a.id);
            }
            NexmarkEvent::Bid(b) => {
                assert_eq!(r.key.as_deref(), Some(b.auction.to_string().as_bytes()));
                bids.push(b.auction);
            }
            NexmarkEvent::Person(_) => {}
        }
    }
    assert_eq!(counts["person"] * 3, counts["auction"]);
    assert_eq!(counts["person"] * 46, counts["bid"]);
    // Every bid names an auction that exists.
    assert!(bids.iter().all(|a| auctions.contains(a)));
}

/// Lateness of each first occurrence, per partition, as a consumer sees it: how far its
/// event time is behind the largest event time read before it.
fn measured_fractions(t: &TestLog, topic: &str, max_delay: i64) -> (u64, u64, u64, u64) {
    let mut seen = HashSet::new();
    let mut max_seen: HashMap<u32, i64> = HashMap::new();
    let (mut events, mut dups, mut ooo, mut late) = (0, 0, 0, 0);
    for r in t.dump(topic) {
        let ev: PageView = datasets::decode(r.value.as_deref().unwrap()).unwrap();
        if !seen.insert(ev.event_id) {
            dups += 1;
            continue;
        }
        events += 1;
        let m = max_seen.entry(r.partition).or_insert(i64::MIN);
        let lateness = m.saturating_sub(r.event_time);
        if lateness > max_delay {
            late += 1;
        } else if lateness > 0 {
            ooo += 1;
        }
        *m = (*m).max(r.event_time);
    }
    (events, dups, ooo, late)
}

#[test]
fn disorder_and_duplicate_fractions_are_met() {
    let t = TestLog::new();
    let opts = GenerateOptions {
        out_of_order: 0.10,
        max_delay_ms: 2_000,
        late: 0.05,
        late_delay_ms: 30_000,
        duplicates: 0.02,
        partitions: 4,
        ..GenerateOptions::new(DatasetKind::Pageviews, "views", 200_000)
    };
    let s = t.generate(&opts);
    let n = s.events as f64;
    assert_eq!(s.events, 200_000);
    assert_eq!(s.records, s.events + s.duplicates);
    assert_eq!(s.in_order + s.out_of_order + s.late, s.events);
    // What the generator says it did.
    assert!(
        (s.out_of_order as f64 / n - 0.10).abs() < TOLERANCE,
        "{s:?}"
    );
    assert!((s.late as f64 / n - 0.05).abs() < TOLERANCE, "{s:?}");
    assert!((s.duplicates as f64 / n - 0.02).abs() < TOLERANCE, "{s:?}");

    // What a consumer of the log observes.
    let (events, dups, ooo, late) = measured_fractions(&t, "views", 2_000);
    assert_eq!(events, 200_000);
    assert_eq!(dups, s.duplicates);
    let f = |x: u64| x as f64 / events as f64;
    assert!((f(ooo) - 0.10).abs() < TOLERANCE, "out of order {}", f(ooo));
    assert!((f(late) - 0.05).abs() < TOLERANCE, "late {}", f(late));
    assert!((f(dups) - 0.02).abs() < TOLERANCE, "duplicates {}", f(dups));
}

#[test]
fn delays_stay_in_their_bounds_and_memory_stays_bounded() {
    let opts = GenerateOptions {
        out_of_order: 0.2,
        max_delay_ms: 1_000,
        late: 0.05,
        late_delay_ms: 10_000,
        duplicates: 0.05,
        ..GenerateOptions::new(DatasetKind::Ysb, "ysb", 100_000)
    };
    let mut g = Generator::new(&opts).unwrap();
    let mut max_in_flight = 0;
    let mut last_arrival = i64::MIN;
    let mut originals = HashMap::new();
    while let Some(r) = g.next() {
        let r = r.unwrap();
        max_in_flight = max_in_flight.max(g.in_flight());
        assert!(
            r.arrival_time >= last_arrival,
            "emitted out of arrival order"
        );
        last_arrival = r.arrival_time;
        let delay = r.arrival_time - r.event_time;
        match r.arrival {
            Arrival::InOrder => assert_eq!(delay, 0),
            Arrival::OutOfOrder => assert!((1..=1_000).contains(&delay)),
            Arrival::Late => assert!((10_000..=20_000).contains(&delay)),
            Arrival::Duplicate => {
                let (key, value, arrival) = &originals[&r.event_id];
                assert_eq!((key, value), (&r.key, &r.value));
                assert!(r.arrival_time > *arrival);
            }
        }
        if r.arrival != Arrival::Duplicate {
            originals.insert(r.event_id, (r.key.clone(), r.value.clone(), r.arrival_time));
        }
    }
    // At 1,000 events/s of event time, what is in flight is what arrives within the
    // longest delay (20 s): far below the 100,000 events.
    assert!(max_in_flight < 5_000, "{max_in_flight} records in flight");
}

#[test]
fn key_skew_concentrates_keys() {
    let count_top = |skew: Option<f64>| {
        let opts = GenerateOptions {
            key_skew: skew,
            keys: Some(1_000),
            ..GenerateOptions::new(DatasetKind::Pageviews, "v", 50_000)
        };
        let mut counts: HashMap<_, u64> = HashMap::new();
        for r in Generator::new(&opts).unwrap() {
            *counts.entry(r.unwrap().key).or_default() += 1;
        }
        *counts.values().max().unwrap()
    };
    let uniform = count_top(None);
    let skewed = count_top(Some(1.2));
    assert!(uniform < 120, "{uniform}");
    // Zipf(1.2) over 1,000 keys gives the top key about 20% of the draws.
    assert!(skewed > 8_000, "{skewed}");
}

#[test]
fn bad_options_are_errors() {
    let base = GenerateOptions::new(DatasetKind::Ysb, "t", 10);
    for bad in [
        GenerateOptions {
            out_of_order: 1.5,
            ..base.clone()
        },
        GenerateOptions {
            late: 0.1,
            late_delay_ms: 1_000,
            max_delay_ms: 5_000,
            ..base.clone()
        },
        GenerateOptions {
            out_of_order: 0.7,
            late: 0.7,
            ..base.clone()
        },
        GenerateOptions {
            partitions: 0,
            ..base.clone()
        },
        GenerateOptions {
            key_skew: Some(f64::NAN),
            ..base.clone()
        },
        GenerateOptions {
            topic: "bad/name".into(),
            ..base.clone()
        },
        GenerateOptions {
            rate: Some(0),
            ..base.clone()
        },
    ] {
        assert!(bad.validate().is_err(), "{bad:?}");
        assert!(Generator::new(&bad).is_err());
    }
}

#[test]
fn generating_twice_into_one_topic_is_refused_unless_appending() {
    let t = TestLog::new();
    let opts = GenerateOptions::new(DatasetKind::Ysb, "ysb", 100);
    t.generate(&opts);
    let again = datasets::generate(&t.log, &opts, None, &mut datasets::no_progress);
    assert!(matches!(
        again,
        Err(datasets::DatasetError::TopicNotEmpty { records: 100, .. })
    ));
    let s = datasets::generate(
        &t.log,
        &GenerateOptions {
            append: true,
            ..opts
        },
        None,
        &mut datasets::no_progress,
    )
    .unwrap();
    assert_eq!(s.records, 100);
    assert_eq!(t.dump("ysb").len(), 200);
}

#[test]
fn ysb_sidecars_hold_the_summary_and_the_campaign_table() {
    let t = TestLog::new();
    let opts = GenerateOptions {
        seed: 5,
        ..GenerateOptions::new(DatasetKind::Ysb, "ads", 2_000)
    };
    let s = t.generate(&opts);
    let m = datasets::read_sidecar(&t.sidecars(), "ads")
        .unwrap()
        .unwrap();
    match m.content {
        datasets::TopicContent::Generated(g) => {
            assert_eq!(g.options, opts);
            assert_eq!(g.records, s.records);
        }
        other => panic!("{other:?}"),
    }
    let table = datasets::YsbCampaigns::read_csv(s.campaigns_file.as_deref().unwrap()).unwrap();
    let map = datasets::YsbCampaigns::new(5).to_map();
    assert_eq!(table.ads.len(), 1_000);
    // Every event's ad is in the table, and the key is the ad id.
    for r in t.dump("ads") {
        let e: datasets::YsbEvent = datasets::decode(r.value.as_deref().unwrap()).unwrap();
        assert!(map.contains_key(&e.ad_id));
        assert_eq!(r.key.as_deref(), Some(&e.ad_id.0[..]));
        assert_eq!(r.event_time, e.event_time);
    }
}
