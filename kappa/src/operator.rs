//! The operator model (Arroyo's small core) and the one stream job every workload runs as.
//!
//! An [`Operator`] sees the records of one input partition, one at a time, through
//! [`Operator::process`]; the task calls [`Operator::on_watermark`] whenever the
//! partition's watermark advances and [`Operator::on_checkpoint`] just before it writes a
//! checkpoint. All state goes through the [`Context`]: windowed cells, the de-duplication
//! set, the late-event side output. The task persists what the context changed, so an
//! operator holds no state of its own that a restore would lose.
//!
//! [`WindowAggregate`] is the stream form of every workload: built-ins decode their
//! dataset's events by hand; spec workloads decode imported CSV rows with the topic's
//! schema (from the dataset sidecar) and apply `Filter`, group-by and `Aggregate::update`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use datasets::{NexmarkEvent, PageType, PageView, Schema, Uuid, Value, YsbEvent, YsbEventType};
use master_log::Record;
use workloads::{
    Aggregate, BuiltIn, GroupKey, Partial, Scalar, Window, WindowSpec, Workload, WorkloadSpec,
};

use crate::error::{KappaError, Result};
use crate::window_state::WindowState;

/// One stream operator, run by one task per input partition.
///
/// Required: [`process`](Operator::process). The hooks default to doing nothing.
pub trait Operator: Send + fmt::Debug {
    /// Handle one record of the task's partition, in offset order.
    fn process(&mut self, record: &Record, ctx: &mut Context<'_>) -> Result<()>;

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
    pub(crate) record: Option<&'a Record>,
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
        self.state.cell(window, key, empty)
    }

    /// Move every cell of a closed window out of the working set into the task's share
    /// of the output table (which keeps it). Returns how many cells were finalized.
    pub fn finalize_closed_windows(&mut self) -> usize {
        self.state.finalize_closed()
    }
}

// ------------------------------------------------------------------ the stream job

/// What one event adds to its cells.
#[derive(Debug, Clone)]
enum Update {
    /// `Count += 1`.
    Count,
    /// Insert into a `Distinct` set.
    Distinct(Scalar),
    /// Offer `(order, payload)` to a `MaxBy`.
    MaxBy(Scalar, Vec<Scalar>),
    /// One value per spec aggregate (`Null` for `count`).
    Row(Vec<Scalar>),
}

/// One decoded event: id (generated data only), event time, and its contribution (none
/// when the workload filters it out).
#[derive(Debug)]
struct Decoded<'a> {
    id: Option<u64>,
    time: i64,
    contribution: Option<(Cow<'a, [Scalar]>, Update)>,
}

#[derive(Debug)]
enum Decoder {
    PageViews,
    ProfileViewers,
    /// The group key (the campaign id) of every ad, built once.
    Ysb {
        campaign_of: HashMap<Uuid, GroupKey>,
    },
    Bids,
    HighestBid,
    Spec(Box<SpecDecoder>),
}

#[derive(Debug)]
struct SpecDecoder {
    spec: WorkloadSpec,
    schema: Schema,
    index: HashMap<String, usize>,
    key_idx: Vec<usize>,
    agg_idx: Vec<Option<usize>>,
}

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
    decoder: Decoder,
}

fn to_scalar(v: &Value<'_>) -> Scalar {
    match v {
        Value::Null => Scalar::Null,
        Value::Integer(i) => Scalar::Int(*i),
        Value::Float(f) => Scalar::Float(*f),
        Value::String(s) => Scalar::Str(s.to_string()),
        Value::Bool(b) => Scalar::Bool(*b),
        Value::Timestamp(us) => Scalar::Timestamp(*us),
    }
}

fn int(v: u64) -> Scalar {
    Scalar::Int(v as i64)
}

static NULL: Scalar = Scalar::Null;

