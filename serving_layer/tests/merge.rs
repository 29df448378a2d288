//! Merging batch and realtime views: exact at every horizon, expired generations skipped,
//! straddling ones refused; queries and rendering.

use serving_layer::{BatchPart, Format, Generation, LambdaSnapshot, Query, ServingError, render};
use workloads::{BuiltIn, PartialTable, Scalar, Workload, compare};

/// A stream of events over two partitions: (partition, offset, event time ms, page).
fn events() -> Vec<(usize, u64, i64, i64)> {
    let mut out = Vec::new();
    let mut next = [0u64; 2];
    for i in 0..400i64 {
        let p = (i % 2) as usize;
        // Event times wander back and forth across minute boundaries (disorder).
        let t = i * 1_000 + if i % 7 == 0 { -45_000 } else { 0 };
        out.push((p, next[p], t, i % 5));
        next[p] += 1;
    }
    out
}

fn fold<'a>(w: &Workload, evs: impl Iterator<Item = &'a (usize, u64, i64, i64)>) -> PartialTable {
    let mut t = PartialTable::new();
    for &(_, _, time, page) in evs {
        for win in w.window().windows_of(time) {
            let cell = t.cell_mut(win, vec![Scalar::Int(page)], || w.empty_partials());
            cell[0].merge(&workloads::Partial::Count(1)).unwrap();
        }
    }
    t
}

fn in_range(e: &(usize, u64, i64, i64), from: &[u64], to: &[u64]) -> bool {
    e.1 >= from[e.0] && e.1 < to[e.0]
}

#[test]
fn batch_plus_realtime_equals_the_whole_at_every_horizon() {
    let w = Workload::BuiltIn(BuiltIn::PageviewsPerMinute);
    let evs = events();
    let head = vec![200u64, 200];
    let whole = w.finish(&fold(&w, evs.iter())).unwrap();
    for h0 in (0..=200).step_by(25) {
        for h1 in (0..=200).step_by(40) {
            let horizon = vec![h0, h1];
            // Two generations above the horizon, split again in the middle.
            let mid = vec![(h0 + 200) / 2, (h1 + 200) / 2];
            let zero = vec![0, 0];
            // An expired generation below the horizon too: it must be skipped.
            let snapshot = LambdaSnapshot {
                batch: Some(BatchPart {
                    horizon: horizon.clone(),
                    table: fold(&w, evs.iter().filter(|e| in_range(e, &zero, &horizon))),
                }),
                realtime: vec![
                    Generation {
                        from: zero.clone(),
                        table: fold(&w, evs.iter().filter(|e| in_range(e, &zero, &zero))),
                    },
                    Generation {
                        from: horizon.clone(),
                        table: fold(&w, evs.iter().filter(|e| in_range(e, &horizon, &mid))),
                    },
                    Generation {
                        from: mid.clone(),
                        table: fold(&w, evs.iter().filter(|e| in_range(e, &mid, &head))),
                    },
                ],
                positions: head.clone(),
                head: head.clone(),
            };
            let a = snapshot.answer(&w, &Query::default()).unwrap();
            let c = compare(&whole, &a.result);
            assert!(c.is_exact(), "horizon {horizon:?}: {c:?}");
            assert_eq!(a.freshness.lag_records, 0);
            assert_eq!(a.freshness.batch_records, h0 + h1);
        }
    }
}

#[test]
fn a_generation_straddling_the_horizon_is_refused() {
    let w = Workload::BuiltIn(BuiltIn::PageviewsPerMinute);
    let evs = events();
    let s = LambdaSnapshot {
        batch: Some(BatchPart {
            horizon: vec![100, 100],
            table: fold(&w, evs.iter().filter(|e| e.1 < 100)),
        }),
        realtime: vec![Generation {
            from: vec![50, 50],
            table: fold(&w, evs.iter().filter(|e| e.1 >= 50)),
        }],
        positions: vec![200, 200],
        head: vec![200, 200],
    };
    assert!(matches!(s.merged(), Err(ServingError::Overlap { .. })));
}

#[test]
fn freshness_reports_lag_to_the_head() {
    let s = LambdaSnapshot {
        batch: Some(BatchPart {
            horizon: vec![10, 20],
            table: PartialTable::new(),
        }),
        realtime: vec![Generation {
            from: vec![10, 20],
            table: PartialTable::new(),
        }],
        positions: vec![15, 20],
        head: vec![30, 25],
    };
    let f = s.freshness();
    assert_eq!(f.served_positions, vec![15, 20]);
    assert_eq!(f.lag_records, 15 + 5);
    assert_eq!(f.batch_records, 30);
}

#[test]
fn queries_filter_by_key_and_time_and_render() {
    let w = Workload::BuiltIn(BuiltIn::PageviewsPerMinute);
    let evs = events();
    let s = LambdaSnapshot {
        batch: None,
        realtime: vec![Generation {
            from: vec![0, 0],
            table: fold(&w, evs.iter()),
        }],
        positions: vec![200, 200],
        head: vec![200, 200],
    };
    let q = Query {
        key: Some("3".into()),
        from_ms: Some(60_000),
        to_ms: Some(180_000),
    };
    let a = s.answer(&w, &q).unwrap();
    assert!(!a.result.rows.is_empty());
    for r in &a.result.rows {
        assert_eq!(r.key, vec![Scalar::Int(3)]);
        assert!(r.window.end > 60_000 && r.window.start < 180_000, "{r:?}");
    }
    let csv = render(&a, Format::Csv);
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("window_start,window_end,page_id,views"));
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("1970-01-01T00:01:00.000Z,1970-01-01T00:02:00.000Z,3,")
    );
    let json: serde_json::Value = serde_json::from_str(&render(&a, Format::Json)).unwrap();
    assert_eq!(json["rows"][0]["page_id"], 3);
    assert_eq!(json["freshness"]["lag_records"], 0);
    let table = render(&a, Format::Table);
    assert!(table.starts_with("window_start"), "{table}");
    assert!(table.contains("lag 0 records"), "{table}");
    let bad = Query {
        from_ms: Some(10),
        to_ms: Some(5),
        ..Query::default()
    };
    assert!(matches!(s.answer(&w, &bad), Err(ServingError::BadQuery(_))));
}

#[test]
fn per_partition_snapshots_need_one_entry_per_partition() {
    assert!(
        LambdaSnapshot::from_partitions(vec![None, None], vec![0, 0])
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        LambdaSnapshot::from_partitions(vec![None], vec![0, 0]),
        Err(ServingError::Partitions(1, 2))
    ));
}
