#![warn(missing_docs)]
//! # oracle — the exact answer every pipeline is judged against
//!
//! For every workload, the answer computed by the simplest code that can be right: read
//! the complete log once, single-threaded, keep every row the workload needs in plain
//! maps, and compute each window, key and aggregate directly from the rows — no partial
//! aggregates, no merging, no incremental state.
//!
//! ```text
//!   Log ──TopicRows──► rows (every partition, offset order) ──► drop repeated event ids
//!                                                     │
//!                                    windows, keys, values collected per cell
//!                                                     ▼
//!                                  aggregates computed from the full lists ──► ResultSet
//! ```
//!
//! It shares **no code with the pipelines**: it uses the `workloads` crate only for what
//! a workload *is* (its window size, its columns, its filter's syntax tree, the `Scalar`
//! and `ResultSet` types of an answer) and computes windows, filters, aggregates, top-K
//! and sessions itself. It also uses `datasets` to read the topic's events as columns,
//! the same reader `lk export` uses, so a bug in decoding would show in the export too.
//!
//! Semantics it defines for everybody:
//! - a generated event counts once, however many times it was sent (by event id); every
//!   row of an imported file is its own event;
//! - windows are half-open, in event time, aligned to the epoch;
//! - SQL null semantics for aggregates and filters.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;

use datasets::{ExportOptions, TopicRows, Value};
use master_log::Log;
use workloads::{
    Aggregate, BuiltIn, CmpOp, Filter, ResultSet, Row, Scalar, Window, WindowSpec, Workload,
    WorkloadSpec,
};

