//! Export of a topic's events to CSV, for any dataset (generated or imported).
//!
//! Columns: `partition, offset, event_time, append_time` (RFC 3339 UTC), then the
//! event's own columns: a generated dataset's fields (the event time, equal to the
//! record's, is not repeated; NEXMark flattens persons, auctions and bids into one wide
//! row with a `kind` column), or an imported file's columns with their types. A data
//! column named like a metadata column pushes the metadata column to `_partition`,
//! `_offset`, and so on. Nulls are empty fields; timestamps are RFC 3339 UTC with as
//! many fractional digits as needed; floats are written in their shortest round-trip
//! form — so importing an export gives back the same values.
//!
//! Partitions are written one after the other, each in offset order, up to the end
//! offsets captured when the export starts.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Instant;

use master_log::durable::{self, Durability};
use master_log::{FetchLimits, Log, Record, RecordView};
use serde::{Deserialize, Serialize};

use crate::codec::{self, TAG_NEXMARK, TAG_PAGEVIEW, TAG_ROW, TAG_YSB};
use crate::error::{DatasetError, IoContext, Result};
use crate::generate_options::DatasetKind;
use crate::nexmark::NexmarkEvent;
use crate::pageviews::PageView;
use crate::progress::{Phase, Progress, ProgressFn, REPORT_EVERY};
use crate::row::{Column, ColumnType, Schema, Value};
use crate::sidecar::{self, TopicContent};
use crate::ysb::YsbEvent;

/// Options of `lk export`, one field per flag.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExportOptions {
    /// The topic to export.
    pub topic: String,
    /// Keep records with `event_time >= from_ms` (ms since the epoch).
    pub from_ms: Option<i64>,
    /// Keep records with `event_time < to_ms`.
    pub to_ms: Option<i64>,
    /// Only these partitions (all when empty).
    pub partitions: Vec<u32>,
    /// Leave out the `partition, offset, event_time, append_time` columns.
    pub no_metadata: bool,
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportSummary {
    /// The topic exported.
    pub topic: String,
    /// `pageviews`, `ysb`, `nexmark` or `csv`.
    pub content: String,
    /// The columns written, in order (metadata columns first unless left out).
    pub columns: Vec<String>,
    /// Records read from the log.
    pub records_read: u64,
    /// Rows written (records inside the time range).
    pub rows: u64,
    /// The file written, when the export went to a file.
    pub output: Option<PathBuf>,
    /// How long the export took.
    pub elapsed_ms: u64,
}

/// What the records of a topic are.
#[derive(Debug, Clone)]
enum Content {
    Generated(DatasetKind),
    Rows(Schema),
}

fn detect(log: &dyn Log, topic: &str, sidecar_dir: Option<&Path>) -> Result<Content> {
    if let Some(dir) = sidecar_dir
        && let Some(m) = sidecar::read_sidecar(dir, topic)?
    {
        return Ok(match m.content {
            TopicContent::Generated(g) => Content::Generated(g.options.dataset),
            TopicContent::Csv { schema, .. } => Content::Rows(schema),
        });
    }
    // No sidecar: look at the first record's tag byte.
    let unknown = |reason: &str| DatasetError::UnknownDataset {
        topic: topic.to_owned(),
        reason: reason.to_owned(),
    };
    for p in 0..log.partition_count(topic)? {
        let (earliest, latest) = log.offsets(topic, p)?;
        if earliest == latest {
            continue;
        }
        let recs = log.fetch(
            topic,
            p,
            earliest,
            FetchLimits {
                max_records: 1,
                max_bytes: 1,
            },
        )?;
        let Some(v) = recs.first().and_then(|r| r.value.as_deref()) else {
            continue;
        };
        return Ok(match v.first() {
            Some(&TAG_PAGEVIEW) => Content::Generated(DatasetKind::Pageviews),
            Some(&TAG_YSB) => Content::Generated(DatasetKind::Ysb),
            Some(&TAG_NEXMARK) => Content::Generated(DatasetKind::Nexmark),
            Some(&TAG_ROW) => {
                return Err(unknown("rows of an imported file, but no sidecar schema"));
            }
            Some(b'{') => {
                if codec::decode::<YsbEvent>(v).is_ok() {
                    Content::Generated(DatasetKind::Ysb)
                } else if codec::decode::<PageView>(v).is_ok() {
                    Content::Generated(DatasetKind::Pageviews)
                } else if codec::decode::<NexmarkEvent<'_>>(v).is_ok() {
                    Content::Generated(DatasetKind::Nexmark)
                } else {
                    return Err(unknown("JSON values of no known dataset"));
                }
            }
            _ => return Err(unknown("values of no known dataset")),
        });
    }
    Err(unknown("the topic is empty and has no sidecar"))
}

