//! Fault injection into Lambda's derived files — the published batch view
//! (`view.parquet`, `meta.json`, `CURRENT`) and the saved realtime view — each flipped,
//! cut, zero-filled and deleted. For every case: a reader without the sidecars gets
//! `LambdaError::Damaged` or an answer that is the oracle's for the positions it
//! reports; a reader with them (`Layout::rebuilding_with`) warns, recomputes the batch
//! view from the log and answers the oracle's answer at the log's end; a pipeline
//! (`Lambda::new`) warns and rebuilds, serves at once an answer that is the oracle's
//! for its positions, and after a run the oracle's answer. Never a wrong answer, never
//! an older batch view as current.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datasets::DatasetKind;
use lambda::{Lambda, LambdaConfig, LambdaError, Layout};
use master_log::EmbeddedLog;
use serving_layer::LambdaSnapshot;
use testkit::damage::{Damage, copy_dir, damage, warnings};
use testkit::{Fixture, assert_exact, generated};
use workloads::{BuiltIn, ResultSet, Workload};

/// The log at three quarters of the dataset, the oracle's answers at the half (the
/// published batch horizon) and at three quarters (the log's end), and pristine views:
/// a batch view published at the half and a realtime view from there to the end.
struct Setup {
    fx: Fixture,
    w: Workload,
    log: Arc<EmbeddedLog>,
    half: Vec<u64>,
    end: Vec<u64>,
    at_half: ResultSet,
    at_end: ResultSet,
    pristine: tempfile::TempDir,
}

fn setup() -> Setup {
    let fx = generated(DatasetKind::Pageviews, &[BuiltIn::PageviewsPerMinute], 2);
    let w = fx.workloads[0].clone();
    let (half, end) = (fx.mid(), fx.fraction(3, 4));
    let prefix = fx.target();
    fx.copy(prefix.as_ref(), &fx.zeros(), &half);
    let at_half = fx.oracle(prefix.as_ref(), &w);
    let log = fx.target();
    fx.copy(log.as_ref(), &fx.zeros(), &half);
    let pristine = tempfile::tempdir().unwrap();
    let open = |root: &Path| pipeline(&fx, &w, &log, root);
    open(pristine.path()).run_until_caught_up().unwrap();
    fx.copy(log.as_ref(), &half, &end);
    open(pristine.path()).follow(&|| false, true).unwrap();
    let at_end = fx.oracle(log.as_ref(), &w);
    Setup {
        fx,
        w,
        log,
        half,
        end,
        at_half,
        at_end,
        pristine,
    }
}

fn pipeline(fx: &Fixture, w: &Workload, log: &Arc<EmbeddedLog>, root: &Path) -> Lambda {
    let config = LambdaConfig {
        files: Some(Layout::new(root, w).files().unwrap()),
        ..LambdaConfig::new(&fx.topic, &fx.side)
    };
    Lambda::new(log.clone(), w.clone(), config).unwrap()
}

impl Setup {
    /// A fresh copy of the pristine views, and the file of kind `kind` in it.
    fn views(&self, case: &str, kind: &str) -> (PathBuf, PathBuf) {
        let root = self.pristine.path().parent().unwrap().join(format!(
            "{}-{case}",
            self.pristine.path().file_name().unwrap().to_string_lossy()
        ));
        let _ = std::fs::remove_dir_all(&root);
        copy_dir(self.pristine.path(), &root);
        let dir = root.join(self.w.name());
        let file = match kind {
            "view.parquet" | "meta.json" => dir.join("batch/v1").join(kind),
            "CURRENT" => dir.join("batch/CURRENT"),
            "batch directory" => dir.join("batch"),
            _ => dir.join("realtime.view"),
        };
        (root, file)
    }

    /// Check that `snap` is the oracle's answer for the positions it reports.
    fn check(&self, snap: &LambdaSnapshot, what: &str) -> &'static str {
        let table = snap.merged().unwrap();
        if snap.positions == self.end {
            assert_exact(&self.at_end, &self.w, &table, what);
            "oracle at the log's end"
        } else if snap.positions == self.half {
            assert_exact(&self.at_half, &self.w, &table, what);
            "oracle at the batch horizon"
        } else {
            panic!("{what}: positions {:?}", snap.positions);
        }
    }
}

