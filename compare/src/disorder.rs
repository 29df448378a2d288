//! Event-time disorder: how far behind the newest event time of its partition each
//! record arrives — measured during the feed, or over an existing topic before the run —
//! and the allowed lateness that covers it.

use std::ops::ControlFlow;

use hdrhistogram::Histogram;
use master_log::{FetchLimits, Log};

use crate::options::{CompareOptions, Source};
use crate::report::{Disorder, LatenessSource};
use crate::{CompareError, Result};

/// The most disorder the histogram holds (ms): ten days of event time.
const MAX_TRACKED_MS: u64 = 10 * 24 * 3_600_000;

/// Measures disorder record by record.
#[derive(Debug)]
pub(crate) struct DisorderMeter {
    partitions: u32,
    /// Per partition, the newest event time seen so far.
    newest: Vec<Option<i64>>,
    hist: Histogram<u64>,
    max: i64,
    records: u64,
    behind_watermark: u64,
    beyond_allowed: u64,
    bound_ms: i64,
    allowed_ms: i64,
}

impl DisorderMeter {
    /// A meter over `partitions`, counting records more than `bound_ms` (the watermark
    /// bound) and `bound_ms + allowed_ms` behind.
    pub fn new(partitions: u32, bound_ms: i64, allowed_ms: i64) -> Result<DisorderMeter> {
        Ok(DisorderMeter {
            partitions: partitions.max(1),
            newest: vec![None; partitions.max(1) as usize],
            hist: Histogram::new_with_max(MAX_TRACKED_MS, 3)
                .map_err(|e| CompareError::Run(format!("disorder histogram: {e}")))?,
            max: 0,
            records: 0,
            behind_watermark: 0,
            beyond_allowed: 0,
            bound_ms,
            allowed_ms,
        })
    }

    /// A record with `key` (partitioned as the log does) and `event_time`.
    pub fn record_keyed(&mut self, key: &[u8], event_time: i64) {
        let p = master_log::partition_for_key(key, self.partitions);
        self.record(p, event_time);
    }

    /// A record of `partition` with `event_time`.
    pub fn record(&mut self, partition: u32, event_time: i64) {
        let Some(newest) = self.newest.get_mut(partition as usize) else {
            return;
        };
        let behind = newest.map_or(0, |n| n.saturating_sub(event_time).max(0));
        *newest = Some(newest.map_or(event_time, |n| n.max(event_time)));
        self.records += 1;
        self.max = self.max.max(behind);
        self.hist.saturating_record(behind as u64);
        if behind > self.bound_ms {
            self.behind_watermark += 1;
        }
        if behind > self.bound_ms.saturating_add(self.allowed_ms) {
            self.beyond_allowed += 1;
        }
    }

    /// What was measured.
    pub fn report(&self) -> Disorder {
        Disorder {
            records: self.records,
            max_ms: self.max,
            // The histogram's value is the top of its bucket (3 significant digits):
            // never above the largest measured.
            p99_ms: if self.records == 0 {
                0.0
            } else {
                self.hist.value_at_quantile(0.99).min(self.max as u64) as f64
            },
            behind_watermark: self.behind_watermark,
            beyond_allowed_lateness: self.beyond_allowed,
        }
    }
}

/// The disorder of every record `topic` holds (from the records' event times), as a
/// run over it would meet it.
pub(crate) fn measure_topic(
    log: &dyn Log,
    topic: &str,
    bound_ms: i64,
    allowed_ms: i64,
) -> Result<Disorder> {
    let partitions = log.partition_count(topic)?;
    let mut meter = DisorderMeter::new(partitions, bound_ms, allowed_ms)?;
    for p in 0..partitions {
        let (mut at, end) = log.offsets(topic, p)?;
        while at < end {
            let mut times = Vec::new();
            let shown = log.fetch_each(topic, p, at, FetchLimits::default(), &mut |r| {
                times.push(r.event_time);
                ControlFlow::Continue(())
            })?;
            if shown == 0 {
                break;
            }
            at += shown as u64;
            for t in times {
                meter.record(p, t);
            }
        }
    }
    Ok(meter.report())
}

/// Kappa's allowed lateness for a run: the option's, or the least that covers the
/// data's disorder beyond the watermark bound — for generated data what the generator
/// makes, for an existing topic `measured` (its records' disorder).
pub(crate) fn allowed_lateness(
    opts: &CompareOptions,
    measured: Option<&Disorder>,
) -> (i64, LatenessSource) {
    if let Some(l) = opts.allowed_lateness_ms {
        return (l, LatenessSource::Option);
    }
    let disorder = match (&opts.source, measured) {
        (Source::Generate(_), _) => opts.generated_disorder_ms(),
        (Source::Topic(_), Some(d)) => d.max_ms,
        (Source::Topic(_), None) => 0,
    };
    (
        disorder.saturating_sub(opts.watermark_bound()).max(0),
        LatenessSource::Data,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disorder_is_measured_against_the_newest_event_of_the_partition() {
        let mut m = DisorderMeter::new(2, 1_000, 2_000).unwrap();
        for (p, t) in [(0, 10_000), (0, 9_500), (1, 1_000), (0, 12_000), (0, 8_000)] {
            m.record(p, t);
        }
        // Partition 1's early event is not behind partition 0's.
        m.record(1, 500);
        let d = m.report();
        assert_eq!(d.records, 6);
        assert_eq!(d.max_ms, 4_000);
        assert_eq!(
            d.behind_watermark, 1,
            "only the 4 s one is past a 1 s bound"
        );
        assert_eq!(d.beyond_allowed_lateness, 1, "4 s > 1 s + 2 s");
        assert_eq!(d.p99_ms, 4_000.0);
    }

    #[test]
    fn the_default_allowed_lateness_covers_the_generated_disorder() {
        let mut o = CompareOptions::new("w", "s");
        // Late events up to 2 × 15 s behind, their duplicates up to 2 s later still, a
        // 2 s watermark bound.
        assert_eq!(allowed_lateness(&o, None), (30_000, LatenessSource::Data));
        o.duplicates = 0.0;
        assert_eq!(allowed_lateness(&o, None).0, 28_000);
        o.late = 0.0;
        assert_eq!(allowed_lateness(&o, None).0, 0, "the bound covers the rest");
        o.allowed_lateness_ms = Some(5);
        assert_eq!(allowed_lateness(&o, None), (5, LatenessSource::Option));
        let mut t = CompareOptions::new("w", "s");
        t.source = Source::Topic("x".into());
        let measured = Disorder {
            records: 1,
            max_ms: 9_000,
            p99_ms: 0.0,
            behind_watermark: 0,
            beyond_allowed_lateness: 0,
        };
        assert_eq!(allowed_lateness(&t, Some(&measured)).0, 7_000);
    }
}