use ColumnType::{Integer as I, String as S, Timestamp as T};

const PAGEVIEW_COLUMNS: &[(&str, ColumnType)] = &[
    ("event_id", I),
    ("viewer_id", I),
    ("page_id", I),
    ("page_type", S),
    ("country", S),
    ("device", S),
];
/// The columns of a generated YSB topic, in the order its rows give them.
pub const YSB_COLUMNS: &[(&str, ColumnType)] = &[
    ("event_id", I),
    ("user_id", S),
    ("page_id", S),
    ("ad_id", S),
    ("ad_type", S),
    ("event_type", S),
    ("ip_address", S),
];
const NEXMARK_COLUMNS: &[(&str, ColumnType)] = &[
    ("kind", S),
    ("event_id", I),
    ("date_time", T),
    ("person_id", I),
    ("name", S),
    ("email_address", S),
    ("credit_card", S),
    ("city", S),
    ("state", S),
    ("auction_id", I),
    ("item_name", S),
    ("description", S),
    ("initial_bid", I),
    ("reserve", I),
    ("expires", T),
    ("seller", I),
    ("category", I),
    ("auction", I),
    ("bidder", I),
    ("price", I),
    ("channel", S),
    ("url", S),
];

/// The columns a generated dataset's events export as (and SQL reads them by), with
/// their types.
pub(crate) fn generated_columns(kind: DatasetKind) -> &'static [(&'static str, ColumnType)] {
    match kind {
        DatasetKind::Pageviews => PAGEVIEW_COLUMNS,
        DatasetKind::Ysb => YSB_COLUMNS,
        DatasetKind::Nexmark => NEXMARK_COLUMNS,
    }
}

fn int(v: u64) -> Value<'static> {
    Value::Integer(i64::try_from(v).unwrap_or(i64::MAX))
}

fn millis(ms: i64) -> Value<'static> {
    Value::Timestamp(ms.saturating_mul(1000))
}

impl Content {
    fn name(&self) -> String {
        match self {
            Content::Generated(d) => d.name().to_owned(),
            Content::Rows(_) => "csv".into(),
        }
    }

    fn columns(&self) -> Vec<Column> {
        let fixed = |cols: &[(&str, ColumnType)]| {
            cols.iter()
                .map(|(n, ty)| Column {
                    name: (*n).to_owned(),
                    ty: *ty,
                })
                .collect()
        };
        match self {
            Content::Generated(kind) => fixed(generated_columns(*kind)),
            Content::Rows(s) => s.columns.clone(),
        }
    }

