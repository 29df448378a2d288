//! Property tests of the CSV import (proptest, run by `cargo test`): arbitrary bytes and
//! mutated valid files never panic; rows known good are accepted and read back as they
//! were written; rows known bad are rejected with the line they start on; whatever is
//! accepted from a damaged file exports and imports again to the same values.

mod common;

use std::cell::Cell;
use std::path::Path;

use common::TestLog;
use datasets::{
    ColumnType, DatasetError, ExportOptions, ImportOptions, OnError, Schema, TimeFormat, Value,
    export_csv, import_csv, no_progress,
};
use master_log::{FetchLimits, Log};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// One log for all the cases of a property (a topic per case): opening a log per case
/// would dominate the run.
struct Cases {
    t: TestLog,
    n: Cell<u64>,
}

impl Cases {
    fn new() -> Self {
        Cases {
            t: TestLog::new(),
            n: Cell::new(0),
        }
    }

    /// A fresh topic name and a file holding `bytes`.
    fn file(&self, bytes: &[u8]) -> (String, std::path::PathBuf) {
        let n = self.n.get() + 1;
        self.n.set(n);
        let file = self.t.dir.path().join(format!("case{n}.csv"));
        std::fs::write(&file, bytes).unwrap();
        (format!("case{n}"), file)
    }

    fn import(&self, opts: &ImportOptions) -> datasets::Result<datasets::ImportSummary> {
        import_csv(
            &self.t.log,
            opts,
            Some(&self.t.sidecars()),
            &mut no_progress,
        )
    }

    /// Every row of `topic`, decoded, in offset order of its one partition.
    fn rows(&self, topic: &str, schema: &Schema) -> Vec<Vec<Value<'static>>> {
        let limits = FetchLimits {
            max_records: usize::MAX,
            max_bytes: usize::MAX,
        };
        let mut out = Vec::new();
        for p in 0..self.t.log.partition_count(topic).unwrap() {
            for r in self.t.log.fetch(topic, p, 0, limits).unwrap() {
                let row = schema.decode(r.value.as_deref().unwrap()).unwrap();
                out.push(row.into_iter().map(owned).collect());
            }
        }
        out
    }
}

fn owned(v: Value<'_>) -> Value<'static> {
    match v {
        Value::String(s) => Value::String(s.into_owned().into()),
        Value::Null => Value::Null,
        Value::Integer(i) => Value::Integer(i),
        Value::Float(f) => Value::Float(f),
        Value::Bool(b) => Value::Bool(b),
        Value::Timestamp(t) => Value::Timestamp(t),
    }
}

/// Values equal, NaN equal to itself.
fn same(a: &[Vec<Value<'_>>], b: &[Vec<Value<'_>>]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.len() == y.len()
                && x.iter().zip(y).all(|(u, v)| match (u, v) {
                    (Value::Float(f), Value::Float(g)) => f.to_bits() == g.to_bits(),
                    _ => u == v,
                })
        })
}

/// Options of a case: the file's columns `ts,id,s,f` typed, one partition (so that rows
/// keep file order), small limits so that they are met.
fn options(file: &Path, topic: &str, on_error: OnError) -> ImportOptions {
    ImportOptions {
        time_format: TimeFormat::EpochMs,
        on_error,
        partitions: 1,
        columns: vec![
            ("id".into(), ColumnType::Integer),
            ("s".into(), ColumnType::String),
            ("f".into(), ColumnType::Float),
        ],
        max_field_bytes: 48,
        max_line_bytes: 160,
        batch_size: 7,
        ..ImportOptions::new(file, topic, "ts")
    }
}

/// A row of the generated files: good, or bad in a known way.
#[derive(Debug, Clone)]
struct Row {
    ts: i64,
    id: i64,
    s: Option<String>,
    f: f64,
    bad: Option<Bad>,
}

#[derive(Debug, Clone, Copy)]
enum Bad {
    Id,
    Float,
    TooLongField,
    TooLongLine,
    Fields,
}

fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

impl Row {
    /// The row's text, without its line ending.
    fn text(&self) -> String {
        let s = self.s.as_deref().map(quoted).unwrap_or_default();
        let (id, f) = (self.id.to_string(), format!("{:?}", self.f));
        match self.bad {
            None => format!("{},{id},{s},{f}", self.ts),
            Some(Bad::Id) => format!("{},x{id},{s},{f}", self.ts),
            Some(Bad::Float) => format!("{},{id},{s},1e999", self.ts),
            Some(Bad::TooLongField) => format!("{},{id},{},{f}", self.ts, "w".repeat(49)),
            Some(Bad::TooLongLine) => format!("{},{id},\"{}\",{f}", self.ts, "l\n".repeat(90)),
            Some(Bad::Fields) => format!("{},{id},{s}", self.ts),
        }
    }

