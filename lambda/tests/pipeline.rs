//! The whole Lambda pipeline, for every workload (built-ins and specs over an imported CSV
//! with nulls) at 1, 2 and 4 partitions: the speed layer reads part of the data, a batch
//! run starts at the horizon it hands over, the rest arrives (out-of-order, late and
//! duplicate events, windows spanning the horizon) while the batch layer recomputes, the
//! speed layer reads to the head — and the merged answer of the live views equals the
//! oracle's, before and after the batch view is published (the hand-off of
//! `lambda::LiveViews::publish`), and across the publish.

use std::sync::Arc;

use lambda::LiveViews;
use master_log::{EmbeddedLog, Log};
use serving_layer::{BatchPart, Generation, LambdaSnapshot, Query};
use speed_layer::{SpeedConfig, SpeedLayer};
use testkit::{Fixture, PARTITIONS, all};
use workloads::{PartialTable, Workload};

/// The live views of `speed` (no batch view published yet).
fn views_of(w: &Workload, fx: &Fixture, speed: &SpeedLayer) -> LiveViews {
    LiveViews::new(w.clone(), fx.topic.clone(), speed.clone())
}

/// The batch view of `fx`'s topic below `horizon` (or one per partition of
/// `per_partition`), recomputed on a plain thread: polars and rayon work off the tokio
/// runtime's threads.
fn recompute(
    log: &Arc<EmbeddedLog>,
    w: &Workload,
    fx: &Fixture,
    horizon: &[u64],
    per_partition: Option<Vec<u32>>,
) -> Vec<batch_layer::BatchView> {
    let (log, w, topic, side, h) = (
        log.clone(),
        w.clone(),
        fx.topic.clone(),
        fx.side.clone(),
        horizon.to_vec(),
    );
    std::thread::spawn(move || match per_partition {
        None => vec![batch_layer::recompute_at(log.as_ref(), &w, &topic, &side, &h).unwrap()],
        Some(ps) => {
            batch_layer::recompute_partitions_at(log.as_ref(), &w, &topic, &side, &h, &ps).unwrap()
        }
    })
    .join()
    .unwrap()
}

/// Cells on both sides of the horizon.
fn spanning(a: &PartialTable, b: &PartialTable) -> usize {
    b.iter().filter(|(w, k, _)| a.get(**w, k).is_some()).count()
}

