//! The HTML report of one `lk compare` run: one self-contained file (inline CSS, charts as
//! inline SVG, no fonts, scripts or styles fetched from anywhere) that shows a [`Report`].
//!
//! ## What the page holds, top to bottom
//! - the run's parameters, its machine and the run's own figures;
//! - the verdict sentences;
//! - the headline figures of both pipelines side by side (`<table id="headline">`, one
//!   `<tr data-metric="…">` per figure, `<td data-pipeline="lambda|kappa" data-value="…">`);
//!   a figure that was not measured (`null` in the report) says "not measured";
//! - the charts, each an `<svg id="chart-…">` (ids in [`CHART_IDS`]) whose drawn series
//!   carry their data: a line is `<path data-series="lambda|kappa" data-points="x,y x,y …">`
//!   with one vertex per point, a bar is `<rect data-series=… data-group=… data-value=…>`,
//!   and a Lambda batch run is `<rect class="batch-run" data-started-s=… data-finished-s=…>`;
//!   numbers in `data-` attributes are written so that they parse back to the same `f64`;
//! - one table per workload (`<table class="workload" data-workload="…">`);
//! - the whole report as JSON in `<script type="application/json" id="lk-report">`, with
//!   every `<`, `>` and `&` written as a JSON `\u` escape so the data cannot end the script.
//!
//! The page is complete without JavaScript. A small inline script reads the embedded JSON,
//! offers it as a download, and marks `<body data-rendered="ok">` when that worked; any
//! script error is recorded as `<html data-script-error="…">`. Output is deterministic: the
//! same report renders to the same bytes.
//!
//! ## Why the SVG is written here
//! The `plotters` crate's SVG backend can lay out axes and labels without system fonts (it
//! estimates text sizes and writes `<text>` elements), but every element it writes is
//! anonymous, with a fixed set of attributes and integer pixel coordinates, so a series cannot
//! carry its name and data for readers and tests of the page. A custom plotters backend to
//! add them would be larger than the few functions below (scales, axes, polylines, bars,
//! legend), so the charts are written directly.

use std::fmt::Write as _;

use crate::report::{BatchRun, Complexity, Correctness, PipelineReport, Report, WorkloadFigures};

/// The `id`s of the page's charts, in page order.
pub const CHART_IDS: &[&str] = &[
    "chart-latency-cdf",
    "chart-staleness",
    "chart-correctness",
    "chart-throughput",
    "chart-reprocess",
    "chart-complexity",
];

/// Colour of the Lambda pipeline's series.
pub const LAMBDA_COLOR: &str = "#d95f02";
/// Colour of the Kappa pipeline's series.
pub const KAPPA_COLOR: &str = "#1b9e77";

/// What a page reads when a figure was not measured (`null` in the report).
pub const NOT_MEASURED: &str = "not measured";

/// Appends formatted text to a `String` (which cannot fail).
macro_rules! w {
    ($out:expr, $($arg:tt)*) => {
        $out.write_fmt(format_args!($($arg)*)).expect("writing to a String cannot fail")
    };
}

/// Renders `report` as one self-contained HTML document.
pub fn render(report: &Report) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let title = format!(
        "lk compare: {} on {}",
        report.params.dataset.as_deref().unwrap_or("existing topic"),
        report.params.topic
    );
    w!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    );
    w!(
        out,
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    );
    w!(out, "<title>{}</title>\n", esc(&title));
    // First, so that an error in any later script is recorded on the page.
    w!(
        out,
        "<script>window.addEventListener(\"error\", function (e) {{ \
         document.documentElement.dataset.scriptError = String(e.message); }});</script>\n"
    );
    w!(out, "<style>\n{STYLE}</style>\n</head>\n<body>\n");

    header(&mut out, report, &title);
    verdict(&mut out, &report.verdict);
    headline(&mut out, report);
    charts(&mut out, report);
    workloads(&mut out, report);
    counted_items(&mut out, &report.pipelines);
    embedded_json(&mut out, report);

    w!(out, "<script>\n{SCRIPT}</script>\n</body>\n</html>\n");
    out
}

