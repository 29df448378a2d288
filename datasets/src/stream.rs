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
//! per aggregate. SQL workloads decode any topic's records into the columns `lk export`
//! writes (with the record's `event_time`), look up their side tables, and evaluate WHERE,
//! the group key and the aggregates' arguments per record (module `sql`). A YSB event and
//! a Q7 bid decode without allocating their key.
//!
//! The batch layer reads whole rows through [`crate::TopicRows`] instead; the oracle
//! decodes on its own, so that it stays independent of the pipelines.

mod event;
mod sql;

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

use rustc_hash::FxHashMap;
use workloads::{BuiltIn, GroupKey, Partial, Scalar, Workload, WorkloadError, WorkloadSpec};

use crate::codec::{self, Event, Uuid};
use crate::error::{DatasetError, Result};
use crate::nexmark::NexmarkEvent;
use crate::pageviews::{PageType, PageView};
use crate::row::{Schema, Value};
use crate::sidecar::{TopicContent, campaigns_path, read_sidecar};
use crate::ysb::{YsbCampaigns, YsbEvent, YsbEventType};

pub use event::{Contribution, StreamEvent, Update};
pub use sql::{SideTable, SqlTopic, TopicKind, sql_type};

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
    /// ysb-campaign-10s: the group key (the campaign id) of every ad and the campaign's
    /// number (its place in the table), built once; looked up once per view, with
    /// FxHash (the ads come from the topic's own table).
    Ysb {
        campaign_of: FxHashMap<Uuid, (GroupKey, u32)>,
    },
    /// nexmark-q5.
    Bids,
    /// nexmark-q7.
    HighestBid,
    /// A spec workload over imported CSV rows.
    Spec(Box<SpecDecoder>),
    /// A SQL workload over any topic.
    Sql(Box<sql::SqlDecoder>),
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
                        campaign_of: campaign_keys(&table),
                    }
                }
                BuiltIn::NexmarkQ5 => Decoder::Bids,
                BuiltIn::NexmarkQ7 => Decoder::HighestBid,
            },
            Workload::Spec(s) => Decoder::Spec(Box::new(SpecDecoder::new(s, topic, sidecar_dir)?)),
            Workload::Sql(s) => {
                Decoder::Sql(Box::new(sql::SqlDecoder::new(s, topic, sidecar_dir)?))
            }
        };
        Ok(StreamDecoder { decoder })
    }

    /// Decode one record from its value (`None`: a tombstone, [`DatasetError::NoValue`])
    /// and its event time (a CSV row's time): what both pipelines' stream readers call,
    /// with an owned record or one read in place.
    #[inline]
    pub fn decode_record(&self, value: Option<&[u8]>, event_time: i64) -> Result<StreamEvent<'_>> {
        match value {
            Some(value) => self.decode(value, event_time),
            None => Err(DatasetError::NoValue),
        }
    }

    /// Decode one record value (cheap: postcard, no I/O). `event_time` is the record's,
    /// the time of a CSV row; a generated event carries its own. A value that does not
    /// decode is [`DatasetError::Decode`]; a YSB view of an ad without a campaign
    /// [`DatasetError::NoCampaign`].
    #[inline]
    pub fn decode(&self, value: &[u8], event_time: i64) -> Result<StreamEvent<'_>> {
        #[cfg_attr(not(feature = "test-perturb"), allow(unused_mut))]
        let mut event = match &self.decoder {
            Decoder::PageViews => page_view(value),
            Decoder::ProfileViewers => profile_view(value),
            Decoder::Ysb { campaign_of } => ysb_view(value, campaign_of),
            Decoder::Bids => bid(value, false),
            Decoder::HighestBid => bid(value, true),
            Decoder::Spec(s) => s.decode(value, event_time),
            Decoder::Sql(s) => s.decode(value, event_time),
        }?;
        #[cfg(feature = "test-perturb")]
        perturb::apply(&mut event);
        Ok(event)
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
            (Update::Sql(args), partials) => {
                let Decoder::Sql(s) = &self.decoder else {
                    return Err(DatasetError::UpdateMismatch(
                        "a SQL update on another workload".into(),
                    ));
                };
                s.fold(partials, args)?;
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

/// A fault tests can switch into [`StreamDecoder::decode`], to check that the oracle,
/// which decodes on its own, notices a decoding bug the pipelines share. Built only with
/// the cargo feature `test-perturb` (off by default; the oracle's tests turn it on), and
/// even then inert until a test switches it on: `cargo test --workspace` unifies
/// features, so other crates' tests may run with it built in, never switched on.
#[cfg(feature = "test-perturb")]
pub mod perturb {
    use std::sync::atomic::{AtomicI64, Ordering};

    use super::StreamEvent;

    static SHIFT_MS: AtomicI64 = AtomicI64::new(0);

    /// From now on, every stream decoder of the process shifts the event time it decodes
    /// by `ms` (0 switches the fault off).
    pub fn shift_event_times(ms: i64) {
        SHIFT_MS.store(ms, Ordering::SeqCst);
    }

    pub(super) fn apply(event: &mut StreamEvent<'_>) {
        event.time = event.time.wrapping_add(SHIFT_MS.load(Ordering::SeqCst));
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
            number: None,
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
            number: None,
            update: Update::Distinct(int(e.viewer_id)),
        }),
    })
}

