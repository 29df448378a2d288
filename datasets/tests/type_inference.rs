//! Column types inferred from a sample, or forced.

mod common;

use common::TestLog;
use datasets::{
    ColumnType as T, DatasetError, ImportOptions, Value, import_csv, infer_schema, no_progress,
};

fn infer(text: &str, opts: impl FnOnce(ImportOptions) -> ImportOptions) -> Vec<(String, T)> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("f.csv");
    std::fs::write(&p, text).unwrap();
    let (schema, _) =
        infer_schema(&opts(ImportOptions::new(&p, "t", "ts")), &mut no_progress).unwrap();
    schema.columns.into_iter().map(|c| (c.name, c.ty)).collect()
}

#[test]
fn each_type_is_recognised() {
    let text = "\
ts,i,f,b,t,s,empty,mixed_num,ws
2024-01-01T00:00:00Z,1,1.5,true,2024-01-01 10:00:00,x,,1, 7
2024-01-01T00:00:01Z,-20,2,FALSE,2024-01-01T10:00:00.5+01:00,y,,2.5,8 
2024-01-01T00:00:02Z,,NA,,,,,NA,
";
    let cols = infer(text, |o| ImportOptions {
        null_values: vec!["NA".into()],
        ..o
    });
    let types: Vec<T> = cols.iter().map(|c| c.1).collect();
    assert_eq!(
        types,
        [
            T::Timestamp,
            T::Integer,
            T::Float,
            T::Bool,
            T::Timestamp,
            T::String,
            T::String,
            T::Float,
            T::Integer
        ]
    );
}

#[test]
fn without_null_markers_a_marker_is_text() {
    let cols = infer(
        "ts,v\n2024-01-01T00:00:00Z,1\n2024-01-01T00:00:00Z,NA\n",
        |o| o,
    );
    assert_eq!(cols[1].1, T::String);
}

#[test]
fn forced_types_win_over_inference() {
    let cols = infer("ts,v,w\n2024-01-01T00:00:00Z,1,2\n", |o| ImportOptions {
        columns: vec![("v".into(), T::Float), ("w".into(), T::String)],
        ..o
    });
    assert_eq!(cols[1], ("v".into(), T::Float));
    assert_eq!(cols[2], ("w".into(), T::String));
}

#[test]
fn the_time_column_is_always_a_timestamp_in_its_own_format() {
    let cols = infer("ts,v\n1700000000000,1\n", |o| ImportOptions {
        time_format: datasets::TimeFormat::EpochMs,
        ..o
    });
    assert_eq!(cols[0].1, T::Timestamp);
}

#[test]
fn the_sample_decides_and_a_later_misfit_is_a_bad_row_unless_forced() {
    let t = TestLog::new();
    let mut text = String::from("ts,v\n");
    for i in 0..100 {
        text.push_str(&format!("2024-01-01T00:00:00Z,{i}\n"));
    }
    text.push_str("2024-01-01T00:00:00Z,1.5\n"); // line 102
    let p = t.dir.path().join("f.csv");
    std::fs::write(&p, &text).unwrap();

    let sampled = ImportOptions {
        infer_rows: 50,
        ..ImportOptions::new(&p, "t", "ts")
    };
    let err = import_csv(&t.log, &sampled, None, &mut no_progress).unwrap_err();
    assert!(
        matches!(err, DatasetError::BadRow { line: 102, .. }),
        "{err}"
    );

    // Inferring from the whole file sees the float.
    let whole = ImportOptions {
        infer_rows: 0,
        ..sampled.clone()
    };
    let s = import_csv(&t.log, &whole, None, &mut no_progress).unwrap();
    assert_eq!(s.schema.columns[1].ty, T::Float);
    assert_eq!(s.accepted, 101);
    let last = t.dump("t").into_iter().find(|r| {
        let v = s.schema.decode(r.value.as_deref().unwrap()).unwrap();
        v[1] == Value::Float(1.5)
    });
    assert!(last.is_some());
}
