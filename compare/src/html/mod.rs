//! The HTML report of one `lk compare` run: one self-contained file (inline CSS, charts as
//! inline SVG, no fonts, scripts or styles fetched from anywhere) that shows a [`Report`].
//!
//! ## What the page holds, top to bottom
//! One module per section, in [`render`]'s order:
//! - `header`: how the report was made (`<dl id="provenance">`: version, commit, the
//!   command and `<code id="reproduce">`), the run's parameters, its machine, the run's
//!   own figures and the data's disorder; then the warnings (`<section id="warnings">`,
//!   one `<li class="warning">` each);
//! - `verdict`: the verdict sentences;
//! - `headline`: the headline figures of both pipelines side by side
//!   (`<table id="headline">`, one `<tr data-metric="…" data-difference="lambda|kappa|
//!   within_noise|same|not_compared">` per figure, `<td data-pipeline="lambda|kappa"
//!   data-value="median" data-min="…" data-max="…">`, `class="better"` only on a
//!   difference beyond the noise); a figure that was not measured (`null` in the report)
//!   says [`NOT_MEASURED`];
//! - `controls`: each pipeline alone against together (`<table id="alone">`) and the
//!   sustainable rates (`<table id="max-rate">`), when run;
//! - `charts`: the charts, each an `<svg id="chart-…">` (ids in [`CHART_IDS`]) whose drawn
//!   series carry their data: a line is `<path data-series="lambda|kappa"
//!   data-points="x,y x,y …">` with one vertex per point, a bar is `<rect data-series=…
//!   data-group=… data-value=…>`, and a Lambda batch run is `<rect class="batch-run"
//!   data-started-s=… data-finished-s=…>`; numbers in `data-` attributes are written so
//!   that they parse back to the same `f64`. The drawing engine is `chart`, which knows
//!   nothing about the report (its doc says why it is not a charting crate); a series of
//!   points alone is `<g class="points" data-series=… data-points=…>`;
//! - `tradeoffs`: with a sweep, its trade-off curves (ids in [`SWEEP_CHART_IDS`]) with
//!   each pipeline's Pareto front (`data-series="lambda-front|kappa-front"`);
//! - `workloads`: one table per workload (`<table class="workload" data-workload="…">`);
//! - `counted`: what the complexity figures count;
//! - `embedded`: the whole report as JSON in `<script type="application/json"
//!   id="lk-report">`, with every `<`, `>` and `&` written as a JSON `\u` escape so the
//!   data cannot end the script.
//!
//! Figures are written by [`crate::format`], as in the terminal table.
//!
//! The page is complete without JavaScript. A small inline script reads the embedded JSON,
//! offers it as a download, and marks `<body data-rendered="ok">` when that worked; any
//! script error is recorded as `<html data-script-error="…">`. Output is deterministic: the
//! same report renders to the same bytes.

#![warn(missing_docs)]

/// Appends formatted text to a `String` (which cannot fail).
macro_rules! w {
    ($out:expr, $($arg:tt)*) => {
        $out.write_fmt(format_args!($($arg)*)).expect("writing to a String cannot fail")
    };
}

mod chart;
mod charts;
mod controls;
mod counted;
mod embedded;
mod header;
mod headline;
mod markup;
mod page;
mod table;
#[cfg(test)]
pub(crate) mod tests;
mod tradeoffs;
mod verdict;
mod workloads;

pub use crate::format::NOT_MEASURED;
pub use charts::{CHART_IDS, KAPPA_COLOR, LAMBDA_COLOR};
pub use tradeoffs::SWEEP_CHART_IDS;

use crate::report::Report;

/// Renders `report` as one self-contained HTML document.
pub fn render(report: &Report) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let title = page::title(report);
    page::open(&mut out, &title);
    header::section(&mut out, report, &title);
    header::warnings(&mut out, &report.warnings);
    verdict::section(&mut out, &report.verdict);
    headline::section(&mut out, report);
    controls::alone(&mut out, report);
    controls::max_rate(&mut out, report);
    charts::section(&mut out, report);
    tradeoffs::section(&mut out, report);
    workloads::section(&mut out, report);
    counted::section(&mut out, &report.pipelines);
    embedded::section(&mut out, report);
    page::close(&mut out);
    out
}
