//! The stream form of a topic's records for one workload: the decoder that the pipelines
//! reading records one at a time (the speed layer, the Kappa job) share, and the fold of
//! what an event adds into the partial aggregates of a cell.
//!
//! ```text
//!  record value (+ the record's event time, for CSV rows)
//!      │ StreamDecoder::decode
//!      ▼
//!  StreamEvent: id (generated events; None for CSV rows), event time (ms),
//!               contribution: None when the workload leaves the event out, else
//!               group key (borrowed from the decoder, or owned) + Update
//!      │ StreamDecoder::fold, once per cell (window, key) the event belongs to
//!      ▼
//!  [Partial] of the cell, in the layout of Workload::empty_partials
//! ```
//!
//! Built-ins decode their dataset's events: page views counted per page
//! (pageviews-per-minute, top-pages-hourly) or their viewers per profile page
//! (profile-viewers-hourly), YSB `view` events counted per campaign through the topic's
//! ad → campaign table (ysb-campaign-10s), NEXMark bids counted per auction (Q5) or
//! offered to the highest bid (Q7). Spec workloads decode imported CSV rows with the
//! topic's schema (from its sidecar) and apply the spec's filter, group-by and one value
//! per aggregate. A YSB event and a Q7 bid decode without allocating their key.
//!
//! The batch layer reads whole rows through [`crate::TopicRows`] instead; the oracle
//! decodes on its own, so that it stays independent of the pipelines.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

use master_log::Record;
use workloads::{
    BuiltIn, GroupKey, Partial, Scalar, Workload, WorkloadError, WorkloadSpec,
};

use crate::codec::{self, Event, Uuid};
use crate::error::{DatasetError, Result};
use crate::nexmark::NexmarkEvent;
use crate::pageviews::{PageType, PageView};
use crate::row::{Schema, Value};
use crate::sidecar::{TopicContent, campaigns_path, read_sidecar};
use crate::ysb::{YsbCampaigns, YsbEvent, YsbEventType};

/// What one event adds to each of its cells.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    /// `Count += 1` (views per page, views per campaign, bids per auction).
    Count,
    /// Insert a value into a `Distinct` set (the viewers of a profile page).
    Distinct(Scalar),
    /// Offer `(order, payload)` to a `MaxBy` (a bid's price, `[auction, bidder]`).
    MaxBy(Scalar, Vec<Scalar>),
    /// One value per spec aggregate (`Null` for `count`), through `Aggregate::update`.
    Row(Vec<Scalar>),
}

/// What an event adds: the cells' group key and the update.
#[derive(Debug, Clone, PartialEq)]
pub struct Contribution<'a> {
    /// The values of the group-by columns: borrowed from the decoder where it keeps them
    /// (a YSB campaign, the empty key of NEXMark Q7), else owned.
    pub key: Cow<'a, [Scalar]>,
    /// What the event adds to each of its cells.
    pub update: Update,
}

/// One decoded event.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamEvent<'a> {
    /// The event id of a generated event (a duplicate carries the same); `None` for an
    /// imported CSV row, each its own event.
    pub id: Option<u64>,
    /// Event time, ms since the epoch.
    pub time: i64,
    /// What the event adds; `None` when the workload leaves it out (another event type,
    /// the spec's filter).
    pub contribution: Option<Contribution<'a>>,
}

/// The decoder of one workload over one topic, built once: turns a record into a
/// [`StreamEvent`] and folds its [`Update`] into a cell's partials.
#[derive(Debug)]
pub struct StreamDecoder {
    decoder: Decoder,
}

#[derive(Debug)]
enum Decoder {
    /// pageviews-per-minute and top-pages-hourly.
    PageViews,
    /// profile-viewers-hourly.
    ProfileViewers,
    /// ysb-campaign-10s: the group key (the campaign id) of every ad, built once.
    Ysb {
        campaign_of: HashMap<Uuid, GroupKey>,
    },
    /// nexmark-q5.
    Bids,
    /// nexmark-q7.
    HighestBid,
    /// A spec workload over imported CSV rows.
    Spec(Box<SpecDecoder>),
}