    fn values(&self) -> Vec<Value<'static>> {
        vec![
            Value::Timestamp(self.ts * 1000),
            Value::Integer(self.id),
            self.s
                .clone()
                .map_or(Value::Null, |s| Value::String(s.into())),
            Value::Float(self.f),
        ]
    }
}

fn row() -> impl Strategy<Value = Row> {
    let bad = prop_oneof![
        6 => Just(None),
        1 => Just(Some(Bad::Id)),
        1 => Just(Some(Bad::Float)),
        1 => Just(Some(Bad::TooLongField)),
        1 => Just(Some(Bad::TooLongLine)),
        1 => Just(Some(Bad::Fields)),
    ];
    // Strings with the characters CSV cares about; never empty (empty is null).
    let s = prop::option::of("[a-z,\"\r\n é✓]{1,12}");
    let f = prop_oneof![
        any::<f64>(),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(f64::NAN),
        Just(-0.0),
    ];
    (
        -4_000_000_000_000i64..4_000_000_000_000,
        any::<i64>(),
        s,
        f,
        bad,
    )
        .prop_map(|(ts, id, s, f, bad)| Row { ts, id, s, f, bad })
}

/// A file of `rows` with LF or CRLF endings and blank lines here and there; returns it
/// with the line each row starts on.
fn render(rows: &[Row], crlf: bool, blanks: &[bool]) -> (Vec<u8>, Vec<u64>) {
    let end = if crlf { "\r\n" } else { "\n" };
    let mut text = format!("ts,id,s,f{end}");
    let mut line = 2u64;
    let mut starts = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        if blanks.get(i).copied().unwrap_or(false) {
            text.push_str(end);
            line += 1;
        }
        starts.push(line);
        let t = r.text();
        line += 1 + t.matches('\n').count() as u64;
        text.push_str(&t);
        text.push_str(end);
    }
    (text.into_bytes(), starts)
}

#[test]
fn generated_rows_are_accepted_as_written_or_rejected_with_their_line() {
    let cases = Cases::new();
    let strategy = (
        prop::collection::vec(row(), 1..40),
        any::<bool>(),
        prop::collection::vec(prop::bool::weighted(0.1), 40),
    );
    let mut runner = TestRunner::new(Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&strategy, |(rows, crlf, blanks)| {
            let (bytes, starts) = render(&rows, crlf, &blanks);
            let (topic, file) = cases.file(&bytes);
            let bad_lines: Vec<u64> = rows
                .iter()
                .zip(&starts)
                .filter(|(r, _)| r.bad.is_some())
                .map(|(_, l)| *l)
                .collect();
            // fail: the first bad row, by its line, and nothing written.
            match cases.import(&options(&file, &topic, OnError::Fail)) {
                Ok(s) => prop_assert!(bad_lines.is_empty(), "accepted {s:?}"),
                Err(DatasetError::BadRow { line, .. }) => {
                    prop_assert_eq!(Some(&line), bad_lines.first());
                    prop_assert!(cases.t.log.partition_count(&topic).is_err());
                }
                Err(e) => return Err(TestCaseError::fail(e.to_string())),
            }
            // skip: every bad row with its line, every good row as written.
            let topic = format!("{topic}-skip");
            let s = cases
                .import(&options(&file, &topic, OnError::Skip))
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(s.rejected as usize, bad_lines.len());
            let lines: Vec<u64> = s.first_rejects.iter().map(|r| r.line).collect();
            prop_assert_eq!(&lines[..], &bad_lines[..bad_lines.len().min(20)]);
            let good: Vec<_> = rows
                .iter()
                .filter(|r| r.bad.is_none())
                .map(Row::values)
                .collect();
            let got = cases.rows(&topic, &s.schema);
            prop_assert!(same(&got, &good), "{got:?}\n{good:?}");
            Ok(())
        })
        .unwrap();
}

/// Damage to a file: bytes replaced, inserted or removed.
#[derive(Debug, Clone)]
enum Mutation {
    Replace(usize, u8),
    Insert(usize, Vec<u8>),
    Remove(usize, usize),
}

