#![warn(missing_docs)]
//! # batch_layer — the Lambda batch layer
//!
//! Recomputes a workload **from scratch** over every record of a topic below a
//! **horizon**, and publishes the result as an immutable, versioned **batch view**. The
//! Lambda principle: the log is immutable, views are recomputed, nothing is patched
//! incrementally.
//!
//! ```text
//!            horizon = end offsets captured at the start (per partition)
//!   partition 0 ─[earliest ........ h0)│ later records: the speed layer's
//!   partition 1 ─[earliest ...... h1)  │
//!   partition 2 ─[earliest ........... h2)
//!        │ rayon: one task per partition — decode into columns (TopicRows; generated
//!        │        YSB values by a decoder of their own), drop repeated event ids (a
//!        ▼        duplicate has the same key, hence the same partition: exact)
//!   polars DataFrame ── lazy plan ──► (window, key) → partial columns
//!        │   built-ins: one hand-written plan each; specs: one generic translation
//!        ▼
//!   PartialTable (cells laid out as Workload::empty_partials())
//!        │                                         ┌─ v5/ v6/ v7/  (last K kept)
//!        ▼                                         │   view.parquet + meta.json
//!   BatchView ──► ViewStore::publish ── write v<N+1>/, fsync, rename CURRENT.tmp → CURRENT
//! ```
//!
//! ## Contract
//! - [`recompute`] captures the horizon (`Log::end_offsets`) when it starts and reads
//!   exactly `[earliest, horizon[p])` of every partition `p`; records appended later are
//!   not in the view (they belong to the speed layer). [`recompute_at`] takes a horizon
//!   captured by the caller.
//! - [`recompute_partitions_at`] makes **one view per partition**: each reads only its
//!   partition, and its horizon keeps that partition's end offset with 0 for every other
//!   partition. Views are per key and a key lives in one partition, so per-partition
//!   views merge (in the serving layer) into exactly the whole view; this is how the
//!   workers of a Lambda group split the batch layer without a shuffle.
//! - Generated events count once by `event_id`; each row of an imported CSV is its own
//!   event.
//! - The decoder reads only the columns a plan reads, applies a built-in's filter
//!   (`event_type = 'view'`, …) as it reads, and gives YSB's `ad_id` as its campaign's
//!   number (a lookup of the ad → campaign table): ysb-campaign-10s groups one integer,
//!   `window number · campaigns + campaign number`, per view.
//! - The polars plans: the window start is an expression over event time
//!   (`floor_div(t, slide) · slide`); hopping windows make one copy of the frame per
//!   overlapping window start (the starts "exploded"), each filtered to the windows that
//!   really contain the event; sessions sort per key by time, flag where the gap to the
//!   key's previous event reaches the gap, and number sessions by a cumulative sum of the
//!   flags; `count_distinct` keeps the list of distinct values so the result stays a
//!   mergeable partial; NEXMark Q7's arg-max sorts each window's bids (price descending,
//!   then auction and bidder ascending) and takes the first. Integer sums are exact:
//!   polars sums the high and low 32-bit halves separately (each fits an i64) and the
//!   partial gets `hi·2³² + lo` as an i128.
//! - Spec filters are polars expressions with SQL null semantics: a comparison with null,
//!   or between incomparable types, is null; `and`/`or`/`not` are Kleene; a row passes
//!   only when the filter is true. (Float NaN compares as polars does: NaN is largest.)
//! - The result cells use exactly the partial layout of `Workload::empty_partials()`, so
//!   a batch view merges with a realtime view and `Workload::finish` turns it into rows.
//! - rayon and polars run on their own thread pools; this crate has no tokio, and a
//!   caller on tokio must call it from `spawn_blocking` or a plain thread.
//!
//! ## The artifact
//! `ViewStore` writes each view as `v<N>/view.parquet` (written through polars) and
//! `v<N>/meta.json` (in `.v<N>.tmp/`, fsynced, renamed to `v<N>/`), then publishes it by
//! atomically replacing the `CURRENT` pointer file (`master_log::durable::write_atomic`,
//! `Durability::Synced`: write `.CURRENT.tmp`, fsync, rename, fsync the directory):
//! readers see the old view or the new one, never a partial one. A crash before the
//! rename leaves the old version served. The last K versions (default 3) are kept.
//! Parquet columns:
//!
//! | column                  | type    | content                                              |
//! |-------------------------|---------|------------------------------------------------------|
//! | `window_start`, `window_end` | Int64 | ms since the epoch                              |
//! | `key_<name>` per key column | native | Int64, Float64, Utf8, Boolean, or Int64 µs for timestamps; Binary (postcard `Scalar`) if a column mixes types |
//! | `p<i>` per partial      | UInt64 or Binary | `Count` natively; every other partial (i128 sums, min/max scalars, distinct sets, max-by payloads) as the **postcard encoding of the `Partial`**, which polars cannot type exactly |
//!
//! `meta.json` holds the version, workload, topic, horizon, record and event counts,
//! timings, and the encoding of each column. Reading back checks both against each
//! other; a corrupt artifact is a [`BatchError::Corrupt`].