async fn check(fx: &Fixture, w: &Workload) {
    let what = format!("{} at {} partition(s)", w.name(), fx.parts);
    let log: Arc<EmbeddedLog> = fx.target();
    let zero = vec![0; fx.parts as usize];
    fx.copy(log.as_ref(), &zero, &fx.mid());
    // No batch view yet: the speed layer starts at offset 0 and reads what is there.
    let speed = SpeedLayer::new(
        log.clone(),
        w.clone(),
        SpeedConfig::new(&fx.topic, &fx.side),
        zero.clone(),
    )
    .unwrap();
    speed.run_until_caught_up().await.unwrap();
    // A batch run starts: it reads up to the speed layer's positions.
    let horizon = speed.begin_generation_now();
    assert_eq!(horizon, fx.mid(), "{what}");
    // The rest arrives while the batch layer recomputes below the horizon.
    fx.copy(log.as_ref(), &horizon, &fx.end());
    let view = recompute(&log, w, fx, &horizon, None).remove(0);
    assert_eq!(view.horizon, horizon, "{what}");
    speed.run_until_caught_up().await.unwrap();
    let expected = fx.oracle(log.as_ref(), w);
    let answer = |snap: &LambdaSnapshot, when: &str| {
        let a = snap.answer(w, &Query::default()).unwrap();
        let c = workloads::compare(&expected, &a.result);
        assert!(c.is_exact(), "{what}, {when}: {c:?}");
        assert_eq!(a.freshness.lag_records, 0, "{what}, {when}");
    };
    let views = views_of(w, fx, &speed);
    // Before publishing: both generations of the realtime view, no batch view.
    let before = views.snapshot(log.as_ref()).unwrap();
    assert_eq!(
        (before.batch.is_none(), before.realtime.len()),
        (true, 2),
        "{what}"
    );
    answer(&before, "before publishing");
    // Publishing the batch view expires the generation below the horizon.
    views
        .publish(BatchPart {
            horizon: view.horizon.clone(),
            table: view.table.clone(),
        })
        .unwrap();
    let snap = views.snapshot(log.as_ref()).unwrap();
    assert_eq!(snap.realtime.len(), 1, "{what}");
    if !w.window().is_session() {
        assert!(
            spanning(&view.table, &snap.realtime[0].table) > 0,
            "{what}: no window spans the horizon, the hand-off is not tested"
        );
    }
    answer(&snap, "after publishing");
    // A snapshot taken across the publish (new batch view, generations not yet expired)
    // skips the generation the batch covers: still exact.
    let stale = LambdaSnapshot {
        realtime: {
            let mut g = snap.realtime.clone();
            g.insert(
                0,
                Generation {
                    from: zero.clone(),
                    table: view.table.clone(),
                },
            );
            g
        },
        ..snap.clone()
    };
    answer(&stale, "across the publish");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_workload_equals_the_oracle_at_1_2_and_4_partitions() {
    for parts in PARTITIONS {
        for fx in all(parts) {
            for w in &fx.workloads {
                check(&fx, w).await;
            }
        }
    }
}

/// The layout of a Lambda group's workers: per partition, a speed layer scoped to it and
/// a batch view of it alone, handed over at that partition's own horizon. The snapshot
/// made from the per-partition ones answers exactly the oracle's answer; a partition
/// nobody has read shows in the freshness as lag.
async fn check_partitioned(fx: &Fixture, w: &Workload) {
    let what = format!("{} at {} partition(s), per partition", w.name(), fx.parts);
    let log: Arc<EmbeddedLog> = fx.target();
    let n = fx.parts as usize;
    let zero = vec![0; n];
    fx.copy(log.as_ref(), &zero, &fx.mid());
    let speeds: Vec<SpeedLayer> = (0..fx.parts)
        .map(|p| {
            let config = SpeedConfig::new(&fx.topic, &fx.side).with_partitions(vec![p]);
            SpeedLayer::new(log.clone(), w.clone(), config, zero.clone()).unwrap()
        })
        .collect();
    let mut horizon = zero.clone();
    for (p, speed) in speeds.iter().enumerate() {
        speed.run_until_caught_up().await.unwrap();
        horizon[p] = speed.begin_generation_now()[p];
    }
    assert_eq!(horizon, fx.mid(), "{what}");
    fx.copy(log.as_ref(), &horizon, &fx.end());
    let all: Vec<u32> = (0..fx.parts).collect();
    let views = recompute(&log, w, fx, &horizon, Some(all));
    let head = log.end_offsets(&fx.topic).unwrap();
    let mut parts = Vec::new();
    for (speed, view) in speeds.iter().zip(views) {
        let live = views_of(w, fx, speed);
        live.publish(BatchPart {
            horizon: view.horizon,
            table: view.table,
        })
        .unwrap();
        assert_eq!(speed.snapshot().generations.len(), 1, "{what}");
        speed.run_until_caught_up().await.unwrap();
        parts.push(Some(live.snapshot(log.as_ref()).unwrap()));
    }
    let expected = fx.oracle(log.as_ref(), w);
    let whole = LambdaSnapshot::from_partitions(parts.clone(), head.clone())
        .unwrap()
        .unwrap();
    assert_eq!(whole.batch.as_ref().unwrap().horizon, horizon, "{what}");
    let a = whole.answer(w, &Query::default()).unwrap();
    let c = workloads::compare(&expected, &a.result);
    assert!(c.is_exact(), "{what}: {c:?}");
    assert_eq!(a.freshness.lag_records, 0, "{what}");
    assert_eq!(a.freshness.served_positions, head, "{what}");
    // The last partition's views are missing: its records are lag, not an error.
    if n == 1 {
        assert!(
            LambdaSnapshot::from_partitions(vec![None], head)
                .unwrap()
                .is_none()
        );
        return;
    }
    let last = n - 1;
    parts[last] = None;
    let partial = LambdaSnapshot::from_partitions(parts, head.clone())
        .unwrap()
        .unwrap();
    let f = partial.freshness();
    assert_eq!(f.lag_records, head[last], "{what}");
    assert_eq!(f.served_positions[last], 0, "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_partition_views_equal_the_oracle_at_1_2_and_4_partitions() {
    for parts in PARTITIONS {
        for fx in all(parts) {
            for w in &fx.workloads {
                check_partitioned(&fx, w).await;
            }
        }
    }
}
