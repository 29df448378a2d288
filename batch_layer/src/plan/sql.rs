//! SQL workloads as polars plans: the side tables joined to the frame (polars joins on
//! the ON keys), WHERE as a filter, the group keys and the aggregates' arguments as
//! columns, then per window and key one set of partial columns per aggregate.
//!
//! Row expressions become polars expressions: columns, literals, `+ - *` (integers wrap
//! on overflow in polars, where the stream pipelines' evaluator reports an error), `/` in
//! doubles, comparisons, Kleene AND/OR/NOT, IS NULL, IN (an OR of equalities), CASE
//! (when/then), widening casts. What polars has no exact equal for without features this
//! build leaves out — `%` (DuckDB's truncated remainder, null by zero), `||`, LIKE and the
//! other CASTs (rounding half to even, parsing text) — is evaluated row by row over its
//! columns by the workloads crate's evaluator, inside the plan (`map_multiple`).

use std::path::Path;

use datasets::stream::{SideTable, SqlTopic};
use polars::prelude::{Expr as PExpr, *};
use workloads::sql::{AggFunc, BinOp, Expr, Source, SqlType, UnOp};
use workloads::{Scalar, SqlWorkload};

use super::{Output, PartCol, TWO_32, per_session, per_window};
use crate::decode::{Events, Kind, RowFilter, Scan};
use crate::error::{BatchError, Result};

/// The event time as a timestamp (µs), when the query reads `event_time`.
const EVENT_TIME: &str = "__lk_event_time";

/// The topic's columns the query names (unqualified or by the topic's names), and the
/// filter the decoder can apply (see [`pushdown`]).
pub(crate) fn scan(w: &SqlWorkload) -> Scan<'_> {
    let mut columns: Vec<&str> = Vec::new();
    for e in w.row_exprs() {
        e.walk(&mut |x| {
            if let Expr::Column(c) = x
                && c.qualifier
                    .as_ref()
                    .is_none_or(|q| w.topic_names.contains(q))
                && !columns.contains(&c.name.as_str())
            {
                columns.push(&c.name);
            }
        });
    }
    Scan {
        columns,
        filter: pushdown(w),
        lookup: None,
    }
}

/// A conjunct of WHERE that is `column = 'text'` over a column named nowhere else: the
/// decoder may keep only the rows it takes (and leave the column out).
fn pushdown(w: &SqlWorkload) -> Option<RowFilter<'_>> {
    if !w.joins.is_empty() {
        return None;
    }
    let mut conjuncts = Vec::new();
    conjuncts_of(w.filter.as_ref()?, &mut conjuncts);
    conjuncts.into_iter().find_map(|c| {
        let (Expr::Column(col), Expr::Literal(Scalar::Str(text))) = (match c {
            Expr::Binary(BinOp::Eq, a, b) => (a.as_ref(), b.as_ref()),
            _ => return None,
        }) else {
            return None;
        };
        let mut uses = 0;
        for e in w.row_exprs() {
            e.walk(&mut |x| {
                uses += usize::from(matches!(x, Expr::Column(c) if c.name == col.name))
            });
        }
        (uses == 1 && col.qualifier.is_none()).then_some(RowFilter {
            column: &col.name,
            equals: text,
        })
    })
}

fn conjuncts_of<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
    match e {
        Expr::Binary(BinOp::And, a, b) => {
            conjuncts_of(a, out);
            conjuncts_of(b, out);
        }
        e => out.push(e),
    }
}

fn kind(t: Option<SqlType>) -> Kind {
    match t {
        Some(SqlType::Double) => Kind::Float,
        Some(SqlType::Varchar) => Kind::Str,
        Some(SqlType::Boolean) => Kind::Bool,
        Some(SqlType::Timestamp) => Kind::Timestamp,
        Some(SqlType::Bigint) | None => Kind::Int,
    }
}

fn dtype(t: Option<SqlType>) -> DataType {
    match t {
        Some(SqlType::Double) => DataType::Float64,
        Some(SqlType::Varchar) => DataType::String,
        Some(SqlType::Boolean) | None => DataType::Boolean,
        Some(SqlType::Bigint | SqlType::Timestamp) => DataType::Int64,
    }
}

/// Translates one typed query's row expressions for its topic.
struct Tr<'a> {
    t: &'a SqlTopic,
    /// The conjunct the decoder applied already.
    pushed: Option<Expr>,
}

