//! SQL workloads, by the plainest evaluation: the query's model (from `workloads`, typed
//! against the columns the oracle read) evaluated by the oracle's own code, name by name:
//! each event joined with its side-table rows, filtered, put in every cell of its windows
//! and key; each aggregate computed from a cell's full list of rows; HAVING, the top-N
//! ranking and the SELECT list evaluated per cell.
//!
//! Values follow SQL and DuckDB as the crate docs of `workloads` state them: nulls
//! propagate, AND/OR are three-valued, integers overflow into an error, `/` divides as
//! doubles, `%` by zero is null, NaN equals NaN and sorts above every number.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use workloads::sql::{AggFunc, BinOp, Expr, RankKind, Source, SqlSchema, SqlType, UnOp};
use workloads::{Row, Scalar, SqlWorkload, Window, WindowSpec};

use crate::read::{Event, Events};
use crate::window::{grid_windows, sessions};
use crate::{OracleError, Result, side};

fn err(m: impl Into<String>) -> OracleError {
    OracleError::Type(m.into())
}

/// One event with its side-table rows: the values a row expression sees.
struct Joined<'e> {
    event: &'e Event,
    sides: Vec<Option<&'e Vec<Scalar>>>,
}

/// What an expression is evaluated over: a joined event, or a cell.
enum Env<'a> {
    Row(&'a Joined<'a>),
    Cell {
        window: Window,
        key: &'a [Scalar],
        aggs: &'a [Scalar],
        rank: Option<i64>,
    },
}

/// The rows of SQL workload `w` over `ev`; side tables and the schema from `dir`.
pub(crate) fn rows(w: &SqlWorkload, ev: &Events, topic: &str, dir: &Path) -> Result<Vec<Row>> {
    let tables: Vec<side::Table> = w
        .joins
        .iter()
        .map(|j| side::table(dir, topic, &j.table))
        .collect::<Result<_>>()?;
    let schema = schema(ev, topic, dir, &tables)?;
    let q = w.typed(&schema).map_err(|e| err(e.to_string()))?;
    let ctx = Ctx {
        q: &q,
        schema: &schema,
        ev,
    };
    // Join, filter.
    let mut kept: Vec<Joined<'_>> = Vec::new();
    'events: for e in &ev.events {
        let mut joined = Joined {
            event: e,
            sides: Vec::new(),
        };
        for (j, t) in q.joins.iter().zip(&tables) {
            let want: Vec<Scalar> =
                j.on.iter()
                    .map(|(x, _)| ctx.eval(x, &Env::Row(&joined)))
                    .collect::<Result<_>>()?;
            let cols: Vec<usize> =
                j.on.iter()
                    .map(|(_, c)| t.column(c))
                    .collect::<Result<_>>()?;
            let hit = if want.iter().any(Scalar::is_null) {
                None
            } else {
                t.rows
                    .iter()
                    .find(|r| cols.iter().zip(&want).all(|(&c, v)| equal(&r[c], v)))
            };
            if hit.is_none() && !j.left {
                continue 'events;
            }
            joined.sides.push(hit);
        }
        if let Some(f) = &q.filter
            && ctx.eval(f, &Env::Row(&joined))? != Scalar::Bool(true)
        {
            continue;
        }
        kept.push(joined);
    }
    // Cells.
    let mut cells: BTreeMap<(Window, Vec<Scalar>), Vec<&Joined<'_>>> = BTreeMap::new();
    let key_of = |j: &Joined<'_>| -> Result<Vec<Scalar>> {
        q.keys.iter().map(|k| ctx.eval(k, &Env::Row(j))).collect()
    };
    match q.window {
        WindowSpec::Session { gap_ms } => {
            let mut by_key: BTreeMap<Vec<Scalar>, Vec<&Joined<'_>>> = BTreeMap::new();
            for j in &kept {
                by_key.entry(key_of(j)?).or_default().push(j);
            }
            for (key, js) in by_key {
                let times: Vec<i64> = js.iter().map(|j| j.event.time).collect();
                for (win, members) in sessions(&times, gap_ms) {
                    cells.insert((win, key.clone()), members.iter().map(|&i| js[i]).collect());
                }
            }
        }
        spec => {
            let (size, slide) = match spec {
                WindowSpec::Tumbling { size_ms } => (size_ms, size_ms),
                WindowSpec::Hopping { size_ms, slide_ms } => (size_ms, slide_ms),
                WindowSpec::Session { .. } => unreachable!("sessions handled above"),
            };
            for j in &kept {
                let key = key_of(j)?;
                for win in grid_windows(size, slide, j.event.time) {
                    cells.entry((win, key.clone())).or_default().push(j);
                }
            }
        }
    }
    ctx.finish(cells)
}

