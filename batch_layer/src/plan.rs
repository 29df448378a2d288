//! The polars plans: one hand-written function per built-in workload, one generic
//! translation of spec workloads, the translation of SQL workloads (`sql`), and the
//! conversion of their output into a `PartialTable`.

mod sql;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use polars::prelude::*;
use workloads::{
    Aggregate, BuiltIn, CmpOp, Filter, Partial, PartialTable, Scalar, StoredCell, SumState,
    TopRows, Window, WindowSpec, Workload, WorkloadSpec,
};

use crate::decode::{Events, Kind, Lookup, RowFilter, Scan, TIME};
use crate::error::{BatchError, Result};

const WS: &str = "__lk_ws";
const WE: &str = "__lk_we";
const SID: &str = "__lk_sid";
const TWO_32: i64 = 1 << 32;

/// How one partial of a cell is laid out in the plan's output columns.
#[derive(Debug, Clone)]
enum PartCol {
    /// `Partial::Count` from an integer column.
    Count(String),
    /// `Partial::Sum` of an integer column: exact as Σ hi·2³² + Σ lo (each fits an i64).
    SumInt {
        hi: String,
        lo: String,
        n: String,
    },
    /// `Partial::Sum` of a float column.
    SumFloat {
        f: String,
        n: String,
    },
    Min(String, Kind),
    Max(String, Kind),
    /// `Partial::Distinct` from a list column of the distinct non-null values.
    Distinct(String, Kind),
    /// `Partial::MaxBy` from the first row of each group in (order desc, payload asc).
    MaxBy {
        order: String,
        payload: Vec<String>,
    },
    /// `Partial::Values` from a list column of the non-null values.
    Values(String, Kind),
    /// `Partial::Top` from list columns (ORDER BY values, then the values selected) of
    /// each group's best rows.
    Top {
        cols: Vec<(String, Kind)>,
        n: u64,
        desc: Vec<bool>,
    },
}

/// A plan's output: one row per cell with `WS`, `WE`, the key columns and the partials.
struct Output {
    lf: LazyFrame,
    keys: Vec<(String, Kind)>,
    parts: Vec<PartCol>,
    /// The rows are in (window, key) order already.
    sorted: bool,
}

/// Recompute `workload` over `events` into a partial table.
pub(crate) fn run(
    workload: &Workload,
    events: Events,
    topic: &str,
    sidecar_dir: &Path,
) -> Result<PartialTable> {
    let out = match workload {
        Workload::BuiltIn(b) => builtin(*b, events, topic)?,
        Workload::Spec(s) => spec(s, events, topic)?,
        Workload::Sql(s) => sql::plan(s, events, topic, sidecar_dir)?,
    };
    // In the table's (window, key) order, so that building it is one pass; one chunk
    // per column, as `to_table` reads the cells by row index.
    let mut by: Vec<PlSmallStr> = vec![WS.into()];
    by.extend(out.keys.iter().map(|(k, _)| PlSmallStr::from(k.as_str())));
    let lf = if out.sorted {
        out.lf
    } else {
        out.lf.sort(by, SortMultipleOptions::default())
    };
    let mut df = lf.collect()?;
    df.rechunk_mut();
    to_table(&df, &out.keys, &out.parts)
}

