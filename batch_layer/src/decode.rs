//! Reading the log below the horizon into columns: one rayon task per partition.

mod ysb;

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use datasets::{ColumnType, ExportOptions, RowMeta, RowSink, TopicRows};
use master_log::Log;
use polars::prelude::*;
use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};

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
    /// The events among them, each id once (before any pushed-down filter).
    pub distinct: u64,
    /// The decoder applied the scan's filter: the frame holds only the rows it takes,
    /// and not its column (which the plan need not filter on again).
    pub filtered: bool,
    /// The scan's lookup: its column in the frame holds the numbers it gave.
    pub lookup: Option<Arc<Lookup>>,
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

/// One column being filled, in polars' own builders (values and validity, no `Option`
/// per value; strings without a `String` per value).
enum Buf {
    Int(PrimitiveChunkedBuilder<Int64Type>),
    Float(PrimitiveChunkedBuilder<Float64Type>),
    Str(StringChunkedBuilder),
    Bool(BooleanChunkedBuilder),
    /// A UUID column kept as the number its [`Lookup`] gives each value (null for a
    /// value the lookup does not have).
    Lookup(PrimitiveChunkedBuilder<UInt32Type>, Arc<Lookup>),
}

impl Buf {
    /// `capacity` rows reserved (address space: pages are touched only when filled).
    fn new(kind: Kind, name: &str, capacity: usize, lookup: Option<&Arc<Lookup>>) -> Buf {
        let name = PlSmallStr::from(name);
        if let Some(l) = lookup {
            return Buf::Lookup(PrimitiveChunkedBuilder::new(name, capacity), l.clone());
        }
        match kind {
            Kind::Int | Kind::Timestamp => Buf::Int(PrimitiveChunkedBuilder::new(name, capacity)),
            Kind::Float => Buf::Float(PrimitiveChunkedBuilder::new(name, capacity)),
            Kind::Str => Buf::Str(StringChunkedBuilder::new(name, capacity)),
            Kind::Bool => Buf::Bool(BooleanChunkedBuilder::new(name, capacity)),
        }
    }

    fn null(&mut self) {
        match self {
            Buf::Int(b) => b.append_null(),
            Buf::Float(b) => b.append_null(),
            Buf::Str(b) => b.append_null(),
            Buf::Bool(b) => b.append_null(),
            Buf::Lookup(b, _) => b.append_null(),
        }
    }

    fn kind_name(&self) -> &'static str {
        match self {
            Buf::Int(_) => "an integer or timestamp",
            Buf::Float(_) => "a float",
            Buf::Str(_) => "a string",
            Buf::Bool(_) => "a boolean",
            Buf::Lookup(..) => "a UUID",
        }
    }

    fn into_column(self) -> Column {
        match self {
            Buf::Int(b) => b.finish().into_column(),
            Buf::Float(b) => b.finish().into_column(),
            Buf::Str(b) => b.finish().into_column(),
            Buf::Bool(b) => b.finish().into_column(),
            Buf::Lookup(b, _) => b.finish().into_column(),
        }
    }
}

/// The event ids a partition's read has seen. Generated ids are dense from 0 over the
/// whole topic, so most fit a bitmap (a bit test instead of a hash-table insert that
/// misses the cache); the bitmap grows on demand up to 64 bits per record of the range
/// (ids of up to 64 partitions' worth of events), and any id beyond goes to a hash set.
struct SeenIds {
    bits: Vec<u64>,
    max_words: usize,
    others: FxHashSet<u64>,
}

impl SeenIds {
    fn for_range(records: u64) -> SeenIds {
        SeenIds {
            bits: Vec::new(),
            max_words: usize::try_from(records).unwrap_or(usize::MAX).max(1024),
            others: FxHashSet::default(),
        }
    }

    /// Whether `id` is new (and remember it).
    fn insert(&mut self, id: u64) -> bool {
        let word = usize::try_from(id / 64).unwrap_or(usize::MAX);
        if word >= self.max_words {
            return self.others.insert(id);
        }
        if word >= self.bits.len() {
            let len = (word + 1).next_power_of_two().min(self.max_words);
            self.bits.resize(len, 0);
        }
        let mask = 1u64 << (id % 64);
        let new = self.bits[word] & mask == 0;
        self.bits[word] |= mask;
        new
    }
}

