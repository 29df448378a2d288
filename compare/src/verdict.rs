//! Reading a report: the plain-language verdict and the side-by-side terminal table.

use std::fmt::Write;

use crate::report::{PipelineReport, Report};

/// Which of two figures is better, and by how much, in words.
fn better(lower_wins: bool, lambda: f64, kappa: f64) -> Option<(&'static str, f64)> {
    if lambda == kappa || !lambda.is_finite() || !kappa.is_finite() {
        return None;
    }
    let lambda_wins = (lambda < kappa) == lower_wins;
    let (win, lose) = if lambda_wins {
        (lambda, kappa)
    } else {
        (kappa, lambda)
    };
    let ratio = if lower_wins { lose / win } else { win / lose };
    Some((if lambda_wins { "Lambda" } else { "Kappa" }, ratio))
}

fn times(r: f64) -> String {
    if r.is_finite() {
        format!("{r:.1}x")
    } else {
        "infinitely".to_owned()
    }
}

/// Sentences saying which pipeline did better on what in this run, from its figures only.
pub fn verdict(r: &Report) -> Vec<String> {
    let (l, k) = (&r.pipelines.lambda, &r.pipelines.kappa);
    let mut v = Vec::new();
    if r.run.interrupted {
        v.push("The run was interrupted: the figures cover the records fed until then.".to_owned());
    }
    if let (Some(ll), Some(kl)) = (l.latency_ms, k.latency_ms)
        && let Some((who, ratio)) = better(true, ll.p99, kl.p99)
    {
        v.push(format!(
            "Latency: {who} showed new records sooner — p99 {:.1} ms (Lambda) vs {:.1} ms (Kappa), {} lower; medians {:.1} vs {:.1} ms.",
            ll.p99,
            kl.p99,
            times(ratio),
            ll.p50,
            kl.p50
        ));
    }
    let (lc, kc) = (&l.correctness, &k.correctness);
    let exact = |c: &crate::report::Correctness| c.exact_cells == c.cells;
    match (exact(lc), exact(kc)) {
        (true, true) => v.push(format!(
            "Correctness: both final answers equal the oracle's in all {} cells.",
            lc.cells
        )),
        _ => v.push(format!(
            "Correctness: Lambda's final answer is exact in {:.2}% of {} cells (max error {}), Kappa's in {:.2}% of {} cells (max error {}, {} late events dropped beyond the allowed lateness of {} ms).",
            lc.exact_fraction * 100.0,
            lc.cells,
            lc.max_abs_error,
            kc.exact_fraction * 100.0,
            kc.cells,
            kc.max_abs_error,
            kc.late_dropped,
            r.params.allowed_lateness_ms
        )),
    }
    if let Some((who, ratio)) = better(true, l.cpu_seconds, k.cpu_seconds) {
        v.push(format!(
            "CPU: {who} used less — {:.1} CPU-s (Lambda, {} batch runs over the growing history) vs {:.1} CPU-s (Kappa), {} less.",
            l.cpu_seconds,
            r.batch_runs.len(),
            k.cpu_seconds,
            times(ratio)
        ));
    }
    if let (Some(lr), Some(kr)) = (l.reprocess_seconds, k.reprocess_seconds)
        && let Some((who, ratio)) = better(true, lr, kr)
    {
        v.push(format!(
            "Reprocessing all {} records: {who} was faster — {:.2} s (Lambda's batch recompute) vs {:.2} s (Kappa's replay), {}.",
            r.run.records_total,
            lr,
            kr,
            times(ratio)
        ));
    }
    if let Some((who, ratio)) = better(true, l.complexity.loc as f64, k.complexity.loc as f64) {
        v.push(format!(
            "Code: {who} needs less — {} lines (Lambda: batch + speed + merge) vs {} lines (Kappa: one stream job), {} fewer; cyclomatic complexity {} vs {}.",
            l.complexity.loc,
            k.complexity.loc,
            times(ratio),
            l.complexity.cyclomatic,
            k.complexity.cyclomatic
        ));
    }
    v
}

fn opt(x: Option<f64>, f: impl Fn(f64) -> String) -> String {
    x.map_or_else(|| "–".to_owned(), f)
}

