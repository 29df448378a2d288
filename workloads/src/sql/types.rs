//! Names and types: resolving the query's columns in a topic's columns and its side
//! tables', checking the types of every expression and making implicit conversions
//! explicit (DuckDB's: a CASE mixing BIGINT and DOUBLE is DOUBLE; a text literal compared
//! with a timestamp is a timestamp).

use crate::error::{Result, WorkloadError};
use crate::scalar::Scalar;
use crate::sql::agg::AggFunc;
use crate::sql::expr::{BinOp, ColumnRef, Expr, Pos, SqlType, UnOp, parse_timestamp};
use crate::sql::model::SqlWorkload;

/// The columns a query can see: the topic's, and each side table's (in join order).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SqlSchema {
    /// The topic's columns (`event_time` among them).
    pub stream: Vec<(String, SqlType)>,
    /// The columns that hold the topic's event time (a window's time column must be one).
    pub time_columns: Vec<String>,
    /// Each side table's columns, in join order.
    pub sides: Vec<Vec<(String, SqlType)>>,
}

/// Where a column is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Column `i` of the topic.
    Stream(usize),
    /// Column `c` of side table `j`.
    Side(usize, usize),
}

fn at(pos: Pos, message: String) -> WorkloadError {
    WorkloadError::Sql {
        line: pos.line,
        column: pos.column,
        message,
    }
}

fn find(cols: &[(String, SqlType)], name: &str) -> Option<usize> {
    cols.iter().position(|(n, _)| n == name).or_else(|| {
        let mut hits = cols
            .iter()
            .enumerate()
            .filter(|(_, (n, _))| n.eq_ignore_ascii_case(name));
        match (hits.next(), hits.next()) {
            (Some((i, _)), None) => Some(i),
            _ => None,
        }
    })
}