    /// Give the record's data columns to `sink` after `sink.begin` accepted the row
    /// (whose metadata `meta` gets the event id here): the columns of `order` (indexes
    /// of data columns), in that order; the others are skipped and cost nothing to make.
    /// Returns whether the sink accepted the row.
    fn visit(
        &self,
        rec: &RecordView<'_>,
        order: &[usize],
        meta: &mut RowMeta,
        sink: &mut dyn RowSink,
    ) -> Result<bool> {
        let value = rec.value.ok_or_else(|| DatasetError::Decode {
            what: "record",
            reason: format!("offset {} is a tombstone", rec.offset),
        })?;
        // An unsigned integer as the signed column value (saturating, as in every export).
        let u = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let us = |ms: i64| ms.saturating_mul(1000);
        match self {
            Content::Generated(DatasetKind::Pageviews) => {
                let e: PageView = codec::decode(value)?;
                meta.event_id = Some(e.event_id);
                if !sink.begin(meta) {
                    return Ok(false);
                }
                for &i in order {
                    match i {
                        0 => sink.int(i, u(e.event_id)),
                        1 => sink.int(i, u(e.viewer_id)),
                        2 => sink.int(i, u(e.page_id)),
                        3 => sink.static_text(i, e.page_type.name()),
                        4 => sink.text(i, e.country.as_str()),
                        _ => sink.static_text(i, e.device.name()),
                    }
                }
            }
            Content::Generated(DatasetKind::Ysb) => {
                let e = YsbEvent::decode(value)?;
                meta.event_id = Some(e.event_id);
                if !sink.begin(meta) {
                    return Ok(false);
                }
                for &i in order {
                    match i {
                        0 => sink.int(i, u(e.event_id)),
                        1 => sink.uuid(i, &e.user_id),
                        2 => sink.uuid(i, &e.page_id),
                        3 => sink.uuid(i, &e.ad_id),
                        4 => sink.static_text(i, e.ad_type.name()),
                        5 => sink.static_text(i, e.event_type.name()),
                        _ => sink.text(i, &e.ip_address.to_string()),
                    }
                }
            }
            Content::Generated(DatasetKind::Nexmark) => {
                let e: NexmarkEvent<'_> = codec::decode(value)?;
                meta.event_id = Some(codec::Event::event_id(&e));
                if !sink.begin(meta) {
                    return Ok(false);
                }
                let (person, auction, bid) = match &e {
                    NexmarkEvent::Person(p) => (Some(p), None, None),
                    NexmarkEvent::Auction(a) => (None, Some(a), None),
                    NexmarkEvent::Bid(b) => (None, None, Some(b)),
                };
                for &i in order {
                    match (i, person, auction, bid) {
                        (0, ..) => sink.static_text(i, e.kind()),
                        (1, ..) => sink.int(i, u(codec::Event::event_id(&e))),
                        (2, ..) => sink.timestamp(i, us(codec::Event::event_time(&e))),
                        (3, Some(p), ..) => sink.int(i, u(p.id)),
                        (4, Some(p), ..) => sink.text(i, &p.name),
                        (5, Some(p), ..) => sink.text(i, &p.email_address),
                        (6, Some(p), ..) => sink.text(i, &p.credit_card),
                        (7, Some(p), ..) => sink.text(i, &p.city),
                        (8, Some(p), ..) => sink.text(i, &p.state),
                        (9, _, Some(a), _) => sink.int(i, u(a.id)),
                        (10, _, Some(a), _) => sink.text(i, &a.item_name),
                        (11, _, Some(a), _) => sink.text(i, &a.description),
                        (12, _, Some(a), _) => sink.int(i, u(a.initial_bid)),
                        (13, _, Some(a), _) => sink.int(i, u(a.reserve)),
                        (14, _, Some(a), _) => sink.timestamp(i, us(a.expires)),
                        (15, _, Some(a), _) => sink.int(i, u(a.seller)),
                        (16, _, Some(a), _) => sink.int(i, u(a.category)),
                        (17, .., Some(b)) => sink.int(i, u(b.auction)),
                        (18, .., Some(b)) => sink.int(i, u(b.bidder)),
                        (19, .., Some(b)) => sink.int(i, u(b.price)),
                        (20, .., Some(b)) => sink.text(i, &b.channel),
                        (21, .., Some(b)) => sink.text(i, &b.url),
                        _ => sink.null(i),
                    }
                }
            }
            Content::Rows(schema) => {
                if !sink.begin(meta) {
                    return Ok(false);
                }
                let mut values = schema.decode(value)?;
                for &i in order {
                    match values
                        .get_mut(i)
                        .map_or(Value::Null, |v| std::mem::replace(v, Value::Null))
                    {
                        Value::Null => sink.null(i),
                        Value::String(s) => sink.text(i, &s),
                        Value::Integer(x) => sink.int(i, x),
                        Value::Float(f) => sink.float(i, f),
                        Value::Bool(b) => sink.bool(i, b),
                        Value::Timestamp(t) => sink.timestamp(i, t),
                    }
                }
            }
        }
        Ok(true)
    }
}