/// Groups `lf` per tumbling or hopping window and `keys` into `aggs`, with the window's
/// `WS` and `WE`. An event is in one row per window it is in: the hopping window starts
/// are "exploded" as one copy of the frame per overlap, each filtered to the windows that
/// really contain the event. The group key is the window start alone (with `keys`); the
/// end, `WS` + size, is added to the aggregated rows.
fn per_window(
    lf: LazyFrame,
    spec: WindowSpec,
    keys: &[&str],
    aggs: Vec<Expr>,
) -> Result<LazyFrame> {
    let (size, slide) = match spec {
        WindowSpec::Tumbling { size_ms } => (size_ms, size_ms),
        WindowSpec::Hopping { size_ms, slide_ms } => (size_ms, slide_ms),
        WindowSpec::Session { .. } => {
            return Err(BatchError::Type("sessions are not fixed windows".into()));
        }
    };
    let last = col(TIME).floor_div(lit(slide)) * lit(slide);
    let overlaps = (size + slide - 1) / slide;
    let copies: Vec<LazyFrame> = (0..overlaps)
        .map(|i| {
            let copy = lf
                .clone()
                .with_column((last.clone() - lit(i * slide)).alias(WS));
            // A tumbling window (size = slide) always contains the event.
            if size == slide {
                copy
            } else {
                copy.filter((col(WS) + lit(size)).gt(col(TIME)))
            }
        })
        .collect();
    let windowed = if copies.len() == 1 {
        copies.into_iter().next().unwrap_or(lf)
    } else {
        concat(copies, UnionArgs::default())?
    };
    let mut group = vec![col(WS)];
    group.extend(keys.iter().map(|k| col(*k)));
    Ok(windowed
        .group_by(group)
        .agg(aggs)
        .with_column((col(WS) + lit(size)).alias(WE)))
}

/// Groups `lf` per session of each key (`[first, last + gap)`) into `aggs`, with the
/// session's `WS` and `WE`: sort per key by time; a session starts where the gap to the
/// key's previous event reaches `gap_ms`; a cumulative sum of those flags numbers sessions.
fn per_session(lf: LazyFrame, gap_ms: i64, keys: &[&str], aggs: Vec<Expr>) -> Result<LazyFrame> {
    let key_exprs: Vec<Expr> = keys.iter().map(|k| col(*k)).collect();
    let mut by: Vec<PlSmallStr> = keys.iter().map(|k| PlSmallStr::from(*k)).collect();
    by.push(TIME.into());
    let prev = if key_exprs.is_empty() {
        col(TIME).shift(lit(1))
    } else {
        col(TIME).shift(lit(1)).over(key_exprs.clone())?
    };
    let starts = prev
        .clone()
        .is_null()
        .or((col(TIME) - prev).gt_eq(lit(gap_ms)));
    let mut group = vec![col(SID)];
    group.extend(key_exprs);
    let mut all = vec![
        col(TIME).min().alias(WS),
        (col(TIME).max() + lit(gap_ms)).alias(WE),
    ];
    all.extend(aggs);
    Ok(lf
        .sort(by, SortMultipleOptions::default())
        .with_column(starts.cast(DataType::Int64).cum_sum(false).alias(SID))
        .group_by(group)
        .agg(all))
}

fn builtin(b: BuiltIn, events: Events, topic: &str) -> Result<Output> {
    match b {
        BuiltIn::PageviewsPerMinute | BuiltIn::TopPagesHourly => pageviews_count(b, events, topic),
        BuiltIn::ProfileViewersHourly => profile_viewers(events, topic),
        BuiltIn::YsbCampaign10s => ysb_campaign(events, topic),
        BuiltIn::NexmarkQ5 => nexmark_q5(events, topic),
        BuiltIn::NexmarkQ7 => nexmark_q7(events, topic),
    }
}

/// The event columns a built-in's plan reads.
fn builtin_columns(b: BuiltIn) -> &'static [&'static str] {
    match b {
        BuiltIn::PageviewsPerMinute | BuiltIn::TopPagesHourly => &["page_id"],
        BuiltIn::ProfileViewersHourly => &["page_id", "page_type", "viewer_id"],
        BuiltIn::YsbCampaign10s => &["event_type", "ad_id"],
        BuiltIn::NexmarkQ5 => &["kind", "auction"],
        BuiltIn::NexmarkQ7 => &["kind", "price", "auction", "bidder"],
    }
}