fn names(cols: &[(String, SqlType)]) -> String {
    cols.iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl SqlSchema {
    /// The type of a column.
    pub fn type_of(&self, s: Source) -> SqlType {
        match s {
            Source::Stream(i) => self.stream[i].1,
            Source::Side(j, c) => self.sides[j][c].1,
        }
    }

    /// The position of a column in a row laid out as the topic's columns, then each side
    /// table's.
    pub fn slot(&self, s: Source) -> usize {
        match s {
            Source::Stream(i) => i,
            Source::Side(j, c) => {
                self.stream.len() + self.sides[..j].iter().map(Vec::len).sum::<usize>() + c
            }
        }
    }
}

impl SqlWorkload {
    /// Where column `c` is: qualified by the topic's name or alias, or a side table's; an
    /// unqualified name is the topic's column, else the one side table column of that
    /// name. Names match exactly, else ignoring ASCII case when that finds one column.
    pub fn resolve(&self, c: &ColumnRef, schema: &SqlSchema) -> Result<Source> {
        let unknown = |within: &str, cols: &[(String, SqlType)]| {
            at(
                c.pos,
                format!("column {c} is not in {within} (columns: {})", names(cols)),
            )
        };
        match &c.qualifier {
            Some(q) if self.topic_names.contains(q) => find(&schema.stream, &c.name)
                .map(Source::Stream)
                .ok_or_else(|| unknown(&format!("topic {}", self.topic), &schema.stream)),
            Some(q) => {
                let j = self
                    .joins
                    .iter()
                    .position(|j| j.names.contains(q))
                    .ok_or_else(|| {
                        at(c.pos, format!("{q} is neither the topic nor a side table"))
                    })?;
                let cols = schema.sides.get(j).map(Vec::as_slice).unwrap_or_default();
                find(cols, &c.name)
                    .map(|i| Source::Side(j, i))
                    .ok_or_else(|| unknown(&format!("side table {}", self.joins[j].table), cols))
            }
            None => {
                if let Some(i) = find(&schema.stream, &c.name) {
                    return Ok(Source::Stream(i));
                }
                let hits: Vec<Source> = schema
                    .sides
                    .iter()
                    .enumerate()
                    .filter_map(|(j, cols)| find(cols, &c.name).map(|i| Source::Side(j, i)))
                    .collect();
                match hits.as_slice() {
                    [one] => Ok(*one),
                    [] => Err(unknown(&format!("topic {}", self.topic), &schema.stream)),
                    _ => Err(at(c.pos, format!("column {c} is ambiguous: qualify it"))),
                }
            }
        }
    }

    /// A row expression with its columns bound to slots of a row laid out as
    /// [`SqlSchema::slot`] says.
    pub fn bind_row(&self, e: &Expr, schema: &SqlSchema) -> Result<Expr> {
        e.map_leaves(&mut |x| match x {
            Expr::Column(c) => Ok(Some(Expr::Slot(schema.slot(self.resolve(c, schema)?)))),
            _ => Ok(None),
        })
    }

    /// The topic's columns the query reads (indexes into `schema.stream`), in order.
    pub fn stream_columns(&self, schema: &SqlSchema) -> Result<Vec<usize>> {
        let mut out = std::collections::BTreeSet::new();
        for e in self.row_exprs() {
            let mut cols = Vec::new();
            e.walk(&mut |x| {
                if let Expr::Column(c) = x {
                    cols.push(c.clone());
                }
            });
            for c in cols {
                if let Source::Stream(i) = self.resolve(&c, schema)? {
                    out.insert(i);
                }
            }
        }
        Ok(out.into_iter().collect())
    }

    /// The SQL type of a row expression of the query (`None`: always null).
    pub fn row_type(&self, e: &Expr, schema: &SqlSchema) -> Result<Option<SqlType>> {
        Typer {
            w: self,
            schema,
            result: None,
        }
        .ty(e)
        .map(|x| x.1)
    }

    /// The query checked against `schema`, with implicit conversions made explicit: the
    /// form every pipeline (and the oracle) evaluates.
    pub fn typed(&self, schema: &SqlSchema) -> Result<SqlWorkload> {
        let mut w = self.clone();
        let tc = &self.time_column;
        let Source::Stream(t) = self.resolve(tc, schema)? else {
            return Err(at(
                tc.pos,
                format!("the time column {tc} is not the topic's"),
            ));
        };
        let name = &schema.stream[t].0;
        if !schema.time_columns.contains(name) {
            return Err(at(
                tc.pos,
                format!(
                    "windows are over the topic's event time: the time column is one of {} (not {name})",
                    schema.time_columns.join(", ")
                ),
            ));
        }
        let row = |e: &Expr| {
            Typer {
                w: self,
                schema,
                result: None,
            }
            .ty(e)
        };
        for j in &mut w.joins {
            let ji = self
                .joins
                .iter()
                .position(|x| x.table == j.table)
                .unwrap_or(0);
            for (e, col) in &mut j.on {
                let (x, t) = row(e)?;
                let cols = schema.sides.get(ji).map(Vec::as_slice).unwrap_or_default();
                let side = find(cols, col).ok_or_else(|| {
                    at(
                        Pos::default(),
                        format!(
                            "column {col} is not in side table {} (columns: {})",
                            j.table,
                            names(cols)
                        ),
                    )
                })?;
                comparable(t, Some(cols[side].1), Pos::default())?;
                *e = x;
            }
        }
        if let Some(f) = &self.filter {
            let (x, t) = row(f)?;
            boolean(t, first_pos(f), "WHERE")?;
            w.filter = Some(x);
        }
        let mut key_types = Vec::new();
        for (i, k) in self.keys.iter().enumerate() {
            let (x, t) = row(k)?;
            w.keys[i] = x;
            key_types.push(t);
        }
        let mut agg_types = Vec::new();
        for (i, a) in self.aggregates.iter().enumerate() {
            let mut types = Vec::new();
            for (j, arg) in a.args.iter().enumerate() {
                let (x, t) = row(arg)?;
                if a.needs_numbers() && t.is_some_and(|t| !t.is_numeric()) {
                    return Err(at(
                        first_pos(arg),
                        format!(
                            "{}({}) needs numbers, not {}",
                            a.func,
                            describe(arg),
                            t.map_or("NULL", SqlType::name)
                        ),
                    ));
                }
                w.aggregates[i].args[j] = x;
                types.push(t);
            }
            match a.func {
                AggFunc::Top { ref desc, .. } => {
                    agg_types.extend(types[desc.len()..].iter().copied())
                }
                _ => agg_types.push(a.result_type(types.first().copied().flatten())),
            }
        }
        let result = ResultTypes {
            keys: key_types,
            aggs: agg_types,
        };
        let res = |e: &Expr| {
            Typer {
                w: self,
                schema,
                result: Some(&result),
            }
            .ty(e)
        };
        for (i, o) in self.outputs.iter().enumerate() {
            w.outputs[i] = res(o)?.0;
        }
        if let Some(h) = &self.having {
            let (x, t) = res(h)?;
            boolean(t, first_pos(h), "HAVING")?;
            w.having = Some(x);
        }
        if let Some(top) = &mut w.top {
            let typer = |e: &Expr| if top.over_rows { row(e) } else { res(e) };
            let typed: Vec<Expr> = top
                .order
                .iter()
                .map(|(e, _)| typer(e).map(|x| x.0))
                .collect::<Result<_>>()?;
            for ((e, _), x) in top.order.iter_mut().zip(typed) {
                *e = x;
            }
        }
        Ok(w)
    }
}

/// The types of a cell's values: keys and aggregates (a top-N over rows: the selected
/// values).
struct ResultTypes {
    keys: Vec<Option<SqlType>>,
    aggs: Vec<Option<SqlType>>,
}

/// Types expressions of one query against a schema; `result`: a result expression.
struct Typer<'a> {
    w: &'a SqlWorkload,
    schema: &'a SqlSchema,
    result: Option<&'a ResultTypes>,
}

