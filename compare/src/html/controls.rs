//! The control runs and searches: each pipeline alone on the same feed against both
//! together (`<table id="alone">`), and the sustainable rate of each
//! (`<table id="max-rate">`, with every probe).

use std::fmt::Write as _;

use super::markup::{esc, num};
use super::table::figure_cell;
use crate::format::{NOT_MEASURED, count, millis, or_not_measured, rate, seconds};
use crate::report::{Probe, RateSearch, Report};
use crate::summary::{find, show_of};

/// `<section id="alone">`, when the report has the control runs.
pub(crate) fn alone(out: &mut String, r: &Report) {
    let Some(a) = &r.alone else {
        return;
    };
    w!(
        out,
        "<section id=\"alone\">\n<h2>Alone vs together</h2>\n<p class=\"note\">Each \
         pipeline by itself on the same feed, against both running together: what one \
         costs the other on this machine.</p>\n<table id=\"alone\">\n<thead><tr><th></th>\
         <th class=\"lambda\">Lambda alone</th><th class=\"lambda\">together</th>\
         <th class=\"kappa\">Kappa alone</th><th class=\"kappa\">together</th></tr></thead>\n\
         <tbody>\n"
    );
    for f in &a.summary.figures {
        let t = find(&r.summary, &f.key);
        let show = show_of(&f.key);
        w!(
            out,
            "<tr data-metric=\"{}\"><th>{}</th>",
            esc(&f.key),
            esc(&crate::terminal::alone_label(f))
        );
        figure_cell(out, "lambda-alone", f.lambda.as_ref(), show, false);
        figure_cell(
            out,
            "lambda",
            t.and_then(|t| t.lambda.as_ref()),
            show,
            false,
        );
        figure_cell(out, "kappa-alone", f.kappa.as_ref(), show, false);
        figure_cell(out, "kappa", t.and_then(|t| t.kappa.as_ref()), show, false);
        w!(out, "</tr>\n");
    }
    w!(out, "</tbody>\n</table>\n</section>\n");
}

/// `<section id="max-rate">`, when the report has the search.
pub(crate) fn max_rate(out: &mut String, r: &Report) {
    let Some(m) = &r.max_rate else {
        return;
    };
    w!(
        out,
        "<section id=\"max-rate\">\n<h2>Sustainable throughput</h2>\n<p class=\"note\">The \
         highest feed rate each pipeline sustains alone (Karimov et al., ICDE 2018): its \
         fresh p99 and its catch-up after the feed within {}, over probes of {} each.</p>\n",
        millis(m.p99_bound_ms),
        seconds(m.probe_seconds)
    );
    w!(
        out,
        "<table id=\"max-rate\">\n<thead><tr><th></th><th class=\"lambda\">Lambda</th>\
         <th class=\"kappa\">Kappa</th></tr></thead>\n<tbody>\n"
    );
    let row = |out: &mut String, key: &str, label: &str, f: fn(&RateSearch) -> Option<f64>| {
        w!(out, "<tr data-metric=\"{key}\"><th>{}</th>", esc(label));
        for (p, s) in [("lambda", &m.lambda), ("kappa", &m.kappa)] {
            match f(s) {
                Some(v) => w!(
                    out,
                    "<td data-pipeline=\"{p}\" data-value=\"{}\">{}{}</td>",
                    num(v),
                    if s.feed_limited && key == "sustained_eps" {
                        "≥ "
                    } else {
                        ""
                    },
                    esc(&rate(v))
                ),
                None => w!(
                    out,
                    "<td data-pipeline=\"{p}\" class=\"not-measured\">{NOT_MEASURED}</td>"
                ),
            }
        }
        w!(out, "</tr>\n");
    };
    row(out, "sustained_eps", "sustained rate", |s| s.sustained_eps);
    row(out, "per_core_eps", "per CPU-second", |s| s.per_core_eps);
    w!(out, "</tbody>\n</table>\n");
    for (name, s) in [("Lambda", &m.lambda), ("Kappa", &m.kappa)] {
        probes(out, name, &s.probes);
    }
    w!(out, "</section>\n");
}

/// A pipeline's probes, folded.
fn probes(out: &mut String, name: &str, probes: &[Probe]) {
    w!(
        out,
        "<details><summary>{name}: {} probes</summary>\n<table class=\"probes\" \
         data-pipeline=\"{}\">\n<thead><tr><th>rate</th><th>sustained</th><th>fresh p99</th>\
         <th>catch-up</th><th>CPU</th><th>feed behind</th></tr></thead>\n<tbody>\n",
        count(probes.len() as u64),
        name.to_lowercase()
    );
    for p in probes {
        w!(
            out,
            "<tr data-rate=\"{}\" data-sustained=\"{}\"><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td></tr>\n",
            num(p.rate_eps),
            p.sustained,
            esc(&rate(p.rate_eps)),
            if p.sustained { "yes" } else { "no" },
            esc(&or_not_measured(p.fresh_p99_ms, millis)),
            esc(&or_not_measured(p.catch_up_seconds, seconds)),
            esc(&seconds(p.cpu_seconds)),
            esc(&millis(p.feed_behind_ms))
        );
    }
    w!(out, "</tbody>\n</table>\n</details>\n");
}