/// The columns the query sees: the oracle's columns of the topic (types from the CSV
/// schema, else from the values), `event_time`, and the side tables'.
fn schema(ev: &Events, topic: &str, dir: &Path, tables: &[side::Table]) -> Result<SqlSchema> {
    let csv = side::schema(dir, topic)?;
    let mut stream: Vec<(String, SqlType)> = Vec::new();
    for (i, name) in ev.columns.iter().enumerate() {
        let from_csv = csv
            .as_ref()
            .and_then(|s| s.iter().find(|(n, _)| n == name))
            .map(|(_, t)| side::sql_type(*t));
        let from_values = ev.events.iter().find_map(|e| type_of(&e.values[i]));
        stream.push((
            name.clone(),
            from_csv.or(from_values).unwrap_or(SqlType::Varchar),
        ));
    }
    let mut time_columns = match side::time_column(dir, topic)? {
        Some(t) => vec![t],
        None => ["date_time"]
            .iter()
            .filter(|c| ev.columns.iter().any(|n| n == *c))
            .map(|c| c.to_string())
            .collect(),
    };
    if !ev.columns.iter().any(|c| c == "event_time") {
        stream.push(("event_time".into(), SqlType::Timestamp));
        time_columns.push("event_time".into());
    }
    Ok(SqlSchema {
        stream,
        time_columns,
        sides: tables.iter().map(|t| t.columns.clone()).collect(),
    })
}

fn type_of(v: &Scalar) -> Option<SqlType> {
    Some(match v {
        Scalar::Null => return None,
        Scalar::Bool(_) => SqlType::Boolean,
        Scalar::Int(_) => SqlType::Bigint,
        Scalar::Float(_) => SqlType::Double,
        Scalar::Timestamp(_) => SqlType::Timestamp,
        Scalar::Str(_) => SqlType::Varchar,
    })
}

struct Ctx<'a> {
    q: &'a SqlWorkload,
    schema: &'a SqlSchema,
    ev: &'a Events,
}

/// SQL equality of two non-null values (NaN equals NaN, -0 equals 0).
fn equal(a: &Scalar, b: &Scalar) -> bool {
    order(a, b) == Some(Ordering::Equal)
}

/// How two values compare; `None` when either is null or they do not compare.
fn order(a: &Scalar, b: &Scalar) -> Option<Ordering> {
    let num = |v: &Scalar| match v {
        Scalar::Int(i) => Some(*i as f64),
        Scalar::Float(f) => Some(*f),
        _ => None,
    };
    match (a, b) {
        (Scalar::Int(x), Scalar::Int(y)) => Some(x.cmp(y)),
        (Scalar::Str(x), Scalar::Str(y)) => Some(x.cmp(y)),
        (Scalar::Bool(x), Scalar::Bool(y)) => Some(x.cmp(y)),
        (Scalar::Timestamp(x), Scalar::Timestamp(y)) => Some(x.cmp(y)),
        _ => {
            let (x, y) = (num(a)?, num(b)?);
            Some(match (x.is_nan(), y.is_nan()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                _ => x.partial_cmp(&y)?,
            })
        }
    }
}