const STYLE: &str = r#"
:root { --lambda: #d95f02; --kappa: #1b9e77; --ink: #1d232b; --muted: #5b6673; --rule: #d9dee4; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1260px; padding: 16px 20px 40px; color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  background: #fff; }
h1 { font-size: 22px; margin: 4px 0 2px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid var(--rule); padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.sub { color: var(--muted); margin: 0 0 10px; }
.warning { background: #fff3cd; border: 1px solid #e0c36a; padding: 6px 10px; border-radius: 4px; }
.facts { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 10px 18px; }
.facts dl { margin: 0; display: grid; grid-template-columns: max-content 1fr; gap: 1px 10px; }
.facts h3 { margin: 0 0 4px; font-size: 13px; text-transform: uppercase;
  letter-spacing: .04em; color: var(--muted); }
.facts dt { color: var(--muted); }
.facts dd { margin: 0; overflow-wrap: anywhere; }
#verdict ul { margin: 0; padding-left: 20px; font-size: 15px; }
table { border-collapse: collapse; }
th, td { padding: 3px 10px; border-bottom: 1px solid var(--rule); text-align: right; }
th:first-child { text-align: left; font-weight: normal; color: var(--muted); }
thead th { font-weight: 600; color: var(--ink); }
thead th.lambda { color: var(--lambda); }
thead th.kappa { color: var(--kappa); }
tr.group th { text-align: left; font-weight: 600; color: var(--ink); padding-top: 10px; }
td.better { font-weight: 600; background: #eef7ee; }
td.not-measured { color: var(--muted); font-style: italic; }
.note { color: var(--muted); font-size: 12px; margin: 4px 0; }
.charts { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 18px 22px; }
figure { margin: 0; }
figcaption { font-weight: 600; margin-bottom: 4px; }
svg.chart { width: 100%; height: auto; display: block; border: 1px solid var(--rule); border-radius: 4px; }
svg.chart text { font-size: 11px; fill: var(--ink); font-family: inherit; }
svg.chart text.axis-title { fill: var(--muted); }
svg.chart text.empty, svg.chart text.not-measured { fill: var(--muted); font-style: italic; }
svg.chart .grid { stroke: #eceff2; }
svg.chart .axis { stroke: #8a949e; }
.workload-tables { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 10px 22px; }
details { margin: 6px 0; }
details ul { columns: 2; font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; }
#lk-download { margin-left: 8px; font-size: 13px; }
@media (max-width: 900px) { .charts, .workload-tables, .facts { grid-template-columns: 1fr; } }
"#;

const SCRIPT: &str = r#"(function () {
  var body = document.body;
  try {
    var text = document.getElementById("lk-report").textContent;
    var report = JSON.parse(text);
    if (!report || !report.pipelines || !report.pipelines.lambda || !report.pipelines.kappa) {
      throw new Error("the embedded report has no pipelines");
    }
    var link = document.getElementById("lk-download");
    link.href = "data:application/json;charset=utf-8," + encodeURIComponent(text);
    link.hidden = false;
    body.dataset.rendered = "ok";
  } catch (e) {
    body.dataset.rendered = "error: " + e.message;
  }
})();
"#;

// ---------------------------------------------------------------------------------------
// Page sections

fn header(out: &mut String, r: &Report, title: &str) {
    let p = &r.params;
    w!(out, "<header>\n<h1>{}</h1>\n", esc(title));
    w!(
        out,
        "<p class=\"sub\">Lambda and Kappa on the same log, started {} UTC, {} s of wall clock. \
         <a id=\"lk-download\" hidden download=\"lk-compare-report.json\">Report JSON</a></p>\n",
        esc(&r.run.started),
        human(r.run.wall_seconds)
    );
    if r.run.interrupted {
        w!(
            out,
            "<p class=\"warning\" id=\"interrupted\">Interrupted (Ctrl-C): the figures cover \
             what ran until then.</p>\n"
        );
    }
    w!(out, "<div class=\"facts\">\n");

    let params: Vec<(&str, String)> = vec![
        ("dataset", p.dataset.clone().unwrap_or_else(|| "—".into())),
        ("topic", p.topic.clone()),
        ("fed by the run", yes_no(p.fed).into()),
        ("workloads", p.workloads.join(", ")),
        ("events", int(p.events)),
        ("rate", format!("{} records/s", int(p.rate_eps))),
        ("partitions", p.partitions.to_string()),
        ("seed", p.seed.to_string()),
        ("out of order", fraction_text(p.out_of_order)),
        ("max delay", format!("{} ms", int(p.max_delay_ms))),
        ("late", fraction_text(p.late)),
        ("late delay", format!("{} ms", int(p.late_delay_ms))),
        ("duplicates", fraction_text(p.duplicates)),
        ("batch every", format!("{} ms", int(p.batch_every_ms))),
        (
            "allowed lateness",
            format!("{} ms", group_digits(&p.allowed_lateness_ms.to_string())),
        ),
        (
            "watermark bound",
            format!("{} ms", group_digits(&p.watermark_bound_ms.to_string())),
        ),
        (
            "checkpoint interval",
            format!("{} ms", int(p.checkpoint_interval_ms)),
        ),
        (
            "Kappa visibility",
            match p.kappa_uncommitted_every_ms {
                None => "checkpointed results (read-committed)".to_owned(),
                Some(ms) => format!(
                    "uncommitted results every {} ms (read-uncommitted)",
                    int(ms)
                ),
            },
        ),
        ("Kappa workers", p.kappa_workers.to_string()),
    ];
    facts(out, "Parameters", "params", &params);

    let m = &r.machine;
    let machine: Vec<(&str, String)> = vec![
        ("os / arch", format!("{} / {}", m.os, m.arch)),
        ("cpus", m.cpus.to_string()),
        ("memory", opt_text(m.memory_bytes.map(bytes))),
        ("cpu model", opt_text(m.cpu_model.clone())),
        ("lk version", m.lk_version.clone()),
    ];
    facts(out, "Machine", "machine", &machine);

    let run = &r.run;
    let run_facts: Vec<(&str, String)> = vec![
        ("started", format!("{} UTC", run.started)),
        ("wall clock", format!("{} s", human(run.wall_seconds))),
        ("feed", format!("{} s", human(run.feed_seconds))),
        ("records fed", int(run.records_fed)),
        ("records in topic", int(run.records_total)),
        ("interrupted", yes_no(run.interrupted).into()),
        (
            "peak RSS (process)",
            opt_text(run.peak_rss_bytes.map(bytes)),
        ),
        (
            "harness CPU",
            format!("{} s", human(run.harness_cpu_seconds)),
        ),
        ("Lambda batch runs", int(r.batch_runs.len() as u64)),
    ];
    facts(out, "Run", "run", &run_facts);
    w!(out, "</div>\n</header>\n");
}

fn facts(out: &mut String, title: &str, id: &str, rows: &[(&str, String)]) {
    w!(out, "<div>\n<h3>{}</h3>\n<dl id=\"{id}\">\n", esc(title));
    for (k, v) in rows {
        w!(out, "<dt>{}</dt><dd>{}</dd>\n", esc(k), esc(v));
    }
    w!(out, "</dl>\n</div>\n");
}

fn verdict(out: &mut String, sentences: &[String]) {
    w!(out, "<section id=\"verdict\">\n<h2>Verdict</h2>\n");
    if sentences.is_empty() {
        w!(out, "<p class=\"note\">The run drew no conclusions.</p>\n");
    } else {
        w!(out, "<ul>\n");
        for s in sentences {
            w!(out, "<li>{}</li>\n", esc(s));
        }
        w!(out, "</ul>\n");
    }
    w!(out, "</section>\n");
}

/// Which of two figures is the better one.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Better {
    Lower,
    Higher,
    Neither,
}

/// One row of a side-by-side table.
struct Row {
    /// `data-metric`, stable for tests and scripts.
    key: &'static str,
    label: &'static str,
    lambda: Option<f64>,
    kappa: Option<f64>,
    show: fn(f64) -> String,
    better: Better,
}

impl Row {
    fn new(
        key: &'static str,
        label: &'static str,
        lambda: Option<f64>,
        kappa: Option<f64>,
        show: fn(f64) -> String,
        better: Better,
    ) -> Row {
        Row {
            key,
            label,
            lambda,
            kappa,
            show,
            better,
        }
    }
}

/// A heading row inside a table, or a figure.
enum Line {
    Group(&'static str),
    Figure(Row),
}

fn side_by_side(out: &mut String, attrs: &str, lines: &[Line]) {
    w!(out, "<table {attrs}>\n");
    w!(
        out,
        "<thead><tr><th></th><th class=\"lambda\">Lambda</th><th class=\"kappa\">Kappa</th></tr></thead>\n<tbody>\n"
    );
    for line in lines {
        match line {
            Line::Group(label) => {
                w!(
                    out,
                    "<tr class=\"group\"><th colspan=\"3\">{}</th></tr>\n",
                    esc(label)
                )
            }
            Line::Figure(row) => {
                let (lambda_better, kappa_better) = match (row.lambda, row.kappa) {
                    (Some(l), Some(k)) if l != k => match row.better {
                        Better::Lower => (l < k, k < l),
                        Better::Higher => (l > k, k > l),
                        Better::Neither => (false, false),
                    },
                    _ => (false, false),
                };
                w!(
                    out,
                    "<tr data-metric=\"{}\"><th>{}</th>",
                    row.key,
                    esc(row.label)
                );
                for (pipeline, value, better) in [
                    ("lambda", row.lambda, lambda_better),
                    ("kappa", row.kappa, kappa_better),
                ] {
                    match value {
                        Some(v) => w!(
                            out,
                            "<td data-pipeline=\"{pipeline}\" data-value=\"{}\"{}>{}</td>",
                            num(v),
                            if better { " class=\"better\"" } else { "" },
                            esc(&(row.show)(v))
                        ),
                        None => w!(
                            out,
                            "<td data-pipeline=\"{pipeline}\" class=\"not-measured\">{NOT_MEASURED}</td>"
                        ),
                    }
                }
                w!(out, "</tr>\n");
            }
        }
    }
    w!(out, "</tbody>\n</table>\n");
}

fn headline(out: &mut String, r: &Report) {
    let (l, k) = (&r.pipelines.lambda, &r.pipelines.kappa);
    // One figure of both pipelines: `get` reads it from a pipeline's report.
    let fig =
        |key, label, get: fn(&PipelineReport) -> Option<f64>, show: fn(f64) -> String, better| {
            Line::Figure(Row::new(key, label, get(l), get(k), show, better))
        };
    let lines = vec![
        Line::Group("Latency (scheduled append → visible to queries)"),
        fig(
            "latency_p50_ms",
            "p50",
            |p| p.latency_ms.as_ref().map(|x| x.p50),
            ms,
            Better::Lower,
        ),
        fig(
            "latency_p95_ms",
            "p95",
            |p| p.latency_ms.as_ref().map(|x| x.p95),
            ms,
            Better::Lower,
        ),
        fig(
            "latency_p99_ms",
            "p99",
            |p| p.latency_ms.as_ref().map(|x| x.p99),
            ms,
            Better::Lower,
        ),
        fig(
            "latency_max_ms",
            "max",
            |p| p.latency_ms.as_ref().map(|x| x.max),
            ms,
            Better::Lower,
        ),
        Line::Group("Throughput and resources"),
        fig(
            "throughput_eps",
            "throughput",
            |p| p.throughput_eps,
            eps,
            Better::Higher,
        ),
        fig(
            "catch_up_seconds",
            "catch-up after the feed",
            |p| p.catch_up_seconds,
            seconds,
            Better::Lower,
        ),
        fig(
            "cpu_seconds",
            "CPU time",
            |p| Some(p.cpu_seconds),
            seconds,
            Better::Lower,
        ),
        fig(
            "peak_heap_bytes",
            "peak heap",
            |p| p.peak_heap_bytes.map(|b| b as f64),
            bytes_f,
            Better::Lower,
        ),
        Line::Group("Correctness (final answers against the oracle)"),
        fig(
            "exact_fraction",
            "exact cells",
            |p| Some(p.correctness.exact_fraction),
            percent,
            Better::Higher,
        ),
        fig(
            "max_abs_error",
            "max abs error",
            |p| Some(p.correctness.max_abs_error),
            human,
            Better::Lower,
        ),
        fig(
            "mean_abs_error",
            "mean abs error",
            |p| Some(p.correctness.mean_abs_error),
            human,
            Better::Lower,
        ),
        fig(
            "missing_cells",
            "missing cells",
            |p| Some(p.correctness.missing_cells as f64),
            int_f,
            Better::Lower,
        ),
        fig(
            "extra_cells",
            "extra cells",
            |p| Some(p.correctness.extra_cells as f64),
            int_f,
            Better::Lower,
        ),
        fig(
            "late_dropped",
            "late events dropped",
            |p| Some(p.correctness.late_dropped as f64),
            int_f,
            Better::Lower,
        ),
        fig(
            "duplicates_removed",
            "duplicates removed",
            |p| p.correctness.duplicates_removed.map(|v| v as f64),
            int_f,
            Better::Neither,
        ),
        Line::Group("Reprocessing the whole history"),
        fig(
            "reprocess_seconds",
            "time",
            |p| p.reprocess_seconds,
            seconds,
            Better::Lower,
        ),
        fig(
            "reprocess_eps",
            "rate",
            |p| p.reprocess_eps,
            eps,
            Better::Higher,
        ),
        Line::Group("Code complexity (the run's workloads)"),
        fig(
            "complexity_loc",
            "lines of code",
            |p| Some(p.complexity.loc as f64),
            int_f,
            Better::Lower,
        ),
        fig(
            "complexity_functions",
            "functions",
            |p| Some(p.complexity.functions as f64),
            int_f,
            Better::Lower,
        ),
        fig(
            "complexity_cyclomatic",
            "cyclomatic complexity",
            |p| Some(p.complexity.cyclomatic as f64),
            int_f,
            Better::Lower,
        ),
    ];
    w!(out, "<section id=\"figures\">\n<h2>Headline figures</h2>\n");
    side_by_side(out, "id=\"headline\"", &lines);
    w!(
        out,
        "<p class=\"note\">Highlighted: the better of two different figures. Latency is {} \
         for Lambda and {} for Kappa.</p>\n",
        latency_samples(l),
        latency_samples(k)
    );
    w!(out, "</section>\n");
}

fn latency_samples(p: &PipelineReport) -> String {
    match &p.latency_ms {
        Some(l) => format!("over {} batches of records", int(l.samples)),
        None => NOT_MEASURED.to_string(),
    }
}

fn charts(out: &mut String, r: &Report) {
    let (l, k) = (&r.pipelines.lambda, &r.pipelines.kappa);
    w!(
        out,
        "<section id=\"charts\">\n<h2>Charts</h2>\n<div class=\"charts\">\n"
    );

    let cdf = |p: &PipelineReport| -> Vec<(f64, f64)> {
        p.latency_cdf
            .iter()
            .map(|c| (c.latency_ms, c.fraction))
            .collect()
    };
    line_chart(
        out,
        &LineChart {
            id: "chart-latency-cdf",
            title: "Latency distribution (CDF)",
            note: "Fraction of records visible to queries within a given time of their \
                   scheduled append (log scale).",
            x_title: "latency (ms, log scale)",
            y_title: "fraction of records",
            x_log: true,
            y_range: Some((0.0, 1.0)),
            series: [cdf(l), cdf(k)],
            spans: &[],
        },
    );

    let staleness = |p: &PipelineReport| -> Vec<(f64, f64)> {
        p.timeline.iter().map(|s| (s.t_s, s.staleness_ms)).collect()
    };
    line_chart(
        out,
        &LineChart {
            id: "chart-staleness",
            title: "Staleness over time",
            note: "How long the oldest record not yet visible had been waiting. Shaded: the \
                   Lambda batch layer's runs.",
            x_title: "seconds since the feed started",
            y_title: "staleness (ms)",
            x_log: false,
            y_range: None,
            series: [staleness(l), staleness(k)],
            spans: &r.batch_runs,
        },
    );

    let exact = |p: &PipelineReport| -> Vec<(f64, f64)> {
        p.timeline
            .iter()
            .filter_map(|s| s.correctness.as_ref().map(|c| (s.t_s, c.exact_fraction)))
            .collect()
    };
    let (exact_l, exact_k) = (exact(l), exact(k));
    let lowest = exact_l
        .iter()
        .chain(&exact_k)
        .map(|p| p.1)
        .filter(|v| v.is_finite())
        .fold(1.0_f64, f64::min);
    line_chart(
        out,
        &LineChart {
            id: "chart-correctness",
            title: "Correctness over time",
            note: "Fraction of exact cells over the windows complete at each moment (samples \
                   where the answer was not evaluated are left out).",
            x_title: "seconds since the feed started",
            y_title: "exact fraction",
            x_log: false,
            y_range: Some((if lowest >= 1.0 { 0.0 } else { lowest }, 1.0)),
            series: [exact_l, exact_k],
            spans: &[],
        },
    );

    bar_chart(
        out,
        &BarChart {
            id: "chart-throughput",
            title: "Throughput",
            note: "Records processed per second from the start of the feed until the \
                   pipeline had caught up.",
            y_title: "records/s",
            shared_scale: true,
            groups: vec![Group {
                key: "throughput_eps".into(),
                label: "all workloads".into(),
                lambda: l.throughput_eps,
                kappa: k.throughput_eps,
                show: human,
            }],
        },
    );

    let mut reprocess = vec![Group {
        key: "all".into(),
        label: "all workloads".into(),
        lambda: l.reprocess_seconds,
        kappa: k.reprocess_seconds,
        show: seconds,
    }];
    for wl in &r.workloads {
        reprocess.push(Group {
            key: wl.name.clone(),
            label: wl.name.clone(),
            lambda: wl.lambda.reprocess_seconds,
            kappa: wl.kappa.reprocess_seconds,
            show: seconds,
        });
    }
    bar_chart(
        out,
        &BarChart {
            id: "chart-reprocess",
            title: "Reprocessing time",
            note: "Full recomputation of the same history after the run: Lambda's batch layer \
                   from scratch, Kappa's replay from offset 0.",
            y_title: "seconds",
            shared_scale: true,
            groups: reprocess,
        },
    );

    let complexity = |key: &str, label: &str, f: fn(&Complexity) -> u64| Group {
        key: key.into(),
        label: label.into(),
        lambda: Some(f(&l.complexity) as f64),
        kappa: Some(f(&k.complexity) as f64),
        show: int_f,
    };
    bar_chart(
        out,
        &BarChart {
            id: "chart-complexity",
            title: "Code complexity",
            note: "Source the pipeline needs for the run's workloads; each group has its own \
                   scale.",
            y_title: "",
            shared_scale: false,
            groups: vec![
                complexity("loc", "lines of code", |c| c.loc),
                complexity("functions", "functions", |c| c.functions),
                complexity("cyclomatic", "cyclomatic", |c| c.cyclomatic),
            ],
        },
    );
    w!(out, "</div>\n</section>\n");
}

fn workloads(out: &mut String, r: &Report) {
    w!(out, "<section id=\"workloads\">\n<h2>Per workload</h2>\n");
    if r.workloads.is_empty() {
        w!(
            out,
            "<p class=\"note\">No per-workload figures in this run.</p>\n"
        );
    } else {
        w!(out, "<div class=\"workload-tables\">\n");
    }
    for wl in &r.workloads {
        let lines = workload_lines(&wl.lambda, &wl.kappa);
        w!(out, "<div>\n<h3>{}</h3>\n", esc(&wl.name));
        w!(
            out,
            "<p class=\"note\">{} cells in the oracle's answer.</p>\n",
            int(wl.oracle_cells)
        );
        side_by_side(
            out,
            &format!(
                "class=\"workload\" data-workload=\"{}\" data-oracle-cells=\"{}\"",
                esc(&wl.name),
                wl.oracle_cells
            ),
            &lines,
        );
        w!(out, "</div>\n");
    }
    if !r.workloads.is_empty() {
        w!(out, "</div>\n");
    }
    w!(out, "</section>\n");
}

fn workload_lines(l: &WorkloadFigures, k: &WorkloadFigures) -> Vec<Line> {
    let (lc, kc): (&Correctness, &Correctness) = (&l.correctness, &k.correctness);
    let u = |v: u64| Some(v as f64);
    let count = |key, label, f: fn(&Correctness) -> u64, better| {
        Line::Figure(Row::new(key, label, u(f(lc)), u(f(kc)), int_f, better))
    };
    vec![
        Line::Group("Correctness"),
        Line::Figure(Row::new(
            "exact_fraction",
            "exact cells",
            Some(lc.exact_fraction),
            Some(kc.exact_fraction),
            percent,
            Better::Higher,
        )),
        count("cells", "cells compared", |c| c.cells, Better::Neither),
        count(
            "exact_cells",
            "exact cells (count)",
            |c| c.exact_cells,
            Better::Higher,
        ),
        count(
            "missing_cells",
            "missing cells",
            |c| c.missing_cells,
            Better::Lower,
        ),
        count(
            "extra_cells",
            "extra cells",
            |c| c.extra_cells,
            Better::Lower,
        ),
        Line::Figure(Row::new(
            "max_abs_error",
            "max abs error",
            Some(lc.max_abs_error),
            Some(kc.max_abs_error),
            human,
            Better::Lower,
        )),
        Line::Figure(Row::new(
            "mean_abs_error",
            "mean abs error",
            Some(lc.mean_abs_error),
            Some(kc.mean_abs_error),
            human,
            Better::Lower,
        )),
        Line::Figure(Row::new(
            "max_rel_error",
            "max relative error",
            Some(lc.max_rel_error),
            Some(kc.max_rel_error),
            percent_plain,
            Better::Lower,
        )),
        count(
            "late_dropped",
            "late events dropped",
            |c| c.late_dropped,
            Better::Lower,
        ),
        Line::Figure(Row::new(
            "duplicates_removed",
            "duplicates removed",
            lc.duplicates_removed.map(|v| v as f64),
            kc.duplicates_removed.map(|v| v as f64),
            int_f,
            Better::Neither,
        )),
        Line::Group("Reprocessing and code"),
        Line::Figure(Row::new(
            "reprocess_seconds",
            "reprocessing time",
            l.reprocess_seconds,
            k.reprocess_seconds,
            seconds,
            Better::Lower,
        )),
        Line::Figure(Row::new(
            "complexity_loc",
            "lines of code",
            u(l.complexity.loc),
            u(k.complexity.loc),
            int_f,
            Better::Lower,
        )),
        Line::Figure(Row::new(
            "complexity_functions",
            "functions",
            u(l.complexity.functions),
            u(k.complexity.functions),
            int_f,
            Better::Lower,
        )),
        Line::Figure(Row::new(
            "complexity_cyclomatic",
            "cyclomatic complexity",
            u(l.complexity.cyclomatic),
            u(k.complexity.cyclomatic),
            int_f,
            Better::Lower,
        )),
    ]
}

fn counted_items(out: &mut String, p: &crate::report::Pipelines) {
    w!(
        out,
        "<section id=\"counted\">\n<h2>What the complexity counts</h2>\n"
    );
    for (name, c) in [
        ("Lambda", &p.lambda.complexity),
        ("Kappa", &p.kappa.complexity),
    ] {
        w!(
            out,
            "<details><summary>{name}: {} items</summary>\n<ul>\n",
            int(c.items.len() as u64)
        );
        for item in &c.items {
            w!(out, "<li>{}</li>\n", esc(item));
        }
        w!(out, "</ul>\n</details>\n");
    }
    w!(out, "</section>\n");
}

fn embedded_json(out: &mut String, r: &Report) {
    let json = serde_json::to_string(r).expect("a Report always serialises");
    w!(
        out,
        "<script type=\"application/json\" id=\"lk-report\">{}</script>\n",
        json_for_script(&json)
    );
}

/// JSON text that is safe inside `<script>`: `<`, `>` and `&` only occur inside JSON
/// strings, where `\u003c`, `\u003e` and `\u0026` mean the same characters.
fn json_for_script(json: &str) -> String {
    let mut s = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        match c {
            '<' => s.push_str("\\u003c"),
            '>' => s.push_str("\\u003e"),
            '&' => s.push_str("\\u0026"),
            c => s.push(c),
        }
    }
    s
}

// ---------------------------------------------------------------------------------------
// Charts

const CHART_W: f64 = 600.0;
const CHART_H: f64 = 330.0;
const PAD_LEFT: f64 = 66.0;
const PAD_RIGHT: f64 = 30.0;
const PAD_TOP: f64 = 34.0;
const PAD_BOTTOM: f64 = 46.0;

/// The plot area inside a chart.
#[derive(Debug, Clone, Copy)]
struct Area {
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
}

const AREA: Area = Area {
    x0: PAD_LEFT,
    x1: CHART_W - PAD_RIGHT,
    y0: PAD_TOP,
    y1: CHART_H - PAD_BOTTOM,
};

/// A data range mapped onto pixels.
#[derive(Debug, Clone, Copy)]
enum Scale {
    Linear {
        lo: f64,
        hi: f64,
        step: f64,
    },
    /// Decades `10^lo ..= 10^hi`.
    Log {
        lo: i32,
        hi: i32,
    },
}

impl Scale {
    /// A linear scale over `lo..=hi` widened to round tick steps.
    fn linear(lo: f64, hi: f64) -> Scale {
        let (lo, hi) = if hi > lo {
            (lo, hi)
        } else if lo == 0.0 {
            (0.0, 1.0)
        } else {
            (lo - lo.abs() * 0.5, hi + hi.abs() * 0.5)
        };
        let step = nice_step(hi - lo, 5);
        Scale::Linear {
            lo: (lo / step).floor() * step,
            hi: (hi / step).ceil() * step,
            step,
        }
    }

    /// A log scale covering every positive value in `lo..=hi`.
    fn log(lo: f64, hi: f64) -> Scale {
        let lo_d = lo.log10().floor() as i32;
        let mut hi_d = hi.log10().ceil() as i32;
        if hi_d <= lo_d {
            hi_d = lo_d + 1;
        }
        Scale::Log { lo: lo_d, hi: hi_d }
    }

    /// The fraction `0..=1` of the way from the scale's start to `v` (clamped).
    fn position(&self, v: f64) -> f64 {
        let t = match *self {
            Scale::Linear { lo, hi, .. } => (v - lo) / (hi - lo),
            Scale::Log { lo, hi } => {
                if v <= 0.0 {
                    0.0
                } else {
                    (v.log10() - f64::from(lo)) / f64::from(hi - lo)
                }
            }
        };
        t.clamp(0.0, 1.0)
    }

    /// Labelled ticks, and unlabelled minor ticks (log scales' 2…9 × 10^k).
    fn ticks(&self) -> (Vec<(f64, String)>, Vec<f64>) {
        match *self {
            Scale::Linear { lo, hi, step } => {
                let decimals = (-step.log10().floor()).max(0.0) as usize;
                let first = (lo / step).round() as i64;
                let last = (hi / step).round() as i64;
                let major = (first..=last)
                    .map(|i| {
                        let v = i as f64 * step;
                        (v, tick_label(v, decimals))
                    })
                    .collect();
                (major, Vec::new())
            }
            Scale::Log { lo, hi } => {
                let mut major = Vec::new();
                let mut minor = Vec::new();
                for d in lo..=hi {
                    let v = 10f64.powi(d);
                    major.push((v, tick_label(v, (-d).max(0) as usize)));
                    if d < hi {
                        minor.extend((2..10).map(|m| f64::from(m) * v));
                    }
                }
                (major, minor)
            }
        }
    }
}

/// A round step (1, 2 or 5 × 10^k) that cuts `span` into about `parts` pieces.
fn nice_step(span: f64, parts: u32) -> f64 {
    let raw = span / f64::from(parts);
    let magnitude = 10f64.powf(raw.log10().floor());
    let n = raw / magnitude;
    let m = if n <= 1.0 {
        1.0
    } else if n <= 2.0 {
        2.0
    } else if n <= 5.0 {
        5.0
    } else {
        10.0
    };
    m * magnitude
}

fn tick_label(v: f64, decimals: usize) -> String {
    if v == 0.0 {
        "0".into()
    } else if decimals == 0 {
        group_digits(&format!("{v:.0}"))
    } else {
        format!("{v:.decimals$}")
    }
}

fn x_px(scale: &Scale, v: f64) -> f64 {
    AREA.x0 + scale.position(v) * (AREA.x1 - AREA.x0)
}

fn y_px(scale: &Scale, v: f64) -> f64 {
    AREA.y1 - scale.position(v) * (AREA.y1 - AREA.y0)
}

/// Pixel coordinate as written in the SVG.
fn px(v: f64) -> String {
    format!("{v:.1}")
}

const SERIES: [(&str, &str, &str); 2] = [
    ("lambda", "Lambda", LAMBDA_COLOR),
    ("kappa", "Kappa", KAPPA_COLOR),
];

struct LineChart<'a> {
    id: &'static str,
    title: &'static str,
    note: &'static str,
    x_title: &'static str,
    y_title: &'static str,
    x_log: bool,
    /// Fixed y range (widened to round ticks); else 0 to the largest value.
    y_range: Option<(f64, f64)>,
    /// Lambda's and Kappa's points, `(x, y)`.
    series: [Vec<(f64, f64)>; 2],
    /// Lambda batch runs to shade.
    spans: &'a [BatchRun],
}

fn chart_open(out: &mut String, id: &str, title: &str, extra: &str) {
    w!(
        out,
        "<figure>\n<figcaption>{}</figcaption>\n<svg id=\"{id}\" class=\"chart\" \
         xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {CHART_W} {CHART_H}\" \
         width=\"{CHART_W}\" height=\"{CHART_H}\" role=\"img\" aria-label=\"{}\"{extra}>\n",
        esc(title),
        esc(title)
    );
    w!(
        out,
        "<rect x=\"0\" y=\"0\" width=\"{CHART_W}\" height=\"{CHART_H}\" fill=\"#ffffff\"/>\n"
    );
}

fn chart_close(out: &mut String, note: &str) {
    w!(
        out,
        "</svg>\n<p class=\"note\">{}</p>\n</figure>\n",
        esc(note)
    );
}

fn empty_chart_text(out: &mut String) {
    w!(
        out,
        "<text class=\"empty\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{NOT_MEASURED}</text>\n",
        px((AREA.x0 + AREA.x1) / 2.0),
        px((AREA.y0 + AREA.y1) / 2.0)
    );
}

fn finite(points: &[(f64, f64)]) -> impl Iterator<Item = (f64, f64)> + '_ {
    points
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
}

fn line_chart(out: &mut String, c: &LineChart<'_>) {
    let points: Vec<(f64, f64)> = c.series.iter().flat_map(|s| finite(s)).collect();
    let empty = points.is_empty();
    chart_open(
        out,
        c.id,
        c.title,
        if empty { " data-empty=\"true\"" } else { "" },
    );

    // Ranges: every point, and the shaded spans on the x axis.
    let span_xs = c
        .spans
        .iter()
        .flat_map(|b| [b.started_s, b.finished_s])
        .filter(|v| v.is_finite());
    let xs: Vec<f64> = points.iter().map(|p| p.0).chain(span_xs).collect();
    let x_scale = if c.x_log {
        let positive = xs.iter().copied().filter(|v| *v > 0.0);
        let lo = positive.clone().fold(f64::INFINITY, f64::min);
        let hi = positive.fold(0.0_f64, f64::max);
        if lo.is_finite() {
            Scale::log(lo, hi)
        } else {
            Scale::log(1.0, 10.0)
        }
    } else {
        let hi = xs.iter().copied().fold(0.0_f64, f64::max);
        let lo = xs.iter().copied().fold(0.0_f64, f64::min);
        Scale::linear(lo, hi)
    };
    let y_scale = match c.y_range {
        Some((lo, hi)) => Scale::linear(lo, hi),
        None => {
            let hi = points.iter().map(|p| p.1).fold(0.0_f64, f64::max);
            let lo = points.iter().map(|p| p.1).fold(0.0_f64, f64::min);
            Scale::linear(lo, hi)
        }
    };

    axes(out, &x_scale, &y_scale, c.x_title, c.y_title);

    for b in c.spans {
        if !(b.started_s.is_finite() && b.finished_s.is_finite()) {
            continue;
        }
        let (a, z) = (x_px(&x_scale, b.started_s), x_px(&x_scale, b.finished_s));
        w!(
            out,
            "<rect class=\"batch-run\" data-workload=\"{}\" data-started-s=\"{}\" \
             data-finished-s=\"{}\" data-horizon-records=\"{}\" x=\"{}\" y=\"{}\" width=\"{}\" \
             height=\"{}\" fill=\"{LAMBDA_COLOR}\" fill-opacity=\"0.13\">\
             <title>Lambda batch run ({}): {}–{} s, {} records</title></rect>\n",
            esc(&b.workload),
            num(b.started_s),
            num(b.finished_s),
            b.horizon_records,
            px(a),
            px(AREA.y0),
            px((z - a).max(1.0)),
            px(AREA.y1 - AREA.y0),
            esc(&b.workload),
            human(b.started_s),
            human(b.finished_s),
            int(b.horizon_records)
        );
    }

    for ((key, label, color), data) in SERIES.iter().zip(&c.series) {
        let pts: Vec<(f64, f64)> = finite(data).collect();
        if pts.is_empty() {
            continue;
        }
        let data_points = pts
            .iter()
            .map(|(x, y)| format!("{},{}", num(*x), num(*y)))
            .collect::<Vec<_>>()
            .join(" ");
        let mut d = String::new();
        for (i, (x, y)) in pts.iter().enumerate() {
            w!(
                d,
                "{}{} {}",
                if i == 0 { "M" } else { " L" },
                px(x_px(&x_scale, *x)),
                px(y_px(&y_scale, *y))
            );
        }
        w!(
            out,
            "<path class=\"series\" data-series=\"{key}\" data-points=\"{data_points}\" \
             d=\"{d}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2.5\" \
             stroke-linejoin=\"round\"><title>{label}: {} points</title></path>\n",
            pts.len()
        );
        // Markers make sparse series readable (a single point draws no line at all).
        if pts.len() <= 40 {
            for (x, y) in &pts {
                w!(
                    out,
                    "<circle class=\"marker\" data-series=\"{key}\" cx=\"{}\" cy=\"{}\" r=\"3\" \
                     fill=\"{color}\"/>\n",
                    px(x_px(&x_scale, *x)),
                    px(y_px(&y_scale, *y))
                );
            }
        }
    }

    if empty {
        empty_chart_text(out);
    }
    let mut legend_items: Vec<(String, &str, f64)> = Vec::new();
    for ((_, label, color), data) in SERIES.iter().zip(&c.series) {
        if finite(data).next().is_some() {
            legend_items.push((label.to_string(), color, 1.0));
        } else {
            legend_items.push((format!("{label}: {NOT_MEASURED}"), "#b0b7bf", 1.0));
        }
    }
    if !c.spans.is_empty() {
        legend_items.push(("Lambda batch run".into(), LAMBDA_COLOR, 0.13));
    }
    legend(out, &legend_items);
    chart_close(out, c.note);
}

/// Axis lines, grid, ticks and axis titles.
fn axes(out: &mut String, x: &Scale, y: &Scale, x_title: &str, y_title: &str) {
    let (x_major, x_minor) = x.ticks();
    let (y_major, _) = y.ticks();
    w!(out, "<g class=\"axes\">\n");
    for v in &x_minor {
        let xp = px(x_px(x, *v));
        w!(
            out,
            "<line class=\"grid minor\" x1=\"{xp}\" x2=\"{xp}\" y1=\"{}\" y2=\"{}\" stroke-width=\"0.6\"/>\n",
            px(AREA.y0),
            px(AREA.y1)
        );
    }
    for (v, label) in &x_major {
        let xp = px(x_px(x, *v));
        w!(
            out,
            "<line class=\"grid\" x1=\"{xp}\" x2=\"{xp}\" y1=\"{}\" y2=\"{}\"/>\n\
             <line class=\"axis\" x1=\"{xp}\" x2=\"{xp}\" y1=\"{}\" y2=\"{}\"/>\n\
             <text x=\"{xp}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
            px(AREA.y0),
            px(AREA.y1),
            px(AREA.y1),
            px(AREA.y1 + 5.0),
            px(AREA.y1 + 17.0),
            esc(label)
        );
    }
    for (v, label) in &y_major {
        let yp = px(y_px(y, *v));
        w!(
            out,
            "<line class=\"grid\" x1=\"{}\" x2=\"{}\" y1=\"{yp}\" y2=\"{yp}\"/>\n\
             <line class=\"axis\" x1=\"{}\" x2=\"{}\" y1=\"{yp}\" y2=\"{yp}\"/>\n\
             <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n",
            px(AREA.x0),
            px(AREA.x1),
            px(AREA.x0 - 5.0),
            px(AREA.x0),
            px(AREA.x0 - 8.0),
            px(y_px(y, *v) + 4.0),
            esc(label)
        );
    }
    w!(
        out,
        "<line class=\"axis\" x1=\"{x0}\" x2=\"{x1}\" y1=\"{y1}\" y2=\"{y1}\"/>\n\
         <line class=\"axis\" x1=\"{x0}\" x2=\"{x0}\" y1=\"{y0}\" y2=\"{y1}\"/>\n",
        x0 = px(AREA.x0),
        x1 = px(AREA.x1),
        y0 = px(AREA.y0),
        y1 = px(AREA.y1)
    );
    w!(
        out,
        "<text class=\"axis-title\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
        px((AREA.x0 + AREA.x1) / 2.0),
        px(CHART_H - 8.0),
        esc(x_title)
    );
    if !y_title.is_empty() {
        let (tx, ty) = (14.0, (AREA.y0 + AREA.y1) / 2.0);
        w!(
            out,
            "<text class=\"axis-title\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" \
             transform=\"rotate(-90 {} {})\">{}</text>\n",
            px(tx),
            px(ty),
            px(tx),
            px(ty),
            esc(y_title)
        );
    }
    w!(out, "</g>\n");
}

/// A row of swatches and labels above the plot area: `(label, colour, opacity)`.
fn legend(out: &mut String, items: &[(String, &str, f64)]) {
    w!(out, "<g class=\"legend\">\n");
    let mut x = AREA.x0;
    for (label, color, opacity) in items {
        w!(
            out,
            "<rect x=\"{}\" y=\"10\" width=\"14\" height=\"12\" fill=\"{color}\" fill-opacity=\"{}\"/>\
             <text x=\"{}\" y=\"20\">{}</text>\n",
            px(x),
            num(*opacity),
            px(x + 19.0),
            esc(label)
        );
        // An estimate of the label's width; the legend only needs to not overlap.
        x += 19.0 + 6.5 * label.chars().count() as f64 + 16.0;
    }
    w!(out, "</g>\n");
}

/// One group of bars: Lambda's and Kappa's value of one figure.
struct Group {
    /// `data-group`.
    key: String,
    label: String,
    lambda: Option<f64>,
    kappa: Option<f64>,
    show: fn(f64) -> String,
}

struct BarChart {
    id: &'static str,
    title: &'static str,
    note: &'static str,
    y_title: &'static str,
    /// One y axis for all groups; otherwise each group is scaled to its own largest value
    /// (for figures in different units) and labelled with its values only.
    shared_scale: bool,
    groups: Vec<Group>,
}

fn bar_chart(out: &mut String, c: &BarChart) {
    let value = |v: Option<f64>| v.filter(|x| x.is_finite());
    let all: Vec<f64> = c
        .groups
        .iter()
        .flat_map(|g| [value(g.lambda), value(g.kappa)])
        .flatten()
        .collect();
    let empty = all.is_empty();
    chart_open(
        out,
        c.id,
        c.title,
        if empty { " data-empty=\"true\"" } else { "" },
    );
    let shared = Scale::linear(0.0, all.iter().copied().fold(0.0_f64, f64::max));
    if c.shared_scale {
        let (major, _) = shared.ticks();
        w!(out, "<g class=\"axes\">\n");
        for (v, label) in &major {
            let yp = px(y_px(&shared, *v));
            w!(
                out,
                "<line class=\"grid\" x1=\"{}\" x2=\"{}\" y1=\"{yp}\" y2=\"{yp}\"/>\n\
                 <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n",
                px(AREA.x0),
                px(AREA.x1),
                px(AREA.x0 - 8.0),
                px(y_px(&shared, *v) + 4.0),
                esc(label)
            );
        }
        let (tx, ty) = (14.0, (AREA.y0 + AREA.y1) / 2.0);
        w!(
            out,
            "<line class=\"axis\" x1=\"{x0}\" x2=\"{x0}\" y1=\"{y0}\" y2=\"{y1}\"/>\n\
             <text class=\"axis-title\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" \
             transform=\"rotate(-90 {} {})\">{}</text>\n</g>\n",
            px(tx),
            px(ty),
            px(tx),
            px(ty),
            esc(c.y_title),
            x0 = px(AREA.x0),
            y0 = px(AREA.y0),
            y1 = px(AREA.y1)
        );
    }
    w!(
        out,
        "<line class=\"axis\" x1=\"{}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\"/>\n",
        px(AREA.x0),
        px(AREA.x1),
        y = px(AREA.y1)
    );

    let n = c.groups.len().max(1) as f64;
    let slot = (AREA.x1 - AREA.x0) / n;
    let bar_w = (slot * 0.32).min(70.0);
    for (i, g) in c.groups.iter().enumerate() {
        let scale = if c.shared_scale {
            shared
        } else {
            Scale::linear(
                0.0,
                [value(g.lambda), value(g.kappa)]
                    .into_iter()
                    .flatten()
                    .fold(0.0_f64, f64::max),
            )
        };
        let center = AREA.x0 + slot * (i as f64 + 0.5);
        w!(out, "<g class=\"group\" data-group=\"{}\">\n", esc(&g.key));
        for (j, ((key, label, color), v)) in SERIES.iter().zip([g.lambda, g.kappa]).enumerate() {
            let left = center + if j == 0 { -bar_w - 2.0 } else { 2.0 };
            let mid = left + bar_w / 2.0;
            match value(v) {
                Some(v) => {
                    let top = y_px(&scale, v);
                    w!(
                        out,
                        "<rect class=\"bar\" data-series=\"{key}\" data-group=\"{}\" \
                         data-value=\"{}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" \
                         fill=\"{color}\"><title>{label}, {}: {}</title></rect>\n\
                         <text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                        esc(&g.key),
                        num(v),
                        px(left),
                        px(top),
                        px(bar_w),
                        px((AREA.y1 - top).max(0.0)),
                        esc(&g.label),
                        esc(&(g.show)(v)),
                        px(mid),
                        px(top - 4.0),
                        esc(&(g.show)(v))
                    );
                }
                None => {
                    let y = AREA.y1 - 6.0;
                    w!(
                        out,
                        "<text class=\"not-measured\" data-series=\"{key}\" data-group=\"{}\" \
                         x=\"{}\" y=\"{}\" transform=\"rotate(-90 {} {})\">{label}: {NOT_MEASURED}</text>\n",
                        esc(&g.key),
                        px(mid + 4.0),
                        px(y),
                        px(mid + 4.0),
                        px(y)
                    );
                }
            }
        }
        w!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n</g>\n",
            px(center),
            px(AREA.y1 + 17.0),
            esc(&g.label)
        );
    }
    if empty {
        empty_chart_text(out);
    }
    let items: Vec<(String, &str, f64)> = SERIES
        .iter()
        .map(|(_, label, color)| (label.to_string(), *color, 1.0))
        .collect();
    legend(out, &items);
    chart_close(out, c.note);
}