/// A plan's filter pushed down into the decoder: a row whose `column` is not the text
/// `equals` is not made into a row of the frame at all, and the column itself is not in
/// the frame ([`Events::filtered`]; when the topic's column is not text, the decoder
/// leaves the filter to the plan). The column is the first one the decoder is given (see
/// `TopicRows::keep_only`), so a row is decided before any other field of it is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RowFilter<'a> {
    pub column: &'a str,
    pub equals: &'a str,
}

/// A small table a plan joins a UUID column with, applied by the decoder: each value of
/// `column` becomes the number `numbers` gives it (a polars UInt32 column under the same
/// name), null when the table does not have it. A hash lookup of 16 bytes per row
/// instead of a Binary column of them and a join in polars; the plan turns numbers into
/// what they stand for once per result cell.
#[derive(Debug, Clone, Default)]
pub(crate) struct Lookup {
    pub column: &'static str,
    pub numbers: FxHashMap<[u8; 16], u32>,
    /// What number `i` stands for (for the plan).
    pub names: Vec<String>,
}

/// What a plan needs from the log: the event columns it reads, a filter the decoder can
/// apply as it reads, and a UUID column it only joins with a small table (see
/// [`Lookup`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct Scan<'a> {
    pub columns: Vec<&'a str>,
    pub filter: Option<RowFilter<'a>>,
    pub lookup: Option<Arc<Lookup>>,
}

/// The columns of one partition's frame, filled by `TopicRows::read_into` without a
/// `Value` per field: the event time of every row it accepts, and a buffer per column
/// the plan reads (`None` for the others). Rows whose event id was seen are skipped
/// (`seen`: generated events only); with a `filter`, a row waits for its filter column
/// (given first) to be taken or skipped.
struct FrameSink<'c> {
    read: u64,
    /// Rows counted once (after de-duplication, before the filter).
    distinct: u64,
    seen: Option<SeenIds>,
    /// The filter column's index and the text it must equal.
    filter: Option<(usize, &'c str)>,
    /// The current row is dropped (by the filter, or not yet taken by it).
    skip: bool,
    /// The current row's event time, until the filter takes the row.
    row_time: i64,
    time: Vec<i64>,
    bufs: Vec<Option<Buf>>,
    columns: &'c [(String, Kind)],
    /// The first value of the wrong type (a sink cannot fail mid-row).
    error: Option<BatchError>,
}

impl FrameSink<'_> {
    /// The buffer of column `col`, if the plan reads it and the current row is taken.
    fn buf(&mut self, col: usize) -> Option<&mut Buf> {
        if self.skip {
            return None;
        }
        self.bufs.get_mut(col).and_then(Option::as_mut)
    }

    fn mismatch(&mut self, col: usize, what: &str) {
        if self.error.is_none() {
            let expected = self.buf(col).map_or("", |b| b.kind_name());
            let name = self.columns.get(col).map_or("?", |c| c.0.as_str());
            self.error = Some(BatchError::Type(format!(
                "column {name:?}: {what} where {expected} was expected"
            )));
        }
    }

    /// The filter's decision on the current row, when `col` is the filter column.
    fn decide(&mut self, col: usize, text: Option<&str>) {
        if let Some((fcol, equals)) = self.filter
            && fcol == col
        {
            self.take_if(text == Some(equals));
        }
    }

    /// The filter takes the current row if `taken` (once it decided, nothing changes).
    #[inline]
    fn take_if(&mut self, taken: bool) {
        if taken && self.skip {
            self.skip = false;
            self.time.push(self.row_time);
        }
    }
}

