//! The batch view of every workload equals the oracle's answer exactly, on disordered,
//! late and duplicated generated data and on an imported CSV with nulls, at 1, 2 and 4
//! partitions; and the horizon excludes records appended after it.

use std::fmt::Write as _;
use std::path::Path;

use datasets::{DatasetKind, GenerateOptions, ImportOptions};
use master_log::{EmbeddedLog, Log};
use workloads::{BuiltIn, Scalar, Workload, WorkloadSpec, compare};

fn gen_opts(dataset: DatasetKind, topic: &str, events: u64, partitions: u32) -> GenerateOptions {
    GenerateOptions {
        partitions,
        event_rate: Some(20),
        out_of_order: 0.1,
        max_delay_ms: 5_000,
        late: 0.02,
        late_delay_ms: 60_000,
        duplicates: 0.05,
        ..GenerateOptions::new(dataset, topic, events)
    }
}

fn check(log: &EmbeddedLog, w: &Workload, topic: &str, side: &Path, what: &str) {
    let expected = oracle::answer(log, w, topic, side).unwrap();
    assert!(!expected.rows.is_empty(), "{what}: empty answer");
    let view = batch_layer::recompute(log, w, topic, side).unwrap();
    assert_eq!(view.horizon, log.end_offsets(topic).unwrap(), "{what}");
    let got = w.finish(&view.table).unwrap();
    let c = compare(&expected, &got);
    assert!(c.is_exact(), "{what}: {c:?}");
    // One view per partition (the split of a Lambda group's workers), merged: the same.
    let all: Vec<u32> = (0..view.horizon.len() as u32).collect();
    let parts =
        batch_layer::recompute_partitions_at(log, w, topic, side, &view.horizon, &all).unwrap();
    let mut merged = workloads::PartialTable::new();
    for (p, part) in parts.iter().enumerate() {
        let mut only = vec![0; view.horizon.len()];
        only[p] = view.horizon[p];
        assert_eq!(part.horizon, only, "{what}");
        merged.merge(&part.table).unwrap();
    }
    assert_eq!(parts.iter().map(|v| v.events).sum::<u64>(), view.events);
    let c = compare(&expected, &w.finish(&merged).unwrap());
    assert!(c.is_exact(), "{what}, per partition: {c:?}");
    let out_of_range = batch_layer::recompute_partitions_at(
        log,
        w,
        topic,
        side,
        &view.horizon,
        &[view.horizon.len() as u32],
    );
    assert!(
        matches!(
            out_of_range,
            Err(batch_layer::BatchError::UnknownPartition { .. })
        ),
        "{what}"
    );
    // The cells have exactly the layout of empty_partials().
    let empty = w.empty_partials();
    for (_, _, p) in view.table.iter() {
        assert_eq!(p.len(), empty.len(), "{what}");
        for (a, b) in p.iter().zip(&empty) {
            assert_eq!(
                std::mem::discriminant(a),
                std::mem::discriminant(b),
                "{what}"
            );
        }
    }
}

#[test]
fn every_builtin_equals_the_oracle_at_1_2_and_4_partitions() {
    for partitions in [1, 2, 4] {
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
            let summary = datasets::generate(
                &log,
                &gen_opts(dataset, "events", 20_000, partitions),
                Some(&side),
                &mut datasets::no_progress,
            )
            .unwrap();
            assert!(summary.duplicates > 0 && summary.out_of_order > 0);
            for &b in builtins {
                check(
                    &log,
                    &Workload::BuiltIn(b),
                    "events",
                    &side,
                    &format!("{b} at {partitions} partitions"),
                );
            }
            // Every distinct event counts once, also where the plan's filter was pushed
            // into the decoder (ysb, profile viewers, nexmark: the rows it drops are
            // events all the same).
            for &b in builtins {
                let view =
                    batch_layer::recompute(&log, &Workload::BuiltIn(b), "events", &side).unwrap();
                assert_eq!(view.events, summary.events, "{b}: duplicates removed");
                assert_eq!(view.records_read, summary.records, "{b}");
            }
        }
    }
}

