//! CSV import → export → the same values, nulls and timestamps included.

mod common;

use std::collections::HashMap;
use std::path::Path;

use common::TestLog;
use datasets::{
    ColumnType, ExportOptions, ImportOptions, Schema, TimeFormat, Value, export_csv_file,
    import_csv, no_progress,
};
use master_log::Log;

const INPUT: &str = "\
id,ts,user,amount,score,active,seen_at,note
1,2024-03-01T10:00:00Z,alice,10,1.5,true,2024-03-01T09:59:59.123456Z,plain
2,2024-03-01T11:30:00.250+02:00,bob,-3,NA,false,,\"with, comma\"
3,2024-03-01 10:00:01,carol,,2.25e3,TRUE,2024-02-29 23:00:00,\"quote \"\" inside\"
4,2024-03-01T10:00:02Z,alice,7,0.1,NA,2024-03-01T00:00:00+05:30,\"line
break\"
5,2024-03-01T10:00:03.999Z,dave,9223372036854775807,-0,false,NA,ünïcødé ✓
6,2024-03-01T10:00:04Z,erin,0,inf,true,2024-03-01T10:00:00Z,
";

fn import(t: &TestLog, file: &Path, topic: &str) -> datasets::ImportSummary {
    let opts = ImportOptions {
        key_column: Some("user".into()),
        null_values: vec!["NA".into()],
        partitions: 3,
        ..ImportOptions::new(file, topic, "ts")
    };
    import_csv(&t.log, &opts, Some(&t.sidecars()), &mut no_progress).unwrap()
}

/// Rows of a CSV file as typed values by `id`, for the schema's columns.
fn typed_rows(file: &Path, schema: &Schema, nulls: &[&str]) -> HashMap<i64, Vec<Value<'static>>> {
    let mut r = csv::Reader::from_path(file).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let mut out = HashMap::new();
    for rec in r.records() {
        let rec = rec.unwrap();
        let mut row = Vec::new();
        for c in &schema.columns {
            let i = header.iter().position(|h| h == &c.name).unwrap();
            let text = &rec[i];
            let v = if text.is_empty() || nulls.contains(&text) {
                Value::Null
            } else {
                match c.ty {
                    ColumnType::Integer => Value::Integer(text.trim().parse().unwrap()),
                    ColumnType::Float => Value::Float(text.trim().parse().unwrap()),
                    ColumnType::Bool => Value::Bool(text.eq_ignore_ascii_case("true")),
                    ColumnType::Timestamp => {
                        Value::Timestamp(TimeFormat::Rfc3339.parse(text).unwrap())
                    }
                    ColumnType::String => Value::String(text.to_owned().into()),
                }
            };
            row.push(v);
        }
        let Value::Integer(id) = row[0] else { panic!() };
        out.insert(id, row);
    }
    out
}

#[test]
fn import_export_gives_back_the_same_values() {
    let t = TestLog::new();
    let input = t.dir.path().join("in.csv");
    std::fs::write(&input, INPUT).unwrap();
    let s = import(&t, &input, "rows");
    assert_eq!((s.rows, s.accepted, s.rejected), (6, 6, 0));
    let types: Vec<_> = s.schema.columns.iter().map(|c| c.ty).collect();
    use ColumnType as T;
    assert_eq!(
        types,
        [
            T::Integer,
            T::Timestamp,
            T::String,
            T::Integer,
            T::Float,
            T::Bool,
            T::Timestamp,
            T::String
        ]
    );

    let out = t.dir.path().join("out.csv");
    let e = export_csv_file(
        &t.log,
        &ExportOptions {
            topic: "rows".into(),
            ..Default::default()
        },
        Some(&t.sidecars()),
        &out,
        &mut no_progress,
    )
    .unwrap();
    assert_eq!(e.rows, 6);
    assert_eq!(e.content, "csv");
    assert_eq!(
        &e.columns[..4],
        ["partition", "offset", "event_time", "append_time"]
    );

    let original = typed_rows(&input, &s.schema, &["NA"]);
    let exported = typed_rows(&out, &s.schema, &[]);
    assert_eq!(original.len(), 6);
    assert_eq!(exported, original);

    // Event times are the time column's, to the millisecond.
    let mut r = csv::Reader::from_path(&out).unwrap();
    for rec in r.records() {
        let rec = rec.unwrap();
        if &rec[4] == "2" {
            assert_eq!(&rec[2], "2024-03-01T09:30:00.250Z");
            assert_eq!(&rec[5], "2024-03-01T09:30:00.250Z");
        }
    }

    // Importing the export into a new topic, then exporting again: the same data
    // columns, byte for byte.
    let t2 = TestLog::new();
    let s2 = {
        let opts = ImportOptions {
            key_column: Some("user".into()),
            partitions: 3,
            columns: vec![("active".into(), T::Bool), ("score".into(), T::Float)],
            ..ImportOptions::new(&out, "again", "ts")
        };
        import_csv(&t2.log, &opts, Some(&t2.sidecars()), &mut no_progress).unwrap()
    };
    assert_eq!(s2.accepted, 6);
    let out2 = t2.dir.path().join("out2.csv");
    export_csv_file(
        &t2.log,
        &ExportOptions {
            topic: "again".into(),
            ..Default::default()
        },
        Some(&t2.sidecars()),
        &out2,
        &mut no_progress,
    )
    .unwrap();
    let data_columns = |p: &Path, skip: usize| -> Vec<Vec<String>> {
        let mut r = csv::Reader::from_path(p).unwrap();
        let mut rows: Vec<Vec<String>> = r
            .records()
            .map(|rec| rec.unwrap().iter().skip(skip).map(String::from).collect())
            .collect();
        rows.sort();
        rows
    };
    // The first export's data starts after 4 metadata columns; the second's after 4
    // metadata columns (renamed `_partition`…) and the 4 re-imported ones.
    assert_eq!(data_columns(&out, 4), data_columns(&out2, 8));
}

