//! Every kind of bad row, in both error modes, with line numbers.

mod common;

use std::path::{Path, PathBuf};

use common::TestLog;
use datasets::{ColumnType, DatasetError, ImportOptions, OnError, import_csv, no_progress};
use master_log::Log;

/// Each case: the bad line (as the third data row, after a multi-line quoted row), the
/// line number it is on, and words its reason must contain.
fn cases() -> Vec<(&'static str, &'static [u8], &'static str)> {
    vec![
        (
            "too few fields",
            b"9,2024-01-01T00:00:03Z,k9",
            "expected 4 fields, found 3",
        ),
        (
            "too many fields",
            b"9,2024-01-01T00:00:03Z,k9,1,extra",
            "expected 4 fields, found 5",
        ),
        (
            "unparsable time",
            b"9,not-a-time,k9,1",
            "time column \"ts\": cannot parse",
        ),
        ("empty time", b"9,,k9,1", "time column \"ts\" is empty"),
        (
            "null-marker time",
            b"9,NA,k9,1",
            "time column \"ts\" is empty",
        ),
        (
            "missing key",
            b"9,2024-01-01T00:00:03Z,,1",
            "key column \"key\" is empty",
        ),
        (
            "bad integer",
            b"9,2024-01-01T00:00:03Z,k9,abc",
            "column \"n\": \"abc\" is not a valid integer",
        ),
        (
            "bad id",
            b"x9,2024-01-01T00:00:03Z,k9,1",
            "column \"id\": \"x9\" is not a valid integer",
        ),
        (
            "not utf-8",
            b"9,2024-01-01T00:00:03Z,k\xff9,1",
            "not valid UTF-8",
        ),
    ]
}

fn write_file(dir: &Path, bad: &[u8]) -> PathBuf {
    let mut text: Vec<u8> = Vec::new();
    text.extend_from_slice(b"id,ts,key,n\n"); // line 1
    text.extend_from_slice(b"1,2024-01-01T00:00:00Z,\"k\n1\",10\n"); // lines 2-3
    text.extend_from_slice(b"2,2024-01-01T00:00:01Z,k2,20\n"); // line 4
    text.extend_from_slice(bad); // line 5
    text.push(b'\n');
    text.extend_from_slice(b"3,2024-01-01T00:00:02Z,k3,30\n"); // line 6
    let p = dir.join("bad.csv");
    std::fs::write(&p, text).unwrap();
    p
}

fn options(file: &Path, on_error: OnError) -> ImportOptions {
    ImportOptions {
        key_column: Some("key".into()),
        null_values: vec!["NA".into()],
        on_error,
        // Types are forced, so no inference can make a bad value good.
        columns: vec![
            ("id".into(), ColumnType::Integer),
            ("n".into(), ColumnType::Integer),
        ],
        ..ImportOptions::new(file, "t", "ts")
    }
}

