//! Reading a report: the plain-language verdict and the side-by-side terminal table.
//!
//! Figures are written by [`crate::format`], as on the HTML page: the same figure reads
//! the same in the terminal, in the verdict sentences the JSON report carries, and on the
//! page.

#![warn(missing_docs)]

use std::fmt::Write;

use crate::format::{
    bytes, count, millis, number, or_not_measured, percent, rate, ratio, seconds, whole_millis,
};
use crate::report::{Correctness, Latency, PipelineReport, Report};

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

/// How many times better: `3.0x`, or `infinitely` (against a zero).
fn times(r: f64) -> String {
    if r.is_finite() {
        ratio(r)
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
            "Latency: {who} showed new records sooner — p99 {} (Lambda) vs {} (Kappa), {} lower; medians {} vs {}.",
            millis(ll.p99),
            millis(kl.p99),
            times(ratio),
            millis(ll.p50),
            millis(kl.p50)
        ));
    }
    v.push(correctness_sentence(r));
    if let Some((who, ratio)) = better(true, l.cpu_seconds, k.cpu_seconds) {
        v.push(format!(
            "CPU: {who} used less — {} CPU-s (Lambda, {} batch runs over the growing history) vs {} CPU-s (Kappa), {} less.",
            number(l.cpu_seconds),
            count(r.batch_runs.len() as u64),
            number(k.cpu_seconds),
            times(ratio)
        ));
    }
    if let (Some(lr), Some(kr)) = (l.reprocess_seconds, k.reprocess_seconds)
        && let Some((who, ratio)) = better(true, lr, kr)
    {
        v.push(format!(
            "Reprocessing all {} records: {who} was faster — {} (Lambda's batch recompute) vs {} (Kappa's replay), {}.",
            count(r.run.records_total),
            seconds(lr),
            seconds(kr),
            times(ratio)
        ));
    }
    if let Some((who, ratio)) = better(true, l.complexity.loc as f64, k.complexity.loc as f64) {
        let shared = l.complexity.shared.as_ref().map_or(0, |s| s.loc);
        v.push(format!(
            "Code: {who} needs less — {} lines charged to Lambda vs {} to Kappa (what each crate's public API reaches; the {} lines both reach are charged to neither), {} fewer; cyclomatic complexity {} vs {}, cognitive {} vs {}.",
            count(l.complexity.loc),
            count(k.complexity.loc),
            count(shared),
            times(ratio),
            count(l.complexity.cyclomatic),
            count(k.complexity.cyclomatic),
            count(l.complexity.cognitive),
            count(k.complexity.cognitive)
        ));
    }
    v
}

/// How exact both final answers are.
fn correctness_sentence(r: &Report) -> String {
    let (lc, kc) = (
        &r.pipelines.lambda.correctness,
        &r.pipelines.kappa.correctness,
    );
    let exact = |c: &Correctness| c.exact_cells == c.cells;
    if exact(lc) && exact(kc) {
        return format!(
            "Correctness: both final answers equal the oracle's in all {} cells.",
            count(lc.cells)
        );
    }
    format!(
        "Correctness: Lambda's final answer is exact in {} of {} cells (max error {}), Kappa's in {} of {} cells (max error {}, {} late events dropped beyond the allowed lateness of {}).",
        percent(lc.exact_fraction),
        count(lc.cells),
        number(lc.max_abs_error),
        percent(kc.exact_fraction),
        count(kc.cells),
        number(kc.max_abs_error),
        count(kc.late_dropped),
        whole_millis(r.params.allowed_lateness_ms)
    )
}

/// One pipeline's column of the terminal table, in [`LABELS`]' order.
fn rows(p: &PipelineReport) -> Vec<String> {
    let lat = |f: fn(&Latency) -> f64| or_not_measured(p.latency_ms.as_ref().map(f), millis);
    let c = &p.correctness;
    vec![
        lat(|l| l.p50),
        lat(|l| l.p95),
        lat(|l| l.p99),
        lat(|l| l.max),
        or_not_measured(p.throughput_eps, rate),
        or_not_measured(p.catch_up_seconds, seconds),
        seconds(p.cpu_seconds),
        or_not_measured(p.peak_heap_bytes, bytes),
        format!(
            "{} ({}/{})",
            percent(c.exact_fraction),
            count(c.exact_cells),
            count(c.cells)
        ),
        number(c.max_abs_error),
        number(c.mean_abs_error),
        count(c.late_dropped),
        or_not_measured(c.duplicates_removed, count),
        or_not_measured(p.reprocess_seconds, seconds),
        or_not_measured(p.reprocess_eps, rate),
        count(p.complexity.loc),
        count(p.complexity.functions),
        count(p.complexity.cyclomatic),
        count(p.complexity.cognitive),
    ]
}

/// The terminal table's row headings.
const LABELS: [&str; 19] = [
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
    "code: cognitive",
];

