//! The built-in workloads, each computed straight from the events: a count, a set or a
//! best bid per cell, then the ranking where the workload ranks.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use workloads::{BuiltIn, Row, Scalar, Window};

use crate::read::{Event, Events};
use crate::{OracleError, Result, side, windows_of};

fn int(s: &Scalar) -> Result<i64> {
    match s {
        Scalar::Int(i) => Ok(*i),
        other => Err(OracleError::Type(format!(
            "expected an integer, got {other:?}"
        ))),
    }
}

fn count_row(window: Window, key: Scalar, n: u64) -> Row {
    Row {
        window,
        key: vec![key],
        values: vec![Scalar::Int(n as i64)],
    }
}

/// The rows of built-in `b` over `ev`; `sidecar_dir` holds YSB's campaign table of
/// `topic`.
pub(crate) fn rows(b: BuiltIn, ev: &Events, topic: &str, sidecar_dir: &Path) -> Result<Vec<Row>> {
    match b {
        BuiltIn::PageviewsPerMinute => Ok(page_views(b, ev)?
            .into_iter()
            .map(|((w, page), n)| count_row(w, Scalar::Int(page), n))
            .collect()),
        BuiltIn::TopPagesHourly => top_pages(b, ev),
        BuiltIn::ProfileViewersHourly => profile_viewers(b, ev),
        BuiltIn::YsbCampaign10s => campaign_views(b, ev, topic, sidecar_dir),
        BuiltIn::NexmarkQ5 => hot_auctions(b, ev),
        BuiltIn::NexmarkQ7 => highest_bids(b, ev),
    }
}

/// Views per (window, page).
fn page_views(b: BuiltIn, ev: &Events) -> Result<BTreeMap<(Window, i64), u64>> {
    let page = ev.column("page_id")?;
    let mut views = BTreeMap::new();
    for e in &ev.events {
        let p = int(&e.values[page])?;
        for w in windows_of(b.window(), e.time)? {
            *views.entry((w, p)).or_default() += 1;
        }
    }
    Ok(views)
}

/// Per window, the most viewed pages (most views first, then the smaller page id) with
/// their views and rank.
fn top_pages(b: BuiltIn, ev: &Events) -> Result<Vec<Row>> {
    let mut per_window: BTreeMap<Window, Vec<(u64, i64)>> = BTreeMap::new();
    for ((w, page), n) in page_views(b, ev)? {
        per_window.entry(w).or_default().push((n, page));
    }
    let mut rows = Vec::new();
    for (w, mut pages) in per_window {
        pages.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        for (i, (n, page)) in pages.into_iter().take(workloads::TOP_PAGES).enumerate() {
            rows.push(Row {
                window: w,
                key: vec![Scalar::Int(page)],
                values: vec![Scalar::Int(n as i64), Scalar::Int(i as i64 + 1)],
            });
        }
    }
    Ok(rows)
}

/// Distinct viewers per (window, profile page).
fn profile_viewers(b: BuiltIn, ev: &Events) -> Result<Vec<Row>> {
    let (page, page_type, viewer) = (
        ev.column("page_id")?,
        ev.column("page_type")?,
        ev.column("viewer_id")?,
    );
    let mut viewers: BTreeMap<(Window, i64), BTreeSet<i64>> = BTreeMap::new();
    for e in &ev.events {
        if e.values[page_type] != Scalar::Str("profile".into()) {
            continue;
        }
        let (p, v) = (int(&e.values[page])?, int(&e.values[viewer])?);
        for w in windows_of(b.window(), e.time)? {
            viewers.entry((w, p)).or_default().insert(v);
        }
    }
    Ok(viewers
        .into_iter()
        .map(|((w, p), set)| count_row(w, Scalar::Int(p), set.len() as u64))
        .collect())
}

/// `view` events per (window, campaign), through the ad → campaign table.
fn campaign_views(b: BuiltIn, ev: &Events, topic: &str, sidecar_dir: &Path) -> Result<Vec<Row>> {
    let campaign_of: HashMap<[u8; 16], String> = side::campaigns(sidecar_dir, topic)?;
    let (event_type, ad_id) = (ev.column("event_type")?, ev.column("ad_id")?);
    let mut views: BTreeMap<(Window, String), u64> = BTreeMap::new();
    for e in &ev.events {
        if e.values[event_type] != Scalar::Str("view".into()) {
            continue;
        }
        let Scalar::Str(ad) = &e.values[ad_id] else {
            return Err(OracleError::Type("ad_id is not text".into()));
        };
        let campaign = crate::wire::uuid_bytes(ad)
            .and_then(|bytes| campaign_of.get(&bytes))
            .ok_or_else(|| OracleError::Type(format!("ad {ad} has no campaign")))?;
        for w in windows_of(b.window(), e.time)? {
            *views.entry((w, campaign.clone())).or_default() += 1;
        }
    }
    Ok(views
        .into_iter()
        .map(|((w, c), n)| count_row(w, Scalar::Str(c), n))
        .collect())
}

/// The events that are NEXMark bids.
fn bids(ev: &Events) -> Result<impl Iterator<Item = &Event>> {
    let kind = ev.column("kind")?;
    Ok(ev
        .events
        .iter()
        .filter(move |e| e.values[kind] == Scalar::Str("bid".into())))
}

/// Q5: per window, every auction tied for the most bids.
fn hot_auctions(b: BuiltIn, ev: &Events) -> Result<Vec<Row>> {
    let auction = ev.column("auction")?;
    let mut counts: BTreeMap<Window, BTreeMap<i64, u64>> = BTreeMap::new();
    for e in bids(ev)? {
        let a = int(&e.values[auction])?;
        for w in windows_of(b.window(), e.time)? {
            *counts.entry(w).or_default().entry(a).or_default() += 1;
        }
    }
    let mut rows = Vec::new();
    for (w, auctions) in counts {
        let top = auctions.values().copied().max().unwrap_or(0);
        for (a, n) in auctions.into_iter().filter(|(_, n)| *n == top) {
            rows.push(count_row(w, Scalar::Int(a), n));
        }
    }
    Ok(rows)
}

/// Q7: per window, the highest bid; ties go to the smallest (auction, bidder).
fn highest_bids(b: BuiltIn, ev: &Events) -> Result<Vec<Row>> {
    let (price, auction, bidder) = (
        ev.column("price")?,
        ev.column("auction")?,
        ev.column("bidder")?,
    );
    let mut best: BTreeMap<Window, (i64, i64, i64)> = BTreeMap::new();
    for e in bids(ev)? {
        let bid = (
            int(&e.values[price])?,
            int(&e.values[auction])?,
            int(&e.values[bidder])?,
        );
        for w in windows_of(b.window(), e.time)? {
            let slot = best.entry(w).or_insert(bid);
            if bid.0 > slot.0 || (bid.0 == slot.0 && (bid.1, bid.2) < (slot.1, slot.2)) {
                *slot = bid;
            }
        }
    }
    Ok(best
        .into_iter()
        .map(|(w, (p, a, b))| Row {
            window: w,
            key: vec![],
            values: vec![Scalar::Int(p), Scalar::Int(a), Scalar::Int(b)],
        })
        .collect())
}