impl Tr<'_> {
    /// The frame column of a column of the query.
    fn name(&self, s: Source) -> String {
        match s {
            Source::Stream(i) if i == self.t.event_time_column() && self.is_pseudo_time() => {
                EVENT_TIME.into()
            }
            Source::Stream(i) => self.t.schema.stream[i].0.clone(),
            Source::Side(j, c) => format!("__lk_s{j}_{c}"),
        }
    }

    /// Whether `event_time` is the record's time (not a column of the rows).
    fn is_pseudo_time(&self) -> bool {
        match &self.t.kind {
            datasets::stream::TopicKind::Csv(s) => {
                !s.columns.iter().any(|c| c.name == "event_time")
            }
            datasets::stream::TopicKind::Generated(_) => true,
        }
    }

    fn ty(&self, e: &Expr) -> Result<Option<SqlType>> {
        Ok(self.t.query.row_type(e, &self.t.schema)?)
    }

    fn expr(&self, e: &Expr) -> Result<PExpr> {
        if self.pushed.as_ref() == Some(e) {
            return Ok(lit(true));
        }
        Ok(match e {
            Expr::Column(c) => col(self.name(self.t.query.resolve(c, &self.t.schema)?).as_str()),
            Expr::Literal(v) => literal(v),
            Expr::Unary(UnOp::Not, a) => self.expr(a)?.not(),
            Expr::Unary(UnOp::Neg, a) => match self.ty(a)? {
                Some(SqlType::Double) => self.expr(a)? * lit(-1.0),
                _ => self.expr(a)? * lit(-1i64),
            },
            Expr::Binary(op, a, b) => {
                let (x, y) = (self.expr(a)?, self.expr(b)?);
                match op {
                    BinOp::Add => x + y,
                    BinOp::Sub => x - y,
                    BinOp::Mul => x * y,
                    BinOp::Div => x.cast(DataType::Float64) / y.cast(DataType::Float64),
                    BinOp::Eq => x.eq(y),
                    BinOp::NotEq => x.neq(y),
                    BinOp::Lt => x.lt(y),
                    BinOp::LtEq => x.lt_eq(y),
                    BinOp::Gt => x.gt(y),
                    BinOp::GtEq => x.gt_eq(y),
                    BinOp::And => x.and(y),
                    BinOp::Or => x.or(y),
                    BinOp::Mod | BinOp::Concat => return self.row_by_row(e),
                }
            }
            Expr::IsNull { expr, negated } => {
                let x = self.expr(expr)?;
                if *negated {
                    x.is_not_null()
                } else {
                    x.is_null()
                }
            }
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                let x = self.expr(expr)?;
                let mut any = lit(false);
                for i in list {
                    any = any.or(x.clone().eq(self.expr(i)?));
                }
                if *negated { any.not() } else { any }
            }
            Expr::Case {
                operand,
                whens,
                otherwise,
            } => {
                let op = operand.as_ref().map(|o| self.expr(o)).transpose()?;
                let cond = |w: &Expr| -> Result<PExpr> {
                    let c = self.expr(w)?;
                    Ok(match &op {
                        Some(o) => o.clone().eq(c).fill_null(lit(false)),
                        None => c.fill_null(lit(false)),
                    })
                };
                let out = dtype(self.ty(e)?);
                let other = match otherwise {
                    Some(o) => self.expr(o)?,
                    None => lit(NULL).cast(out.clone()),
                };
                let mut acc = other;
                for (w, t) in whens.iter().rev() {
                    acc = when(cond(w)?).then(self.expr(t)?).otherwise(acc);
                }
                acc
            }
            Expr::Cast { expr, to } => match (self.ty(expr)?, to) {
                (Some(a), b) if a == *b => self.expr(expr)?,
                (Some(SqlType::Bigint) | None, SqlType::Double) => {
                    self.expr(expr)?.cast(DataType::Float64)
                }
                _ => return self.row_by_row(e),
            },
            Expr::Like { .. } => return self.row_by_row(e),
            other => {
                return Err(BatchError::Type(format!(
                    "{other:?} is not a row expression"
                )));
            }
        })
    }

    /// `e` evaluated row by row over the columns it reads, by the workloads crate's
    /// evaluator.
    fn row_by_row(&self, e: &Expr) -> Result<PExpr> {
        let q = &self.t.query;
        let mut sources: Vec<Source> = Vec::new();
        let mut failed = None;
        let bound = e.map_leaves(&mut |x| match x {
            Expr::Column(c) => {
                let s = q.resolve(c, &self.t.schema)?;
                let i = sources.iter().position(|t| *t == s).unwrap_or_else(|| {
                    sources.push(s);
                    sources.len() - 1
                });
                Ok(Some(Expr::Slot(i)))
            }
            _ => Ok(None),
        });
        let bound = match bound {
            Ok(b) => b,
            Err(x) => {
                failed = Some(x);
                Expr::Literal(Scalar::Null)
            }
        };
        if let Some(x) = failed {
            return Err(x.into());
        }
        let out = self.ty(e)?;
        if sources.is_empty() {
            return Ok(literal(&bound.eval(&[])?));
        }
        let types: Vec<SqlType> = sources.iter().map(|s| self.t.schema.type_of(*s)).collect();
        let args: Vec<PExpr> = sources
            .iter()
            .map(|s| col(self.name(*s).as_str()))
            .collect();
        let out_dtype = dtype(out);
        Ok(map_multiple(
            move |cols: &mut [Column]| {
                let n = cols.first().map_or(0, Column::len);
                let mut values = Vec::with_capacity(n);
                let mut row = vec![Scalar::Null; cols.len()];
                for i in 0..n {
                    for (k, c) in cols.iter().enumerate() {
                        row[k] = any_scalar(&c.get(i)?, types[k]);
                    }
                    values.push(
                        bound
                            .eval(&row)
                            .map_err(|e| PolarsError::ComputeError(e.to_string().into()))?,
                    );
                }
                Ok(column_of("__lk_udf", &values, out))
            },
            args,
            move |_, _| Ok(Field::new("__lk_udf".into(), out_dtype.clone())),
        ))
    }
}

