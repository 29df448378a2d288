//! Reading a report: the plain-language verdict. It compares like with like — each
//! latency sentence is about one visibility level, read the same way for both
//! pipelines — claims a difference only where the pipelines' ranges over the repeats do
//! not overlap ("within noise" otherwise), and names the settings that decide it.
//!
//! Figures are written by [`crate::format`], as on the HTML page and in the terminal
//! table ([`crate::terminal`]).

#![warn(missing_docs)]

use crate::format::{
    count, millis, number, percent, percent_approx, rate, ratio, seconds, spread, whole_millis,
};
use crate::report::{Difference, FigureSummary, LatenessSource, Report, Stat, Summary, Visibility};
use crate::summary::{find, show_of};

/// How much better: `3.0x`, `12.5 %` below twice, or `infinitely` (against a zero).
fn times(r: f64) -> String {
    if !r.is_finite() {
        "infinitely".to_owned()
    } else if r < 2.0 {
        percent_approx(r - 1.0)
    } else {
        ratio(r)
    }
}

/// A figure's value over the runs, as the tables write it.
fn value(f: &FigureSummary, s: &Stat) -> String {
    spread(s.median, s.min, s.max, show_of(&f.key))
}

/// "Lambda … vs … (Kappa)": both values of a figure.
fn both(f: &FigureSummary) -> Option<(String, String)> {
    Some((value(f, f.lambda.as_ref()?), value(f, f.kappa.as_ref()?)))
}

/// How the comparison of a figure reads: who did better and by how much (of the
/// medians), or that the ranges overlap.
fn outcome(f: &FigureSummary, runs: u32) -> Option<String> {
    let (l, k) = (f.lambda.as_ref()?, f.kappa.as_ref()?);
    let (win, lose, who) = match f.difference {
        Difference::Lambda => (l.median, k.median, "Lambda"),
        Difference::Kappa => (k.median, l.median, "Kappa"),
        Difference::WithinNoise => {
            return Some(format!(
                "within noise (the ranges of {} runs overlap)",
                count(u64::from(runs))
            ));
        }
        Difference::Same => return Some("the same".to_owned()),
        Difference::NotCompared => return None,
    };
    let r = match f.better {
        crate::report::Better::Lower => lose / win,
        _ => win / lose,
    };
    Some(format!("{who} better by {}", times(r)))
}

/// Sentences on the run, from its figures only: latency at each level, correctness and
/// what the allowed lateness costs, CPU, reprocessing, code, the settings that decide
/// them, the control runs alone and the sustainable rates.
pub fn verdict(r: &Report) -> Vec<String> {
    let s = &r.summary;
    let mut v = Vec::new();
    if r.run.interrupted {
        v.push("The run was interrupted: the figures cover the records fed until then.".to_owned());
    }
    for level in Visibility::BOTH {
        if let Some(line) = latency_sentence(r, level) {
            v.push(line);
        }
    }
    v.push(correctness_sentence(r));
    if let Some(line) = lateness_cost(r) {
        v.push(line);
    }
    if let Some(f) = find(s, "cpu_seconds")
        && let (Some((l, k)), Some(o)) = (both(f), outcome(f, s.runs))
    {
        v.push(format!(
            "CPU: {l} (Lambda, {} {} over the growing history) vs {k} (Kappa): {o}.",
            count(r.batch_runs.len() as u64),
            if r.batch_runs.len() == 1 {
                "batch run"
            } else {
                "batch runs"
            },
        ));
    }
    v.extend(reprocess_sentence(r));
    let (lc, kc) = (
        &r.pipelines.lambda.complexity,
        &r.pipelines.kappa.complexity,
    );
    if lc.loc != kc.loc {
        let shared = lc.shared.as_ref().map_or(0, |s| s.loc);
        v.push(format!(
            "Code: {} lines charged to Lambda vs {} to Kappa (what each crate's public API \
             reaches; the {} lines both reach are charged to neither); cyclomatic complexity \
             {} vs {}, cognitive {} vs {}.",
            count(lc.loc),
            count(kc.loc),
            count(shared),
            count(lc.cyclomatic),
            count(kc.cyclomatic),
            count(lc.cognitive),
            count(kc.cognitive)
        ));
    }
    v.push(settings_sentence(r));
    v.extend(alone_sentence(r));
    v.extend(max_rate_sentence(r));
    v
}

