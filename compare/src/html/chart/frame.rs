//! The frame every chart is drawn in: its size, the plot area, the pixel mapping, the
//! `<figure>` around the `<svg>`, and how a series is named and coloured.

use std::fmt::Write as _;

use super::scale::Scale;
use crate::format::NOT_MEASURED;
use crate::html::markup::esc;

/// Width of a chart's `viewBox`.
pub(crate) const CHART_W: f64 = 600.0;
/// Height of a chart's `viewBox`.
pub(crate) const CHART_H: f64 = 330.0;
const PAD_LEFT: f64 = 66.0;
const PAD_RIGHT: f64 = 30.0;
const PAD_TOP: f64 = 34.0;
const PAD_BOTTOM: f64 = 46.0;

/// The plot area inside a chart, in pixels.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Area {
    /// Left edge.
    pub x0: f64,
    /// Right edge.
    pub x1: f64,
    /// Top edge.
    pub y0: f64,
    /// Bottom edge (the x axis).
    pub y1: f64,
}

/// The plot area of every chart.
pub(crate) const AREA: Area = Area {
    x0: PAD_LEFT,
    x1: CHART_W - PAD_RIGHT,
    y0: PAD_TOP,
    y1: CHART_H - PAD_BOTTOM,
};

/// How one series is named and drawn.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SeriesStyle {
    /// `data-series` of the series' elements, stable for tests and scripts.
    pub key: &'static str,
    /// The name shown in the legend and tooltips.
    pub label: &'static str,
    /// Fill or stroke colour.
    pub color: &'static str,
    /// A line drawn dashed (`stroke-dasharray`), to tell a second series of the same
    /// colour apart.
    pub dash: bool,
}

/// The pixel x of `v` on `scale`.
pub(crate) fn x_px(scale: &Scale, v: f64) -> f64 {
    AREA.x0 + scale.position(v) * (AREA.x1 - AREA.x0)
}

/// The pixel y of `v` on `scale` (up is larger).
pub(crate) fn y_px(scale: &Scale, v: f64) -> f64 {
    AREA.y1 - scale.position(v) * (AREA.y1 - AREA.y0)
}

/// Pixel coordinate as written in the SVG.
pub(crate) fn px(v: f64) -> String {
    format!("{v:.1}")
}

/// The points of `points` with both coordinates finite.
pub(crate) fn finite(points: &[(f64, f64)]) -> impl Iterator<Item = (f64, f64)> + '_ {
    points
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
}

/// Opens the `<figure>` and its `<svg id="{id}">` (`extra`: more attributes of the svg).
pub(crate) fn open(out: &mut String, id: &str, title: &str, extra: &str) {
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

/// Closes the svg and the figure, with `note` under the chart.
pub(crate) fn close(out: &mut String, note: &str) {
    w!(
        out,
        "</svg>\n<p class=\"note\">{}</p>\n</figure>\n",
        esc(note)
    );
}

/// The text a chart without any data shows in the middle of its plot area.
pub(crate) fn empty_text(out: &mut String) {
    w!(
        out,
        "<text class=\"empty\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{NOT_MEASURED}</text>\n",
        px((AREA.x0 + AREA.x1) / 2.0),
        px((AREA.y0 + AREA.y1) / 2.0)
    );
}
