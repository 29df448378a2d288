//! The charts section: the report's series, spans and groups handed to the drawing engine
//! ([`super::chart`]): each visibility level's latency distribution and staleness,
//! correctness over time, and the bars of throughput, reprocessing and code. The sweep's
//! trade-off curves are [`super::tradeoffs`].

use std::fmt::Write as _;

use super::chart::{
    BarChart, BarGroup, LineChart, LineSeries, SeriesStyle, Shading, Span, bar_chart, line_chart,
};
use super::markup::num;
use crate::format::{count, count_f64, number, seconds};
use crate::report::{BatchRun, Complexity, Level, PipelineReport, Report, Reprocess, Visibility};

/// The `id`s of the charts every page has, in page order.
pub const CHART_IDS: &[&str] = &[
    "chart-latency-cdf-fresh",
    "chart-latency-cdf-stable",
    "chart-staleness",
    "chart-staleness-stable",
    "chart-correctness",
    "chart-throughput",
    "chart-reprocess",
    "chart-reprocess-phases",
    "chart-complexity",
];

/// Colour of the Lambda pipeline's series.
pub const LAMBDA_COLOR: &str = "#d95f02";
/// Colour of the Kappa pipeline's series.
pub const KAPPA_COLOR: &str = "#1b9e77";

/// The two pipelines' series, Lambda first: `data-series="lambda|kappa"`.
pub(crate) const SERIES: [SeriesStyle; 2] = [
    SeriesStyle {
        key: "lambda",
        label: "Lambda",
        color: LAMBDA_COLOR,
        dash: false,
    },
    SeriesStyle {
        key: "kappa",
        label: "Kappa",
        color: KAPPA_COLOR,
        dash: false,
    },
];

/// Opacity of the shading of a Lambda batch run.
const BATCH_RUN_OPACITY: f64 = 0.13;

/// `<section id="charts">`: the charts of [`CHART_IDS`], in that order.
pub(crate) fn section(out: &mut String, r: &Report) {
    w!(
        out,
        "<section id=\"charts\">\n<h2>Charts</h2>\n<div class=\"charts\">\n"
    );
    for level in Visibility::BOTH {
        line_chart(out, &latency_cdf(r, level));
    }
    for level in Visibility::BOTH {
        line_chart(out, &staleness(r, level));
    }
    line_chart(out, &correctness(r));
    bar_chart(out, &throughput(r));
    bar_chart(out, &reprocess(r));
    bar_chart(out, &reprocess_phases(r));
    bar_chart(out, &complexity(r));
    w!(out, "</div>\n</section>\n");
}

/// Lambda's and Kappa's series of the points `f` takes from a pipeline's report.
fn both(r: &Report, f: impl Fn(&PipelineReport) -> Vec<(f64, f64)>) -> Vec<LineSeries> {
    let (l, k) = (&r.pipelines.lambda, &r.pipelines.kappa);
    vec![
        LineSeries::line(SERIES[0], f(l)),
        LineSeries::line(SERIES[1], f(k)),
    ]
}

fn level(p: &PipelineReport, level: Visibility) -> &Level {
    match level {
        Visibility::Fresh => &p.fresh,
        Visibility::Stable => &p.stable,
    }
}

/// The latency CDF of one level, on a log x axis.
fn latency_cdf(r: &Report, l: Visibility) -> LineChart {
    LineChart {
        id: match l {
            Visibility::Fresh => "chart-latency-cdf-fresh",
            Visibility::Stable => "chart-latency-cdf-stable",
        },
        title: format!("Latency distribution, {} ({})", l.name(), l.meaning()),
        note: format!(
            "Fraction of records a {} query shows within a given time of their scheduled \
             append (log scale). Lambda: {}; Kappa: {}.",
            l.name(),
            level(&r.pipelines.lambda, l).what,
            level(&r.pipelines.kappa, l).what
        ),
        x_title: "latency (ms, log scale)".into(),
        y_title: "fraction of records".into(),
        x_log: true,
        y_range: Some((0.0, 1.0)),
        series: both(r, |p| {
            level(p, l)
                .latency_cdf
                .iter()
                .map(|c| (c.latency_ms, c.fraction))
                .collect()
        }),
        shading: None,
    }
}

/// A Lambda batch run as a shaded span: `<rect class="batch-run" data-started-s=…>`.
fn batch_run_span(b: &BatchRun) -> Span {
    Span {
        start: b.started_s,
        end: b.finished_s,
        attrs: vec![
            ("data-workload", b.workload.clone()),
            ("data-started-s", num(b.started_s)),
            ("data-finished-s", num(b.finished_s)),
            ("data-horizon-records", b.horizon_records.to_string()),
        ],
        title: format!(
            "Lambda batch run ({}): {}–{} s, {} records",
            b.workload,
            number(b.started_s),
            number(b.finished_s),
            count(b.horizon_records)
        ),
    }
}

/// Staleness of one level over time, with the Lambda batch runs shaded.
fn staleness(r: &Report, l: Visibility) -> LineChart {
    LineChart {
        id: match l {
            Visibility::Fresh => "chart-staleness",
            Visibility::Stable => "chart-staleness-stable",
        },
        title: format!("Staleness over time, {}", l.name()),
        note: format!(
            "How long the oldest record not yet shown by a {} query had been waiting. \
             Shaded: the Lambda batch layer's runs.",
            l.name()
        ),
        x_title: "seconds since the feed started".into(),
        y_title: "staleness (ms)".into(),
        x_log: false,
        y_range: None,
        series: both(r, |p| {
            p.timeline
                .iter()
                .map(|s| match l {
                    Visibility::Fresh => (s.t_s, s.staleness_ms),
                    Visibility::Stable => (s.t_s, s.stable_staleness_ms),
                })
                .collect()
        }),
        shading: Some(Shading {
            class: "batch-run",
            legend: "Lambda batch run",
            color: LAMBDA_COLOR,
            opacity: BATCH_RUN_OPACITY,
            spans: r.batch_runs.iter().map(batch_run_span).collect(),
        }),
    }
}

