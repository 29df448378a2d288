//! The headline figures, defined once: which figures the terminal table, the HTML
//! headline table and the verdict show, how each is read from a pipeline's report and
//! written ([`crate::format`]), and which value is better. A [`Summary`] is every figure
//! over the runs of one setting: median, smallest and largest per pipeline, and whether
//! the pipelines differ beyond the noise (their ranges do not overlap).

use crate::format::{
    bytes_f64, count_f64, megabytes_per_s, millis, number, percent, rate, seconds,
};
use crate::report::{
    Better, Difference, FigureSummary, Latency, Level, PipelineReport, Stat, Summary, Visibility,
};

/// One headline figure.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FigureDef {
    /// Stable name (`data-metric` on the page, `key` in the JSON).
    pub key: &'static str,
    /// Its name in the tables.
    pub label: &'static str,
    /// The table group it is shown in.
    pub group: &'static str,
    /// The visibility level of a latency figure.
    pub level: Option<Visibility>,
    /// Which value is better.
    pub better: Better,
    /// How a value is written.
    pub show: fn(f64) -> String,
    /// Reads the figure from one pipeline's report of one run (`None`: not measured).
    pub get: fn(&PipelineReport) -> Option<f64>,
}

/// The group of fresh latency figures.
pub(crate) const FRESH_GROUP: &str = "Latency, fresh: in memory (append → a query shows it)";
/// The group of stable latency figures.
pub(crate) const STABLE_GROUP: &str = "Latency, stable: survives a crash and restart";
const RESOURCES_GROUP: &str = "Throughput and resources";
const CORRECTNESS_GROUP: &str = "Correctness (final answers against the oracle)";
const REPROCESS_GROUP: &str = "Reprocessing the whole history";
const CODE_GROUP: &str = "Code complexity (the run's workloads)";

fn level_of(p: &PipelineReport, level: Visibility) -> &Level {
    match level {
        Visibility::Fresh => &p.fresh,
        Visibility::Stable => &p.stable,
    }
}

fn lat(p: &PipelineReport, level: Visibility, f: fn(&Latency) -> f64) -> Option<f64> {
    level_of(p, level).latency_ms.as_ref().map(f)
}

macro_rules! latency_figures {
    ($level:expr, $group:expr, $p50:literal, $p95:literal, $p99:literal, $max:literal, $catch:literal) => {
        [
            FigureDef {
                key: $p50,
                label: "p50",
                group: $group,
                level: Some($level),
                better: Better::Lower,
                show: millis,
                get: |p| lat(p, $level, |l| l.p50),
            },
            FigureDef {
                key: $p95,
                label: "p95",
                group: $group,
                level: Some($level),
                better: Better::Lower,
                show: millis,
                get: |p| lat(p, $level, |l| l.p95),
            },
            FigureDef {
                key: $p99,
                label: "p99",
                group: $group,
                level: Some($level),
                better: Better::Lower,
                show: millis,
                get: |p| lat(p, $level, |l| l.p99),
            },
            FigureDef {
                key: $max,
                label: "max",
                group: $group,
                level: Some($level),
                better: Better::Lower,
                show: millis,
                get: |p| lat(p, $level, |l| l.max),
            },
            FigureDef {
                key: $catch,
                label: "catch-up after the feed",
                group: $group,
                level: Some($level),
                better: Better::Lower,
                show: seconds,
                get: |p| level_of(p, $level).catch_up_seconds,
            },
        ]
    };
}

/// A figure that is not a latency.
const fn fig(
    key: &'static str,
    label: &'static str,
    group: &'static str,
    better: Better,
    show: fn(f64) -> String,
    get: fn(&PipelineReport) -> Option<f64>,
) -> FigureDef {
    FigureDef {
        key,
        label,
        group,
        level: None,
        better,
        show,
        get,
    }
}

/// Every headline figure, in table order.
pub(crate) fn figures() -> Vec<FigureDef> {
    let fresh = latency_figures!(
        Visibility::Fresh,
        FRESH_GROUP,
        "latency_fresh_p50_ms",
        "latency_fresh_p95_ms",
        "latency_fresh_p99_ms",
        "latency_fresh_max_ms",
        "catch_up_fresh_seconds"
    );
    let stable = latency_figures!(
        Visibility::Stable,
        STABLE_GROUP,
        "latency_stable_p50_ms",
        "latency_stable_p95_ms",
        "latency_stable_p99_ms",
        "latency_stable_max_ms",
        "catch_up_stable_seconds"
    );
    let mut out: Vec<FigureDef> = fresh.into_iter().chain(stable).collect();
    out.extend(resource_figures());
    out.extend(correctness_figures());
    out.extend(reprocess_and_code_figures());
    out
}

