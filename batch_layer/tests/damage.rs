//! Fault injection into the published batch view's files (`view.parquet`, `meta.json`,
//! `CURRENT`): every byte flipped, cuts, zero-fill and deletion. Each is detected — a
//! `BatchError::Corrupt` naming the damaged file (or its version) — and the reader is
//! never served a wrong or an older view as current.

use std::path::{Path, PathBuf};

use batch_layer::{BatchError, BatchView, ViewStore};
use workloads::{Partial, PartialTable, Scalar, Window};

fn view(n: i64) -> BatchView {
    let mut table = PartialTable::new();
    for i in 0..n {
        let w = Window {
            start: i * 1000,
            end: i * 1000 + 5000,
        };
        table.cell_mut(w, vec![Scalar::Str(format!("k{i}"))], || {
            vec![
                Partial::Count(i as u64 + 1),
                Partial::Max(Some(Scalar::Int(i))),
            ]
        });
    }
    BatchView {
        version: 0,
        workload: "w".into(),
        topic: "t".into(),
        key_columns: vec!["k".into()],
        horizon: vec![n as u64, 7],
        records_read: 10 + n as u64,
        events: 9 + n as u64,
        created_ms: 1_700_000_000_000,
        elapsed_ms: 3,
        table,
    }
}

/// A store with versions 1 (an older view) and 2 (the published one).
fn store() -> (tempfile::TempDir, ViewStore, BatchView) {
    let dir = tempfile::tempdir().unwrap();
    let store = ViewStore::open(dir.path().join("batch")).unwrap();
    store.publish(&view(4)).unwrap();
    let current = view(9);
    let v = store.publish(&current).unwrap();
    assert_eq!(v, 2);
    let current = BatchView {
        version: 2,
        ..current
    };
    assert_eq!(store.current().unwrap().unwrap(), current);
    (dir, store, current)
}

/// What reading the store's current view gives now: it must be the published view
/// itself, or a `Corrupt` error naming `file` (or a directory holding it).
fn check(store: &ViewStore, expected: &BatchView, file: &Path, what: &str) -> bool {
    match store.current() {
        Ok(Some(v)) => {
            assert_eq!(&v, expected, "{what}: a view other than the published one");
            false
        }
        Ok(None) => panic!("{what}: no view served"),
        Err(BatchError::Corrupt { path, .. }) => {
            assert!(
                file.starts_with(&path) || path.starts_with(file),
                "{what}: the error names {}, not {}",
                path.display(),
                file.display()
            );
            true
        }
        Err(e) => panic!("{what}: {e:?}"),
    }
}

/// Counts of one file kind's damage cases: (checked, detected).
#[derive(Default, Debug)]
struct Counts {
    flips: (usize, usize),
    cuts: (usize, usize),
    zeroed: (usize, usize),
    deleted: (usize, usize),
}

/// Flip every byte (with two masks), cut at every length, zero-fill and delete `file`,
/// restoring it after each.
fn inject(store: &ViewStore, expected: &BatchView, file: &Path) -> Counts {
    let bytes = std::fs::read(file).unwrap();
    let mut c = Counts::default();
    let case = |c: &mut (usize, usize), detected: bool| {
        c.0 += 1;
        c.1 += usize::from(detected);
    };
    for i in 0..bytes.len() {
        for mask in [0x01u8, 0x20] {
            let mut bad = bytes.clone();
            bad[i] ^= mask;
            std::fs::write(file, &bad).unwrap();
            let d = check(store, expected, file, &format!("byte {i} ^ {mask:#x}"));
            case(&mut c.flips, d);
        }
    }
    for len in 0..bytes.len() {
        std::fs::write(file, &bytes[..len]).unwrap();
        let d = check(store, expected, file, &format!("cut at {len}"));
        case(&mut c.cuts, d);
    }
    std::fs::write(file, vec![0u8; bytes.len()]).unwrap();
    let d = check(store, expected, file, "zero-filled");
    case(&mut c.zeroed, d);
    std::fs::remove_file(file).unwrap();
    let d = check(store, expected, file, "deleted");
    case(&mut c.deleted, d);
    std::fs::write(file, &bytes).unwrap();
    assert_eq!(&store.current().unwrap().unwrap(), expected);
    c
}

#[test]
fn every_damage_to_a_published_view_is_detected_and_no_other_view_served() {
    let (dir, store, expected) = store();
    let batch = dir.path().join("batch");
    let files: [(&str, PathBuf); 3] = [
        ("view.parquet", batch.join("v2/view.parquet")),
        ("meta.json", batch.join("v2/meta.json")),
        ("CURRENT", batch.join("CURRENT")),
    ];
    for (name, file) in &files {
        let c = inject(&store, &expected, file);
        println!("batch view {name}: {c:?}");
        // A flip anywhere in these files is caught (the checksums cover every byte of
        // the Parquet file, the content of the metadata, and the pointer).
        assert_eq!(c.flips.0, c.flips.1, "{name}: flips");
        // A cut is caught too: the pointer and the metadata must end whole, the
        // Parquet file has its size and CRC in the metadata.
        assert_eq!(c.cuts.0, c.cuts.1, "{name}: cuts");
        assert_eq!(c.zeroed, (1, 1), "{name}");
        assert_eq!(c.deleted, (1, 1), "{name}");
    }
    // The whole current version gone: an error, not version 1.
    std::fs::rename(batch.join("v2"), dir.path().join("moved")).unwrap();
    assert!(matches!(store.current(), Err(BatchError::Corrupt { .. })));
}

#[test]
fn a_view_of_format_1_is_still_read_and_a_flip_to_format_1_is_not_trusted() {
    let (dir, store, expected) = store();
    let batch = dir.path().join("batch");
    let meta_path = batch.join("v2/meta.json");
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&meta_path).unwrap()).unwrap();
    // The metadata as format 1 wrote it: no checksums; and its pointer.
    let mut old = meta.clone();
    let obj = old.as_object_mut().unwrap();
    for k in ["parquet_bytes", "parquet_crc32c", "checksum"] {
        obj.remove(k);
    }
    obj.insert("format".into(), 1.into());
    std::fs::write(&meta_path, serde_json::to_vec_pretty(&old).unwrap()).unwrap();
    std::fs::write(batch.join("CURRENT"), b"v2\n").unwrap();
    assert_eq!(store.current().unwrap().unwrap(), expected);
    // A format-2 metadata whose format number was changed to 1 keeps its checksum
    // fields: it is checked, and fails.
    let mut flipped = meta.clone();
    flipped
        .as_object_mut()
        .unwrap()
        .insert("format".into(), 1.into());
    std::fs::write(&meta_path, serde_json::to_vec_pretty(&flipped).unwrap()).unwrap();
    assert!(matches!(store.current(), Err(BatchError::Corrupt { .. })));
    // A format-1 pointer cut short (no newline) is not read as another version.
    std::fs::write(&meta_path, serde_json::to_vec_pretty(&meta).unwrap()).unwrap();
    std::fs::write(batch.join("CURRENT"), b"v2").unwrap();
    assert!(matches!(store.current(), Err(BatchError::Corrupt { .. })));
    // Publishing again writes the current format.
    store.publish(&view(3)).unwrap();
    let text = std::fs::read_to_string(batch.join("CURRENT")).unwrap();
    assert!(text.starts_with("v3 ") && text.ends_with('\n'), "{text:?}");
    assert_eq!(store.current().unwrap().unwrap().version, 3);
}
