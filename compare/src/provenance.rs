//! How a report was made: the program's version and the commit it was built from (see
//! `build.rs`), the command as typed, and a command line that reproduces the run with
//! every setting written out.

use crate::options::{CompareOptions, Source};
use crate::report::Provenance;

/// The provenance of a run with `opts`.
pub(crate) fn provenance(opts: &CompareOptions, allowed_lateness_ms: i64) -> Provenance {
    Provenance {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        commit: option_env!("LK_GIT_COMMIT").map(str::to_owned),
        command: opts.command.clone(),
        reproduce: reproduce(opts, allowed_lateness_ms),
    }
}

/// `s` quoted for a POSIX shell when it needs to be.
pub fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=,:@%+".contains(c));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// A command line that runs the same comparison: every setting that decides the
/// figures, written out (defaults can change between versions), the allowed lateness as
/// the run used it.
pub(crate) fn reproduce(opts: &CompareOptions, allowed_lateness_ms: i64) -> String {
    let ms = |v: u128| format!("{v}ms");
    let mut a: Vec<String> = vec!["lk".into(), "compare".into()];
    let mut flag = |name: &str, value: String| {
        a.push(format!("--{name}"));
        a.push(shell_quote(&value));
    };
    match &opts.source {
        Source::Generate(d) => {
            flag("dataset", d.name().to_owned());
            flag("events", opts.events.to_string());
            flag("rate", opts.rate.to_string());
            if let Some(e) = opts.event_rate {
                flag("event-rate", e.to_string());
            }
            flag("partitions", opts.partitions.to_string());
            flag("seed", opts.seed.to_string());
            flag("out-of-order", opts.out_of_order.to_string());
            flag("max-delay", ms(u128::from(opts.max_delay_ms)));
            flag("late", opts.late.to_string());
            flag("late-delay", ms(u128::from(opts.late_delay_ms)));
            flag("duplicates", opts.duplicates.to_string());
        }
        Source::Topic(t) => flag("topic", t.clone()),
    }
    for w in &opts.workloads {
        flag("workload", w.name().to_owned());
    }
    flag("batch-every", ms(opts.batch_every.as_millis()));
    flag("allowed-lateness", ms(allowed_lateness_ms.max(0) as u128));
    flag("watermark-bound", ms(opts.watermark_bound().max(0) as u128));
    flag("checkpoint-every", ms(opts.checkpoint_interval.as_millis()));
    flag("workers", opts.kappa_workers.to_string());
    flag("repeat", opts.repeat.to_string());
    if opts.reprocess {
        flag("reprocess-runs", opts.reprocess_runs.to_string());
    }
    if let Some(s) = &opts.sweep {
        flag("sweep", s.text());
    }
    if let Some(m) = &opts.find_max_rate {
        flag("max-rate-p99", ms(m.p99_bound.as_millis()));
        flag("max-rate-probe", ms(m.probe.as_millis()));
    }
    if opts.alone {
        a.push("--alone".into());
    }
    if opts.find_max_rate.is_some() {
        a.push("--find-max-rate".into());
    }
    if !opts.reprocess {
        a.push("--no-reprocess".into());
    }
    a.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reproducing_command_writes_every_setting() {
        let mut o = CompareOptions::new("w", "s");
        o.repeat = 3;
        o.alone = true;
        let r = reproduce(&o, 28_000);
        assert!(
            r.starts_with("lk compare --dataset ysb --events 2000000 --rate 50000 --partitions 4"),
            "{r}"
        );
        for part in [
            "--late-delay 15000ms",
            "--batch-every 10000ms",
            "--allowed-lateness 28000ms",
            "--watermark-bound 2000ms",
            "--checkpoint-every 250ms",
            "--workers 2",
            "--repeat 3",
            "--reprocess-runs 3",
            "--alone",
        ] {
            assert!(r.contains(part), "{part} in {r}");
        }
        assert!(!r.contains("--no-reprocess"));
    }

    #[test]
    fn odd_words_are_quoted() {
        assert_eq!(shell_quote("ysb-campaign-10s"), "ysb-campaign-10s");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