/// A CSV of trips with nulls in every column but the time, several types, and rows out
/// of time order.
fn trips_csv(path: &Path, rows: usize) {
    let mut s = String::from("ts,zone,fare,tip,driver,shared,pickup\n");
    let zones = ["JFK", "LGA", "EWR", "Midtown", ""];
    let mut x: u64 = 12345;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..rows {
        let r = next();
        // Minutes over ~2 days, jittered backwards to break time order.
        let minute = (i as u64 * 3 + 2_000 - r % 2_000) / 2;
        let (h, m, sec) = (minute / 60, minute % 60, r % 60);
        let (day, h) = (1 + h / 24, h % 24);
        let zone = zones[(r >> 8) as usize % zones.len()];
        let fare = match (r >> 12) % 10 {
            0 => "NA".to_owned(),
            1 => format!("-{}", (r >> 20) % 50),
            _ => format!("{}", (r >> 20) % 5_000),
        };
        let tip = if (r >> 30) % 7 == 0 {
            String::new()
        } else {
            format!("{}.{:02}", (r >> 33) % 20, (r >> 40) % 100)
        };
        let driver = if (r >> 45) % 9 == 0 {
            String::new()
        } else {
            format!("d{}", (r >> 48) % 40)
        };
        let shared = match (r >> 52) % 3 {
            0 => "true",
            1 => "false",
            _ => "",
        };
        let pickup = if (r >> 55) % 5 == 0 {
            String::new()
        } else {
            format!(
                "2026-01-0{}T{:02}:{:02}:{:02}Z",
                day.min(9),
                (h + 1) % 24,
                m,
                sec
            )
        };
        writeln!(
            s,
            "2026-01-0{}T{h:02}:{m:02}:{sec:02}Z,{zone},{fare},{tip},{driver},{shared},{pickup}",
            day.min(9)
        )
        .unwrap();
    }
    std::fs::write(path, s).unwrap();
}

fn spec(text: &str) -> Workload {
    Workload::Spec(WorkloadSpec::parse(text, Path::new("test.toml")).unwrap())
}

const AGGS: &str = r#"aggregates = ["count", "count(fare)", "sum(fare)", "avg(fare)", "min(fare)", "max(fare)", "count_distinct(driver)", "sum(tip)", "avg(tip)", "min(tip)", "max(tip)", "min(zone)", "max(pickup)", "count_distinct(tip)", "min(shared)"]"#;

#[test]
fn specs_over_a_csv_with_nulls_equal_the_oracle_at_1_2_and_4_partitions() {
    let specs = [
        format!(
            "name = \"a\"\ntopic = \"trips\"\nwindow = {{ kind = \"tumbling\", size = \"1h\" }}\ngroup_by = [\"zone\"]\n{AGGS}\nfilter = \"fare > 0 or fare is null\"\n"
        ),
        format!(
            "name = \"b\"\ntopic = \"trips\"\nwindow = {{ kind = \"hopping\", size = \"3h\", slide = \"1h\" }}\ngroup_by = [\"zone\", \"shared\"]\n{AGGS}\nfilter = \"not (zone = 'JFK' and tip >= 5) and driver != 'd3'\"\n"
        ),
        format!(
            "name = \"c\"\ntopic = \"trips\"\nwindow = {{ kind = \"session\", gap = \"20m\" }}\ngroup_by = [\"driver\"]\n{AGGS}\n"
        ),
        format!(
            "name = \"d\"\ntopic = \"trips\"\nwindow = {{ kind = \"tumbling\", size = \"30m\" }}\ngroup_by = []\n{AGGS}\nfilter = \"shared = true or tip < 3.5 or pickup is not null\"\n"
        ),
        format!(
            "name = \"e\"\ntopic = \"trips\"\nwindow = {{ kind = \"session\", gap = \"7m\" }}\ngroup_by = []\n{AGGS}\nfilter = \"zone <> 'EWR'\"\n"
        ),
    ];
    for partitions in [1, 2, 4] {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("trips.csv");
        trips_csv(&csv, 3_000);
        let log = EmbeddedLog::open(dir.path().join("data")).unwrap();
        let side = dir.path().join("side");
        let opts = ImportOptions {
            null_values: vec!["NA".into()],
            partitions,
            ..ImportOptions::new(&csv, "trips", "ts")
        };
        datasets::import_csv(&log, &opts, Some(&side), &mut datasets::no_progress).unwrap();
        for text in &specs {
            let w = spec(text);
            check(
                &log,
                &w,
                "trips",
                &side,
                &format!("{} at {partitions} partitions", w.name()),
            );
        }
        // The data really has every type and nulls in keys and values.
        let w = spec(&specs[1]);
        let rows = w
            .finish(
                &batch_layer::recompute(&log, &w, "trips", &side)
                    .unwrap()
                    .table,
            )
            .unwrap()
            .rows;
        let all: Vec<&Scalar> = rows
            .iter()
            .flat_map(|r| r.key.iter().chain(&r.values))
            .collect();
        for probe in [
            |v: &Scalar| matches!(v, Scalar::Null),
            |v: &Scalar| matches!(v, Scalar::Bool(_)),
            |v: &Scalar| matches!(v, Scalar::Float(_)),
            |v: &Scalar| matches!(v, Scalar::Timestamp(_)),
            |v: &Scalar| matches!(v, Scalar::Str(_)),
        ] {
            assert!(all.iter().any(|v| probe(v)));
        }
        let view = batch_layer::recompute(&log, &spec(&specs[2]), "trips", &side).unwrap();
        assert_eq!(view.events, 3_000, "every CSV row is its own event");
    }
}

