//! Tests of the whole page: every section rendered from one report with awkward text.

use super::markup::esc;
use super::*;
use crate::report::{
    BatchRun, CdfPoint, Complexity, Correctness, Disorder, Latency, LatenessSource, Level, Machine,
    Params, PipelineReport, Pipelines, Provenance, RunInfo, SCHEMA_VERSION, Sample,
    WorkloadFigures, WorkloadReport,
};

const NASTY_TOPIC: &str = "clicks</script><script>alert(1)</script> & \"co\"";

fn correctness(exact_fraction: f64, cells: u64, late: u64) -> Correctness {
    let exact = (exact_fraction * cells as f64).round() as u64;
    Correctness {
        cells,
        exact_cells: exact,
        exact_fraction,
        missing_cells: 3,
        extra_cells: 1,
        max_abs_error: 17.0,
        mean_abs_error: 0.0425,
        max_rel_error: 0.125,
        late_dropped: late,
        duplicates_removed: if late > 0 { Some(211) } else { None },
        ..Correctness::default()
    }
}

/// One level's latency, `scale` times the base figures.
fn level(scale: f64, what: &str) -> Level {
    Level {
        what: what.into(),
        latency_ms: Some(Latency {
            p50: 12.75 * scale,
            p95: 48.5 * scale,
            p99: 97.125 * scale,
            max: 1503.0 * scale,
            samples: 4321,
        }),
        latency_cdf: vec![
            CdfPoint {
                latency_ms: 3.25 * scale,
                fraction: 0.1,
            },
            CdfPoint {
                latency_ms: 12.75 * scale,
                fraction: 0.5,
            },
            CdfPoint {
                latency_ms: 48.5 * scale,
                fraction: 0.95,
            },
            CdfPoint {
                latency_ms: 1503.0 * scale,
                fraction: 1.0,
            },
        ],
        catch_up_seconds: Some(0.375 * scale),
    }
}

/// Three reprocessing runs whose median total is `2.5 * scale`.
fn reprocess(scale: f64) -> crate::report::Reprocess {
    let stat = |values: Vec<f64>| crate::summary::stat(values).unwrap();
    let total = stat(vec![2.5 * scale, 2.75 * scale, 2.375 * scale]);
    crate::report::Reprocess {
        runs: 3,
        durability: "synced".into(),
        setup: stat(vec![0.25 * scale, 0.25 * scale, 0.125 * scale]),
        process: stat(vec![2.0 * scale, 2.25 * scale, 2.0 * scale]),
        publish: stat(vec![0.25 * scale, 0.25 * scale, 0.25 * scale]),
        total,
        records: 100_000,
        bytes: Some(8_000_000),
        process_eps: Some(48_000.0 / scale),
        process_mb_s: Some(4.5 / scale),
        total_eps: Some(40_000.0 / scale),
        total_mb_s: Some(3.75 / scale),
    }
}

fn pipeline(scale: f64, exact: f64, late: u64, loc: u64) -> PipelineReport {
    PipelineReport {
        fresh: level(scale, "in <memory>"),
        stable: level(scale * 20.0, "on disk"),
        throughput_eps: Some(9876.5 / scale),
        cpu_seconds: 3.0625 * scale,
        peak_heap_bytes: Some((52_428_800.0 * scale) as u64),
        stable_updates: 7,
        peak_state_cells: (late > 0).then_some(1234),
        correctness: correctness(exact, 8000, late),
        reprocess_seconds: Some(2.5 * scale),
        reprocess_eps: Some(40_000.0 / scale),
        reprocess: Some(reprocess(scale)),
        complexity: Complexity {
            loc,
            functions: loc / 20,
            cyclomatic: loc / 9,
            items: vec![
                crate::report::CodeItem {
                    name: format!("speed_layer::item_{loc}"),
                    ..Default::default()
                },
                crate::report::CodeItem {
                    name: "batch_layer::run".into(),
                    ..Default::default()
                },
            ],
            ..Complexity::default()
        },
        timeline: (0..6)
            .map(|i| Sample {
                t_s: 0.5 * f64::from(i),
                staleness_ms: 100.0 * scale + 7.5 * f64::from(i),
                stable_staleness_ms: 900.0 * scale + 7.5 * f64::from(i),
                visible_records: 1000 * u64::from(i as u32),
                batch_view_age_ms: None,
                correctness: (i % 2 == 1)
                    .then(|| correctness(exact - 0.01 * f64::from(i), 500, late)),
                latency_p99_ms: Some(90.0 * scale),
                stable_latency_p99_ms: Some(1800.0 * scale),
            })
            .collect(),
    }
}