fn records(t: &TestLog) -> u64 {
    match t.log.end_offsets("t") {
        Ok(ends) => ends.iter().sum(),
        Err(master_log::LogError::UnknownTopic(_)) => 0,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn fail_mode_stops_at_the_bad_row_and_writes_nothing() {
    for (name, bad, reason) in cases() {
        let t = TestLog::new();
        let file = write_file(t.dir.path(), bad);
        let err = import_csv(
            &t.log,
            &options(&file, OnError::Fail),
            Some(&t.sidecars()),
            &mut no_progress,
        )
        .unwrap_err();
        match &err {
            DatasetError::BadRow {
                line, reason: r, ..
            } => {
                assert_eq!(*line, 5, "{name}: {err}");
                assert!(r.contains(reason), "{name}: {r:?} lacks {reason:?}");
            }
            other => panic!("{name}: {other}"),
        }
        let text = err.to_string();
        assert!(
            text.contains("bad.csv:5:") && text.contains("nothing of this file was written"),
            "{text}"
        );
        assert_eq!(records(&t), 0, "{name}: something was written");
        assert!(
            datasets::read_sidecar(&t.sidecars(), "t")
                .unwrap()
                .is_none()
        );
    }
}

#[test]
fn skip_mode_rejects_each_bad_row_with_its_line_and_keeps_the_rest() {
    for (name, bad, reason) in cases() {
        let t = TestLog::new();
        let file = write_file(t.dir.path(), bad);
        let rejects = t.dir.path().join("rejects.csv");
        let opts = ImportOptions {
            rejects: Some(rejects.clone()),
            ..options(&file, OnError::Skip)
        };
        let s = import_csv(&t.log, &opts, Some(&t.sidecars()), &mut no_progress).unwrap();
        assert_eq!((s.rows, s.accepted, s.rejected), (4, 3, 1), "{name}");
        assert_eq!(s.first_rejects.len(), 1);
        assert_eq!(s.first_rejects[0].line, 5, "{name}");
        assert!(s.first_rejects[0].reason.contains(reason), "{name}");
        assert_eq!(s.rejects_file.as_deref(), Some(rejects.as_path()));
        assert_eq!(records(&t), 3, "{name}: accepted rows lost");

        let mut r = csv::ReaderBuilder::new()
            .flexible(true)
            .from_path(&rejects)
            .unwrap();
        assert_eq!(r.headers().unwrap(), vec!["line", "reason", "fields"]);
        let rows: Vec<_> = r.byte_records().map(|r| r.unwrap()).collect();
        assert_eq!(rows.len(), 1, "{name}");
        assert_eq!(&rows[0][0], b"5");
        assert!(String::from_utf8_lossy(&rows[0][1]).contains(reason));
        // The bad row's own fields follow.
        let fields: Vec<&[u8]> = rows[0].iter().skip(2).collect();
        assert_eq!(fields.join(&b","[..]), bad, "{name}");
    }
}

#[test]
fn skip_mode_with_many_bad_rows_counts_them_all() {
    let t = TestLog::new();
    let mut text = String::from("ts,v\n");
    for i in 0..1_000 {
        if i % 10 == 3 {
            text.push_str("garbage,1\n");
        } else {
            text.push_str(&format!("{},{}\n", 1_700_000_000 + i, i));
        }
    }
    let file = t.dir.path().join("many.csv");
    std::fs::write(&file, text).unwrap();
    let opts = ImportOptions {
        on_error: OnError::Skip,
        time_format: datasets::TimeFormat::EpochS,
        ..ImportOptions::new(&file, "t", "ts")
    };
    let s = import_csv(&t.log, &opts, Some(&t.sidecars()), &mut no_progress).unwrap();
    assert_eq!((s.accepted, s.rejected), (900, 100));
    assert_eq!(s.first_rejects.len(), 20);
    assert_eq!(s.first_rejects[0].line, 5); // data row 3 is on line 5
    assert_eq!(records(&t), 900);
    // Without a rejects path, the rejects go beside the sidecar.
    let path = s.rejects_file.unwrap();
    assert_eq!(path, t.sidecars().join("t.rejects.csv"));
    let n = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(&path)
        .unwrap()
        .records()
        .count();
    assert_eq!(n, 100);
}

#[test]
fn bad_files_and_options_are_errors_not_panics() {
    let t = TestLog::new();
    let write = |name: &str, text: &[u8]| {
        let p = t.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let empty = write("empty.csv", b"");
    let dup = write("dup.csv", b"ts,a,a\n2024-01-01T00:00:00Z,1,2\n");
    let ok = write("ok.csv", b"ts,a\n2024-01-01T00:00:00Z,1\n");
    let import =
        |opts: ImportOptions| import_csv(&t.log, &opts, Some(&t.sidecars()), &mut no_progress);
    assert!(matches!(
        import(ImportOptions::new(&empty, "t", "ts")),
        Err(DatasetError::BadFile { .. })
    ));
    assert!(matches!(
        import(ImportOptions::new(&dup, "t", "ts")),
        Err(DatasetError::BadFile { .. })
    ));
    assert!(matches!(
        import(ImportOptions::new(&ok, "t", "nope")),
        Err(DatasetError::BadFile { .. })
    ));
    assert!(matches!(
        import(ImportOptions {
            key_column: Some("nope".into()),
            ..ImportOptions::new(&ok, "t", "ts")
        }),
        Err(DatasetError::BadFile { .. })
    ));
    assert!(matches!(
        import(ImportOptions {
            columns: vec![("ts".into(), ColumnType::Integer)],
            ..ImportOptions::new(&ok, "t", "ts")
        }),
        Err(DatasetError::BadFile { .. })
    ));
    assert!(matches!(
        import(ImportOptions {
            columns: vec![("zz".into(), ColumnType::Integer)],
            ..ImportOptions::new(&ok, "t", "ts")
        }),
        Err(DatasetError::BadFile { .. })
    ));
    assert!(matches!(
        import(ImportOptions::new(
            t.dir.path().join("missing.csv"),
            "t",
            "ts"
        )),
        Err(DatasetError::Io { .. })
    ));
    assert!(import(ImportOptions::new(&ok, "bad/topic", "ts")).is_err());
    assert!(datasets::parse_column_types("a:integer,b").is_err());
    assert!(datasets::parse_column_types("a:complex").is_err());
    assert_eq!(
        datasets::parse_column_types("a:int, b:c:string").unwrap(),
        vec![
            ("a".into(), ColumnType::Integer),
            ("b:c".into(), ColumnType::String)
        ]
    );
    assert_eq!(datasets::parse_delimiter("tab").unwrap(), b'\t');
    assert!(datasets::parse_delimiter(";;").is_err());
    assert!("sometimes".parse::<OnError>().is_err());
    // Nothing of the bad attempts reached the log.
    assert_eq!(records(&t), 0);
}