/// Throughput and resources.
fn resource_figures() -> Vec<FigureDef> {
    vec![
        fig(
            "throughput_eps",
            "records/s processed (the feed's rate, kept up with)",
            RESOURCES_GROUP,
            Better::Neither,
            rate,
            |p| p.throughput_eps,
        ),
        fig(
            "cpu_seconds",
            "CPU time",
            RESOURCES_GROUP,
            Better::Lower,
            seconds,
            |p| Some(p.cpu_seconds),
        ),
        fig(
            "peak_heap_bytes",
            "peak heap",
            RESOURCES_GROUP,
            Better::Lower,
            bytes_f64,
            |p| p.peak_heap_bytes.map(|b| b as f64),
        ),
        fig(
            "peak_state_cells",
            "open window cells held (peak)",
            RESOURCES_GROUP,
            Better::Neither,
            count_f64,
            |p| p.peak_state_cells.map(|c| c as f64),
        ),
        fig(
            "stable_updates",
            "results made stable (batch runs / checkpoints)",
            RESOURCES_GROUP,
            Better::Neither,
            count_f64,
            |p| Some(p.stable_updates as f64),
        ),
    ]
}

/// The final answers against the oracle.
fn correctness_figures() -> Vec<FigureDef> {
    vec![
        fig(
            "exact_fraction",
            "exact cells",
            CORRECTNESS_GROUP,
            Better::Higher,
            percent,
            |p| Some(p.correctness.exact_fraction),
        ),
        fig(
            "max_abs_error",
            "max abs error",
            CORRECTNESS_GROUP,
            Better::Lower,
            number,
            |p| Some(p.correctness.max_abs_error),
        ),
        fig(
            "mean_abs_error",
            "mean abs error",
            CORRECTNESS_GROUP,
            Better::Lower,
            number,
            |p| Some(p.correctness.mean_abs_error),
        ),
        fig(
            "missing_cells",
            "missing cells",
            CORRECTNESS_GROUP,
            Better::Lower,
            count_f64,
            |p| Some(p.correctness.missing_cells as f64),
        ),
        fig(
            "extra_cells",
            "extra cells",
            CORRECTNESS_GROUP,
            Better::Lower,
            count_f64,
            |p| Some(p.correctness.extra_cells as f64),
        ),
        fig(
            "late_dropped",
            "late events dropped",
            CORRECTNESS_GROUP,
            Better::Lower,
            count_f64,
            |p| Some(p.correctness.late_dropped as f64),
        ),
        fig(
            "duplicates_removed",
            "duplicates removed",
            CORRECTNESS_GROUP,
            Better::Neither,
            count_f64,
            |p| p.correctness.duplicates_removed.map(|v| v as f64),
        ),
    ]
}

/// Reprocessing the history, and the code.
fn reprocess_and_code_figures() -> Vec<FigureDef> {
    vec![
        fig(
            "reprocess_seconds",
            "total time",
            REPROCESS_GROUP,
            Better::Lower,
            seconds,
            |p| p.reprocess_seconds,
        ),
        fig(
            "reprocess_setup_seconds",
            "setup (stores, job)",
            REPROCESS_GROUP,
            Better::Lower,
            seconds,
            |p| p.reprocess.as_ref().map(|r| r.setup.median),
        ),
        fig(
            "reprocess_process_seconds",
            "process (read and compute)",
            REPROCESS_GROUP,
            Better::Lower,
            seconds,
            |p| p.reprocess.as_ref().map(|r| r.process.median),
        ),
        fig(
            "reprocess_publish_seconds",
            "publish (until it serves)",
            REPROCESS_GROUP,
            Better::Lower,
            seconds,
            |p| p.reprocess.as_ref().map(|r| r.publish.median),
        ),
        fig(
            "reprocess_eps",
            "rate",
            REPROCESS_GROUP,
            Better::Higher,
            rate,
            |p| p.reprocess_eps,
        ),
        fig(
            "reprocess_process_mb_s",
            "history read while processing",
            REPROCESS_GROUP,
            Better::Higher,
            megabytes_per_s,
            |p| p.reprocess.as_ref().and_then(|r| r.process_mb_s),
        ),
        fig(
            "complexity_loc",
            "lines of code",
            CODE_GROUP,
            Better::Lower,
            count_f64,
            |p| Some(p.complexity.loc as f64),
        ),
        fig(
            "complexity_functions",
            "functions",
            CODE_GROUP,
            Better::Lower,
            count_f64,
            |p| Some(p.complexity.functions as f64),
        ),
        fig(
            "complexity_cyclomatic",
            "cyclomatic complexity",
            CODE_GROUP,
            Better::Lower,
            count_f64,
            |p| Some(p.complexity.cyclomatic as f64),
        ),
        fig(
            "complexity_cognitive",
            "cognitive complexity",
            CODE_GROUP,
            Better::Lower,
            count_f64,
            |p| Some(p.complexity.cognitive as f64),
        ),
    ]
}