#[test]
fn bad_specs_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("trips.csv");
    trips_csv(&csv, 100);
    let log = EmbeddedLog::open(dir.path().join("data")).unwrap();
    let side = dir.path().join("side");
    let opts = ImportOptions {
        null_values: vec!["NA".into()],
        partitions: 2,
        ..ImportOptions::new(&csv, "trips", "ts")
    };
    datasets::import_csv(&log, &opts, Some(&side), &mut datasets::no_progress).unwrap();
    let base = "name = \"x\"\ntopic = \"trips\"\nwindow = { kind = \"tumbling\", size = \"1h\" }\n";
    let unknown = spec(&format!(
        "{base}group_by = [\"nope\"]\naggregates = [\"count\"]\n"
    ));
    let err = batch_layer::recompute(&log, &unknown, "trips", &side).unwrap_err();
    assert!(
        matches!(&err, batch_layer::BatchError::UnknownColumn { column, .. } if column == "nope"),
        "{err}"
    );
    let filter = spec(&format!(
        "{base}aggregates = [\"count\"]\nfilter = \"nope > 1\"\n"
    ));
    assert!(matches!(
        batch_layer::recompute(&log, &filter, "trips", &side),
        Err(batch_layer::BatchError::UnknownColumn { .. })
    ));
    let sum_text = spec(&format!("{base}aggregates = [\"sum(zone)\"]\n"));
    assert!(matches!(
        batch_layer::recompute(&log, &sum_text, "trips", &side),
        Err(batch_layer::BatchError::Type(_))
    ));
    assert!(matches!(
        batch_layer::recompute_at(&log, &sum_text, "trips", &side, &[0]),
        Err(batch_layer::BatchError::Horizon { .. })
    ));
}

#[test]
fn the_horizon_excludes_records_appended_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path().join("data")).unwrap();
    let side = dir.path().join("side");
    let w = Workload::BuiltIn(BuiltIn::PageviewsPerMinute);
    // "events" and "first" get the same first 8,000 events.
    for topic in ["events", "first"] {
        datasets::generate(
            &log,
            &gen_opts(DatasetKind::Pageviews, topic, 8_000, 3),
            Some(&side),
            &mut datasets::no_progress,
        )
        .unwrap();
    }
    let horizon = log.end_offsets("events").unwrap();
    let more = GenerateOptions {
        append: true,
        seed: 99,
        start_ms: gen_opts(DatasetKind::Pageviews, "x", 1, 1).start_ms + 8_000 * 50,
        ..gen_opts(DatasetKind::Pageviews, "events", 4_000, 3)
    };
    datasets::generate(&log, &more, Some(&side), &mut datasets::no_progress).unwrap();
    assert!(log.end_offsets("events").unwrap() > horizon);

    let view = batch_layer::recompute_at(&log, &w, "events", &side, &horizon).unwrap();
    assert_eq!(view.horizon, horizon);
    assert_eq!(view.records_read, horizon.iter().sum::<u64>());
    let expected = oracle::answer(&log, &w, "first", &side).unwrap();
    let c = compare(&expected, &w.finish(&view.table).unwrap());
    assert!(c.is_exact(), "{c:?}");
    // Without the old horizon the appended records are in.
    let all = batch_layer::recompute(&log, &w, "events", &side).unwrap();
    assert!(all.records_read > view.records_read);
    let c = compare(&expected, &w.finish(&all.table).unwrap());
    assert!(!c.is_exact());
}