impl RowSink for FrameSink<'_> {
    fn begin(&mut self, meta: &RowMeta) -> bool {
        self.read += 1;
        if let (Some(seen), Some(id)) = (self.seen.as_mut(), meta.event_id)
            && !seen.insert(id)
        {
            return false;
        }
        self.distinct += 1;
        if self.filter.is_some() {
            self.skip = true;
            self.row_time = meta.event_time;
        } else {
            self.time.push(meta.event_time);
        }
        true
    }

    fn null(&mut self, col: usize) {
        if let Some(b) = self.buf(col) {
            b.null();
        }
    }

    fn int(&mut self, col: usize, v: i64) {
        match self.buf(col) {
            Some(Buf::Int(b)) => b.append_value(v),
            Some(_) => self.mismatch(col, "an integer"),
            None => {}
        }
    }

    fn float(&mut self, col: usize, v: f64) {
        match self.buf(col) {
            Some(Buf::Float(b)) => b.append_value(v),
            Some(_) => self.mismatch(col, "a float"),
            None => {}
        }
    }

    fn text(&mut self, col: usize, v: &str) {
        self.decide(col, Some(v));
        match self.buf(col) {
            Some(Buf::Str(b)) => b.append_value(v),
            Some(_) => self.mismatch(col, "a string"),
            None => {}
        }
    }

    fn bool(&mut self, col: usize, v: bool) {
        match self.buf(col) {
            Some(Buf::Bool(b)) => b.append_value(v),
            Some(_) => self.mismatch(col, "a boolean"),
            None => {}
        }
    }

    fn timestamp(&mut self, col: usize, us: i64) {
        self.int(col, us);
    }

    fn uuid(&mut self, col: usize, id: &datasets::Uuid) {
        if let Some(Buf::Lookup(b, lookup)) = self.buf(col) {
            match lookup.numbers.get(&id.0) {
                Some(&n) => b.append_value(n),
                None => b.append_null(),
            }
            return;
        }
        // Formatted only for a row and a column that are kept, or for the filter.
        if self.buf(col).is_some() || self.filter.is_some_and(|(f, _)| f == col) {
            let mut text = [0u8; 36];
            id.write_hyphenated(&mut text);
            self.text(col, std::str::from_utf8(&text).unwrap_or_default());
        }
    }
}

/// One partition's events as a frame, its event columns, the records read and the
/// events among them (each id once).
struct PartitionRead {
    frame: DataFrame,
    columns: Vec<(String, Kind)>,
    read: u64,
    distinct: u64,
    filtered: bool,
}

/// One partition's events in `range` (`earliest..end`), deduplicated by event id when the topic
/// holds generated events (a duplicate has the same key, hence the same partition).
/// Only the columns in `read` are decoded into the frame (through `TopicRows::read_into`:
/// no `Value` per field), and with `filter` only the rows it takes; the event columns
/// returned are all of the topic's, for the plan's checks and messages.
fn read_partition(
    log: &dyn Log,
    topic: &str,
    sidecar_dir: &Path,
    partition: u32,
    range: Range<u64>,
    scan: &Scan<'_>,
) -> Result<PartitionRead> {
    let read = scan.columns.as_slice();
    let opts = ExportOptions {
        topic: topic.to_owned(),
        partitions: vec![partition],
        ..ExportOptions::default()
    };
    let mut rows = TopicRows::new(log, &opts, Some(sidecar_dir))?;
    // The four metadata columns (partition, offset, event_time, append_time) come first.
    let columns: Vec<(String, Kind)> = rows
        .columns()
        .iter()
        .skip(4)
        .map(|c| (c.name.clone(), Kind::from(c.ty)))
        .collect();
    // The filter column is decoded first (and only if the topic has it as text).
    let filter = scan.filter.and_then(|f| {
        let i = columns.iter().position(|(n, _)| n == f.column)?;
        (columns[i].1 == Kind::Str).then_some((i, f.equals))
    });
    let mut order: Vec<&str> = Vec::with_capacity(read.len() + 1);
    if let Some((i, _)) = filter {
        order.push(&columns[i].0);
    }
    order.extend(read);
    rows.keep_only(&order);
    // Generated events count once by id (a duplicate has the same key, hence the same
    // partition); every row of an imported CSV is its own event.
    let seen = (rows.content_name() != "csv").then(|| SeenIds::for_range(range.end - range.start));
    let records = usize::try_from(range.end - range.start).unwrap_or(0);
    let mut sink = FrameSink {
        read: 0,
        distinct: 0,
        seen,
        filter,
        skip: false,
        row_time: 0,
        time: Vec::with_capacity(records),
        // The filter's column decides rows and is not kept.
        bufs: columns
            .iter()
            .enumerate()
            .map(|(i, (name, kind))| {
                let lookup = scan.lookup.as_ref().filter(|l| l.column == name);
                let kept = read.contains(&name.as_str()) && filter.is_none_or(|(f, _)| f != i);
                kept.then(|| Buf::new(*kind, name, records, lookup))
            })
            .collect(),
        columns: &columns,
        error: None,
    };
    // Records are decoded where the log read them (no `Record` per record); a wrong
    // type is kept by the sink and reported once the read is over. Generated YSB events
    // have a decoder of their own (see `ysb`).
    if rows.content_name() == "ysb"
        && columns
            .iter()
            .map(|(n, _)| n.as_str())
            .eq(datasets::YSB_COLUMNS.iter().map(|(n, _)| *n))
    {
        let mut fields: Vec<usize> = Vec::with_capacity(order.len());
        for name in &order {
            if let Some(i) = columns.iter().position(|(n, _)| n == name)
                && !fields.contains(&i)
            {
                fields.push(i);
            }
        }
        ysb::read_into(log, topic, partition, range, &fields, &mut sink)?;
    } else {
        rows.stop_at(partition, range.end);
        rows.read_into(&mut sink)?;
    }
    if let Some(e) = sink.error.take() {
        return Err(e);
    }
    let FrameSink {
        read: n_read,
        distinct,
        time,
        bufs,
        ..
    } = sink;
    let height = time.len();
    let mut cols = vec![Column::new(TIME.into(), time)];
    cols.extend(bufs.into_iter().flatten().map(Buf::into_column));
    Ok(PartitionRead {
        frame: DataFrame::new(height, cols)?,
        columns,
        read: n_read,
        distinct,
        filtered: filter.is_some(),
    })
}

