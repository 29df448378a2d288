//! What `lk ingest csv` takes and gives back: the import options, the parsing of their
//! flags, and the summary of an import (also kept in the topic's sidecar).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{DatasetError, Result};
pub use crate::file_identity::FileIdentity;
use crate::row::{ColumnType, Schema, TimeFormat};

/// The default of [`ImportOptions::max_field_bytes`] (`--max-field-bytes`): 1 MiB.
pub const DEFAULT_MAX_FIELD_BYTES: u64 = 1 << 20;

/// The default of [`ImportOptions::max_line_bytes`] (`--max-line-bytes`): 16 MiB.
pub const DEFAULT_MAX_LINE_BYTES: u64 = 16 << 20;

/// The smallest line limit an import takes, bytes.
pub const MIN_LINE_BYTES: u64 = 16;

/// What to do with a bad row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// Stop at the first bad row, with its line number and reason; write nothing.
    #[default]
    Fail,
    /// Write every good row; every bad row goes to the rejects file.
    Skip,
}

impl std::str::FromStr for OnError {
    type Err = DatasetError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "fail" => Ok(Self::Fail),
            "skip" => Ok(Self::Skip),
            other => Err(DatasetError::InvalidOptions(format!(
                "on-error {other:?}: expected fail or skip"
            ))),
        }
    }
}

/// Options of `lk ingest csv`, one field per flag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImportOptions {
    /// The CSV file to import.
    pub file: PathBuf,
    /// The topic to write to.
    pub topic: String,
    /// The column giving each record's event time; empty: the first column whose
    /// values (in the rows read to infer the types) are all timestamps.
    pub time_column: String,
    /// How the time column's text is read.
    pub time_format: TimeFormat,
    /// The column whose text is the record key (decides the partition); `None`: keyless
    /// rows, spread over partitions batch by batch.
    pub key_column: Option<String>,
    /// Forced column types (`--columns a:integer,b:string`); other columns are inferred.
    pub columns: Vec<(String, ColumnType)>,
    /// Field texts meaning null, besides the empty field (`--null-values NA,-`).
    pub null_values: Vec<String>,
    /// The field delimiter (one ASCII byte).
    pub delimiter: u8,
    /// What to do with a bad row.
    pub on_error: OnError,
    /// Where bad rows go with `skip` (default: `<sidecar dir>/<topic>.rejects.csv`, or
    /// `<file>.rejects.csv` without a sidecar dir). Created only when a row is rejected.
    pub rejects: Option<PathBuf>,
    /// Partitions of the topic when it is created.
    pub partitions: u32,
    /// Rows sampled to infer types; 0 reads the whole file for it (one more pass).
    pub infer_rows: u64,
    /// Records per append call per partition.
    pub batch_size: usize,
    /// The longest field accepted, bytes ([`DEFAULT_MAX_FIELD_BYTES`]); a longer field
    /// makes its row bad.
    pub max_field_bytes: u64,
    /// The longest row accepted, bytes, its line ending not counted (a quoted row that
    /// spans lines counts whole; [`DEFAULT_MAX_LINE_BYTES`], at least [`MIN_LINE_BYTES`]).
    /// No more of one row is ever held in memory: a longer header stops the import, a
    /// longer data row is a bad row (`fail`: the error gives the byte offset where it
    /// passed the limit; `skip`: it is read to its end without being kept, and rejected
    /// without its fields).
    pub max_line_bytes: u64,
    /// Import the file even when the topic already took a file of the same bytes
    /// (`--again`); by default that is refused, as a rerun that would duplicate rows.
    pub again: bool,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            file: PathBuf::new(),
            topic: String::new(),
            time_column: String::new(),
            time_format: TimeFormat::Rfc3339,
            key_column: None,
            columns: Vec::new(),
            null_values: Vec::new(),
            delimiter: b',',
            on_error: OnError::Fail,
            rejects: None,
            partitions: 4,
            infer_rows: 10_000,
            batch_size: 2_000,
            max_field_bytes: DEFAULT_MAX_FIELD_BYTES,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            again: false,
        }
    }
}

