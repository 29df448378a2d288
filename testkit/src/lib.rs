#![warn(missing_docs)]
//! # testkit — fixtures for the pipelines' integration tests
//!
//! A source log holding a whole dataset (generated with disorder, late events and
//! duplicates, or an imported CSV with nulls, with its sidecars), copied into fresh
//! target logs in pieces so that a horizon can be captured mid-stream and the rest
//! appended after it; and the oracle's answer to compare with.
//!
//! ```text
//!   Fixture.src  [0 ─────────── mid ─────────── end)   (never changes)
//!                 │ copy(0..mid)   │ copy(mid..end)
//!                 ▼                ▼
//!   target log   [0 ── horizon ─┬─ rest ──────────── end)  ← the pipeline under test
//! ```
//!
//! Test code: panics on any unexpected error, by design.
#![allow(clippy::unwrap_used)]

pub mod damage;

use std::path::PathBuf;
use std::sync::Arc;

use datasets::{DatasetKind, GenerateOptions, ImportOptions};
use master_log::{EmbeddedLog, FetchLimits, Log, NewRecord, TopicConfig};
use workloads::{BuiltIn, Comparison, PartialTable, ResultSet, Scalar, Workload, WorkloadSpec};

/// The partition counts every pipeline is tested at.
pub const PARTITIONS: [u32; 3] = [1, 2, 4];

/// Allowed lateness that covers the generated data's disorder (late events arrive up to
/// 2 × 60 s after their event time).
pub const GENERATED_LATENESS_MS: i64 = 130_000;
/// The CSV rows are up to 20 minutes out of order.
pub const CSV_LATENESS_MS: i64 = 25 * 60_000;

/// A dataset in a source log (with its sidecars) and the workloads over it.
#[derive(Debug)]
pub struct Fixture {
    /// The temporary directory holding everything of the fixture (removed on drop).
    pub dir: tempfile::TempDir,
    /// The source log, holding the whole dataset.
    pub src: EmbeddedLog,
    /// The dataset's sidecar directory (CSV schemas, the YSB campaign table).
    pub side: PathBuf,
    /// The dataset's topic.
    pub topic: String,
    /// The topic's partition count.
    pub parts: u32,
    /// The workloads over the dataset.
    pub workloads: Vec<Workload>,
    /// Allowed lateness that covers this dataset's disorder.
    pub covering_lateness_ms: i64,
    targets: std::cell::Cell<u32>,
}

/// The generated dataset kinds, each with the built-in workloads over it.
pub fn datasets() -> [(DatasetKind, Vec<BuiltIn>); 3] {
    [
        (
            DatasetKind::Pageviews,
            vec![
                BuiltIn::PageviewsPerMinute,
                BuiltIn::ProfileViewersHourly,
                BuiltIn::TopPagesHourly,
            ],
        ),
        (DatasetKind::Ysb, vec![BuiltIn::YsbCampaign10s]),
        (
            DatasetKind::Nexmark,
            vec![BuiltIn::NexmarkQ5, BuiltIn::NexmarkQ7],
        ),
    ]
}

/// A generated dataset (20,000 events; see [`generated_n`]) in `parts` partitions.
pub fn generated(kind: DatasetKind, builtins: &[BuiltIn], parts: u32) -> Fixture {
    generated_n(kind, builtins, parts, 20_000)
}

/// A generated dataset (`events` events, 20 events/s of event time, 10 % out of order by
/// up to 5 s, 2 % late by 60–120 s, 5 % duplicated) in `parts` partitions.
pub fn generated_n(kind: DatasetKind, builtins: &[BuiltIn], parts: u32, events: u64) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let src = EmbeddedLog::open(dir.path().join("src")).unwrap();
    let side = dir.path().join("side");
    let opts = GenerateOptions {
        partitions: parts,
        event_rate: Some(20),
        out_of_order: 0.1,
        max_delay_ms: 5_000,
        late: 0.02,
        late_delay_ms: 60_000,
        duplicates: 0.05,
        ..GenerateOptions::new(kind, "events", events)
    };
    let s = datasets::generate(&src, &opts, Some(&side), &mut datasets::no_progress).unwrap();
    assert!(s.duplicates > 0 && s.out_of_order > 0 && s.late > 0);
    Fixture {
        dir,
        src,
        side,
        topic: "events".into(),
        parts,
        workloads: builtins.iter().map(|b| Workload::BuiltIn(*b)).collect(),
        covering_lateness_ms: GENERATED_LATENESS_MS,
        targets: Default::default(),
    }
}

/// A spec workload from its TOML text.
pub fn spec(text: &str) -> Workload {
    Workload::Spec(WorkloadSpec::parse(text, std::path::Path::new("t.toml")).unwrap())
}

/// [`csv_rows`] with 6,000 rows.
pub fn csv(parts: u32) -> Fixture {
    csv_rows(parts, 6_000)
}

