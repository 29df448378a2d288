//! Watching the pipelines while they run: one observer per pipeline and visibility level
//! waits for each fed batch to become visible at that level (its latency), and a sampler
//! reads staleness, CPU, state held and, now and then, both pipelines' fresh answers.
//! Both pipelines are watched the same way, through [`Pipeline`].

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use parking_lot::Mutex;
use workloads::PartialTable;

use crate::feed::{Due, Tick};
use crate::pipelines::{Pipeline, Visibility};
use crate::resources::CpuMeter;
use crate::{CompareError, Result};

/// How often the sampler looks, and how often it also takes answers.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);
const ANSWERS_EVERY: usize = 20;
/// An observer gives up when a pipeline shows nothing new for this long (plus twice the
/// longest period of the pipelines: Lambda's batch runs, Kappa's checkpoints).
const STALL_TIMEOUT: Duration = Duration::from_secs(120);

/// How long an observer waits for a batch before it gives up, with pipelines whose
/// longest period (between batch runs, between checkpoints) is `period`.
pub(crate) fn stall_timeout(period: Duration) -> Duration {
    STALL_TIMEOUT + period * 2
}
/// How long one visibility check waits before the observer looks at its abort flag.
const POLL: Duration = Duration::from_millis(200);

/// What one observer saw.
#[derive(Debug)]
pub(crate) struct Seen {
    /// Batches and records visible so far.
    pub batches: AtomicU64,
    pub records: AtomicU64,
    /// Latency samples (visible at, latency), for the timeline.
    pub samples: Mutex<Vec<(Duration, Duration)>>,
    /// Latencies in ns, up to an hour with 3 significant digits.
    pub hist: Mutex<Histogram<u64>>,
    pub last_visible: Mutex<Option<Instant>>,
    /// When each batch (by index) became visible, in order.
    pub visible_at: Mutex<Vec<Instant>>,
    pub failed: Mutex<Option<String>>,
}

impl Seen {
    pub fn new() -> Result<Seen> {
        Ok(Seen {
            batches: AtomicU64::new(0),
            records: AtomicU64::new(0),
            samples: Mutex::default(),
            hist: Mutex::new(
                Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 3)
                    .map_err(|e| CompareError::Run(format!("latency histogram: {e}")))?,
            ),
            last_visible: Mutex::default(),
            visible_at: Mutex::default(),
            failed: Mutex::default(),
        })
    }
}

/// When the observer of a higher level (`implied_by`: stable, for the fresh level) saw
/// batch `index`: a result visible there is visible at this level too.
fn seen_above(implied_by: Option<&Seen>, index: u64) -> Option<Instant> {
    implied_by?.visible_at.lock().get(index as usize).copied()
}

/// Wait for each batch in turn to be visible in `pipeline` at `level` (each check waits
/// up to [`POLL`]), recording its latency from its scheduled time. A batch the observer
/// of `implied_by` (the stable level, when this is the fresh one) saw first counts as
/// visible here from that moment: stable results are fresh by definition, and two
/// observers on a loaded machine do not always look at the same time.
#[allow(clippy::too_many_arguments)]
pub(crate) fn observe(
    pipeline: &dyn Pipeline,
    level: Visibility,
    seen: &Seen,
    implied_by: Option<&Seen>,
    start: Instant,
    batches: mpsc::Receiver<Due>,
    abort: &AtomicBool,
    stall: Duration,
) -> Result<()> {
    for d in batches {
        let waiting = Instant::now();
        while seen_above(implied_by, d.index).is_none()
            && !pipeline.wait_visible(level, &d.target, POLL)?
        {
            if abort.load(Ordering::SeqCst) {
                *seen.failed.lock() = Some(format!("stopped before batch {} was visible", d.index));
                return Ok(());
            }
            if waiting.elapsed() > stall {
                *seen.failed.lock() = Some(format!(
                    "records at offsets {:?} not visible after {} s",
                    d.target,
                    stall.as_secs()
                ));
                return Ok(());
            }
        }
        let now =
            seen_above(implied_by, d.index).map_or(Instant::now(), |at| at.min(Instant::now()));
        seen.visible_at.lock().push(now);
        let latency = now.saturating_duration_since(d.due);
        seen.hist
            .lock()
            .saturating_record((latency.as_nanos() as u64).max(1));
        seen.samples
            .lock()
            .push((now.saturating_duration_since(start), latency));
        seen.batches.store(d.index + 1, Ordering::SeqCst);
        seen.records.fetch_add(d.records, Ordering::SeqCst);
        *seen.last_visible.lock() = Some(now);
    }
    Ok(())
}

