//! The headline table: both pipelines' figures over all workloads, side by side.

use std::fmt::Write as _;

use super::table::{Better, Line, side_by_side};
use crate::format::{
    NOT_MEASURED, bytes_f64, count, count_f64, millis, number, percent, rate, seconds,
};
use crate::report::{PipelineReport, Report};

/// Reads one figure from a pipeline's report.
type Get = fn(&PipelineReport) -> Option<f64>;

/// Lambda's and Kappa's reports, and the figures read from both.
struct Both<'a>(&'a PipelineReport, &'a PipelineReport);

impl Both<'_> {
    /// The line of the figure `get` reads.
    fn fig(
        &self,
        key: &'static str,
        label: &'static str,
        get: Get,
        show: fn(f64) -> String,
        better: Better,
    ) -> Line {
        Line::figure(key, label, (get(self.0), get(self.1)), show, better)
    }
}

/// `<section id="figures">` with `<table id="headline">` and a note on what is compared.
pub(crate) fn section(out: &mut String, r: &Report) {
    let (l, k) = (&r.pipelines.lambda, &r.pipelines.kappa);
    let both = Both(l, k);
    let lines: Vec<Line> = [
        latency_lines(&both),
        resource_lines(&both),
        correctness_lines(&both),
        reprocess_lines(&both),
        complexity_lines(&both),
    ]
    .into_iter()
    .flatten()
    .collect();
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

/// How many batches of records a pipeline's latency was measured over.
fn latency_samples(p: &PipelineReport) -> String {
    match &p.latency_ms {
        Some(l) => format!("over {} batches of records", count(l.samples)),
        None => NOT_MEASURED.to_string(),
    }
}

/// Latency percentiles.
fn latency_lines(b: &Both<'_>) -> Vec<Line> {
    vec![
        Line::Group("Latency (scheduled append → visible to queries)"),
        b.fig(
            "latency_p50_ms",
            "p50",
            |p| p.latency_ms.as_ref().map(|x| x.p50),
            millis,
            Better::Lower,
        ),
        b.fig(
            "latency_p95_ms",
            "p95",
            |p| p.latency_ms.as_ref().map(|x| x.p95),
            millis,
            Better::Lower,
        ),
        b.fig(
            "latency_p99_ms",
            "p99",
            |p| p.latency_ms.as_ref().map(|x| x.p99),
            millis,
            Better::Lower,
        ),
        b.fig(
            "latency_max_ms",
            "max",
            |p| p.latency_ms.as_ref().map(|x| x.max),
            millis,
            Better::Lower,
        ),
    ]
}

/// Throughput, catch-up, CPU and heap.
fn resource_lines(b: &Both<'_>) -> Vec<Line> {
    vec![
        Line::Group("Throughput and resources"),
        b.fig(
            "throughput_eps",
            "throughput",
            |p| p.throughput_eps,
            rate,
            Better::Higher,
        ),
        b.fig(
            "catch_up_seconds",
            "catch-up after the feed",
            |p| p.catch_up_seconds,
            seconds,
            Better::Lower,
        ),
        b.fig(
            "cpu_seconds",
            "CPU time",
            |p| Some(p.cpu_seconds),
            seconds,
            Better::Lower,
        ),
        b.fig(
            "peak_heap_bytes",
            "peak heap",
            |p| p.peak_heap_bytes.map(|b| b as f64),
            bytes_f64,
            Better::Lower,
        ),
    ]
}

/// Final answers against the oracle.
fn correctness_lines(b: &Both<'_>) -> Vec<Line> {
    vec![
        Line::Group("Correctness (final answers against the oracle)"),
        b.fig(
            "exact_fraction",
            "exact cells",
            |p| Some(p.correctness.exact_fraction),
            percent,
            Better::Higher,
        ),
        b.fig(
            "max_abs_error",
            "max abs error",
            |p| Some(p.correctness.max_abs_error),
            number,
            Better::Lower,
        ),
        b.fig(
            "mean_abs_error",
            "mean abs error",
            |p| Some(p.correctness.mean_abs_error),
            number,
            Better::Lower,
        ),
        b.fig(
            "missing_cells",
            "missing cells",
            |p| Some(p.correctness.missing_cells as f64),
            count_f64,
            Better::Lower,
        ),
        b.fig(
            "extra_cells",
            "extra cells",
            |p| Some(p.correctness.extra_cells as f64),
            count_f64,
            Better::Lower,
        ),
        b.fig(
            "late_dropped",
            "late events dropped",
            |p| Some(p.correctness.late_dropped as f64),
            count_f64,
            Better::Lower,
        ),
        b.fig(
            "duplicates_removed",
            "duplicates removed",
            |p| p.correctness.duplicates_removed.map(|v| v as f64),
            count_f64,
            Better::Neither,
        ),
    ]
}

/// Reprocessing the whole history.
fn reprocess_lines(b: &Both<'_>) -> Vec<Line> {
    vec![
        Line::Group("Reprocessing the whole history"),
        b.fig(
            "reprocess_seconds",
            "time",
            |p| p.reprocess_seconds,
            seconds,
            Better::Lower,
        ),
        b.fig(
            "reprocess_eps",
            "rate",
            |p| p.reprocess_eps,
            rate,
            Better::Higher,
        ),
    ]
}

/// Code complexity of the run's workloads.
fn complexity_lines(b: &Both<'_>) -> Vec<Line> {
    vec![
        Line::Group("Code complexity (the run's workloads)"),
        b.fig(
            "complexity_loc",
            "lines of code",
            |p| Some(p.complexity.loc as f64),
            count_f64,
            Better::Lower,
        ),
        b.fig(
            "complexity_functions",
            "functions",
            |p| Some(p.complexity.functions as f64),
            count_f64,
            Better::Lower,
        ),
        b.fig(
            "complexity_cyclomatic",
            "cyclomatic complexity",
            |p| Some(p.complexity.cyclomatic as f64),
            count_f64,
            Better::Lower,
        ),
    ]
}
