//! The oracle against hand-computed answers, and against an independent fold through the
//! workloads crate's partial aggregates on generated data with disorder and duplicates.

use std::path::Path;

use datasets::{DatasetKind, ExportOptions, GenerateOptions, ImportOptions, TopicRows, Value};
use master_log::EmbeddedLog;
use workloads::{BuiltIn, PartialTable, Scalar, Workload, WorkloadSpec, compare};

const HOUR: i64 = 3_600_000;
const JAN1: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

fn trips(dir: &Path) -> EmbeddedLog {
    let csv = dir.join("trips.csv");
    std::fs::write(
        &csv,
        "ts,zone,fare,driver\n\
         2026-01-01T00:00:00Z,JFK,10,d1\n\
         2026-01-01T00:30:00Z,JFK,NA,d2\n\
         2026-01-01T00:59:59Z,JFK,20,d1\n\
         2026-01-01T01:00:00Z,JFK,5,d3\n\
         2026-01-01T00:10:00Z,LGA,-1,d4\n\
         2026-01-01T00:20:00Z,,7,d5\n",
    )
    .unwrap();
    let log = EmbeddedLog::open(dir.join("data")).unwrap();
    let opts = ImportOptions {
        null_values: vec!["NA".into()],
        partitions: 2,
        ..ImportOptions::new(&csv, "trips", "ts")
    };
    datasets::import_csv(
        &log,
        &opts,
        Some(&dir.join("side")),
        &mut datasets::no_progress,
    )
    .unwrap();
    log
}

fn spec(text: &str) -> Workload {
    Workload::Spec(WorkloadSpec::parse(text, Path::new("test.toml")).unwrap())
}

fn rows(rs: &workloads::ResultSet) -> Vec<(i64, i64, Vec<Scalar>, Vec<Scalar>)> {
    rs.rows
        .iter()
        .map(|r| {
            (
                r.window.start - JAN1,
                r.window.end - JAN1,
                r.key.clone(),
                r.values.clone(),
            )
        })
        .collect()
}

#[test]
fn spec_over_a_csv_with_nulls_matches_the_hand_computed_answer() {
    let dir = tempfile::tempdir().unwrap();
    let log = trips(dir.path());
    let w = spec(
        r#"name = "fares"
topic = "trips"
window = { kind = "tumbling", size = "1h" }
group_by = ["zone"]
aggregates = ["count", "count(fare)", "sum(fare)", "avg(fare)", "min(fare)", "max(fare)", "count_distinct(driver)"]
filter = "fare > 0 or fare is null"
"#,
    );
    let got = oracle::answer(&log, &w, "trips", &dir.path().join("side")).unwrap();
    let i = Scalar::Int;
    let s = |x: &str| Scalar::Str(x.into());
    assert_eq!(
        rows(&got),
        vec![
            // The row without a zone groups under null, which sorts first.
            (
                0,
                HOUR,
                vec![Scalar::Null],
                vec![i(1), i(1), i(7), Scalar::Float(7.0), i(7), i(7), i(1)]
            ),
            // JFK's first hour: fares 10, null and 20 (the null passes `fare is null`).
            (
                0,
                HOUR,
                vec![s("JFK")],
                vec![i(3), i(2), i(30), Scalar::Float(15.0), i(10), i(20), i(2)]
            ),
            (
                HOUR,
                2 * HOUR,
                vec![s("JFK")],
                vec![i(1), i(1), i(5), Scalar::Float(5.0), i(5), i(5), i(1)]
            ),
            // LGA's only fare (-1) fails the filter: no row.
        ]
    );
}

#[test]
fn sessions_split_at_the_gap() {
    let dir = tempfile::tempdir().unwrap();
    let log = trips(dir.path());
    let w = spec(
        r#"name = "visits"
topic = "trips"
window = { kind = "session", gap = "15m" }
group_by = ["zone"]
aggregates = ["count"]
"#,
    );
    let got = oracle::answer(&log, &w, "trips", &dir.path().join("side")).unwrap();
    let m = 60_000;
    let s = |x: &str| vec![Scalar::Str(x.into())];
    assert_eq!(
        rows(&got),
        vec![
            (0, 15 * m, s("JFK"), vec![Scalar::Int(1)]),
            (10 * m, 25 * m, s("LGA"), vec![Scalar::Int(1)]),
            (20 * m, 35 * m, vec![Scalar::Null], vec![Scalar::Int(1)]),
            (30 * m, 45 * m, s("JFK"), vec![Scalar::Int(1)]),
            // 00:59:59 and 01:00:00 are one second apart: one session.
            (HOUR - 1000, HOUR + 15 * m, s("JFK"), vec![Scalar::Int(2)]),
        ]
    );
}