impl SpecDecoder {
    fn new(spec: &WorkloadSpec, topic: &str, sidecar_dir: &Path) -> Result<Self> {
        let schema = match datasets::read_sidecar(sidecar_dir, topic)?.map(|m| m.content) {
            Some(datasets::TopicContent::Csv { schema, .. }) => schema,
            Some(_) => {
                return Err(KappaError::Unsupported(format!(
                    "spec workload {:?} over generated topic {topic:?}: spec workloads run over \
                     imported CSV topics",
                    spec.name
                )));
            }
            None => {
                return Err(KappaError::Unsupported(format!(
                    "topic {topic:?} has no dataset sidecar in {}",
                    sidecar_dir.display()
                )));
            }
        };
        let names: Vec<&str> = schema.columns.iter().map(|c| c.name.as_str()).collect();
        spec.check_columns(&names)?;
        let index: HashMap<String, usize> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.to_string(), i))
            .collect();
        let col = |c: &str| {
            index
                .get(c)
                .copied()
                .ok_or_else(|| KappaError::Config(format!("column {c:?} is not in the topic")))
        };
        let key_idx = spec
            .group_by
            .iter()
            .map(|c| col(c))
            .collect::<Result<_>>()?;
        let agg_idx = spec
            .aggregates
            .iter()
            .map(|a| a.column().map(col).transpose())
            .collect::<Result<_>>()?;
        Ok(SpecDecoder {
            spec: spec.clone(),
            schema,
            index,
            key_idx,
            agg_idx,
        })
    }
}

impl WindowAggregate {
    /// The stream job of `workload` over `topic`; `sidecar_dir` holds the dataset
    /// sidecars (`<data>/datasets`: the YSB campaign table, a CSV topic's schema).
    pub fn new(workload: &Workload, topic: &str, sidecar_dir: &Path) -> Result<Self> {
        workload.window().validate().map_err(KappaError::Config)?;
        let decoder = match workload {
            Workload::BuiltIn(b) => match b {
                BuiltIn::PageviewsPerMinute | BuiltIn::TopPagesHourly => Decoder::PageViews,
                BuiltIn::ProfileViewersHourly => Decoder::ProfileViewers,
                BuiltIn::YsbCampaign10s => {
                    let path = sidecar_dir.join(format!("{topic}.campaigns.csv"));
                    let table = datasets::YsbCampaigns::read_csv(&path)?;
                    Decoder::Ysb {
                        campaign_of: table
                            .ads
                            .iter()
                            .map(|a| (a.ad_id, vec![Scalar::Str(a.campaign_id.to_string())]))
                            .collect(),
                    }
                }
                BuiltIn::NexmarkQ5 => Decoder::Bids,
                BuiltIn::NexmarkQ7 => Decoder::HighestBid,
            },
            Workload::Spec(s) => Decoder::Spec(Box::new(SpecDecoder::new(s, topic, sidecar_dir)?)),
        };
        Ok(WindowAggregate {
            topic: topic.to_owned(),
            window: workload.window(),
            empty: workload.empty_partials(),
            decoder,
        })
    }

    fn bad(&self, r: &Record, partition: u32, reason: impl ToString) -> KappaError {
        KappaError::BadRecord {
            topic: self.topic.clone(),
            partition,
            offset: r.offset,
            reason: reason.to_string(),
        }
    }

