//! A SQL workload over a topic's records: the topic's columns as SQL sees them (those
//! `lk export` writes, with the record's `event_time`), its side tables (CSV files among
//! the sidecars), and the per-record evaluation the speed layer and Kappa share: a
//! record's columns, the side-table lookups, WHERE, the group key and the aggregates'
//! arguments.
//!
//! Side tables: `JOIN name` reads `<sidecar dir>/<topic>.<name>.csv`, else
//! `<sidecar dir>/<name>.csv` (the YSB ad → campaign table is `<topic>.campaigns.csv`):
//! CSV with a header; a column is BIGINT when every non-empty field is an integer, DOUBLE
//! when every one is a number, BOOLEAN when every one is `true` or `false`, else
//! VARCHAR; an empty field is null. Its join key (the ON columns) must be unique: a row
//! of the stream meets at most one row of a side table; a null key meets none.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use workloads::sql::{Expr, SqlSchema, SqlType, truth};
use workloads::{Scalar, SqlWorkload};

use crate::codec::{self, Event};
use crate::error::{DatasetError, Result};
use crate::generate_options::DatasetKind;
use crate::nexmark::NexmarkEvent;
use crate::pageviews::PageView;
use crate::row::{ColumnType, Schema};
use crate::sidecar::{TopicContent, read_sidecar};
use crate::stream::event::{Contribution, StreamEvent, Update};
use crate::ysb::YsbEvent;

/// What a topic's records are, for SQL.
#[derive(Debug, Clone)]
pub enum TopicKind {
    /// Events of a generated dataset.
    Generated(DatasetKind),
    /// Rows of imported CSV files.
    Csv(Schema),
}

/// The columns of the generated datasets, as `lk export` names them (after its metadata
/// columns), with their SQL types.
fn generated_columns(kind: DatasetKind) -> Vec<(&'static str, SqlType)> {
    crate::export::generated_columns(kind)
        .iter()
        .map(|&(name, t)| (name, sql_type(t)))
        .collect()
}

/// A CSV column type as SQL's.
pub fn sql_type(t: ColumnType) -> SqlType {
    match t {
        ColumnType::Integer => SqlType::Bigint,
        ColumnType::Float => SqlType::Double,
        ColumnType::String => SqlType::Varchar,
        ColumnType::Bool => SqlType::Boolean,
        ColumnType::Timestamp => SqlType::Timestamp,
    }
}

/// A side table read whole: its columns and rows.
#[derive(Debug, Clone)]
pub struct SideTable {
    /// The file read.
    pub path: PathBuf,
    /// Columns and their types.
    pub columns: Vec<(String, SqlType)>,
    /// The rows, one value per column.
    pub rows: Vec<Vec<Scalar>>,
}

/// Field `i` of a record, `None` when empty (null).
fn field(r: &csv::StringRecord, i: usize) -> Option<&str> {
    r.get(i).filter(|f| !f.is_empty())
}

fn infer(fields: &[Option<&str>]) -> SqlType {
    let present: Vec<&str> = fields.iter().flatten().copied().collect();
    if present.is_empty() {
        SqlType::Varchar
    } else if present.iter().all(|f| f.parse::<i64>().is_ok()) {
        SqlType::Bigint
    } else if present.iter().all(|f| f.parse::<f64>().is_ok()) {
        SqlType::Double
    } else if present
        .iter()
        .all(|f| f.eq_ignore_ascii_case("true") || f.eq_ignore_ascii_case("false"))
    {
        SqlType::Boolean
    } else {
        SqlType::Varchar
    }
}

fn value(field: Option<&str>, t: SqlType) -> Scalar {
    match (field, t) {
        (None, _) => Scalar::Null,
        (Some(f), SqlType::Bigint) => f.parse().map_or(Scalar::Null, Scalar::Int),
        (Some(f), SqlType::Double) => f.parse().map_or(Scalar::Null, Scalar::Float),
        (Some(f), SqlType::Boolean) => Scalar::Bool(f.eq_ignore_ascii_case("true")),
        (Some(f), _) => Scalar::Str(f.to_owned()),
    }
}

impl SideTable {
    /// Where side table `name` of `topic` is: `<dir>/<topic>.<name>.csv`, else
    /// `<dir>/<name>.csv`.
    pub fn path(dir: &Path, topic: &str, name: &str) -> Option<PathBuf> {
        [
            dir.join(format!("{topic}.{name}.csv")),
            dir.join(format!("{name}.csv")),
        ]
        .into_iter()
        .find(|p| p.is_file())
    }

