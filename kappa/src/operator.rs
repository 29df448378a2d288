//! The operator model (Arroyo's small core) and the one stream job every workload runs as.
//!
//! An [`Operator`] sees the records of one input partition, one at a time, through
//! [`Operator::process`] — each as a [`RecordView`] borrowed from the log's read buffer
//! ([`master_log::Log::fetch_each`]: no `Record` is made per record); the task calls [`Operator::on_watermark`] whenever the
//! partition's watermark advances and [`Operator::on_checkpoint`] just before it writes a
//! checkpoint. All state goes through the [`Context`]: windowed cells, the de-duplication
//! set, the late-event side output. The task persists what the context changed, so an
//! operator holds no state of its own that a restore would lose.
//!
//! [`WindowAggregate`] is the stream form of every workload. It decodes records and folds
//! their updates with the decoder it shares with the speed layer
//! ([`datasets::StreamDecoder`]: built-ins decode their dataset's events; spec workloads
//! decode imported CSV rows with the topic's schema from the dataset sidecar and apply
//! `Filter`, group-by and `Aggregate::update`).

use std::fmt;
use std::path::Path;

use datasets::{DatasetError, StreamDecoder, StreamEvent};
use master_log::RecordView;
use workloads::{Partial, Scalar, Window, WindowSpec, Workload};

use crate::error::{KappaError, Result};
use crate::window_state::WindowState;

/// One stream operator, run by one task per input partition.
///
/// Required: [`process`](Operator::process). The hooks default to doing nothing.
pub trait Operator: Send + fmt::Debug {
    /// Handle one record of the task's partition, in offset order. The record is
    /// borrowed from the log's read buffer for the call only; keep a copy
    /// ([`RecordView::to_record`]) of what must outlive it.
    fn process(&mut self, record: &RecordView<'_>, ctx: &mut Context<'_>) -> Result<()>;

    /// The partition's watermark advanced to `watermark` (ms of event time): windows that
    /// the watermark closed may be finalized ([`Context::finalize_closed_windows`]).
    fn on_watermark(&mut self, watermark: i64, ctx: &mut Context<'_>) -> Result<()> {
        let _ = (watermark, ctx);
        Ok(())
    }

    /// A checkpoint is about to be written: flush anything buffered into the context.
    fn on_checkpoint(&mut self, ctx: &mut Context<'_>) -> Result<()> {
        let _ = ctx;
        Ok(())
    }
}

/// What an operator may touch: the task's windowed state, its de-duplication set, its
/// event-time clock and its late-event output. Every change is tracked and checkpointed.
#[derive(Debug)]
pub struct Context<'a> {
    pub(crate) state: &'a mut WindowState,
    pub(crate) record: Option<&'a RecordView<'a>>,
}

impl Context<'_> {
    /// The input partition of this task.
    pub fn partition(&self) -> u32 {
        self.state.partition
    }

    /// The partition's watermark: the largest event time seen minus the configured bound;
    /// `None` before the first event.
    pub fn watermark(&self) -> Option<i64> {
        self.state.watermark()
    }

    /// Whether a window ending at `window_end` is closed: its end plus the allowed
    /// lateness is at or below the watermark. An event for a closed window is late.
    pub fn is_closed(&self, window_end: i64) -> bool {
        self.state.is_closed(window_end)
    }

    /// Record that the event of the current record happened at `time` (moves the
    /// partition's event-time clock, hence its watermark).
    pub fn observe_event_time(&mut self, time: i64) {
        self.state.observe(time);
    }

    /// Send the current record to the side output of late events, and count it.
    pub fn report_late(&mut self) -> Result<()> {
        let record = self.record.ok_or_else(|| {
            KappaError::Config("report_late outside of process (no current record)".into())
        })?;
        self.state.push_late(record);
        Ok(())
    }

    /// Whether event `id` (at event time `time`) is seen for the first time within the
    /// de-duplication window; a repeat is counted as a duplicate.
    pub fn first_time(&mut self, id: u64, time: i64) -> bool {
        self.state.first_time(id, time)
    }

    /// Count one event that updated state.
    pub fn count_event(&mut self) {
        self.state.events += 1;
    }

    /// The partials of a cell, created with `empty` when missing; the cell is marked
    /// changed (it goes to the store and the changelog at the next checkpoint).
    pub fn cell(
        &mut self,
        window: Window,
        key: &[Scalar],
        empty: impl FnOnce() -> Vec<Partial>,
    ) -> &mut Vec<Partial> {
        self.state.cell(window, key, None, empty)
    }

    /// [`Context::cell`] of a key the decoder numbers (`number`, see
    /// [`datasets::Contribution::number`]; `None` when it does not): the cell is found by
    /// its number once it is there, without hashing the key.
    pub fn numbered_cell(
        &mut self,
        window: Window,
        key: &[Scalar],
        number: Option<u32>,
        empty: impl FnOnce() -> Vec<Partial>,
    ) -> &mut Vec<Partial> {
        self.state.cell(window, key, number, empty)
    }

    /// Move every cell of a closed window out of the working set into the task's share
    /// of the output table (which keeps it). Returns how many cells were finalized.
    pub fn finalize_closed_windows(&mut self) -> usize {
        self.state.finalize_closed()
    }
}