/// A record's metadata, as [`TopicRows::next_into`] gives it to a [`RowSink`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowMeta {
    /// The partition the record is in.
    pub partition: u32,
    /// The record's offset in its partition.
    pub offset: u64,
    /// ms since the Unix epoch.
    pub event_time: i64,
    /// ms since the Unix epoch.
    pub append_time: i64,
    /// The generated event's id (`None` for an imported CSV row: each is its own event).
    pub event_id: Option<u64>,
}

/// Where [`TopicRows::next_into`] puts a row, without making a [`Value`] of each field:
/// `begin` with the record's metadata (return `false` to skip the row: no column calls
/// follow), then one call per data column, in order (`null` for a null); a column
/// [`TopicRows::keep_only`] left out gets no call, and the kept ones come in the order
/// it was given. Text is borrowed for the duration of the call.
pub trait RowSink {
    /// A row starts, with its record's metadata; `false` skips the row (no column calls
    /// follow).
    fn begin(&mut self, meta: &RowMeta) -> bool;
    /// Column `col` is null.
    fn null(&mut self, col: usize);
    /// Column `col` holds an integer.
    fn int(&mut self, col: usize, v: i64);
    /// Column `col` holds a float.
    fn float(&mut self, col: usize, v: f64);
    /// Column `col` holds text, borrowed for the call.
    fn text(&mut self, col: usize, v: &str);
    /// Column `col` holds a bool.
    fn bool(&mut self, col: usize, v: bool);
    /// µs since the Unix epoch.
    fn timestamp(&mut self, col: usize, us: i64);
    /// Text that lives as long as the program (a sink may keep it without copying).
    fn static_text(&mut self, col: usize, v: &'static str) {
        self.text(col, v);
    }
    /// A UUID, as its hyphenated lower-case text.
    fn uuid(&mut self, col: usize, id: &codec::Uuid) {
        let mut buf = [0u8; 36];
        id.write_hyphenated(&mut buf);
        self.text(col, std::str::from_utf8(&buf).unwrap_or_default());
    }
}

/// The sink behind [`TopicRows::next_row`]: each field as an owned [`Value`] at
/// `out[base + col]`.
struct ValueSink<'o> {
    out: &'o mut Vec<Value<'static>>,
    base: usize,
}

impl ValueSink<'_> {
    fn set(&mut self, col: usize, v: Value<'static>) {
        self.out[self.base + col] = v;
    }
}

impl RowSink for ValueSink<'_> {
    fn begin(&mut self, _: &RowMeta) -> bool {
        true
    }
    fn null(&mut self, col: usize) {
        self.set(col, Value::Null);
    }
    fn int(&mut self, col: usize, v: i64) {
        self.set(col, Value::Integer(v));
    }
    fn float(&mut self, col: usize, v: f64) {
        self.set(col, Value::Float(v));
    }
    fn text(&mut self, col: usize, v: &str) {
        self.set(col, Value::String(Cow::Owned(v.to_owned())));
    }
    fn bool(&mut self, col: usize, v: bool) {
        self.set(col, Value::Bool(v));
    }
    fn timestamp(&mut self, col: usize, us: i64) {
        self.set(col, Value::Timestamp(us));
    }
    fn static_text(&mut self, col: usize, v: &'static str) {
        self.set(col, Value::String(Cow::Borrowed(v)));
    }
}

/// A topic read as typed rows: metadata columns (`partition`, `offset`, `event_time`,
/// `append_time`, unless `no_metadata`), then the event's columns. What the CSV and
/// Parquet writers consume, and what any reader that wants a topic's events as columns
/// (a spec workload, an oracle) can use. Partitions are read one after the other, each in
/// offset order, up to the end offsets captured by [`TopicRows::new`].
pub struct TopicRows<'l> {
    log: &'l dyn Log,
    topic: String,
    content: Content,
    pub(crate) columns: Vec<Column>,
    metadata: bool,
    from_ms: Option<i64>,
    to_ms: Option<i64>,
    /// `(partition, next offset, end offset)` still to read.
    ranges: Vec<(u32, u64, u64)>,
    /// The last fetch, read in place (no record moved out) from `next`.
    buffered: Vec<Record>,
    next: usize,
    /// The data columns to decode, in the order a sink gets them (see
    /// [`TopicRows::keep_only`]); all of them by default.
    order: Vec<usize>,
    current: u32,
    pub(crate) total: u64,
    pub(crate) read: u64,
}

