#![warn(missing_docs)]
//! # oracle — the exact answer every pipeline is judged against
//!
//! For every workload, the answer computed by the simplest code that can be right: read
//! the complete log once, single-threaded, keep every event the workload needs in plain
//! vectors and maps, and compute each window, key and aggregate directly from the events
//! — no partial aggregates, no merging, no incremental state.
//!
//! ```text
//!   Log ──end_offsets/offsets/fetch──► record values (every partition, offset order)
//!        │ wire: the oracle's own decoding of the documented formats
//!        ▼
//!   events (time + named columns) ──► drop repeated event ids (generated events)
//!        │ window: its own window assignment; side: its own read of side files
//!        ▼
//!   cells: (window, key) → events ──► aggregates from the full lists ──► ResultSet
//! ```
//!
//! ## It shares nothing with the pipelines
//! It depends on the log's public read API (`master_log`), on the `workloads` crate only
//! for what a workload *is* (its window spec, its columns, its filter's syntax tree, the
//! `Scalar` and `ResultSet` types of an answer), and on format crates (`postcard`,
//! `serde_json`, `csv`). It does not use the `datasets` crate nor any pipeline crate: it
//! decodes record values itself from the formats' descriptions ([`wire`'s docs] state
//! the layouts it assumes), reads the CSV schema and the YSB campaign table itself
//! ([`side`]), and assigns windows itself ([`window`]), so a decoding or windowing bug
//! in the code the pipelines share shows as a disagreement with the oracle (the test
//! `tests/perturbed_decoder.rs` checks that it does).
//!
//! [`wire`'s docs]: wire
//!
//! ## Semantics it defines for everybody
//! - a generated event counts once, however many times it was sent (by event id); every
//!   row of an imported file is its own event;
//! - a generated event's time is the one in its value; an imported row's, its record's;
//! - windows are half-open, in event time, aligned to the epoch; sessions per key;
//! - SQL null semantics for aggregates and filters;
//! - a SQL workload ([`workloads::SqlWorkload`]) is typed by the workloads crate's model
//!   against the columns the oracle read, then evaluated by the oracle's own code (module
//!   `sql`), never by the pipelines' evaluator.

mod builtin;
mod read;
pub mod side;
mod spec;
mod sql;
pub mod window;
pub mod wire;

use std::path::{Path, PathBuf};

use master_log::Log;
use workloads::{ResultSet, Window, WindowSpec, Workload};

/// What can stop the oracle.
#[derive(Debug, thiserror::Error)]
pub enum OracleError {
    /// Reading the log failed.
    #[error(transparent)]
    Log(#[from] master_log::LogError),
    /// A record of the topic is not what the oracle can read (the cause says why).
    #[error("{topic} partition {partition} offset {offset}")]
    Record {
        /// The topic.
        topic: String,
        /// The record's partition.
        partition: u32,
        /// The record's offset.
        offset: u64,
        /// Why it does not read.
        #[source]
        source: Box<OracleError>,
    },
    /// A field of a postcard value does not decode.
    #[error("field {field} does not decode")]
    Postcard {
        /// The field.
        field: &'static str,
        /// Postcard's reason.
        #[source]
        source: postcard::Error,
    },
    /// A value of the JSON codec is not JSON.
    #[error("a JSON value does not parse")]
    Json(#[source] serde_json::Error),
    /// A value that does not follow its format.
    #[error("{0}")]
    Malformed(String),
    /// A row of an imported file in a topic whose sidecar has no schema.
    #[error("a row of an imported file, and no CSV schema in the topic's sidecar")]
    NoSchema,
    /// A side file does not read.
    #[error("read {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A sidecar is not the JSON the oracle reads.
    #[error("sidecar {} does not parse", path.display())]
    Sidecar {
        /// The sidecar.
        path: PathBuf,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// A sidecar the oracle does not read: of another format version than 1, or of CSV
    /// content without a schema.
    #[error("sidecar {}: {what}", path.display())]
    SidecarFormat {
        /// The sidecar.
        path: PathBuf,
        /// What is wrong with it.
        what: String,
    },
    /// A YSB campaign table does not read as CSV.
    #[error("campaign table {} does not read", path.display())]
    Campaigns {
        /// The table.
        path: PathBuf,
        /// The CSV error.
        #[source]
        source: csv::Error,
    },
    /// A line of a YSB campaign table is not `ad_id,campaign_id` (two UUIDs).
    #[error("campaign table {}: line {line} is not `ad_id,campaign_id`", path.display())]
    CampaignLine {
        /// The table.
        path: PathBuf,
        /// The line, from 1 (the header).
        line: usize,
    },
    /// The workload names a column the topic's events do not have.
    #[error("column {0:?} is not in the topic")]
    MissingColumn(String),
    /// A value of a type the workload cannot use there (an aggregate over text, an ad
    /// without a campaign), or a window spec without a positive size.
    #[error("{0}")]
    Type(String),
}

/// The oracle's result type.
pub type Result<T, E = OracleError> = std::result::Result<T, E>;

/// The exact answer of `workload` over the whole of `topic`. `sidecar_dir` holds the
/// dataset sidecars (`<data>/datasets`): the CSV schema of an imported topic, the YSB ad →
/// campaign table.
pub fn answer(
    log: &dyn Log,
    workload: &Workload,
    topic: &str,
    sidecar_dir: &Path,
) -> Result<ResultSet> {
    let events = read::events(log, topic, sidecar_dir)?;
    let mut rows = match workload {
        Workload::BuiltIn(b) => builtin::rows(*b, &events, topic, sidecar_dir)?,
        Workload::Spec(s) => spec::rows(s, &events)?,
        Workload::Sql(s) => sql::rows(s, &events, topic, sidecar_dir)?,
    };
    rows.sort();
    Ok(ResultSet {
        key_columns: workload.key_columns(),
        value_columns: workload.value_columns(),
        rows,
    })
}

/// The fixed windows (tumbling or hopping) of `spec` containing `t`.
fn windows_of(spec: WindowSpec, t: i64) -> Result<Vec<Window>> {
    let (size, slide) = match spec {
        WindowSpec::Tumbling { size_ms } => (size_ms, size_ms),
        WindowSpec::Hopping { size_ms, slide_ms } => (size_ms, slide_ms),
        WindowSpec::Session { .. } => {
            return Err(OracleError::Type("sessions are formed per key".into()));
        }
    };
    if size <= 0 || slide <= 0 {
        return Err(OracleError::Type(format!(
            "window {spec:?}: no positive size"
        )));
    }
    Ok(window::grid_windows(size, slide, t))
}
