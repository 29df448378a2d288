//! `TopicRows`, the typed-rows reader every exporter and the batch layer use.

mod common;

use common::TestLog;
use datasets::{DatasetKind, GenerateOptions};

/// `TopicRows::keep_only`: the named data columns decode as without it, every other data
/// column is `Null`, the metadata columns are untouched; for every generated dataset.
#[test]
fn rows_keep_only_the_named_columns() {
    for (dataset, kept) in [
        (DatasetKind::Pageviews, &["page_id", "device"][..]),
        (DatasetKind::Ysb, &["ad_id", "event_type"][..]),
        (DatasetKind::Nexmark, &["kind", "price", "url"][..]),
    ] {
        let t = TestLog::new();
        let topic = dataset.name();
        t.generate(&GenerateOptions::new(dataset, topic, 300));
        let opts = datasets::ExportOptions {
            topic: topic.into(),
            ..Default::default()
        };
        let side = t.sidecars();
        let mut all = datasets::TopicRows::new(&t.log, &opts, Some(&side)).unwrap();
        let mut some = datasets::TopicRows::new(&t.log, &opts, Some(&side)).unwrap();
        some.keep_only(kept);
        assert_eq!(all.columns(), some.columns());
        let names: Vec<String> = all.columns().iter().map(|c| c.name.clone()).collect();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let mut rows = 0;
        let mut kept_values = 0;
        while all.next_row(&mut a).unwrap() {
            assert!(some.next_row(&mut b).unwrap());
            rows += 1;
            for (i, name) in names.iter().enumerate() {
                if i < 4 || kept.contains(&name.as_str()) {
                    assert_eq!(a[i], b[i], "{topic} {name}");
                    kept_values += usize::from(i >= 4 && !a[i].is_null());
                } else {
                    assert!(b[i].is_null(), "{topic} {name}: {:?}", b[i]);
                }
            }
        }
        assert!(!some.next_row(&mut b).unwrap());
        assert_eq!(rows, 300, "{topic}");
        assert!(kept_values >= 300, "{topic}");
    }
}

/// Records which columns a row gave, in the order given.
#[derive(Default)]
struct CallOrder {
    rows: Vec<Vec<usize>>,
}

impl datasets::RowSink for CallOrder {
    fn begin(&mut self, _: &datasets::RowMeta) -> bool {
        self.rows.push(Vec::new());
        true
    }
    fn null(&mut self, col: usize) {
        self.rows.last_mut().unwrap().push(col);
    }
    fn int(&mut self, col: usize, _: i64) {
        self.null(col);
    }
    fn float(&mut self, col: usize, _: f64) {
        self.null(col);
    }
    fn text(&mut self, col: usize, _: &str) {
        self.null(col);
    }
    fn bool(&mut self, col: usize, _: bool) {
        self.null(col);
    }
    fn timestamp(&mut self, col: usize, _: i64) {
        self.null(col);
    }
}

/// A sink gets the kept columns in the order `keep_only` was given them (a filter column
/// first, say), once each, for generated datasets and an imported CSV alike.
#[test]
fn a_sink_gets_the_kept_columns_in_the_order_given() {
    let t = TestLog::new();
    t.generate(&GenerateOptions::new(DatasetKind::Ysb, "ysb", 50));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rows.csv");
    std::fs::write(
        &file,
        "ts,city,fare\n2024-03-01T10:00:00Z,Oslo,3\n2024-03-01T10:00:01Z,,4\n",
    )
    .unwrap();
    let opts = datasets::ImportOptions::new(&file, "trips", "ts");
    datasets::import_csv(
        &t.log,
        &opts,
        Some(&t.sidecars()),
        &mut datasets::no_progress,
    )
    .unwrap();
    // YSB: event_type is data column 5, ad_id 3; the CSV's fare 2, city 1 (ts is 0).
    for (topic, keep, expected) in [
        (
            "ysb",
            &["event_type", "ad_id", "no_such_column", "ad_id"][..],
            vec![5, 3],
        ),
        ("trips", &["fare", "city"][..], vec![2, 1]),
    ] {
        let opts = datasets::ExportOptions {
            topic: topic.into(),
            ..Default::default()
        };
        let mut rows = datasets::TopicRows::new(&t.log, &opts, Some(&t.sidecars())).unwrap();
        rows.keep_only(keep);
        let mut sink = CallOrder::default();
        while rows.next_into(&mut sink).unwrap().is_some() {}
        assert!(!sink.rows.is_empty(), "{topic}");
        for row in &sink.rows {
            assert_eq!(row, &expected, "{topic}");
        }
    }
}

/// Every call a sink gets, as text; it skips every third row (`begin` says no).
#[derive(Default)]
struct Recorder {
    calls: Vec<String>,
}