/// ysb-campaign-10s: `view` events counted per campaign, through the ad → campaign table.
#[inline]
fn ysb_view<'d>(
    value: &[u8],
    campaign_of: &'d FxHashMap<Uuid, (GroupKey, u32)>,
) -> Result<StreamEvent<'d>> {
    let e = YsbEvent::decode(value)?;
    let contribution = if e.event_type == YsbEventType::View {
        let (campaign, number) = campaign_of
            .get(&e.ad_id)
            .ok_or(DatasetError::NoCampaign { ad: e.ad_id })?;
        Some(Contribution {
            key: Cow::Borrowed(campaign.as_slice()),
            number: Some(*number),
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

/// Each ad's group key (its campaign id) and the campaign's number: its place among the
/// table's distinct campaigns, in the order their ads come.
fn campaign_keys(table: &YsbCampaigns) -> FxHashMap<Uuid, (GroupKey, u32)> {
    let mut numbers: FxHashMap<Uuid, u32> = FxHashMap::default();
    table
        .ads
        .iter()
        .map(|a| {
            let next = u32::try_from(numbers.len()).unwrap_or(u32::MAX);
            let number = *numbers.entry(a.campaign_id).or_insert(next);
            let key = vec![Scalar::Str(a.campaign_id.to_string())];
            (a.ad_id, (key, number))
        })
        .collect()
}

/// nexmark-q5 (a count of bids per auction) and nexmark-q7 (the highest bid, empty key).
fn bid(value: &[u8], highest: bool) -> Result<StreamEvent<'static>> {
    let e: NexmarkEvent<'_> = codec::decode(value)?;
    let id = e.event_id();
    let time = e.event_time();
    let contribution = match e {
        NexmarkEvent::Bid(b) if highest => Some(Contribution {
            key: Cow::Borrowed(&[][..]),
            number: None,
            update: Update::MaxBy(int(b.price), vec![int(b.auction), int(b.bidder)]),
        }),
        NexmarkEvent::Bid(b) => Some(Contribution {
            key: Cow::Owned(vec![int(b.auction)]),
            number: None,
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
        let row: Vec<Scalar> = values.iter().map(Value::to_scalar).collect();
        let pass = match &self.spec.filter {
            Some(f) => f.matches(&|c: &str| self.index.get(c).map_or(&NULL, |&i| &row[i])),
            None => true,
        };
        let contribution = pass.then(|| Contribution {
            key: Cow::Owned(self.key_idx.iter().map(|&i| row[i].clone()).collect()),
            number: None,
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use master_log::{EmbeddedLog, FetchLimits, Log, Record};
    use workloads::Aggregate;

    use super::*;
    use crate::{DatasetKind, GenerateOptions, Generator, ImportOptions};

    fn ysb() -> Workload {
        Workload::BuiltIn(BuiltIn::YsbCampaign10s)
    }

    fn spec(text: &str) -> Workload {
        Workload::Spec(WorkloadSpec::parse(text, Path::new("s.toml")).unwrap())
    }

    #[test]
    fn ysb_views_count_per_campaign_with_a_borrowed_key() {
        let dir = tempfile::tempdir().unwrap();
        let table = YsbCampaigns::new(7);
        table.write_csv(&campaigns_path(dir.path(), "ads")).unwrap();
        let campaign_of = table.to_map();
        let d = StreamDecoder::new(&ysb(), "ads", dir.path()).unwrap();
        let opts = GenerateOptions {
            seed: 7,
            ..GenerateOptions::new(DatasetKind::Ysb, "ads", 300)
        };
        let (mut views, mut others) = (0, 0);
        // Each campaign's number, as the contributions give it.
        let mut numbers: HashMap<String, u32> = HashMap::new();
        for rec in Generator::new(&opts).unwrap() {
            let rec = rec.unwrap();
            let e = YsbEvent::decode(&rec.value).unwrap();
            let ev = d.decode(&rec.value, 0).unwrap();
            assert_eq!((ev.id, ev.time), (Some(e.event_id), e.event_time));
            match ev.contribution {
                Some(c) => {
                    assert_eq!(e.event_type, YsbEventType::View);
                    assert!(matches!(c.key, Cow::Borrowed(_)), "{c:?}");
                    let campaign = campaign_of[&e.ad_id].to_string();
                    assert_eq!(c.key.as_ref(), &[Scalar::Str(campaign.clone())][..]);
                    assert_eq!(c.update, Update::Count);
                    let number = c.number.expect("a campaign is numbered");
                    assert_eq!(*numbers.entry(campaign).or_insert(number), number);
                    views += 1;
                }
                None => {
                    assert_ne!(e.event_type, YsbEventType::View);
                    others += 1;
                }
            }
        }
        assert!(views > 0 && others > 0, "{views} views, {others} others");
        // One number per campaign, none shared, all below the number of campaigns.
        let distinct: std::collections::HashSet<u32> = numbers.values().copied().collect();
        assert_eq!(distinct.len(), numbers.len());
        assert!(
            distinct
                .iter()
                .all(|&n| (n as usize) < table.campaigns.len())
        );
    }

    #[test]
    fn a_view_of_an_ad_without_a_campaign_and_a_tombstone_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let mut table = YsbCampaigns::new(7);
        table.ads.clear();
        table.write_csv(&campaigns_path(dir.path(), "ads")).unwrap();
        let d = StreamDecoder::new(&ysb(), "ads", dir.path()).unwrap();
        let opts = GenerateOptions::new(DatasetKind::Ysb, "ads", 100);
        let view = Generator::new(&opts)
            .unwrap()
            .map(|r| r.unwrap().value)
            .find(|v| YsbEvent::decode(v).unwrap().event_type == YsbEventType::View)
            .unwrap();
        let e = d.decode(&view, 0).unwrap_err();
        assert!(matches!(e, DatasetError::NoCampaign { .. }), "{e}");
        let tombstone = Record {
            offset: 0,
            key: None,
            value: None,
            event_time: 0,
            append_time: 0,
            headers: Vec::new(),
        };
        let e = d
            .decode_record(tombstone.value.as_deref(), tombstone.event_time)
            .unwrap_err();
        assert!(matches!(e, DatasetError::NoValue), "{e}");
        // A page view is not a YSB event.
        let pv = GenerateOptions::new(DatasetKind::Pageviews, "pv", 1);
        let value = Generator::new(&pv).unwrap().next().unwrap().unwrap().value;
        let e = d.decode(&value, 0).unwrap_err();
        assert!(matches!(e, DatasetError::Decode { .. }), "{e}");
    }

    #[test]
    fn nexmark_q7_offers_bids_to_the_empty_key_and_skips_the_rest() {
        let d = StreamDecoder::new(
            &Workload::BuiltIn(BuiltIn::NexmarkQ7),
            "bids",
            Path::new("/nonexistent"),
        )
        .unwrap();
        let opts = GenerateOptions::new(DatasetKind::Nexmark, "bids", 500);
        let mut partials = Workload::BuiltIn(BuiltIn::NexmarkQ7).empty_partials();
        let mut best = None;
        for rec in Generator::new(&opts).unwrap() {
            let value = rec.unwrap().value;
            let ev = d.decode(&value, 0).unwrap();
            match codec::decode::<NexmarkEvent<'_>>(&value).unwrap() {
                NexmarkEvent::Bid(b) => {
                    let c = ev.contribution.unwrap();
                    assert!(matches!(c.key, Cow::Borrowed(k) if k.is_empty()));
                    d.fold(&mut partials, &c.update).unwrap();
                    best = best.max(Some(b.price));
                }
                _ => assert!(ev.contribution.is_none()),
            }
        }
        let Partial::MaxBy(Some((price, _))) = &partials[0] else {
            panic!("{partials:?}")
        };
        assert_eq!(Some(price.clone()), best.map(int));
    }

    /// The records of a CSV topic `trips` imported into a log in `dir` (sidecars in
    /// `dir/datasets`).
    fn trips(dir: &Path) -> Vec<Record> {
        let file = dir.join("trips.csv");
        std::fs::write(
            &file,
            "time,zone,fare\n\
             2024-01-01T00:00:00Z,a,10\n\
             2024-01-01T00:01:00Z,b,\n\
             2024-01-01T00:02:00Z,a,-3\n\
             2024-01-01T00:03:00Z,a,5\n",
        )
        .unwrap();
        let log = EmbeddedLog::open(dir.join("log")).unwrap();
        let opts = ImportOptions {
            partitions: 1,
            ..ImportOptions::new(&file, "trips", "time")
        };
        crate::import_csv(
            &log,
            &opts,
            Some(&dir.join("datasets")),
            &mut crate::no_progress,
        )
        .unwrap();
        log.fetch("trips", 0, 0, FetchLimits::default()).unwrap()
    }

    #[test]
    fn spec_rows_are_filtered_grouped_and_folded_with_the_record_time() {
        let dir = tempfile::tempdir().unwrap();
        let records = trips(dir.path());
        let w = spec(
            "name = \"f\"\ntopic = \"trips\"\nwindow = { kind = \"tumbling\", size = \"1h\" }\n\
             group_by = [\"zone\"]\naggregates = [\"count\", \"sum(fare)\"]\nfilter = \"fare > 0\"\n",
        );
        let d = StreamDecoder::new(&w, "trips", &dir.path().join("datasets")).unwrap();
        let mut partials = w.empty_partials();
        let mut passed = 0;
        for r in &records {
            let ev = d.decode_record(r.value.as_deref(), r.event_time).unwrap();
            assert_eq!((ev.id, ev.time), (None, r.event_time));
            if let Some(c) = ev.contribution {
                assert_eq!(c.key.as_ref(), &[Scalar::from("a")][..]);
                d.fold(&mut partials, &c.update).unwrap();
                passed += 1;
            }
        }
        assert_eq!(passed, 2, "null and negative fares are filtered out");
        let Workload::Spec(s) = &w else {
            unreachable!()
        };
        let finished: Vec<Scalar> = s
            .aggregates
            .iter()
            .zip(&partials)
            .map(|(a, p)| Aggregate::finish(a, p))
            .collect();
        assert_eq!(finished, vec![Scalar::Int(2), Scalar::Int(15)]);
        // A row update on a built-in's partials, and a count on a distinct set, do not fit.
        let pv = StreamDecoder::new(
            &Workload::BuiltIn(BuiltIn::PageviewsPerMinute),
            "pv",
            dir.path(),
        )
        .unwrap();
        let mut count = vec![Partial::Count(0)];
        let e = pv.fold(&mut count, &Update::Row(vec![])).unwrap_err();
        assert!(matches!(e, DatasetError::UpdateMismatch(_)), "{e}");
        let mut distinct = vec![Partial::Distinct(Default::default())];
        let e = pv.fold(&mut distinct, &Update::Count).unwrap_err();
        assert!(matches!(e, DatasetError::UpdateMismatch(_)), "{e}");
    }

    #[test]
    fn a_spec_needs_a_csv_topic_with_its_columns() {
        let dir = tempfile::tempdir().unwrap();
        trips(dir.path());
        let sidecars = dir.path().join("datasets");
        let text = |topic: &str, col: &str| {
            format!(
                "name = \"f\"\ntopic = \"{topic}\"\nwindow = {{ kind = \"tumbling\", size = \"1h\" }}\n\
                 group_by = [\"{col}\"]\naggregates = [\"count\"]\n"
            )
        };
        let e = StreamDecoder::new(&spec(&text("trips", "nope")), "trips", &sidecars).unwrap_err();
        assert!(matches!(e, DatasetError::Workload(_)), "{e}");
        let e = StreamDecoder::new(&spec(&text("gone", "zone")), "gone", &sidecars).unwrap_err();
        assert!(matches!(e, DatasetError::NoSidecar { .. }), "{e}");
        let log = EmbeddedLog::open(dir.path().join("log2")).unwrap();
        let opts = GenerateOptions::new(DatasetKind::Pageviews, "pv", 10);
        crate::generate(&log, &opts, Some(&sidecars), &mut crate::no_progress).unwrap();
        let e = StreamDecoder::new(&spec(&text("pv", "page_id")), "pv", &sidecars).unwrap_err();
        assert!(matches!(e, DatasetError::SpecOverGenerated { .. }), "{e}");
    }
}