/// Reprocessing: the median total of each pipeline, then its phases (medians of the
/// fresh runs) and the durability of both outputs.
fn reprocess_sentence(r: &Report) -> Option<String> {
    let s = &r.summary;
    let f = find(s, "reprocess_seconds")?;
    let (l, k) = both(f)?;
    let o = outcome(f, s.runs)?;
    let mut line = format!(
        "Reprocessing all {} records: {l} (Lambda's batch recompute) vs {k} (Kappa's \
         replay): {o}.",
        count(r.run.records_total)
    );
    let (lr, kr) = (&r.pipelines.lambda.reprocess, &r.pipelines.kappa.reprocess);
    if let (Some(lr), Some(kr)) = (lr, kr) {
        let phase = |key: &str| {
            let f = find(s, key)?;
            Some(format!(
                "{} vs {}",
                seconds(f.lambda.as_ref()?.median),
                seconds(f.kappa.as_ref()?.median)
            ))
        };
        let durability = if lr.durability == kr.durability {
            format!("both outputs {}", lr.durability)
        } else {
            format!(
                "not the same durability: Lambda's output {}, Kappa's {}",
                lr.durability, kr.durability
            )
        };
        line.push_str(&format!(
            " Medians of {} fresh runs each: setup {}, process {}, publish (until the new \
             version serves queries) {}; {durability}.",
            count(u64::from(lr.runs.min(kr.runs))),
            phase("reprocess_setup_seconds")?,
            phase("reprocess_process_seconds")?,
            phase("reprocess_publish_seconds")?,
        ));
    }
    Some(line)
}

/// Latency at one level: what each pipeline's query reads, p99 and medians.
fn latency_sentence(r: &Report, level: Visibility) -> Option<String> {
    let s = &r.summary;
    let key = |p: &str| format!("latency_{}_{p}_ms", level.name());
    let p99 = find(s, &key("p99"))?;
    let p50 = find(s, &key("p50"))?;
    let (l99, k99) = both(p99)?;
    let (l50, k50) = both(p50)?;
    let (lw, kw) = match level {
        Visibility::Fresh => (
            &r.pipelines.lambda.fresh.what,
            &r.pipelines.kappa.fresh.what,
        ),
        Visibility::Stable => (
            &r.pipelines.lambda.stable.what,
            &r.pipelines.kappa.stable.what,
        ),
    };
    Some(format!(
        "Latency, {} ({}; Lambda: {lw}; Kappa: {kw}): p99 {l99} (Lambda) vs {k99} (Kappa), \
         {}; medians {l50} vs {k50}.",
        level.name(),
        level.meaning(),
        outcome(p99, s.runs)?
    ))
}

/// Where the allowed lateness came from, in words.
fn lateness_words(r: &Report) -> String {
    let p = &r.params;
    match p.allowed_lateness_from {
        LatenessSource::Option => format!(
            "an allowed lateness of {} (given)",
            whole_millis(p.allowed_lateness_ms)
        ),
        LatenessSource::Data => format!(
            "an allowed lateness of {} (the least that covers the data's disorder)",
            whole_millis(p.allowed_lateness_ms)
        ),
    }
}

/// How exact both final answers are, and against what disorder.
fn correctness_sentence(r: &Report) -> String {
    let (lc, kc) = (
        &r.pipelines.lambda.correctness,
        &r.pipelines.kappa.correctness,
    );
    let disorder = r.disorder.as_ref().map_or(String::new(), |d| {
        format!(
            " The data arrived up to {} behind the newest event of its partition (p99 {}).",
            whole_millis(d.max_ms),
            millis(d.p99_ms)
        )
    });
    let exact = |c: &crate::report::Correctness| c.exact_cells == c.cells;
    if exact(lc) && exact(kc) {
        return format!(
            "Correctness: both final answers equal the oracle's in all {} cells, Kappa with \
             {}.{disorder}",
            count(lc.cells),
            lateness_words(r)
        );
    }
    format!(
        "Correctness: Lambda's final answer is exact in {} of {} cells (max error {}), \
         Kappa's in {} of {} cells (max error {}, {} late events dropped beyond {}).{disorder}",
        percent(lc.exact_fraction),
        count(lc.cells),
        number(lc.max_abs_error),
        percent(kc.exact_fraction),
        count(kc.cells),
        number(kc.max_abs_error),
        count(kc.late_dropped),
        lateness_words(r)
    )
}

