//! Fault injection into the saved realtime view: every byte flipped, cuts at every
//! length, zero-fill and deletion. A reader (`RealtimeSnapshot::load`) gets
//! `SpeedError::BadSave` for each, never a view; a resuming layer (`SpeedLayer::load`,
//! `SpeedLayer::resume`) warns, discards the file and reads the log again from the
//! published horizon, to the oracle's answer.

mod common;

use common::*;
use speed_layer::{RealtimeSnapshot, SpeedError, SpeedLayer};
use testkit::damage::warnings;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_realtime_view_is_never_read_and_is_rebuilt_from_the_log() {
    warnings("");
    let fx = generated(
        datasets::DatasetKind::Pageviews,
        &[workloads::BuiltIn::PageviewsPerMinute],
        2,
    );
    let w = &fx.workloads[0];
    let (zero, mid, end) = (fx.zeros(), fx.mid(), fx.end());
    let tq: Vec<u64> = end.iter().map(|e| e * 3 / 4).collect();
    let log = fx.target();
    fx.copy(log.as_ref(), &zero, &end);
    let expected = fx.oracle(log.as_ref(), w);
    // The batch view at `mid` (what the speed layer's file is paired with).
    let batch = fx.layer(&log, w, zero.clone());
    batch.run_until(&mid).await.unwrap();
    let below_mid = batch.snapshot().merged().unwrap();
    // The realtime view: from `mid`, read to three quarters, saved.
    let layer = fx.layer(&log, w, mid.clone());
    layer.run_until(&tq).await.unwrap();
    let path = fx.dir.path().join("realtime.view");
    layer.save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let saved = RealtimeSnapshot::load(&path, Some(&mid)).unwrap();
    assert_eq!(saved.positions, tq);

    // A reader: every damage is an error, never a view.
    // Every byte of the header and 256 spread over the rest (every byte of a small file
    // is flipped and cut in the `saved` module's unit tests).
    let positions: std::collections::BTreeSet<usize> = (0..32)
        .chain((0..256).map(|k| k * bytes.len() / 256))
        .chain([bytes.len() - 1])
        .filter(|&i| i < bytes.len())
        .collect();
    let mut damages: Vec<(String, Option<Vec<u8>>)> = Vec::new();
    for &i in &positions {
        let mut bad = bytes.clone();
        bad[i] ^= 0x01;
        damages.push((format!("byte {i} flipped"), Some(bad)));
        damages.push((format!("cut at {i}"), Some(bytes[..i].to_vec())));
    }
    damages.push(("zero-filled".into(), Some(vec![0; bytes.len()])));
    damages.push(("deleted".into(), None));
    let mut detected = 0;
    for (what, content) in &damages {
        match content {
            Some(b) => std::fs::write(&path, b).unwrap(),
            None => std::fs::remove_file(&path).unwrap(),
        }
        match RealtimeSnapshot::load(&path, Some(&mid)) {
            Err(SpeedError::BadSave { .. }) => detected += 1,
            Err(SpeedError::Io { .. }) if content.is_none() => detected += 1,
            other => panic!("{what}: {other:?}"),
        }
    }
    assert_eq!(detected, damages.len());
    println!(
        "realtime view ({} bytes), reader: {} flips, {} cuts, 1 zero-fill, 1 deletion: all \
         {detected} detected",
        bytes.len(),
        positions.len(),
        positions.len()
    );

    // A resuming layer: one damage of each kind is discarded with a warning, the layer
    // starts at the published horizon and reads the log again, to the exact answer.
    let kinds: Vec<(&str, Option<Vec<u8>>)> = vec![
        ("flip", {
            let mut b = bytes.clone();
            b[bytes.len() / 2] ^= 0x01;
            Some(b)
        }),
        ("cut", Some(bytes[..bytes.len() / 2].to_vec())),
        ("zeros", Some(vec![0; bytes.len()])),
        ("delete", None),
    ];
    for (what, content) in kinds {
        match &content {
            Some(b) => std::fs::write(&path, b).unwrap(),
            None => {
                let _ = std::fs::remove_file(&path);
            }
        }
        let before = warnings(&path.display().to_string());
        let resumed =
            SpeedLayer::resume(log.clone(), w.clone(), fx.config(), &path, Some(&mid)).unwrap();
        let snap = resumed.snapshot();
        assert_eq!(
            snap.positions, mid,
            "{what}: restarts at the published horizon"
        );
        assert!(snap.merged().unwrap().is_empty(), "{what}");
        if content.is_some() {
            assert_eq!(
                warnings(&path.display().to_string()),
                before + 1,
                "{what}: one warning naming the file"
            );
        }
        resumed.run_until_caught_up().await.unwrap();
        let merged = merge(&[&below_mid, &resumed.snapshot().merged().unwrap()]);
        assert_exact(&expected, w, &merged, what);
    }
}
