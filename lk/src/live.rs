//! The live page of `lk serve`: both pipelines' answers to one query side by side, with
//! their freshness and latency, updated as events flow.
//!
//! ```text
//!   GET /live?workload=W&key=K&from=RFC3339&to=RFC3339          the page (HTML)
//!   GET /live/events?workload=W&key=K&from=RFC3339&to=RFC3339   server-sent events
//! ```
//!
//! The page ([`PAGE`], `live_page.html`) is one self-contained document: inline CSS and
//! script, no other resource (its Content-Security-Policy lets it reach nothing but its
//! own origin). Its script reads the query string, offers the workloads of
//! `GET /workloads`, and follows `/live/events`.
//!
//! `/live/events` checks its parameters like `/workloads/{name}/rows` (the same JSON 400
//! and 404 answers, before the stream starts; `workload` is required), then polls both
//! pipelines' answers every [`POLL`] on tokio's blocking pool and sends an `update` event
//! whenever anything in it changed (rows, freshness, latency figures), and a keep-alive
//! comment when nothing did for [`KEEP_ALIVE`]. An update is a JSON object:
//!
//! ```text
//!   {"workload": "…", "key_columns": […], "value_columns": […], "server_time_ms": T,
//!    "lambda": P, "kappa": P}
//!   P = {"ok": true, "rows": [the last MAX_ROWS rows], "total_rows": N,
//!        "totals": {"column": sum over all rows, …}, "freshness": {as in /rows},
//!        "topic": "…", "visible_records": Σ served, "head_records": Σ head,
//!        "newest_visible_append_ms": T|null, "oldest_pending_append_ms": T|null,
//!        "changed_at_ms": T|null, "visible_latency_ms": ms|null}
//!     | {"ok": false, "status": 404, "error": "…"}
//! ```
//!
//! Times are the log's append times (ms since the epoch): `newest_visible_append_ms` is
//! that of the newest record the answer covers, `oldest_pending_append_ms` that of the
//! oldest record in the log the answer does not cover yet (null when caught up).
//! `changed_at_ms` is when this poll last saw the answer cover more records, and
//! `visible_latency_ms` is then minus the newest covered record's append time: how long
//! that record took from append to visible, to within one poll interval.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::stream::Stream;
use master_log::{FetchLimits, Log};
use serde_json::{Map, Value, json};
use serving_layer::{Answer, Query};
use workloads::Workload;

use crate::api::{
    ApiError, Pipeline, ServeState, answer, blocking, find_workload, parse_params, parse_query,
};

/// The live page: one HTML document with inline CSS and script.
pub const PAGE: &str = include_str!("live_page.html");

/// How often `/live/events` reads both pipelines' answers.
pub const POLL: Duration = Duration::from_millis(250);

/// How long `/live/events` stays silent before it sends a keep-alive comment.
pub const KEEP_ALIVE: Duration = Duration::from_secs(10);

/// The most rows of each pipeline an update carries: the last ones (the latest windows).
pub const MAX_ROWS: usize = 500;

/// The parameters of `/live` and `/live/events`.
const LIVE_PARAMS: [&str; 4] = ["workload", "key", "from", "to"];

/// What the page may load: nothing but its own inline CSS and script, and requests to
/// its own origin.
const CSP: &str = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
                   connect-src 'self'; img-src data:; base-uri 'none'; form-action 'self'";

/// The routes of the live page.
pub(crate) fn routes() -> Router<Arc<ServeState>> {
    Router::new()
        .route("/live", get(page))
        .route("/live/events", get(events))
}

async fn page(RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    parse_params(raw.as_deref(), &LIVE_PARAMS)?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_SECURITY_POLICY, CSP),
        ],
        PAGE,
    )
        .into_response())
}