#[test]
fn damaged_lambda_views_are_detected_and_rebuilt_never_served() {
    let s = setup();
    let pristine = Layout::new(s.pristine.path(), &s.w)
        .saved_snapshot(None, &s.fx.topic, s.log.as_ref())
        .unwrap()
        .unwrap();
    assert_eq!(s.check(&pristine, "pristine"), "oracle at the log's end");
    let mut rows = Vec::new();
    let mut detected = 0;
    let mut cases = 0;
    let mut kinds: Vec<(&str, Damage)> = Vec::new();
    for kind in ["view.parquet", "meta.json", "CURRENT", "realtime.view"] {
        for how in [Damage::Flip, Damage::Cut, Damage::Zeros, Damage::Delete] {
            kinds.push((kind, how));
        }
    }
    // Every version gone, the realtime view above them still there.
    kinds.push(("batch directory", Damage::Delete));
    {
        for (kind, how) in kinds {
            cases += 1;
            let what = format!("{kind} {how:?}");
            let case = format!("{}-{how:?}", kind.replace(['.', ' '], "_"));

            // A reader without the sidecars: an error, or the oracle for its positions.
            let (root, file) = s.views(&format!("{case}-reader"), kind);
            damage(&file, how);
            let reader =
                match Layout::new(&root, &s.w).saved_snapshot(None, &s.fx.topic, s.log.as_ref()) {
                    Err(LambdaError::Damaged(_)) => "Damaged error",
                    Ok(Some(snap)) => s.check(&snap, &what),
                    other => panic!("{what}: {other:?}"),
                };

            // A reader with the sidecars: rebuilt (with a warning) to the oracle at the
            // log's end, or (damage it cannot see) the oracle for its positions.
            let (root, file) = s.views(&format!("{case}-rebuild"), kind);
            damage(&file, how);
            let before = warnings(&root.display().to_string());
            let snap = Layout::new(&root, &s.w)
                .rebuilding_with(&s.fx.side)
                .saved_snapshot(None, &s.fx.topic, s.log.as_ref())
                .unwrap()
                .unwrap();
            let rebuilt = s.check(&snap, &what);
            let reader_warned = warnings(&root.display().to_string()) > before;
            if reader == "Damaged error" {
                assert!(reader_warned, "{what}: the rebuild warns");
                assert_eq!(rebuilt, "oracle at the log's end", "{what}");
                let store = Layout::new(&root, &s.w).files().unwrap().store;
                // A new version, published (the first of a new store when it was gone).
                let new = if kind == "batch directory" { 1 } else { 2 };
                assert_eq!(store.current_version().unwrap(), Some(new), "{what}");
            }

            // A pipeline: warns and rebuilds; what it serves at once is the oracle's for
            // its positions; after a run, the oracle's at the log's end.
            let (root, file) = s.views(&format!("{case}-pipeline"), kind);
            damage(&file, how);
            let before = warnings(&root.display().to_string());
            let lambda = pipeline(&s.fx, &s.w, &s.log, &root);
            let served = s.check(&lambda.snapshot().unwrap(), &what);
            let pipeline_warned = warnings(&root.display().to_string()) > before;
            let status = lambda.run_until_caught_up().unwrap();
            assert_eq!(status.positions, s.end, "{what}");
            let after = pipeline(&s.fx, &s.w, &s.log, &root);
            assert_eq!(
                s.check(&after.snapshot().unwrap(), &what),
                "oracle at the log's end"
            );

            let seen = reader == "Damaged error" || pipeline_warned;
            detected += usize::from(seen);
            if how != Damage::Delete || kind != "realtime.view" {
                assert!(seen, "{what}: detected");
                assert!(pipeline_warned, "{what}: the pipeline warns");
            }
            rows.push(format!(
                "{kind} × {how:?}: reader {reader}; rebuilding reader {rebuilt} (warned: \
                 {reader_warned}); pipeline serves {served} (warned: {pipeline_warned})"
            ));
        }
    }
    for r in &rows {
        println!("{r}");
    }
    println!("{cases} cases, {detected} detected");
    assert_eq!(cases, 17);
    // The one damage no check can see: a deleted realtime view is one never saved.
    assert_eq!(detected, 16);
}
