//! Axes (lines, grid, ticks, titles) and the legend.

use std::fmt::Write as _;

use super::frame::{AREA, CHART_H, px, x_px, y_px};
use super::scale::Scale;
use crate::html::markup::{esc, num};

/// Axis lines, grid, ticks and axis titles of a chart with an x and a y scale.
pub(crate) fn axes(out: &mut String, x: &Scale, y: &Scale, x_title: &str, y_title: &str) {
    let (x_major, x_minor) = x.ticks();
    let (y_major, _) = y.ticks();
    w!(out, "<g class=\"axes\">\n");
    for v in &x_minor {
        let xp = px(x_px(x, *v));
        w!(
            out,
            "<line class=\"grid minor\" x1=\"{xp}\" x2=\"{xp}\" y1=\"{}\" y2=\"{}\" stroke-width=\"0.6\"/>\n",
            px(AREA.y0),
            px(AREA.y1)
        );
    }
    for (v, label) in &x_major {
        let xp = px(x_px(x, *v));
        w!(
            out,
            "<line class=\"grid\" x1=\"{xp}\" x2=\"{xp}\" y1=\"{}\" y2=\"{}\"/>\n\
             <line class=\"axis\" x1=\"{xp}\" x2=\"{xp}\" y1=\"{}\" y2=\"{}\"/>\n\
             <text x=\"{xp}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
            px(AREA.y0),
            px(AREA.y1),
            px(AREA.y1),
            px(AREA.y1 + 5.0),
            px(AREA.y1 + 17.0),
            esc(label)
        );
    }
    for (v, label) in &y_major {
        let yp = px(y_px(y, *v));
        w!(
            out,
            "<line class=\"grid\" x1=\"{}\" x2=\"{}\" y1=\"{yp}\" y2=\"{yp}\"/>\n\
             <line class=\"axis\" x1=\"{}\" x2=\"{}\" y1=\"{yp}\" y2=\"{yp}\"/>\n\
             <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n",
            px(AREA.x0),
            px(AREA.x1),
            px(AREA.x0 - 5.0),
            px(AREA.x0),
            px(AREA.x0 - 8.0),
            px(y_px(y, *v) + 4.0),
            esc(label)
        );
    }
    w!(
        out,
        "<line class=\"axis\" x1=\"{x0}\" x2=\"{x1}\" y1=\"{y1}\" y2=\"{y1}\"/>\n\
         <line class=\"axis\" x1=\"{x0}\" x2=\"{x0}\" y1=\"{y0}\" y2=\"{y1}\"/>\n",
        x0 = px(AREA.x0),
        x1 = px(AREA.x1),
        y0 = px(AREA.y0),
        y1 = px(AREA.y1)
    );
    w!(
        out,
        "<text class=\"axis-title\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
        px((AREA.x0 + AREA.x1) / 2.0),
        px(CHART_H - 8.0),
        esc(x_title)
    );
    if !y_title.is_empty() {
        y_axis_title(out, y_title);
    }
    w!(out, "</g>\n");
}

/// The y axis' title, written upwards along the axis.
pub(crate) fn y_axis_title(out: &mut String, title: &str) {
    let (tx, ty) = (14.0, (AREA.y0 + AREA.y1) / 2.0);
    w!(
        out,
        "<text class=\"axis-title\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" \
         transform=\"rotate(-90 {} {})\">{}</text>\n",
        px(tx),
        px(ty),
        px(tx),
        px(ty),
        esc(title)
    );
}

/// One entry of a legend.
#[derive(Debug, Clone)]
pub(crate) struct LegendItem {
    /// The text beside the swatch.
    pub label: String,
    /// The swatch's colour.
    pub color: &'static str,
    /// The swatch's opacity (`fill-opacity`).
    pub opacity: f64,
}

/// A row of swatches and labels above the plot area.
pub(crate) fn legend(out: &mut String, items: &[LegendItem]) {
    w!(out, "<g class=\"legend\">\n");
    let mut x = AREA.x0;
    for item in items {
        w!(
            out,
            "<rect x=\"{}\" y=\"10\" width=\"14\" height=\"12\" fill=\"{}\" fill-opacity=\"{}\"/>\
             <text x=\"{}\" y=\"20\">{}</text>\n",
            px(x),
            item.color,
            num(item.opacity),
            px(x + 19.0),
            esc(&item.label)
        );
        // An estimate of the label's width; the legend only needs to not overlap.
        x += 19.0 + 6.5 * item.label.chars().count() as f64 + 16.0;
    }
    w!(out, "</g>\n");
}
