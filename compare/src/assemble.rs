//! Turning what the run measured into the report's figures: latency percentiles and CDF
//! at each visibility level, the timeline of each pipeline, and its headline figures.
//! Each pipeline's figures are made by the same function from the same kinds of
//! measurement.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::observe::{Reading, Seen};
use crate::pipelines::Phases;
use crate::report::{CdfPoint, Complexity, Correctness, Latency, Level, PipelineReport, Sample};
use crate::reprocess::History;
use crate::score::pool;

/// What was measured of one pipeline, besides what its observer saw.
#[derive(Debug)]
pub(crate) struct Measured<'a> {
    /// Its place in the readings' and scores' pipeline order.
    pub index: usize,
    /// Per visibility level, in [`crate::report::Visibility::BOTH`] order.
    pub seen: &'a [Seen; 2],
    /// What a query at each level reads.
    pub what: [&'static str; 2],
    pub cpu_seconds: f64,
    pub peak_heap_bytes: Option<u64>,
    pub stable_updates: u64,
    /// Final correctness per workload.
    pub finals: Vec<Correctness>,
    /// Correctness per reading (pooled over workloads), `None` where not taken.
    pub over_time: Vec<Option<Correctness>>,
    /// Reprocessing phases per workload, per run (empty when not run).
    pub reprocess: &'a [Vec<Phases>],
    /// How the pipeline's reprocessing output is written.
    pub reprocess_durability: &'static str,
    /// What one reprocessing of a workload reads.
    pub history: History,
    pub complexity: Complexity,
}

/// The run as a whole, the same for both pipelines.
#[derive(Debug)]
pub(crate) struct RunFacts<'a> {
    pub start: Instant,
    pub feed_end: Instant,
    pub fed: bool,
    /// Records the run measured (fed, or the topic's total without a feed).
    pub records_seen: u64,
    pub readings: &'a [Reading],
}

/// One pipeline's figures.
pub(crate) fn pipeline_report(m: Measured<'_>, run: &RunFacts<'_>) -> PipelineReport {
    let [fresh, stable] = [0, 1].map(|l| level(&m.seen[l], m.what[l], run));
    let last = *m.seen[0].last_visible.lock();
    let elapsed = last.map(|l| l.saturating_duration_since(run.start).as_secs_f64());
    let reprocess = crate::reprocess::figures(m.reprocess, m.history, m.reprocess_durability);
    PipelineReport {
        fresh,
        stable,
        throughput_eps: elapsed
            .filter(|e| *e > 0.0)
            .map(|e| run.records_seen as f64 / e),
        cpu_seconds: m.cpu_seconds,
        peak_heap_bytes: m.peak_heap_bytes,
        stable_updates: m.stable_updates,
        peak_state_cells: run
            .readings
            .iter()
            .filter_map(|r| r.pipelines[m.index].state_cells)
            .max(),
        correctness: pool(&m.finals),
        reprocess_seconds: reprocess.as_ref().map(|r| r.total.median),
        reprocess_eps: reprocess.as_ref().and_then(|r| r.total_eps),
        reprocess,
        complexity: m.complexity,
        timeline: timeline(m.index, m.seen, &m.over_time, run.readings),
    }
}

/// The latency figures of one visibility level.
fn level(seen: &Seen, what: &str, run: &RunFacts<'_>) -> Level {
    let (latency_ms, latency_cdf) = {
        let hist = seen.hist.lock();
        if run.fed && !hist.is_empty() {
            (Some(latency_of(&hist)), cdf_of(&hist))
        } else {
            (None, Vec::new())
        }
    };
    let last = *seen.last_visible.lock();
    Level {
        what: what.to_owned(),
        latency_ms,
        latency_cdf,
        catch_up_seconds: last.map(|l| l.saturating_duration_since(run.feed_end).as_secs_f64()),
    }
}

/// The pipeline's state at each reading, with the p99 latency, per level, of the
/// batches that became visible since the previous one.
fn timeline(
    index: usize,
    seen: &[Seen; 2],
    over_time: &[Option<Correctness>],
    readings: &[Reading],
) -> Vec<Sample> {
    let samples = [seen[0].samples.lock(), seen[1].samples.lock()];
    let mut out = Vec::with_capacity(readings.len());
    let mut prev = Duration::ZERO;
    for (r, c) in readings.iter().zip(over_time) {
        let [p99, stable_p99] = [0, 1].map(|l| {
            let mut window: Vec<f64> = samples[l]
                .iter()
                .filter(|(at, _)| *at > prev && *at <= r.t)
                .map(|(_, lat)| lat.as_secs_f64() * 1000.0)
                .collect();
            quantile(&mut window, 0.99)
        });
        prev = r.t;
        let p = &r.pipelines[index];
        out.push(Sample {
            t_s: r.t.as_secs_f64(),
            staleness_ms: p.staleness[0].as_secs_f64() * 1000.0,
            stable_staleness_ms: p.staleness[1].as_secs_f64() * 1000.0,
            visible_records: p.visible,
            batch_view_age_ms: p.view_age.map(|a| a.as_secs_f64() * 1000.0),
            correctness: c.clone(),
            latency_p99_ms: p99,
            stable_latency_p99_ms: stable_p99,
        });
    }
    out
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

pub(crate) fn latency_of(h: &Histogram<u64>) -> Latency {
    Latency {
        p50: ms(h.value_at_quantile(0.50)),
        p95: ms(h.value_at_quantile(0.95)),
        p99: ms(h.value_at_quantile(0.99)),
        max: ms(h.max()),
        samples: h.len(),
    }
}

/// The latency CDF at fixed fractions (denser in the tail).
pub(crate) fn cdf_of(h: &Histogram<u64>) -> Vec<CdfPoint> {
    const FRACTIONS: [f64; 24] = [
        0.0, 0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.925, 0.95, 0.97,
        0.98, 0.99, 0.995, 0.999, 0.9995, 0.9999, 0.99999, 1.0,
    ];
    FRACTIONS
        .iter()
        .map(|&q| CdfPoint {
            latency_ms: ms(if q >= 1.0 {
                h.max()
            } else {
                h.value_at_quantile(q)
            }),
            fraction: q,
        })
        .collect()
}

/// The `q` quantile (nearest rank) of `xs`, `None` when empty.
pub(crate) fn quantile(xs: &mut [f64], q: f64) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let rank = ((q * xs.len() as f64).ceil() as usize).clamp(1, xs.len());
    Some(xs[rank - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_rank() {
        let mut xs = vec![5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(quantile(&mut xs, 0.5), Some(3.0));
        assert_eq!(quantile(&mut xs, 0.99), Some(5.0));
        assert_eq!(quantile(&mut xs, 0.0), Some(1.0));
        assert_eq!(quantile(&mut [], 0.5), None);
    }
}