/// One pipeline at one sampler reading.
#[derive(Debug, Clone)]
pub(crate) struct PipelineReading {
    /// Per level (in [`Visibility::BOTH`] order).
    pub staleness: [Duration; 2],
    /// Records visible to fresh queries.
    pub visible: u64,
    /// Cells of open windows held (Kappa).
    pub state_cells: Option<u64>,
    /// Age of the newest recomputed view being served (Lambda's batch view).
    pub view_age: Option<Duration>,
    /// The answers (per workload), when taken at this reading.
    pub answers: Option<Vec<PartialTable>>,
}

/// The moment of a sampler reading, and each pipeline's state then.
#[derive(Debug, Clone)]
pub(crate) struct Reading {
    pub t: Duration,
    /// Newest event time appended by then (with answers only).
    pub frontier: i64,
    /// In the order of the pipelines given to [`Sampler::run`].
    pub pipelines: Vec<PipelineReading>,
}

/// A pipeline and what its observers saw, per level (in [`Visibility::BOTH`] order).
pub(crate) struct Watched<'a> {
    pub pipeline: &'a dyn Pipeline,
    pub seen: [&'a Seen; 2],
}

/// What the sampler shares with the feed.
#[derive(Debug)]
pub(crate) struct Sampler {
    pub start: Instant,
    pub tick: Tick,
    /// Newest event time appended so far.
    pub frontier: AtomicI64,
    /// Batches appended so far.
    pub fed_batches: AtomicU64,
    pub stop: AtomicBool,
}

impl Sampler {
    /// How long the oldest batch not yet visible has been due (zero when none is).
    fn staleness(&self, seen: &Seen, now: Instant) -> Duration {
        let visible = seen.batches.load(Ordering::SeqCst);
        let due = self.tick.due(self.start, visible);
        if visible < self.fed_batches.load(Ordering::SeqCst) && due < now {
            now - due
        } else {
            Duration::ZERO
        }
    }

    /// Read every [`SAMPLE_EVERY`] until stopped: staleness, CPU, and every
    /// [`ANSWERS_EVERY`]th time the pipelines' answers.
    pub fn run(&self, pipelines: &[Watched<'_>], cpu: &Mutex<CpuMeter>) -> Result<Vec<Reading>> {
        let mut readings = Vec::new();
        let mut n = 0usize;
        while !self.stop.load(Ordering::SeqCst) {
            thread::sleep(SAMPLE_EVERY);
            let now = Instant::now();
            if now < self.start {
                continue;
            }
            cpu.lock().sample();
            let take_answers = n % ANSWERS_EVERY == ANSWERS_EVERY - 1;
            n += 1;
            let frontier = self.frontier.load(Ordering::SeqCst);
            let mut states = Vec::with_capacity(pipelines.len());
            for w in pipelines {
                let taken = w.pipeline.recomputes().last().map(|r| r.horizon_taken);
                states.push(PipelineReading {
                    staleness: w.seen.map(|s| self.staleness(s, now)),
                    visible: w.seen[0].records.load(Ordering::SeqCst),
                    state_cells: w.pipeline.state_cells(),
                    view_age: taken.map(|t| now.saturating_duration_since(t)),
                    answers: take_answers.then(|| w.pipeline.tables()).transpose()?,
                });
            }
            readings.push(Reading {
                t: now - self.start,
                frontier,
                pipelines: states,
            });
        }
        Ok(readings)
    }
}
