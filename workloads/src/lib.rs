//! # workloads — the queries both pipelines answer
//!
//! A *workload* is a keyed, event-time windowed aggregation over a topic: one of the
//! [built-ins](BuiltIn) over the generated datasets, a [spec file](WorkloadSpec) over an
//! imported CSV, or a [query in SQL](SqlWorkload) over any topic (see "SQL workloads"
//! below). This crate holds what every pipeline must agree
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
//!   wrong value types — is a [`WorkloadError`], never a panic. SQL that does not parse
//!   or is not supported is [`WorkloadError::Sql`] with its line and column and what is
//!   supported ([`WorkloadError::is_usage`]: `lk` exits 2 for it).
//!
//! ## SQL workloads
//! `--sql FILE`, `--sql-text '…'` (or `--workload` with a `.sql` file or text starting with
//! SELECT) give a query; [`SqlWorkload::parse`] (with `sqlparser`) turns it into this
//! crate's model, which both pipelines run (the batch layer as polars expressions, the
//! speed layer and Kappa through `datasets::stream`'s decoder evaluating it per record)
//! and the oracle computes with its own evaluator. A file's stem names the workload; text
//! is named `sql-` and a hash of it. The six built-ins, written in SQL, are in the
//! repository's `workloads/sql/` ([`sql::BUILTINS_AS_SQL`]).
//!
//! A topic is a table whose columns are those `lk export` writes for it (a generated
//! dataset's fields, an imported file's columns) plus `event_time`, the record's event
//! time as a TIMESTAMP. Windows are table functions in the style of Flink SQL and
//! RisingWave, over the topic's event time (`event_time`, an imported file's time column,
//! NEXMark's `date_time`), exposing `window_start` and `window_end` (TIMESTAMPs):
//!
//! ```sql
//! -- count / avg / max / count-distinct per zone every 10 minutes
//! SELECT window_start, window_end, zone, COUNT(*) AS trips, AVG(fare) AS avg_fare,
//!        MAX(fare) AS max_fare, COUNT(DISTINCT driver) AS drivers
//! FROM TUMBLE(trips, DESCRIPTOR(ts), INTERVAL '10' MINUTE)
//! WHERE fare > 0 OR fare IS NULL
//! GROUP BY window_start, window_end, zone
//! HAVING COUNT(*) > 1
//!
//! -- HOP(topic, time, slide, size); SESSION(topic, time, gap)
//! SELECT window_start, window_end, auction, COUNT(*) AS bids
//! FROM HOP(nexmark, date_time, INTERVAL '2' SECOND, INTERVAL '10' SECOND)
//! WHERE kind = 'bid' GROUP BY window_start, window_end, auction
//!
//! -- a side table: <data>/datasets/<topic>.campaigns.csv (or campaigns.csv)
//! SELECT window_start, window_end, c.campaign_id, COUNT(*) AS views
//! FROM TUMBLE(ysb, event_time, INTERVAL '10' SECOND) AS e
//! JOIN campaigns AS c ON e.ad_id = c.ad_id
//! WHERE e.event_type = 'view' GROUP BY window_start, window_end, c.campaign_id
//!
//! -- top-N per window, as Flink writes it (ROW_NUMBER; RANK and DENSE_RANK keep ties)
//! SELECT window_start, window_end, page_id, views, rn FROM (
//!   SELECT window_start, window_end, page_id, COUNT(*) AS views,
//!          ROW_NUMBER() OVER (PARTITION BY window_start, window_end
//!                             ORDER BY COUNT(*) DESC, page_id) AS rn
//!   FROM TUMBLE(pageviews, event_time, INTERVAL '1' HOUR)
//!   GROUP BY window_start, window_end, page_id)
//! WHERE rn <= 10
//! ```
//!
//! A query that neither groups nor ranks is a projection (NEXMark Q1 and Q2 in
//! `workloads/sql/`): `SELECT auction, 0.908 * price AS price FROM nexmark WHERE kind =
//! 'bid'` keeps every row, each in the 1 ms window of its event time (or in the windows of
//! a TUMBLE/HOP/SESSION it reads), numbered by a `_row` key.
//!
//! Supported: one SELECT over `TUMBLE`, `HOP` or `SESSION` (also inside `TABLE(…)`), or a
//! projection over a plain `FROM topic`;
//! intervals `INTERVAL 'n' MILLISECOND|SECOND|MINUTE|HOUR|DAY` or `INTERVAL 'n unit'`;
//! `[LEFT] JOIN side ON stream_expr = side.col [AND …]` with side tables (CSV files
//! among the sidecars, types inferred: BIGINT, DOUBLE, BOOLEAN, else VARCHAR; the join
//! key unique); WHERE; `GROUP BY window_start, window_end` and column expressions (every
//! group key selected); HAVING; expressions: columns, literals (`TIMESTAMP '…'` too),
//! `+ - * / %` (and `MOD(a, b)`), `||`, comparisons, AND/OR/NOT, `IS [NOT] NULL`, `[NOT] IN (…)`,
//! `[NOT] LIKE`/`ILIKE` (`%`, `_`), BETWEEN, CASE, `CAST`/`::` to BIGINT, DOUBLE,
//! VARCHAR, BOOLEAN, TIMESTAMP; aggregates `COUNT(*)`, `COUNT(x)`, `COUNT(DISTINCT x)`,
//! `SUM`, `AVG`, `MIN`, `MAX`, `MEDIAN`, `QUANTILE_CONT(x, q)`, `QUANTILE_DISC(x, q)`
//! (also `QUANTILE`); a window top-N (`ROW_NUMBER`, `RANK`, `DENSE_RANK` `OVER
//! (PARTITION BY window_start[, window_end, keys] ORDER BY …)` in a subquery, `WHERE rn
//! <= N` outside; over the rows of a window, ROW_NUMBER only). Everything else — other
//! functions and window functions, subqueries elsewhere, ORDER BY/LIMIT of the result,
//! DISTINCT, stream-stream joins (so NEXMark Q4 and Q8), aggregating a plain `FROM
//! topic` — is refused with the construct's line and column.
//!
//! Semantics are SQL's and DuckDB's: nulls propagate, AND/OR/NOT are three-valued, WHERE
//! and HAVING keep rows that are true, aggregates skip nulls (`COUNT(*)` counts rows);
//! BIGINT `+ - *` overflow is an error (the batch layer's polars arithmetic wraps
//! instead), `/` divides as DOUBLE (`1/0` is infinity), `%` truncates and is null by
//! zero, a CAST from DOUBLE to BIGINT rounds half to even; doubles follow IEEE 754 with
//! DuckDB's order: NaN equals NaN and sorts above +infinity, -0 equals 0 (MIN, MAX and
//! COUNT(DISTINCT) keep -0 and 0 apart, as [`Scalar`]'s order does). Numeric literals
//! with a decimal point are DOUBLE (DuckDB's are DECIMAL). `AVG`, `MEDIAN` and
//! `QUANTILE_CONT` are DOUBLE (interpolated at `(n−1)·q`); `QUANTILE_DISC` is the value at
//! `ceil(n·q)` and has its argument's type.
//!
//! What each aggregate costs the stream pipelines' state, per cell (window × key):
//! `COUNT` one counter; `SUM`/`AVG` an i128, an f64 and a count; `MIN`/`MAX` one value;
//! `COUNT(DISTINCT x)` every distinct value; `MEDIAN` and quantiles every distinct value
//! with its count (exact, so as large as the cell's distinct values); a top-N over a
//! window's rows its best N rows; a top-N over grouped cells nothing beyond the cells
//! (ranking happens when answering); a projection every row it keeps (it is the answer).

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