impl Ctx<'_> {
    fn eval(&self, e: &Expr, env: &Env<'_>) -> Result<Scalar> {
        use Scalar::*;
        Ok(match e {
            Expr::Literal(v) => v.clone(),
            Expr::Column(c) => {
                let Env::Row(j) = env else {
                    return Err(err(format!("column {c} outside a row")));
                };
                match self
                    .q
                    .resolve(c, self.schema)
                    .map_err(|e| err(e.to_string()))?
                {
                    Source::Stream(i) if i < self.ev.columns.len() => j.event.values[i].clone(),
                    Source::Stream(_) => Timestamp(j.event.time * 1000),
                    Source::Side(s, k) => j.sides[s].map_or(Null, |r| r[k].clone()),
                }
            }
            Expr::WindowStart | Expr::WindowEnd | Expr::Key(_) | Expr::Agg(_) | Expr::Rank => {
                let Env::Cell {
                    window,
                    key,
                    aggs,
                    rank,
                } = env
                else {
                    return Err(err("a result expression outside a cell"));
                };
                match e {
                    Expr::WindowStart => Timestamp(window.start * 1000),
                    Expr::WindowEnd => Timestamp(window.end * 1000),
                    Expr::Key(i) => key[*i].clone(),
                    Expr::Agg(i) => aggs[*i].clone(),
                    _ => rank.map_or(Null, Int),
                }
            }
            Expr::Slot(_) => return Err(err("a bound expression")),
            Expr::Unary(UnOp::Not, a) => match self.eval(a, env)? {
                Bool(b) => Bool(!b),
                _ => Null,
            },
            Expr::Unary(UnOp::Neg, a) => match self.eval(a, env)? {
                Int(i) => Int(i.checked_neg().ok_or_else(|| err("integer overflow"))?),
                Float(f) => Float(-f),
                _ => Null,
            },
            Expr::Binary(BinOp::And, a, b) => {
                let (x, y) = (self.eval(a, env)?, self.eval(b, env)?);
                if x == Bool(false) || y == Bool(false) {
                    Bool(false)
                } else if x == Bool(true) && y == Bool(true) {
                    Bool(true)
                } else {
                    Null
                }
            }
            Expr::Binary(BinOp::Or, a, b) => {
                let (x, y) = (self.eval(a, env)?, self.eval(b, env)?);
                if x == Bool(true) || y == Bool(true) {
                    Bool(true)
                } else if x == Bool(false) && y == Bool(false) {
                    Bool(false)
                } else {
                    Null
                }
            }
            Expr::Binary(op, a, b) => arith(*op, self.eval(a, env)?, self.eval(b, env)?)?,
            Expr::IsNull { expr, negated } => Bool(self.eval(expr, env)?.is_null() != *negated),
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                let v = self.eval(expr, env)?;
                let items: Vec<Scalar> = list
                    .iter()
                    .map(|x| self.eval(x, env))
                    .collect::<Result<_>>()?;
                if v.is_null() {
                    Null
                } else if items.iter().any(|i| !i.is_null() && equal(&v, i)) {
                    Bool(!negated)
                } else if items.iter().any(Scalar::is_null) {
                    Null
                } else {
                    Bool(*negated)
                }
            }
            Expr::Like {
                expr,
                pattern,
                negated,
                case_insensitive,
            } => match (self.eval(expr, env)?, self.eval(pattern, env)?) {
                (Str(s), Str(p)) => {
                    let (s, p) = if *case_insensitive {
                        (s.to_lowercase(), p.to_lowercase())
                    } else {
                        (s, p)
                    };
                    let s: Vec<char> = s.chars().collect();
                    let p: Vec<char> = p.chars().collect();
                    Bool(like(&s, &p) != *negated)
                }
                _ => Null,
            },
            Expr::Case {
                operand,
                whens,
                otherwise,
            } => {
                let op = operand.as_ref().map(|o| self.eval(o, env)).transpose()?;
                for (w, t) in whens {
                    let c = self.eval(w, env)?;
                    let hit = match &op {
                        Some(v) => !v.is_null() && !c.is_null() && equal(v, &c),
                        None => c == Bool(true),
                    };
                    if hit {
                        return self.eval(t, env);
                    }
                }
                match otherwise {
                    Some(o) => self.eval(o, env)?,
                    None => Null,
                }
            }
            Expr::Cast { expr, to } => cast(self.eval(expr, env)?, *to)?,
        })
    }

    /// Aggregates, HAVING, top-N and the SELECT list over the cells.
    fn finish(&self, cells: BTreeMap<(Window, Vec<Scalar>), Vec<&Joined<'_>>>) -> Result<Vec<Row>> {
        let q = self.q;
        let mut out = Vec::new();
        if let Some(t) = q.top.as_ref().filter(|t| t.over_rows) {
            let call = &q.aggregates[0];
            for ((window, _), js) in cells {
                let mut rows: Vec<Vec<Scalar>> = Vec::new();
                for j in js {
                    rows.push(
                        call.args
                            .iter()
                            .map(|a| self.eval(a, &Env::Row(j)))
                            .collect::<Result<_>>()?,
                    );
                }
                let k = t.order.len();
                let desc: Vec<bool> = t.order.iter().map(|(_, d)| *d).collect();
                rows.sort_by(|a, b| {
                    by_order(&a[..k], &b[..k], &desc).then_with(|| a[k..].cmp(&b[k..]))
                });
                for (i, r) in rows.into_iter().take(t.n as usize).enumerate() {
                    let rank = i as i64 + 1;
                    let env = Env::Cell {
                        window,
                        key: &[],
                        aggs: &r[k..],
                        rank: Some(rank),
                    };
                    let values = q
                        .outputs
                        .iter()
                        .map(|o| self.eval(o, &env))
                        .collect::<Result<_>>()?;
                    let key = if t.n > 1 {
                        vec![Scalar::Int(rank)]
                    } else {
                        vec![]
                    };
                    out.push(Row {
                        window,
                        key,
                        values,
                    });
                }
            }
            return Ok(out);
        }
        let mut kept: Vec<(Window, Vec<Scalar>, Vec<Scalar>)> = Vec::new();
        for ((window, key), js) in cells {
            let aggs: Vec<Scalar> = q
                .aggregates
                .iter()
                .map(|a| self.aggregate(&a.func, &a.args, &js))
                .collect::<Result<_>>()?;
            if let Some(h) = &q.having {
                let env = Env::Cell {
                    window,
                    key: &key,
                    aggs: &aggs,
                    rank: None,
                };
                if self.eval(h, &env)? != Scalar::Bool(true) {
                    continue;
                }
            }
            kept.push((window, key, aggs));
        }
        let mut ranks: Vec<Option<i64>> = vec![None; kept.len()];
        if let Some(t) = &q.top {
            let mut groups: BTreeMap<(Window, Vec<Scalar>), Vec<usize>> = BTreeMap::new();
            for (i, (w, k, _)) in kept.iter().enumerate() {
                let part = t.partition.iter().map(|&p| k[p].clone()).collect();
                groups.entry((*w, part)).or_default().push(i);
            }
            let desc: Vec<bool> = t.order.iter().map(|(_, d)| *d).collect();
            for (_, members) in groups {
                let mut scored: Vec<(Vec<Scalar>, usize)> = Vec::new();
                for i in members {
                    let (w, k, a) = &kept[i];
                    let env = Env::Cell {
                        window: *w,
                        key: k,
                        aggs: a,
                        rank: None,
                    };
                    scored.push((
                        t.order
                            .iter()
                            .map(|(e, _)| self.eval(e, &env))
                            .collect::<Result<_>>()?,
                        i,
                    ));
                }
                scored.sort_by(|a, b| {
                    by_order(&a.0, &b.0, &desc).then_with(|| kept[a.1].1.cmp(&kept[b.1].1))
                });
                for (pos, (vals, i)) in scored.iter().enumerate() {
                    let better = scored
                        .iter()
                        .filter(|(o, _)| by_order(o, vals, &desc) == Ordering::Less);
                    let rank = match t.kind {
                        RankKind::RowNumber => pos as i64 + 1,
                        RankKind::Rank => better.count() as i64 + 1,
                        RankKind::DenseRank => {
                            better
                                .map(|(o, _)| o.clone())
                                .collect::<BTreeSet<_>>()
                                .len() as i64
                                + 1
                        }
                    };
                    if rank <= t.n as i64 {
                        ranks[*i] = Some(rank);
                    }
                }
            }
        }
        for ((window, key, aggs), rank) in kept.into_iter().zip(ranks) {
            if q.top.is_some() && rank.is_none() {
                continue;
            }
            let env = Env::Cell {
                window,
                key: &key,
                aggs: &aggs,
                rank,
            };
            let values = q
                .outputs
                .iter()
                .map(|o| self.eval(o, &env))
                .collect::<Result<_>>()?;
            out.push(Row {
                window,
                key,
                values,
            });
        }
        Ok(out)
    }

    /// One aggregate over a cell's rows.
    fn aggregate(&self, f: &AggFunc, args: &[Expr], js: &[&Joined<'_>]) -> Result<Scalar> {
        let values: Vec<Scalar> = match args.first() {
            Some(a) => js
                .iter()
                .map(|j| self.eval(a, &Env::Row(j)))
                .collect::<Result<_>>()?,
            None => Vec::new(),
        };
        let present: Vec<&Scalar> = values.iter().filter(|v| !v.is_null()).collect();
        let numbers = || -> Result<Vec<f64>> {
            present
                .iter()
                .map(|v| {
                    v.as_f64()
                        .filter(|_| !matches!(v, Scalar::Timestamp(_)))
                        .ok_or_else(|| err(format!("{f}: {v:?} is not a number")))
                })
                .collect()
        };
        Ok(match f {
            AggFunc::CountStar => Scalar::Int(js.len() as i64),
            AggFunc::Count => Scalar::Int(present.len() as i64),
            AggFunc::CountDistinct => {
                Scalar::Int(present.iter().collect::<BTreeSet<_>>().len() as i64)
            }
            AggFunc::Min => present.iter().min().map_or(Scalar::Null, |v| (*v).clone()),
            AggFunc::Max => present.iter().max().map_or(Scalar::Null, |v| (*v).clone()),
            AggFunc::Sum | AggFunc::Avg => {
                if present.is_empty() {
                    return Ok(Scalar::Null);
                }
                let ints: i128 = present
                    .iter()
                    .filter_map(|v| {
                        if let Scalar::Int(i) = v {
                            Some(i128::from(*i))
                        } else {
                            None
                        }
                    })
                    .sum();
                let floats: Vec<f64> = present
                    .iter()
                    .filter_map(|v| {
                        if let Scalar::Float(x) = v {
                            Some(*x)
                        } else {
                            None
                        }
                    })
                    .collect();
                numbers()?;
                let total = ints as f64 + floats.iter().sum::<f64>();
                match f {
                    AggFunc::Avg => Scalar::Float(total / present.len() as f64),
                    _ if !floats.is_empty() => Scalar::Float(total),
                    _ => i64::try_from(ints).map_or(Scalar::Float(total), Scalar::Int),
                }
            }
            AggFunc::Median | AggFunc::QuantileCont(_) | AggFunc::QuantileDisc(_) => {
                numbers()?;
                let mut sorted: Vec<&Scalar> = present.clone();
                sorted.sort();
                let n = sorted.len();
                if n == 0 {
                    return Ok(Scalar::Null);
                }
                match f {
                    AggFunc::QuantileDisc(q) => {
                        let i = ((n as f64 * q).ceil() as usize).max(1) - 1;
                        sorted[i.min(n - 1)].clone()
                    }
                    _ => {
                        let q = if let AggFunc::QuantileCont(q) = f {
                            *q
                        } else {
                            0.5
                        };
                        let pos = (n - 1) as f64 * q;
                        let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
                        let (a, b) = (
                            sorted[lo].as_f64().unwrap_or(f64::NAN),
                            sorted[hi].as_f64().unwrap_or(f64::NAN),
                        );
                        Scalar::Float(if lo == hi {
                            a
                        } else {
                            a + (pos - lo as f64) * (b - a)
                        })
                    }
                }
            }
            AggFunc::Top { .. } => return Err(err("a top-N aggregate in a grouped query")),
        })
    }
}

