//! The incremental operators: one small decoder per built-in, written by hand, and one
//! generic operator for spec workloads over imported CSV rows. Each turns one record
//! into a [`Decoded`] event; [`Operator::fold`] adds it to a [`PartialTable`].

use std::collections::HashMap;
use std::path::Path;

use datasets::{NexmarkEvent, PageType, PageView, Schema, Uuid, Value, YsbEvent, YsbEventType};
use master_log::Record;
use workloads::{
    Aggregate, BuiltIn, GroupKey, Partial, PartialTable, Scalar, WindowSpec, Workload, WorkloadSpec,
};

use crate::{Result, SpeedError};

/// What one event adds to its cells.
#[derive(Debug, Clone)]
pub(crate) enum Update {
    /// `Count += 1` (views per page, views per campaign, bids per auction).
    Count,
    /// Insert a value into a `Distinct` set (viewer ids).
    Distinct(Scalar),
    /// Offer `(order, payload)` to a `MaxBy` (price, [auction, bidder]).
    MaxBy(Scalar, Vec<Scalar>),
    /// One value per spec aggregate (`Null` for `count`), through `Aggregate::update`.
    Row(Vec<Scalar>),
}

/// One decoded event: its id (generated data; `None` for CSV rows, each its own event),
/// its event time (ms), and what it adds — `None` when the workload filters it out.
#[derive(Debug, Clone)]
pub(crate) struct Decoded {
    pub id: Option<u64>,
    pub time: i64,
    pub contribution: Option<(GroupKey, Update)>,
}

/// The incremental form of a workload.
#[derive(Debug)]
pub(crate) struct Operator {
    window: WindowSpec,
    empty: Vec<Partial>,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    ViewsPerPage,
    ProfileViewers,
    YsbCampaign { campaign_of: HashMap<Uuid, String> },
    BidsPerAuction,
    HighestBid,
    Spec(Box<SpecOperator>),
}

#[derive(Debug)]
struct SpecOperator {
    spec: WorkloadSpec,
    schema: Schema,
    index: HashMap<String, usize>,
    key_idx: Vec<usize>,
    agg_idx: Vec<Option<usize>>,
}

fn value_of(r: &Record) -> Result<&[u8]> {
    r.value.as_deref().ok_or_else(|| SpeedError::BadRecord {
        offset: r.offset,
        reason: "a record without a value (tombstone)".into(),
    })
}

fn bad(r: &Record) -> impl Fn(datasets::DatasetError) -> SpeedError + '_ {
    move |e| SpeedError::BadRecord {
        offset: r.offset,
        reason: e.to_string(),
    }
}