/// The offsets to read below `horizon`: per partition with records below it,
/// `earliest..horizon[p]` (partitions with nothing below the horizon are not read at all).
pub(crate) fn ranges(
    log: &dyn Log,
    topic: &str,
    horizon: &[u64],
) -> Result<Vec<(u32, Range<u64>)>> {
    let mut ranges = Vec::new();
    for (p, &end) in horizon.iter().enumerate() {
        let earliest = log.offsets(topic, p as u32)?.0;
        if end > earliest {
            ranges.push((p as u32, earliest..end));
        }
    }
    Ok(ranges)
}

/// Every event of `topic` in `ranges` (see [`ranges`]), decoded partition-parallel; of
/// the event columns only those the plan reads are in the frame, and with its filter
/// only the rows it takes (see [`Scan`]).
pub(crate) fn read_events(
    log: &dyn Log,
    topic: &str,
    sidecar_dir: &Path,
    ranges: &[(u32, Range<u64>)],
    scan: &Scan<'_>,
) -> Result<Events> {
    let parts: Vec<PartitionRead> = ranges
        .par_iter()
        .map(|(p, range)| read_partition(log, topic, sidecar_dir, *p, range.clone(), scan))
        .collect::<Result<_>>()?;
    let columns = parts.first().map(|p| p.columns.clone()).unwrap_or_default();
    let records_read = parts.iter().map(|p| p.read).sum();
    let distinct = parts.iter().map(|p| p.distinct).sum();
    // The same topic, so the same decision in every partition.
    let filtered = !parts.is_empty() && parts.iter().all(|p| p.filtered);
    let mut frames = parts.into_iter().map(|p| p.frame);
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
        distinct,
        filtered,
        lookup: scan.lookup.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::SeenIds;

    #[test]
    fn seen_ids_are_exact_in_the_bitmap_and_beyond_it() {
        let mut seen = SeenIds::for_range(10);
        // The bitmap covers 1,024 words (at least) = ids below 65,536.
        for id in [0, 1, 63, 64, 65_535, 65_536, u64::MAX, 7_000_000_000] {
            assert!(seen.insert(id), "{id} is new");
            assert!(!seen.insert(id), "{id} was seen");
        }
        assert!(seen.insert(2));
        assert_eq!(seen.others.len(), 3);
        assert!(seen.bits.len() <= 1024);
    }
}