/// The exact fraction over time, at the samples where it was evaluated.
fn correctness(r: &Report) -> LineChart {
    let series = both(r, |p| {
        p.timeline
            .iter()
            .filter_map(|s| s.correctness.as_ref().map(|c| (s.t_s, c.exact_fraction)))
            .collect()
    });
    let lowest = series
        .iter()
        .flat_map(|s| &s.points)
        .map(|p| p.1)
        .filter(|v| v.is_finite())
        .fold(1.0_f64, f64::min);
    LineChart {
        id: "chart-correctness",
        title: "Correctness over time (fresh answers)".into(),
        note: "Fraction of exact cells over the windows complete at each moment (samples \
               where the answer was not evaluated are left out)."
            .into(),
        x_title: "seconds since the feed started".into(),
        y_title: "exact fraction".into(),
        x_log: false,
        y_range: Some((if lowest >= 1.0 { 0.0 } else { lowest }, 1.0)),
        series,
        shading: None,
    }
}

/// Throughput of both pipelines: the rate processed in the run, and the highest rate
/// sustained when searched.
fn throughput(r: &Report) -> BarChart {
    let (l, k) = (&r.pipelines.lambda, &r.pipelines.kappa);
    let mut groups = vec![BarGroup {
        key: "throughput_eps".into(),
        label: "processed in the run".into(),
        values: vec![l.throughput_eps, k.throughput_eps],
        show: number,
    }];
    if let Some(m) = &r.max_rate {
        groups.push(BarGroup {
            key: "sustained_eps".into(),
            label: "sustained (--find-max-rate)".into(),
            values: vec![m.lambda.sustained_eps, m.kappa.sustained_eps],
            show: number,
        });
    }
    BarChart {
        id: "chart-throughput",
        title: "Throughput",
        note: "Records processed per second from the start of the feed until the \
               pipeline had caught up (the feed's rate, when it keeps up), and the highest \
               rate each pipeline sustains alone, when searched.",
        y_title: "records/s",
        shared_scale: true,
        series: &SERIES,
        groups,
    }
}

/// Reprocessing time, all workloads and each one.
fn reprocess(r: &Report) -> BarChart {
    let (l, k) = (&r.pipelines.lambda, &r.pipelines.kappa);
    let mut groups = vec![BarGroup {
        key: "all".into(),
        label: "all workloads".into(),
        values: vec![l.reprocess_seconds, k.reprocess_seconds],
        show: seconds,
    }];
    groups.extend(r.workloads.iter().map(|wl| BarGroup {
        key: wl.name.clone(),
        label: wl.name.clone(),
        values: vec![wl.lambda.reprocess_seconds, wl.kappa.reprocess_seconds],
        show: seconds,
    }));
    BarChart {
        id: "chart-reprocess",
        title: "Reprocessing time",
        note: "Full recomputation of the same history after the run: Lambda's batch layer \
               from scratch, Kappa's replay from offset 0.",
        y_title: "seconds",
        shared_scale: true,
        series: &SERIES,
        groups,
    }
}

/// Reprocessing in its phases: each phase's median over the fresh runs, all workloads.
fn reprocess_phases(r: &Report) -> BarChart {
    let (l, k) = (&r.pipelines.lambda.reprocess, &r.pipelines.kappa.reprocess);
    let group = |key: &str, label: &str, f: fn(&Reprocess) -> f64| BarGroup {
        key: key.into(),
        label: label.into(),
        values: vec![l.as_ref().map(f), k.as_ref().map(f)],
        show: seconds,
    };
    BarChart {
        id: "chart-reprocess-phases",
        title: "Reprocessing in phases (median of the fresh runs)",
        note: "Each run from fresh state (a new directory and, for Kappa, a new namespace on \
               the log). Setup: stores opened, job created; process: the whole history read \
               and computed; publish: until the new version serves queries (Lambda's view \
               store switched, Kappa's checkpoint of every task and alias switched). Both outputs \
               are fsynced. The JSON has every run.",
        y_title: "seconds",
        shared_scale: true,
        series: &SERIES,
        groups: vec![
            group("setup", "setup", |p| p.setup.median),
            group("process", "process", |p| p.process.median),
            group("publish", "publish", |p| p.publish.median),
            group("total", "total", |p| p.total.median),
        ],
    }
}

/// Code complexity, each figure on its own scale.
fn complexity(r: &Report) -> BarChart {
    let (l, k) = (&r.pipelines.lambda, &r.pipelines.kappa);
    let group = |key: &str, label: &str, f: fn(&Complexity) -> u64| BarGroup {
        key: key.into(),
        label: label.into(),
        values: vec![Some(f(&l.complexity) as f64), Some(f(&k.complexity) as f64)],
        show: count_f64,
    };
    BarChart {
        id: "chart-complexity",
        title: "Code complexity",
        note: "Source the pipeline needs for the run's workloads; each group has its own \
               scale.",
        y_title: "",
        shared_scale: false,
        series: &SERIES,
        groups: vec![
            group("loc", "lines of code", |c| c.loc),
            group("functions", "functions", |c| c.functions),
            group("cyclomatic", "cyclomatic", |c| c.cyclomatic),
        ],
    }
}
