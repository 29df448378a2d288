//! Bar charts: groups of bars, one bar per series in each group, on one shared y scale or
//! each group on its own.

use std::fmt::Write as _;

use super::axes::{LegendItem, legend, y_axis_title};
use super::frame::{self, AREA, SeriesStyle, px, y_px};
use super::scale::Scale;
use crate::format::NOT_MEASURED;
use crate::html::markup::{esc, num};

/// Gap between a group's bars, in pixels.
const GAP: f64 = 4.0;

/// One group of bars: one value per series of the chart.
#[derive(Debug, Clone)]
pub(crate) struct BarGroup {
    /// `data-group`, stable for tests and scripts.
    pub key: String,
    /// The group's label under its bars.
    pub label: String,
    /// A value per series, in the chart's series order (`None`: not measured, a note
    /// instead of a bar).
    pub values: Vec<Option<f64>>,
    /// How a value is written above its bar.
    pub show: fn(f64) -> String,
}

/// A bar chart.
#[derive(Debug, Clone)]
pub(crate) struct BarChart {
    /// `id` of the `<svg>`.
    pub id: &'static str,
    /// Caption above the chart.
    pub title: &'static str,
    /// Note under the chart.
    pub note: &'static str,
    /// Title of the y axis (with a shared scale).
    pub y_title: &'static str,
    /// One y axis for all groups; otherwise each group is scaled to its own largest value
    /// (for figures in different units) and labelled with its values only.
    pub shared_scale: bool,
    /// The series: one bar of each per group.
    pub series: &'static [SeriesStyle],
    /// The groups, left to right.
    pub groups: Vec<BarGroup>,
}

/// A value that can be drawn.
fn value(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite())
}

/// Writes `c` as a `<figure>` with an `<svg>`; a bar is
/// `<rect data-series=… data-group=… data-value=…>`.
pub(crate) fn bar_chart(out: &mut String, c: &BarChart) {
    let all: Vec<f64> = c
        .groups
        .iter()
        .flat_map(|g| g.values.iter().map(|v| value(*v)))
        .flatten()
        .collect();
    let empty = all.is_empty();
    frame::open(
        out,
        c.id,
        c.title,
        if empty { " data-empty=\"true\"" } else { "" },
    );
    let shared = Scale::linear(0.0, all.iter().copied().fold(0.0_f64, f64::max));
    if c.shared_scale {
        y_axis(out, &shared, c.y_title);
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
            let largest = g.values.iter().filter_map(|v| value(*v));
            Scale::linear(0.0, largest.fold(0.0_f64, f64::max))
        };
        let center = AREA.x0 + slot * (i as f64 + 0.5);
        group(out, c.series, g, &scale, center, bar_w);
    }
    if empty {
        frame::empty_text(out);
    }
    let items: Vec<LegendItem> = c
        .series
        .iter()
        .map(|s| LegendItem {
            label: s.label.to_owned(),
            color: s.color,
            opacity: 1.0,
        })
        .collect();
    legend(out, &items);
    frame::close(out, c.note);
}

/// The shared y axis: grid lines with their labels, the axis line and its title.
fn y_axis(out: &mut String, scale: &Scale, title: &str) {
    let (major, _) = scale.ticks();
    w!(out, "<g class=\"axes\">\n");
    for (v, label) in &major {
        let yp = px(y_px(scale, *v));
        w!(
            out,
            "<line class=\"grid\" x1=\"{}\" x2=\"{}\" y1=\"{yp}\" y2=\"{yp}\"/>\n\
             <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n",
            px(AREA.x0),
            px(AREA.x1),
            px(AREA.x0 - 8.0),
            px(y_px(scale, *v) + 4.0),
            esc(label)
        );
    }
    w!(
        out,
        "<line class=\"axis\" x1=\"{x0}\" x2=\"{x0}\" y1=\"{y0}\" y2=\"{y1}\"/>\n",
        x0 = px(AREA.x0),
        y0 = px(AREA.y0),
        y1 = px(AREA.y1)
    );
    y_axis_title(out, title);
    w!(out, "</g>\n");
}

/// One group: its bars side by side around `center`, each labelled with its value, and
/// the group's label under them.
fn group(
    out: &mut String,
    series: &[SeriesStyle],
    g: &BarGroup,
    scale: &Scale,
    center: f64,
    bar_w: f64,
) {
    w!(out, "<g class=\"group\" data-group=\"{}\">\n", esc(&g.key));
    // The bars and the gaps between them, centred.
    let first = center - (bar_w + GAP) * series.len() as f64 / 2.0 + GAP / 2.0;
    for (j, (s, v)) in series.iter().zip(&g.values).enumerate() {
        let left = first + (bar_w + GAP) * j as f64;
        let mid = left + bar_w / 2.0;
        let SeriesStyle {
            key, label, color, ..
        } = *s;
        match value(*v) {
            Some(v) => {
                let top = y_px(scale, v);
                let shown = esc(&(g.show)(v));
                w!(
                    out,
                    "<rect class=\"bar\" data-series=\"{key}\" data-group=\"{}\" \
                     data-value=\"{}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" \
                     fill=\"{color}\"><title>{}, {}: {shown}</title></rect>\n\
                     <text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{shown}</text>\n",
                    esc(&g.key),
                    num(v),
                    px(left),
                    px(top),
                    px(bar_w),
                    px((AREA.y1 - top).max(0.0)),
                    esc(label),
                    esc(&g.label),
                    px(mid),
                    px(top - 4.0),
                );
            }
            None => {
                let y = AREA.y1 - 6.0;
                w!(
                    out,
                    "<text class=\"not-measured\" data-series=\"{key}\" data-group=\"{}\" \
                     x=\"{}\" y=\"{}\" transform=\"rotate(-90 {} {})\">{}: {NOT_MEASURED}</text>\n",
                    esc(&g.key),
                    px(mid + 4.0),
                    px(y),
                    px(mid + 4.0),
                    px(y),
                    esc(label)
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