#[test]
fn a_topic_no_record_has_reached_gives_the_empty_view() {
    // Created, never written: no records and no dataset sidecar to decode them with.
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path().join("data")).unwrap();
    log.create_topic("pageviews", master_log::TopicConfig::with_partitions(2))
        .unwrap();
    let w = Workload::BuiltIn(BuiltIn::PageviewsPerMinute);
    let side = dir.path().join("side");
    let view = batch_layer::recompute(&log, &w, "pageviews", &side).unwrap();
    assert_eq!(view.horizon, vec![0, 0]);
    assert_eq!((view.records_read, view.events), (0, 0));
    assert!(view.table.is_empty());
    let parts =
        batch_layer::recompute_partitions_at(&log, &w, "pageviews", &side, &[0, 0], &[1]).unwrap();
    assert!(parts[0].table.is_empty());
}

/// A log in `dir` with 5,000 generated YSB events in topic `ysb` (2 partitions), and its
/// sidecar directory.
fn ysb_log(dir: &std::path::Path) -> (EmbeddedLog, std::path::PathBuf) {
    let log = EmbeddedLog::open(dir.join("data")).unwrap();
    let side = dir.join("side");
    datasets::generate(
        &log,
        &gen_opts(DatasetKind::Ysb, "ysb", 5_000, 2),
        Some(&side),
        &mut datasets::no_progress,
    )
    .unwrap();
    (log, side)
}

/// A view of an ad the campaign table does not have is an error naming how many views
/// that is (each event once), not a view silently left out.
#[test]
fn ysb_views_of_an_ad_without_a_campaign_are_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (log, side) = ysb_log(dir.path());
    let w = Workload::BuiltIn(BuiltIn::YsbCampaign10s);
    batch_layer::recompute(&log, &w, "ysb", &side).unwrap();

    // Take the first ad out of the table.
    let csv = side.join("ysb.campaigns.csv");
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let removed = lines.remove(1).split(',').next().unwrap().to_owned();
    std::fs::write(&csv, lines.join("\n") + "\n").unwrap();

    // The distinct view events of that ad, counted from the log.
    let opts = datasets::ExportOptions {
        topic: "ysb".into(),
        ..Default::default()
    };
    let mut rows = datasets::TopicRows::new(&log, &opts, Some(&side)).unwrap();
    let names: Vec<String> = rows.columns().iter().map(|c| c.name.clone()).collect();
    let at = |n: &str| names.iter().position(|c| c == n).unwrap();
    let (id, ad, kind) = (at("event_id"), at("ad_id"), at("event_type"));
    let mut seen = std::collections::HashSet::new();
    let mut row = Vec::new();
    while rows.next_row(&mut row).unwrap() {
        let text = |i: usize| match &row[i] {
            datasets::Value::String(s) => s.to_string(),
            v => format!("{v:?}"),
        };
        if text(ad) == removed && text(kind) == "view" {
            seen.insert(text(id));
        }
    }
    assert!(!seen.is_empty());
    match batch_layer::recompute(&log, &w, "ysb", &side) {
        Err(e) => assert!(
            e.to_string().contains(&format!(
                "{} view events name an ad without a campaign",
                seen.len()
            )),
            "{e}"
        ),
        Ok(_) => panic!("a view of an unknown ad was accepted"),
    }
}

