//! `lk query --pipeline both`: Lambda's and Kappa's answers side by side, no difference
//! marked when the pipelines agree, every differing cell marked when they do not (Kappa
//! with no allowed lateness over data with late events); and `lk workloads` lists every
//! workload with its definition.

mod common;

use common::{generate_pageviews, kappa_run_exact, lk, stdout_of};
use tempfile::TempDir;

const WORKLOAD: &str = "pageviews-per-minute";

fn both(dir: &TempDir, format: &str) -> String {
    stdout_of(lk(dir).args([
        "query",
        "--workload",
        WORKLOAD,
        "--pipeline",
        "both",
        "--format",
        format,
    ]))
}

/// The CSV's rows as (lambda_views, kappa_views, differs).
fn csv_rows(csv: &str) -> Vec<(String, String, bool)> {
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("window_start,window_end,page_id,lambda_views,kappa_views,differs")
    );
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), 6, "{l}");
            (f[3].to_owned(), f[4].to_owned(), f[5].parse().unwrap())
        })
        .collect()
}

#[test]
fn both_pipelines_side_by_side_with_differences_marked() {
    let dir = TempDir::new().unwrap();
    generate_pageviews(&dir, "5", 4000).assert().success();
    stdout_of(lk(&dir).args(["lambda", "run", "--workload", WORKLOAD, "--until-caught-up"]));
    // Lateness covering the late events: both pipelines hold the exact answer.
    kappa_run_exact(&dir, WORKLOAD, &[]);
    let agree = csv_rows(&both(&dir, "csv"));
    assert!(agree.len() > 50);
    assert!(agree.iter().all(|(l, k, d)| l == k && !d), "{agree:?}");
    let json: serde_json::Value = serde_json::from_str(&both(&dir, "json")).unwrap();
    assert_eq!(json["differing_rows"], 0);
    assert_eq!(json["rows"].as_array().unwrap().len(), agree.len());
    assert!(json["freshness"]["lambda"]["batch_horizon"].is_array());
    let table = both(&dir, "text");
    assert!(!table.contains("DIFFERS"), "{table}");
    assert!(table.contains(", 0 differ\n"), "{table}");

    // Kappa again with no allowed lateness: the windows its late events belonged to
    // differ, and exactly those are marked.
    stdout_of(lk(&dir).args([
        "kappa",
        "reprocess",
        "--workload",
        WORKLOAD,
        "--allowed-lateness",
        "0s",
    ]));
    let differ = csv_rows(&both(&dir, "csv"));
    let marked: Vec<_> = differ.iter().filter(|(_, _, d)| *d).collect();
    assert!(!marked.is_empty(), "late events must make cells differ");
    for (l, k, d) in &differ {
        assert_eq!(*d, l != k, "lambda {l}, kappa {k}, differs {d}");
    }
    let json: serde_json::Value = serde_json::from_str(&both(&dir, "json")).unwrap();
    assert_eq!(json["differing_rows"], marked.len());
    let first = json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["differs"] == true)
        .unwrap();
    assert_ne!(first["lambda"]["views"], first["kappa"]["views"]);
    let table = both(&dir, "text");
    assert_eq!(table.matches("DIFFERS").count(), marked.len(), "{table}");
}

