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