/// A report with every kind of figure, awkward text and figures of different sizes.
pub(crate) fn fixture() -> Report {
    let pipelines = Pipelines {
        lambda: pipeline(1.0, 1.0, 0, 1234),
        kappa: pipeline(3.0, 0.96875, 77, 567),
    };
    Report {
        schema_version: SCHEMA_VERSION,
        provenance: Provenance {
            version: "0.1.0".into(),
            commit: Some("0123abc".into()),
            command: Some("lk compare --topic 'a<b>'".into()),
            reproduce: "lk compare --dataset pageviews --repeat 1".into(),
        },
        params: Params {
            dataset: Some("pageviews".into()),
            topic: NASTY_TOPIC.into(),
            fed: true,
            workloads: vec!["pageviews_per_minute".into(), "top<k> & co".into()],
            events: 123_457,
            rate_eps: 20_000,
            event_rate_eps: 20_000,
            partitions: 6,
            seed: 4242,
            out_of_order: 0.05,
            max_delay_ms: 2000,
            late: 0.01,
            late_delay_ms: 60_000,
            duplicates: 0.02,
            batch_every_ms: 3000,
            allowed_lateness_ms: 5000,
            allowed_lateness_from: LatenessSource::Option,
            watermark_bound_ms: 2000,
            checkpoint_interval_ms: 250,
            kappa_workers: 3,
            repeat: 1,
        },
        machine: Machine {
            os: "linux".into(),
            arch: "x86_64".into(),
            cpus: 2,
            memory_bytes: None,
            cpu_model: Some("Test CPU @ 2.10GHz".into()),
            lk_version: "0.1.0".into(),
        },
        run: RunInfo {
            started: "2026-01-02T03:04:05Z".into(),
            wall_seconds: 17.25,
            feed_seconds: 6.5,
            records_fed: 125_926,
            records_total: 125_926,
            arrivals: crate::report::Arrivals {
                in_order: 110_000,
                out_of_order: 11_000,
                late: 2_457,
                duplicates: 2_469,
            },
            feed_behind_ms: 3.5,
            interrupted: false,
            peak_rss_bytes: Some(314_572_800),
            harness_cpu_seconds: 1.125,
        },
        disorder: Some(Disorder {
            records: 125_926,
            max_ms: 119_500,
            p99_ms: 1_250.0,
            behind_watermark: 2_500,
            beyond_allowed_lateness: 2_457,
        }),
        pipelines: pipelines.clone(),
        summary: crate::summary::summary_of(&[(&pipelines.lambda, &pipelines.kappa)]),
        alone: None,
        sweep: None,
        max_rate: None,
        workloads: vec![
            WorkloadReport {
                name: "pageviews_per_minute".into(),
                oracle_cells: 5000,
                lambda: WorkloadFigures {
                    correctness: correctness(1.0, 5000, 0),
                    reprocess_seconds: Some(1.5),
                    reprocess: None,
                    complexity: Complexity::default(),
                },
                kappa: WorkloadFigures {
                    correctness: correctness(0.9375, 5000, 50),
                    reprocess_seconds: Some(4.25),
                    reprocess: None,
                    complexity: Complexity::default(),
                },
            },
            WorkloadReport {
                name: "top<k> & co".into(),
                oracle_cells: 3000,
                lambda: WorkloadFigures {
                    correctness: correctness(1.0, 3000, 0),
                    reprocess_seconds: Some(1.0),
                    reprocess: None,
                    complexity: Complexity::default(),
                },
                kappa: WorkloadFigures {
                    correctness: correctness(0.99, 3000, 27),
                    reprocess_seconds: None,
                    reprocess: None,
                    complexity: Complexity::default(),
                },
            },
        ],
        batch_runs: vec![
            BatchRun {
                workload: "pageviews_per_minute".into(),
                started_s: 0.75,
                finished_s: 1.375,
                horizon_records: 15_000,
            },
            BatchRun {
                workload: "pageviews_per_minute".into(),
                started_s: 3.75,
                finished_s: 4.625,
                horizon_records: 75_000,
            },
        ],
        warnings: vec!["One run <only>: no noise estimate.".into()],
        verdict: vec![
            "Kappa showed records 3× later than Lambda at p99.".into(),
            "Lambda's answers were exact; Kappa dropped 77 late events <beyond> lateness.".into(),
        ],
    }
}