/// An imported CSV of `rows` rows with nulls (in the key, the values and the filtered
/// column), rows up to 20 minutes out of time order, keyed by driver, with three spec
/// workloads over it: tumbling, hopping and session windows.
pub fn csv_rows(parts: u32, rows: u64) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("trips.csv");
    let mut text = String::from("ts,zone,fare,driver\n");
    let zones = ["JFK", "LGA", "EWR", "", "SOHO"];
    let mut x: u64 = 12345;
    for i in 0..rows {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let r = x >> 33;
        // About 3 s apart, up to 20 minutes out of order.
        let secs = (i * 3) as i64 - (r % 1200) as i64 + 1200;
        let ts = 1_767_225_600 + secs;
        let zone = zones[(r % 5) as usize];
        let fare = match r % 11 {
            0 => "NA".to_string(),
            1 => format!("-{}", r % 7),
            _ => format!("{}.{}", r % 90, r % 100),
        };
        let driver = format!("d{}", (r / 7) % 60);
        let secs_of_day = ts.rem_euclid(86_400);
        text.push_str(&format!(
            "2026-01-01T{:02}:{:02}:{:02}Z,{zone},{fare},{driver}\n",
            secs_of_day / 3600,
            secs_of_day % 3600 / 60,
            secs_of_day % 60
        ));
    }
    std::fs::write(&file, text).unwrap();
    let src = EmbeddedLog::open(dir.path().join("src")).unwrap();
    let side = dir.path().join("side");
    let opts = ImportOptions {
        null_values: vec!["NA".into()],
        partitions: parts,
        key_column: Some("driver".into()),
        batch_size: 500,
        ..ImportOptions::new(&file, "trips", "ts")
    };
    datasets::import_csv(&src, &opts, Some(&side), &mut datasets::no_progress).unwrap();
    let aggs = r#"aggregates = ["count", "count(fare)", "sum(fare)", "avg(fare)", "min(fare)", "max(fare)", "count_distinct(driver)"]"#;
    let workloads = vec![
        spec(&format!(
            "name = \"fares\"\ntopic = \"trips\"\nwindow = {{ kind = \"tumbling\", size = \"10m\" }}\ngroup_by = [\"zone\"]\n{aggs}\nfilter = \"fare > 0 or fare is null\"\n"
        )),
        spec(&format!(
            "name = \"fares_hop\"\ntopic = \"trips\"\nwindow = {{ kind = \"hopping\", size = \"10m\", slide = \"5m\" }}\ngroup_by = [\"zone\", \"driver\"]\n{aggs}\n"
        )),
        spec(
            "name = \"visits\"\ntopic = \"trips\"\nwindow = { kind = \"session\", gap = \"2m\" }\ngroup_by = [\"driver\"]\naggregates = [\"count\", \"max(fare)\"]\nfilter = \"zone is not null\"\n",
        ),
    ];
    Fixture {
        dir,
        src,
        side,
        topic: "trips".into(),
        parts,
        workloads,
        covering_lateness_ms: CSV_LATENESS_MS,
        targets: Default::default(),
    }
}

/// Every fixture: the three generated datasets and the CSV, at `parts` partitions.
pub fn all(parts: u32) -> Vec<Fixture> {
    let mut v: Vec<Fixture> = datasets()
        .iter()
        .map(|(k, b)| generated(*k, b, parts))
        .collect();
    v.push(csv(parts));
    v
}

impl Fixture {
    /// The source's end offset of every partition.
    pub fn end(&self) -> Vec<u64> {
        self.src.end_offsets(&self.topic).unwrap()
    }

    /// Roughly the middle of every partition.
    pub fn mid(&self) -> Vec<u64> {
        self.fraction(1, 2)
    }

    /// Offset 0 of every partition.
    pub fn zeros(&self) -> Vec<u64> {
        vec![0; self.parts as usize]
    }

    /// `num/den` of the way through every partition.
    pub fn fraction(&self, num: u64, den: u64) -> Vec<u64> {
        self.end().iter().map(|e| e * num / den).collect()
    }

    /// A new, empty log with the topic created.
    pub fn target(&self) -> Arc<EmbeddedLog> {
        self.target_dir().0
    }

    /// A new, empty log with the topic created, in `<its directory>/log`, and that
    /// directory (for what a pipeline keeps beside the log).
    pub fn target_dir(&self) -> (Arc<EmbeddedLog>, PathBuf) {
        let n = self.targets.get();
        self.targets.set(n + 1);
        let dir = self.dir.path().join(format!("target{n}"));
        let log = EmbeddedLog::open(dir.join("log")).unwrap();
        log.create_topic(&self.topic, TopicConfig::with_partitions(self.parts))
            .unwrap();
        (Arc::new(log), dir)
    }