/// What can stop the oracle.
#[derive(Debug, thiserror::Error)]
pub enum OracleError {
    /// Decoding the topic's rows or reading a dataset sidecar failed.
    #[error(transparent)]
    Dataset(#[from] datasets::DatasetError),
    /// Reading the log failed.
    #[error(transparent)]
    Log(#[from] master_log::LogError),
    /// The workload names a column the topic's rows do not have.
    #[error("column {0:?} is not in the topic")]
    MissingColumn(String),
    /// A value of a type the workload cannot use there (an event time that is not a
    /// time, an aggregate over text, an ad without a campaign).
    #[error("{0}")]
    Type(String),
}

/// The oracle's result type.
pub type Result<T, E = OracleError> = std::result::Result<T, E>;

/// One event as the oracle sees it: its event time (ms) and its columns by name.
struct Event {
    time: i64,
    columns: HashMap<String, Scalar>,
}

impl Event {
    fn get(&self, col: &str) -> Result<&Scalar> {
        self.columns
            .get(col)
            .ok_or_else(|| OracleError::MissingColumn(col.to_owned()))
    }
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

/// Every event of `topic`, each counted once.
fn read_events(log: &dyn Log, topic: &str, sidecar_dir: &Path) -> Result<Vec<Event>> {
    let opts = ExportOptions {
        topic: topic.to_owned(),
        ..ExportOptions::default()
    };
    let mut rows = TopicRows::new(log, &opts, Some(sidecar_dir))?;
    let names: Vec<String> = rows.columns().iter().map(|c| c.name.clone()).collect();
    let generated = rows.content_name() != "csv";
    // The four metadata columns come first; `event_time` is the third.
    let mut seen_ids = HashSet::new();
    let mut out = Vec::new();
    let mut values = Vec::new();
    while rows.next_row(&mut values)? {
        let time = match values.get(2) {
            Some(Value::Timestamp(us)) => us.div_euclid(1000),
            other => return Err(OracleError::Type(format!("event time {other:?}"))),
        };
        let mut columns = HashMap::with_capacity(names.len());
        for (name, v) in names.iter().zip(&values).skip(4) {
            columns.insert(name.clone(), to_scalar(v));
        }
        if generated
            && let Some(Scalar::Int(id)) = columns.get("event_id")
            && !seen_ids.insert(*id)
        {
            continue;
        }
        out.push(Event { time, columns });
    }
    Ok(out)
}

/// The exact answer of `workload` over the whole of `topic`. `sidecar_dir` holds the
/// dataset sidecars (`<data>/datasets`): the CSV schema of an imported topic, the YSB ad →
/// campaign table.
pub fn answer(
    log: &dyn Log,
    workload: &Workload,
    topic: &str,
    sidecar_dir: &Path,
) -> Result<ResultSet> {
    let events = read_events(log, topic, sidecar_dir)?;
    let mut rows = match workload {
        Workload::BuiltIn(b) => builtin(*b, &events, topic, sidecar_dir)?,
        Workload::Spec(s) => spec(s, &events)?,
    };
    rows.sort();
    Ok(ResultSet {
        key_columns: workload.key_columns(),
        value_columns: workload.value_columns(),
        rows,
    })
}

/// The windows containing `t`, computed the plain way: every window start on the grid
/// whose window contains `t`.
fn windows_of(spec: WindowSpec, t: i64) -> Vec<Window> {
    let (size, slide) = match spec {
        WindowSpec::Tumbling { size_ms } => (size_ms, size_ms),
        WindowSpec::Hopping { size_ms, slide_ms } => (size_ms, slide_ms),
        WindowSpec::Session { .. } => unreachable!("sessions are formed per key"),
    };
    let mut out = Vec::new();
    let mut start = t.div_euclid(slide) * slide;
    while start + size > t {
        out.push(Window {
            start,
            end: start + size,
        });
        start -= slide;
    }
    out.reverse();
    out
}

fn int(s: &Scalar) -> Result<i64> {
    match s {
        Scalar::Int(i) => Ok(*i),
        other => Err(OracleError::Type(format!(
            "expected an integer, got {other:?}"
        ))),
    }
}

fn builtin(b: BuiltIn, events: &[Event], topic: &str, sidecar_dir: &Path) -> Result<Vec<Row>> {
    let w = b.window();
    let mut rows = Vec::new();
    match b {
        BuiltIn::PageviewsPerMinute | BuiltIn::TopPagesHourly => {
            let mut views: BTreeMap<(Window, i64), u64> = BTreeMap::new();
            for e in events {
                let page = int(e.get("page_id")?)?;
                for win in windows_of(w, e.time) {
                    *views.entry((win, page)).or_default() += 1;
                }
            }
            if b == BuiltIn::PageviewsPerMinute {
                for ((win, page), n) in views {
                    rows.push(Row {
                        window: win,
                        key: vec![Scalar::Int(page)],
                        values: vec![Scalar::Int(n as i64)],
                    });
                }
            } else {
                let mut per_window: BTreeMap<Window, Vec<(u64, i64)>> = BTreeMap::new();
                for ((win, page), n) in views {
                    per_window.entry(win).or_default().push((n, page));
                }
                for (win, mut pages) in per_window {
                    pages.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
                    for (i, (n, page)) in pages.into_iter().take(workloads::TOP_PAGES).enumerate() {
                        rows.push(Row {
                            window: win,
                            key: vec![Scalar::Int(page)],
                            values: vec![Scalar::Int(n as i64), Scalar::Int(i as i64 + 1)],
                        });
                    }
                }
            }
        }
        BuiltIn::ProfileViewersHourly => {
            let mut viewers: BTreeMap<(Window, i64), BTreeSet<i64>> = BTreeMap::new();
            for e in events {
                if e.get("page_type")? != &Scalar::Str("profile".into()) {
                    continue;
                }
                let page = int(e.get("page_id")?)?;
                let viewer = int(e.get("viewer_id")?)?;
                for win in windows_of(w, e.time) {
                    viewers.entry((win, page)).or_default().insert(viewer);
                }
            }
            for ((win, page), set) in viewers {
                rows.push(Row {
                    window: win,
                    key: vec![Scalar::Int(page)],
                    values: vec![Scalar::Int(set.len() as i64)],
                });
            }
        }
        BuiltIn::YsbCampaign10s => {
            let table = datasets::YsbCampaigns::read_csv(
                &sidecar_dir.join(format!("{topic}.campaigns.csv")),
            )?;
            let hyphenated = |u: &datasets::Uuid| {
                let mut buf = [0u8; 36];
                u.write_hyphenated(&mut buf);
                String::from_utf8_lossy(&buf).into_owned()
            };
            let campaign_of: HashMap<String, String> = table
                .ads
                .iter()
                .map(|a| (hyphenated(&a.ad_id), hyphenated(&a.campaign_id)))
                .collect();
            let mut views: BTreeMap<(Window, String), u64> = BTreeMap::new();
            for e in events {
                if e.get("event_type")? != &Scalar::Str("view".into()) {
                    continue;
                }
                let Scalar::Str(ad) = e.get("ad_id")? else {
                    return Err(OracleError::Type("ad_id is not text".into()));
                };
                let Some(campaign) = campaign_of.get(ad) else {
                    return Err(OracleError::Type(format!("ad {ad} has no campaign")));
                };
                for win in windows_of(w, e.time) {
                    *views.entry((win, campaign.clone())).or_default() += 1;
                }
            }
            for ((win, campaign), n) in views {
                rows.push(Row {
                    window: win,
                    key: vec![Scalar::Str(campaign)],
                    values: vec![Scalar::Int(n as i64)],
                });
            }
        }
        BuiltIn::NexmarkQ5 => {
            let mut bids: BTreeMap<Window, BTreeMap<i64, u64>> = BTreeMap::new();
            for e in events.iter().filter(|e| is_bid(e)) {
                let auction = int(e.get("auction")?)?;
                for win in windows_of(w, e.time) {
                    *bids.entry(win).or_default().entry(auction).or_default() += 1;
                }
            }
            for (win, auctions) in bids {
                let top = auctions.values().copied().max().unwrap_or(0);
                for (auction, n) in auctions.into_iter().filter(|(_, n)| *n == top) {
                    rows.push(Row {
                        window: win,
                        key: vec![Scalar::Int(auction)],
                        values: vec![Scalar::Int(n as i64)],
                    });
                }
            }
        }
        BuiltIn::NexmarkQ7 => {
            // Per window: the highest price; ties go to the smallest (auction, bidder).
            let mut best: BTreeMap<Window, (i64, i64, i64)> = BTreeMap::new();
            for e in events.iter().filter(|e| is_bid(e)) {
                let bid = (
                    int(e.get("price")?)?,
                    int(e.get("auction")?)?,
                    int(e.get("bidder")?)?,
                );
                for win in windows_of(w, e.time) {
                    let slot = best.entry(win).or_insert(bid);
                    if bid.0 > slot.0 || (bid.0 == slot.0 && (bid.1, bid.2) < (slot.1, slot.2)) {
                        *slot = bid;
                    }
                }
            }
            for (win, (price, auction, bidder)) in best {
                rows.push(Row {
                    window: win,
                    key: vec![],
                    values: vec![
                        Scalar::Int(price),
                        Scalar::Int(auction),
                        Scalar::Int(bidder),
                    ],
                });
            }
        }
    }
    Ok(rows)
}

fn is_bid(e: &Event) -> bool {
    e.columns.get("kind") == Some(&Scalar::Str("bid".into()))
}

/// Three-valued evaluation of a filter, written out here rather than shared.
fn eval(f: &Filter, e: &Event) -> Result<Option<bool>> {
    Ok(match f {
        Filter::IsNull { column, negated } => Some(e.get(column)?.is_null() != *negated),
        Filter::Cmp {
            column,
            op,
            literal,
        } => {
            let v = e.get(column)?;
            let ord = match (v, literal) {
                (Scalar::Null, _) => None,
                (Scalar::Str(a), Scalar::Str(b)) => Some(a.cmp(b)),
                (Scalar::Bool(a), Scalar::Bool(b)) => Some(a.cmp(b)),
                (Scalar::Int(a), Scalar::Int(b)) => Some(a.cmp(b)),
                (Scalar::Timestamp(a), Scalar::Int(b)) => Some(a.cmp(b)),
                (Scalar::Int(a), Scalar::Float(b)) => (*a as f64).partial_cmp(b),
                (Scalar::Float(a), Scalar::Int(b)) => a.partial_cmp(&(*b as f64)),
                (Scalar::Float(a), Scalar::Float(b)) => a.partial_cmp(b),
                _ => None,
            };
            ord.map(|o| match op {
                CmpOp::Eq => o.is_eq(),
                CmpOp::Ne => o.is_ne(),
                CmpOp::Lt => o.is_lt(),
                CmpOp::Le => o.is_le(),
                CmpOp::Gt => o.is_gt(),
                CmpOp::Ge => o.is_ge(),
            })
        }
        Filter::Not(a) => eval(a, e)?.map(|b| !b),
        Filter::And(a, b) => match (eval(a, e)?, eval(b, e)?) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        },
        Filter::Or(a, b) => match (eval(a, e)?, eval(b, e)?) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        },
    })
}

fn spec(s: &WorkloadSpec, events: &[Event]) -> Result<Vec<Row>> {
    // The rows of each cell, by (key, window).
    let mut kept: Vec<&Event> = Vec::new();
    for e in events {
        let pass = match &s.filter {
            Some(f) => eval(f, e)? == Some(true),
            None => true,
        };
        if pass {
            kept.push(e);
        }
    }
    let key_of = |e: &Event| -> Result<Vec<Scalar>> {
        s.group_by.iter().map(|c| e.get(c).cloned()).collect()
    };
    let mut cells: BTreeMap<(Window, Vec<Scalar>), Vec<&Event>> = BTreeMap::new();
    match s.window {
        WindowSpec::Session { gap_ms } => {
            let mut by_key: BTreeMap<Vec<Scalar>, Vec<&Event>> = BTreeMap::new();
            for e in kept {
                by_key.entry(key_of(e)?).or_default().push(e);
            }
            for (key, mut evs) in by_key {
                evs.sort_by_key(|e| e.time);
                let mut session: Vec<&Event> = Vec::new();
                for e in evs {
                    if let Some(last) = session.last()
                        && e.time >= last.time + gap_ms
                    {
                        let win = Window {
                            start: session[0].time,
                            end: last.time + gap_ms,
                        };
                        cells.insert((win, key.clone()), std::mem::take(&mut session));
                    }
                    session.push(e);
                }
                if let Some(last) = session.last() {
                    let win = Window {
                        start: session[0].time,
                        end: last.time + gap_ms,
                    };
                    cells.insert((win, key.clone()), session);
                }
            }
        }
        w => {
            for e in kept {
                let key = key_of(e)?;
                for win in windows_of(w, e.time) {
                    cells.entry((win, key.clone())).or_default().push(e);
                }
            }
        }
    }
    let mut rows = Vec::with_capacity(cells.len());
    for ((window, key), evs) in cells {
        let values = s
            .aggregates
            .iter()
            .map(|a| aggregate(a, &evs))
            .collect::<Result<Vec<_>>>()?;
        rows.push(Row {
            window,
            key,
            values,
        });
    }
    Ok(rows)
}

/// An aggregate over the full list of a cell's rows.
fn aggregate(a: &Aggregate, evs: &[&Event]) -> Result<Scalar> {
    let column = |c: &str| -> Result<Vec<&Scalar>> {
        evs.iter()
            .map(|e| e.get(c))
            .filter(|v| !matches!(v, Ok(Scalar::Null)))
            .collect()
    };
    Ok(match a {
        Aggregate::Count => Scalar::Int(evs.len() as i64),
        Aggregate::CountColumn(c) => Scalar::Int(column(c)?.len() as i64),
        Aggregate::Sum(c) | Aggregate::Avg(c) => {
            let vals = column(c)?;
            if vals.is_empty() {
                return Ok(Scalar::Null);
            }
            let mut int_sum: i128 = 0;
            let mut float_sum = 0.0f64;
            let mut any_float = false;
            for v in &vals {
                match v {
                    Scalar::Int(i) => int_sum += i128::from(*i),
                    Scalar::Float(f) => {
                        float_sum += f;
                        any_float = true;
                    }
                    other => {
                        return Err(OracleError::Type(format!("{a}: {other:?} is not a number")));
                    }
                }
            }
            let total = int_sum as f64 + float_sum;
            match a {
                Aggregate::Avg(_) => Scalar::Float(total / vals.len() as f64),
                _ if any_float => Scalar::Float(total),
                _ => i64::try_from(int_sum).map_or(Scalar::Float(total), Scalar::Int),
            }
        }
        Aggregate::Min(c) => column(c)?
            .into_iter()
            .min()
            .cloned()
            .unwrap_or(Scalar::Null),
        Aggregate::Max(c) => column(c)?
            .into_iter()
            .max()
            .cloned()
            .unwrap_or(Scalar::Null),
        Aggregate::CountDistinct(c) => {
            let set: BTreeSet<&Scalar> = column(c)?.into_iter().collect();
            Scalar::Int(set.len() as i64)
        }
    })
}