/// What the plan of `workload` needs from the log (`decode::Scan`): the event columns it
/// reads (the decoder leaves the others out); the filter a built-in's plan starts with,
/// for the decoder to apply as it reads (the rows it drops are never made, nor the
/// filter's column; spec workloads' filters stay in polars); and the small table a
/// built-in joins a UUID column with, for the decoder to look each value up in (YSB's
/// ad → campaign table, read from `sidecar_dir`).
pub(crate) fn scan<'w>(
    workload: &'w Workload,
    topic: &str,
    sidecar_dir: &Path,
) -> Result<Scan<'w>> {
    Ok(match workload {
        Workload::BuiltIn(b) => Scan {
            columns: builtin_columns(*b).to_vec(),
            filter: builtin_filter(*b),
            lookup: match b {
                BuiltIn::YsbCampaign10s => Some(Arc::new(ysb_campaigns(topic, sidecar_dir)?)),
                _ => None,
            },
        },
        Workload::Spec(s) => Scan {
            columns: s.columns(),
            ..Scan::default()
        },
        Workload::Sql(s) => sql::scan(s),
    })
}

/// YSB's ad → campaign table as a lookup of `ad_id`: each ad gets its campaign's number
/// among the table's campaigns sorted.
fn ysb_campaigns(topic: &str, sidecar_dir: &Path) -> Result<Lookup> {
    let table =
        datasets::YsbCampaigns::read_csv(&sidecar_dir.join(format!("{topic}.campaigns.csv")))?;
    let mut campaigns: Vec<datasets::Uuid> = table.ads.iter().map(|a| a.campaign_id).collect();
    campaigns.sort_unstable();
    campaigns.dedup();
    let number = |c: &datasets::Uuid| campaigns.partition_point(|x| x < c) as u32;
    Ok(Lookup {
        column: "ad_id",
        numbers: table
            .ads
            .iter()
            .map(|a| (a.ad_id.0, number(&a.campaign_id)))
            .collect(),
        names: campaigns.iter().map(|c| c.to_string()).collect(),
    })
}

/// The rows a built-in keeps: those whose text column equals a constant.
fn builtin_filter(b: BuiltIn) -> Option<RowFilter<'static>> {
    let (column, equals) = match b {
        BuiltIn::ProfileViewersHourly => ("page_type", "profile"),
        BuiltIn::YsbCampaign10s => ("event_type", "view"),
        BuiltIn::NexmarkQ5 | BuiltIn::NexmarkQ7 => ("kind", "bid"),
        BuiltIn::PageviewsPerMinute | BuiltIn::TopPagesHourly => return None,
    };
    Some(RowFilter { column, equals })
}

/// `events` as a lazy frame, with the built-in's filter (`builtin_filter`) applied
/// (by the decoder already, or here).
fn filtered(b: BuiltIn, events: Events) -> LazyFrame {
    let lf = events.frame.lazy();
    match builtin_filter(b) {
        Some(f) if !events.filtered => lf.filter(col(f.column).eq(lit(f.equals))),
        _ => lf,
    }
}

fn need(events: &Events, topic: &str, cols: &[&str]) -> Result<()> {
    for c in cols {
        events.kind(topic, c)?;
    }
    Ok(())
}

/// pageviews-per-minute and top-pages-hourly: views per (window, page); top-K ranks
/// after merging, in `Workload::finish`.
fn pageviews_count(b: BuiltIn, events: Events, topic: &str) -> Result<Output> {
    need(&events, topic, builtin_columns(b))?;
    let lf = per_window(
        events.frame.lazy(),
        b.window(),
        &["page_id"],
        vec![len().alias("views")],
    )?;
    Ok(Output {
        lf,
        keys: vec![("page_id".into(), Kind::Int)],
        parts: vec![PartCol::Count("views".into())],
        sorted: false,
    })
}