/// A spec workload's view of the topic's CSV schema, resolved once.
#[derive(Debug)]
struct SpecDecoder {
    spec: WorkloadSpec,
    schema: Schema,
    index: HashMap<String, usize>,
    key_idx: Vec<usize>,
    agg_idx: Vec<Option<usize>>,
}

impl StreamDecoder {
    /// The decoder of `workload` over `topic`. `sidecar_dir` holds the dataset sidecars
    /// (`<data>/datasets`): the YSB campaign table, a CSV topic's schema.
    ///
    /// Errors: the campaign table or the sidecar does not read
    /// ([`DatasetError::Io`], [`DatasetError::BadFile`], [`DatasetError::Sidecar`]); a
    /// spec over a topic without a sidecar ([`DatasetError::NoSidecar`]) or over a
    /// generated topic ([`DatasetError::SpecOverGenerated`]); a spec naming a column the
    /// topic does not have ([`DatasetError::Workload`]).
    pub fn new(workload: &Workload, topic: &str, sidecar_dir: &Path) -> Result<Self> {
        let decoder = match workload {
            Workload::BuiltIn(b) => match b {
                BuiltIn::PageviewsPerMinute | BuiltIn::TopPagesHourly => Decoder::PageViews,
                BuiltIn::ProfileViewersHourly => Decoder::ProfileViewers,
                BuiltIn::YsbCampaign10s => {
                    let table = YsbCampaigns::read_csv(&campaigns_path(sidecar_dir, topic))?;
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
        Ok(StreamDecoder { decoder })
    }

    /// Decode one record: its value, and its event time for a CSV row. A tombstone is
    /// [`DatasetError::NoValue`].
    pub fn decode_record(&self, record: &Record) -> Result<StreamEvent<'_>> {
        let value = record.value.as_deref().ok_or(DatasetError::NoValue)?;
        self.decode(value, record.event_time)
    }

    /// Decode one record value (cheap: postcard, no I/O). `event_time` is the record's,
    /// the time of a CSV row; a generated event carries its own. A value that does not
    /// decode is [`DatasetError::Decode`]; a YSB view of an ad without a campaign
    /// [`DatasetError::NoCampaign`].
    pub fn decode(&self, value: &[u8], event_time: i64) -> Result<StreamEvent<'_>> {
        match &self.decoder {
            Decoder::PageViews => page_view(value),
            Decoder::ProfileViewers => profile_view(value),
            Decoder::Ysb { campaign_of } => ysb_view(value, campaign_of),
            Decoder::Bids => bid(value, false),
            Decoder::HighestBid => bid(value, true),
            Decoder::Spec(s) => s.decode(value, event_time),
        }
    }

    /// Add an update to the partials of one cell (laid out as the workload's
    /// `empty_partials`). An update an aggregate refuses is [`DatasetError::Workload`];
    /// one that does not fit the partials, [`DatasetError::UpdateMismatch`].
    pub fn fold(&self, partials: &mut [Partial], update: &Update) -> Result<()> {
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
                    return Err(DatasetError::UpdateMismatch(
                        "a row update on a built-in".into(),
                    ));
                };
                for ((agg, p), v) in s.spec.aggregates.iter().zip(partials).zip(vals) {
                    agg.update(p, v)?;
                }
            }
            (u, p) => {
                return Err(DatasetError::UpdateMismatch(format!(
                    "update {u:?} does not fit partials {p:?}"
                )));
            }
        }
        Ok(())
    }
}

fn int(v: u64) -> Scalar {
    Scalar::Int(v as i64)
}

/// pageviews-per-minute and top-pages-hourly: a count per page.
fn page_view(value: &[u8]) -> Result<StreamEvent<'static>> {
    let e: PageView = codec::decode(value)?;
    Ok(StreamEvent {
        id: Some(e.event_id),
        time: e.event_time,
        contribution: Some(Contribution {
            key: Cow::Owned(vec![int(e.page_id)]),
            update: Update::Count,
        }),
    })
}

