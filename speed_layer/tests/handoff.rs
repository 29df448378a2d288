//! (2) The hand-off between batch and speed layer is exact at the horizon: no gap, no
//! double count — with two instances split at a horizon captured mid-stream, and with one
//! instance through `begin_generation` / `expire`.

mod common;

use common::*;
use master_log::Log;
use speed_layer::SpeedError;

/// Cells present on both sides of a split: windows spanning the horizon.
fn spanning(a: &workloads::PartialTable, b: &workloads::PartialTable) -> usize {
    b.iter().filter(|(w, k, _)| a.get(**w, k).is_some()).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_split_at_a_horizon_merge_to_the_oracle() {
    for parts in PARTITIONS {
        for fx in all(parts) {
            let zero = vec![0; parts as usize];
            // Part of the data, then the horizon, then the rest appended after it.
            let log = fx.target();
            fx.copy(log.as_ref(), &zero, &fx.mid());
            let h = log.end_offsets(&fx.topic).unwrap();
            assert_eq!(h, fx.mid());
            fx.copy(log.as_ref(), &h, &fx.end());
            for w in &fx.workloads {
                let expected = fx.oracle(log.as_ref(), w);
                // "The batch part": [0, H).
                let batch = fx.layer(&log, w, zero.clone());
                batch.run_until(&h).await.unwrap();
                let below = batch.snapshot();
                assert_eq!(below.positions, h);
                let below = below.merged().unwrap();
                // The speed part: [H, head), its de-duplication seeded from below H.
                let speed = fx.layer(&log, w, h.clone());
                speed.run_until_caught_up().await.unwrap();
                let above = speed.snapshot().merged().unwrap();
                let what = format!("{parts}p split");
                assert_exact(&expected, w, &merge(&[&below, &above]), &what);
                if !w.window().is_session() {
                    assert!(spanning(&below, &above) > 0, "{what} {}", w.name());
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_instance_begins_and_expires_a_generation_exactly() {
    for parts in PARTITIONS {
        for fx in all(parts) {
            let zero = vec![0; parts as usize];
            let log = fx.target();
            fx.copy(log.as_ref(), &zero, &fx.end());
            let h2 = fx.mid();
            for w in &fx.workloads {
                let expected = fx.oracle(log.as_ref(), w);
                let what = format!("{parts}p generations");
                // The batch view's content: [0, H2).
                let batch = fx.layer(&log, w, zero.clone());
                batch.run_until(&h2).await.unwrap();
                let batch_table = batch.snapshot().merged().unwrap();

                let layer = fx.layer(&log, w, zero.clone());
                layer.run_until(&h2).await.unwrap();
                // A batch run starts with horizon H2: later records go to generation 1.
                layer.begin_generation(&h2).unwrap();
                layer.run_until_caught_up().await.unwrap();
                let before = layer.snapshot();
                assert_eq!(before.generations.len(), 2);
                assert_eq!(before.generations[1].from, h2);
                // Generation 0 is exactly [0, H2): what the batch view holds (float sums
                // may differ in the last bits with the order partitions interleave).
                let batch_rs = w.finish(&batch_table).unwrap();
                assert_exact(&batch_rs, w, &before.generations[0].table, &what);
                assert_eq!(
                    before.generations[0].table.len(),
                    batch_table.len(),
                    "{what}"
                );
                // Before publishing, the realtime view alone is the whole answer.
                assert_exact(&expected, w, &before.merged().unwrap(), &what);
                if !w.window().is_session() {
                    assert!(
                        spanning(&before.generations[0].table, &before.generations[1].table) > 0
                    );
                }
                // Reading is past H2 now: that horizon can no longer start a generation.
                assert!(
                    matches!(
                        layer.begin_generation(&h2),
                        Err(SpeedError::PastHorizon { .. })
                            | Err(SpeedError::HorizonBackwards { .. })
                    ) || h2 == fx.end()
                );
                // A horizon that is not a boundary cannot be expired.
                let odd: Vec<u64> = h2.iter().map(|h| h / 2 + 1).collect();
                assert!(matches!(
                    layer.expire(&odd),
                    Err(SpeedError::NotABoundary { .. })
                ));
                // The batch view at H2 is published: generation 0 goes.
                assert_eq!(layer.expire(&h2).unwrap(), 1);
                let after = layer.snapshot();
                assert_eq!(after.generations.len(), 1);
                assert_eq!(after.base(), Some(h2.as_slice()));
                assert_exact(
                    &expected,
                    w,
                    &merge(&[&batch_table, &after.merged().unwrap()]),
                    &what,
                );
                // Expiring again is a no-op.
                assert_eq!(layer.expire(&h2).unwrap(), 0);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn begin_generation_now_hands_its_positions_to_the_batch_run() {
    let fx = generated(
        datasets::DatasetKind::Nexmark,
        &[workloads::BuiltIn::NexmarkQ5],
        2,
    );
    let log = fx.target();
    fx.copy(log.as_ref(), &[0, 0], &fx.mid());
    let w = &fx.workloads[0];
    let layer = fx.layer(&log, w, vec![0, 0]);
    layer.run_until_caught_up().await.unwrap();
    fx.copy(log.as_ref(), &fx.mid(), &fx.end());
    // A batch run starting now reads up to where the speed layer is.
    let h = layer.begin_generation_now();
    assert_eq!(h, fx.mid());
    layer.run_until_caught_up().await.unwrap();
    let batch = fx.layer(&log, w, vec![0, 0]);
    batch.run_until(&h).await.unwrap();
    layer.expire(&h).unwrap();
    let expected = fx.oracle(log.as_ref(), w);
    let merged = merge(&[
        &batch.snapshot().merged().unwrap(),
        &layer.snapshot().merged().unwrap(),
    ]);
    assert_exact(&expected, w, &merged, "now");
}

/// Layers scoped to one partition each (as the workers of a Lambda group keep them), each
/// split at its own partition's horizon: their tables merged over all partitions are the
/// oracle's answer, and a layer never reads outside its scope.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_scoped_layers_merge_to_the_oracle() {
    for parts in PARTITIONS {
        for fx in all(parts) {
            let zero = vec![0; parts as usize];
            let log = fx.target();
            fx.copy(log.as_ref(), &zero, &fx.end());
            let (mid, end) = (fx.mid(), log.end_offsets(&fx.topic).unwrap());
            for w in &fx.workloads {
                let expected = fx.oracle(log.as_ref(), w);
                let mut tables = Vec::new();
                for p in 0..parts as usize {
                    let only = |v: &[u64]| -> Vec<u64> {
                        (0..v.len())
                            .map(|q| if q == p { v[q] } else { 0 })
                            .collect()
                    };
                    let scoped = |from: Vec<u64>| {
                        let config = fx.config().with_partitions(vec![p as u32]);
                        speed_layer::SpeedLayer::new(log.clone(), w.clone(), config, from).unwrap()
                    };
                    // Below this partition's horizon, then from it to the end.
                    let below = scoped(zero.clone());
                    below.run_until(&only(&mid)).await.unwrap();
                    let above = scoped(only(&mid));
                    above.run_until_caught_up().await.unwrap();
                    let snap = above.snapshot();
                    assert_eq!(snap.positions, only(&end), "{parts}p scope {p}");
                    assert!(snap.caught_up, "{parts}p scope {p}");
                    tables.push(below.snapshot().merged().unwrap());
                    tables.push(snap.merged().unwrap());
                }
                let all: Vec<_> = tables.iter().collect();
                assert_exact(&expected, w, &merge(&all), &format!("{parts}p scoped"));
            }
        }
    }
}

#[test]
fn a_scope_outside_the_topic_is_refused() {
    let fx = &all(2)[0];
    let log = fx.target();
    let w = &fx.workloads[0];
    let config = fx.config().with_partitions(vec![2]);
    let err = speed_layer::SpeedLayer::new(log.clone(), w.clone(), config, vec![0, 0]).unwrap_err();
    assert!(
        matches!(
            err,
            SpeedError::UnknownPartition {
                partition: 2,
                partitions: 2,
                ..
            }
        ),
        "{err}"
    );
}
