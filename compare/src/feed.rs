//! The feed: the generated records appended at a fixed schedule, `start + i × interval`,
//! so that a batch's latency is measured from when it was due (a feed that falls behind
//! counts its delay against the pipelines: no coordinated omission). The feed also
//! measures the records' event-time disorder and how far its own appends fell behind
//! their schedule.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use datasets::{Arrival, GenerateOptions, Generator};
use master_log::{Log, NewRecord};

use crate::Result;
use crate::disorder::DisorderMeter;
use crate::report::Arrivals;

/// One scheduled batch of records: when it was due and the offsets that cover it.
#[derive(Debug, Clone)]
pub(crate) struct Due {
    pub index: u64,
    pub due: Instant,
    pub target: Vec<u64>,
    pub records: u64,
}

/// The feed's pace: `batch` records every `interval`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tick {
    pub batch: u64,
    pub interval: Duration,
}

/// One batch per millisecond at rates of 1,000/s and more; one record per batch below.
pub(crate) fn tick_of(rate: u64) -> Tick {
    if rate >= 1000 {
        let batch = rate / 1000;
        Tick {
            batch,
            interval: Duration::from_nanos(batch * 1_000_000_000 / rate),
        }
    } else {
        Tick {
            batch: 1,
            interval: Duration::from_nanos(1_000_000_000 / rate),
        }
    }
}

impl Tick {
    /// When batch `index` is due.
    pub fn due(&self, start: Instant, index: u64) -> Instant {
        start + self.interval * index as u32
    }
}

/// What the feed has done so far, as of a batch.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Fed {
    /// The newest event time appended.
    pub max_time: i64,
    /// How the records arrived.
    pub arrivals: Arrivals,
    /// The most an append was acknowledged after its scheduled time.
    pub behind: Duration,
}

/// Append the generated records at the schedule `start + i × tick.interval`, each
/// measured by `disorder`, calling `on_batch` after each batch with its offsets and what
/// the feed has done so far.
#[allow(clippy::too_many_arguments)]
pub(crate) fn feed(
    log: &dyn Log,
    topic: &str,
    opts: &GenerateOptions,
    start: Instant,
    tick: Tick,
    stop: &AtomicBool,
    disorder: &mut DisorderMeter,
    mut on_progress: impl FnMut(u64),
    mut on_batch: impl FnMut(Due, &Fed),
) -> Result<()> {
    opts.validate()?;
    let mut ends = log.end_offsets(topic)?;
    let mut fed_so_far = Fed {
        max_time: i64::MIN,
        ..Fed::default()
    };
    let mut batch = Vec::with_capacity(tick.batch as usize);
    let mut index = 0u64;
    let mut fed = 0u64;
    let mut last_progress = Instant::now();
    let mut records = Generator::new(opts)?.peekable();
    while records.peek().is_some() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        batch.clear();
        for rec in records.by_ref().take(tick.batch as usize) {
            let rec = rec?;
            let arrivals = &mut fed_so_far.arrivals;
            match rec.arrival {
                Arrival::InOrder => arrivals.in_order += 1,
                Arrival::OutOfOrder => arrivals.out_of_order += 1,
                Arrival::Late => arrivals.late += 1,
                Arrival::Duplicate => arrivals.duplicates += 1,
            }
            fed_so_far.max_time = fed_so_far.max_time.max(rec.event_time);
            disorder.record_keyed(&rec.key, rec.event_time);
            batch.push(NewRecord::keyed(rec.key, rec.value, rec.event_time));
        }
        let due = tick.due(start, index);
        let now = Instant::now();
        if due > now {
            thread::sleep(due - now);
        }
        let n = batch.len() as u64;
        for (p, appended) in log.produce(topic, std::mem::take(&mut batch))? {
            let end = &mut ends[p as usize];
            *end = (*end).max(appended.last_offset + 1);
        }
        fed += n;
        fed_so_far.behind = fed_so_far
            .behind
            .max(Instant::now().saturating_duration_since(due));
        on_batch(
            Due {
                index,
                due,
                target: ends.clone(),
                records: n,
            },
            &fed_so_far,
        );
        index += 1;
        if last_progress.elapsed() >= Duration::from_millis(100) {
            on_progress(fed);
            last_progress = Instant::now();
        }
    }
    on_progress(fed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_feed_schedule_matches_the_rate() {
        let t = tick_of(50_000);
        assert_eq!(t.batch, 50);
        assert_eq!(t.interval, Duration::from_millis(1));
        let t = tick_of(2_500);
        assert_eq!((t.batch, t.interval), (2, Duration::from_micros(800)));
        let t = tick_of(10);
        assert_eq!((t.batch, t.interval), (1, Duration::from_millis(100)));
    }
}