#[test]
fn same_key_same_partition_and_file_order_within_it() {
    let t = TestLog::new();
    let input = t.dir.path().join("in.csv");
    let mut text = String::from("seq,ts,user\n");
    for i in 0..3_000 {
        text.push_str(&format!("{i},{},u{}\n", 1_700_000_000_000i64 + i, i % 17));
    }
    std::fs::write(&input, &text).unwrap();
    let opts = ImportOptions {
        key_column: Some("user".into()),
        time_format: TimeFormat::EpochMs,
        partitions: 4,
        batch_size: 100,
        ..ImportOptions::new(&input, "ordered", "ts")
    };
    let s = import_csv(&t.log, &opts, None, &mut no_progress).unwrap();
    assert_eq!(s.accepted, 3_000);
    assert_eq!(s.records_per_partition.iter().sum::<u64>(), 3_000);
    let schema = s.schema;
    let mut partition_of = HashMap::new();
    let mut last_seq: HashMap<u32, i64> = HashMap::new();
    for r in t.dump("ordered") {
        let v = schema.decode(r.value.as_deref().unwrap()).unwrap();
        let (Value::Integer(seq), Value::String(user)) = (&v[0], &v[2]) else {
            panic!()
        };
        assert_eq!(r.key.as_deref(), Some(user.as_bytes()));
        assert_eq!(r.event_time, 1_700_000_000_000 + seq);
        let p = *partition_of.entry(user.to_string()).or_insert(r.partition);
        assert_eq!(p, r.partition, "one key, two partitions");
        let last = last_seq.entry(r.partition).or_insert(-1);
        assert!(*seq > *last, "file order lost in partition {}", r.partition);
        *last = *seq;
    }
}

#[test]
fn export_filters_by_event_time_and_handles_generated_datasets() {
    let t = TestLog::new();
    let s = t.generate(&datasets::GenerateOptions {
        event_rate: Some(100),
        ..datasets::GenerateOptions::new(datasets::DatasetKind::Nexmark, "nx", 1_000)
    });
    assert_eq!(s.records, 1_000);
    let start = 1_700_000_000_000i64;
    let mut buf = Vec::new();
    let e = datasets::export_csv(
        &t.log,
        &ExportOptions {
            topic: "nx".into(),
            from_ms: Some(start + 1_000),
            to_ms: Some(start + 3_000),
            ..Default::default()
        },
        None, // no sidecar: the dataset is recognised by its tag bytes
        &mut buf,
        &mut no_progress,
    )
    .unwrap();
    assert_eq!(e.content, "nexmark");
    assert_eq!(e.records_read, 1_000);
    assert_eq!(e.rows, 200); // 100 events/s for 2 s
    let mut r = csv::Reader::from_reader(&buf[..]);
    let h = r.headers().unwrap().clone();
    let kind = h.iter().position(|c| c == "kind").unwrap();
    let mut kinds: HashMap<String, u64> = HashMap::new();
    for rec in r.records() {
        *kinds.entry(rec.unwrap()[kind].to_owned()).or_default() += 1;
    }
    assert_eq!(kinds["person"], 4);
    assert_eq!(kinds["auction"], 12);
    assert_eq!(kinds["bid"], 184);

    for dataset in [datasets::DatasetKind::Ysb, datasets::DatasetKind::Pageviews] {
        t.generate(&datasets::GenerateOptions::new(
            dataset,
            dataset.name(),
            500,
        ));
        let mut buf = Vec::new();
        let e = datasets::export_csv(
            &t.log,
            &ExportOptions {
                topic: dataset.name().into(),
                ..Default::default()
            },
            Some(&t.sidecars()),
            &mut buf,
            &mut no_progress,
        )
        .unwrap();
        assert_eq!(e.rows, 500);
        assert_eq!(e.content, dataset.name());
    }
}