/// ORDER BY: per value ascending or descending, nulls last.
fn by_order(a: &[Scalar], b: &[Scalar], desc: &[bool]) -> Ordering {
    for ((x, y), d) in a.iter().zip(b).zip(desc) {
        let o = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            _ => {
                let o = order(x, y).unwrap_or_else(|| x.cmp(y));
                if *d { o.reverse() } else { o }
            }
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// LIKE by recursion: `%` any run, `_` one character.
fn like(s: &[char], p: &[char]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some(('%', rest)) => (0..=s.len()).any(|i| like(&s[i..], rest)),
        Some((c, rest)) => s
            .split_first()
            .is_some_and(|(h, t)| (*c == '_' || c == h) && like(t, rest)),
    }
}

fn arith(op: BinOp, a: Scalar, b: Scalar) -> Result<Scalar> {
    use Scalar::*;
    if matches!(
        op,
        BinOp::Eq | BinOp::NotEq | BinOp::Lt | BinOp::LtEq | BinOp::Gt | BinOp::GtEq
    ) {
        if a.is_null() || b.is_null() {
            return Ok(Null);
        }
        let o = order(&a, &b).ok_or_else(|| err(format!("{a:?} and {b:?} do not compare")))?;
        return Ok(Bool(match op {
            BinOp::Eq => o == Ordering::Equal,
            BinOp::NotEq => o != Ordering::Equal,
            BinOp::Lt => o == Ordering::Less,
            BinOp::LtEq => o != Ordering::Greater,
            BinOp::Gt => o == Ordering::Greater,
            _ => o != Ordering::Less,
        }));
    }
    if a.is_null() || b.is_null() {
        return Ok(Null);
    }
    if op == BinOp::Concat {
        let text = |v: Scalar| -> Result<String> {
            match cast(v, SqlType::Varchar)? {
                Str(s) => Ok(s),
                _ => Ok(String::new()),
            }
        };
        return Ok(Str(text(a)? + &text(b)?));
    }
    let overflow = || err("integer overflow");
    Ok(match (op, &a, &b) {
        (BinOp::Add, Int(x), Int(y)) => Int(x.checked_add(*y).ok_or_else(overflow)?),
        (BinOp::Sub, Int(x), Int(y)) => Int(x.checked_sub(*y).ok_or_else(overflow)?),
        (BinOp::Mul, Int(x), Int(y)) => Int(x.checked_mul(*y).ok_or_else(overflow)?),
        (BinOp::Mod, Int(_), Int(0)) => Null,
        (BinOp::Mod, Int(x), Int(y)) => Int(x.checked_rem(*y).unwrap_or(0)),
        _ => {
            let (Some(x), Some(y)) = (a.as_f64(), b.as_f64()) else {
                return Err(err(format!("{a:?} {op:?} {b:?}")));
            };
            match op {
                BinOp::Add => Float(x + y),
                BinOp::Sub => Float(x - y),
                BinOp::Mul => Float(x * y),
                BinOp::Div => Float(x / y),
                BinOp::Mod if y == 0.0 => Null,
                _ => Float(x % y),
            }
        }
    })
}

fn cast(v: Scalar, to: SqlType) -> Result<Scalar> {
    use Scalar::*;
    let bad = |v: &Scalar| err(format!("cannot CAST {v:?} AS {}", to.name()));
    Ok(match (&v, to) {
        (Null, _) => Null,
        (Int(_), SqlType::Bigint)
        | (Float(_), SqlType::Double)
        | (Str(_), SqlType::Varchar)
        | (Bool(_), SqlType::Boolean)
        | (Timestamp(_), SqlType::Timestamp) => v,
        (Float(f), SqlType::Bigint) => {
            let r = f.round_ties_even();
            if r.is_finite() && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&r) {
                Int(r as i64)
            } else {
                return Err(bad(&v));
            }
        }
        (Bool(b), SqlType::Bigint) => Int(if *b { 1 } else { 0 }),
        (Str(s), SqlType::Bigint) => Int(s.trim().parse().map_err(|_| bad(&v))?),
        (Int(i), SqlType::Double) => Float(*i as f64),
        (Bool(b), SqlType::Double) => Float(if *b { 1.0 } else { 0.0 }),
        (Str(s), SqlType::Double) => Float(match s.trim().to_ascii_lowercase().as_str() {
            "inf" | "infinity" | "+inf" | "+infinity" => f64::INFINITY,
            "-inf" | "-infinity" => f64::NEG_INFINITY,
            "nan" => f64::NAN,
            t => t
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| bad(&v))?,
        }),
        (Int(i), SqlType::Varchar) => Str(i.to_string()),
        (Float(f), SqlType::Varchar) => Str(if f.is_nan() {
            "nan".into()
        } else if f.is_infinite() {
            if *f > 0.0 {
                "inf".into()
            } else {
                "-inf".into()
            }
        } else {
            format!("{f:?}")
        }),
        (Bool(b), SqlType::Varchar) => Str(b.to_string()),
        (Int(i), SqlType::Boolean) => Bool(*i != 0),
        (Float(f), SqlType::Boolean) => Bool(*f != 0.0),
        (Str(s), SqlType::Boolean) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "t" | "1" => Bool(true),
            "false" | "f" | "0" => Bool(false),
            _ => return Err(bad(&v)),
        },
        _ => return Err(bad(&v)),
    })
}