/// profile-viewers-hourly: the distinct viewers of each profile page per hour.
fn profile_viewers(events: Events, topic: &str) -> Result<Output> {
    need(
        &events,
        topic,
        builtin_columns(BuiltIn::ProfileViewersHourly),
    )?;
    let lf = filtered(BuiltIn::ProfileViewersHourly, events);
    let lf = per_window(
        lf,
        BuiltIn::ProfileViewersHourly.window(),
        &["page_id"],
        vec![col("viewer_id").drop_nulls().unique().alias("viewers")],
    )?;
    Ok(Output {
        lf,
        keys: vec![("page_id".into(), Kind::Int)],
        parts: vec![PartCol::Distinct("viewers".into(), Kind::Int)],
        sorted: false,
    })
}

/// ysb-campaign-10s: `view` events joined with the static ad → campaign table, counted
/// per campaign per 10 s. The decoder gives each view its campaign's number (the
/// lookup of `scan`: the table's campaigns sorted), the views are counted per window and
/// number, and each counted cell gets its campaign's id: one text per cell, not per
/// view. A view of an ad the table does not have (no number) is an error.
///
/// The cells are grouped on one integer, `window number · n + campaign number` (`n`
/// campaigns; window number = ⌊t / size⌋), from which both are taken back exactly
/// (`⌊key / n⌋` and `key − ⌊key / n⌋ · n`): polars groups one integer column by its
/// value, where two key columns are encoded into rows of bytes, hashed and compared as
/// bytes. When `n` is so large that the key could overflow for some event time, the
/// plan groups on the two columns instead.
fn ysb_campaign(events: Events, topic: &str) -> Result<Output> {
    const CAMPAIGN: &str = "__lk_campaign";
    const KEY: &str = "__lk_key";
    need(&events, topic, builtin_columns(BuiltIn::YsbCampaign10s))?;
    let Some(lookup) = events.lookup.clone() else {
        return Err(BatchError::Type(
            "ysb-campaign-10s: no campaign table".into(),
        ));
    };
    let window = BuiltIn::YsbCampaign10s.window();
    let WindowSpec::Tumbling { size_ms: size } = window else {
        return Err(BatchError::Type(format!(
            "ysb-campaign-10s: {window:?} is not a tumbling window"
        )));
    };
    let n = i64::try_from(lookup.names.len()).unwrap_or(i64::MAX);
    let views = filtered(BuiltIn::YsbCampaign10s, events);
    let counted = if packs(size, n) {
        let number = || col(KEY).floor_div(lit(n));
        views
            .select([(col(TIME).floor_div(lit(size)) * lit(n)
                + col("ad_id").cast(DataType::Int64))
            .alias(KEY)])
            .group_by([col(KEY)])
            .agg([len().alias("views")])
            .select([
                (number() * lit(size)).alias(WS),
                (col(KEY) - number() * lit(n))
                    .cast(DataType::UInt32)
                    .alias(CAMPAIGN),
                col("views"),
            ])
    } else {
        per_window(
            views.select([col(TIME), col("ad_id").alias(CAMPAIGN)]),
            window,
            &[CAMPAIGN],
            vec![len().alias("views")],
        )?
    }
    .sort([WS, CAMPAIGN], SortMultipleOptions::default())
    .collect()?;
    let numbers = counted.column(CAMPAIGN)?.u32()?;
    if numbers.null_count() > 0 {
        let unknown = counted
            .clone()
            .lazy()
            .filter(col(CAMPAIGN).is_null())
            .select([col("views").cast(DataType::UInt64).sum()])
            .collect()?;
        let unknown = unknown.column("views")?.u64()?.get(0).unwrap_or(0);
        return Err(BatchError::Type(format!(
            "{unknown} view events name an ad without a campaign"
        )));
    }
    // The numbers follow the campaigns' ids in order (the ids sorted as 16 bytes, their
    // text as hexadecimal digits): sorted by number, the cells are in the table's order.
    let ids: StringChunked = numbers
        .iter()
        .map(|i| {
            i.and_then(|i| lookup.names.get(i as usize))
                .map(String::as_str)
        })
        .collect();
    let mut counted = counted;
    counted.with_column(ids.with_name("campaign_id".into()).into_column())?;
    let lf = counted
        .lazy()
        .with_column((col(WS) + lit(size)).alias(WE))
        .select([col(WS), col(WE), col("campaign_id"), col("views")]);
    Ok(Output {
        lf,
        keys: vec![("campaign_id".into(), Kind::Str)],
        parts: vec![PartCol::Count("views".into())],
        sorted: true,
    })
}