/// Generated YSB events are read by a decoder of their own: in either codec (postcard,
/// and JSON, which it leaves to the datasets decoder), with every column read and a
/// filter on either enum column, below a horizon inside the partitions, the answers
/// equal the oracle's; a value that is not an event is an error, not a row.
#[test]
fn ysb_in_either_codec_and_every_column_equals_the_oracle() {
    let every_column = spec(
        "name = \"ysb-all\"\ntopic = \"ysb\"\nwindow = { kind = \"tumbling\", size = \"1m\" }\n\
         group_by = [\"ad_type\", \"event_type\"]\n\
         aggregates = [\"count\", \"count_distinct(user_id)\", \"count_distinct(ip_address)\", \
         \"min(page_id)\", \"max(ad_id)\", \"max(event_id)\"]\nfilter = \"event_type <> 'purchase'\"\n",
    );
    // A filter on ad_type the decoder applies (the column is named nowhere else).
    let banners = Workload::Sql(Box::new(
        workloads::SqlWorkload::parse(
            "SELECT window_start, window_end, event_type, COUNT(*) AS n, COUNT(DISTINCT user_id) AS users \
             FROM TUMBLE(ysb, DESCRIPTOR(event_time), INTERVAL '30' SECOND) \
             WHERE ad_type = 'banner' GROUP BY window_start, window_end, event_type",
            "banners",
        )
        .unwrap(),
    ));
    for codec in [datasets::Codec::Postcard, datasets::Codec::Json] {
        let dir = tempfile::tempdir().unwrap();
        let log = EmbeddedLog::open(dir.path().join("data")).unwrap();
        let side = dir.path().join("side");
        let summary = datasets::generate(
            &log,
            &GenerateOptions {
                codec,
                ..gen_opts(DatasetKind::Ysb, "ysb", 6_000, 2)
            },
            Some(&side),
            &mut datasets::no_progress,
        )
        .unwrap();
        for w in [
            &Workload::BuiltIn(BuiltIn::YsbCampaign10s),
            &every_column,
            &banners,
        ] {
            check(&log, w, "ysb", &side, &format!("{} in {codec:?}", w.name()));
            let view = batch_layer::recompute(&log, w, "ysb", &side).unwrap();
            assert_eq!(
                view.events,
                summary.events,
                "{}: duplicates removed",
                w.name()
            );
        }
        // A horizon inside both partitions: exactly the records below it are read.
        let horizon: Vec<u64> = log
            .end_offsets("ysb")
            .unwrap()
            .iter()
            .map(|e| e / 2)
            .collect();
        let w = Workload::BuiltIn(BuiltIn::YsbCampaign10s);
        let view = batch_layer::recompute_at(&log, &w, "ysb", &side, &horizon).unwrap();
        assert_eq!(view.records_read, horizon.iter().sum::<u64>());
        assert!(view.events < summary.events);

        // A record that is not a YSB event.
        log.append(
            "ysb",
            1,
            &[master_log::NewRecord::value(vec![0x02, 0x80], 0)],
        )
        .unwrap();
        for w in [&w, &every_column] {
            match batch_layer::recompute(&log, w, "ysb", &side) {
                Err(batch_layer::BatchError::Dataset(e)) => {
                    assert!(e.to_string().contains("ysb"), "{e}")
                }
                other => panic!("{codec:?}: a broken value gave {other:?}"),
            }
        }
    }
}

/// With so many campaigns that one integer per (window, campaign) could overflow for
/// some event time, the YSB plan groups on the two columns: still the oracle's answer.
#[test]
fn ysb_with_ten_thousand_campaigns_equals_the_oracle() {
    let dir = tempfile::tempdir().unwrap();
    let (log, side) = ysb_log(dir.path());
    // Every ad its own campaign, and 10,000 more ads (no events) in campaigns of theirs.
    let csv = side.join("ysb.campaigns.csv");
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut out = String::from("ad_id,campaign_id\n");
    let uuid = |i: u64| {
        let h = format!(
            "{:032x}",
            u128::from(i).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)
        );
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    };
    for (i, line) in text.lines().skip(1).enumerate() {
        let ad = line.split(',').next().unwrap();
        writeln!(out, "{ad},{}", uuid(i as u64 + 1)).unwrap();
    }
    for i in 0..10_000u64 {
        writeln!(out, "{},{}", uuid(1_000_000 + i), uuid(2_000_000 + i)).unwrap();
    }
    std::fs::write(&csv, out).unwrap();
    check(
        &log,
        &Workload::BuiltIn(BuiltIn::YsbCampaign10s),
        "ysb",
        &side,
        "ysb with 11,000 campaigns",
    );
}