    /// The position of column `name` (exactly, else ignoring ASCII case).
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|(n, _)| n == name)
            .or_else(|| {
                self.columns
                    .iter()
                    .position(|(n, _)| n.eq_ignore_ascii_case(name))
            })
    }

    /// The rows by their values of the columns `on` (rows with a null there are left
    /// out: a null key meets nothing). A key in more than one row is an error: a side
    /// table's join key must be unique.
    pub fn index(&self, on: &[&str]) -> Result<HashMap<Vec<Scalar>, usize>> {
        let cols: Vec<usize> = on
            .iter()
            .map(|c| {
                self.column(c).ok_or_else(|| DatasetError::BadFile {
                    file: self.path.clone(),
                    reason: format!("no column {c}"),
                })
            })
            .collect::<Result<_>>()?;
        let mut by_key = HashMap::new();
        for (i, row) in self.rows.iter().enumerate() {
            let key: Vec<Scalar> = cols.iter().map(|&c| row[c].clone()).collect();
            if key.iter().any(Scalar::is_null) {
                continue;
            }
            if by_key.insert(key.clone(), i).is_some() {
                return Err(DatasetError::BadFile {
                    file: self.path.clone(),
                    reason: format!(
                        "the join key {key:?} is in more than one row (a side table's join key must be unique)"
                    ),
                });
            }
        }
        Ok(by_key)
    }

    /// Read side table `name` of `topic` from `dir`.
    pub fn read(dir: &Path, topic: &str, name: &str) -> Result<SideTable> {
        let path = Self::path(dir, topic, name).ok_or_else(|| DatasetError::BadFile {
            file: dir.join(format!("{topic}.{name}.csv")),
            reason: format!(
                "side table {name} not found (looked for {topic}.{name}.csv and {name}.csv in {})",
                dir.display()
            ),
        })?;
        let bad = |reason: String| DatasetError::BadFile {
            file: path.clone(),
            reason,
        };
        let mut reader = csv::Reader::from_path(&path).map_err(|e| bad(e.to_string()))?;
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| bad(e.to_string()))?
            .iter()
            .map(str::to_owned)
            .collect();
        let mut raw: Vec<csv::StringRecord> = Vec::new();
        for r in reader.records() {
            let r = r.map_err(|e| bad(e.to_string()))?;
            if r.len() != header.len() {
                return Err(bad(format!(
                    "a row of {} fields, a header of {}",
                    r.len(),
                    header.len()
                )));
            }
            raw.push(r);
        }
        let columns: Vec<(String, SqlType)> = header
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let fields: Vec<Option<&str>> = raw.iter().map(|r| field(r, i)).collect();
                (n.clone(), infer(&fields))
            })
            .collect();
        let rows = raw
            .iter()
            .map(|r| {
                (0..header.len())
                    .map(|i| value(field(r, i), columns[i].1))
                    .collect()
            })
            .collect();
        Ok(SideTable {
            path,
            columns,
            rows,
        })
    }
}

/// A SQL workload bound to a topic: its kind, the schema it is typed against, the typed
/// query, and its side tables.
#[derive(Debug, Clone)]
pub struct SqlTopic {
    /// What the topic's records are.
    pub kind: TopicKind,
    /// The columns the query sees.
    pub schema: SqlSchema,
    /// The query, typed against `schema`.
    pub query: SqlWorkload,
    /// The side tables, in join order.
    pub sides: Vec<SideTable>,
}

