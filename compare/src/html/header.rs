//! The page's header: its title, how the report was made (version, commit, the command
//! and the one that reproduces it), the run's parameters, its machine, the run's own
//! figures and the data's disorder; then the warnings.

use std::fmt::Write as _;

use super::markup::{esc, num};
use crate::format::{bytes, count, millis, or_not_measured, percent_approx, seconds, whole_millis};
use crate::report::{LatenessSource, Machine, Params, Provenance, Report};

/// `<header>`: the title, a line on the run, and three lists of facts
/// (`<dl id="params|machine|run">`).
pub(crate) fn section(out: &mut String, r: &Report, title: &str) {
    w!(out, "<header>\n<h1>{}</h1>\n", esc(title));
    w!(
        out,
        "<p class=\"sub\">Lambda and Kappa on the same log, started {} UTC, {} of wall clock. \
         <a id=\"lk-download\" hidden download=\"lk-compare-report.json\">Report JSON</a></p>\n",
        esc(&r.run.started),
        seconds(r.run.wall_seconds)
    );
    if r.run.interrupted {
        w!(
            out,
            "<p class=\"warning\" id=\"interrupted\">Interrupted (Ctrl-C): the figures cover \
             what ran until then.</p>\n"
        );
    }
    provenance(out, &r.provenance);
    w!(out, "<div class=\"facts\">\n");
    facts(out, "Parameters", "params", &params_facts(&r.params));
    facts(out, "Machine", "machine", &machine_facts(&r.machine));
    facts(out, "Run", "run", &run_facts(r));
    w!(out, "</div>\n</header>\n");
}

/// `<dl id="provenance">`: version, commit, the command as typed and the one that
/// reproduces the run.
fn provenance(out: &mut String, p: &Provenance) {
    w!(out, "<dl id=\"provenance\" class=\"provenance\">\n");
    w!(
        out,
        "<dt>lk</dt><dd>{} ({})</dd>\n",
        esc(&p.version),
        esc(&p
            .commit
            .as_deref()
            .map_or("commit unknown".to_owned(), |c| format!("commit {c}")))
    );
    if let Some(c) = &p.command {
        w!(out, "<dt>command</dt><dd><code>{}</code></dd>\n", esc(c));
    }
    w!(
        out,
        "<dt>reproduce</dt><dd><code id=\"reproduce\">{}</code></dd>\n</dl>\n",
        esc(&p.reproduce)
    );
}

/// `<section id="warnings">`: why the figures may not be enough to judge by.
pub(crate) fn warnings(out: &mut String, warnings: &[String]) {
    if warnings.is_empty() {
        return;
    }
    w!(out, "<section id=\"warnings\">\n<h2>Warnings</h2>\n<ul>\n");
    for w in warnings {
        w!(out, "<li class=\"warning\">{}</li>\n", esc(w));
    }
    w!(out, "</ul>\n</section>\n");
}

/// One titled `<dl id="{id}">` of facts.
fn facts(out: &mut String, title: &str, id: &str, rows: &[(&str, String)]) {
    w!(out, "<div>\n<h3>{}</h3>\n<dl id=\"{id}\">\n", esc(title));
    for (k, v) in rows {
        w!(out, "<dt>{}</dt><dd>{}</dd>\n", esc(k), esc(v));
    }
    w!(out, "</dl>\n</div>\n");
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// A parameter fraction (`--late 0.01`) with its percentage.
fn fraction_text(v: f64) -> String {
    format!("{} ({})", num(v), percent_approx(v))
}

/// The run's options.
fn params_facts(p: &Params) -> Vec<(&'static str, String)> {
    vec![
        ("dataset", p.dataset.clone().unwrap_or_else(|| "—".into())),
        ("topic", p.topic.clone()),
        ("fed by the run", yes_no(p.fed).into()),
        ("workloads", p.workloads.join(", ")),
        ("events", count(p.events)),
        ("rate", format!("{} records/s", count(p.rate_eps))),
        ("partitions", p.partitions.to_string()),
        ("seed", p.seed.to_string()),
        ("out of order", fraction_text(p.out_of_order)),
        ("max delay", whole_millis(p.max_delay_ms)),
        ("late", fraction_text(p.late)),
        ("late delay", whole_millis(p.late_delay_ms)),
        ("duplicates", fraction_text(p.duplicates)),
        ("batch every", whole_millis(p.batch_every_ms)),
        (
            "allowed lateness",
            format!(
                "{} ({})",
                whole_millis(p.allowed_lateness_ms),
                match p.allowed_lateness_from {
                    LatenessSource::Option => "given",
                    LatenessSource::Data => "covers the data's disorder",
                }
            ),
        ),
        ("watermark bound", whole_millis(p.watermark_bound_ms)),
        (
            "checkpoint interval",
            whole_millis(p.checkpoint_interval_ms),
        ),
        ("Kappa workers", p.kappa_workers.to_string()),
        ("runs", p.repeat.to_string()),
    ]
}

/// What the run ran on.
fn machine_facts(m: &Machine) -> Vec<(&'static str, String)> {
    vec![
        ("os / arch", format!("{} / {}", m.os, m.arch)),
        ("cpus", m.cpus.to_string()),
        ("memory", or_not_measured(m.memory_bytes, bytes)),
        ("cpu model", or_not_measured(m.cpu_model.clone(), |s| s)),
        ("lk version", m.lk_version.clone()),
    ]
}

/// The run's own figures.
fn run_facts(r: &Report) -> Vec<(&'static str, String)> {
    let run = &r.run;
    vec![
        ("started", format!("{} UTC", run.started)),
        ("wall clock", seconds(run.wall_seconds)),
        ("feed", seconds(run.feed_seconds)),
        ("records fed", count(run.records_fed)),
        ("records in topic", count(run.records_total)),
        ("interrupted", yes_no(run.interrupted).into()),
        (
            "peak RSS (process)",
            or_not_measured(run.peak_rss_bytes, bytes),
        ),
        ("harness CPU", seconds(run.harness_cpu_seconds)),
        ("feed behind schedule", millis(run.feed_behind_ms)),
        ("Lambda batch runs", count(r.batch_runs.len() as u64)),
        (
            "disorder max / p99",
            r.disorder.as_ref().map_or("not measured".to_owned(), |d| {
                format!("{} / {}", whole_millis(d.max_ms), millis(d.p99_ms))
            }),
        ),
        (
            "late / too late",
            r.disorder.as_ref().map_or("not measured".to_owned(), |d| {
                format!(
                    "{} / {}",
                    count(d.behind_watermark),
                    count(d.beyond_allowed_lateness)
                )
            }),
        ),
    ]
}
