//! Bounded CSV input and number ranges: field, line and record limits with their line
//! numbers (and byte offsets past the line limit), in both error modes; input without
//! newlines stops at the limit; out-of-range numbers are bad rows, `inf`/`nan` literals
//! are values.

mod common;

use std::path::{Path, PathBuf};

use common::TestLog;
use datasets::{
    ColumnType, DatasetError, ImportOptions, OnError, TimeFormat, Value, import_csv, no_progress,
};
use master_log::{FetchLimits, Log, TopicConfig};

fn records(t: &TestLog) -> u64 {
    match t.log.end_offsets("t") {
        Ok(ends) => ends.iter().sum(),
        Err(master_log::LogError::UnknownTopic(_)) => 0,
        Err(e) => panic!("{e}"),
    }
}

/// `rows` good rows `ts,id,s` (epoch seconds), with `bad` as the text of data row
/// `bad_row` (0-based). Returns the file and the bad row's line.
fn file_with(dir: &Path, rows: u64, bad_row: u64, bad: &[u8]) -> (PathBuf, u64) {
    let mut text = b"ts,id,s\n".to_vec();
    for i in 0..rows {
        if i == bad_row {
            text.extend_from_slice(bad);
            text.push(b'\n');
        } else {
            text.extend_from_slice(format!("{},{i},x{i}\n", 1_700_000_000 + i).as_bytes());
        }
    }
    let p = dir.join("limits.csv");
    std::fs::write(&p, text).unwrap();
    (p, bad_row + 2)
}

fn options(file: &Path, on_error: OnError) -> ImportOptions {
    ImportOptions {
        time_format: TimeFormat::EpochS,
        on_error,
        columns: vec![
            ("id".into(), ColumnType::Integer),
            ("s".into(), ColumnType::String),
        ],
        ..ImportOptions::new(file, "t", "ts")
    }
}

/// The bad row's error in `fail` mode: its line and reason; nothing of the file written.
fn fail_reason(t: &TestLog, opts: &ImportOptions, line: u64) -> String {
    let err = import_csv(&t.log, opts, Some(&t.sidecars()), &mut no_progress).unwrap_err();
    assert_eq!(records(t), 0, "something was written: {err}");
    assert!(
        datasets::read_sidecar(&t.sidecars(), "t")
            .unwrap()
            .is_none()
    );
    match err {
        DatasetError::BadRow {
            line: l, reason, ..
        } => {
            assert_eq!(l, line, "{reason}");
            reason
        }
        other => panic!("{other}"),
    }
}

/// The bad row in `skip` mode: rejected with its line; every other row written. Returns
/// the reason and the fields written to the rejects file.
fn skip_reason(t: &TestLog, opts: &ImportOptions, rows: u64, line: u64) -> (String, usize) {
    let rejects = t.dir.path().join("rejects.csv");
    let opts = ImportOptions {
        rejects: Some(rejects.clone()),
        on_error: OnError::Skip,
        ..opts.clone()
    };
    let s = import_csv(&t.log, &opts, Some(&t.sidecars()), &mut no_progress).unwrap();
    assert_eq!((s.rows, s.accepted, s.rejected), (rows, rows - 1, 1));
    assert_eq!(records(t), rows - 1);
    assert_eq!(s.first_rejects[0].line, line);
    let mut r = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(&rejects)
        .unwrap();
    let all: Vec<_> = r.byte_records().map(|r| r.unwrap()).collect();
    assert_eq!(all.len(), 1);
    assert_eq!(&all[0][0], line.to_string().as_bytes());
    (s.first_rejects[0].reason.clone(), all[0].len() - 2)
}

#[test]
fn a_10_mb_field_is_a_bad_row_with_its_line_before_anything_is_written() {
    let big = format!("1700000000,7,{}", "y".repeat(10_000_000));
    let t = TestLog::new();
    let (file, line) = file_with(t.dir.path(), 10_000, 5_000, big.as_bytes());
    let reason = fail_reason(&t, &options(&file, OnError::Fail), line);
    assert!(
        reason.contains("column \"s\"")
            && reason.contains("10000000 bytes")
            && reason.contains("--max-field-bytes"),
        "{reason}"
    );
    let (reason, fields) = skip_reason(&t, &options(&file, OnError::Fail), 10_000, line);
    assert!(reason.contains("field limit"), "{reason}");
    assert_eq!(fields, 3, "the row's fields follow in the rejects file");
}

