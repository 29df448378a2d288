//! `--find-max-rate`: the highest feed rate each pipeline sustains on this machine, in
//! the sense of Karimov et al. (ICDE 2018, "Benchmarking Distributed Stream Data
//! Processing Systems"): a rate is sustained when the pipeline keeps up with it over the
//! run — its fresh latency's p99 stays within a bound and no backlog is left at the end
//! of the feed (it catches up within the same bound). Each probe runs the pipeline alone
//! for a fixed time at one rate; the search doubles the rate until a probe fails (or
//! halves it until one holds), then narrows the gap by bisection.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use master_log::Log;

use crate::options::{CompareOptions, MaxRateOptions};
use crate::pipelines::Architecture;
use crate::report::{MaxRate, Probe, RateSearch};
use crate::run::{Code, Counter, Progress, Scope, once};
use crate::{CompareError, Result};

/// The most probes per pipeline.
const MAX_PROBES: usize = 12;
/// The search stops when the highest sustained and the lowest failed rate are this close.
const CLOSE_ENOUGH: f64 = 1.15;
/// The rates it tries stay within these.
const MIN_RATE: u64 = 1_000;
const MAX_RATE: u64 = 20_000_000;

/// Search both pipelines' sustainable rates, starting at `opts.rate`.
pub(crate) fn search(
    log: &Arc<dyn Log>,
    opts: &CompareOptions,
    m: &MaxRateOptions,
    code: &Code,
    counter: &mut Counter,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(&Progress),
) -> Result<MaxRate> {
    let mut searches = Vec::new();
    for arch in Architecture::BOTH {
        let mut probe = |rate: u64| -> Result<Probe> {
            let scope = counter.probe(arch);
            probe_at(log, opts, m, code, &scope, rate, stop, progress)
        };
        searches.push(search_one(opts.rate, m, &mut probe, stop)?);
    }
    let kappa = searches.pop().unwrap_or_else(empty);
    let lambda = searches.pop().unwrap_or_else(empty);
    Ok(MaxRate {
        p99_bound_ms: m.p99_bound.as_secs_f64() * 1000.0,
        probe_seconds: m.probe.as_secs_f64(),
        lambda,
        kappa,
    })
}

fn empty() -> RateSearch {
    RateSearch {
        sustained_eps: None,
        per_core_eps: None,
        feed_limited: false,
        probes: Vec::new(),
    }
}

/// A rate as tried: whole thousands from 2,000 on.
fn round(rate: f64) -> u64 {
    let r = if rate >= 2_000.0 {
        (rate / 1_000.0).round() * 1_000.0
    } else {
        rate.round()
    };
    (r as u64).clamp(MIN_RATE, MAX_RATE)
}

/// One pipeline's search from `start`, each rate tried by `probe`.
fn search_one(
    start: u64,
    m: &MaxRateOptions,
    probe: &mut dyn FnMut(u64) -> Result<Probe>,
    stop: &AtomicBool,
) -> Result<RateSearch> {
    let bound_ms = m.p99_bound.as_secs_f64() * 1000.0;
    let mut s = empty();
    // The highest sustained probe (its index), the lowest failed rate and whether it
    // failed for the feed.
    let (mut lo, mut hi): (Option<usize>, Option<(u64, bool)>) = (None, None);
    let mut rate = round(start as f64);
    for _ in 0..MAX_PROBES {
        if stop.load(Ordering::SeqCst) || s.probes.iter().any(|p| round(p.rate_eps) == rate) {
            break;
        }
        let p = match probe(rate) {
            // Ctrl-C before this probe fed anything: the search ends with what it has.
            Err(CompareError::Interrupted) => break,
            r => r?,
        };
        if p.sustained {
            if lo.is_none_or(|i| s.probes[i].rate_eps < p.rate_eps) {
                lo = Some(s.probes.len());
            }
        } else if hi.is_none_or(|(h, _)| rate < h) {
            hi = Some((rate, feed_limited(&p, bound_ms)));
        }
        s.probes.push(p);
        let lo_rate = lo.map(|i| s.probes[i].rate_eps);
        rate = match (lo_rate, hi.map(|h| h.0)) {
            (Some(l), Some(h)) => {
                if h as f64 / l <= CLOSE_ENOUGH {
                    break;
                }
                round((l * h as f64).sqrt())
            }
            (Some(l), None) if l as u64 >= MAX_RATE => break,
            (Some(l), None) => round(l * 2.0),
            (None, Some(h)) if h <= MIN_RATE => break,
            (None, Some(h)) => round(h as f64 / 2.0),
            (None, None) => break,
        };
    }
    s.feed_limited = hi.is_some_and(|h| h.1);
    if let Some(i) = lo {
        let l = &s.probes[i];
        s.sustained_eps = Some(l.rate_eps);
        s.per_core_eps = (l.cpu_seconds > 0.0).then(|| l.records as f64 / l.cpu_seconds);
    }
    Ok(s)
}

