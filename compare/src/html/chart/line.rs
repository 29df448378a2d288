//! Line charts: series of `(x, y)` points on a linear or log x axis, with shaded spans of
//! the x axis behind them.

use std::fmt::Write as _;

use super::axes::{LegendItem, axes, legend};
use super::frame::{self, AREA, SeriesStyle, finite, px, x_px, y_px};
use super::scale::Scale;
use crate::format::NOT_MEASURED;
use crate::html::markup::{esc, num};

/// Colour of a series without data in the legend.
const MISSING_COLOR: &str = "#b0b7bf";

/// Series with at most this many points also get a marker per point (a single point draws
/// no line at all).
const MARKERS_UP_TO: usize = 40;

/// One series of a line chart.
#[derive(Debug, Clone)]
pub(crate) struct LineSeries {
    /// Its name and colour.
    pub style: SeriesStyle,
    /// Its points, `(x, y)`; points with a coordinate that is not finite are left out.
    pub points: Vec<(f64, f64)>,
    /// Drawn as a line through its points; otherwise as points alone (a scatter):
    /// `<g class="points" data-series=… data-points=…>` holding a marker per point.
    pub line: bool,
}

impl LineSeries {
    /// A series drawn as a line.
    pub(crate) fn line(style: SeriesStyle, points: Vec<(f64, f64)>) -> LineSeries {
        LineSeries {
            style,
            points,
            line: true,
        }
    }
}

