//! Side-by-side tables: Lambda's and Kappa's value of each figure, the better one
//! highlighted, a figure that was not measured marked so.

use std::fmt::Write as _;

use super::markup::{esc, num};
use crate::format::NOT_MEASURED;

/// Which of two figures is the better one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Better {
    /// The lower figure.
    Lower,
    /// The higher figure.
    Higher,
    /// Neither: the figures are only shown.
    Neither,
}

/// One row of a side-by-side table.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    /// `data-metric`, stable for tests and scripts.
    pub key: &'static str,
    /// The row's heading.
    pub label: &'static str,
    /// Lambda's figure (`None`: not measured).
    pub lambda: Option<f64>,
    /// Kappa's figure (`None`: not measured).
    pub kappa: Option<f64>,
    /// How a figure is written in its cell.
    pub show: fn(f64) -> String,
    /// Which figure is highlighted.
    pub better: Better,
}

/// A heading row inside a table, or a figure.
#[derive(Debug, Clone)]
pub(crate) enum Line {
    /// A heading over the figures that follow.
    Group(&'static str),
    /// A figure of both pipelines.
    Figure(Row),
}

impl Line {
    /// A figure's line.
    pub(crate) fn figure(
        key: &'static str,
        label: &'static str,
        (lambda, kappa): (Option<f64>, Option<f64>),
        show: fn(f64) -> String,
        better: Better,
    ) -> Line {
        Line::Figure(Row {
            key,
            label,
            lambda,
            kappa,
            show,
            better,
        })
    }
}

/// `<table {attrs}>` with a Lambda and a Kappa column: one `<tr data-metric=…>` per
/// figure, its cells `<td data-pipeline="lambda|kappa" data-value=…>`.
pub(crate) fn side_by_side(out: &mut String, attrs: &str, lines: &[Line]) {
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
            Line::Figure(row) => figure_row(out, row),
        }
    }
    w!(out, "</tbody>\n</table>\n");
}

/// Whether Lambda's and Kappa's figure is the better one of two different figures.
fn winners(row: &Row) -> (bool, bool) {
    match (row.lambda, row.kappa) {
        (Some(l), Some(k)) if l != k => match row.better {
            Better::Lower => (l < k, k < l),
            Better::Higher => (l > k, k > l),
            Better::Neither => (false, false),
        },
        _ => (false, false),
    }
}

/// One figure's `<tr>`.
fn figure_row(out: &mut String, row: &Row) {
    let (lambda_better, kappa_better) = winners(row);
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
