//! The oracle decodes on its own, so a decoding bug in the pipelines' shared stream
//! decoder (`datasets::stream`) shows as a disagreement: with the `datasets` test fault
//! switched on (feature `test-perturb`: every event time decoded 1 ms early), the speed
//! layer's answer differs from the oracle's, while the oracle's own answer does not
//! move; switched off, the two agree.
//!
//! One test in its own binary: the fault is switched process-wide, so nothing else may
//! run beside it.

use std::sync::Arc;

use datasets::stream::perturb;
use datasets::{DatasetKind, GenerateOptions};
use master_log::EmbeddedLog;
use speed_layer::{SpeedConfig, SpeedLayer};
use workloads::{BuiltIn, ResultSet, Workload, compare};

/// The speed layer's answer over the whole topic, from offset 0 to the head.
async fn speed_layer_answer(
    log: &Arc<EmbeddedLog>,
    w: &Workload,
    side: &std::path::Path,
) -> ResultSet {
    let config = SpeedConfig::new("events", side);
    let layer = SpeedLayer::new(log.clone(), w.clone(), config, vec![0, 0]).unwrap();
    layer.run_until_caught_up().await.unwrap();
    w.finish(&layer.snapshot().merged().unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_in_the_shared_decoder_makes_the_speed_layer_disagree_with_the_oracle() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(EmbeddedLog::open(dir.path().join("log")).unwrap());
    let side = dir.path().join("side");
    // 200 s of event time: 20 ten-second windows, each with an event at its first ms.
    let opts = GenerateOptions {
        partitions: 2,
        event_rate: Some(20),
        out_of_order: 0.1,
        max_delay_ms: 5_000,
        duplicates: 0.05,
        ..GenerateOptions::new(DatasetKind::Ysb, "events", 4_000)
    };
    datasets::generate(log.as_ref(), &opts, Some(&side), &mut datasets::no_progress).unwrap();
    let w = Workload::BuiltIn(BuiltIn::YsbCampaign10s);
    let expected = oracle::answer(log.as_ref(), &w, "events", &side).unwrap();
    assert!(!expected.rows.is_empty());

    let fine = compare(&expected, &speed_layer_answer(&log, &w, &side).await);
    assert!(fine.is_exact(), "without the fault: {fine:?}");

    perturb::shift_event_times(-1);
    let faulty = compare(&expected, &speed_layer_answer(&log, &w, &side).await);
    let oracle_meanwhile = oracle::answer(log.as_ref(), &w, "events", &side).unwrap();
    perturb::shift_event_times(0);
    assert!(!faulty.is_exact(), "the fault went unnoticed");
    // Views at a window's first ms moved to the window before: counts differ.
    assert!(
        faulty.exact < faulty.cells && faulty.max_abs_error >= 1.0,
        "{faulty:?}"
    );
    assert_eq!(oracle_meanwhile, expected, "the fault reached the oracle");

    let again = compare(&expected, &speed_layer_answer(&log, &w, &side).await);
    assert!(again.is_exact(), "with the fault off again: {again:?}");
}
