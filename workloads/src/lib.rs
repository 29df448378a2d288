//! # workloads — the queries both pipelines answer
//!
//! A *workload* is a keyed, event-time windowed aggregation over a topic: either one of
//! the [built-ins](BuiltIn) over the generated datasets, or a [spec file](WorkloadSpec)
//! over any topic (an imported CSV, say). This crate holds what every pipeline must agree
//! on, and nothing of how any of them computes it:
//!
//! ```text
//!   Workload ──► window (tumbling · hopping · session, aligned to the epoch)
//!            ──► key columns, value columns
//!            ──► empty partials of a cell
//!                         │
//!   batch layer ─┐        ▼                         ┌──► serving layer:
//!   speed layer ─┼──► PartialTable ── merge ──► finish ──► ResultSet (rows by window, key)
//!   kappa job   ─┘    (window, key) → [Partial]      top-K / arg-max / sessions here
//! ```
//!
//! ## Contract
//! - **Windows** are half-open `[start, end)` in event time (ms since the epoch), aligned
//!   to the epoch; hopping windows on the slide grid; a session is `[first, last + gap)`
//!   per key.
//! - **Partials merge exactly** ([`Partial::merge`] is associative and commutative; integer
//!   sums in i128): any split of the data into batch and realtime halves, or into
//!   partitions, merges to the same answer. `count_distinct` keeps the exact set of
//!   values; top-K and arg-max rank after merging, from a count per key, so they are
//!   exact too. Float sums may differ in the last bits with the merge order; answers are
//!   compared with a relative tolerance of [`FLOAT_TOLERANCE`].
//! - **SQL null semantics**: `count` counts rows, the other aggregates ignore nulls, and
//!   `sum`/`avg`/`min`/`max` of no value are null; a filter passes a row only when it is
//!   true (not unknown).
//! - **Bad input** — spec files that do not parse (with the line), unknown columns,
//!   wrong value types — is a [`WorkloadError`], never a panic.

#![warn(missing_docs)]

mod builtin;
mod error;
mod filter;
mod partial;
mod scalar;
mod spec;
pub mod sql;
mod table;
mod window;
mod workload;

pub use builtin::{BuiltIn, TOP_PAGES};
pub use error::{Result, WorkloadError};
pub use filter::{CmpOp, Filter};
pub use partial::{Aggregate, Partial, SumState, TopRows, sql_order};
pub use scalar::{Scalar, rfc3339_micros, rfc3339_millis};
pub use spec::WorkloadSpec;
pub use sql::SqlWorkload;
pub use table::{
    Comparison, DuplicateCell, FLOAT_TOLERANCE, GroupKey, LISTED_CELLS, ListedCell, PartialTable,
    ResultSet, Row, Side, StoredCell, compare,
};
pub use window::{Window, WindowSpec};
pub use workload::{Workload, register, register_sql, registry_dir};