#[test]
fn the_field_limit_and_the_topics_record_limit_make_bad_rows() {
    let t = TestLog::new();
    let field = format!("1700000000,7,{}", "y".repeat(3000));
    let (file, line) = file_with(t.dir.path(), 100, 50, field.as_bytes());
    let small = ImportOptions {
        max_field_bytes: 2048,
        ..options(&file, OnError::Fail)
    };
    assert!(fail_reason(&t, &small, line).contains("2048"));
    // A topic whose records are at most 2 KiB: the row fits the field limit but not the
    // topic, and is a bad row too (not a failed append half way).
    t.log
        .create_topic(
            "t",
            TopicConfig {
                max_record_bytes: 2048,
                ..TopicConfig::with_partitions(2)
            },
        )
        .unwrap();
    let reason = fail_reason(&t, &options(&file, OnError::Fail), line);
    assert!(reason.contains("max_record_bytes"), "{reason}");
    let (reason, _) = skip_reason(&t, &options(&file, OnError::Fail), 100, line);
    assert!(reason.contains("2048 bytes"), "{reason}");
}

#[test]
fn a_row_past_the_line_limit_fails_with_its_offset_or_is_rejected_without_its_fields() {
    let long = format!("1700000000,7,\"{}\"", "z\n".repeat(600));
    let t = TestLog::new();
    let (file, line) = file_with(t.dir.path(), 200, 100, long.as_bytes());
    let opts = ImportOptions {
        max_line_bytes: 1024,
        ..options(&file, OnError::Fail)
    };
    let reason = fail_reason(&t, &opts, line);
    let text = std::fs::read(&file).unwrap();
    let start = text
        .windows(long.len())
        .position(|w| w == long.as_bytes())
        .unwrap();
    assert!(
        reason.contains("--max-line-bytes")
            && reason.contains(&format!("starts at byte offset {start}"))
            && reason.contains(&format!("passes the limit at byte offset {}", start + 1024)),
        "{reason}"
    );
    let (reason, fields) = skip_reason(&t, &opts, 200, line);
    assert!(
        reason.contains(&format!(
            "a row of {} bytes from byte offset {start}",
            long.len()
        )),
        "{reason}"
    );
    assert_eq!(fields, 0);
    assert_eq!(t.dump("t").len(), 199);
}

#[test]
fn input_without_newlines_stops_at_the_line_limit() {
    let t = TestLog::new();
    // No header line end at all.
    let flat = t.dir.path().join("flat.csv");
    std::fs::write(&flat, vec![b'a'; 4 << 20]).unwrap();
    let opts = ImportOptions {
        max_line_bytes: 64 << 10,
        ..ImportOptions::new(&flat, "t", "ts")
    };
    let err = import_csv(&t.log, &opts, Some(&t.sidecars()), &mut no_progress).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, DatasetError::BadFile { .. })
            && text.contains("line 1: the header")
            && text.contains(&format!("byte offset {}", 64 << 10)),
        "{text}"
    );
    // A header, then one endless data line: line 2, in both modes.
    let mut body = b"ts,a\n".to_vec();
    body.resize(4 << 20, b'7');
    std::fs::write(&flat, &body).unwrap();
    let reason = fail_reason(&t, &opts, 2);
    assert!(
        reason.contains(&format!(
            "passes the limit at byte offset {}",
            5 + (64 << 10)
        )),
        "{reason}"
    );
    assert_eq!(records(&t), 0);
}

#[cfg(target_os = "linux")]
#[test]
fn dev_zero_is_refused_at_the_line_limit() {
    let t = TestLog::new();
    let opts = ImportOptions {
        max_line_bytes: 1 << 20,
        ..ImportOptions::new("/dev/zero", "t", "ts")
    };
    let err = import_csv(&t.log, &opts, Some(&t.sidecars()), &mut no_progress).unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("passes the limit at byte offset {}", 1 << 20)),
        "{err}"
    );
}