/// The report's summary made again from its pipelines (after a test changed them).
pub(crate) fn resummarize(r: &mut Report) {
    r.summary = crate::summary::summary_of(&[(&r.pipelines.lambda, &r.pipelines.kappa)]);
}

/// The text between `start` (inclusive) and the next `end` after it (exclusive).
fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let i = html
        .find(start)
        .unwrap_or_else(|| panic!("{start} not found"));
    let rest = &html[i..];
    &rest[..rest.find(end).unwrap_or_else(|| panic!("{end} not found"))]
}

fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let pat = format!(" {name}=\"");
    let i = tag.find(&pat)? + pat.len();
    Some(&tag[i..i + tag[i..].find('"')?])
}

/// The opening tags in `block` that carry `data-series="series"` and `attr_name`.
fn series_tags<'a>(block: &'a str, element: &str, series: &str) -> Vec<&'a str> {
    let open = format!("<{element} ");
    block
        .match_indices(&open)
        .map(|(i, _)| &block[i..i + block[i..].find('>').unwrap()])
        .filter(|t| attr(t, "data-series") == Some(series))
        .collect()
}

fn points(tag: &str) -> Vec<(f64, f64)> {
    attr(tag, "data-points")
        .unwrap()
        .split(' ')
        .map(|p| {
            let (x, y) = p.split_once(',').unwrap();
            (x.parse().unwrap(), y.parse().unwrap())
        })
        .collect()
}

#[test]
fn renders_a_whole_document_deterministically() {
    let report = fixture();
    let html = render(&report);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.trim_end().ends_with("</html>"));
    assert_eq!(html, render(&report), "same report, same bytes");
    // Nothing is fetched: no external URL in any src or href.
    for needle in ["src=", "href=\"http", "@import", "url("] {
        assert!(!html.contains(needle), "{needle} in a self-contained page");
    }
    for sentence in &report.verdict {
        assert!(html.contains(&esc(sentence)), "verdict {sentence}");
    }
    let verdict = between(&html, "<section id=\"verdict\"", "</section>");
    assert_eq!(verdict.matches("<li>").count(), 2);
}