mod decode;
mod error;
mod plan;
mod store;

use std::path::Path;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use master_log::Log;
use workloads::{PartialTable, Workload};

pub use error::{BatchError, Result};
pub use store::ViewStore;

/// A recomputed view: the workload's partials over every event below `horizon`.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchView {
    /// The published version (0 until published; [`ViewStore::current`] fills it in).
    pub version: u64,
    /// The workload's name.
    pub workload: String,
    /// The topic the view was computed over.
    pub topic: String,
    /// The workload's key column names (the order of each cell's key values).
    pub key_columns: Vec<String>,
    /// Per partition, the end offset (exclusive) the view covers.
    pub horizon: Vec<u64>,
    /// Records read below the horizon (duplicates included).
    pub records_read: u64,
    /// Events after removing duplicates.
    pub events: u64,
    /// When the recomputation started (ms since the epoch).
    pub created_ms: u64,
    /// How long the recomputation took.
    pub elapsed_ms: u64,
    /// The cells: per (window, key), the partials in the layout of
    /// `Workload::empty_partials()`.
    pub table: PartialTable,
}

/// Recompute `workload` over `topic` from scratch, up to the horizon captured now.
/// `sidecar_dir` holds the dataset sidecars (`<data>/datasets`: CSV schemas, the YSB
/// ad → campaign table).
pub fn recompute(
    log: &dyn Log,
    workload: &Workload,
    topic: &str,
    sidecar_dir: &Path,
) -> Result<BatchView> {
    let horizon = log.end_offsets(topic)?;
    recompute_at(log, workload, topic, sidecar_dir, &horizon)
}

/// Recompute `workload` over `topic` up to a given `horizon` (one end offset per
/// partition, e.g. captured earlier with `Log::end_offsets`).
pub fn recompute_at(
    log: &dyn Log,
    workload: &Workload,
    topic: &str,
    sidecar_dir: &Path,
    horizon: &[u64],
) -> Result<BatchView> {
    let started = Instant::now();
    let created_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let partitions = log.partition_count(topic)? as usize;
    if horizon.len() != partitions {
        return Err(BatchError::Horizon {
            topic: topic.to_owned(),
            got: horizon.len(),
            expected: partitions,
        });
    }
    // Nothing below the horizon (say, a topic no record has reached yet, whose dataset
    // is not known): the empty view, with no dataset nor sidecar looked at.
    let ranges = decode::ranges(log, topic, horizon)?;
    let (records_read, n_events, table) = if ranges.is_empty() {
        (0, 0, PartialTable::new())
    } else {
        let scan = plan::scan(workload, topic, sidecar_dir)?;
        let events = decode::read_events(log, topic, sidecar_dir, &ranges, &scan)?;
        let (read, distinct) = (events.records_read, events.distinct);
        let table = if read == 0 {
            PartialTable::new()
        } else {
            plan::run(workload, events, topic, sidecar_dir)?
        };
        (read, distinct, table)
    };
    Ok(BatchView {
        version: 0,
        workload: workload.name().to_owned(),
        topic: topic.to_owned(),
        key_columns: workload.key_columns(),
        horizon: horizon.to_vec(),
        records_read,
        events: n_events,
        created_ms,
        elapsed_ms: started.elapsed().as_millis() as u64,
        table,
    })
}

/// One view per partition of `partitions`, each recomputed from scratch over that
/// partition alone up to `horizon[p]`; a view's horizon is `horizon` with every other
/// partition's entry set to 0 (it covers nothing there). Merged, the views equal the
/// view of [`recompute_at`] over the same partitions.
pub fn recompute_partitions_at(
    log: &dyn Log,
    workload: &Workload,
    topic: &str,
    sidecar_dir: &Path,
    horizon: &[u64],
    partitions: &[u32],
) -> Result<Vec<BatchView>> {
    partitions
        .iter()
        .map(|&p| {
            let Some(&end) = horizon.get(p as usize) else {
                return Err(BatchError::UnknownPartition {
                    topic: topic.to_owned(),
                    partition: p,
                    partitions: horizon.len(),
                });
            };
            let mut only = vec![0; horizon.len()];
            only[p as usize] = end;
            recompute_at(log, workload, topic, sidecar_dir, &only)
        })
        .collect()
}
