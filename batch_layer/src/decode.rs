//! Reading the log below the horizon into columns: one rayon task per partition.

use std::path::Path;

use datasets::{ColumnType, ExportOptions, TopicRows, Value};
use master_log::Log;
use polars::prelude::*;
use rayon::prelude::*;

use crate::error::{BatchError, Result};

/// The event-time column (ms since the epoch) the decoder adds to every frame.
pub(crate) const TIME: &str = "__lk_t";

/// The type of an event column, as the batch layer keeps it in polars (timestamps as
/// Int64 µs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Int,
    Float,
    Str,
    Bool,
    Timestamp,
}

impl From<ColumnType> for Kind {
    fn from(t: ColumnType) -> Self {
        match t {
            ColumnType::Integer => Kind::Int,
            ColumnType::Float => Kind::Float,
            ColumnType::String => Kind::Str,
            ColumnType::Bool => Kind::Bool,
            ColumnType::Timestamp => Kind::Timestamp,
        }
    }
}

/// All events of a topic below a horizon, as one polars frame.
#[derive(Debug)]
pub(crate) struct Events {
    /// Columns `TIME`, then every event column.
    pub frame: DataFrame,
    /// The event columns with their kinds (not `TIME`).
    pub columns: Vec<(String, Kind)>,
    pub records_read: u64,
}