/// One shaded span of the x axis: `<rect class="{Shading::class}" {attrs} …>`.
#[derive(Debug, Clone)]
pub(crate) struct Span {
    /// Where the span starts and ends on the x axis (a span with a bound that is not
    /// finite is not drawn).
    pub start: f64,
    /// See `start`.
    pub end: f64,
    /// `data-` attributes (names and unescaped values), written in this order.
    pub attrs: Vec<(&'static str, String)>,
    /// Its tooltip.
    pub title: String,
}

/// Spans of the x axis to shade, all alike.
#[derive(Debug, Clone)]
pub(crate) struct Shading {
    /// `class` of each span's `<rect>`.
    pub class: &'static str,
    /// The legend's text for them (no legend entry when there are no spans).
    pub legend: &'static str,
    /// Fill colour.
    pub color: &'static str,
    /// Fill opacity.
    pub opacity: f64,
    /// The spans.
    pub spans: Vec<Span>,
}

/// A line chart.
#[derive(Debug, Clone)]
pub(crate) struct LineChart {
    /// `id` of the `<svg>`.
    pub id: &'static str,
    /// Caption above the chart.
    pub title: String,
    /// Note under the chart.
    pub note: String,
    /// Title of the x axis.
    pub x_title: String,
    /// Title of the y axis (none when empty).
    pub y_title: String,
    /// A log x axis (positive values only) instead of a linear one.
    pub x_log: bool,
    /// Fixed y range (widened to round ticks); else 0 to the largest value.
    pub y_range: Option<(f64, f64)>,
    /// The series, drawn in this order.
    pub series: Vec<LineSeries>,
    /// Spans shaded behind the series.
    pub shading: Option<Shading>,
}

/// Writes `c` as a `<figure>` with an `<svg>`; every drawn series is a
/// `<path data-series=… data-points="x,y x,y …">` with one vertex per point.
pub(crate) fn line_chart(out: &mut String, c: &LineChart) {
    let points: Vec<(f64, f64)> = c.series.iter().flat_map(|s| finite(&s.points)).collect();
    let empty = points.is_empty();
    frame::open(
        out,
        c.id,
        &c.title,
        if empty { " data-empty=\"true\"" } else { "" },
    );
    let (x_scale, y_scale) = scales(c, &points);
    axes(out, &x_scale, &y_scale, &c.x_title, &c.y_title);
    if let Some(shading) = &c.shading {
        shade(out, shading, &x_scale);
    }
    for s in &c.series {
        draw_series(out, s, &x_scale, &y_scale);
    }
    if empty {
        frame::empty_text(out);
    }
    legend(out, &legend_items(c));
    frame::close(out, &c.note);
}

/// The x and y scales: every point, and the shaded spans on the x axis.
fn scales(c: &LineChart, points: &[(f64, f64)]) -> (Scale, Scale) {
    let span_xs = c
        .shading
        .iter()
        .flat_map(|s| &s.spans)
        .flat_map(|b| [b.start, b.end])
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
    (x_scale, y_scale)
}

/// The shaded spans, each the plot area's height.
fn shade(out: &mut String, shading: &Shading, x_scale: &Scale) {
    for b in &shading.spans {
        if !(b.start.is_finite() && b.end.is_finite()) {
            continue;
        }
        let (a, z) = (x_px(x_scale, b.start), x_px(x_scale, b.end));
        w!(out, "<rect class=\"{}\"", shading.class);
        for (name, value) in &b.attrs {
            w!(out, " {name}=\"{}\"", esc(value));
        }
        w!(
            out,
            " x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\" fill-opacity=\"{}\">\
             <title>{}</title></rect>\n",
            px(a),
            px(AREA.y0),
            px((z - a).max(1.0)),
            px(AREA.y1 - AREA.y0),
            shading.color,
            num(shading.opacity),
            esc(&b.title)
        );
    }
}

/// One series' path, and its markers when it has few points; or, for a series of
/// points alone, its markers in a `<g class="points">`.
fn draw_series(out: &mut String, s: &LineSeries, x_scale: &Scale, y_scale: &Scale) {
    let pts: Vec<(f64, f64)> = finite(&s.points).collect();
    if pts.is_empty() {
        return;
    }
    let SeriesStyle {
        key,
        label,
        color,
        dash,
    } = s.style;
    let data_points = pts
        .iter()
        .map(|(x, y)| format!("{},{}", num(*x), num(*y)))
        .collect::<Vec<_>>()
        .join(" ");
    if !s.line {
        w!(
            out,
            "<g class=\"points\" data-series=\"{key}\" data-points=\"{data_points}\"><title>{}: {} points</title>\n",
            esc(label),
            pts.len()
        );
        markers(out, key, color, &pts, x_scale, y_scale);
        w!(out, "</g>\n");
        return;
    }
    let mut d = String::new();
    for (i, (x, y)) in pts.iter().enumerate() {
        w!(
            d,
            "{}{} {}",
            if i == 0 { "M" } else { " L" },
            px(x_px(x_scale, *x)),
            px(y_px(y_scale, *y))
        );
    }
    w!(
        out,
        "<path class=\"series\" data-series=\"{key}\" data-points=\"{data_points}\" \
         d=\"{d}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2.5\"{} \
         stroke-linejoin=\"round\"><title>{}: {} points</title></path>\n",
        if dash {
            " stroke-dasharray=\"7 4\""
        } else {
            ""
        },
        esc(label),
        pts.len()
    );
    if pts.len() <= MARKERS_UP_TO {
        markers(out, key, color, &pts, x_scale, y_scale);
    }
}

/// A marker per point.
fn markers(
    out: &mut String,
    key: &str,
    color: &str,
    pts: &[(f64, f64)],
    x_scale: &Scale,
    y_scale: &Scale,
) {
    for (x, y) in pts {
        w!(
            out,
            "<circle class=\"marker\" data-series=\"{key}\" cx=\"{}\" cy=\"{}\" r=\"3\" \
             fill=\"{color}\"/>\n",
            px(x_px(x_scale, *x)),
            px(y_px(y_scale, *y))
        );
    }
}

/// Each series (greyed and marked not measured when it has no data), then the shading.
fn legend_items(c: &LineChart) -> Vec<LegendItem> {
    let mut items: Vec<LegendItem> = c
        .series
        .iter()
        .map(|s| {
            if finite(&s.points).next().is_some() {
                LegendItem {
                    label: s.style.label.to_owned(),
                    color: s.style.color,
                    opacity: 1.0,
                }
            } else {
                LegendItem {
                    label: format!("{}: {NOT_MEASURED}", s.style.label),
                    color: MISSING_COLOR,
                    opacity: 1.0,
                }
            }
        })
        .collect();
    if let Some(shading) = c.shading.as_ref().filter(|s| !s.spans.is_empty()) {
        items.push(LegendItem {
            label: shading.legend.to_owned(),
            color: shading.color,
            opacity: shading.opacity,
        });
    }
    items
}