impl SqlTopic {
    /// Bind `w` to `topic`, whose sidecar (and side tables) are in `sidecar_dir`. A query
    /// that does not fit the topic is [`DatasetError::Workload`] (a usage error).
    pub fn new(w: &SqlWorkload, topic: &str, sidecar_dir: &Path) -> Result<SqlTopic> {
        let (kind, mut stream, mut time_columns) =
            match read_sidecar(sidecar_dir, topic)?.map(|m| m.content) {
                Some(TopicContent::Csv { schema, .. }) => {
                    let cols: Vec<(String, SqlType)> = schema
                        .columns
                        .iter()
                        .map(|c| (c.name.clone(), sql_type(c.ty)))
                        .collect();
                    let time = vec![schema.time_column.clone()];
                    (TopicKind::Csv(schema), cols, time)
                }
                Some(TopicContent::Generated(g)) => {
                    let d = g.options.dataset;
                    let cols = generated_columns(d)
                        .into_iter()
                        .map(|(n, t)| (n.to_owned(), t))
                        .collect();
                    let time = match d {
                        DatasetKind::Nexmark => vec!["date_time".to_owned()],
                        _ => vec![],
                    };
                    (TopicKind::Generated(d), cols, time)
                }
                None => {
                    return Err(DatasetError::NoSidecar {
                        topic: topic.to_owned(),
                        dir: sidecar_dir.to_owned(),
                    });
                }
            };
        if !stream.iter().any(|(n, _)| n == "event_time") {
            stream.push(("event_time".into(), SqlType::Timestamp));
            time_columns.push("event_time".into());
        }
        let sides = w
            .joins
            .iter()
            .map(|j| SideTable::read(sidecar_dir, topic, &j.table))
            .collect::<Result<Vec<_>>>()?;
        let schema = SqlSchema {
            stream,
            time_columns,
            sides: sides.iter().map(|s| s.columns.clone()).collect(),
        };
        let query = w.typed(&schema)?;
        Ok(SqlTopic {
            kind,
            schema,
            query,
            sides,
        })
    }

    /// The position of the `event_time` column among the topic's columns.
    pub fn event_time_column(&self) -> usize {
        self.schema
            .stream
            .iter()
            .rposition(|(n, _)| n == "event_time")
            .unwrap_or(0)
    }
}

/// A side table indexed by its join key.
#[derive(Debug)]
struct SideIndex {
    rows: Vec<Vec<Scalar>>,
    by_key: HashMap<Vec<Scalar>, usize>,
    /// The stream's key expressions, bound.
    keys: Vec<Expr>,
    /// Where its columns start in the row.
    offset: usize,
    left: bool,
}

/// The per-record evaluator of a SQL workload.
#[derive(Debug)]
pub(crate) struct SqlDecoder {
    topic: SqlTopic,
    /// The topic's columns the query reads, with where each is in the row.
    needed: Vec<usize>,
    width: usize,
    sides: Vec<SideIndex>,
    filter: Option<Expr>,
    keys: Vec<Expr>,
    /// Every aggregate's arguments, bound, flattened.
    args: Vec<Expr>,
    /// How many arguments each aggregate takes.
    arity: Vec<usize>,
}

impl SqlDecoder {
    pub(crate) fn new(w: &SqlWorkload, topic: &str, sidecar_dir: &Path) -> Result<Self> {
        let t = SqlTopic::new(w, topic, sidecar_dir)?;
        let q = &t.query;
        let bind = |e: &Expr| q.bind_row(e, &t.schema);
        let mut sides = Vec::new();
        for (j, (join, table)) in q.joins.iter().zip(&t.sides).enumerate() {
            let on: Vec<&str> = join.on.iter().map(|(_, c)| c.as_str()).collect();
            let by_key = table.index(&on)?;
            sides.push(SideIndex {
                rows: table.rows.clone(),
                by_key,
                keys: join
                    .on
                    .iter()
                    .map(|(e, _)| bind(e))
                    .collect::<workloads::Result<_>>()?,
                offset: t.schema.slot(workloads::sql::Source::Side(j, 0)),
                left: join.left,
            });
        }
        let width = t.schema.stream.len() + t.schema.sides.iter().map(Vec::len).sum::<usize>();
        Ok(SqlDecoder {
            needed: q.stream_columns(&t.schema)?,
            width,
            sides,
            filter: q.filter.as_ref().map(bind).transpose()?,
            keys: q.keys.iter().map(bind).collect::<workloads::Result<_>>()?,
            args: q
                .aggregates
                .iter()
                .flat_map(|a| &a.args)
                .map(bind)
                .collect::<workloads::Result<_>>()?,
            arity: q.aggregates.iter().map(|a| a.args.len()).collect(),
            topic: t,
        })
    }