fn literal(v: &Scalar) -> PExpr {
    match v {
        Scalar::Null => lit(NULL),
        Scalar::Bool(b) => lit(*b),
        Scalar::Int(i) | Scalar::Timestamp(i) => lit(*i),
        Scalar::Float(f) => lit(*f),
        Scalar::Str(s) => lit(s.as_str()),
    }
}

/// A polars value as a scalar of SQL type `t` (timestamps are Int64 µs in the frame).
fn any_scalar(av: &AnyValue<'_>, t: SqlType) -> Scalar {
    match (av, t) {
        (AnyValue::Null, _) => Scalar::Null,
        (AnyValue::Int64(i), SqlType::Timestamp) => Scalar::Timestamp(*i),
        (AnyValue::Int64(i), _) => Scalar::Int(*i),
        (AnyValue::Int32(i), _) => Scalar::Int(i64::from(*i)),
        (AnyValue::UInt32(i), _) => Scalar::Int(i64::from(*i)),
        (AnyValue::UInt64(i), _) => Scalar::Int(i64::try_from(*i).unwrap_or(i64::MAX)),
        (AnyValue::Float64(f), _) => Scalar::Float(*f),
        (AnyValue::Boolean(b), _) => Scalar::Bool(*b),
        (AnyValue::String(s), _) => Scalar::Str((*s).to_owned()),
        (AnyValue::StringOwned(s), _) => Scalar::Str(s.to_string()),
        _ => Scalar::Null,
    }
}

/// A column of values of SQL type `t`.
fn column_of(name: &str, values: &[Scalar], t: Option<SqlType>) -> Column {
    let name = PlSmallStr::from(name);
    match t {
        Some(SqlType::Bigint | SqlType::Timestamp) => Column::new(
            name,
            values
                .iter()
                .map(|v| match v {
                    Scalar::Int(i) | Scalar::Timestamp(i) => Some(*i),
                    _ => None,
                })
                .collect::<Vec<_>>(),
        ),
        Some(SqlType::Double) => Column::new(
            name,
            values
                .iter()
                .map(|v| match v {
                    Scalar::Float(f) => Some(*f),
                    Scalar::Int(i) => Some(*i as f64),
                    _ => None,
                })
                .collect::<Vec<_>>(),
        ),
        Some(SqlType::Varchar) => Column::new(
            name,
            values
                .iter()
                .map(|v| match v {
                    Scalar::Str(s) => Some(s.as_str()),
                    _ => None,
                })
                .collect::<Vec<_>>(),
        ),
        Some(SqlType::Boolean) | None => Column::new(
            name,
            values
                .iter()
                .map(|v| match v {
                    Scalar::Bool(b) => Some(*b),
                    _ => None,
                })
                .collect::<Vec<_>>(),
        ),
    }
}

