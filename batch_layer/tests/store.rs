//! Publishing views: exact round trips, atomic switch of the pointer, K versions kept.

use std::collections::BTreeSet;

use batch_layer::{BatchError, BatchView, ViewStore};
use workloads::{Partial, PartialTable, Scalar, SumState, Window};

fn view(n: i64) -> BatchView {
    let mut table = PartialTable::new();
    for i in 0..n {
        let w = Window {
            start: i * 1000,
            end: i * 1000 + 5000,
        };
        let key = vec![
            if i % 4 == 0 {
                Scalar::Null
            } else {
                Scalar::Str(format!("k{i}"))
            },
            Scalar::Int(i - 3),
            Scalar::Float(i as f64 / 3.0),
            Scalar::Timestamp(i * 1_000_001),
            Scalar::Bool(i % 2 == 0),
        ];
        let distinct: BTreeSet<Scalar> =
            (0..i % 5).map(|j| Scalar::Float(j as f64 * 0.1)).collect();
        table.cell_mut(w, key, || {
            vec![
                Partial::Count(i as u64 * 7),
                Partial::Sum(SumState {
                    int: i128::from(i64::MAX) * 3 + i128::from(i),
                    float: 0.1 + i as f64 / 7.0,
                    count: i as u64,
                    saw_float: i % 2 == 1,
                }),
                Partial::Min(if i % 3 == 0 {
                    None
                } else {
                    Some(Scalar::Float(-(i as f64) / 9.0))
                }),
                Partial::Max(Some(Scalar::Str(format!("m{i}")))),
                Partial::Distinct(distinct),
                Partial::MaxBy(Some((Scalar::Int(i), vec![Scalar::Int(1), Scalar::Null]))),
            ]
        });
    }
    BatchView {
        version: 0,
        workload: "w".into(),
        topic: "t".into(),
        key_columns: vec!["s".into(), "i".into(), "f".into(), "ts".into(), "b".into()],
        horizon: vec![n as u64, 0, 3],
        records_read: 100 + n as u64,
        events: 90 + n as u64,
        created_ms: 1_700_000_000_000,
        elapsed_ms: 12,
        table,
    }
}

#[test]
fn publish_and_read_back_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let store = ViewStore::open(dir.path().join("batch")).unwrap();
    assert!(store.current().unwrap().is_none());
    let v = view(40);
    let n = store.publish(&v).unwrap();
    assert_eq!(n, 1);
    let back = store.current().unwrap().unwrap();
    assert_eq!(back, BatchView { version: 1, ..v });
    // An empty table round-trips too.
    let empty = view(0);
    store.publish(&empty).unwrap();
    assert_eq!(
        store.current().unwrap().unwrap(),
        BatchView {
            version: 2,
            ..empty
        }
    );
}

#[test]
fn a_crash_before_the_switch_leaves_the_old_view_served() {
    let dir = tempfile::tempdir().unwrap();
    let store = ViewStore::open(dir.path()).unwrap();
    let old = view(5);
    store.publish(&old).unwrap();
    // v2 is written completely, but the process dies before CURRENT is replaced.
    let new = view(9);
    let v2 = store.prepare(&new).unwrap();
    assert_eq!(v2, 2);
    assert!(dir.path().join("v2").is_dir());
    assert_eq!(store.current_version().unwrap(), Some(1));
    assert_eq!(
        store.current().unwrap().unwrap(),
        BatchView { version: 1, ..old }
    );
    // A half-written temporary directory is ignored as well.
    std::fs::create_dir_all(dir.path().join(".v3.tmp")).unwrap();
    std::fs::write(dir.path().join(".v3.tmp/view.parquet"), b"garbage").unwrap();
    assert_eq!(store.current().unwrap().unwrap().version, 1);
    // The next publish goes past the orphan and cleans it up.
    let v3 = store.publish(&new).unwrap();
    assert_eq!(v3, 3);
    assert_eq!(
        store.current().unwrap().unwrap(),
        BatchView { version: 3, ..new }
    );
}

#[test]
fn the_last_k_versions_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = ViewStore::open(dir.path()).unwrap();
    for i in 1..=5 {
        assert_eq!(store.publish(&view(i)).unwrap(), i as u64);
    }
    assert_eq!(store.versions().unwrap(), vec![3, 4, 5]);
    let store = store.with_keep(1);
    store.publish(&view(2)).unwrap();
    assert_eq!(store.versions().unwrap(), vec![6]);
    assert_eq!(store.read_version(6).unwrap().version, 6);
}

#[test]
fn a_corrupt_artifact_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = ViewStore::open(dir.path()).unwrap();
    store.publish(&view(3)).unwrap();
    std::fs::write(dir.path().join("v1/view.parquet"), b"not parquet").unwrap();
    assert!(matches!(store.current(), Err(BatchError::Corrupt { .. })));
    std::fs::write(dir.path().join("v1/meta.json"), b"{").unwrap();
    assert!(matches!(store.current(), Err(BatchError::Corrupt { .. })));
    std::fs::write(dir.path().join("CURRENT"), b"nonsense").unwrap();
    assert!(matches!(store.current(), Err(BatchError::Corrupt { .. })));
}

#[test]
fn a_torn_pointer_temporary_is_replaced_and_publishing_leaves_no_temporaries() {
    let dir = tempfile::tempdir().unwrap();
    let store = ViewStore::open(dir.path()).unwrap();
    store.publish(&view(2)).unwrap();
    // An interrupted switch left its temporary pointer behind, half written.
    std::fs::write(dir.path().join(".CURRENT.tmp"), b"v9").unwrap();
    assert_eq!(store.current_version().unwrap(), Some(1));
    assert_eq!(store.publish(&view(4)).unwrap(), 2);
    assert_eq!(store.current_version().unwrap(), Some(2));
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["CURRENT", "v1", "v2"]);
    let mut files: Vec<String> = std::fs::read_dir(dir.path().join("v2"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(files, ["meta.json", "view.parquet"]);
}