// ---------------------------------------------------------------------------------------
// Text

/// `s` escaped for HTML text and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A number for a `data-` attribute: the shortest text that parses back to the same `f64`.
fn num(v: f64) -> String {
    format!("{v}")
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn opt_text(v: Option<String>) -> String {
    v.unwrap_or_else(|| NOT_MEASURED.to_string())
}

/// `1234567` → `1,234,567`.
fn group_digits(digits: &str) -> String {
    let (sign, digits) = match digits.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", digits),
    };
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}")
}

fn int(v: u64) -> String {
    group_digits(&v.to_string())
}

fn int_f(v: f64) -> String {
    group_digits(&format!("{v:.0}"))
}

/// About three significant digits, never in exponent notation.
fn human(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 1000.0 {
        int_f(v)
    } else {
        let decimals = (2 - a.log10().floor() as i32).clamp(0, 9) as usize;
        format!("{v:.decimals$}")
    }
}

fn ms(v: f64) -> String {
    format!("{} ms", human(v))
}

fn seconds(v: f64) -> String {
    format!("{} s", human(v))
}

fn eps(v: f64) -> String {
    format!("{} records/s", human(v))
}

fn bytes(v: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut x = v as f64;
    let mut unit = 0;
    while x >= 1024.0 && unit < UNITS.len() - 1 {
        x /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{v} B")
    } else {
        format!("{} {}", human(x), UNITS[unit])
    }
}