fn bytes(b: Option<u64>) -> String {
    opt(b.map(|b| b as f64), |b| {
        if b >= 1e9 {
            format!("{:.2} GB", b / 1e9)
        } else {
            format!("{:.1} MB", b / 1e6)
        }
    })
}

fn rows(p: &PipelineReport) -> Vec<String> {
    let lat = |f: fn(&crate::report::Latency) -> f64| {
        opt(p.latency_ms.as_ref().map(f), |v| format!("{v:.2} ms"))
    };
    let c = &p.correctness;
    vec![
        lat(|l| l.p50),
        lat(|l| l.p95),
        lat(|l| l.p99),
        lat(|l| l.max),
        opt(p.throughput_eps, |v| format!("{v:.0} ev/s")),
        opt(p.catch_up_seconds, |v| format!("{v:.2} s")),
        format!("{:.2} s", p.cpu_seconds),
        bytes(p.peak_heap_bytes),
        format!("{:.4} ({}/{})", c.exact_fraction, c.exact_cells, c.cells),
        format!("{}", c.max_abs_error),
        format!("{:.4}", c.mean_abs_error),
        c.late_dropped.to_string(),
        opt(c.duplicates_removed.map(|d| d as f64), |d| {
            format!("{d:.0}")
        }),
        opt(p.reprocess_seconds, |v| format!("{v:.2} s")),
        opt(p.reprocess_eps, |v| format!("{v:.0} ev/s")),
        p.complexity.loc.to_string(),
        p.complexity.functions.to_string(),
        p.complexity.cyclomatic.to_string(),
    ]
}

const LABELS: [&str; 18] = [
    "latency p50",
    "latency p95",
    "latency p99",
    "latency max",
    "throughput",
    "catch-up after feed",
    "CPU",
    "peak heap",
    "exact cells",
    "max abs error",
    "mean abs error",
    "late events dropped",
    "duplicates removed",
    "reprocess time",
    "reprocess rate",
    "code: lines",
    "code: functions",
    "code: cyclomatic",
];

/// The side-by-side table printed at the end of `lk compare`.
pub fn render_table(r: &Report) -> String {
    let mut out = String::new();
    let p = &r.params;
    let _ = writeln!(
        out,
        "lk compare: {} on topic {} ({} partitions), {} records{}, workloads {}",
        p.dataset.as_deref().unwrap_or("existing data"),
        p.topic,
        p.partitions,
        r.run.records_total,
        if p.fed {
            format!(" fed at {} records/s", p.rate_eps)
        } else {
            String::new()
        },
        p.workloads.join(", ")
    );
    let _ = writeln!(
        out,
        "machine: {} CPUs, {}; run {:.1} s{}",
        r.machine.cpus,
        r.machine.cpu_model.as_deref().unwrap_or("unknown CPU"),
        r.run.wall_seconds,
        if r.run.interrupted {
            " (interrupted)"
        } else {
            ""
        }
    );
    let (l, k) = (rows(&r.pipelines.lambda), rows(&r.pipelines.kappa));
    let w0 = LABELS.iter().map(|s| s.chars().count()).max().unwrap_or(0);
    let w1 = l
        .iter()
        .map(|s| s.chars().count())
        .max()
        .unwrap_or(0)
        .max(6);
    let w2 = k
        .iter()
        .map(|s| s.chars().count())
        .max()
        .unwrap_or(0)
        .max(5);
    let _ = writeln!(out);
    let _ = writeln!(out, "{:<w0$}  {:>w1$}  {:>w2$}", "", "Lambda", "Kappa");
    let _ = writeln!(out, "{}", "─".repeat(w0 + w1 + w2 + 4));
    for ((label, a), b) in LABELS.iter().zip(&l).zip(&k) {
        let _ = writeln!(out, "{label:<w0$}  {a:>w1$}  {b:>w2$}");
    }
    let _ = writeln!(out);
    for s in &r.verdict {
        let _ = writeln!(out, "• {s}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_better_figure_wins_with_its_ratio() {
        assert_eq!(better(true, 1.0, 4.0), Some(("Lambda", 4.0)));
        assert_eq!(better(true, 4.0, 1.0), Some(("Kappa", 4.0)));
        assert_eq!(better(false, 2.0, 1.0), Some(("Lambda", 2.0)));
        assert_eq!(better(true, 3.0, 3.0), None);
        assert_eq!(better(true, f64::NAN, 3.0), None);
    }
}
