#![warn(missing_docs)]
//! # serving_layer — answers from merged views, with their freshness
//!
//! Lambda's serving layer merges what the batch layer recomputed below a **horizon** with
//! what the speed layer has seen at or above it; Kappa's serves the one table its job
//! keeps. Both store the same mergeable partials (`workloads::PartialTable`), so this
//! layer merges without knowing which pipeline produced them:
//!
//! ```text
//!   BatchView  [0, H)            ─┐
//!   realtime generation [H, H2)  ─┼─ merge partials per (window, key) ─► finish ─► filter ─► rows
//!   realtime generation [H2, pos) ┘        (top-K, arg-max, sessions       (key, time)    + Freshness
//!   (generations below H: expired)           after merging: exact)
//! ```
//!
//! ## Contract
//! - **No gap, no double count.** A realtime generation covers the offsets from its own
//!   `from` to the next generation's `from` (the last one: to the speed layer's
//!   positions). A generation wholly below the batch horizon is already in the batch view
//!   and is skipped; one wholly at or above it is merged; one that straddles the horizon
//!   cannot be split and is refused ([`ServingError::Overlap`]) rather than counted twice.
//! - **Freshness** comes with every answer: the batch horizon (offsets and how many
//!   records it covers), how far the realtime view has read, the head of the log, and the
//!   lag in records between what is served and the head.
//! - Rows are sorted by window, then key; timestamps render in RFC 3339 UTC.

use std::fmt::Write as _;

use serde::Serialize;
use workloads::{PartialTable, ResultSet, Row, Scalar, Workload, rfc3339_millis};

/// What can go wrong answering a query.
#[derive(Debug, thiserror::Error)]
pub enum ServingError {
    /// A realtime generation straddles the batch horizon: merging it would count some
    /// records twice.
    #[error(
        "realtime generation from {from:?} to {to:?} straddles the batch horizon {horizon:?}: it must be re-read from the horizon"
    )]
    Overlap {
        /// Per partition, the first offset the generation holds.
        from: Vec<u64>,
        /// Per partition, the offset the generation ends before.
        to: Vec<u64>,
        /// Per partition, the batch view's horizon.
        horizon: Vec<u64>,
    },
    /// Offsets of different partition counts.
    #[error("views of {0} and {1} partitions cannot be merged")]
    Partitions(usize, usize),
    /// A query parameter that makes no sense.
    #[error("bad query: {0}")]
    BadQuery(String),
    /// Merging partials or finishing them into rows failed.
    #[error(transparent)]
    Workload(#[from] workloads::WorkloadError),
}

/// The serving layer's result type.
pub type Result<T, E = ServingError> = std::result::Result<T, E>;

/// A batch view as the serving layer needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchPart {
    /// Per-partition end offsets the batch covers: `[0, horizon[p])`.
    pub horizon: Vec<u64>,
    /// The view's cells: every record below the horizon.
    pub table: PartialTable,
}

/// One generation of a realtime view: the records from `from[p]` up to the next
/// generation's `from` (or the positions, for the last).
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    /// Per partition, the first offset the generation holds.
    pub from: Vec<u64>,
    /// The generation's cells.
    pub table: PartialTable,
}

/// A consistent view of a Lambda pipeline at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct LambdaSnapshot {
    /// The published batch view, if there is one yet.
    pub batch: Option<BatchPart>,
    /// Oldest first.
    pub realtime: Vec<Generation>,
    /// Per partition, the next offset the speed layer will read.
    pub positions: Vec<u64>,
    /// Per partition, the log's latest offset when the snapshot was taken.
    pub head: Vec<u64>,
}

/// How fresh an answer is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Freshness {
    /// The batch horizon, when there is a batch view.
    pub batch_horizon: Option<Vec<u64>>,
    /// Records below the horizon.
    pub batch_records: u64,
    /// Where the realtime (or Kappa) view has read to, per partition.
    pub served_positions: Vec<u64>,
    /// Per partition, the log's latest offset when the answer was made.
    pub head: Vec<u64>,
    /// Records in the log not yet in the answer.
    pub lag_records: u64,
}

/// An answer and its freshness.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    /// The rows the query asked for.
    pub result: ResultSet,
    /// How fresh they are.
    pub freshness: Freshness,
}

fn all_le(a: &[u64], b: &[u64]) -> bool {
    a.iter().zip(b).all(|(x, y)| x <= y)
}

fn check_len(a: &[u64], b: &[u64]) -> Result<()> {
    if a.len() == b.len() {
        Ok(())
    } else {
        Err(ServingError::Partitions(a.len(), b.len()))
    }
}

impl LambdaSnapshot {
    /// The batch view merged with every realtime generation above its horizon.
    pub fn merged(&self) -> Result<PartialTable> {
        let mut table = self
            .batch
            .as_ref()
            .map(|b| b.table.clone())
            .unwrap_or_default();
        table.merge(&self.realtime_above_horizon()?)?;
        Ok(table)
    }