/// The position of an expression's first column, for messages.
fn first_pos(e: &Expr) -> Pos {
    let mut pos = Pos::default();
    e.walk(&mut |x| {
        if let Expr::Column(c) = x
            && pos == Pos::default()
        {
            pos = c.pos;
        }
    });
    pos
}

fn describe(e: &Expr) -> String {
    match e {
        Expr::Column(c) => c.to_string(),
        Expr::Literal(v) => format!("{v:?}"),
        _ => "an expression".into(),
    }
}

fn boolean(t: Option<SqlType>, pos: Pos, what: &str) -> Result<()> {
    match t {
        None | Some(SqlType::Boolean) => Ok(()),
        Some(t) => Err(at(
            pos,
            format!("{what} needs a condition, not a {}", t.name()),
        )),
    }
}

fn comparable(a: Option<SqlType>, b: Option<SqlType>, pos: Pos) -> Result<()> {
    match (a, b) {
        (None, _) | (_, None) => Ok(()),
        (Some(x), Some(y)) if x == y || (x.is_numeric() && y.is_numeric()) => Ok(()),
        (Some(x), Some(y)) => Err(at(
            pos,
            format!("a {} does not compare with a {}", x.name(), y.name()),
        )),
    }
}

/// A text literal compared with a timestamp, as a timestamp literal.
fn timestamp_literal(e: &Expr, other: Option<SqlType>) -> Option<Expr> {
    match (e, other) {
        (Expr::Literal(Scalar::Str(s)), Some(SqlType::Timestamp)) => {
            parse_timestamp(s).map(|us| Expr::Literal(Scalar::Timestamp(us)))
        }
        _ => None,
    }
}

fn to_double(e: Expr, t: Option<SqlType>) -> Expr {
    if t == Some(SqlType::Bigint) {
        Expr::Cast {
            expr: Box::new(e),
            to: SqlType::Double,
        }
    } else {
        e
    }
}