impl std::fmt::Debug for TopicRows<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopicRows")
            .field("topic", &self.topic)
            .field("columns", &self.columns)
            .field("read", &self.read)
            .finish()
    }
}

impl<'l> TopicRows<'l> {
    /// The columns every row has, in order.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// A reader of the rows of `opts.topic` (of the partitions and time range `opts`
    /// selects), after finding what its records are: a generated dataset, or CSV rows
    /// described by the sidecar in `sidecar_dir`.
    pub fn new(log: &'l dyn Log, opts: &ExportOptions, sidecar_dir: Option<&Path>) -> Result<Self> {
        let content = detect(log, &opts.topic, sidecar_dir)?;
        let data_columns = content.columns();
        let mut columns = Vec::new();
        if !opts.no_metadata {
            for (m, ty) in [
                ("partition", I),
                ("offset", I),
                ("event_time", T),
                ("append_time", T),
            ] {
                let mut name = m.to_owned();
                while data_columns.iter().any(|c| c.name == name) {
                    name.insert(0, '_');
                }
                columns.push(Column { name, ty });
            }
        }
        let order = (0..data_columns.len()).collect();
        columns.extend(data_columns);
        let partitions: Vec<u32> = if opts.partitions.is_empty() {
            (0..log.partition_count(&opts.topic)?).collect()
        } else {
            opts.partitions.clone()
        };
        let mut ranges = Vec::with_capacity(partitions.len());
        let mut total = 0;
        for &p in partitions.iter().rev() {
            let (earliest, latest) = log.offsets(&opts.topic, p)?;
            total += latest - earliest;
            ranges.push((p, earliest, latest));
        }
        Ok(Self {
            log,
            topic: opts.topic.clone(),
            content,
            columns,
            metadata: !opts.no_metadata,
            from_ms: opts.from_ms,
            to_ms: opts.to_ms,
            ranges,
            buffered: Vec::new(),
            next: 0,
            order,
            current: 0,
            total,
            read: 0,
        })
    }

    /// Decode only the data columns named in `columns` (names that are not columns are
    /// ignored): every other data column reads as `Null` and costs nothing to make (no
    /// text formatting, no copy). The columns of a row stay the same; a [`RowSink`] gets
    /// the kept ones in the order of `columns`, so that a sink can decide on a row from
    /// its first column (a filter) before the others are made.
    pub fn keep_only(&mut self, columns: &[&str]) {
        let data = self.content.columns();
        let mut order = Vec::with_capacity(columns.len());
        for name in columns {
            if let Some(i) = data.iter().position(|c| c.name == *name)
                && !order.contains(&i)
            {
                order.push(i);
            }
        }
        self.order = order;
    }

    /// Read partition `partition` only below offset `end` (a horizon): its rows stop
    /// there instead of at the end the log had when these rows were opened.
    pub fn stop_at(&mut self, partition: u32, end: u64) {
        for (p, next, stop) in &mut self.ranges {
            if *p == partition && end < *stop {
                self.total -= *stop - end.max(*next);
                *stop = end.max(*next);
            }
        }
    }

    /// Every row left, given to `sink` as [`TopicRows::next_into`] gives them (rows
    /// outside the time range left out), but read in place: each record is decoded
    /// where the log read it ([`Log::fetch_each`]), with no `Record` made of it. Returns
    /// the rows given.
    pub fn read_into(&mut self, sink: &mut dyn RowSink) -> Result<u64> {
        let mut given = 0;
        // Rows already fetched by `next_into` or `next_row` first.
        while self.next < self.buffered.len() {
            if self.next_into(sink)?.is_none() {
                break;
            }
            given += 1;
        }
        let (from_ms, to_ms) = (self.from_ms, self.to_ms);
        while let Some(&(p, next, end)) = self.ranges.last() {
            if next >= end {
                self.ranges.pop();
                continue;
            }
            self.current = p;
            let mut failed = None;
            let mut last = None;
            let mut read = 0;
            let (content, order) = (&self.content, &self.order);
            self.log
                .fetch_each(&self.topic, p, next, FetchLimits::default(), &mut |rec| {
                    if rec.offset >= end {
                        // Read through the end of the range.
                        last = Some(end - 1);
                        return ControlFlow::Break(());
                    }
                    last = Some(rec.offset);
                    read += 1;
                    let Some(mut meta) = row_meta(from_ms, to_ms, p, &rec) else {
                        return ControlFlow::Continue(());
                    };
                    match content.visit(&rec, order, &mut meta, sink) {
                        Ok(_) => {
                            given += 1;
                            ControlFlow::Continue(())
                        }
                        Err(e) => {
                            failed = Some(e);
                            ControlFlow::Break(())
                        }
                    }
                })?;
            self.read += read;
            if let Some(e) = failed {
                return Err(e);
            }
            if let Some(range) = self.ranges.last_mut() {
                range.1 = last.map_or(end, |o| o + 1);
            }
        }
        Ok(given)
    }