    /// The batch horizon (all zeros without a batch view).
    fn horizon(&self) -> Vec<u64> {
        match &self.batch {
            Some(b) => b.horizon.clone(),
            None => vec![0; self.positions.len()],
        }
    }

    /// Every realtime generation at or above the batch horizon, merged.
    fn realtime_above_horizon(&self) -> Result<PartialTable> {
        let horizon = self.horizon();
        check_len(&horizon, &self.positions)?;
        let mut table = PartialTable::new();
        for (i, g) in self.realtime.iter().enumerate() {
            check_len(&g.from, &horizon)?;
            let to = self
                .realtime
                .get(i + 1)
                .map_or(&self.positions, |next| &next.from);
            if all_le(to, &horizon) {
                continue; // expired: the batch view holds these records
            }
            if !all_le(&horizon, &g.from) {
                return Err(ServingError::Overlap {
                    from: g.from.clone(),
                    to: to.clone(),
                    horizon,
                });
            }
            table.merge(&g.table)?;
        }
        Ok(table)
    }

    /// One snapshot from per-partition ones: `parts[p]`, when present, holds the views
    /// of partition `p` alone (as the workers of a Lambda group keep them: one batch
    /// view and one realtime view per partition, whose offset vectors are read at entry
    /// `p` only). The result has one batch part (every partition's batch table, the
    /// horizon made of each partition's own) and one realtime generation from that
    /// horizon (each partition's realtime generations above its horizon), so it answers
    /// and reports freshness like a single process's snapshot. A partition without
    /// views counts as unread (horizon and position 0). `None` when no partition has
    /// any view.
    pub fn from_partitions(
        parts: Vec<Option<LambdaSnapshot>>,
        head: Vec<u64>,
    ) -> Result<Option<LambdaSnapshot>> {
        if parts.len() != head.len() {
            return Err(ServingError::Partitions(parts.len(), head.len()));
        }
        if parts.iter().all(Option::is_none) {
            return Ok(None);
        }
        let n = head.len();
        let mut horizon = vec![0; n];
        let mut positions = vec![0; n];
        let mut batch_table = PartialTable::new();
        let mut realtime = PartialTable::new();
        let mut any_batch = false;
        for (p, part) in parts.iter().enumerate() {
            let Some(part) = part else { continue };
            check_len(&part.positions, &head)?;
            if let Some(b) = &part.batch {
                check_len(&b.horizon, &head)?;
                batch_table.merge(&b.table)?;
                horizon[p] = b.horizon[p];
                any_batch = true;
            }
            realtime.merge(&part.realtime_above_horizon()?)?;
            positions[p] = part.positions[p].max(horizon[p]);
        }
        Ok(Some(LambdaSnapshot {
            batch: any_batch.then(|| BatchPart {
                horizon: horizon.clone(),
                table: batch_table,
            }),
            realtime: vec![Generation {
                from: horizon,
                table: realtime,
            }],
            positions,
            head,
        }))
    }

    /// How fresh the merged views are: the batch horizon, what they have read to (per
    /// partition, the speed layer's position or the horizon, whichever is further), and
    /// the lag behind the head.
    pub fn freshness(&self) -> Freshness {
        let horizon = self.batch.as_ref().map(|b| b.horizon.clone());
        let served: Vec<u64> = match &horizon {
            Some(h) => self
                .positions
                .iter()
                .zip(h)
                .map(|(p, h)| (*p).max(*h))
                .collect(),
            None => self.positions.clone(),
        };
        freshness(horizon, served, &self.head)
    }

    /// Answer `query` over the merged views.
    pub fn answer(&self, workload: &Workload, query: &Query) -> Result<Answer> {
        Ok(Answer {
            result: query.apply(workload.finish(&self.merged()?)?)?,
            freshness: self.freshness(),
        })
    }
}

fn freshness(horizon: Option<Vec<u64>>, served: Vec<u64>, head: &[u64]) -> Freshness {
    let lag = head
        .iter()
        .zip(&served)
        .map(|(h, s)| h.saturating_sub(*s))
        .sum();
    Freshness {
        batch_records: horizon.as_ref().map_or(0, |h| h.iter().sum()),
        batch_horizon: horizon,
        served_positions: served,
        head: head.to_vec(),
        lag_records: lag,
    }
}

/// Answer `query` over a single table (a Kappa output table) that has read to `positions`.
pub fn answer_table(
    workload: &Workload,
    table: &PartialTable,
    positions: &[u64],
    head: &[u64],
    query: &Query,
) -> Result<Answer> {
    Ok(Answer {
        result: query.apply(workload.finish(table)?)?,
        freshness: freshness(None, positions.to_vec(), head),
    })
}

/// Which rows a query wants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// Only rows whose key, its columns' values joined by `,`, is this.
    pub key: Option<String>,
    /// Only windows that end after this time (ms since the epoch).
    pub from_ms: Option<i64>,
    /// Only windows that start before this time (ms since the epoch).
    pub to_ms: Option<i64>,
}