/// Whether `⌊t / size⌋ · n + c` fits an i64 for every i64 `t` and `0 ≤ c < n`.
fn packs(size: i64, n: i64) -> bool {
    size > 0
        && n > 0
        && i64::MIN.div_euclid(size).checked_mul(n).is_some()
        && i64::MAX
            .div_euclid(size)
            .checked_mul(n)
            .and_then(|k| k.checked_add(n - 1))
            .is_some()
}

/// nexmark-q5: bids per auction per hopping window (10 s every 2 s); the auctions tied
/// for the most are picked after merging, in `Workload::finish`.
fn nexmark_q5(events: Events, topic: &str) -> Result<Output> {
    need(&events, topic, builtin_columns(BuiltIn::NexmarkQ5))?;
    let lf = filtered(BuiltIn::NexmarkQ5, events);
    let lf = per_window(
        lf,
        BuiltIn::NexmarkQ5.window(),
        &["auction"],
        vec![len().alias("bids")],
    )?;
    Ok(Output {
        lf,
        keys: vec![("auction".into(), Kind::Int)],
        parts: vec![PartCol::Count("bids".into())],
        sorted: false,
    })
}

/// nexmark-q7: the highest bid per 10 s window, ties to the smallest (auction, bidder):
/// an arg-max by sorting each group and taking its first row.
fn nexmark_q7(events: Events, topic: &str) -> Result<Output> {
    need(&events, topic, builtin_columns(BuiltIn::NexmarkQ7))?;
    let lf = filtered(BuiltIn::NexmarkQ7, events);
    let order = SortMultipleOptions::default().with_order_descending_multi([true, false, false]);
    let by = [col("price"), col("auction"), col("bidder")];
    let first = |c: &str| col(c).sort_by(by.clone(), order.clone()).first().alias(c);
    let lf = per_window(
        lf,
        BuiltIn::NexmarkQ7.window(),
        &[],
        vec![first("price"), first("auction"), first("bidder")],
    )?;
    Ok(Output {
        lf,
        keys: vec![],
        parts: vec![PartCol::MaxBy {
            order: "price".into(),
            payload: vec!["auction".into(), "bidder".into()],
        }],
        sorted: false,
    })
}

/// A filter as a polars expression with SQL semantics: comparisons with null (or
/// between incomparable types) are null, `and`/`or` are Kleene, and `filter` keeps only
/// the rows where it is true.
fn filter_expr(f: &Filter, events: &Events, topic: &str) -> Result<Expr> {
    Ok(match f {
        Filter::IsNull { column, negated } => {
            events.kind(topic, column)?;
            if *negated {
                col(column.as_str()).is_not_null()
            } else {
                col(column.as_str()).is_null()
            }
        }
        Filter::Cmp {
            column,
            op,
            literal,
        } => {
            let kind = events.kind(topic, column)?;
            let c = col(column.as_str());
            let (l, r) = match (kind, literal) {
                (Kind::Str, Scalar::Str(s)) => (c, lit(s.as_str())),
                (Kind::Bool, Scalar::Bool(b)) => (c, lit(*b)),
                (Kind::Int | Kind::Timestamp, Scalar::Int(i)) => (c, lit(*i)),
                (Kind::Int, Scalar::Float(x)) => (c.cast(DataType::Float64), lit(*x)),
                (Kind::Float, Scalar::Int(i)) => (c, lit(*i as f64)),
                (Kind::Float, Scalar::Float(x)) => (c, lit(*x)),
                // Incomparable: unknown for every row.
                _ => return Ok(lit(NULL).cast(DataType::Boolean)),
            };
            match op {
                CmpOp::Eq => l.eq(r),
                CmpOp::Ne => l.neq(r),
                CmpOp::Lt => l.lt(r),
                CmpOp::Le => l.lt_eq(r),
                CmpOp::Gt => l.gt(r),
                CmpOp::Ge => l.gt_eq(r),
            }
        }
        Filter::Not(a) => filter_expr(a, events, topic)?.not(),
        Filter::And(a, b) => filter_expr(a, events, topic)?.and(filter_expr(b, events, topic)?),
        Filter::Or(a, b) => filter_expr(a, events, topic)?.or(filter_expr(b, events, topic)?),
    })
}