impl ImportOptions {
    /// Options for importing `file` into `topic` with `time_column` as the event time, and
    /// defaults elsewhere.
    pub fn new(
        file: impl Into<PathBuf>,
        topic: impl Into<String>,
        time_column: impl Into<String>,
    ) -> Self {
        Self {
            file: file.into(),
            topic: topic.into(),
            time_column: time_column.into(),
            ..Self::default()
        }
    }
}

/// Parse `--columns` text: `name:type,name:type` (a name may itself contain `:`).
pub fn parse_column_types(spec: &str) -> Result<Vec<(String, ColumnType)>> {
    spec.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|item| {
            let (name, ty) = item.rsplit_once(':').ok_or_else(|| {
                DatasetError::InvalidOptions(format!("column spec {item:?}: expected NAME:TYPE"))
            })?;
            Ok((name.trim().to_owned(), ty.trim().parse()?))
        })
        .collect()
}

/// Parse a one-character delimiter (`,`, `;`, `\t` or `tab`).
pub fn parse_delimiter(s: &str) -> Result<u8> {
    match s {
        "\\t" | "tab" | "\t" => Ok(b'\t'),
        s if s.len() == 1 && s.is_ascii() => Ok(s.as_bytes()[0]),
        other => Err(DatasetError::InvalidOptions(format!(
            "delimiter {other:?}: expected one ASCII character or 'tab'"
        ))),
    }
}

/// Parse a size in bytes: a whole number with an optional unit, `B`, `KiB`, `MiB` or `GiB`
/// (also `K`, `M`, `G`, `KB`, `MB`, `GB`, all powers of 1024), as `--max-line-bytes 64MiB`.
pub fn parse_byte_size(s: &str) -> Result<u64> {
    let t = s.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => u32::MAX,
    };
    number
        .parse::<u64>()
        .ok()
        .filter(|_| shift != u32::MAX)
        .and_then(|n| n.checked_mul(1u64.checked_shl(shift)?))
        .ok_or_else(|| {
            DatasetError::InvalidOptions(format!(
                "size {s:?}: expected a whole number of bytes, optionally with a unit \
                 (KiB, MiB, GiB), like 1048576 or 16MiB"
            ))
        })
}

/// A rejected row, as listed in a summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedRow {
    /// The row's line in the file (1-based, the header is line 1).
    pub line: u64,
    /// Why the row was rejected.
    pub reason: String,
}

/// What an import did: returned, and appended to the topic's sidecar file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportSummary {
    /// The file imported.
    pub file: PathBuf,
    /// The topic written to.
    pub topic: String,
    /// Partitions of the topic.
    pub partitions: u32,
    /// The schema the rows were written with.
    pub schema: Schema,
    /// Columns whose type was forced by the options (the others were inferred, or
    /// came from the topic's schema).
    pub forced: Vec<String>,
    /// Data rows read (the header not counted).
    pub rows: u64,
    /// Rows written to the topic.
    pub accepted: u64,
    /// Rows rejected (in `skip` mode).
    pub rejected: u64,
    /// The first rejected rows (at most 20); all of them are in the rejects file.
    pub first_rejects: Vec<RejectedRow>,
    /// The rejects file, when a row was rejected.
    pub rejects_file: Option<PathBuf>,
    /// Size of the file, bytes.
    pub bytes: u64,
    /// Rows written to each partition.
    pub records_per_partition: Vec<u64>,
    /// Event time range of the accepted rows, ms.
    pub min_event_time: Option<i64>,
    /// The latest event time of the accepted rows, ms.
    pub max_event_time: Option<i64>,
    /// How long the import took, up to the commit (with a sidecar directory, copying
    /// the staged rows into the topic afterwards is not counted).
    pub elapsed_ms: u64,
    /// Rows read per second of the import.
    pub rows_per_s: f64,
    /// The file as read: path, size, modification time and checksum (absent in
    /// summaries written before it was recorded). A file of the same bytes is not
    /// imported again unless asked ([`ImportOptions::again`]).
    #[serde(default)]
    pub source: Option<FileIdentity>,
}