/// Whether a failed probe failed for the feed: it fell behind its schedule by more than
/// the bound, while the pipeline showed what was appended within the bound of it (the
/// machine could not append at that rate while the pipeline ran, so the pipeline's own
/// limit is not known).
fn feed_limited(p: &Probe, bound_ms: f64) -> bool {
    p.feed_behind_ms > bound_ms
        && p.fresh_p99_ms
            .is_some_and(|v| v - p.feed_behind_ms <= bound_ms)
}

/// One probe: `arch` alone fed at `rate` for the probe's time.
#[allow(clippy::too_many_arguments)]
fn probe_at(
    log: &Arc<dyn Log>,
    opts: &CompareOptions,
    m: &MaxRateOptions,
    code: &Code,
    scope: &Scope,
    rate: u64,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Probe> {
    let mut o = opts.clone();
    o.rate = rate;
    o.events = ((rate as f64 * m.probe.as_secs_f64()) as u64).max(1);
    o.reprocess = false;
    let outcome = once(log.clone(), &o, scope, code, stop, progress)?;
    let arch = scope.archs[0];
    let p = outcome.get(arch);
    let p99 = p.and_then(|p| p.fresh.latency_ms.map(|l| l.p99));
    let catch_up = p.and_then(|p| p.fresh.catch_up_seconds);
    let bound_ms = m.p99_bound.as_secs_f64() * 1000.0;
    Ok(Probe {
        rate_eps: rate as f64,
        sustained: !outcome.run.interrupted
            && p99.is_some_and(|v| v <= bound_ms)
            && catch_up.is_some_and(|c| c * 1000.0 <= bound_ms),
        fresh_p99_ms: p99,
        catch_up_seconds: catch_up,
        cpu_seconds: p.map_or(0.0, |p| p.cpu_seconds),
        records: outcome.run.records_fed,
        feed_behind_ms: outcome.run.feed_behind_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn fake(limit: u64) -> impl FnMut(u64) -> Result<Probe> {
        move |rate| {
            Ok(Probe {
                rate_eps: rate as f64,
                sustained: rate <= limit,
                fresh_p99_ms: Some(1.0),
                catch_up_seconds: Some(0.0),
                cpu_seconds: 2.0,
                records: rate * 10,
                feed_behind_ms: 0.0,
            })
        }
    }

    #[test]
    fn the_search_brackets_the_highest_sustained_rate() {
        let m = MaxRateOptions {
            p99_bound: Duration::from_secs(1),
            probe: Duration::from_secs(10),
        };
        let stop = AtomicBool::new(false);
        let s = search_one(50_000, &m, &mut fake(180_000), &stop).unwrap();
        let got = s.sustained_eps.unwrap();
        assert!(
            (157_000.0..=180_000.0).contains(&got),
            "{got}: {:?}",
            s.probes
        );
        assert!(s.probes.len() <= MAX_PROBES);
        assert_eq!(s.per_core_eps, Some(got * 10.0 / 2.0));
        // Failing from the start: halves until one holds.
        let s = search_one(50_000, &m, &mut fake(9_000), &stop).unwrap();
        assert!(s.sustained_eps.unwrap() <= 9_000.0);
        // Never sustained: none.
        let s = search_one(5_000, &m, &mut fake(0), &stop).unwrap();
        assert_eq!(s.sustained_eps, None);
        assert!(!s.feed_limited);
        // A feed that cannot keep the rate: the result is a lower bound.
        let mut feed_bound = |rate: u64| {
            let mut p = fake(u64::MAX)(rate)?;
            if rate > 100_000 {
                p.sustained = false;
                p.feed_behind_ms = 3_000.0;
                p.fresh_p99_ms = Some(3_100.0);
            }
            Ok(p)
        };
        let s = search_one(50_000, &m, &mut feed_bound, &stop).unwrap();
        assert!(s.feed_limited && s.sustained_eps.unwrap() <= 100_000.0);
    }
}