// ------------------------------------------------------------------ the stream job

/// The stream form of a workload: decode, drop late events to the side output, drop
/// duplicates, fold into every window of the event; finalize windows the watermark closed.
///
/// **Late events.** An event is late when the first of its windows to end is closed
/// (`end + allowed_lateness ≤ watermark`); it is then applied to none of its windows (a
/// hopping event is applied to all its windows or to none), reported on the side topic and
/// counted. The late check comes before de-duplication, so a late event never enters the
/// de-duplication set and its re-sends are late too: the difference from the complete
/// answer is exactly the events reported late.
#[derive(Debug)]
pub struct WindowAggregate {
    topic: String,
    window: WindowSpec,
    empty: Vec<Partial>,
    decoder: StreamDecoder,
}

/// A decoder's error when it is not about one record: a workload that does not fit the
/// topic is the workloads crate's, one this pipeline cannot run is
/// [`KappaError::Unsupported`].
fn kappa_error(e: DatasetError) -> KappaError {
    match e {
        DatasetError::Workload(e) => KappaError::Workload(e),
        e @ (DatasetError::NoSidecar { .. }
        | DatasetError::SpecOverGenerated { .. }
        | DatasetError::UpdateMismatch(_)) => KappaError::Unsupported(e.to_string()),
        e => KappaError::Dataset(e),
    }
}

impl WindowAggregate {
    /// The stream job of `workload` over `topic`; `sidecar_dir` holds the dataset
    /// sidecars (`<data>/datasets`: the YSB campaign table, a CSV topic's schema).
    pub fn new(workload: &Workload, topic: &str, sidecar_dir: &Path) -> Result<Self> {
        workload.window().validate().map_err(KappaError::Config)?;
        Ok(WindowAggregate {
            topic: topic.to_owned(),
            window: workload.window(),
            empty: workload.empty_partials(),
            decoder: StreamDecoder::new(workload, topic, sidecar_dir).map_err(kappa_error)?,
        })
    }

    /// Decode one record; one that does not decode (a tombstone included) is
    /// [`KappaError::BadRecord`].
    fn decode(&self, r: &RecordView<'_>, partition: u32) -> Result<StreamEvent<'_>> {
        self.decoder
            .decode_record(r.value, r.event_time)
            .map_err(|e| self.bad_record(r.offset, partition, &e))
    }

    /// The error of a record at `offset` that does not decode (kept out of line: the
    /// hot path only moves the decoded event).
    #[cold]
    #[inline(never)]
    fn bad_record(&self, offset: u64, partition: u32, e: &DatasetError) -> KappaError {
        KappaError::BadRecord {
            topic: self.topic.clone(),
            partition,
            offset,
            reason: e.to_string(),
        }
    }
}

impl Operator for WindowAggregate {
    fn process(&mut self, record: &RecordView<'_>, ctx: &mut Context<'_>) -> Result<()> {
        let ev = self.decode(record, ctx.partition())?;
        if let Some(c) = &ev.contribution {
            // The window that ends first decides: all of the event's windows or none. They
            // come earliest first (one computation of them for both uses).
            let mut windows = self.window.windows_of(ev.time).peekable();
            let first_end = windows.peek().map(|w| w.end);
            if first_end.is_some_and(|end| ctx.is_closed(end)) {
                ctx.report_late()?;
            } else if ev.id.is_none_or(|id| ctx.first_time(id, ev.time)) {
                for w in windows {
                    let cell = ctx.numbered_cell(w, &c.key, c.number, || self.empty.clone());
                    self.decoder.fold(cell, &c.update).map_err(kappa_error)?;
                }
                ctx.count_event();
            }
        }
        ctx.observe_event_time(ev.time);
        Ok(())
    }

    fn on_watermark(&mut self, _watermark: i64, ctx: &mut Context<'_>) -> Result<()> {
        ctx.finalize_closed_windows();
        Ok(())
    }
}