#[test]
fn crlf_files_and_blank_lines_give_the_real_line_numbers() {
    let t = TestLog::new();
    let file = t.dir.path().join("crlf.csv");
    std::fs::write(
        &file,
        b"ts,id,s\r\n1700000000,1,a\r\n\r\n1700000001,2,b\r\n1700000002,x,c\r\n",
    )
    .unwrap();
    assert!(fail_reason(&t, &options(&file, OnError::Fail), 5).contains("\"x\""));
}

#[test]
fn out_of_range_numbers_are_bad_rows_and_inf_nan_literals_are_values() {
    for (bad, needle) in [
        (
            &b"1700000000,7,1e309"[..],
            "column \"f\": \"1e309\" is out of range",
        ),
        (b"1700000000,7,-1e400", "out of range: a float is 64-bit"),
        (
            b"1700000000,9223372036854775808,1",
            "column \"id\": \"9223372036854775808\" is out of range: an integer is 64-bit",
        ),
    ] {
        let t = TestLog::new();
        let mut text = b"ts,id,f\n1700000000,1,inf\n1700000001,2,-Infinity\n1700000002,3,NaN\n1700000003,4,1e-400\n".to_vec();
        text.extend_from_slice(bad);
        text.extend_from_slice(b"\n1700000004,5,2.5\n");
        let file = t.dir.path().join("num.csv");
        std::fs::write(&file, &text).unwrap();
        let opts = ImportOptions {
            time_format: TimeFormat::EpochS,
            columns: vec![
                ("id".into(), ColumnType::Integer),
                ("f".into(), ColumnType::Float),
            ],
            ..ImportOptions::new(&file, "t", "ts")
        };
        let reason = fail_reason(&t, &opts, 6);
        assert!(reason.contains(needle), "{reason}");
        let (reason, _) = skip_reason(&t, &opts, 6, 6);
        assert!(reason.contains(needle), "{reason}");
        // The literals are what they say, and finite values stay finite.
        let schema = match datasets::read_sidecar(&t.sidecars(), "t")
            .unwrap()
            .unwrap()
            .content
        {
            datasets::TopicContent::Csv { schema, .. } => schema,
            other => panic!("{other:?}"),
        };
        let mut floats = Vec::new();
        for p in 0..t.log.partition_count("t").unwrap() {
            for r in t.log.fetch("t", p, 0, FetchLimits::default()).unwrap() {
                let row = schema.decode(r.value.as_deref().unwrap()).unwrap();
                if let (Value::Integer(id), Value::Float(f)) = (&row[1], &row[2]) {
                    floats.push((*id, *f));
                }
            }
        }
        floats.sort_by_key(|(id, _)| *id);
        assert_eq!(floats.len(), 5);
        assert_eq!(floats[0], (1, f64::INFINITY));
        assert_eq!(floats[1], (2, f64::NEG_INFINITY));
        assert!(floats[2].1.is_nan());
        assert_eq!(floats[3], (4, 0.0));
        assert_eq!(floats[4], (5, 2.5));
    }
}

#[test]
fn limits_are_checked_and_parsed() {
    let t = TestLog::new();
    let file = t.dir.path().join("ok.csv");
    std::fs::write(&file, "ts,a\n2024-01-01T00:00:00Z,1\n").unwrap();
    for opts in [
        ImportOptions {
            max_field_bytes: 0,
            ..ImportOptions::new(&file, "t", "ts")
        },
        ImportOptions {
            max_line_bytes: 3,
            ..ImportOptions::new(&file, "t", "ts")
        },
    ] {
        assert!(matches!(
            import_csv(&t.log, &opts, None, &mut no_progress),
            Err(DatasetError::InvalidOptions(_))
        ));
    }
    assert_eq!(datasets::parse_byte_size("1048576").unwrap(), 1 << 20);
    assert_eq!(datasets::parse_byte_size("16MiB").unwrap(), 16 << 20);
    assert_eq!(datasets::parse_byte_size("64 k").unwrap(), 64 << 10);
    assert_eq!(datasets::parse_byte_size("2G").unwrap(), 2 << 30);
    for bad in ["", "MiB", "1.5MiB", "-1", "1TiB", "99999999999999999999GiB"] {
        assert!(datasets::parse_byte_size(bad).is_err(), "{bad}");
    }
}
