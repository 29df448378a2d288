//! Parquet export through polars (feature `parquet`).
//!
//! The same rows and columns as the CSV export, with their types kept: integers as
//! `Int64`, floats as `Float64`, strings as `String`, bools as `Boolean`, timestamps
//! (metadata times included) as `Datetime(µs)` holding UTC (polars carries a time zone
//! only with its `timezones` feature, which this crate leaves out). Written in row groups of 64 Ki rows,
//! so memory stays bounded whatever the topic's size; the file appears under its name
//! only when complete.

use std::path::Path;
use std::time::Instant;

use master_log::Log;
use master_log::durable::Durability;
use polars::prelude::{
    self as pl, DataFrame, IntoColumn, NamedFrom, ParquetWriter, Series, TimeUnit,
};

use crate::error::{DatasetError, Result};
use crate::export::{ExportOptions, ExportSummary, TopicRows, write_file_atomic};
use crate::progress::{Phase, Progress, ProgressFn};
use crate::row::{ColumnType, Value};

/// Rows per Parquet row group.
const ROW_GROUP: usize = 1 << 16;

enum Buf {
    Int(Vec<Option<i64>>),
    Float(Vec<Option<f64>>),
    Str(Vec<Option<String>>),
    Bool(Vec<Option<bool>>),
    Time(Vec<Option<i64>>),
}

impl Buf {
    fn new(ty: ColumnType) -> Self {
        match ty {
            ColumnType::Integer => Self::Int(Vec::with_capacity(ROW_GROUP)),
            ColumnType::Float => Self::Float(Vec::with_capacity(ROW_GROUP)),
            ColumnType::String => Self::Str(Vec::with_capacity(ROW_GROUP)),
            ColumnType::Bool => Self::Bool(Vec::with_capacity(ROW_GROUP)),
            ColumnType::Timestamp => Self::Time(Vec::with_capacity(ROW_GROUP)),
        }
    }

    fn push(&mut self, v: Value<'static>) {
        match (self, v) {
            (Self::Int(b), Value::Integer(i)) => b.push(Some(i)),
            (Self::Float(b), Value::Float(f)) => b.push(Some(f)),
            (Self::Str(b), Value::String(s)) => b.push(Some(s.into_owned())),
            (Self::Bool(b), Value::Bool(x)) => b.push(Some(x)),
            (Self::Time(b), Value::Timestamp(t)) => b.push(Some(t)),
            (Self::Int(b) | Self::Time(b), _) => b.push(None),
            (Self::Float(b), _) => b.push(None),
            (Self::Str(b), _) => b.push(None),
            (Self::Bool(b), _) => b.push(None),
        }
    }

    /// The buffered values as a polars column, leaving the buffer empty.
    fn take(&mut self, name: &str) -> Result<pl::Column> {
        let name = name.into();
        let s = match self {
            Self::Int(b) => Series::new(name, std::mem::take(b)),
            Self::Float(b) => Series::new(name, std::mem::take(b)),
            Self::Str(b) => Series::new(name, std::mem::take(b)),
            Self::Bool(b) => Series::new(name, std::mem::take(b)),
            Self::Time(b) => Series::new(name, std::mem::take(b))
                .cast(&pl::DataType::Datetime(TimeUnit::Microseconds, None))
                .map_err(polars_error)?,
        };
        Ok(s.into_column())
    }
}

fn polars_error(e: pl::PolarsError) -> DatasetError {
    DatasetError::Io {
        context: "write Parquet".into(),
        source: std::io::Error::other(e.to_string()),
    }
}

/// Write the events of `opts.topic` to a Parquet file at `path`: the rows and columns of
/// [`crate::export_csv`], typed. The file is replaced atomically when complete, not
/// fsynced (`write_file_atomic` with [`Durability::Unsynced`]).
pub fn export_parquet(
    log: &dyn Log,
    opts: &ExportOptions,
    sidecar_dir: Option<&Path>,
    path: &Path,
    progress: &mut ProgressFn<'_>,
) -> Result<ExportSummary> {
    let started = Instant::now();
    let mut rows = TopicRows::new(log, opts, sidecar_dir)?;
    let columns = rows.columns.clone();
    let mut summary = write_file_atomic(path, Durability::Unsynced, |file, _| {
        let mut bufs: Vec<Buf> = columns.iter().map(|c| Buf::new(c.ty)).collect();
        let mut writer = None;
        let mut summary = ExportSummary {
            topic: opts.topic.clone(),
            content: String::new(),
            columns: columns.iter().map(|c| c.name.clone()).collect(),
            records_read: 0,
            rows: 0,
            output: None,
            elapsed_ms: 0,
        };
        let mut report = Progress::new(Phase::Export);
        report.total_items = Some(rows.total);
        let mut file = Some(file);
        let mut values = Vec::with_capacity(columns.len());
        let mut in_group = 0usize;
        loop {
            let more = rows.next_row(&mut values)?;
            if more {
                for (b, v) in bufs.iter_mut().zip(values.drain(..)) {
                    b.push(v);
                }
                in_group += 1;
                summary.rows += 1;
            }
            // Write a row group when full, and at the end (an empty file still gets its
            // schema).
            if in_group == ROW_GROUP || (!more && (in_group > 0 || writer.is_none())) {
                let cols = columns
                    .iter()
                    .zip(bufs.iter_mut())
                    .map(|(c, b)| b.take(&c.name))
                    .collect::<Result<Vec<_>>>()?;
                let df = DataFrame::new(in_group, cols).map_err(polars_error)?;
                if writer.is_none()
                    && let Some(f) = file.take()
                {
                    writer = Some(
                        ParquetWriter::new(f)
                            .batched(df.schema())
                            .map_err(polars_error)?,
                    );
                }
                if let Some(w) = writer.as_mut() {
                    w.write_batch(&df).map_err(polars_error)?;
                }
                in_group = 0;
                report.items = rows.read;
                progress(&report);
            }
            if !more {
                break;
            }
        }
        if let Some(w) = writer.as_ref() {
            w.finish().map_err(polars_error)?;
        }
        summary.records_read = rows.read;
        report.items = rows.read;
        report.done = true;
        progress(&report);
        Ok(summary)
    })?;
    summary.content = rows.content_name();
    summary.output = Some(path.to_owned());
    summary.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(summary)
}