/// A side table as a frame: its columns (`__lk_s<j>_<c>`), and a copy of each join column
/// as the join key (`__lk_sk<j>_<i>`, cast as the stream's key is).
fn side_frame(j: usize, table: &SideTable, on: &[(String, Option<SqlType>)]) -> Result<LazyFrame> {
    let mut cols = Vec::new();
    for (c, (_, t)) in table.columns.iter().enumerate() {
        let values: Vec<Scalar> = table.rows.iter().map(|r| r[c].clone()).collect();
        cols.push(column_of(&format!("__lk_s{j}_{c}"), &values, Some(*t)));
    }
    let mut lf = DataFrame::new(table.rows.len(), cols)?.lazy();
    for (i, (name, t)) in on.iter().enumerate() {
        let c = table.column(name).ok_or_else(|| {
            BatchError::Type(format!(
                "side table {}: no column {name}",
                table.path.display()
            ))
        })?;
        lf = lf.with_column(
            col(format!("__lk_s{j}_{c}").as_str())
                .cast(dtype(*t))
                .alias(format!("__lk_sk{j}_{i}")),
        );
    }
    Ok(lf)
}

/// The plan of SQL workload `w` over `events` of `topic`.
pub(crate) fn plan(
    w: &SqlWorkload,
    events: Events,
    topic: &str,
    sidecar_dir: &Path,
) -> Result<Output> {
    let t = SqlTopic::new(w, topic, sidecar_dir)?;
    let pushed = if events.filtered {
        pushdown(w).map(|f| {
            Expr::binary(
                BinOp::Eq,
                Expr::Column(workloads::sql::ColumnRef {
                    qualifier: None,
                    name: f.column.to_owned(),
                    pos: Default::default(),
                }),
                Expr::Literal(Scalar::Str(f.equals.to_owned())),
            )
        })
    } else {
        None
    };
    let tr = Tr { t: &t, pushed };
    let q = &t.query;
    let mut lf = events.frame.lazy();
    if tr.is_pseudo_time() {
        lf = lf.with_column((col(crate::decode::TIME) * lit(1000i64)).alias(EVENT_TIME));
    }
    for (j, (join, table)) in q.joins.iter().zip(&t.sides).enumerate() {
        let on: Vec<&str> = join.on.iter().map(|(_, c)| c.as_str()).collect();
        table.index(&on)?;
        let mut key_types = Vec::new();
        let mut left_on = Vec::new();
        for (i, (e, c)) in join.on.iter().enumerate() {
            let st = tr.ty(e)?;
            let side_t = table.column(c).map(|k| table.columns[k].1);
            let common = match (st, side_t) {
                (Some(a), Some(b)) if a != b && a.is_numeric() && b.is_numeric() => {
                    Some(SqlType::Double)
                }
                (a, _) => a,
            };
            key_types.push((c.clone(), common));
            let name = format!("__lk_j{j}_{i}");
            lf = lf.with_column(tr.expr(e)?.cast(dtype(common)).alias(name.as_str()));
            left_on.push(col(name.as_str()));
        }
        let right_on: Vec<PExpr> = (0..join.on.len())
            .map(|i| col(format!("__lk_sk{j}_{i}").as_str()))
            .collect();
        let how = if join.left {
            JoinType::Left
        } else {
            JoinType::Inner
        };
        lf = lf.join(
            side_frame(j, table, &key_types)?,
            left_on,
            right_on,
            JoinArgs::new(how),
        );
    }
    if let Some(f) = &q.filter {
        lf = lf.filter(tr.expr(f)?);
    }
    let mut keys = Vec::new();
    for (i, k) in q.keys.iter().enumerate() {
        let name = format!("__lk_k{i}");
        lf = lf.with_column(tr.expr(k)?.alias(name.as_str()));
        keys.push((name, kind(tr.ty(k)?)));
    }
    let mut aggs = Vec::new();
    let mut parts = Vec::new();
    for (i, a) in q.aggregates.iter().enumerate() {
        let mut args = Vec::new();
        for (j, e) in a.args.iter().enumerate() {
            let name = format!("__lk_a{i}_{j}");
            lf = lf.with_column(tr.expr(e)?.alias(name.as_str()));
            args.push((name, tr.ty(e)?));
        }
        let (exprs, part) = aggregate(i, &a.func, &args)?;
        aggs.extend(exprs);
        parts.push(part);
    }
    let key_names: Vec<&str> = keys.iter().map(|(k, _)| k.as_str()).collect();
    let lf = match q.window {
        workloads::WindowSpec::Session { gap_ms } => per_session(lf, gap_ms, &key_names, aggs)?,
        spec => per_window(lf, spec, &key_names, aggs)?,
    };
    Ok(Output {
        lf,
        keys,
        parts,
        sorted: false,
    })
}