/// What each pipeline dropped or corrected of the late data, and what the allowed
/// lateness costs Kappa: windows held open longer (final results later) and the state
/// that holds.
fn lateness_cost(r: &Report) -> Option<String> {
    let p = &r.params;
    let d = r.disorder.as_ref();
    let late = d.map_or(String::new(), |d| {
        if d.behind_watermark == 0 {
            return format!(
                "no record arrived behind Kappa's watermark (more than {} behind). ",
                whole_millis(p.watermark_bound_ms)
            );
        }
        format!(
            "{} records arrived behind Kappa's watermark (more than {} behind): Lambda's \
             speed layer counted every one of them at once as a correction of its window \
             (dropping none), Kappa dropped {} beyond its allowed lateness and counted the \
             rest. ",
            count(d.behind_watermark),
            whole_millis(p.watermark_bound_ms),
            count(r.pipelines.kappa.correctness.late_dropped)
        )
    });
    if p.allowed_lateness_ms <= 0 {
        return (!late.is_empty()).then(|| format!("Lateness: {}", late.trim_end()));
    }
    let held = r
        .pipelines
        .kappa
        .peak_state_cells
        .map_or(String::new(), |c| {
            format!("; it held up to {} cells of open windows", count(c))
        });
    Some(format!(
        "Lateness: {late}The allowed lateness costs Kappa: a window's result is final only \
         {} of event time after the window ends (watermark bound {} + allowed lateness \
         {}), and until then its cells stay in the task's state{held}.",
        whole_millis(p.watermark_bound_ms + p.allowed_lateness_ms),
        whole_millis(p.watermark_bound_ms),
        whole_millis(p.allowed_lateness_ms)
    ))
}

/// The settings that decide the comparison.
fn settings_sentence(r: &Report) -> String {
    let p = &r.params;
    format!(
        "Settings that decide it: Lambda's stable latency follows its batch period ({}: \
         a record waits for the next batch run's horizon, then for the run); Kappa's \
         follows its checkpoint interval ({}); Kappa's correctness follows {}; both \
         pipelines' fresh latency follows the machine's load ({} CPUs, shared with the \
         feed at {} records/s).",
        whole_millis(p.batch_every_ms),
        whole_millis(p.checkpoint_interval_ms),
        lateness_words(r),
        count(r.machine.cpus as u64),
        count(p.rate_eps)
    )
}

/// Each pipeline alone against both together: fresh p99 and CPU.
fn alone_sentence(r: &Report) -> Option<String> {
    let alone = &r.alone.as_ref()?.summary;
    let pair = |s: &Summary, key: &str, lambda: bool| -> Option<String> {
        let f = find(s, key)?;
        let st = if lambda {
            f.lambda.as_ref()?
        } else {
            f.kappa.as_ref()?
        };
        Some(value(f, st))
    };
    let mut parts = Vec::new();
    for (name, lambda) in [("Lambda", true), ("Kappa", false)] {
        parts.push(format!(
            "{name} fresh p99 {} alone vs {} together, stable p99 {} vs {}, CPU {} vs {}",
            pair(alone, "latency_fresh_p99_ms", lambda)?,
            pair(&r.summary, "latency_fresh_p99_ms", lambda)?,
            pair(alone, "latency_stable_p99_ms", lambda)?,
            pair(&r.summary, "latency_stable_p99_ms", lambda)?,
            pair(alone, "cpu_seconds", lambda)?,
            pair(&r.summary, "cpu_seconds", lambda)?,
        ));
    }
    Some(format!(
        "Alone vs together (the same feed, each pipeline by itself): {}.",
        parts.join("; ")
    ))
}