/// A second, incremental computation of a built-in: one pass over the rows folding into
/// the workloads crate's partial aggregates, then its `finish`. Independent of the oracle's
/// code; the two must agree.
fn fold(b: BuiltIn, log: &EmbeddedLog, topic: &str, side: &Path) -> workloads::ResultSet {
    let w = Workload::BuiltIn(b);
    let opts = ExportOptions {
        topic: topic.into(),
        ..ExportOptions::default()
    };
    let mut rows = TopicRows::new(log, &opts, Some(side)).unwrap();
    let names: Vec<String> = rows.columns().iter().map(|c| c.name.clone()).collect();
    let col = |n: &str| names.iter().position(|c| c == n);
    let campaigns = (b == BuiltIn::YsbCampaign10s).then(|| {
        let t =
            datasets::YsbCampaigns::read_csv(&side.join(format!("{topic}.campaigns.csv"))).unwrap();
        t.to_map()
    });
    let mut table = PartialTable::new();
    let mut seen = std::collections::HashSet::new();
    let mut v = Vec::new();
    let text = |v: &Value<'_>| match v {
        Value::String(s) => s.to_string(),
        other => panic!("{other:?}"),
    };
    let num = |v: &Value<'_>| match v {
        Value::Integer(i) => *i,
        other => panic!("{other:?}"),
    };
    while rows.next_row(&mut v).unwrap() {
        if !seen.insert(num(&v[col("event_id").unwrap()])) {
            continue;
        }
        let t = match v[2] {
            Value::Timestamp(us) => us / 1000,
            _ => unreachable!(),
        };
        let (key, offer): (Vec<Scalar>, Option<(Scalar, Vec<Scalar>)>) = match b {
            BuiltIn::PageviewsPerMinute | BuiltIn::TopPagesHourly => {
                (vec![Scalar::Int(num(&v[col("page_id").unwrap()]))], None)
            }
            BuiltIn::ProfileViewersHourly => {
                if text(&v[col("page_type").unwrap()]) != "profile" {
                    continue;
                }
                (vec![Scalar::Int(num(&v[col("page_id").unwrap()]))], None)
            }
            BuiltIn::YsbCampaign10s => {
                if text(&v[col("event_type").unwrap()]) != "view" {
                    continue;
                }
                let ad = datasets::Uuid::parse(&text(&v[col("ad_id").unwrap()])).unwrap();
                let c = campaigns.as_ref().unwrap()[&ad];
                let mut buf = [0u8; 36];
                c.write_hyphenated(&mut buf);
                (
                    vec![Scalar::Str(String::from_utf8(buf.to_vec()).unwrap())],
                    None,
                )
            }
            BuiltIn::NexmarkQ5 | BuiltIn::NexmarkQ7 => {
                if text(&v[col("kind").unwrap()]) != "bid" {
                    continue;
                }
                let auction = Scalar::Int(num(&v[col("auction").unwrap()]));
                if b == BuiltIn::NexmarkQ5 {
                    (vec![auction], None)
                } else {
                    let price = Scalar::Int(num(&v[col("price").unwrap()]));
                    let bidder = Scalar::Int(num(&v[col("bidder").unwrap()]));
                    (vec![], Some((price, vec![auction, bidder])))
                }
            }
        };
        for win in w.window().windows_of(t) {
            let cell = table.cell_mut(win, key.clone(), || w.empty_partials());
            match (&mut cell[0], &offer) {
                (workloads::Partial::Count(n), _) => *n += 1,
                (workloads::Partial::Distinct(set), _) => {
                    set.insert(Scalar::Int(num(&v[col("viewer_id").unwrap()])));
                }
                (p @ workloads::Partial::MaxBy(_), Some((o, pay))) => {
                    p.offer(o.clone(), pay.clone()).unwrap()
                }
                other => panic!("{other:?}"),
            }
        }
    }
    w.finish(&table).unwrap()
}

#[test]
fn every_builtin_agrees_with_an_incremental_fold_on_disordered_duplicated_data() {
    for (dataset, builtins) in [
        (
            DatasetKind::Pageviews,
            &[
                BuiltIn::PageviewsPerMinute,
                BuiltIn::ProfileViewersHourly,
                BuiltIn::TopPagesHourly,
            ][..],
        ),
        (DatasetKind::Ysb, &[BuiltIn::YsbCampaign10s][..]),
        (
            DatasetKind::Nexmark,
            &[BuiltIn::NexmarkQ5, BuiltIn::NexmarkQ7][..],
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let log = EmbeddedLog::open(dir.path().join("data")).unwrap();
        let side = dir.path().join("side");
        let opts = GenerateOptions {
            partitions: 3,
            event_rate: Some(20),
            out_of_order: 0.1,
            max_delay_ms: 5_000,
            late: 0.02,
            late_delay_ms: 60_000,
            duplicates: 0.05,
            ..GenerateOptions::new(dataset, "events", 20_000)
        };
        let summary =
            datasets::generate(&log, &opts, Some(&side), &mut datasets::no_progress).unwrap();
        assert!(summary.duplicates > 0 && summary.out_of_order > 0);
        for &b in builtins {
            let expected = oracle::answer(&log, &Workload::BuiltIn(b), "events", &side).unwrap();
            assert!(!expected.rows.is_empty(), "{b}");
            let got = fold(b, &log, "events", &side);
            let c = compare(&expected, &got);
            assert!(c.is_exact(), "{b}: {c:?}");
        }
        // The duplicates really would change the answer: counting them shifts some cells.
        if dataset == DatasetKind::Pageviews {
            let rs = oracle::answer(
                &log,
                &Workload::BuiltIn(BuiltIn::PageviewsPerMinute),
                "events",
                &side,
            )
            .unwrap();
            let total: i64 = rs
                .rows
                .iter()
                .map(|r| match r.values[0] {
                    Scalar::Int(n) => n,
                    _ => 0,
                })
                .sum();
            assert_eq!(total as u64, summary.events, "each event counted once");
            assert!(summary.records > summary.events);
        }
    }
}

#[test]
fn a_missing_column_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let log = trips(dir.path());
    let w = spec(
        "name = \"x\"\ntopic = \"trips\"\nwindow = { kind = \"tumbling\", size = \"1h\" }\ngroup_by = [\"nope\"]\naggregates = [\"count\"]\n",
    );
    let err = oracle::answer(&log, &w, "trips", &dir.path().join("side")).unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
}