fn mutate(bytes: &mut Vec<u8>, m: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    match m {
        Mutation::Replace(i, b) => {
            let i = i % bytes.len();
            bytes[i] = *b;
        }
        Mutation::Insert(i, b) => {
            let i = i % (bytes.len() + 1);
            bytes.splice(i..i, b.iter().copied());
        }
        Mutation::Remove(i, n) => {
            let i = i % bytes.len();
            let end = (i + n).min(bytes.len());
            bytes.drain(i..end);
        }
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let special = prop::sample::select(vec![b'"', b',', b'\n', b'\r', 0xff, b'e', b'9', b'-']);
    prop_oneof![
        (any::<usize>(), prop_oneof![special.clone(), any::<u8>()])
            .prop_map(|(i, b)| Mutation::Replace(i, b)),
        (any::<usize>(), prop::collection::vec(special, 1..4))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<usize>(), 1usize..8).prop_map(|(i, n)| Mutation::Remove(i, n)),
    ]
}

/// Import `bytes` both ways; in `skip` mode check what was accepted and rejected, and that
/// the accepted rows export and import again to the same values.
fn import_damaged(cases: &Cases, bytes: &[u8], infer: bool) -> Result<(), TestCaseError> {
    let (topic, file) = cases.file(bytes);
    // Lines end with \n, \r\n or a lone \r.
    let lone_cr = bytes
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\r' && bytes.get(i + 1) != Some(&b'\n'))
        .count();
    let lines = (bytes.iter().filter(|&&b| b == b'\n').count() + lone_cr) as u64 + 1;
    let typed = |on_error| {
        let o = options(&file, &topic, on_error);
        if infer {
            ImportOptions {
                columns: Vec::new(),
                time_format: TimeFormat::Rfc3339,
                time_column: String::new(),
                ..o
            }
        } else {
            o
        }
    };
    if let Err(DatasetError::BadRow { line, .. }) = cases.import(&typed(OnError::Fail)) {
        prop_assert!((2..=lines).contains(&line), "line {line} of {lines}");
    }
    let topic = format!("{topic}-skip");
    let Ok(s) = cases.import(&ImportOptions {
        topic: topic.clone(),
        ..typed(OnError::Skip)
    }) else {
        return Ok(()); // a bad header, say: refused whole, which is fine
    };
    prop_assert_eq!(s.accepted + s.rejected, s.rows);
    for r in &s.first_rejects {
        prop_assert!((2..=lines).contains(&r.line), "{r:?} of {lines} lines");
    }
    // What was accepted exports and imports again to the same values.
    let rows = cases.rows(&topic, &s.schema);
    prop_assert_eq!(rows.len() as u64, s.accepted);
    let mut exported = Vec::new();
    let export = ExportOptions {
        topic: topic.clone(),
        no_metadata: true,
        ..ExportOptions::default()
    };
    export_csv(
        &cases.t.log,
        &export,
        Some(&cases.t.sidecars()),
        &mut exported,
        &mut no_progress,
    )
    .map_err(|e| TestCaseError::fail(e.to_string()))?;
    if rows.is_empty() {
        return Ok(());
    }
    let (again, file) = cases.file(&exported);
    let columns = s
        .schema
        .columns
        .iter()
        .map(|c| (c.name.clone(), c.ty))
        .collect();
    let back = cases
        .import(&ImportOptions {
            columns,
            partitions: 1,
            max_field_bytes: u64::MAX,
            ..ImportOptions::new(&file, &again, s.schema.time_column.clone())
        })
        .map_err(|e| TestCaseError::fail(format!("re-import: {e}")))?;
    prop_assert_eq!(back.rejected, 0);
    let got = cases.rows(&again, &back.schema);
    prop_assert!(same(&got, &rows), "{got:?}\n{rows:?}");
    Ok(())
}

#[test]
fn mutated_valid_files_never_panic_and_what_is_accepted_round_trips() {
    let cases = Cases::new();
    let strategy = (
        prop::collection::vec(row(), 1..20),
        any::<bool>(),
        prop::collection::vec(mutation(), 1..6),
        any::<bool>(),
    );
    let mut runner = TestRunner::new(Config {
        cases: 96,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&strategy, |(rows, crlf, mutations, infer)| {
            let (mut bytes, _) = render(&rows, crlf, &[]);
            for m in &mutations {
                mutate(&mut bytes, m);
            }
            import_damaged(&cases, &bytes, infer)
        })
        .unwrap();
}

#[test]
fn arbitrary_bytes_never_panic() {
    let cases = Cases::new();
    let bytes = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..600),
        // Mostly the bytes that matter to CSV, after a plausible header.
        prop::collection::vec(
            prop::sample::select(vec![b'"', b',', b'\n', b'\r', b'1', b'a', b'-', b'T', 0xc3]),
            0..600
        )
        .prop_map(|b| [b"ts,id,s,f\n".to_vec(), b].concat()),
    ];
    let mut runner = TestRunner::new(Config {
        cases: 128,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&(bytes, any::<bool>()), |(bytes, infer)| {
            import_damaged(&cases, &bytes, infer)
        })
        .unwrap();
}