    /// One record: its columns, the side lookups, WHERE, the key and the arguments.
    pub(crate) fn decode(&self, value: &[u8], event_time: i64) -> Result<StreamEvent<'static>> {
        let mut row = vec![Scalar::Null; self.width];
        let (id, time) = self.columns(value, event_time, &mut row)?;
        let event = |contribution| StreamEvent {
            id,
            time,
            contribution,
        };
        for s in &self.sides {
            let key: Vec<Scalar> = s
                .keys
                .iter()
                .map(|k| k.eval(&row))
                .collect::<workloads::Result<_>>()?;
            match s.by_key.get(&key) {
                Some(&i) => {
                    for (c, v) in s.rows[i].iter().enumerate() {
                        row[s.offset + c] = v.clone();
                    }
                }
                None if s.left => {}
                None => return Ok(event(None)),
            }
        }
        if let Some(f) = &self.filter
            && truth(&f.eval(&row)?)? != Some(true)
        {
            return Ok(event(None));
        }
        let key = self
            .keys
            .iter()
            .map(|k| k.eval(&row))
            .collect::<workloads::Result<Vec<_>>>()?;
        let args = self
            .args
            .iter()
            .map(|a| a.eval(&row))
            .collect::<workloads::Result<Vec<_>>>()?;
        Ok(event(Some(Contribution {
            key: Cow::Owned(key),
            number: None,
            update: Update::Sql(args),
        })))
    }

    /// Fold one record's arguments into a cell's partials.
    pub(crate) fn fold(&self, partials: &mut [workloads::Partial], args: &[Scalar]) -> Result<()> {
        let mut at = 0;
        for ((agg, p), n) in self
            .topic
            .query
            .aggregates
            .iter()
            .zip(partials)
            .zip(&self.arity)
        {
            let Some(slice) = args.get(at..at + n) else {
                return Err(DatasetError::UpdateMismatch(format!(
                    "{} arguments for the aggregates' {}",
                    args.len(),
                    self.arity.iter().sum::<usize>()
                )));
            };
            agg.update(p, slice)?;
            at += n;
        }
        Ok(())
    }

    /// The record's columns the query reads, into `row`; its id and event time.
    fn columns(
        &self,
        value: &[u8],
        event_time: i64,
        row: &mut [Scalar],
    ) -> Result<(Option<u64>, i64)> {
        let et = self.topic.event_time_column();
        let (id, time) = match &self.topic.kind {
            TopicKind::Csv(schema) => {
                let values = schema.decode(value)?;
                for &i in &self.needed {
                    if let Some(v) = values.get(i) {
                        row[i] = v.to_scalar();
                    }
                }
                (None, event_time)
            }
            TopicKind::Generated(d) => generated(*d, value, &self.needed, row)?,
        };
        if self.needed.contains(&et) {
            row[et] = Scalar::Timestamp(time.saturating_mul(1000));
        }
        Ok((id, time))
    }
}

fn int(v: u64) -> Scalar {
    Scalar::Int(i64::try_from(v).unwrap_or(i64::MAX))
}

fn text(s: &str) -> Scalar {
    Scalar::Str(s.to_owned())
}

/// A generated event's columns (those in `needed`, by their index in the dataset's
/// column list) into `row`; its id and event time.
fn generated(
    d: DatasetKind,
    value: &[u8],
    needed: &[usize],
    row: &mut [Scalar],
) -> Result<(Option<u64>, i64)> {
    let n = generated_columns(d).len();
    match d {
        DatasetKind::Pageviews => {
            let e: PageView = codec::decode(value)?;
            for &i in needed.iter().filter(|&&i| i < n) {
                row[i] = match i {
                    0 => int(e.event_id),
                    1 => int(e.viewer_id),
                    2 => int(e.page_id),
                    3 => text(e.page_type.name()),
                    4 => text(e.country.as_str()),
                    _ => text(e.device.name()),
                };
            }
            Ok((Some(e.event_id), e.event_time))
        }
        DatasetKind::Ysb => {
            let e = YsbEvent::decode(value)?;
            for &i in needed.iter().filter(|&&i| i < n) {
                row[i] = match i {
                    0 => int(e.event_id),
                    1 => Scalar::Str(e.user_id.to_string()),
                    2 => Scalar::Str(e.page_id.to_string()),
                    3 => Scalar::Str(e.ad_id.to_string()),
                    4 => text(e.ad_type.name()),
                    5 => text(e.event_type.name()),
                    _ => Scalar::Str(e.ip_address.to_string()),
                };
            }
            Ok((Some(e.event_id), e.event_time))
        }
        DatasetKind::Nexmark => {
            let e: NexmarkEvent<'_> = codec::decode(value)?;
            for &i in needed.iter().filter(|&&i| i < n) {
                row[i] = nexmark_column(&e, i);
            }
            Ok((Some(e.event_id()), e.event_time()))
        }
    }
}

