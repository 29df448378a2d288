//! Why a report's figures may not be enough to judge by: a run too short for the
//! pipelines to make their results stable more than once or to give 1,000 latency
//! samples, a single run (no noise estimate), a feed that fell behind its schedule, an
//! interrupted run. Shown in the terminal, the JSON and the HTML alike.

use crate::format::{count, millis};
use crate::report::{Level, PipelineReport, Report, Visibility};

/// Fewer stable updates (batch runs, checkpoints) than this and a pipeline's stable
/// latency is judged on too little.
pub const MIN_STABLE_UPDATES: u64 = 2;
/// Fewer latency samples than this and percentiles are judged on too little.
pub const MIN_LATENCY_SAMPLES: u64 = 1_000;
/// A feed behind its schedule by more than this delays every latency measured.
const FEED_BEHIND_MS: f64 = 100.0;

/// The warnings of `r`, `done` of `planned` runs having been made.
pub(crate) fn warnings(r: &Report, done: u32, planned: u32) -> Vec<String> {
    let mut w = Vec::new();
    if r.run.interrupted || done < planned {
        w.push(format!(
            "Interrupted: {} of {} runs made; the figures cover what ran until then.",
            count(u64::from(done)),
            count(u64::from(planned))
        ));
    }
    if r.summary.runs < 2 {
        w.push(
            "One run only: there is no estimate of run-to-run noise, and a difference is \
             taken as measured (run with --repeat 3 or more)."
                .to_owned(),
        );
    }
    for (name, p, what) in [
        (
            "Lambda",
            &r.pipelines.lambda,
            ["batch run published", "batch runs published"],
        ),
        ("Kappa", &r.pipelines.kappa, ["checkpoint", "checkpoints"]),
    ] {
        short_run(&mut w, name, p, what);
    }
    if r.params.fed && r.run.feed_behind_ms > FEED_BEHIND_MS {
        w.push(format!(
            "The feed fell up to {} behind its schedule: the machine did not keep the rate \
             of {} records/s, and every latency includes that delay.",
            millis(r.run.feed_behind_ms),
            count(r.params.rate_eps)
        ));
    }
    w
}

/// The warnings of one pipeline's run: too few stable updates, too few samples.
fn short_run(w: &mut Vec<String>, name: &str, p: &PipelineReport, [one, many]: [&str; 2]) {
    if p.stable_updates < MIN_STABLE_UPDATES {
        let what = if p.stable_updates == 1 { one } else { many };
        w.push(format!(
            "Too short to judge {name}'s stable results: {} {what} during the run (fewer \
             than {MIN_STABLE_UPDATES}).",
            count(p.stable_updates)
        ));
    }
    for (level, l) in [
        (Visibility::Fresh, &p.fresh),
        (Visibility::Stable, &p.stable),
    ] {
        if let Some(samples) = samples(l)
            && samples < MIN_LATENCY_SAMPLES
        {
            w.push(format!(
                "Too few samples to judge {name}'s {} latency: {} batches of records \
                 (fewer than {}).",
                level.name(),
                count(samples),
                count(MIN_LATENCY_SAMPLES)
            ));
        }
    }
}

fn samples(l: &Level) -> Option<u64> {
    l.latency_ms.map(|l| l.samples)
}
