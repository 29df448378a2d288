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