#[test]
fn every_chart_is_present_with_its_data() {
    let report = fixture();
    let html = render(&report);
    for id in CHART_IDS {
        let block = between(&html, &format!("<svg id=\"{id}\""), "</svg>");
        assert!(!block.contains("data-empty"), "{id} has data");
    }
    let (l, k) = (&report.pipelines.lambda, &report.pipelines.kappa);

    let cdf = between(&html, "<svg id=\"chart-latency-cdf-fresh\"", "</svg>");
    for (name, p) in [("lambda", l), ("kappa", k)] {
        let tags = series_tags(cdf, "path", name);
        assert_eq!(tags.len(), 1, "{name}");
        let want: Vec<(f64, f64)> = p
            .fresh
            .latency_cdf
            .iter()
            .map(|c| (c.latency_ms, c.fraction))
            .collect();
        assert_eq!(points(tags[0]), want);
        // One drawn vertex per point.
        let d = attr(tags[0], "d").unwrap();
        assert_eq!(d.matches(['M', 'L']).count(), want.len());
    }

    let staleness = between(&html, "<svg id=\"chart-staleness\"", "</svg>");
    let tags = series_tags(staleness, "path", "kappa");
    assert_eq!(
        points(tags[0]),
        k.timeline
            .iter()
            .map(|s| (s.t_s, s.staleness_ms))
            .collect::<Vec<_>>()
    );
    let runs: Vec<(f64, f64)> = staleness
        .match_indices("<rect class=\"batch-run\"")
        .map(|(i, _)| {
            let t = &staleness[i..];
            (
                attr(t, "data-started-s").unwrap().parse().unwrap(),
                attr(t, "data-finished-s").unwrap().parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(runs, vec![(0.75, 1.375), (3.75, 4.625)]);

    let correctness = between(&html, "<svg id=\"chart-correctness\"", "</svg>");
    let tags = series_tags(correctness, "path", "kappa");
    // Samples 1, 3 and 5 were evaluated; the others are null and left out.
    let evaluated: Vec<(f64, f64)> = k
        .timeline
        .iter()
        .filter_map(|s| s.correctness.as_ref().map(|c| (s.t_s, c.exact_fraction)))
        .collect();
    assert_eq!(evaluated.len(), 3);
    assert_eq!(points(tags[0]), evaluated);

    let bar = |chart: &str, series: &str, group: &str| -> f64 {
        let block = between(&html, &format!("<svg id=\"{chart}\""), "</svg>");
        let tags: Vec<&str> = series_tags(block, "rect", series)
            .into_iter()
            .filter(|t| attr(t, "data-group") == Some(group))
            .collect();
        assert_eq!(tags.len(), 1, "{chart} {series} {group}");
        attr(tags[0], "data-value").unwrap().parse().unwrap()
    };
    assert_eq!(bar("chart-throughput", "lambda", "throughput_eps"), 9876.5);
    assert_eq!(
        bar("chart-throughput", "kappa", "throughput_eps"),
        9876.5 / 3.0
    );
    assert_eq!(bar("chart-reprocess", "kappa", "all"), 7.5);
    assert_eq!(
        bar("chart-reprocess", "kappa", "pageviews_per_minute"),
        4.25
    );
    assert_eq!(
        bar("chart-reprocess", "lambda", "top&lt;k&gt; &amp; co"),
        1.0
    );
    assert_eq!(bar("chart-complexity", "lambda", "loc"), 1234.0);
    assert_eq!(bar("chart-complexity", "kappa", "functions"), 28.0);
    assert_eq!(bar("chart-complexity", "kappa", "cyclomatic"), 63.0);
    // Kappa did not reprocess `top<k> & co`: no bar, a note instead.
    let reprocess = between(&html, "<svg id=\"chart-reprocess\"", "</svg>");
    assert!(reprocess.contains(
        "<text class=\"not-measured\" data-series=\"kappa\" data-group=\"top&lt;k&gt; &amp; co\""
    ));
}

#[test]
fn headline_and_workload_tables_show_the_figures() {
    let report = fixture();
    let html = render(&report);
    let headline = between(&html, "<table id=\"headline\"", "</table>");
    let cell = |table: &str, metric: &str, pipeline: &str| -> String {
        let row = between(table, &format!("<tr data-metric=\"{metric}\""), "</tr>");
        let td = between(row, &format!("<td data-pipeline=\"{pipeline}\""), "</td>");
        td.to_string()
    };
    assert!(cell(headline, "latency_fresh_p50_ms", "lambda").contains(">12.8 ms"));
    assert!(cell(headline, "latency_fresh_p99_ms", "kappa").contains("data-value=\"291.375\""));
    assert!(cell(headline, "latency_fresh_p99_ms", "lambda").contains("class=\"better\""));
    assert!(cell(headline, "latency_stable_p99_ms", "kappa").contains("data-value=\"5827.5\""));
    assert!(
        cell(headline, "throughput_eps", "lambda").contains(">9,876 records/s"),
        "ties round to even"
    );
    assert!(cell(headline, "exact_fraction", "kappa").contains(">96.87 %"));
    assert!(cell(headline, "exact_fraction", "lambda").contains(">100.00 %"));
    assert!(cell(headline, "late_dropped", "kappa").contains(">77"));
    assert!(cell(headline, "peak_heap_bytes", "kappa").contains(">150 MiB"));
    assert!(cell(headline, "reprocess_eps", "kappa").contains("data-value=\"13333.333333333334\""));
    assert!(cell(headline, "complexity_cyclomatic", "lambda").ends_with(">137"));

    let table = between(
        &html,
        "<table class=\"workload\" data-workload=\"top&lt;k&gt; &amp; co\"",
        "</table>",
    );
    assert!(table.contains("data-oracle-cells=\"3000\""));
    assert!(cell(table, "exact_fraction", "kappa").contains(">99.00 %"));
    assert!(cell(table, "late_dropped", "kappa").contains(">27"));
    assert!(cell(table, "reprocess_seconds", "kappa").contains(NOT_MEASURED));
    assert!(html.contains("<dd>4242</dd>"), "the seed is shown");
    assert!(html.contains("<dd>Test CPU @ 2.10GHz</dd>"));
}

#[test]
fn embedded_json_parses_back_to_the_same_report() {
    let report = fixture();
    let html = render(&report);
    let open = "<script type=\"application/json\" id=\"lk-report\">";
    let json = &between(&html, open, "</script>")[open.len()..];
    assert!(!json.contains('<'), "no markup inside the data");
    let back: Report = serde_json::from_str(json).unwrap();
    assert_eq!(back, report);
}

#[test]
fn user_text_is_escaped() {
    let html = render(&fixture());
    // Only the page's own three scripts open; the topic's tags are text.
    assert_eq!(html.matches("<script").count(), 3);
    assert_eq!(html.matches("</script>").count(), 3);
    assert!(!html.contains("alert(1)</script>"));
    assert!(html.contains(
        "clicks&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;co&quot;"
    ));
    assert!(html.contains("<h3>top&lt;k&gt; &amp; co</h3>"));
    assert!(html.contains("late events &lt;beyond&gt; lateness."));
    assert!(!html.contains("top<k>"));
}

#[test]
fn null_figures_read_not_measured() {
    let mut report = fixture();
    let kappa = &mut report.pipelines.kappa;
    kappa.fresh.latency_ms = None;
    kappa.fresh.latency_cdf.clear();
    kappa.throughput_eps = None;
    kappa.fresh.catch_up_seconds = None;
    kappa.peak_heap_bytes = None;
    kappa.reprocess_seconds = None;
    kappa.reprocess_eps = None;
    resummarize(&mut report);
    let html = render(&report);
    let headline = between(&html, "<table id=\"headline\"", "</table>");
    for metric in [
        "latency_fresh_p50_ms",
        "latency_fresh_p95_ms",
        "latency_fresh_p99_ms",
        "latency_fresh_max_ms",
        "throughput_eps",
        "catch_up_fresh_seconds",
        "peak_heap_bytes",
        "reprocess_seconds",
        "reprocess_eps",
    ] {
        let row = between(headline, &format!("<tr data-metric=\"{metric}\""), "</tr>");
        assert!(
            row.contains("<td data-pipeline=\"kappa\" class=\"not-measured\">not measured</td>"),
            "{metric}: {row}"
        );
        assert!(
            !row.contains("class=\"better\""),
            "{metric}: nothing to compare"
        );
        assert!(
            row.contains("<td data-pipeline=\"lambda\" data-value="),
            "{metric}"
        );
    }
    assert!(html.contains("<dd>not measured</dd>"), "machine memory");
    let cdf = between(&html, "<svg id=\"chart-latency-cdf-fresh\"", "</svg>");
    assert!(series_tags(cdf, "path", "kappa").is_empty());
    assert_eq!(series_tags(cdf, "path", "lambda").len(), 1);
    assert!(cdf.contains("Kappa: not measured"));
    let throughput = between(&html, "<svg id=\"chart-throughput\"", "</svg>");
    assert!(throughput.contains("Kappa: not measured"));
}

#[test]
fn charts_without_any_data_say_so() {
    let mut report = fixture();
    for p in [&mut report.pipelines.lambda, &mut report.pipelines.kappa] {
        p.fresh.latency_cdf.clear();
        p.stable.latency_cdf.clear();
        p.timeline.clear();
    }
    report.batch_runs.clear();
    let html = render(&report);
    for id in [
        "chart-latency-cdf-fresh",
        "chart-latency-cdf-stable",
        "chart-staleness",
        "chart-staleness-stable",
        "chart-correctness",
    ] {
        let block = between(&html, &format!("<svg id=\"{id}\""), "</svg>");
        assert!(block.contains("data-empty=\"true\""), "{id}");
        assert!(block.contains("<text class=\"empty\""), "{id}");
        assert!(!block.contains("data-series"), "{id}");
    }
}

#[test]
fn the_reprocess_phases_chart_shows_each_phase_median() {
    let report = fixture();
    let html = render(&report);
    let block = between(&html, "<svg id=\"chart-reprocess-phases\"", "</svg>");
    let (l, k) = (&report.pipelines.lambda, &report.pipelines.kappa);
    for (series, p) in [("lambda", l), ("kappa", k)] {
        let r = p.reprocess.as_ref().unwrap();
        for (group, want) in [
            ("setup", r.setup.median),
            ("process", r.process.median),
            ("publish", r.publish.median),
            ("total", r.total.median),
        ] {
            let tags: Vec<&str> = series_tags(block, "rect", series)
                .into_iter()
                .filter(|t| attr(t, "data-group") == Some(group))
                .collect();
            assert_eq!(tags.len(), 1, "{series} {group}");
            let value: f64 = attr(tags[0], "data-value").unwrap().parse().unwrap();
            assert_eq!(value, want, "{series} {group}");
        }
    }
    // Kappa not reprocessed: no bar of its own.
    let mut report = fixture();
    report.pipelines.kappa.reprocess = None;
    let html = render(&report);
    let block = between(&html, "<svg id=\"chart-reprocess-phases\"", "</svg>");
    assert!(series_tags(block, "rect", "kappa").is_empty(), "{block}");
    assert_eq!(series_tags(block, "rect", "lambda").len(), 4);
}

#[test]
fn the_workload_tables_show_each_reprocess_phase_with_its_range() {
    let mut report = fixture();
    report.workloads[0].lambda.reprocess = Some(reprocess(1.0));
    report.workloads[0].kappa.reprocess = Some(reprocess(3.0));
    let html = render(&report);
    let table = between(
        &html,
        "<table class=\"workload\" data-workload=\"pageviews_per_minute\"",
        "</table>",
    );
    let cell = |metric: &str, pipeline: &str| -> String {
        let row = between(table, &format!("<tr data-metric=\"{metric}\""), "</tr>");
        between(row, &format!("<td data-pipeline=\"{pipeline}\""), "</td>").to_string()
    };
    let process = cell("reprocess_process_seconds", "lambda");
    assert!(process.contains(">2.00 s (2.00–2.25)"), "{process}");
    assert!(process.contains("class=\"better\""), "{process}");
    let setup = cell("reprocess_setup_seconds", "kappa");
    assert!(setup.contains(">0.750 s (0.375–0.750)"), "{setup}");
    let publish = cell("reprocess_publish_seconds", "kappa");
    assert!(publish.contains(">0.750 s"), "{publish}");
    // Not reprocessed: not measured.
    let other = between(
        &html,
        "<table class=\"workload\" data-workload=\"top&lt;k&gt; &amp; co\"",
        "</table>",
    );
    let row = between(
        other,
        "<tr data-metric=\"reprocess_setup_seconds\"",
        "</tr>",
    );
    assert!(row.contains(NOT_MEASURED), "{row}");
}
