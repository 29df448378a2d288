//! The sweep's trade-off curves (`--sweep NAME=V1,V2,…`): each pipeline's fresh and
//! stable p99, exact fraction and CPU against the setting swept (p99 against rate,
//! correctness against allowed lateness, …), and freshness against CPU — every run's
//! point with each pipeline's Pareto front (the points no other point of the same
//! pipeline beats on both CPU and p99). The question they answer: when is Lambda worth
//! its second codebase.

use std::fmt::Write as _;

use super::chart::{LineChart, LineSeries, SeriesStyle, line_chart};
use super::charts::{KAPPA_COLOR, LAMBDA_COLOR, SERIES};
use super::markup::esc;
use crate::report::{Report, Stat, Sweep};
use crate::summary::find;

/// The `id`s of the sweep's charts, in page order (only with a sweep).
pub const SWEEP_CHART_IDS: &[&str] = &[
    "chart-sweep-latency-fresh",
    "chart-sweep-latency-stable",
    "chart-sweep-correctness",
    "chart-sweep-cpu",
    "chart-tradeoff-fresh",
    "chart-tradeoff-stable",
];

/// A pipeline's Pareto front: `data-series="lambda-front|kappa-front"`, dashed.
const FRONTS: [SeriesStyle; 2] = [
    SeriesStyle {
        key: "lambda-front",
        label: "Lambda Pareto front",
        color: LAMBDA_COLOR,
        dash: true,
    },
    SeriesStyle {
        key: "kappa-front",
        label: "Kappa Pareto front",
        color: KAPPA_COLOR,
        dash: true,
    },
];

/// `<section id="sweep">`: the charts of [`SWEEP_CHART_IDS`], when the report has a sweep.
pub(crate) fn section(out: &mut String, r: &Report) {
    let Some(s) = &r.sweep else {
        return;
    };
    w!(
        out,
        "<section id=\"sweep\">\n<h2>Trade-offs over {} ({})</h2>\n<p class=\"note\">Each \
         point is the median of {} run(s) at one value.</p>\n<div class=\"charts\">\n",
        esc(&s.name),
        esc(&s.unit),
        s.points.first().map_or(0, |p| p.summary.runs)
    );
    for (id, key, title, what) in [
        (
            SWEEP_CHART_IDS[0],
            "latency_fresh_p99_ms",
            "Fresh p99",
            "fresh p99 (ms)",
        ),
        (
            SWEEP_CHART_IDS[1],
            "latency_stable_p99_ms",
            "Stable p99",
            "stable p99 (ms)",
        ),
        (
            SWEEP_CHART_IDS[2],
            "exact_fraction",
            "Exact fraction",
            "exact fraction",
        ),
        (SWEEP_CHART_IDS[3], "cpu_seconds", "CPU time", "CPU seconds"),
    ] {
        line_chart(out, &against_setting(s, id, key, title, what));
    }
    for (id, key, level) in [
        (SWEEP_CHART_IDS[4], "latency_fresh_p99_ms", "fresh"),
        (SWEEP_CHART_IDS[5], "latency_stable_p99_ms", "stable"),
    ] {
        line_chart(out, &against_cpu(s, id, key, level));
    }
    w!(out, "</div>\n</section>\n");
}

/// The median of figure `key` of one pipeline at each sweep point, with the x `at`
/// takes from the point.
fn medians(
    s: &Sweep,
    key: &str,
    lambda: bool,
    at: impl Fn(&crate::report::SweepPoint) -> Option<f64>,
) -> Vec<(f64, f64)> {
    s.points
        .iter()
        .filter_map(|p| {
            let f = find(&p.summary, key)?;
            let st: &Stat = if lambda {
                f.lambda.as_ref()?
            } else {
                f.kappa.as_ref()?
            };
            Some((at(p)?, st.median))
        })
        .collect()
}

/// One figure of both pipelines against the setting swept (`title` in the caption,
/// `what` on the y axis).
fn against_setting(s: &Sweep, id: &'static str, key: &str, title: &str, what: &str) -> LineChart {
    let series = [true, false]
        .iter()
        .zip(SERIES)
        .map(|(&lambda, style)| {
            let mut pts = medians(s, key, lambda, |p| Some(p.x));
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            LineSeries::line(style, pts)
        })
        .collect();
    LineChart {
        id,
        title: format!("{title} against {}", s.name),
        note: format!("The median over the runs at each value of {}.", s.name),
        x_title: format!("{} ({})", s.name, s.unit),
        y_title: what.to_owned(),
        x_log: false,
        y_range: (key == "exact_fraction").then_some((0.0, 1.0)),
        series,
        shading: None,
    }
}

/// The Pareto front of `points` where lower is better on both axes: the points no other
/// point is at least as good as on both and better on one, by increasing x.
pub(crate) fn pareto_front(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut sorted: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let mut front: Vec<(f64, f64)> = Vec::new();
    for p in sorted {
        if front.last().is_none_or(|last| p.1 < last.1) {
            front.push(p);
        }
    }
    front
}

/// p99 against CPU: every sweep point of each pipeline, and each one's Pareto front.
fn against_cpu(s: &Sweep, id: &'static str, key: &str, level: &str) -> LineChart {
    let mut series = Vec::new();
    for ((&lambda, style), front) in [true, false].iter().zip(SERIES).zip(FRONTS) {
        let cpu = |p: &crate::report::SweepPoint| {
            let f = find(&p.summary, "cpu_seconds")?;
            let st = if lambda {
                f.lambda.as_ref()?
            } else {
                f.kappa.as_ref()?
            };
            Some(st.median)
        };
        let pts = medians(s, key, lambda, cpu);
        series.push(LineSeries::line(front, pareto_front(&pts)));
        series.push(LineSeries {
            style,
            points: pts,
            line: false,
        });
    }
    LineChart {
        id,
        title: format!("Freshness against CPU: {level} p99"),
        note: format!(
            "Each point is one value of {}: what the pipeline paid in CPU for how fresh \
             its {level} results were. Dashed: each pipeline's Pareto front (lower is \
             better on both axes).",
            s.name
        ),
        x_title: "CPU seconds".into(),
        y_title: format!("{level} p99 (ms)"),
        x_log: false,
        y_range: None,
        series,
        shading: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pareto_front_keeps_the_points_nothing_beats() {
        let pts = [
            (3.0, 10.0),
            (1.0, 50.0),
            (2.0, 20.0),
            (2.5, 30.0),
            (4.0, 10.0),
        ];
        assert_eq!(
            pareto_front(&pts),
            vec![(1.0, 50.0), (2.0, 20.0), (3.0, 10.0)]
        );
        assert!(pareto_front(&[]).is_empty());
    }
}
