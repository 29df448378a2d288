//! The charts' drawing engine: line charts ([`LineChart`]) and bar charts ([`BarChart`])
//! written as inline SVG, with their scales, axes and legends. It knows nothing about the
//! report: the report's sections ([`crate::html`]) give it series, spans and groups.
//!
//! Every drawn series carries its data for readers and tests of the page: a line is
//! `<path data-series="…" data-points="x,y x,y …">` with one vertex per point, a bar is
//! `<rect data-series=… data-group=… data-value=…>`, a shaded span carries the `data-`
//! attributes it is given; numbers in `data-` attributes parse back to the same `f64`.
//! Output is deterministic: the same chart is written as the same bytes.
//!
//! ## Why the SVG is written here
//! The page is one self-contained file that is complete without JavaScript and fetches
//! nothing, and its series must carry their names and data.
//! - `plotters`' SVG backend lays out axes and labels without system fonts (it estimates
//!   text sizes and writes `<text>` elements), but every element it writes is anonymous,
//!   with a fixed set of attributes and integer pixel coordinates, so a series cannot carry
//!   its name and data. A custom backend does not help: plotters hands a backend only
//!   coordinates and styles, not which series or value it is drawing. What the page needs
//!   (linear and log scales, axes, lines, bars, shaded spans, a legend) is the few hundred
//!   lines here.
//! - `charming` draws with Apache ECharts: its HTML renderer leaves the drawing to
//!   ECharts' JavaScript in the browser (a library of about 1 MB to inline, and a page that
//!   shows nothing without scripts), and its image renderer runs ECharts in an embedded V8
//!   (`deno_core`) at render time, a large build for six charts whose SVG elements again
//!   carry no data.

mod axes;
mod bar;
mod frame;
mod line;
mod scale;

pub(crate) use bar::{BarChart, BarGroup, bar_chart};
pub(crate) use frame::SeriesStyle;
pub(crate) use line::{LineChart, LineSeries, Shading, Span, line_chart};