/// The polars aggregations of aggregate `i` over its argument columns, and how its
/// partial is read back.
fn aggregate(
    i: usize,
    f: &AggFunc,
    args: &[(String, Option<SqlType>)],
) -> Result<(Vec<PExpr>, PartCol)> {
    let out = |suffix: &str| format!("__lk_p{i}{suffix}");
    let arg = || -> Result<(PExpr, Option<SqlType>)> {
        args.first()
            .map(|(n, t)| (col(n.as_str()), *t))
            .ok_or_else(|| BatchError::Type(format!("{f} needs an argument")))
    };
    Ok(match f {
        AggFunc::CountStar => (
            vec![len().cast(DataType::UInt64).alias(out(""))],
            PartCol::Count(out("")),
        ),
        AggFunc::Count => (
            vec![arg()?.0.count().cast(DataType::UInt64).alias(out(""))],
            PartCol::Count(out("")),
        ),
        AggFunc::CountDistinct => {
            let (x, t) = arg()?;
            (
                vec![x.drop_nulls().unique().alias(out(""))],
                PartCol::Distinct(out(""), kind(t)),
            )
        }
        AggFunc::Sum | AggFunc::Avg => match arg()? {
            (x, Some(SqlType::Double)) => (
                vec![x.clone().sum().alias(out("_f")), x.count().alias(out("_n"))],
                PartCol::SumFloat {
                    f: out("_f"),
                    n: out("_n"),
                },
            ),
            (x, _) => {
                let hi = x.clone().floor_div(lit(TWO_32));
                let lo = x.clone() - hi.clone() * lit(TWO_32);
                (
                    vec![
                        hi.sum().alias(out("_hi")),
                        lo.sum().alias(out("_lo")),
                        x.count().alias(out("_n")),
                    ],
                    PartCol::SumInt {
                        hi: out("_hi"),
                        lo: out("_lo"),
                        n: out("_n"),
                    },
                )
            }
        },
        AggFunc::Min => {
            let (x, t) = arg()?;
            (vec![x.min().alias(out(""))], PartCol::Min(out(""), kind(t)))
        }
        AggFunc::Max => {
            let (x, t) = arg()?;
            (vec![x.max().alias(out(""))], PartCol::Max(out(""), kind(t)))
        }
        AggFunc::Median | AggFunc::QuantileCont(_) | AggFunc::QuantileDisc(_) => {
            let (x, t) = arg()?;
            (
                vec![x.drop_nulls().alias(out(""))],
                PartCol::Values(out(""), kind(t)),
            )
        }
        AggFunc::Top { n, desc } => {
            let by: Vec<PExpr> = args.iter().map(|(c, _)| col(c.as_str())).collect();
            let mut descending = desc.clone();
            descending.resize(args.len(), false);
            let opts = SortMultipleOptions::default()
                .with_order_descending_multi(descending)
                .with_nulls_last(true);
            let exprs = args
                .iter()
                .enumerate()
                .map(|(j, (c, _))| {
                    col(c.as_str())
                        .sort_by(by.clone(), opts.clone())
                        .head(Some(usize::try_from(*n).unwrap_or(usize::MAX)))
                        .alias(out(&format!("_{j}")))
                })
                .collect();
            let cols = args
                .iter()
                .enumerate()
                .map(|(j, (_, t))| (out(&format!("_{j}")), kind(*t)))
                .collect();
            (
                exprs,
                PartCol::Top {
                    cols,
                    n: *n,
                    desc: desc.clone(),
                },
            )
        }
    })
}