    fn decode(&self, r: &Record, partition: u32) -> Result<Decoded<'_>> {
        let value = r
            .value
            .as_deref()
            .ok_or_else(|| self.bad(r, partition, "a record without a value (tombstone)"))?;
        let bad = |e: datasets::DatasetError| self.bad(r, partition, e);
        Ok(match &self.decoder {
            Decoder::PageViews => {
                let e: PageView = datasets::decode(value).map_err(bad)?;
                Decoded {
                    id: Some(e.event_id),
                    time: e.event_time,
                    contribution: Some((Cow::Owned(vec![int(e.page_id)]), Update::Count)),
                }
            }
            Decoder::ProfileViewers => {
                let e: PageView = datasets::decode(value).map_err(bad)?;
                Decoded {
                    id: Some(e.event_id),
                    time: e.event_time,
                    contribution: (e.page_type == PageType::Profile).then(|| {
                        (
                            Cow::Owned(vec![int(e.page_id)]),
                            Update::Distinct(int(e.viewer_id)),
                        )
                    }),
                }
            }
            Decoder::Ysb { campaign_of } => {
                let e = YsbEvent::decode(value).map_err(bad)?;
                let contribution = if e.event_type == YsbEventType::View {
                    let campaign = campaign_of.get(&e.ad_id).ok_or_else(|| {
                        self.bad(r, partition, format!("ad {} has no campaign", e.ad_id))
                    })?;
                    Some((Cow::Borrowed(campaign.as_slice()), Update::Count))
                } else {
                    None
                };
                Decoded {
                    id: Some(e.event_id),
                    time: e.event_time,
                    contribution,
                }
            }
            Decoder::Bids | Decoder::HighestBid => {
                let e: NexmarkEvent<'_> = datasets::decode(value).map_err(bad)?;
                let id = datasets::Event::event_id(&e);
                let time = datasets::Event::event_time(&e);
                let highest = matches!(self.decoder, Decoder::HighestBid);
                let contribution = match e {
                    NexmarkEvent::Bid(b) if highest => Some((
                        Cow::Borrowed(&[][..]),
                        Update::MaxBy(int(b.price), vec![int(b.auction), int(b.bidder)]),
                    )),
                    NexmarkEvent::Bid(b) => Some((Cow::Owned(vec![int(b.auction)]), Update::Count)),
                    _ => None,
                };
                Decoded {
                    id: Some(id),
                    time,
                    contribution,
                }
            }
            Decoder::Spec(s) => {
                let values = s.schema.decode(value).map_err(bad)?;
                let row: Vec<Scalar> = values.iter().map(to_scalar).collect();
                let pass = match &s.spec.filter {
                    Some(f) => f.matches(&|c: &str| s.index.get(c).map_or(&NULL, |&i| &row[i])),
                    None => true,
                };
                let contribution = pass.then(|| {
                    let key: GroupKey = s.key_idx.iter().map(|&i| row[i].clone()).collect();
                    let vals = s
                        .agg_idx
                        .iter()
                        .map(|i| i.map_or(Scalar::Null, |i| row[i].clone()))
                        .collect();
                    (Cow::Owned(key), Update::Row(vals))
                });
                // Every imported row is its own event: no id.
                Decoded {
                    id: None,
                    time: r.event_time,
                    contribution,
                }
            }
        })
    }

    fn fold(&self, partials: &mut [Partial], update: &Update) -> Result<()> {
        match (update, partials) {
            (Update::Count, [Partial::Count(n)]) => *n += 1,
            (Update::Distinct(v), [Partial::Distinct(set)]) => {
                if !set.contains(v) {
                    set.insert(v.clone());
                }
            }
            (Update::MaxBy(o, pay), [p @ Partial::MaxBy(_)]) => p.offer(o.clone(), pay.clone())?,
            (Update::Row(vals), partials) => {
                let Decoder::Spec(s) = &self.decoder else {
                    return Err(KappaError::Unsupported("a row update on a built-in".into()));
                };
                for ((agg, p), v) in s.spec.aggregates.iter().zip(partials).zip(vals) {
                    Aggregate::update(agg, p, v)?;
                }
            }
            (u, p) => {
                return Err(KappaError::Unsupported(format!(
                    "update {u:?} does not fit partials {p:?}"
                )));
            }
        }
        Ok(())
    }
}

impl Operator for WindowAggregate {
    fn process(&mut self, record: &Record, ctx: &mut Context<'_>) -> Result<()> {
        let ev = self.decode(record, ctx.partition())?;
        if let Some((key, update)) = &ev.contribution {
            // The window that ends first decides: all of the event's windows or none.
            let first_end = self.window.windows_of(ev.time).map(|w| w.end).min();
            if first_end.is_some_and(|end| ctx.is_closed(end)) {
                ctx.report_late()?;
            } else if ev.id.is_none_or(|id| ctx.first_time(id, ev.time)) {
                for w in self.window.windows_of(ev.time) {
                    let cell = ctx.cell(w, key, || self.empty.clone());
                    self.fold(cell, update)?;
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