/// A key's text: its columns' values joined by `,`.
pub fn key_text(key: &[Scalar]) -> String {
    key.iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Whether `key`'s text ([`key_text`]) is `text` (a single text column is compared
/// without building the text).
pub fn key_is(key: &[Scalar], text: &str) -> bool {
    match key {
        [Scalar::Str(s)] => s.as_str() == text,
        _ => key_text(key) == text,
    }
}

impl Query {
    fn apply(&self, mut rs: ResultSet) -> Result<ResultSet> {
        if let (Some(f), Some(t)) = (self.from_ms, self.to_ms)
            && f > t
        {
            return Err(ServingError::BadQuery(format!(
                "the time range ends ({}) before it starts ({})",
                rfc3339_millis(t),
                rfc3339_millis(f)
            )));
        }
        rs.rows.retain(|r: &Row| {
            self.key.as_deref().is_none_or(|k| key_is(&r.key, k))
                && self.from_ms.is_none_or(|f| r.window.end > f)
                && self.to_ms.is_none_or(|t| r.window.start < t)
        });
        Ok(rs)
    }
}

/// Output formats of `lk query`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns for a terminal.
    Table,
    /// CSV with a header row, fields quoted when needed.
    Csv,
    /// One JSON object: `columns`, `rows` (objects), and `freshness`.
    Json,
}

fn header(rs: &ResultSet) -> Vec<String> {
    let mut h = vec!["window_start".to_string(), "window_end".to_string()];
    h.extend(rs.key_columns.iter().cloned());
    h.extend(rs.value_columns.iter().cloned());
    h
}

fn cells(r: &Row) -> Vec<String> {
    let mut c = vec![rfc3339_millis(r.window.start), rfc3339_millis(r.window.end)];
    c.extend(r.key.iter().map(|v| v.to_string()));
    c.extend(r.values.iter().map(|v| v.to_string()));
    c
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// `lines` (a header, then rows) as left-aligned columns two spaces apart, a line each,
/// trailing blanks trimmed: the terminal tables of `lk`.
pub fn aligned_columns<S: AsRef<str>>(lines: &[&[S]]) -> String {
    let mut width: Vec<usize> = Vec::new();
    for cols in lines {
        for (i, c) in cols.iter().enumerate() {
            let n = c.as_ref().chars().count();
            match width.get_mut(i) {
                Some(w) => *w = (*w).max(n),
                None => width.push(n),
            }
        }
    }
    let mut out = String::new();
    for cols in lines {
        let padded: Vec<String> = cols
            .iter()
            .zip(&width)
            .map(|(c, w)| format!("{:<w$}", c.as_ref()))
            .collect();
        out.push_str(padded.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// Render an answer: rows (window_start, window_end, key columns, aggregates).
pub fn render(answer: &Answer, format: Format) -> String {
    let rs = &answer.result;
    let head = header(rs);
    let mut out = String::new();
    match format {
        Format::Csv => {
            out.push_str(
                &head
                    .iter()
                    .map(|h| csv_field(h))
                    .collect::<Vec<_>>()
                    .join(","),
            );
            out.push('\n');
            for r in &rs.rows {
                out.push_str(
                    &cells(r)
                        .iter()
                        .map(|c| csv_field(c))
                        .collect::<Vec<_>>()
                        .join(","),
                );
                out.push('\n');
            }
        }
        Format::Table => {
            let rows: Vec<Vec<String>> = rs.rows.iter().map(cells).collect();
            let lines: Vec<&[String]> = std::iter::once(head.as_slice())
                .chain(rows.iter().map(Vec::as_slice))
                .collect();
            out.push_str(&aligned_columns(&lines));
            let f = &answer.freshness;
            let _ = writeln!(
                out,
                "{} rows; served up to {:?} of head {:?} (lag {} records){}",
                rows.len(),
                f.served_positions,
                f.head,
                f.lag_records,
                f.batch_horizon
                    .as_ref()
                    .map(|h| format!("; batch horizon {h:?} ({} records)", f.batch_records))
                    .unwrap_or_default()
            );
        }
        Format::Json => {
            let rows: Vec<serde_json::Value> = rs
                .rows
                .iter()
                .map(|r| {
                    let mut o = serde_json::Map::new();
                    o.insert("window_start".into(), rfc3339_millis(r.window.start).into());
                    o.insert("window_end".into(), rfc3339_millis(r.window.end).into());
                    for (name, v) in rs.key_columns.iter().zip(&r.key) {
                        o.insert(name.clone(), v.to_json());
                    }
                    for (name, v) in rs.value_columns.iter().zip(&r.values) {
                        o.insert(name.clone(), v.to_json());
                    }
                    serde_json::Value::Object(o)
                })
                .collect();
            let doc = serde_json::json!({
                "columns": head,
                "rows": rows,
                "freshness": answer.freshness,
            });
            out.push_str(&doc.to_string());
            out.push('\n');
        }
    }
    out
}