impl datasets::RowSink for Recorder {
    fn begin(&mut self, m: &datasets::RowMeta) -> bool {
        self.calls.push(format!(
            "row {}/{} t{} a{} id{:?}",
            m.partition, m.offset, m.event_time, m.append_time, m.event_id
        ));
        !m.offset.is_multiple_of(3)
    }
    fn null(&mut self, col: usize) {
        self.calls.push(format!("{col} null"));
    }
    fn int(&mut self, col: usize, v: i64) {
        self.calls.push(format!("{col} int {v}"));
    }
    fn float(&mut self, col: usize, v: f64) {
        self.calls.push(format!("{col} float {v:?}"));
    }
    fn text(&mut self, col: usize, v: &str) {
        self.calls.push(format!("{col} text {v}"));
    }
    fn bool(&mut self, col: usize, v: bool) {
        self.calls.push(format!("{col} bool {v}"));
    }
    fn timestamp(&mut self, col: usize, v: i64) {
        self.calls.push(format!("{col} ts {v}"));
    }
}

/// `TopicRows::read_into` (records decoded where the log read them) gives a sink exactly
/// what `next_into` gives it, one record at a time: with kept columns, a time range and
/// a partition stopped at an offset, for every dataset and an imported CSV, and after
/// some rows were already taken with `next_into`.
#[test]
fn read_into_gives_what_next_into_gives() {
    let t = TestLog::new();
    for dataset in [
        DatasetKind::Pageviews,
        DatasetKind::Ysb,
        DatasetKind::Nexmark,
    ] {
        let mut g = GenerateOptions::new(dataset, dataset.name(), 3_000);
        g.partitions = 3;
        g.batch_size = 70;
        g.duplicates = 0.05;
        g.out_of_order = 0.1;
        t.generate(&g);
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rows.csv");
    let mut csv = String::from("ts,city,fare\n");
    for i in 0..500u32 {
        let city = if i.is_multiple_of(7) { "" } else { "Oslo" };
        csv.push_str(&format!(
            "2024-03-01T10:{:02}:{:02}Z,{city},{i}\n",
            i / 60,
            i % 60
        ));
    }
    std::fs::write(&file, csv).unwrap();
    let mut opts = datasets::ImportOptions::new(&file, "trips", "ts");
    opts.partitions = 3;
    opts.key_column = Some("fare".into());
    opts.batch_size = 40;
    datasets::import_csv(
        &t.log,
        &opts,
        Some(&t.sidecars()),
        &mut datasets::no_progress,
    )
    .unwrap();

    for (topic, keep) in [
        ("pageviews", None),
        ("ysb", Some(&["event_type", "ad_id", "event_time"][..])),
        ("nexmark", Some(&["kind", "price", "url"][..])),
        ("trips", Some(&["fare", "city"][..])),
    ] {
        // Times of the middle half of the topic's rows.
        let all = t.dump(topic);
        let mut times: Vec<i64> = all.iter().map(|r| r.event_time).collect();
        times.sort_unstable();
        let (from, to) = (times[times.len() / 4], times[times.len() * 3 / 4]);
        for (from_ms, to_ms) in [(None, None), (Some(from), Some(to))] {
            let opts = datasets::ExportOptions {
                topic: topic.into(),
                from_ms,
                to_ms,
                ..Default::default()
            };
            let open = || {
                let mut rows =
                    datasets::TopicRows::new(&t.log, &opts, Some(&t.sidecars())).unwrap();
                if let Some(keep) = keep {
                    rows.keep_only(keep);
                }
                rows.stop_at(0, 100);
                rows
            };
            let mut one_by_one = Recorder::default();
            let mut rows = open();
            let mut n = 0;
            while rows.next_into(&mut one_by_one).unwrap().is_some() {
                n += 1;
            }
            assert!(n > 50, "{topic}: {n}");

            let mut in_place = Recorder::default();
            assert_eq!(open().read_into(&mut in_place).unwrap(), n, "{topic}");
            assert_eq!(in_place.calls, one_by_one.calls, "{topic} {from_ms:?}");

            // Some rows one by one, then the rest in place.
            let mut mixed = Recorder::default();
            let mut rows = open();
            for _ in 0..5 {
                rows.next_into(&mut mixed).unwrap();
            }
            assert_eq!(rows.read_into(&mut mixed).unwrap(), n - 5);
            assert_eq!(mixed.calls, one_by_one.calls, "{topic} {from_ms:?}");
            assert_eq!(rows.read_into(&mut mixed).unwrap(), 0);

            // Partition 0 stopped below offset 100; the others read to their end.
            let p0 = |c: &&String| c.starts_with("row 0/");
            let max0 = one_by_one.calls.iter().filter(p0).count();
            assert!(max0 <= 100, "{topic}");
            assert!(one_by_one.calls.iter().any(|c| c.starts_with("row 2/")));
        }
    }
}
