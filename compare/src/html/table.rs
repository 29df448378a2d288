//! Side-by-side tables: Lambda's and Kappa's value of each figure (a median and range
//! over the runs, or one run's value), the better one shaded only where the two differ
//! beyond the noise (their ranges do not overlap), a figure that was not measured marked
//! so.

use std::fmt::Write as _;

use super::markup::{esc, num};
use crate::format::{NOT_MEASURED, spread};
use crate::report::{Better, Difference, FigureSummary, Stat};
use crate::summary::{difference, show_of, stat};

/// One row of a side-by-side table.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    /// `data-metric`, stable for tests and scripts.
    pub key: String,
    /// The row's heading.
    pub label: String,
    /// Lambda's figure (`None`: not measured).
    pub lambda: Option<Stat>,
    /// Kappa's figure (`None`: not measured).
    pub kappa: Option<Stat>,
    /// How a figure is written in its cell.
    pub show: fn(f64) -> String,
    /// Which figure is shaded.
    pub difference: Difference,
}

/// A heading row inside a table, or a figure.
#[derive(Debug, Clone)]
pub(crate) enum Line {
    /// A heading over the figures that follow.
    Group(String),
    /// A figure of both pipelines.
    Figure(Row),
}

impl Line {
    /// A figure's line from one run's values.
    pub(crate) fn figure(
        key: &str,
        label: &str,
        (lambda, kappa): (Option<f64>, Option<f64>),
        show: fn(f64) -> String,
        better: Better,
    ) -> Line {
        let one = |v: Option<f64>| v.and_then(|v| stat(vec![v]));
        Line::stats(key, label, (one(lambda), one(kappa)), show, better)
    }

    /// A figure's line from both pipelines' values over several runs.
    pub(crate) fn stats(
        key: &str,
        label: &str,
        (lambda, kappa): (Option<Stat>, Option<Stat>),
        show: fn(f64) -> String,
        better: Better,
    ) -> Line {
        Line::Figure(Row {
            key: key.to_owned(),
            label: label.to_owned(),
            difference: difference(better, lambda.as_ref(), kappa.as_ref()),
            lambda,
            kappa,
            show,
        })
    }

    /// A figure's line from its summary over the runs.
    pub(crate) fn summary(f: &FigureSummary) -> Line {
        Line::Figure(Row {
            key: f.key.clone(),
            label: f.label.clone(),
            lambda: f.lambda.clone(),
            kappa: f.kappa.clone(),
            show: show_of(&f.key),
            difference: f.difference,
        })
    }
}

/// `data-difference` of a row.
fn difference_name(d: Difference) -> &'static str {
    match d {
        Difference::Lambda => "lambda",
        Difference::Kappa => "kappa",
        Difference::WithinNoise => "within_noise",
        Difference::Same => "same",
        Difference::NotCompared => "not_compared",
    }
}

/// `<table {attrs}>` with a Lambda and a Kappa column: one `<tr data-metric=…
/// data-difference=…>` per figure, its cells `<td data-pipeline="lambda|kappa"
/// data-value=… data-min=… data-max=…>` (the median and the range over the runs).
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

/// One cell of a figure: `<td data-pipeline=… data-value=…>`.
pub(crate) fn figure_cell(
    out: &mut String,
    pipeline: &str,
    value: Option<&Stat>,
    show: fn(f64) -> String,
    shaded: bool,
) {
    match value {
        Some(s) => w!(
            out,
            "<td data-pipeline=\"{pipeline}\" data-value=\"{}\" data-min=\"{}\" data-max=\"{}\"{}>{}</td>",
            num(s.median),
            num(s.min),
            num(s.max),
            if shaded { " class=\"better\"" } else { "" },
            esc(&spread(s.median, s.min, s.max, show))
        ),
        None => w!(
            out,
            "<td data-pipeline=\"{pipeline}\" class=\"not-measured\">{NOT_MEASURED}</td>"
        ),
    }
}

/// One figure's `<tr>`.
fn figure_row(out: &mut String, row: &Row) {
    w!(
        out,
        "<tr data-metric=\"{}\" data-difference=\"{}\"><th>{}</th>",
        esc(&row.key),
        difference_name(row.difference),
        esc(&row.label)
    );
    figure_cell(
        out,
        "lambda",
        row.lambda.as_ref(),
        row.show,
        row.difference == Difference::Lambda,
    );
    figure_cell(
        out,
        "kappa",
        row.kappa.as_ref(),
        row.show,
        row.difference == Difference::Kappa,
    );
    w!(out, "</tr>\n");
}