fn hyphenated(u: &Uuid) -> String {
    let mut buf = [0u8; 36];
    u.write_hyphenated(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
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

// ---------------------------------------------------------------- built-in operators

/// pageviews-per-minute and top-pages-hourly: a count per page (ranking is in `finish`).
fn views_per_page(r: &Record) -> Result<Decoded> {
    let e: PageView = datasets::decode(value_of(r)?).map_err(bad(r))?;
    Ok(Decoded {
        id: Some(e.event_id),
        time: e.event_time,
        contribution: Some((vec![int(e.page_id)], Update::Count)),
    })
}

/// profile-viewers-hourly: the set of viewer ids per profile page.
fn profile_viewers(r: &Record) -> Result<Decoded> {
    let e: PageView = datasets::decode(value_of(r)?).map_err(bad(r))?;
    Ok(Decoded {
        id: Some(e.event_id),
        time: e.event_time,
        contribution: (e.page_type == PageType::Profile)
            .then(|| (vec![int(e.page_id)], Update::Distinct(int(e.viewer_id)))),
    })
}

/// ysb-campaign-10s: `view` events counted per campaign, through the ad → campaign table.
fn ysb_campaign(r: &Record, campaign_of: &HashMap<Uuid, String>) -> Result<Decoded> {
    let e = YsbEvent::decode(value_of(r)?).map_err(bad(r))?;
    let contribution = if e.event_type == YsbEventType::View {
        let campaign = campaign_of
            .get(&e.ad_id)
            .ok_or_else(|| SpeedError::BadRecord {
                offset: r.offset,
                reason: format!("ad {} has no campaign", e.ad_id),
            })?;
        Some((vec![Scalar::Str(campaign.clone())], Update::Count))
    } else {
        None
    };
    Ok(Decoded {
        id: Some(e.event_id),
        time: e.event_time,
        contribution,
    })
}

/// nexmark-q5 (count of bids per auction) and nexmark-q7 (highest bid, empty key).
fn nexmark(r: &Record, highest: bool) -> Result<Decoded> {
    let e: NexmarkEvent<'_> = datasets::decode(value_of(r)?).map_err(bad(r))?;
    let id = datasets::Event::event_id(&e);
    let time = datasets::Event::event_time(&e);
    let contribution = match e {
        NexmarkEvent::Bid(b) if highest => Some((
            vec![],
            Update::MaxBy(int(b.price), vec![int(b.auction), int(b.bidder)]),
        )),
        NexmarkEvent::Bid(b) => Some((vec![int(b.auction)], Update::Count)),
        _ => None,
    };
    Ok(Decoded {
        id: Some(id),
        time,
        contribution,
    })
}

// ---------------------------------------------------------------- spec operator

static NULL: Scalar = Scalar::Null;

impl SpecOperator {
    fn new(spec: &WorkloadSpec, topic: &str, sidecar_dir: &Path) -> Result<Self> {
        let manifest = datasets::read_sidecar(sidecar_dir, topic)?;
        let schema = match manifest.map(|m| m.content) {
            Some(datasets::TopicContent::Csv { schema, .. }) => schema,
            Some(_) => {
                return Err(SpeedError::Unsupported(format!(
                    "spec workload {:?} over generated topic {topic:?}: the speed layer runs \
                     spec workloads over imported CSV topics only",
                    spec.name
                )));
            }
            None => {
                return Err(SpeedError::Unsupported(format!(
                    "topic {topic:?} has no sidecar in {}",
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
        let key_idx = spec.group_by.iter().map(|c| index[c]).collect();
        let agg_idx = spec
            .aggregates
            .iter()
            .map(|a| a.column().map(|c| index[c]))
            .collect();
        Ok(SpecOperator {
            spec: spec.clone(),
            schema,
            index,
            key_idx,
            agg_idx,
        })
    }

    fn decode(&self, r: &Record) -> Result<Decoded> {
        let values = self.schema.decode(value_of(r)?).map_err(bad(r))?;
        let row: Vec<Scalar> = values.iter().map(to_scalar).collect();
        let pass = match &self.spec.filter {
            Some(f) => f.matches(&|c: &str| self.index.get(c).map_or(&NULL, |&i| &row[i])),
            None => true,
        };
        let contribution = pass.then(|| {
            let key = self.key_idx.iter().map(|&i| row[i].clone()).collect();
            let vals = self
                .agg_idx
                .iter()
                .map(|i| i.map_or(Scalar::Null, |i| row[i].clone()))
                .collect();
            (key, Update::Row(vals))
        });
        Ok(Decoded {
            id: None,
            time: r.event_time,
            contribution,
        })
    }
}

impl Operator {
    pub(crate) fn new(workload: &Workload, topic: &str, sidecar_dir: &Path) -> Result<Self> {
        let kind = match workload {
            Workload::BuiltIn(b) => match b {
                BuiltIn::PageviewsPerMinute | BuiltIn::TopPagesHourly => Kind::ViewsPerPage,
                BuiltIn::ProfileViewersHourly => Kind::ProfileViewers,
                BuiltIn::YsbCampaign10s => {
                    let path = sidecar_dir.join(format!("{topic}.campaigns.csv"));
                    let table = datasets::YsbCampaigns::read_csv(&path)?;
                    Kind::YsbCampaign {
                        campaign_of: table
                            .ads
                            .iter()
                            .map(|a| (a.ad_id, hyphenated(&a.campaign_id)))
                            .collect(),
                    }
                }
                BuiltIn::NexmarkQ5 => Kind::BidsPerAuction,
                BuiltIn::NexmarkQ7 => Kind::HighestBid,
            },
            Workload::Spec(s) => Kind::Spec(Box::new(SpecOperator::new(s, topic, sidecar_dir)?)),
        };
        Ok(Operator {
            window: workload.window(),
            empty: workload.empty_partials(),
            kind,
        })
    }

    /// Decode one record (cheap: postcard, no I/O).
    pub(crate) fn decode(&self, r: &Record) -> Result<Decoded> {
        match &self.kind {
            Kind::ViewsPerPage => views_per_page(r),
            Kind::ProfileViewers => profile_viewers(r),
            Kind::YsbCampaign { campaign_of } => ysb_campaign(r, campaign_of),
            Kind::BidsPerAuction => nexmark(r, false),
            Kind::HighestBid => nexmark(r, true),
            Kind::Spec(s) => s.decode(r),
        }
    }

    /// Add an event to every cell it belongs to: each window containing its time (a
    /// session event adds a `[t, t + gap)` cell; sessions are coalesced at query time).
    pub(crate) fn fold(
        &self,
        table: &mut PartialTable,
        time: i64,
        key: &GroupKey,
        update: &Update,
    ) -> Result<()> {
        for w in self.window.windows_of(time) {
            let cell = table.cell_mut(w, key.clone(), || self.empty.clone());
            match (update, cell.as_mut_slice()) {
                (Update::Count, [Partial::Count(n)]) => *n += 1,
                (Update::Distinct(v), [Partial::Distinct(set)]) => {
                    set.insert(v.clone());
                }
                (Update::MaxBy(o, pay), [p @ Partial::MaxBy(_)]) => {
                    p.offer(o.clone(), pay.clone())?
                }
                (Update::Row(vals), partials) => {
                    let Kind::Spec(s) = &self.kind else {
                        return Err(SpeedError::Unsupported("a row update on a built-in".into()));
                    };
                    for ((agg, p), v) in s.spec.aggregates.iter().zip(partials).zip(vals) {
                        update_one(agg, p, v)?;
                    }
                }
                (u, p) => {
                    return Err(SpeedError::Unsupported(format!(
                        "update {u:?} does not fit partials {p:?}"
                    )));
                }
            }
        }
        Ok(())
    }
}

fn update_one(agg: &Aggregate, p: &mut Partial, v: &Scalar) -> Result<()> {
    Ok(agg.update(p, v)?)
}
