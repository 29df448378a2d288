//! (4) Save and load of the realtime view: a round trip gives the same generations and
//! positions; a resumed layer continues exactly; a published horizon drops covered
//! generations, and one that cuts through a generation makes the layer re-read from it.

mod common;

use common::*;
use speed_layer::{RealtimeSnapshot, SpeedError, SpeedLayer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn save_and_load_round_trip() {
    for parts in PARTITIONS {
        let fixtures = vec![
            generated(
                datasets::DatasetKind::Pageviews,
                &[workloads::BuiltIn::ProfileViewersHourly],
                parts,
            ),
            csv(parts),
        ];
        for fx in fixtures {
            let zero = vec![0; parts as usize];
            let end = fx.end();
            let mid = fx.mid();
            let tq: Vec<u64> = end.iter().map(|e| e * 3 / 4).collect();
            let cut: Vec<u64> = mid.iter().zip(&tq).map(|(m, t)| (m + t) / 2).collect();
            let log = fx.target();
            fx.copy(log.as_ref(), &zero, &tq);
            let path = fx.dir.path().join("views").join("realtime.bin");
            for w in &fx.workloads {
                let what = format!("{parts}p {}", w.name());
                let layer = fx.layer(&log, w, zero.clone());
                layer.run_until(&mid).await.unwrap();
                layer.begin_generation(&mid).unwrap();
                layer.run_until_caught_up().await.unwrap();
                layer.save(&path).unwrap();
                let saved = layer.snapshot();
                assert_eq!(saved.generations.len(), 2);

                // Round trip.
                let back = RealtimeSnapshot::load(&path, None).unwrap();
                assert_eq!(back.generations, saved.generations, "{what}");
                assert_eq!(back.positions, saved.positions, "{what}");
                assert!(!back.caught_up);
                let back = RealtimeSnapshot::load(&path, Some(&zero)).unwrap();
                assert_eq!(back.generations.len(), 2);

                // The process stops; more data arrives; a resumed layer continues exactly
                // (its de-duplication re-seeded from the log below its positions).
                let log = fx.target();
                fx.copy(log.as_ref(), &zero, &end);
                let expected = fx.oracle(log.as_ref(), w);
                let cfg = fx.config();
                let resumed = SpeedLayer::load(log.clone(), w.clone(), cfg, &path, None).unwrap();
                resumed.run_until_caught_up().await.unwrap();
                assert_exact(&expected, w, &resumed.snapshot().merged().unwrap(), &what);

                // The batch view at `mid` was published meanwhile: generation 0 is dropped.
                let batch = fx.layer(&log, w, zero.clone());
                batch.run_until(&mid).await.unwrap();
                let below_mid = batch.snapshot().merged().unwrap();
                let cfg = fx.config();
                let resumed =
                    SpeedLayer::load(log.clone(), w.clone(), cfg, &path, Some(&mid)).unwrap();
                let snap = resumed.snapshot();
                assert_eq!(snap.generations.len(), 1);
                assert_eq!(snap.base(), Some(mid.as_slice()));
                assert_eq!(snap.positions, tq);
                resumed.run_until_caught_up().await.unwrap();
                let merged = merge(&[&below_mid, &resumed.snapshot().merged().unwrap()]);
                assert_exact(&expected, w, &merged, &what);

                // A published horizon cutting through a generation: re-read from it.
                let batch = fx.layer(&log, w, zero.clone());
                batch.run_until(&cut).await.unwrap();
                let below_cut = batch.snapshot().merged().unwrap();
                let cfg = fx.config();
                let resumed =
                    SpeedLayer::load(log.clone(), w.clone(), cfg, &path, Some(&cut)).unwrap();
                let snap = resumed.snapshot();
                assert_eq!(snap.generations.len(), 1);
                assert!(snap.generations[0].table.is_empty());
                assert_eq!(snap.positions, cut);
                resumed.run_until_caught_up().await.unwrap();
                let merged = merge(&[&below_cut, &resumed.snapshot().merged().unwrap()]);
                assert_exact(&expected, w, &merged, &what);
            }
        }
    }
}

#[test]
fn a_bad_file_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.bin");
    std::fs::write(&path, b"not a view").unwrap();
    assert!(matches!(
        RealtimeSnapshot::load(&path, None),
        Err(SpeedError::BadSave { .. })
    ));
    assert!(matches!(
        RealtimeSnapshot::load(&dir.path().join("missing"), None),
        Err(SpeedError::Io { .. })
    ));
}
