//! The per-workload tables: each workload's correctness, reprocessing time (each phase's
//! median and range over the fresh runs) and code.

use std::fmt::Write as _;

use super::markup::esc;
use super::table::{Line, side_by_side};
use crate::format::{count, count_f64, number, percent, percent_approx, seconds};
use crate::report::Better;
use crate::report::{Correctness, Report, Reprocess, Stat, WorkloadFigures};

/// `<section id="workloads">`: one `<table class="workload" data-workload=…>` each.
pub(crate) fn section(out: &mut String, r: &Report) {
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
            count(wl.oracle_cells)
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

/// The lines of one workload's table.
fn workload_lines(l: &WorkloadFigures, k: &WorkloadFigures) -> Vec<Line> {
    let (lc, kc): (&Correctness, &Correctness) = (&l.correctness, &k.correctness);
    let u = |v: u64| Some(v as f64);
    let both = |f: fn(&Correctness) -> f64| (Some(f(lc)), Some(f(kc)));
    let count = |key, label, f: fn(&Correctness) -> u64, better| {
        Line::figure(key, label, (u(f(lc)), u(f(kc))), count_f64, better)
    };
    let phase = |key, label, f: fn(&Reprocess) -> &Stat| {
        let of = |w: &WorkloadFigures| w.reprocess.as_ref().map(|r| f(r).clone());
        Line::stats(key, label, (of(l), of(k)), seconds, Better::Lower)
    };
    let code = |key, label, f: fn(&WorkloadFigures) -> u64| {
        Line::figure(key, label, (u(f(l)), u(f(k))), count_f64, Better::Lower)
    };
    vec![
        Line::Group("Correctness".into()),
        Line::figure(
            "exact_fraction",
            "exact cells",
            both(|c| c.exact_fraction),
            percent,
            Better::Higher,
        ),
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
        Line::figure(
            "max_abs_error",
            "max abs error",
            both(|c| c.max_abs_error),
            number,
            Better::Lower,
        ),
        Line::figure(
            "mean_abs_error",
            "mean abs error",
            both(|c| c.mean_abs_error),
            number,
            Better::Lower,
        ),
        Line::figure(
            "max_rel_error",
            "max relative error",
            both(|c| c.max_rel_error),
            percent_approx,
            Better::Lower,
        ),
        count(
            "late_dropped",
            "late events dropped",
            |c| c.late_dropped,
            Better::Lower,
        ),
        Line::figure(
            "duplicates_removed",
            "duplicates removed",
            (
                lc.duplicates_removed.map(|v| v as f64),
                kc.duplicates_removed.map(|v| v as f64),
            ),
            count_f64,
            Better::Neither,
        ),
        Line::Group("Reprocessing and code".into()),
        Line::figure(
            "reprocess_seconds",
            "reprocessing time",
            (l.reprocess_seconds, k.reprocess_seconds),
            seconds,
            Better::Lower,
        ),
        phase("reprocess_setup_seconds", "setup (fresh runs)", |r| {
            &r.setup
        }),
        phase("reprocess_process_seconds", "process (fresh runs)", |r| {
            &r.process
        }),
        phase("reprocess_publish_seconds", "publish (fresh runs)", |r| {
            &r.publish
        }),
        code("complexity_loc", "lines of code", |w| w.complexity.loc),
        code("complexity_functions", "functions", |w| {
            w.complexity.functions
        }),
        code("complexity_cyclomatic", "cyclomatic complexity", |w| {
            w.complexity.cyclomatic
        }),
    ]
}