/// The generic translation of a spec workload: filter → windows → group by window and
/// key → one set of columns per aggregate's partial.
fn spec(s: &WorkloadSpec, events: Events, topic: &str) -> Result<Output> {
    let keys: Vec<(String, Kind)> = s
        .group_by
        .iter()
        .map(|c| Ok((c.clone(), events.kind(topic, c)?)))
        .collect::<Result<_>>()?;
    let mut aggs: Vec<Expr> = Vec::new();
    let mut parts = Vec::new();
    for (i, a) in s.aggregates.iter().enumerate() {
        let name = |suffix: &str| format!("__lk_a{i}{suffix}");
        let kind = match a.column() {
            Some(c) => Some(events.kind(topic, c)?),
            None => None,
        };
        match (a, kind) {
            (Aggregate::Count, _) => {
                aggs.push(len().cast(DataType::UInt64).alias(name("")));
                parts.push(PartCol::Count(name("")));
            }
            (Aggregate::CountColumn(c), _) => {
                aggs.push(
                    col(c.as_str())
                        .count()
                        .cast(DataType::UInt64)
                        .alias(name("")),
                );
                parts.push(PartCol::Count(name("")));
            }
            (Aggregate::Sum(c) | Aggregate::Avg(c), Some(Kind::Int)) => {
                let hi = col(c.as_str()).floor_div(lit(TWO_32));
                let lo = col(c.as_str()) - hi.clone() * lit(TWO_32);
                aggs.push(hi.sum().alias(name("_hi")));
                aggs.push(lo.sum().alias(name("_lo")));
                aggs.push(col(c.as_str()).count().alias(name("_n")));
                parts.push(PartCol::SumInt {
                    hi: name("_hi"),
                    lo: name("_lo"),
                    n: name("_n"),
                });
            }
            (Aggregate::Sum(c) | Aggregate::Avg(c), Some(Kind::Float)) => {
                aggs.push(col(c.as_str()).sum().alias(name("_f")));
                aggs.push(col(c.as_str()).count().alias(name("_n")));
                parts.push(PartCol::SumFloat {
                    f: name("_f"),
                    n: name("_n"),
                });
            }
            (Aggregate::Sum(c) | Aggregate::Avg(c), k) => {
                return Err(BatchError::Type(format!(
                    "{a}: column {c:?} is {k:?}, not a number"
                )));
            }
            (Aggregate::Min(c), Some(k)) => {
                aggs.push(col(c.as_str()).min().alias(name("")));
                parts.push(PartCol::Min(name(""), k));
            }
            (Aggregate::Max(c), Some(k)) => {
                aggs.push(col(c.as_str()).max().alias(name("")));
                parts.push(PartCol::Max(name(""), k));
            }
            (Aggregate::CountDistinct(c), Some(k)) => {
                aggs.push(col(c.as_str()).drop_nulls().unique().alias(name("")));
                parts.push(PartCol::Distinct(name(""), k));
            }
            (a, None) => return Err(BatchError::Type(format!("{a} needs a column"))),
        }
    }
    let filter = match &s.filter {
        Some(f) => Some(filter_expr(f, &events, topic)?),
        None => None,
    };
    let mut lf = events.frame.lazy();
    if let Some(f) = filter {
        lf = lf.filter(f);
    }
    let lf = match s.window {
        WindowSpec::Session { gap_ms } => {
            let keys: Vec<&str> = keys.iter().map(|(k, _)| k.as_str()).collect();
            per_session(lf, gap_ms, &keys, aggs)?
        }
        w => {
            let keys: Vec<&str> = keys.iter().map(|(k, _)| k.as_str()).collect();
            per_window(lf, w, &keys, aggs)?
        }
    };
    Ok(Output {
        lf,
        keys,
        parts,
        sorted: false,
    })
}