/// Column `i` of NEXMark's wide row (null where the event's kind has no such field).
fn nexmark_column(e: &NexmarkEvent<'_>, i: usize) -> Scalar {
    let us = |ms: i64| Scalar::Timestamp(ms.saturating_mul(1000));
    match (i, e) {
        (0, _) => text(e.kind()),
        (1, _) => int(e.event_id()),
        (2, _) => us(e.event_time()),
        (3, NexmarkEvent::Person(p)) => int(p.id),
        (4, NexmarkEvent::Person(p)) => text(&p.name),
        (5, NexmarkEvent::Person(p)) => text(&p.email_address),
        (6, NexmarkEvent::Person(p)) => text(&p.credit_card),
        (7, NexmarkEvent::Person(p)) => text(&p.city),
        (8, NexmarkEvent::Person(p)) => text(&p.state),
        (9, NexmarkEvent::Auction(a)) => int(a.id),
        (10, NexmarkEvent::Auction(a)) => text(&a.item_name),
        (11, NexmarkEvent::Auction(a)) => text(&a.description),
        (12, NexmarkEvent::Auction(a)) => int(a.initial_bid),
        (13, NexmarkEvent::Auction(a)) => int(a.reserve),
        (14, NexmarkEvent::Auction(a)) => us(a.expires),
        (15, NexmarkEvent::Auction(a)) => int(a.seller),
        (16, NexmarkEvent::Auction(a)) => int(a.category),
        (17, NexmarkEvent::Bid(b)) => int(b.auction),
        (18, NexmarkEvent::Bid(b)) => int(b.bidder),
        (19, NexmarkEvent::Bid(b)) => int(b.price),
        (20, NexmarkEvent::Bid(b)) => text(&b.channel),
        (21, NexmarkEvent::Bid(b)) => text(&b.url),
        _ => Scalar::Null,
    }
}

#[cfg(test)]
mod tests {
    use master_log::EmbeddedLog;

    use super::*;
    use crate::{ExportOptions, GenerateOptions, TopicRows};

    #[test]
    fn the_columns_are_those_lk_export_writes() {
        let dir = tempfile::tempdir().unwrap();
        let log = EmbeddedLog::open(dir.path().join("log")).unwrap();
        let side = dir.path().join("side");
        for kind in [
            DatasetKind::Pageviews,
            DatasetKind::Ysb,
            DatasetKind::Nexmark,
        ] {
            let topic = kind.name();
            let opts = GenerateOptions::new(kind, topic, 50);
            crate::generate(&log, &opts, Some(&side), &mut crate::no_progress).unwrap();
            let export = ExportOptions {
                topic: topic.into(),
                ..ExportOptions::default()
            };
            let rows = TopicRows::new(&log, &export, Some(&side)).unwrap();
            let exported: Vec<(String, SqlType)> = rows.columns()[4..]
                .iter()
                .map(|c| (c.name.clone(), sql_type(c.ty)))
                .collect();
            let ours: Vec<(String, SqlType)> = generated_columns(kind)
                .into_iter()
                .map(|(n, t)| (n.to_owned(), t))
                .collect();
            assert_eq!(ours, exported, "{topic}");
        }
    }

    #[test]
    fn side_tables_infer_types_and_nulls() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("t.zones.csv"),
            "zone,n,x,ok,name\nJFK,1,1.5,true,a\nLGA,,2,FALSE,\n",
        )
        .unwrap();
        let t = SideTable::read(dir.path(), "t", "zones").unwrap();
        let types: Vec<SqlType> = t.columns.iter().map(|c| c.1).collect();
        use SqlType::*;
        assert_eq!(types, vec![Varchar, Bigint, Double, Boolean, Varchar]);
        assert_eq!(
            t.rows[1],
            vec![
                Scalar::from("LGA"),
                Scalar::Null,
                Scalar::Float(2.0),
                Scalar::Bool(false),
                Scalar::Null
            ]
        );
        assert!(SideTable::read(dir.path(), "t", "nope").is_err());
    }
}
