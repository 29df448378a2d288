//! SQL workloads: a query parsed with `sqlparser` into this crate's model (see the crate
//! docs, "SQL workloads", for the surface), typed against a topic's columns, bound to
//! slots for the pipelines, and finished from merged partials into rows.
//!
//! ```text
//!   SQL text ──parse──► SqlWorkload (names) ──typed(schema)──► checked, coerced model
//!                                                   │ bind_row / the result layout
//!                                                   ▼
//!   per row: side lookups → WHERE → keys, aggregate arguments   (datasets::stream, batch)
//!   per cell: [window_start, window_end, keys…, aggregates…, rank] → HAVING, top-N, SELECT
//! ```

mod agg;
mod convert;
mod expr;
mod finish;
mod from;
mod model;
mod parse;
#[cfg(test)]
mod tests;
mod types;

use std::path::Path;

pub use agg::{AggCall, AggFunc, quantile_cont, quantile_disc};
pub use expr::{
    BinOp, ColumnRef, Expr, Pos, SqlType, UnOp, binary, cast, cmp_f64, compare, like,
    parse_timestamp, truth,
};
pub use model::{RankKind, SideJoin, SqlWorkload, TopN};
pub use types::{Source, SqlSchema};

use crate::builtin::BuiltIn;
use crate::error::{Result, WorkloadError};

/// The built-ins written in SQL, as shipped in the repository's `workloads/sql/`: the
/// built-in, the file's name (its stem names the workload), its text.
pub const BUILTINS_AS_SQL: [(BuiltIn, &str, &str); 6] = [
    (
        BuiltIn::PageviewsPerMinute,
        "pageviews_per_minute.sql",
        include_str!("../../sql/pageviews_per_minute.sql"),
    ),
    (
        BuiltIn::ProfileViewersHourly,
        "profile_viewers_hourly.sql",
        include_str!("../../sql/profile_viewers_hourly.sql"),
    ),
    (
        BuiltIn::TopPagesHourly,
        "top_pages_hourly.sql",
        include_str!("../../sql/top_pages_hourly.sql"),
    ),
    (
        BuiltIn::YsbCampaign10s,
        "ysb_campaign_10s.sql",
        include_str!("../../sql/ysb_campaign_10s.sql"),
    ),
    (
        BuiltIn::NexmarkQ5,
        "nexmark_q5.sql",
        include_str!("../../sql/nexmark_q5.sql"),
    ),
    (
        BuiltIn::NexmarkQ7,
        "nexmark_q7.sql",
        include_str!("../../sql/nexmark_q7.sql"),
    ),
];

/// NEXMark queries beyond the built-ins, as shipped in `workloads/sql/`: the file's name
/// (its stem names the workload) and its text.
pub const NEXMARK_SQL: [(&str, &str); 2] = [
    ("nexmark_q1.sql", include_str!("../../sql/nexmark_q1.sql")),
    ("nexmark_q2.sql", include_str!("../../sql/nexmark_q2.sql")),
];

/// Built-in `b` written in SQL (see [`BUILTINS_AS_SQL`]), named by its file's stem.
pub fn builtin_as_sql(b: BuiltIn) -> Result<SqlWorkload> {
    let (_, file, text) = BUILTINS_AS_SQL
        .iter()
        .find(|(x, ..)| *x == b)
        .ok_or_else(|| WorkloadError::Type(format!("no SQL form of {b}")))?;
    SqlWorkload::parse(text, file.trim_end_matches(".sql"))
}

/// FNV-1a, 64 bits: a stable hash of SQL text for the name of an unnamed query.
fn fnv1a(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

impl SqlWorkload {
    /// Parse and check a query, naming it `name`.
    pub fn parse(text: &str, name: &str) -> Result<SqlWorkload> {
        let w = parse::parse(text, name)?;
        master_log::validate_name(name).map_err(|e| WorkloadError::Sql {
            line: 0,
            column: 0,
            message: format!("the workload's name {name:?}: {e}"),
        })?;
        if let Some(clash) = crate::spec::builtin_name_clash(name) {
            return Err(WorkloadError::Sql {
                line: 0,
                column: 0,
                message: clash,
            });
        }
        Ok(w)
    }

    /// A query given as text: named `sql-` and a hash of the text (the same text, the same
    /// name, hence the same state).
    pub fn from_text(text: &str) -> Result<SqlWorkload> {
        Self::parse(text, &format!("sql-{:016x}", fnv1a(text.trim())))
    }

    /// A query in a file, named by the file's stem.
    pub fn from_file(path: &Path) -> Result<SqlWorkload> {
        let text = std::fs::read_to_string(path).map_err(|e| WorkloadError::Io {
            context: format!("read SQL workload {}", path.display()),
            source: e,
        })?;
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        Self::parse(&text, name)
    }
}
