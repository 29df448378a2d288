//! The Lambda runtime (`Lambda`, `RunningLambda`): its batch cycle, its files and what
//! a query sees, against the oracle.

use std::sync::Arc;
use std::time::Duration;

use datasets::DatasetKind;
use lambda::{Lambda, LambdaConfig, Layout};
use master_log::Log;
use testkit::{Fixture, assert_exact, generated};
use workloads::BuiltIn;

fn fixture() -> Fixture {
    generated(DatasetKind::Pageviews, &[BuiltIn::PageviewsPerMinute], 2)
}

/// With files: a run over what the log holds, a restart that resumes from the saved
/// views and takes the rest, and a restart with nothing new that recomputes nothing; the
/// answer is the oracle's each time.
#[test]
fn runs_until_caught_up_resume_from_their_files() {
    let fx = fixture();
    let w = fx.workloads[0].clone();
    let (log, _) = fx.target_dir();
    let views = tempfile::tempdir().unwrap();
    let layout = Layout::new(views.path(), &w);
    let open = || {
        let config = LambdaConfig {
            files: Some(layout.files().unwrap()),
            ..LambdaConfig::new(&fx.topic, &fx.side)
        };
        Lambda::new(log.clone(), w.clone(), config).unwrap()
    };
    fx.copy(log.as_ref(), &fx.zeros(), &fx.mid());
    let first = open().run_until_caught_up().unwrap();
    let runs: Vec<Vec<u64>> = first.batch_runs.iter().map(|r| r.horizon.clone()).collect();
    assert_eq!(runs, vec![fx.mid()]);
    assert_eq!(first.horizon, Some(fx.mid()));

    fx.copy(log.as_ref(), &fx.mid(), &fx.end());
    let second = open();
    // The published view is served at once, before any new run.
    assert_eq!(second.views().horizon(), Some(fx.mid()));
    let status = second.run_until_caught_up().unwrap();
    assert_eq!(status.batch_runs.len(), 1);
    assert_eq!(status.horizon, Some(fx.end()));
    assert_eq!(status.positions, fx.end());

    let third = open();
    let expected = fx.oracle(log.as_ref(), &w);
    assert_exact(&expected, &w, &third.table().unwrap(), "restarted");
    let status = third.run_until_caught_up().unwrap();
    assert!(status.batch_runs.is_empty(), "{:?}", status.batch_runs);
    let saved = layout
        .saved_snapshot(None, &fx.topic, log.as_ref())
        .unwrap()
        .unwrap();
    assert_exact(&expected, &w, &saved.merged().unwrap(), "saved views");
}

/// A running pipeline shows records fresh (speed layer) first, then in a published batch
/// view; it stops with its batch runs, and its answer is the oracle's.
#[test]
fn a_running_pipeline_shows_records_fresh_then_published() {
    let fx = fixture();
    let w = fx.workloads[0].clone();
    let log = fx.target();
    fx.copy(log.as_ref(), &fx.zeros(), &fx.mid());
    let config = LambdaConfig {
        batch_every: Duration::from_millis(50),
        ..LambdaConfig::new(&fx.topic, &fx.side)
    };
    let running = Lambda::new(log.clone(), w.clone(), config)
        .unwrap()
        .start()
        .unwrap();
    fx.copy(log.as_ref(), &fx.mid(), &fx.end());
    let end = log.end_offsets(&fx.topic).unwrap();
    let minute = Duration::from_secs(60);
    assert!(running.wait_visible(&end, minute).unwrap());
    assert!(running.wait_published(&end, minute).unwrap());
    assert!(!running.failed());
    let table = running.lambda().table().unwrap();
    let status = running.stop().unwrap();
    let horizons: Vec<&Vec<u64>> = status.batch_runs.iter().map(|r| &r.horizon).collect();
    assert_eq!(horizons.first(), Some(&&fx.mid()), "{horizons:?}");
    assert_eq!(horizons.last(), Some(&&fx.end()), "{horizons:?}");
    // No run repeats a horizon: nothing new, no recompute.
    assert!(horizons.windows(2).all(|h| h[0] != h[1]), "{horizons:?}");
    assert_exact(&fx.oracle(log.as_ref(), &w), &w, &table, "running");
}

/// Waiting for a record that never arrives times out with `false`, not an error.
#[test]
fn waiting_for_what_is_not_there_times_out() {
    let fx = fixture();
    let w = fx.workloads[0].clone();
    let log = fx.target();
    fx.copy(log.as_ref(), &fx.zeros(), &fx.mid());
    let running = Lambda::new(log.clone(), w, LambdaConfig::new(&fx.topic, &fx.side))
        .unwrap()
        .start()
        .unwrap();
    let beyond: Vec<u64> = fx.end().iter().map(|e| e + 1).collect();
    let short = Duration::from_millis(200);
    assert!(!running.wait_visible(&beyond, short).unwrap());
    assert!(!running.wait_published(&beyond, short).unwrap());
    running.stop().unwrap();
}

/// A zero batch period is refused.
#[test]
fn a_zero_batch_period_is_refused() {
    let fx = fixture();
    let log: Arc<dyn Log> = fx.target();
    let config = LambdaConfig {
        batch_every: Duration::ZERO,
        ..LambdaConfig::new(&fx.topic, &fx.side)
    };
    let e = Lambda::new(log, fx.workloads[0].clone(), config).unwrap_err();
    assert!(e.to_string().contains("longer than zero"), "{e}");
}