/// A point query (`--key`) answers each key's rows of the whole answer, also for a
/// workload that ranks keys against each other (Kappa reads only the asked key's cells
/// where that gives the same rows).
#[test]
fn a_point_query_gives_that_keys_rows_of_the_whole_answer() {
    let dir = TempDir::new().unwrap();
    generate_pageviews(&dir, "7", 3000).assert().success();
    for workload in [WORKLOAD, "top-pages-hourly"] {
        kappa_run_exact(&dir, workload, &[]);
        let query = |key: Option<&str>| {
            let mut c = lk(&dir);
            c.args(["query", "--workload", workload, "--pipeline", "kappa"]);
            c.args(["--format", "csv"]);
            if let Some(k) = key {
                c.args(["--key", k]);
            }
            stdout_of(&mut c)
        };
        let whole = query(None);
        let rows: Vec<Vec<&str>> = whole
            .lines()
            .skip(1)
            .map(|l| l.split(',').collect())
            .collect();
        // Keys ranked below the first (top pages) or any key (views per minute).
        let keys: std::collections::BTreeSet<&str> = rows
            .iter()
            .filter(|r| r.len() < 5 || r[4] != "1")
            .map(|r| r[2])
            .take(5)
            .collect();
        assert!(!keys.is_empty(), "{whole}");
        for key in keys {
            let mut want = vec![whole.lines().next().unwrap().to_owned()];
            want.extend(
                whole
                    .lines()
                    .skip(1)
                    .filter(|l| l.split(',').nth(2) == Some(key))
                    .map(str::to_owned),
            );
            assert_eq!(
                query(Some(key)).lines().collect::<Vec<_>>(),
                want,
                "{workload} key {key}"
            );
        }
    }
}

#[test]
fn both_needs_both_pipelines_views() {
    let dir = TempDir::new().unwrap();
    generate_pageviews(&dir, "5", 1000).assert().success();
    stdout_of(lk(&dir).args(["lambda", "run", "--workload", WORKLOAD, "--until-caught-up"]));
    let out = lk(&dir)
        .args(["query", "--workload", WORKLOAD, "--pipeline", "both"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no Kappa table yet"));
}

#[test]
fn workloads_lists_every_builtin_and_registered_spec() {
    let dir = TempDir::new().unwrap();
    let registry = dir.path().join("workloads");
    std::fs::create_dir_all(&registry).unwrap();
    std::fs::write(
        registry.join("fares.toml"),
        "name = \"fares\"\ntopic = \"trips\"\nwindow = { kind = \"hopping\", size = \"1h\", slide = \"15m\" }\n\
         group_by = [\"zone\"]\naggregates = [\"count\", \"avg(fare)\"]\nfilter = \"fare > 0\"\n",
    )
    .unwrap();
    let table = stdout_of(lk(&dir).arg("workloads"));
    let builtins = [
        ("pageviews-per-minute", "pageviews", "tumbling 1m"),
        ("profile-viewers-hourly", "pageviews", "tumbling 1h"),
        ("top-pages-hourly", "pageviews", "tumbling 1h"),
        ("ysb-campaign-10s", "ysb", "tumbling 10s"),
        ("nexmark-q5", "nexmark", "hopping 10s every 2s"),
        ("nexmark-q7", "nexmark", "tumbling 10s"),
    ];
    for (name, topic, window) in builtins {
        let line = table
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} in\n{table}"));
        assert!(line.contains(topic) && line.contains(window), "{line}");
    }
    let fares = table.lines().find(|l| l.starts_with("fares ")).unwrap();
    for part in [
        "spec",
        "trips",
        "hopping 1h every 15m",
        "zone",
        "avg(fare)",
        "fare > 0",
    ] {
        assert!(fares.contains(part), "{part} in {fares}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&stdout_of(lk(&dir).args(["workloads", "--format", "json"]))).unwrap();
    let list = json.as_array().unwrap();
    assert_eq!(list.len(), builtins.len() + 1);
    for (name, topic, window) in builtins {
        let w = list.iter().find(|w| w["name"] == name).unwrap();
        assert_eq!(w["kind"], "built-in");
        assert_eq!(w["topic"], topic);
        assert_eq!(w["window"], window);
        assert!(!w["aggregates"].as_array().unwrap().is_empty());
    }
    let fares = list.iter().find(|w| w["name"] == "fares").unwrap();
    assert_eq!(fares["key_columns"][0], "zone");
    assert_eq!(fares["aggregates"][1], "avg(fare)");
    assert_eq!(fares["window_spec"]["slide_ms"], 900_000);
}
