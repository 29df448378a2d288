//! (1) From horizon 0 to the head, the merged realtime view finishes to exactly the
//! oracle's answer, for every built-in and spec workloads over an imported CSV with nulls.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_zero_to_the_head_equals_the_oracle() {
    for parts in PARTITIONS {
        for fx in all(parts) {
            let log = fx.target();
            fx.copy(log.as_ref(), &vec![0; parts as usize], &fx.end());
            for w in &fx.workloads {
                let expected = fx.oracle(log.as_ref(), w);
                let layer = fx.layer(&log, w, vec![0; parts as usize]);
                layer.run_until_caught_up().await.unwrap();
                let snap = layer.snapshot();
                assert!(snap.caught_up);
                assert_eq!(snap.positions, fx.end());
                assert_eq!(snap.generations.len(), 1);
                assert_exact(&expected, w, &snap.merged().unwrap(), &format!("{parts}p"));
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_are_dropped_only_within_the_window() {
    // With a window of 0 ms every re-send whose original is not the newest event counts
    // again: the answer differs from the oracle, showing the de-duplication is what makes
    // it exact.
    let fx = generated(
        datasets::DatasetKind::Pageviews,
        &[workloads::BuiltIn::PageviewsPerMinute],
        2,
    );
    let log = fx.target();
    fx.copy(log.as_ref(), &[0, 0], &fx.end());
    let w = &fx.workloads[0];
    let expected = fx.oracle(log.as_ref(), w);
    let mut config = fx.config();
    config.dedup_window_ms = 0;
    let layer = speed_layer::SpeedLayer::new(log.clone(), w.clone(), config, vec![0, 0]).unwrap();
    layer.run_until_caught_up().await.unwrap();
    let got = w.finish(&layer.snapshot().merged().unwrap()).unwrap();
    assert!(!workloads::compare(&expected, &got).is_exact());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_typed_error() {
    let fx = csv(2);
    let log = fx.target();
    fx.copy(log.as_ref(), &[0, 0], &fx.end());
    // A horizon of the wrong length, or beyond the log.
    let w = &fx.workloads[0];
    let e = speed_layer::SpeedLayer::new(log.clone(), w.clone(), fx.config(), vec![0]);
    assert!(matches!(
        e,
        Err(speed_layer::SpeedError::PartitionCount { .. })
    ));
    let e = speed_layer::SpeedLayer::new(log.clone(), w.clone(), fx.config(), vec![0, u64::MAX]);
    assert!(matches!(
        e,
        Err(speed_layer::SpeedError::HorizonOutOfRange { .. })
    ));
    // A built-in over the CSV topic: its records do not decode as page views.
    let pv = workloads::Workload::BuiltIn(workloads::BuiltIn::PageviewsPerMinute);
    let layer = speed_layer::SpeedLayer::new(log.clone(), pv, fx.config(), vec![0, 0]).unwrap();
    let e = layer.run_until_caught_up().await.unwrap_err();
    assert!(
        matches!(e, speed_layer::SpeedError::BadRecord { .. }),
        "{e}"
    );
    // A spec naming a column the topic lacks.
    let spec = workloads::Workload::Spec(
        workloads::WorkloadSpec::parse(
            "name = \"x\"\ntopic = \"trips\"\nwindow = { kind = \"tumbling\", size = \"1h\" }\ngroup_by = [\"nope\"]\naggregates = [\"count\"]\n",
            std::path::Path::new("x.toml"),
        )
        .unwrap(),
    );
    let e = speed_layer::SpeedLayer::new(log.clone(), spec, fx.config(), vec![0, 0]).unwrap_err();
    assert!(e.to_string().contains("nope"), "{e}");
}