    /// Append the source's records `[from[p], to[p])` to `to_log`, partition by partition.
    pub fn copy(&self, to_log: &dyn Log, from: &[u64], to: &[u64]) {
        copy_range(&self.src, &self.topic, to_log, from, to);
    }

    /// The oracle's answer for `w` over the fixture's topic in `log` (which must not be
    /// empty).
    pub fn oracle(&self, log: &dyn Log, w: &Workload) -> ResultSet {
        let rs = oracle::answer(log, w, &self.topic, &self.side).unwrap();
        assert!(!rs.rows.is_empty(), "{}", w.name());
        rs
    }
}

/// Append the records `[from[p], to[p])` of `src`'s `topic` to `to_log`.
pub fn copy_range(src: &dyn Log, topic: &str, to_log: &dyn Log, from: &[u64], to: &[u64]) {
    copy_filtered(src, topic, to_log, from, to, |_, _| true);
}

/// Copy the records `[from[p], to[p])` of `topic` for which `keep(partition, offset)`.
pub fn copy_filtered(
    src: &dyn Log,
    topic: &str,
    to_log: &dyn Log,
    from: &[u64],
    to: &[u64],
    keep: impl Fn(u32, u64) -> bool,
) {
    for (p, (&a, &b)) in from.iter().zip(to).enumerate() {
        let mut at = a;
        while at < b {
            let recs = src
                .fetch(topic, p as u32, at, FetchLimits::default())
                .unwrap();
            let batch: Vec<NewRecord> = recs
                .iter()
                .filter(|r| r.offset < b && keep(p as u32, r.offset))
                .map(|r| NewRecord {
                    key: r.key.clone(),
                    value: r.value.clone(),
                    event_time: r.event_time,
                    headers: r.headers.clone(),
                })
                .collect();
            at = recs.last().unwrap().offset + 1;
            if !batch.is_empty() {
                to_log.append(topic, p as u32, &batch).unwrap();
            }
        }
    }
}

/// Merge tables.
pub fn merge(tables: &[&PartialTable]) -> PartialTable {
    let mut t = PartialTable::new();
    for x in tables {
        t.merge(x).unwrap();
    }
    t
}

/// Assert `table` finishes to exactly the oracle's answer; the failure shows how far it
/// is ([`describe`]).
pub fn assert_exact(expected: &ResultSet, w: &Workload, table: &PartialTable, what: &str) {
    let got = w.finish(table).unwrap();
    let c = workloads::compare(expected, &got);
    assert!(c.is_exact(), "{what} {}: {}", w.name(), describe(&c));
}

/// A comparison in a few lines: the counts, then the first few missing, extra and
/// repeated cells with their values.
pub fn describe(c: &Comparison) -> String {
    use std::fmt::Write;
    let mut s = format!(
        "{} of {} cells exact, {} missing, {} extra, {} repeated rows, max abs error {}",
        c.exact, c.cells, c.missing, c.extra, c.duplicates, c.max_abs_error
    );
    let cell = |w: &workloads::Window, k: &[Scalar]| format!("[{}, {}) {k:?}", w.start, w.end);
    for m in c.missing_cells.iter().take(5) {
        let _ = write!(
            s,
            "\n  missing {} = {:?}",
            cell(&m.window, &m.key),
            m.values
        );
    }
    for x in c.extra_cells.iter().take(5) {
        let _ = write!(
            s,
            "\n  extra   {} = {:?}",
            cell(&x.window, &x.key),
            x.values
        );
    }
    for d in c.duplicate_cells.iter().take(5) {
        let _ = write!(
            s,
            "\n  repeated in the {:?} answer: {} = {:?}",
            d.answer,
            cell(&d.window, &d.key),
            d.rows
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use workloads::{Row, Window};

    use super::*;

    #[test]
    fn a_description_shows_the_counts_and_the_first_cells() {
        let rs = |rows: &[(i64, i64)]| ResultSet {
            key_columns: vec!["k".into()],
            value_columns: vec!["n".into()],
            rows: rows
                .iter()
                .map(|&(k, n)| Row {
                    window: Window { start: 0, end: 10 },
                    key: vec![Scalar::Int(k)],
                    values: vec![Scalar::Int(n)],
                })
                .collect(),
        };
        let c = workloads::compare(&rs(&[(1, 5), (2, 6)]), &rs(&[(2, 6), (2, 6), (3, 7)]));
        let d = describe(&c);
        assert!(
            d.starts_with("0 of 3 cells exact, 1 missing, 1 extra, 1 repeated rows"),
            "{d}"
        );
        assert!(d.contains("missing [0, 10) [Int(1)] = [Int(5)]"), "{d}");
        assert!(d.contains("extra   [0, 10) [Int(3)] = [Int(7)]"), "{d}");
        assert!(
            d.contains("repeated in the Actual answer: [0, 10) [Int(2)]"),
            "{d}"
        );
    }
}