/// The side-by-side table printed at the end of `lk compare`: two lines on the run, the
/// figures (a figure that was not measured reads [`crate::format::NOT_MEASURED`]), then the
/// verdict.
pub fn render_table(r: &Report) -> String {
    let mut out = String::new();
    let p = &r.params;
    let _ = writeln!(
        out,
        "lk compare: {} on topic {} ({} partitions), {} records{}, workloads {}",
        p.dataset.as_deref().unwrap_or("existing data"),
        p.topic,
        p.partitions,
        count(r.run.records_total),
        if p.fed {
            format!(" fed at {} records/s", count(p.rate_eps))
        } else {
            String::new()
        },
        p.workloads.join(", ")
    );
    let _ = writeln!(
        out,
        "machine: {} CPUs, {}; run {}{}",
        r.machine.cpus,
        r.machine.cpu_model.as_deref().unwrap_or("unknown CPU"),
        seconds(r.run.wall_seconds),
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

    /// The text of the terminal table's row `label`: (Lambda, Kappa).
    fn table_row(table: &str, label: &str) -> (String, String) {
        let line = table
            .lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no row {label} in\n{table}"));
        let cells: Vec<&str> = line[label.len()..]
            .split("  ")
            .filter(|c| !c.is_empty())
            .collect();
        assert_eq!(cells.len(), 2, "{line}");
        (cells[0].trim().to_owned(), cells[1].trim().to_owned())
    }

    /// The text of the HTML headline table's cell of `metric` and `pipeline`.
    fn page_cell(html: &str, metric: &str, pipeline: &str) -> String {
        let row = &html[html.find(&format!("<tr data-metric=\"{metric}\"")).unwrap()..];
        let row = &row[..row.find("</tr>").unwrap()];
        let td = &row[row
            .find(&format!("<td data-pipeline=\"{pipeline}\""))
            .unwrap()..];
        let td = &td[..td.find("</td>").unwrap()];
        td[td.find('>').unwrap() + 1..].to_owned()
    }

    #[test]
    fn the_terminal_table_writes_figures_as_the_page_does() {
        let report = crate::html::tests::fixture();
        let table = render_table(&report);
        let html = crate::html::render(&report);
        for (label, metric) in [
            ("latency p50", "latency_p50_ms"),
            ("latency max", "latency_max_ms"),
            ("throughput", "throughput_eps"),
            ("catch-up after feed", "catch_up_seconds"),
            ("CPU", "cpu_seconds"),
            ("peak heap", "peak_heap_bytes"),
            ("max abs error", "max_abs_error"),
            ("mean abs error", "mean_abs_error"),
            ("late events dropped", "late_dropped"),
            ("reprocess time", "reprocess_seconds"),
            ("reprocess rate", "reprocess_eps"),
            ("code: lines", "complexity_loc"),
        ] {
            let (lambda, kappa) = table_row(&table, label);
            assert_eq!(lambda, page_cell(&html, metric, "lambda"), "{label}");
            assert_eq!(kappa, page_cell(&html, metric, "kappa"), "{label}");
        }
        // Binary units with IEC names, as on the page.
        assert_eq!(
            table_row(&table, "peak heap"),
            ("50.0 MiB".to_owned(), "150 MiB".to_owned())
        );
        assert_eq!(
            table_row(&table, "exact cells"),
            (
                "100.00 % (8,000/8,000)".to_owned(),
                "96.87 % (7,750/8,000)".to_owned()
            )
        );
        assert!(
            table.contains("125,926 records fed at 20,000 records/s"),
            "{table}"
        );
    }

    #[test]
    fn figures_not_measured_read_so_in_the_terminal() {
        let mut report = crate::html::tests::fixture();
        report.pipelines.kappa.peak_heap_bytes = None;
        report.pipelines.kappa.latency_ms = None;
        report.pipelines.lambda.correctness.duplicates_removed = None;
        let table = render_table(&report);
        assert_eq!(table_row(&table, "peak heap").1, "not measured");
        assert_eq!(table_row(&table, "latency p99").1, "not measured");
        assert_eq!(table_row(&table, "duplicates removed").0, "not measured");
    }

    #[test]
    fn verdict_sentences_use_the_shared_formatter() {
        let report = crate::html::tests::fixture();
        let v = verdict(&report);
        assert!(
            v[0].contains(
                "p99 97.1 ms (Lambda) vs 291 ms (Kappa), 3.0x lower; medians 12.8 ms vs 38.2 ms."
            ),
            "{}",
            v[0]
        );
        assert!(
            v[1].contains("exact in 100.00 % of 8,000 cells (max error 17.0), Kappa's in 96.87 % of 8,000 cells"),
            "{}",
            v[1]
        );
        assert!(v[1].contains("allowed lateness of 5,000 ms"), "{}", v[1]);
        assert!(
            v[3].starts_with("Reprocessing all 125,926 records"),
            "{}",
            v[3]
        );
        assert!(
            v[3].contains("2.50 s (Lambda's batch recompute) vs 7.50 s"),
            "{}",
            v[3]
        );
        assert!(v[4].contains("1,234 lines"), "{}", v[4]);
    }
}