impl Typer<'_> {
    fn ty(&self, e: &Expr) -> Result<(Expr, Option<SqlType>)> {
        let pos = first_pos(e);
        Ok(match e {
            Expr::Column(c) => {
                if self.result.is_some() {
                    return Err(at(
                        c.pos,
                        format!("column {c} is not a column of the result"),
                    ));
                }
                let s = self.w.resolve(c, self.schema)?;
                (e.clone(), Some(self.schema.type_of(s)))
            }
            Expr::Literal(v) => (e.clone(), SqlType::of(v)),
            Expr::WindowStart | Expr::WindowEnd => (e.clone(), Some(SqlType::Timestamp)),
            Expr::Key(i) => (
                e.clone(),
                self.result.and_then(|r| r.keys.get(*i).copied().flatten()),
            ),
            Expr::Agg(i) => (
                e.clone(),
                self.result.and_then(|r| r.aggs.get(*i).copied().flatten()),
            ),
            Expr::Rank => (e.clone(), Some(SqlType::Bigint)),
            Expr::Slot(_) => (e.clone(), None),
            Expr::Unary(UnOp::Neg, a) => {
                let (x, t) = self.ty(a)?;
                if t.is_some_and(|t| !t.is_numeric()) {
                    return Err(at(pos, format!("-{}: not a number", describe(a))));
                }
                (Expr::Unary(UnOp::Neg, Box::new(x)), t)
            }
            Expr::Unary(UnOp::Not, a) => {
                let (x, t) = self.ty(a)?;
                boolean(t, pos, "NOT")?;
                (Expr::Unary(UnOp::Not, Box::new(x)), Some(SqlType::Boolean))
            }
            Expr::Binary(op, a, b) => self.binary(*op, a, b, pos)?,
            Expr::IsNull { expr, negated } => (
                Expr::IsNull {
                    expr: Box::new(self.ty(expr)?.0),
                    negated: *negated,
                },
                Some(SqlType::Boolean),
            ),
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                let (x, t) = self.ty(expr)?;
                let mut items = Vec::new();
                for i in list {
                    let (y, u) = self.ty(i)?;
                    let y = timestamp_literal(&y, t).unwrap_or(y);
                    let u = if matches!(y, Expr::Literal(Scalar::Timestamp(_))) {
                        Some(SqlType::Timestamp)
                    } else {
                        u
                    };
                    comparable(t, u, pos)?;
                    items.push(y);
                }
                (
                    Expr::InList {
                        expr: Box::new(x),
                        list: items,
                        negated: *negated,
                    },
                    Some(SqlType::Boolean),
                )
            }
            Expr::Like {
                expr,
                pattern,
                negated,
                case_insensitive,
            } => {
                let (x, t) = self.ty(expr)?;
                let (p, u) = self.ty(pattern)?;
                for t in [t, u].into_iter().flatten() {
                    if t != SqlType::Varchar {
                        return Err(at(pos, format!("LIKE needs text, not a {}", t.name())));
                    }
                }
                (
                    Expr::Like {
                        expr: Box::new(x),
                        pattern: Box::new(p),
                        negated: *negated,
                        case_insensitive: *case_insensitive,
                    },
                    Some(SqlType::Boolean),
                )
            }
            Expr::Case {
                operand,
                whens,
                otherwise,
            } => self.case(operand, whens, otherwise, pos)?,
            Expr::Cast { expr, to } => (
                Expr::Cast {
                    expr: Box::new(self.ty(expr)?.0),
                    to: *to,
                },
                Some(*to),
            ),
        })
    }

    fn binary(&self, op: BinOp, a: &Expr, b: &Expr, pos: Pos) -> Result<(Expr, Option<SqlType>)> {
        let (mut x, mut t) = self.ty(a)?;
        let (mut y, mut u) = self.ty(b)?;
        if let Some(l) = timestamp_literal(&x, u) {
            (x, t) = (l, Some(SqlType::Timestamp));
        }
        if let Some(l) = timestamp_literal(&y, t) {
            (y, u) = (l, Some(SqlType::Timestamp));
        }
        let out = if op.is_comparison() {
            comparable(t, u, pos)?;
            Some(SqlType::Boolean)
        } else if matches!(op, BinOp::And | BinOp::Or) {
            boolean(t, pos, "AND/OR")?;
            boolean(u, pos, "AND/OR")?;
            Some(SqlType::Boolean)
        } else if op == BinOp::Concat {
            Some(SqlType::Varchar)
        } else {
            for v in [t, u].into_iter().flatten() {
                if !v.is_numeric() {
                    return Err(at(
                        pos,
                        format!("arithmetic needs numbers, not a {}", v.name()),
                    ));
                }
            }
            match (op, t, u) {
                (BinOp::Div, ..) => Some(SqlType::Double),
                (_, Some(SqlType::Bigint), Some(SqlType::Bigint)) => Some(SqlType::Bigint),
                (_, None, _) | (_, _, None) => t.or(u),
                _ => Some(SqlType::Double),
            }
        };
        Ok((Expr::binary(op, x, y), out))
    }

    fn case(
        &self,
        operand: &Option<Box<Expr>>,
        whens: &[(Expr, Expr)],
        otherwise: &Option<Box<Expr>>,
        pos: Pos,
    ) -> Result<(Expr, Option<SqlType>)> {
        let op = operand.as_ref().map(|o| self.ty(o)).transpose()?;
        let mut conds = Vec::new();
        let mut results = Vec::new();
        for (w, r) in whens {
            let (c, ct) = self.ty(w)?;
            match &op {
                Some((_, ot)) => comparable(*ot, ct, pos)?,
                None => boolean(ct, pos, "WHEN")?,
            }
            conds.push(c);
            results.push(self.ty(r)?);
        }
        if let Some(o) = otherwise {
            results.push(self.ty(o)?);
        }
        let types: Vec<SqlType> = results.iter().filter_map(|(_, t)| *t).collect();
        let out = if types.iter().all(|t| t.is_numeric()) && types.contains(&SqlType::Double) {
            Some(SqlType::Double)
        } else {
            match types.first() {
                Some(&first) if types.iter().all(|&t| t == first) => Some(first),
                None => None,
                Some(_) => {
                    return Err(at(pos, "the results of a CASE have different types".into()));
                }
            }
        };
        let results: Vec<Expr> = results
            .into_iter()
            .map(|(e, t)| {
                if out == Some(SqlType::Double) {
                    to_double(e, t)
                } else {
                    e
                }
            })
            .collect();
        let mut results = results.into_iter();
        let whens = conds.into_iter().zip(results.by_ref()).collect();
        let otherwise = otherwise.as_ref().and(results.next()).map(Box::new);
        Ok((
            Expr::Case {
                operand: op.map(|(e, _)| Box::new(e)),
                whens,
                otherwise,
            },
            out,
        ))
    }
}