async fn events(
    State(state): State<Arc<ServeState>>,
    RawQuery(raw): RawQuery,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let params = parse_params(raw.as_deref(), &LIVE_PARAMS)?;
    let Some(name) = params.get("workload").cloned() else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "parameter \"workload\" is required",
        ));
    };
    let checking = state.clone();
    let (workload, query) = blocking(move || {
        let workload = find_workload(&checking, &name)?;
        let (_, query) = parse_query(&params, &workload)?;
        Ok((workload, query))
    })
    .await?;
    let watch = Watch {
        state,
        workload,
        query,
        last: None,
        lambda: Tracker::default(),
        kappa: Tracker::default(),
    };
    let stream = futures_util::stream::unfold((watch, true), |(watch, first)| async move {
        let mut watch = watch;
        let mut stopping = watch.state.stopping.clone();
        let mut first = first;
        loop {
            if !first {
                tokio::select! {
                    _ = tokio::time::sleep(POLL) => {}
                    _ = stopping.wait_for(|stop| *stop) => return None,
                }
            }
            first = false;
            if *stopping.borrow() {
                return None;
            }
            let (back, update) = tokio::task::spawn_blocking(move || {
                let update = watch.poll();
                (watch, update)
            })
            .await
            .ok()?;
            watch = back;
            if let Some(data) = update {
                let event = Event::default().event("update").data(data);
                return Some((Ok(event), (watch, false)));
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

/// One client's query, and what it was last sent.
struct Watch {
    state: Arc<ServeState>,
    workload: Workload,
    query: Query,
    /// The last update sent, without its `server_time_ms`.
    last: Option<Value>,
    lambda: Tracker,
    kappa: Tracker,
}

impl Watch {
    /// Read both answers; the update to send (JSON text) when anything changed.
    fn poll(&mut self) -> Option<String> {
        let now = now_ms();
        let lambda = self.pipeline(Pipeline::Lambda, now);
        let kappa = self.pipeline(Pipeline::Kappa, now);
        let mut update = json!({
            "workload": self.workload.name(),
            "key_columns": self.workload.key_columns(),
            "value_columns": self.workload.value_columns(),
            "lambda": lambda,
            "kappa": kappa,
        });
        if self.last.as_ref() == Some(&update) {
            return None;
        }
        self.last = Some(update.clone());
        update["server_time_ms"] = now.into();
        Some(update.to_string())
    }

    fn pipeline(&mut self, pipeline: Pipeline, now: i64) -> Value {
        let answered = answer(&self.state, &self.workload, pipeline, &self.query);
        let tracker = match pipeline {
            Pipeline::Lambda => &mut self.lambda,
            Pipeline::Kappa => &mut self.kappa,
        };
        match answered {
            Ok((answer, topic)) => tracker.describe(self.state.log.as_ref(), &answer, &topic, now),
            Err(e) => json!({ "ok": false, "status": e.status.as_u16(), "error": e.message }),
        }
    }
}

/// What one pipeline's answers showed so far.
#[derive(Debug, Default)]
struct Tracker {
    /// The records covered at the last poll, per partition.
    positions: Option<Vec<u64>>,
    /// When the covered records last grew, and the newest one's age then.
    changed_at_ms: Option<i64>,
    visible_latency_ms: Option<i64>,
    /// Append times looked up, by (topic, partition, offset).
    append_times: HashMap<(String, u32, u64), Option<i64>>,
}

impl Tracker {
    /// `answer` as an update's pipeline object.
    fn describe(&mut self, log: &dyn Log, answer: &Answer, topic: &str, now: i64) -> Value {
        let f = &answer.freshness;
        if self.append_times.len() > 256 {
            self.append_times.clear();
        }
        let mut newest = None;
        let mut oldest_pending = None;
        for (p, (&served, &head)) in f.served_positions.iter().zip(&f.head).enumerate() {
            let p = p as u32;
            if served > 0
                && let Some(t) = self.append_time(log, topic, p, served - 1)
            {
                newest = newest.max(Some(t));
            }
            if served < head
                && let Some(t) = self.append_time(log, topic, p, served)
            {
                oldest_pending = Some(oldest_pending.map_or(t, |o: i64| o.min(t)));
            }
        }
        let grew = self
            .positions
            .as_ref()
            .is_some_and(|before| before.iter().zip(&f.served_positions).any(|(b, s)| s > b));
        if grew {
            self.changed_at_ms = Some(now);
            self.visible_latency_ms = newest.map(|t| (now - t).max(0));
        }
        self.positions = Some(f.served_positions.clone());
        let (rows, totals) = rows_and_totals(answer);
        let total_rows = rows.len();
        let shown = rows[total_rows.saturating_sub(MAX_ROWS)..].to_vec();
        json!({
            "ok": true,
            "rows": shown,
            "total_rows": total_rows,
            "totals": totals,
            "freshness": f,
            "topic": topic,
            "visible_records": f.served_positions.iter().sum::<u64>(),
            "head_records": f.head.iter().sum::<u64>(),
            "newest_visible_append_ms": newest,
            "oldest_pending_append_ms": oldest_pending,
            "changed_at_ms": self.changed_at_ms,
            "visible_latency_ms": self.visible_latency_ms,
        })
    }

    /// The append time of one record, remembered (records never change); `None` when it
    /// cannot be read (removed by retention or compaction, or the log refuses).
    fn append_time(
        &mut self,
        log: &dyn Log,
        topic: &str,
        partition: u32,
        offset: u64,
    ) -> Option<i64> {
        let key = (topic.to_owned(), partition, offset);
        if let Some(t) = self.append_times.get(&key) {
            return *t;
        }
        let limits = FetchLimits {
            max_records: 1,
            max_bytes: 1,
        };
        let t = log
            .fetch(topic, partition, offset, limits)
            .ok()
            .and_then(|records| records.first().map(|r| r.append_time));
        self.append_times.insert(key, t);
        t
    }
}

/// The answer's rows as JSON objects (as `/workloads/{name}/rows` renders them), and per
/// value column whose values are all numbers, their sum.
fn rows_and_totals(answer: &Answer) -> (Vec<Value>, Map<String, Value>) {
    let rendered = serving_layer::render(answer, serving_layer::Format::Json);
    let rows = match serde_json::from_str::<Value>(&rendered) {
        Ok(Value::Object(mut doc)) => match doc.remove("rows") {
            Some(Value::Array(rows)) => rows,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    let mut totals = Map::new();
    for column in &answer.result.value_columns {
        let values: Option<Vec<&serde_json::Number>> = rows
            .iter()
            .map(|r| match r.get(column) {
                Some(Value::Number(n)) => Some(n),
                _ => None,
            })
            .collect();
        let Some(values) = values else { continue };
        let total = if values.iter().all(|n| n.is_i64()) {
            Value::from(values.iter().filter_map(|n| n.as_i64()).sum::<i64>())
        } else {
            Value::from(values.iter().filter_map(|n| n.as_f64()).sum::<f64>())
        };
        totals.insert(column.clone(), total);
    }
    (rows, totals)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_is_self_contained() {
        // Nothing loaded from elsewhere: no absolute URL, no stylesheet import, and every
        // src or href attribute a data: URL or a fragment.
        for needle in ["http:", "https:", "//cdn", "url(", "@import"] {
            assert!(!PAGE.contains(needle), "the page contains {needle:?}");
        }
        for attribute in ["src=\"", "href=\""] {
            for (i, _) in PAGE.match_indices(attribute) {
                let value = &PAGE[i + attribute.len()..];
                assert!(
                    value.starts_with("data:") || value.starts_with('#'),
                    "{}",
                    &value[..value.len().min(40)]
                );
            }
        }
        assert!(PAGE.contains("<style>") && PAGE.contains("<script>"));
        assert!(PAGE.contains("/live/events"));
    }
}