/// profile-viewers-hourly: the set of viewer ids per profile page.
fn profile_view(value: &[u8]) -> Result<StreamEvent<'static>> {
    let e: PageView = codec::decode(value)?;
    Ok(StreamEvent {
        id: Some(e.event_id),
        time: e.event_time,
        contribution: (e.page_type == PageType::Profile).then(|| Contribution {
            key: Cow::Owned(vec![int(e.page_id)]),
            update: Update::Distinct(int(e.viewer_id)),
        }),
    })
}

/// ysb-campaign-10s: `view` events counted per campaign, through the ad → campaign table.
fn ysb_view<'d>(
    value: &[u8],
    campaign_of: &'d HashMap<Uuid, GroupKey>,
) -> Result<StreamEvent<'d>> {
    let e = YsbEvent::decode(value)?;
    let contribution = if e.event_type == YsbEventType::View {
        let campaign = campaign_of
            .get(&e.ad_id)
            .ok_or(DatasetError::NoCampaign { ad: e.ad_id })?;
        Some(Contribution {
            key: Cow::Borrowed(campaign.as_slice()),
            update: Update::Count,
        })
    } else {
        None
    };
    Ok(StreamEvent {
        id: Some(e.event_id),
        time: e.event_time,
        contribution,
    })
}

/// nexmark-q5 (a count of bids per auction) and nexmark-q7 (the highest bid, empty key).
fn bid(value: &[u8], highest: bool) -> Result<StreamEvent<'static>> {
    let e: NexmarkEvent<'_> = codec::decode(value)?;
    let id = e.event_id();
    let time = e.event_time();
    let contribution = match e {
        NexmarkEvent::Bid(b) if highest => Some(Contribution {
            key: Cow::Borrowed(&[][..]),
            update: Update::MaxBy(int(b.price), vec![int(b.auction), int(b.bidder)]),
        }),
        NexmarkEvent::Bid(b) => Some(Contribution {
            key: Cow::Owned(vec![int(b.auction)]),
            update: Update::Count,
        }),
        _ => None,
    };
    Ok(StreamEvent {
        id: Some(id),
        time,
        contribution,
    })
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

static NULL: Scalar = Scalar::Null;

impl SpecDecoder {
    /// Resolve the spec's columns in the schema of `topic`'s sidecar.
    fn new(spec: &WorkloadSpec, topic: &str, sidecar_dir: &Path) -> Result<Self> {
        let schema = match read_sidecar(sidecar_dir, topic)?.map(|m| m.content) {
            Some(TopicContent::Csv { schema, .. }) => schema,
            Some(TopicContent::Generated(_)) => {
                return Err(DatasetError::SpecOverGenerated {
                    workload: spec.name.clone(),
                    topic: topic.to_owned(),
                });
            }
            None => {
                return Err(DatasetError::NoSidecar {
                    topic: topic.to_owned(),
                    dir: sidecar_dir.to_owned(),
                });
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
            index.get(c).copied().ok_or_else(|| {
                DatasetError::Workload(WorkloadError::UnknownColumn {
                    topic: topic.to_owned(),
                    column: c.to_owned(),
                    available: names.join(", "),
                })
            })
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

    /// A spec workload over an imported CSV row: the filter, the group-by key and one
    /// value per aggregate. Every row is its own event: no id.
    fn decode(&self, value: &[u8], event_time: i64) -> Result<StreamEvent<'static>> {
        let values = self.schema.decode(value)?;
        let row: Vec<Scalar> = values.iter().map(to_scalar).collect();
        let pass = match &self.spec.filter {
            Some(f) => f.matches(&|c: &str| self.index.get(c).map_or(&NULL, |&i| &row[i])),
            None => true,
        };
        let contribution = pass.then(|| Contribution {
            key: Cow::Owned(self.key_idx.iter().map(|&i| row[i].clone()).collect()),
            update: Update::Row(
                self.agg_idx
                    .iter()
                    .map(|i| i.map_or(Scalar::Null, |i| row[i].clone()))
                    .collect(),
            ),
        });
        Ok(StreamEvent {
            id: None,
            time: event_time,
            contribution,
        })
    }
}