/// How the figure `key` is written ([`number`] for a key no figure has).
pub(crate) fn show_of(key: &str) -> fn(f64) -> String {
    figures()
        .into_iter()
        .find(|f| f.key == key)
        .map_or(number, |f| f.show)
}

/// The median, smallest and largest of `values` (`None` when empty).
pub(crate) fn stat(values: Vec<f64>) -> Option<Stat> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.clone();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    };
    Some(Stat {
        median,
        min: sorted[0],
        max: sorted[n - 1],
        values,
    })
}

/// Whether one range is better than the other beyond the noise: only when they do not
/// overlap.
pub(crate) fn difference(better: Better, l: Option<&Stat>, k: Option<&Stat>) -> Difference {
    let (Some(l), Some(k)) = (l, k) else {
        return Difference::NotCompared;
    };
    if better == Better::Neither || !(l.min.is_finite() && k.min.is_finite()) {
        return Difference::NotCompared;
    }
    if l.min == k.min && l.max == k.max && l.min == l.max {
        return Difference::Same;
    }
    if l.max < k.min {
        return if better == Better::Lower {
            Difference::Lambda
        } else {
            Difference::Kappa
        };
    }
    if k.max < l.min {
        return if better == Better::Lower {
            Difference::Kappa
        } else {
            Difference::Lambda
        };
    }
    Difference::WithinNoise
}

/// Every figure that `keep` keeps over `runs`, each run's (Lambda, Kappa) reports.
pub(crate) fn summarize(
    runs: &[(&PipelineReport, &PipelineReport)],
    keep: impl Fn(&FigureDef) -> bool,
) -> Summary {
    let figures = figures()
        .into_iter()
        .filter(|f| keep(f))
        .map(|f| {
            let lambda = stat(runs.iter().filter_map(|(l, _)| (f.get)(l)).collect());
            let kappa = stat(runs.iter().filter_map(|(_, k)| (f.get)(k)).collect());
            FigureSummary {
                key: f.key.to_owned(),
                label: f.label.to_owned(),
                group: f.group.to_owned(),
                level: f.level,
                better: f.better,
                difference: difference(f.better, lambda.as_ref(), kappa.as_ref()),
                lambda,
                kappa,
            }
        })
        .collect();
    Summary {
        runs: runs.len() as u32,
        figures,
    }
}

/// Every headline figure over `runs`, each run's (Lambda, Kappa) reports: what a
/// report's `summary` holds.
pub fn summary_of(runs: &[(&PipelineReport, &PipelineReport)]) -> Summary {
    summarize(runs, |_| true)
}

/// The figure `key` of a summary.
pub(crate) fn find<'a>(s: &'a Summary, key: &str) -> Option<&'a FigureSummary> {
    s.figures.iter().find(|f| f.key == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(values: &[f64]) -> Stat {
        stat(values.to_vec()).unwrap()
    }

    #[test]
    fn medians_and_ranges() {
        let s = st(&[3.0, 1.0, 2.0]);
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        assert_eq!(s.values, vec![3.0, 1.0, 2.0], "in run order");
        assert_eq!(st(&[4.0, 1.0]).median, 2.5);
        assert!(stat(Vec::new()).is_none());
    }

    #[test]
    fn a_difference_is_claimed_only_where_the_ranges_do_not_overlap() {
        let d = |b, l: &[f64], k: &[f64]| difference(b, Some(&st(l)), Some(&st(k)));
        assert_eq!(
            d(Better::Lower, &[1.0, 2.0], &[3.0, 4.0]),
            Difference::Lambda
        );
        assert_eq!(
            d(Better::Higher, &[1.0, 2.0], &[3.0, 4.0]),
            Difference::Kappa
        );
        assert_eq!(d(Better::Lower, &[5.0], &[3.0, 4.0]), Difference::Kappa);
        assert_eq!(
            d(Better::Lower, &[1.0, 3.5], &[3.0, 4.0]),
            Difference::WithinNoise
        );
        assert_eq!(d(Better::Lower, &[2.0, 2.0], &[2.0]), Difference::Same);
        assert_eq!(
            d(Better::Lower, &[2.0, 3.0], &[2.0, 3.0]),
            Difference::WithinNoise
        );
        assert_eq!(d(Better::Neither, &[1.0], &[9.0]), Difference::NotCompared);
        assert_eq!(
            difference(Better::Lower, None, Some(&st(&[1.0]))),
            Difference::NotCompared
        );
    }
}