/// The sustainable rates, per pipeline and per core.
fn max_rate_sentence(r: &Report) -> Option<String> {
    let m = r.max_rate.as_ref()?;
    let one = |name: &str, s: &crate::report::RateSearch| match s.sustained_eps {
        Some(eps) => format!(
            "{name} {}{} ({} per CPU-second)",
            if s.feed_limited { "at least " } else { "" },
            rate(eps),
            s.per_core_eps.map_or("not measured".to_owned(), rate)
        ),
        None => format!("{name} none of the rates tried"),
    };
    Some(format!(
        "Sustainable throughput (fresh p99 and catch-up within {}, {} probes alone): {}; {}.",
        millis(m.p99_bound_ms),
        seconds(m.probe_seconds),
        one("Lambda", &m.lambda),
        one("Kappa", &m.kappa)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::html::tests::fixture;
    use crate::summary::summary_of;

    #[test]
    fn verdict_sentences_compare_each_level_and_use_the_shared_formatter() {
        let report = fixture();
        let v = verdict(&report);
        let fresh = v.iter().find(|s| s.starts_with("Latency, fresh")).unwrap();
        assert!(
            fresh.contains("p99 97.1 ms (Lambda) vs 291 ms (Kappa), Lambda better by 3.0x; medians 12.8 ms vs 38.2 ms."),
            "{fresh}"
        );
        assert!(
            fresh.contains("Lambda: in <memory>"),
            "says what it reads: {fresh}"
        );
        let stable = v.iter().find(|s| s.starts_with("Latency, stable")).unwrap();
        assert!(
            stable.contains("p99 1,942 ms (Lambda) vs 5,828 ms (Kappa)"),
            "{stable}"
        );
        let c = v.iter().find(|s| s.starts_with("Correctness")).unwrap();
        assert!(
            c.contains("exact in 100.00 % of 8,000 cells (max error 17.0), Kappa's in 96.87 % of 8,000 cells"),
            "{c}"
        );
        assert!(c.contains("an allowed lateness of 5,000 ms (given)"), "{c}");
        assert!(c.contains("up to 119,500 ms behind"), "{c}");
        let cost = v.iter().find(|s| s.starts_with("Lateness:")).unwrap();
        assert!(cost.contains("final only 7,000 ms"), "{cost}");
        assert!(cost.contains("1,234 cells of open windows"), "{cost}");
        assert!(
            cost.contains(
                "2,500 records arrived behind Kappa's watermark (more than 2,000 ms behind)"
            ),
            "{cost}"
        );
        assert!(cost.contains("Kappa dropped 77 beyond"), "{cost}");
        let r = v
            .iter()
            .find(|s| s.starts_with("Reprocessing all"))
            .unwrap();
        assert!(
            r.contains("2.50 s (Lambda's batch recompute) vs 7.50 s"),
            "{r}"
        );
        assert!(v.iter().any(|s| s.contains("1,234 lines")));
        assert!(v.iter().any(|s| s.starts_with("Settings that decide it")
            && s.contains("batch period (3,000 ms")
            && s.contains("checkpoint interval (250 ms)")));
    }

    #[test]
    fn overlapping_ranges_are_within_noise() {
        let mut report = fixture();
        let (l, k) = (&report.pipelines.lambda, &report.pipelines.kappa);
        // Kappa's fresh p99 in one run falls inside Lambda's range.
        let mut fast = k.clone();
        fast.fresh.latency_ms.as_mut().unwrap().p99 = 100.0;
        let mut slow = l.clone();
        slow.fresh.latency_ms.as_mut().unwrap().p99 = 150.0;
        report.summary = summary_of(&[(l, k), (&slow, &fast)]);
        let v = verdict(&report);
        let fresh = v.iter().find(|s| s.starts_with("Latency, fresh")).unwrap();
        assert!(
            fresh.contains("within noise (the ranges of 2 runs overlap)"),
            "{fresh}"
        );
        // Two runs: the median is the mean of both.
        assert!(fresh.contains("p99 124 ms (97.1–150) (Lambda)"), "{fresh}");
        let html = crate::html::render(&report);
        let row = &html[html
            .find("<tr data-metric=\"latency_fresh_p99_ms\"")
            .unwrap()..];
        let row = &row[..row.find("</tr>").unwrap()];
        assert!(row.contains("data-difference=\"within_noise\""), "{row}");
        assert!(
            !row.contains("class=\"better\""),
            "no shading within noise: {row}"
        );
    }

    #[test]
    fn the_reprocess_sentence_gives_each_phase_and_the_durability() {
        let mut report = fixture();
        let find_line = |v: Vec<String>| {
            v.into_iter()
                .find(|s| s.starts_with("Reprocessing all"))
                .unwrap()
        };
        let r = find_line(verdict(&report));
        assert!(
            r.contains(
                "Medians of 3 fresh runs each: setup 0.250 s vs 0.750 s, process 2.00 s vs \
                 6.00 s, publish (until the new version serves queries) 0.250 s vs 0.750 s; \
                 both outputs synced."
            ),
            "{r}"
        );
        report
            .pipelines
            .kappa
            .reprocess
            .as_mut()
            .unwrap()
            .durability = "unsynced".into();
        let r = find_line(verdict(&report));
        assert!(
            r.contains("not the same durability: Lambda's output synced, Kappa's unsynced"),
            "{r}"
        );
    }
}