fn bytes_f(v: f64) -> String {
    bytes(v.max(0.0) as u64)
}

/// A fraction as a percentage, rounded down so that anything below 1 never reads 100 %.
fn percent(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    format!("{:.2} %", (v * 10_000.0).floor() / 100.0)
}

/// A fraction as a percentage, with about three significant digits.
fn percent_plain(v: f64) -> String {
    format!("{} %", human(v * 100.0))
}

/// A parameter fraction (`--late 0.01`) with its percentage.
fn fraction_text(v: f64) -> String {
    format!("{} ({})", num(v), percent_plain(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{
        CdfPoint, Latency, Machine, Params, Pipelines, RunInfo, SCHEMA_VERSION, Sample,
        WorkloadReport,
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
        }
    }

    fn pipeline(scale: f64, exact: f64, late: u64, loc: u64) -> PipelineReport {
        PipelineReport {
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
            throughput_eps: Some(9876.5 / scale),
            catch_up_seconds: Some(0.375 * scale),
            cpu_seconds: 3.0625 * scale,
            peak_heap_bytes: Some((52_428_800.0 * scale) as u64),
            correctness: correctness(exact, 8000, late),
            reprocess_seconds: Some(2.5 * scale),
            reprocess_eps: Some(40_000.0 / scale),
            complexity: Complexity {
                loc,
                functions: loc / 20,
                cyclomatic: loc / 9,
                items: vec![
                    format!("speed_layer::item_{loc}"),
                    "batch_layer::run".into(),
                ],
            },
            timeline: (0..6)
                .map(|i| Sample {
                    t_s: 0.5 * f64::from(i),
                    staleness_ms: 100.0 * scale + 7.5 * f64::from(i),
                    visible_records: 1000 * u64::from(i as u32),
                    batch_view_age_ms: None,
                    correctness: (i % 2 == 1)
                        .then(|| correctness(exact - 0.01 * f64::from(i), 500, late)),
                    latency_p99_ms: Some(90.0 * scale),
                })
                .collect(),
        }
    }

    fn fixture() -> Report {
        Report {
            schema_version: SCHEMA_VERSION,
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
                watermark_bound_ms: 2000,
                checkpoint_interval_ms: 250,
                kappa_uncommitted_every_ms: None,
                kappa_workers: 3,
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
                interrupted: false,
                peak_rss_bytes: Some(314_572_800),
                harness_cpu_seconds: 1.125,
            },
            pipelines: Pipelines {
                lambda: pipeline(1.0, 1.0, 0, 1234),
                kappa: pipeline(3.0, 0.96875, 77, 567),
            },
            workloads: vec![
                WorkloadReport {
                    name: "pageviews_per_minute".into(),
                    oracle_cells: 5000,
                    lambda: WorkloadFigures {
                        correctness: correctness(1.0, 5000, 0),
                        reprocess_seconds: Some(1.5),
                        complexity: Complexity::default(),
                    },
                    kappa: WorkloadFigures {
                        correctness: correctness(0.9375, 5000, 50),
                        reprocess_seconds: Some(4.25),
                        complexity: Complexity::default(),
                    },
                },
                WorkloadReport {
                    name: "top<k> & co".into(),
                    oracle_cells: 3000,
                    lambda: WorkloadFigures {
                        correctness: correctness(1.0, 3000, 0),
                        reprocess_seconds: Some(1.0),
                        complexity: Complexity::default(),
                    },
                    kappa: WorkloadFigures {
                        correctness: correctness(0.99, 3000, 27),
                        reprocess_seconds: None,
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
            verdict: vec![
                "Kappa showed records 3× later than Lambda at p99.".into(),
                "Lambda's answers were exact; Kappa dropped 77 late events <beyond> lateness."
                    .into(),
            ],
        }
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

        let cdf = between(&html, "<svg id=\"chart-latency-cdf\"", "</svg>");
        for (name, p) in [("lambda", l), ("kappa", k)] {
            let tags = series_tags(cdf, "path", name);
            assert_eq!(tags.len(), 1, "{name}");
            let want: Vec<(f64, f64)> = p
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
        assert!(cell(headline, "latency_p50_ms", "lambda").contains(">12.8 ms"));
        assert!(cell(headline, "latency_p99_ms", "kappa").contains("data-value=\"291.375\""));
        assert!(cell(headline, "latency_p99_ms", "lambda").contains("class=\"better\""));
        assert!(
            cell(headline, "throughput_eps", "lambda").contains(">9,876 records/s"),
            "ties round to even"
        );
        assert!(cell(headline, "exact_fraction", "kappa").contains(">96.87 %"));
        assert!(cell(headline, "exact_fraction", "lambda").contains(">100.00 %"));
        assert!(cell(headline, "late_dropped", "kappa").contains(">77"));
        assert!(cell(headline, "peak_heap_bytes", "kappa").contains(">150 MiB"));
        assert!(
            cell(headline, "reprocess_eps", "kappa").contains("data-value=\"13333.333333333334\"")
        );
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
        kappa.latency_ms = None;
        kappa.latency_cdf.clear();
        kappa.throughput_eps = None;
        kappa.catch_up_seconds = None;
        kappa.peak_heap_bytes = None;
        kappa.reprocess_seconds = None;
        kappa.reprocess_eps = None;
        let html = render(&report);
        let headline = between(&html, "<table id=\"headline\"", "</table>");
        for metric in [
            "latency_p50_ms",
            "latency_p95_ms",
            "latency_p99_ms",
            "latency_max_ms",
            "throughput_eps",
            "catch_up_seconds",
            "peak_heap_bytes",
            "reprocess_seconds",
            "reprocess_eps",
        ] {
            let row = between(headline, &format!("<tr data-metric=\"{metric}\""), "</tr>");
            assert!(
                row.contains(
                    "<td data-pipeline=\"kappa\" class=\"not-measured\">not measured</td>"
                ),
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
        let cdf = between(&html, "<svg id=\"chart-latency-cdf\"", "</svg>");
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
            p.latency_cdf.clear();
            p.timeline.clear();
        }
        report.batch_runs.clear();
        let html = render(&report);
        for id in ["chart-latency-cdf", "chart-staleness", "chart-correctness"] {
            let block = between(&html, &format!("<svg id=\"{id}\""), "</svg>");
            assert!(block.contains("data-empty=\"true\""), "{id}");
            assert!(block.contains("<text class=\"empty\""), "{id}");
            assert!(!block.contains("data-series"), "{id}");
        }
    }

    #[test]
    fn scales_and_numbers() {
        let Scale::Linear { lo, hi, step } = Scale::linear(0.0, 87.0) else {
            panic!("linear")
        };
        assert_eq!((lo, hi, step), (0.0, 100.0, 20.0));
        let (ticks, _) = Scale::linear(0.0, 0.37).ticks();
        let labels: Vec<&str> = ticks.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(labels, ["0", "0.1", "0.2", "0.3", "0.4"]);
        let log = Scale::log(3.25, 1503.0);
        let (ticks, minor) = log.ticks();
        let labels: Vec<&str> = ticks.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(labels, ["1", "10", "100", "1,000", "10,000"]);
        assert_eq!(minor.len(), 4 * 8);
        assert_eq!(log.position(100.0), 0.5);
        assert_eq!(log.position(0.0), 0.0);
        assert_eq!(Scale::log(0.5, 0.5).ticks().0[0].1, "0.1");

        assert_eq!(human(0.0425), "0.0425");
        assert_eq!(human(12.75), "12.8");
        assert_eq!(human(1503.0), "1,503");
        assert_eq!(human(-1234567.0), "-1,234,567");
        assert_eq!(percent(0.99999), "99.99 %");
        assert_eq!(bytes(52_428_800), "50.0 MiB");
        assert_eq!(bytes(1000), "1000 B");
        assert_eq!(num(0.1 + 0.2).parse::<f64>().unwrap(), 0.1 + 0.2);
        assert_eq!(
            json_for_script(r#"{"a":"</script>&"}"#),
            r#"{"a":"\u003c/script\u003e\u0026"}"#
        );
    }
}