    /// `pageviews`, `ysb`, `nexmark` or `csv`.
    pub fn content_name(&self) -> String {
        self.content.name()
    }

    /// The next record inside the time range, as its index in `buffered`, with its
    /// metadata (no event id yet).
    fn next_record(&mut self) -> Result<Option<(usize, RowMeta)>> {
        loop {
            let Some(rec) = self.buffered.get(self.next) else {
                let Some((p, next, end)) = self.ranges.last_mut() else {
                    return Ok(None);
                };
                if *next >= *end {
                    self.ranges.pop();
                    continue;
                }
                let mut recs = self
                    .log
                    .fetch(&self.topic, *p, *next, FetchLimits::default())?;
                recs.retain(|r| r.offset < *end);
                match recs.last() {
                    Some(last) => *next = last.offset + 1,
                    None => *next = *end,
                }
                self.current = *p;
                self.buffered = recs;
                self.next = 0;
                continue;
            };
            let i = self.next;
            self.next += 1;
            self.read += 1;
            if let Some(meta) = row_meta(self.from_ms, self.to_ms, self.current, &rec.view()) {
                return Ok(Some((i, meta)));
            }
        }
    }

    /// The next row inside the time range into `out` (cleared first); `false` at the end.
    pub fn next_row(&mut self, out: &mut Vec<Value<'static>>) -> Result<bool> {
        let Some((i, mut meta)) = self.next_record()? else {
            return Ok(false);
        };
        out.clear();
        if self.metadata {
            out.extend([
                Value::Integer(i64::from(meta.partition)),
                int(meta.offset),
                millis(meta.event_time),
                millis(meta.append_time),
            ]);
        }
        let base = out.len();
        let n_data = self.columns.len() - if self.metadata { 4 } else { 0 };
        out.resize(base + n_data, Value::Null);
        let mut sink = ValueSink { out, base };
        self.content
            .visit(&self.buffered[i].view(), &self.order, &mut meta, &mut sink)?;
        Ok(true)
    }

    /// The next record inside the time range, given to `sink` (see [`RowSink`]) without
    /// making a [`Value`] of each field: the fast way to read a topic into columns.
    /// Returns the record's metadata (with its event id), or `None` at the end; whether
    /// the sink took the row is the sink's to know.
    pub fn next_into(&mut self, sink: &mut dyn RowSink) -> Result<Option<RowMeta>> {
        let Some((i, mut meta)) = self.next_record()? else {
            return Ok(None);
        };
        self.content
            .visit(&self.buffered[i].view(), &self.order, &mut meta, sink)?;
        Ok(Some(meta))
    }
}

/// A record's metadata (no event id yet), if its event time is inside `[from_ms, to_ms)`.
fn row_meta(
    from_ms: Option<i64>,
    to_ms: Option<i64>,
    partition: u32,
    rec: &RecordView<'_>,
) -> Option<RowMeta> {
    let outside =
        from_ms.is_some_and(|f| rec.event_time < f) || to_ms.is_some_and(|t| rec.event_time >= t);
    (!outside).then_some(RowMeta {
        partition,
        offset: rec.offset,
        event_time: rec.event_time,
        append_time: rec.append_time,
        event_id: None,
    })
}

