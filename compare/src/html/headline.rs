//! The headline table: both pipelines' figures over all workloads, side by side — the
//! median and range over the runs, each latency at its visibility level, the better
//! value shaded only where the ranges do not overlap.

use std::fmt::Write as _;

use super::table::{Line, side_by_side};
use crate::format::{NOT_MEASURED, count};
use crate::report::{Level, Report};

/// `<section id="figures">` with `<table id="headline">` and a note on what is compared.
pub(crate) fn section(out: &mut String, r: &Report) {
    let mut lines = Vec::new();
    let mut group = "";
    for f in &r.summary.figures {
        if f.group != group {
            group = &f.group;
            lines.push(Line::Group(group.to_owned()));
        }
        lines.push(Line::summary(f));
    }
    w!(out, "<section id=\"figures\">\n<h2>Headline figures</h2>\n");
    side_by_side(out, "id=\"headline\"", &lines);
    let runs = r.summary.runs;
    w!(
        out,
        "<p class=\"note\">{} Fresh latency is measured over {} for Lambda and {} for \
         Kappa; stable latency over {} and {}.</p>\n",
        if runs > 1 {
            format!(
                "Each figure is the median of {} runs, with the smallest and largest value \
                 when they differ. Shaded: the better of two figures whose ranges do not \
                 overlap (a difference beyond the noise).",
                count(u64::from(runs))
            )
        } else {
            "One run: no estimate of the noise; shaded is the better of two different \
             figures, as measured."
                .to_owned()
        },
        samples(&r.pipelines.lambda.fresh),
        samples(&r.pipelines.kappa.fresh),
        samples(&r.pipelines.lambda.stable),
        samples(&r.pipelines.kappa.stable)
    );
    w!(out, "</section>\n");
}

/// How many batches of records a level's latency was measured over (in the first run).
fn samples(l: &Level) -> String {
    match &l.latency_ms {
        Some(l) => format!("{} batches of records", count(l.samples)),
        None => NOT_MEASURED.to_string(),
    }
}