fn int_of(av: &AnyValue<'_>, what: &str) -> Result<Option<i64>> {
    Ok(match av {
        AnyValue::Null => None,
        AnyValue::Int64(v) => Some(*v),
        AnyValue::Int32(v) => Some(i64::from(*v)),
        AnyValue::UInt32(v) => Some(i64::from(*v)),
        AnyValue::UInt64(v) => {
            Some(i64::try_from(*v).map_err(|_| {
                BatchError::Type(format!("{what}: {v} does not fit a 64-bit integer"))
            })?)
        }
        other => {
            return Err(BatchError::Type(format!(
                "{what}: {other:?} is not an integer"
            )));
        }
    })
}

fn scalar_of(av: &AnyValue<'_>, kind: Kind, what: &str) -> Result<Scalar> {
    Ok(match (av, kind) {
        (AnyValue::Null, _) => Scalar::Null,
        (AnyValue::Float64(f), Kind::Float) => Scalar::Float(*f),
        (AnyValue::String(s), Kind::Str) => Scalar::Str((*s).to_owned()),
        (AnyValue::StringOwned(s), Kind::Str) => Scalar::Str(s.to_string()),
        (AnyValue::Boolean(b), Kind::Bool) => Scalar::Bool(*b),
        (v, Kind::Int) => int_of(v, what)?.map_or(Scalar::Null, Scalar::Int),
        (v, Kind::Timestamp) => int_of(v, what)?.map_or(Scalar::Null, Scalar::Timestamp),
        (other, k) => {
            return Err(BatchError::Type(format!(
                "{what}: {other:?} is not a {k:?} value"
            )));
        }
    })
}

/// The values of a list cell (null values kept; a null list is empty).
fn list_of(av: &AnyValue<'_>, kind: Kind, what: &str) -> Result<Vec<Scalar>> {
    match av {
        AnyValue::List(s) => s.iter().map(|v| scalar_of(&v, kind, what)).collect(),
        AnyValue::Null => Ok(Vec::new()),
        other => Err(BatchError::Type(format!("{what}: {other:?} is not a list"))),
    }
}