impl Events {
    pub fn kind(&self, topic: &str, column: &str) -> Result<Kind> {
        self.columns
            .iter()
            .find(|(n, _)| n == column)
            .map(|(_, k)| *k)
            .ok_or_else(|| BatchError::UnknownColumn {
                topic: topic.to_owned(),
                column: column.to_owned(),
                available: self
                    .columns
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

/// One column being filled. Strings go straight into polars' string builder (no
/// `String` per value).
enum Buf {
    Int(Vec<Option<i64>>),
    Float(Vec<Option<f64>>),
    Str(StringChunkedBuilder),
    Bool(Vec<Option<bool>>),
}

impl Buf {
    fn new(kind: Kind, name: &str) -> Buf {
        match kind {
            Kind::Int | Kind::Timestamp => Buf::Int(Vec::new()),
            Kind::Float => Buf::Float(Vec::new()),
            Kind::Str => Buf::Str(StringChunkedBuilder::new(name.into(), 0)),
            Kind::Bool => Buf::Bool(Vec::new()),
        }
    }

    fn push(&mut self, v: &Value<'_>, name: &str) -> Result<()> {
        match (self, v) {
            (Buf::Int(b), Value::Null) => b.push(None),
            (Buf::Float(b), Value::Null) => b.push(None),
            (Buf::Str(b), Value::Null) => b.append_null(),
            (Buf::Bool(b), Value::Null) => b.push(None),
            (Buf::Int(b), Value::Integer(i) | Value::Timestamp(i)) => b.push(Some(*i)),
            (Buf::Float(b), Value::Float(f)) => b.push(Some(*f)),
            (Buf::Str(b), Value::String(s)) => b.append_value(s.as_ref()),
            (Buf::Bool(b), Value::Bool(x)) => b.push(Some(*x)),
            (_, other) => {
                return Err(BatchError::Type(format!(
                    "column {name:?}: unexpected value {other:?}"
                )));
            }
        }
        Ok(())
    }

    fn into_column(self, name: &str) -> Column {
        let name = PlSmallStr::from(name);
        match self {
            Buf::Int(v) => Column::new(name, v),
            Buf::Float(v) => Column::new(name, v),
            Buf::Str(b) => b.finish().into_column(),
            Buf::Bool(v) => Column::new(name, v),
        }
    }
}

/// One partition's events as a frame, its event columns, and the records read.
type PartitionRead = (DataFrame, Vec<(String, Kind)>, u64);

/// One partition's events in `[earliest, end)`, deduplicated by event id when the topic
/// holds generated events (a duplicate has the same key, hence the same partition).
/// Only the columns in `read` (and `event_id`) are decoded into the frame; the event
/// columns returned are all of the topic's, for the plan's checks and messages.
fn read_partition(
    log: &dyn Log,
    topic: &str,
    sidecar_dir: &Path,
    partition: u32,
    end: u64,
    read: &[&str],
) -> Result<PartitionRead> {
    let opts = ExportOptions {
        topic: topic.to_owned(),
        partitions: vec![partition],
        ..ExportOptions::default()
    };
    let mut rows = TopicRows::new(log, &opts, Some(sidecar_dir))?;
    let mut decoded: Vec<&str> = read.to_vec();
    decoded.push("event_id");
    rows.keep_only(&decoded);
    // The four metadata columns (partition, offset, event_time, append_time) come first.
    let columns: Vec<(String, Kind)> = rows
        .columns()
        .iter()
        .skip(4)
        .map(|c| (c.name.clone(), Kind::from(c.ty)))
        .collect();
    let dedup_col = if rows.content_name() != "csv" {
        columns.iter().position(|(n, _)| n == "event_id")
    } else {
        None
    };
    // The frame's columns: those the plan reads, as indices into the event columns.
    let kept: Vec<usize> = (0..columns.len())
        .filter(|&i| read.contains(&columns[i].0.as_str()))
        .collect();
    let mut time: Vec<i64> = Vec::new();
    let mut bufs: Vec<Buf> = kept
        .iter()
        .map(|&i| Buf::new(columns[i].1, &columns[i].0))
        .collect();
    // Sized for every record of the range: no rehashing on the way.
    let (earliest, _) = log.offsets(topic, partition)?;
    let mut seen: rustc_hash::FxHashSet<i64> = rustc_hash::FxHashSet::default();
    if dedup_col.is_some() {
        seen.reserve(end.saturating_sub(earliest) as usize);
    }
    let mut values = Vec::new();
    let mut n_read = 0u64;
    while rows.next_row(&mut values)? {
        let offset = match values.get(1) {
            Some(Value::Integer(o)) => *o as u64,
            other => return Err(BatchError::Type(format!("record offset {other:?}"))),
        };
        if offset >= end {
            break;
        }
        n_read += 1;
        let t = match values.get(2) {
            Some(Value::Timestamp(us)) => us.div_euclid(1000),
            other => return Err(BatchError::Type(format!("event time {other:?}"))),
        };
        let data = &values[4..];
        if let Some(i) = dedup_col
            && let Some(Value::Integer(id)) = data.get(i)
            && !seen.insert(*id)
        {
            continue;
        }
        time.push(t);
        for (buf, &i) in bufs.iter_mut().zip(&kept) {
            let v = data.get(i).unwrap_or(&Value::Null);
            buf.push(v, &columns[i].0)?;
        }
    }
    let height = time.len();
    let mut cols = vec![Column::new(TIME.into(), time)];
    cols.extend(
        bufs.into_iter()
            .zip(&kept)
            .map(|(b, &i)| b.into_column(&columns[i].0)),
    );
    Ok((DataFrame::new(height, cols)?, columns, n_read))
}

/// Every event of `topic` below `horizon`, decoded partition-parallel; of the event
/// columns only those in `read` (the plan's) are in the frame.
pub(crate) fn read_events(
    log: &dyn Log,
    topic: &str,
    sidecar_dir: &Path,
    horizon: &[u64],
    read: &[&str],
) -> Result<Events> {
    // Partitions with nothing below the horizon are not read at all.
    let mut ranges = Vec::new();
    for (p, &end) in horizon.iter().enumerate() {
        if end > log.offsets(topic, p as u32)?.0 {
            ranges.push((p as u32, end));
        }
    }
    let parts: Vec<PartitionRead> = ranges
        .par_iter()
        .map(|&(p, end)| read_partition(log, topic, sidecar_dir, p, end, read))
        .collect::<Result<_>>()?;
    let columns = parts.first().map(|p| p.1.clone()).unwrap_or_default();
    let records_read = parts.iter().map(|p| p.2).sum();
    let mut frames = parts.into_iter().map(|p| p.0);
    let mut frame = match frames.next() {
        Some(f) => f,
        None => DataFrame::new(0, vec![Column::new(TIME.into(), Vec::<i64>::new())])?,
    };
    for f in frames {
        frame.vstack_mut_owned(f)?;
    }
    frame.rechunk_mut();
    Ok(Events {
        frame,
        columns,
        records_read,
    })
}