#[test]
fn a_second_file_must_match_the_topic_schema() {
    let t = TestLog::new();
    let a = t.dir.path().join("a.csv");
    let b = t.dir.path().join("b.csv");
    std::fs::write(&a, "ts,x\n2024-01-01T00:00:00Z,1\n").unwrap();
    std::fs::write(&b, "ts,y\n2024-01-01T00:00:00Z,1\n").unwrap();
    let opts = |f: &Path| ImportOptions::new(f, "t", "ts");
    import_csv(&t.log, &opts(&a), Some(&t.sidecars()), &mut no_progress).unwrap();
    // Same columns: appended, the sidecar lists both imports. (The same bytes again
    // are refused as a rerun unless forced.)
    let again = ImportOptions {
        again: true,
        ..opts(&a)
    };
    import_csv(&t.log, &again, Some(&t.sidecars()), &mut no_progress).unwrap();
    let err = import_csv(&t.log, &opts(&b), Some(&t.sidecars()), &mut no_progress).unwrap_err();
    assert!(
        matches!(err, datasets::DatasetError::SchemaMismatch { .. }),
        "{err}"
    );
    match datasets::read_sidecar(&t.sidecars(), "t")
        .unwrap()
        .unwrap()
        .content
    {
        datasets::TopicContent::Csv { imports, .. } => assert_eq!(imports.len(), 2),
        other => panic!("{other:?}"),
    }
    assert_eq!(t.dump("t").len(), 2);
}

#[test]
fn a_byte_order_mark_before_the_header_is_ignored() {
    let t = TestLog::new();
    let p = t.dir.path().join("bom.csv");
    std::fs::write(&p, "\u{feff}ts,x\n2024-01-01T00:00:00Z,1\n").unwrap();
    let s = import_csv(
        &t.log,
        &ImportOptions::new(&p, "bom", "ts"),
        None,
        &mut no_progress,
    )
    .unwrap();
    assert_eq!(s.accepted, 1);
    assert_eq!(s.schema.columns[0].name, "ts");
}

#[test]
fn without_a_named_time_column_the_first_column_of_timestamps_is_the_event_time() {
    let t = TestLog::new();
    let p = t.dir.path().join("auto.csv");
    // `n` is a number, `when` the first column of timestamps, `later` another one.
    std::fs::write(
        &p,
        "n,when,later\n1,2024-01-01T00:00:00Z,2024-01-02T00:00:00Z\n2,2024-01-01T00:00:01Z,\n",
    )
    .unwrap();
    let s = import_csv(
        &t.log,
        &ImportOptions::new(&p, "auto", ""),
        None,
        &mut no_progress,
    )
    .unwrap();
    assert_eq!((s.accepted, s.schema.time_column.as_str()), (2, "when"));
    let mut times: Vec<i64> = t.dump("auto").iter().map(|r| r.event_time).collect();
    times.sort_unstable();
    assert_eq!(times, [1_704_067_200_000, 1_704_067_201_000]);

    // No column of timestamps: the error says which flag names it, and nothing is
    // written.
    let q = t.dir.path().join("none.csv");
    std::fs::write(&q, "n,word\n1,a\n").unwrap();
    let err = import_csv(
        &t.log,
        &ImportOptions::new(&q, "none", ""),
        None,
        &mut no_progress,
    )
    .unwrap_err();
    assert!(err.to_string().contains("--time-column"), "{err}");
    assert!(
        t.log
            .list_topics()
            .unwrap()
            .iter()
            .all(|x| x.name != "none")
    );
}
