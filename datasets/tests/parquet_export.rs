//! Parquet export keeps every column with its type (feature `parquet`).
#![cfg(feature = "parquet")]

mod common;

use common::TestLog;
use datasets::{DatasetKind, ExportOptions, GenerateOptions, ImportOptions, no_progress};
use polars::prelude::{DataType, ParquetReader, SerReader, TimeUnit};

#[test]
fn imported_rows_come_back_typed() {
    let t = TestLog::new();
    let input = t.dir.path().join("in.csv");
    std::fs::write(
        &input,
        "ts,user,amount,score,ok,note\n\
         2024-03-01T10:00:00Z,alice,10,1.5,true,x\n\
         2024-03-01T10:00:01.5Z,bob,,NA,false,\n",
    )
    .unwrap();
    let opts = ImportOptions {
        key_column: Some("user".into()),
        null_values: vec!["NA".into()],
        partitions: 1,
        ..ImportOptions::new(&input, "rows", "ts")
    };
    datasets::import_csv(&t.log, &opts, Some(&t.sidecars()), &mut no_progress).unwrap();
    let out = t.dir.path().join("rows.parquet");
    let s = datasets::export_parquet(
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
    assert_eq!((s.rows, s.content.as_str()), (2, "csv"));
    let df = ParquetReader::new(std::fs::File::open(&out).unwrap())
        .finish()
        .unwrap();
    assert_eq!(df.height(), 2);
    let dt = DataType::Datetime(TimeUnit::Microseconds, None);
    let types: Vec<(String, DataType)> = df
        .columns()
        .iter()
        .map(|c| (c.name().to_string(), c.dtype().clone()))
        .collect();
    assert_eq!(
        types,
        vec![
            ("partition".to_string(), DataType::Int64),
            ("offset".to_string(), DataType::Int64),
            ("event_time".to_string(), dt.clone()),
            ("append_time".to_string(), dt.clone()),
            ("ts".to_string(), dt),
            ("user".to_string(), DataType::String),
            ("amount".to_string(), DataType::Int64),
            ("score".to_string(), DataType::Float64),
            ("ok".to_string(), DataType::Boolean),
            ("note".to_string(), DataType::String),
        ]
    );
    let amount = df.column("amount").unwrap().i64().unwrap().clone();
    assert_eq!(amount.get(0), Some(10));
    assert_eq!(amount.get(1), None);
    let ts = df
        .column("ts")
        .unwrap()
        .datetime()
        .unwrap()
        .physical()
        .clone();
    assert_eq!(ts.get(1), Some(1_709_287_201_500_000));
}

#[test]
fn generated_datasets_export_in_row_groups() {
    let t = TestLog::new();
    t.generate(&GenerateOptions::new(DatasetKind::Nexmark, "nx", 150_000));
    let out = t.dir.path().join("nx.parquet");
    let s = datasets::export_parquet(
        &t.log,
        &ExportOptions {
            topic: "nx".into(),
            ..Default::default()
        },
        None,
        &out,
        &mut no_progress,
    )
    .unwrap();
    assert_eq!(s.rows, 150_000);
    let df = ParquetReader::new(std::fs::File::open(&out).unwrap())
        .finish()
        .unwrap();
    assert_eq!(df.height(), 150_000);
    let kind = df.column("kind").unwrap().str().unwrap().clone();
    let bids = (0..kind.len())
        .filter(|&i| kind.get(i) == Some("bid"))
        .count();
    assert_eq!(bids, 138_000);
}
