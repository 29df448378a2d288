//! The report in the terminal: what `lk compare` prints at the end — the run, the
//! headline figures side by side (median and range over the repeats, and which pipeline
//! is better beyond the noise), each pipeline alone against together, the sweep, the
//! sustainable rates, the warnings and the verdict.
//!
//! Figures are written by [`crate::format`], as on the HTML page.

#![warn(missing_docs)]

use std::fmt::Write;

use crate::format::{NOT_MEASURED, count, or_not_measured, rate, seconds, spread};
use crate::report::{Difference, FigureSummary, Report, Stat, Summary};
use crate::summary::{find, show_of};

/// A figure's value over the runs, or [`NOT_MEASURED`].
fn cell(f: &FigureSummary, s: Option<&Stat>) -> String {
    s.map_or(NOT_MEASURED.to_owned(), |s| {
        spread(s.median, s.min, s.max, show_of(&f.key))
    })
}

/// The last column: which pipeline is better beyond the noise.
fn better(d: Difference) -> &'static str {
    match d {
        Difference::Lambda => "Lambda",
        Difference::Kappa => "Kappa",
        Difference::WithinNoise => "within noise",
        Difference::Same | Difference::NotCompared => "",
    }
}

/// Rows of cells, the first column left-aligned, the others right-aligned, each as wide
/// as its widest cell.
fn grid(out: &mut String, rows: &[Vec<String>]) {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let width: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for r in rows {
        let mut line = String::new();
        for (c, text) in r.iter().enumerate() {
            let pad = width[c].saturating_sub(text.chars().count());
            if c == 0 {
                line.push_str(text);
                line.push_str(&" ".repeat(pad));
            } else {
                line.push_str("  ");
                line.push_str(&" ".repeat(pad));
                line.push_str(text);
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

/// The headline rows of `s`: a group's heading before its figures.
fn headline_rows(s: &Summary) -> Vec<Vec<String>> {
    let mut rows = vec![vec![
        String::new(),
        "Lambda".into(),
        "Kappa".into(),
        "better".into(),
    ]];
    let mut group = "";
    for f in &s.figures {
        if f.group != group {
            group = &f.group;
            rows.push(vec![group.to_owned()]);
        }
        rows.push(vec![
            format!("  {}", f.label),
            cell(f, f.lambda.as_ref()),
            cell(f, f.kappa.as_ref()),
            better(f.difference).to_owned(),
        ]);
    }
    rows
}

/// The side-by-side table printed at the end of `lk compare`: lines on the run, the
/// figures (a figure that was not measured reads [`crate::format::NOT_MEASURED`]), the
/// controls, sweep and rates when run, then the warnings and the verdict.
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
        "machine: {} CPUs, {}; run {}{}; {} run(s); lk {} ({})",
        r.machine.cpus,
        r.machine.cpu_model.as_deref().unwrap_or("unknown CPU"),
        seconds(r.run.wall_seconds),
        if r.run.interrupted {
            " (interrupted)"
        } else {
            ""
        },
        count(u64::from(r.summary.runs)),
        r.provenance.version,
        r.provenance
            .commit
            .as_deref()
            .map_or("commit unknown".to_owned(), |c| format!("commit {c}"))
    );
    let _ = writeln!(
        out,
        "harness CPU: {} (threads of neither pipeline: the feed, observers, sampler, oracle)",
        seconds(r.run.harness_cpu_seconds)
    );
    let _ = writeln!(out, "reproduce: {}", r.provenance.reproduce);
    let _ = writeln!(out);
    let mut rows = headline_rows(&r.summary);
    if let Some(m) = &r.max_rate {
        rows.push(vec!["Sustainable throughput (--find-max-rate)".into()]);
        let show = |s: &crate::report::RateSearch, per_core: bool| {
            let v = if per_core {
                s.per_core_eps
            } else {
                s.sustained_eps
            };
            let text = or_not_measured(v, rate);
            if s.feed_limited && !per_core && v.is_some() {
                format!("≥ {text}")
            } else {
                text
            }
        };
        rows.push(vec![
            "  sustained rate".into(),
            show(&m.lambda, false),
            show(&m.kappa, false),
        ]);
        rows.push(vec![
            "  per CPU-second".into(),
            show(&m.lambda, true),
            show(&m.kappa, true),
        ]);
    }
    grid(&mut out, &rows);
    if let Some(a) = &r.alone {
        let _ = writeln!(out, "\nEach pipeline alone on the same feed (--alone):");
        grid(&mut out, &alone_rows(&r.summary, &a.summary));
    }
    if let Some(s) = &r.sweep {
        let _ = writeln!(out, "\nSweep over {} ({}):", s.name, s.unit);
        grid(&mut out, &sweep_rows(s));
    }
    if !r.warnings.is_empty() {
        let _ = writeln!(out);
        for w in &r.warnings {
            let _ = writeln!(out, "! {w}");
        }
    }
    let _ = writeln!(out);
    for s in &r.verdict {
        let _ = writeln!(out, "• {s}");
    }
    out
}

/// A figure's label in the table of the controls: a latency with its level.
pub(crate) fn alone_label(f: &FigureSummary) -> String {
    match f.level {
        Some(l) => format!("{} {}", l.name(), f.label),
        None => f.label.clone(),
    }
}

/// Alone against together, for the figures run alone.
fn alone_rows(together: &Summary, alone: &Summary) -> Vec<Vec<String>> {
    let mut rows = vec![vec![
        String::new(),
        "Lambda alone".into(),
        "together".into(),
        "Kappa alone".into(),
        "together".into(),
    ]];
    for f in &alone.figures {
        let t = find(together, &f.key);
        rows.push(vec![
            alone_label(f),
            cell(f, f.lambda.as_ref()),
            t.map_or(NOT_MEASURED.into(), |t| cell(t, t.lambda.as_ref())),
            cell(f, f.kappa.as_ref()),
            t.map_or(NOT_MEASURED.into(), |t| cell(t, t.kappa.as_ref())),
        ]);
    }
    rows
}

/// The figures of the trade-offs at each value of a sweep.
pub(crate) const SWEEP_KEYS: [&str; 4] = [
    "latency_fresh_p99_ms",
    "latency_stable_p99_ms",
    "exact_fraction",
    "cpu_seconds",
];

/// One row per sweep value: each pipeline's figures of [`SWEEP_KEYS`].
fn sweep_rows(s: &crate::report::Sweep) -> Vec<Vec<String>> {
    let mut head = vec![s.name.clone()];
    for k in SWEEP_KEYS {
        for who in ["Lambda", "Kappa"] {
            head.push(format!("{who} {}", short(k)));
        }
    }
    let mut rows = vec![head];
    for p in &s.points {
        let mut row = vec![p.value.clone()];
        for k in SWEEP_KEYS {
            match find(&p.summary, k) {
                Some(f) => {
                    row.push(cell(f, f.lambda.as_ref()));
                    row.push(cell(f, f.kappa.as_ref()));
                }
                None => row.extend([NOT_MEASURED.into(), NOT_MEASURED.into()]),
            }
        }
        rows.push(row);
    }
    rows
}

/// A short column heading for a sweep figure.
pub(crate) fn short(key: &str) -> &'static str {
    match key {
        "latency_fresh_p99_ms" => "fresh p99",
        "latency_stable_p99_ms" => "stable p99",
        "exact_fraction" => "exact",
        "cpu_seconds" => "CPU",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text of the terminal table's row `label`: its cells after the label.
    fn table_row(table: &str, label: &str) -> Vec<String> {
        let line = table
            .lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no row {label} in\n{table}"));
        line[label.len()..]
            .split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect()
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
    fn the_terminal_table_writes_every_figure_as_the_page_does() {
        let mut report = crate::html::tests::fixture();
        // Three runs, so that cells carry ranges.
        let (l, k) = (&report.pipelines.lambda, &report.pipelines.kappa);
        let mut slower = l.clone();
        slower.fresh.latency_ms.as_mut().unwrap().p99 *= 1.5;
        report.summary = crate::summary::summary_of(&[(l, k), (&slower, k), (l, k)]);
        let table = render_table(&report);
        let html = crate::html::render(&report);
        let mut group = String::new();
        for f in &report.summary.figures {
            if f.group != group {
                group = f.group.clone();
                assert!(table.contains(&group), "{group}");
            }
            // Rows of one label repeat over the groups: look from the group on.
            let from = &table[table.find(&group).unwrap()..];
            let cells = table_row(
                &from[from.find(&format!("  {}", f.label)).unwrap()..],
                &format!("  {}", f.label),
            );
            assert_eq!(cells[0], page_cell(&html, &f.key, "lambda"), "{}", f.key);
            assert_eq!(cells[1], page_cell(&html, &f.key, "kappa"), "{}", f.key);
        }
        let p99 = table_row(&table[table.find("Latency, fresh").unwrap()..], "  p99");
        assert_eq!(p99[0], "97.1 ms (97.1–146)");
        assert_eq!(p99[2], "Lambda", "the ranges do not overlap");
        assert!(table.contains("reproduce: lk compare --dataset pageviews"));
        assert!(table.contains("commit 0123abc"));
        assert!(table.contains("! One run <only>"), "warnings are printed");
    }

    #[test]
    fn figures_not_measured_read_so_in_the_terminal() {
        let mut report = crate::html::tests::fixture();
        report.pipelines.kappa.peak_heap_bytes = None;
        report.pipelines.kappa.stable.latency_ms = None;
        report.pipelines.lambda.correctness.duplicates_removed = None;
        crate::html::tests::resummarize(&mut report);
        let table = render_table(&report);
        assert_eq!(table_row(&table, "  peak heap")[1], "not measured");
        let stable = &table[table.find("Latency, stable").unwrap()..];
        assert_eq!(table_row(stable, "  p99")[1], "not measured");
        assert_eq!(table_row(&table, "  duplicates removed")[0], "not measured");
    }

    #[test]
    fn the_harness_cpu_is_printed_apart_from_the_pipelines() {
        let mut report = crate::html::tests::fixture();
        report.run.harness_cpu_seconds = 4.5;
        let table = render_table(&report);
        let line = table
            .lines()
            .find(|l| l.starts_with("harness CPU: "))
            .unwrap_or_else(|| panic!("no harness line in\n{table}"));
        assert!(
            line.starts_with("harness CPU: 4.50 s (threads of neither"),
            "{line}"
        );
    }

    #[test]
    fn the_reprocess_rows_show_each_phase() {
        let report = crate::html::tests::fixture();
        let table = render_table(&report);
        let from = &table[table.find("Reprocessing the whole history").unwrap()..];
        for (label, lambda, kappa) in [
            ("  setup (stores, job)", "0.250 s", "0.750 s"),
            ("  process (read and compute)", "2.00 s", "6.00 s"),
            ("  publish (until it serves)", "0.250 s", "0.750 s"),
            ("  total time", "2.50 s", "7.50 s"),
        ] {
            let cells = table_row(&from[from.find(label).unwrap()..], label);
            assert_eq!(
                (cells[0].as_str(), cells[1].as_str()),
                (lambda, kappa),
                "{label}"
            );
        }
    }
}