/// The plan's output frame as a partial table, in the layout of `empty_partials()`.
fn to_table(df: &DataFrame, keys: &[(String, Kind)], parts: &[PartCol]) -> Result<PartialTable> {
    let get = |name: &str| -> Result<&polars::prelude::Column> { Ok(df.column(name)?) };
    let ws = get(WS)?;
    let we = get(WE)?;
    let key_cols: Vec<(&polars::prelude::Column, Kind)> = keys
        .iter()
        .map(|(k, kind)| Ok((get(k)?, *kind)))
        .collect::<Result<_>>()?;
    let mut cells = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let window = Window {
            start: int_of(&ws.get(i)?, "window start")?.unwrap_or_default(),
            end: int_of(&we.get(i)?, "window end")?.unwrap_or_default(),
        };
        let key = key_cols
            .iter()
            .map(|(c, k)| scalar_of(&c.get(i)?, *k, c.name()))
            .collect::<Result<Vec<_>>>()?;
        let mut partials = Vec::with_capacity(parts.len());
        for p in parts {
            let count = |name: &str| -> Result<u64> {
                Ok(int_of(&get(name)?.get(i)?, name)?.unwrap_or(0) as u64)
            };
            partials.push(match p {
                PartCol::Count(c) => Partial::Count(count(c)?),
                PartCol::SumInt { hi, lo, n } => {
                    let hi = i128::from(int_of(&get(hi)?.get(i)?, hi)?.unwrap_or(0));
                    let lo = i128::from(int_of(&get(lo)?.get(i)?, lo)?.unwrap_or(0));
                    Partial::Sum(SumState {
                        int: hi * i128::from(TWO_32) + lo,
                        float: 0.0,
                        count: count(n)?,
                        saw_float: false,
                    })
                }
                PartCol::SumFloat { f, n } => {
                    let count = count(n)?;
                    let float = match get(f)?.get(i)? {
                        AnyValue::Float64(x) => x,
                        AnyValue::Null => 0.0,
                        other => return Err(BatchError::Type(format!("{f}: {other:?}"))),
                    };
                    Partial::Sum(SumState {
                        int: 0,
                        float: if count == 0 { 0.0 } else { float },
                        count,
                        saw_float: count > 0,
                    })
                }
                PartCol::Min(c, k) | PartCol::Max(c, k) => {
                    let v = scalar_of(&get(c)?.get(i)?, *k, c)?;
                    let v = (!v.is_null()).then_some(v);
                    if matches!(p, PartCol::Min(..)) {
                        Partial::Min(v)
                    } else {
                        Partial::Max(v)
                    }
                }
                PartCol::Distinct(c, k) => {
                    let mut set = BTreeSet::new();
                    match get(c)?.get(i)? {
                        AnyValue::List(s) => {
                            for v in s.iter() {
                                let v = scalar_of(&v, *k, c)?;
                                if !v.is_null() {
                                    set.insert(v);
                                }
                            }
                        }
                        AnyValue::Null => {}
                        other => return Err(BatchError::Type(format!("{c}: {other:?}"))),
                    }
                    Partial::Distinct(set)
                }
                PartCol::Values(c, k) => {
                    let mut map = BTreeMap::new();
                    for v in list_of(&get(c)?.get(i)?, *k, c)? {
                        *map.entry(v).or_insert(0u64) += 1;
                    }
                    Partial::Values(map)
                }
                PartCol::Top { cols, n, desc } => {
                    let lists = cols
                        .iter()
                        .map(|(c, k)| list_of(&get(c)?.get(i)?, *k, c))
                        .collect::<Result<Vec<_>>>()?;
                    let rows = (0..lists.first().map_or(0, Vec::len)).map(|r| {
                        lists
                            .iter()
                            .map(|l| l.get(r).cloned().unwrap_or(Scalar::Null))
                            .collect()
                    });
                    let mut top = TopRows {
                        n: *n,
                        desc: desc.clone(),
                        rows: Vec::new(),
                    };
                    top.extend(rows);
                    Partial::Top(top)
                }
                PartCol::MaxBy { order, payload } => {
                    let o = scalar_of(&get(order)?.get(i)?, Kind::Int, order)?;
                    let pay = payload
                        .iter()
                        .map(|c| scalar_of(&get(c)?.get(i)?, Kind::Int, c))
                        .collect::<Result<Vec<_>>>()?;
                    Partial::MaxBy(Some((o, pay)))
                }
            });
        }
        cells.push(StoredCell {
            window,
            key,
            partials,
        });
    }
    // Sorted already: the table is built in one pass (a later duplicate would win).
    Ok(PartialTable::from(cells))
}

#[cfg(test)]
mod tests {
    use super::packs;

    #[test]
    fn the_packed_key_is_used_only_where_no_event_time_can_overflow_it() {
        // ⌊i64::MAX / 10,000⌋ = 922,337,203,685,477; · 9,999 + 9,998 fits, · 10,000 +
        // 9,999 does not.
        assert!(packs(10_000, 9_999));
        assert!(!packs(10_000, 10_000));
        assert!(packs(10_000, 100));
        // Windows of 1 ms: ⌊i64::MIN / 1⌋ · 2 overflows.
        assert!(packs(1, 1));
        assert!(!packs(1, 2));
        assert!(!packs(0, 5));
        assert!(!packs(10_000, 0));
    }
}