/// Write the events of `opts.topic` as CSV to `out`. The dataset comes from the topic's
/// sidecar in `sidecar_dir`, or (for generated datasets) from the values' tag bytes.
pub fn export_csv(
    log: &dyn Log,
    opts: &ExportOptions,
    sidecar_dir: Option<&Path>,
    out: &mut dyn Write,
    progress: &mut ProgressFn<'_>,
) -> Result<ExportSummary> {
    let started = Instant::now();
    let mut rows = TopicRows::new(log, opts, sidecar_dir)?;
    let header: Vec<String> = rows.columns.iter().map(|c| c.name.clone()).collect();
    let mut w = csv::WriterBuilder::new().from_writer(out);
    w.write_record(&header)
        .ctx(|| "write the CSV header".into())?;
    let mut summary = ExportSummary {
        topic: opts.topic.clone(),
        content: rows.content_name(),
        columns: header,
        records_read: 0,
        rows: 0,
        output: None,
        elapsed_ms: 0,
    };
    let mut report = Progress::new(Phase::Export);
    report.total_items = Some(rows.total);
    let mut values = Vec::with_capacity(32);
    let mut fields: Vec<String> = Vec::with_capacity(32);
    while rows.next_row(&mut values)? {
        fields.resize(values.len(), String::new());
        for (f, v) in fields.iter_mut().zip(&values) {
            f.clear();
            v.write_text(f);
        }
        w.write_record(&fields).ctx(|| "write a CSV row".into())?;
        summary.rows += 1;
        if summary.rows.is_multiple_of(REPORT_EVERY) {
            report.items = rows.read;
            progress(&report);
        }
    }
    w.flush().ctx(|| "write the CSV".into())?;
    summary.records_read = rows.read;
    report.items = rows.read;
    report.done = true;
    progress(&report);
    summary.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(summary)
}

/// [`export_csv`] into a file, replaced atomically when complete and synced: the file is
/// streamed to a temporary beside it and renamed, as [`master_log::durable::write_atomic`]
/// does with [`Durability::Synced`] (once this returns, the export survives a power cut).
pub fn export_csv_file(
    log: &dyn Log,
    opts: &ExportOptions,
    sidecar_dir: Option<&Path>,
    path: &Path,
    progress: &mut ProgressFn<'_>,
) -> Result<ExportSummary> {
    let mut summary = write_file_atomic(path, Durability::Synced, |f, tmp| {
        let mut bw = BufWriter::with_capacity(1 << 20, f);
        let summary = export_csv(log, opts, sidecar_dir, &mut bw, progress)?;
        bw.into_inner().map_err(|e| DatasetError::Io {
            context: format!("write {}", tmp.display()),
            source: e.into_error(),
        })?;
        Ok(summary)
    })?;
    summary.output = Some(path.to_owned());
    Ok(summary)
}

/// Replace `path` by a file that `write` streams into, atomically for readers: the
/// streamed form of [`master_log::durable::write_atomic`] (which takes the whole file in
/// memory), with its temporary name ([`durable::temp_path`]) and its [`Durability`]
/// (`Synced`: the file is fsynced before the rename and its directory after). `write`
/// gets the temporary file and its path; when it fails, the temporary file is removed
/// and `path` is left as it was.
pub(crate) fn write_file_atomic<T>(
    path: &Path,
    durability: Durability,
    write: impl FnOnce(File, &Path) -> Result<T>,
) -> Result<T> {
    let tmp = durable::temp_path(path);
    let f = File::create(&tmp).ctx(|| format!("create {}", tmp.display()))?;
    let out = match write(f, &tmp) {
        Ok(out) => out,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    if durability == Durability::Synced {
        // `write` has closed its handle; fsync applies to the file, whatever the handle.
        std::fs::OpenOptions::new()
            .write(true)
            .open(&tmp)
            .and_then(|f| f.sync_all())
            .ctx(|| format!("sync {}", tmp.display()))?;
    }
    std::fs::rename(&tmp, path)
        .ctx(|| format!("rename {} to {}", tmp.display(), path.display()))?;
    if durability == Durability::Synced {
        durable::sync_parent(path).ctx(|| format!("sync the directory of {}", path.display()))?;
    }
    Ok(out)
}
