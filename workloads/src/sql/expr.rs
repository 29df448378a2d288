//! The expressions of a SQL workload: the model (column references by name, or bound to
//! slots of a row) and the pipelines' evaluator of it, with SQL null semantics and
//! DuckDB's rules for numbers (see the crate docs, "SQL workloads").

use std::cmp::Ordering;
use std::fmt;

use crate::error::{Result, WorkloadError};
use crate::scalar::Scalar;
pub use crate::scalar::cmp_f64;

/// A position in the SQL text: line and column, from 1 (0 when unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Pos {
    /// The line, from 1.
    pub line: u64,
    /// The column, from 1.
    pub column: u64,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// A column named in the query: `name` or `qualifier.name`. Two references are equal when
/// they name the same column the same way (the position is not compared).
#[derive(Debug, Clone)]
pub struct ColumnRef {
    /// The table or alias before the dot, if any.
    pub qualifier: Option<String>,
    /// The column's name.
    pub name: String,
    /// Where the reference is in the SQL text.
    pub pos: Pos,
}

impl PartialEq for ColumnRef {
    fn eq(&self, other: &Self) -> bool {
        self.qualifier == other.qualifier && self.name == other.name
    }
}

impl fmt::Display for ColumnRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.qualifier {
            Some(q) => write!(f, "{q}.{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// The SQL types of values (DuckDB's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SqlType {
    /// 64-bit integer ([`Scalar::Int`]).
    Bigint,
    /// 64-bit float ([`Scalar::Float`]).
    Double,
    /// Text ([`Scalar::Str`]).
    Varchar,
    /// `true`/`false` ([`Scalar::Bool`]).
    Boolean,
    /// µs since the epoch ([`Scalar::Timestamp`]).
    Timestamp,
}

impl SqlType {
    /// Whether values of the type are numbers.
    pub fn is_numeric(self) -> bool {
        matches!(self, SqlType::Bigint | SqlType::Double)
    }

    /// The type's SQL name.
    pub fn name(self) -> &'static str {
        match self {
            SqlType::Bigint => "BIGINT",
            SqlType::Double => "DOUBLE",
            SqlType::Varchar => "VARCHAR",
            SqlType::Boolean => "BOOLEAN",
            SqlType::Timestamp => "TIMESTAMP",
        }
    }

    /// The type of a (non-null) value.
    pub fn of(v: &Scalar) -> Option<SqlType> {
        Some(match v {
            Scalar::Null => return None,
            Scalar::Bool(_) => SqlType::Boolean,
            Scalar::Int(_) => SqlType::Bigint,
            Scalar::Float(_) => SqlType::Double,
            Scalar::Timestamp(_) => SqlType::Timestamp,
            Scalar::Str(_) => SqlType::Varchar,
        })
    }
}

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/` (always a DOUBLE division, as in DuckDB)
    Div,
    /// `%`
    Mod,
    /// `=`
    Eq,
    /// `<>` or `!=`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    LtEq,
    /// `>`
    Gt,
    /// `>=`
    GtEq,
    /// `AND`
    And,
    /// `OR`
    Or,
    /// `||` (text concatenation)
    Concat,
}

impl BinOp {
    /// Whether it compares its operands.
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Eq | BinOp::NotEq | BinOp::Lt | BinOp::LtEq | BinOp::Gt | BinOp::GtEq
        )
    }

    /// Whether it is arithmetic (`+ - * / %`).
    pub fn is_arithmetic(self) -> bool {
        matches!(
            self,
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod
        )
    }

    /// Whether an ordering satisfies this comparison.
    pub fn holds(self, o: Ordering) -> bool {
        match self {
            BinOp::Eq => o.is_eq(),
            BinOp::NotEq => o.is_ne(),
            BinOp::Lt => o.is_lt(),
            BinOp::LtEq => o.is_le(),
            BinOp::Gt => o.is_gt(),
            BinOp::GtEq => o.is_ge(),
            _ => false,
        }
    }
}

/// A unary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    /// `-x`
    Neg,
    /// `NOT x`
    Not,
}

/// An expression of a SQL workload.
///
/// *Row* expressions (WHERE, GROUP BY, the arguments of aggregates, join keys) name
/// columns of the topic and of the side tables ([`Expr::Column`]); *result* expressions
/// (SELECT, HAVING, the ORDER BY of a top-N) see a cell: its window, its group key, its
/// aggregates and its rank. A pipeline binds either to [`Expr::Slot`]s of a row of values
/// before evaluating it ([`Expr::eval`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A column of the topic or of a side table.
    Column(ColumnRef),
    /// Position `i` of the row being evaluated (a bound column or cell value).
    Slot(usize),
    /// A constant.
    Literal(Scalar),
    /// The start of the cell's window (a timestamp).
    WindowStart,
    /// The end of the cell's window (a timestamp).
    WindowEnd,
    /// Group key `i` of the cell.
    Key(usize),
    /// Aggregate `i` of the cell.
    Agg(usize),
    /// The row's rank of a top-N query.
    Rank,
    /// `-x`, `NOT x`.
    Unary(UnOp, Box<Expr>),
    /// `a op b`.
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `x IS [NOT] NULL`.
    IsNull {
        /// The operand.
        expr: Box<Expr>,
        /// `IS NOT NULL`.
        negated: bool,
    },
    /// `x [NOT] IN (a, b, …)`.
    InList {
        /// The operand.
        expr: Box<Expr>,
        /// The list.
        list: Vec<Expr>,
        /// `NOT IN`.
        negated: bool,
    },
    /// `x [NOT] LIKE pattern`, `ILIKE`.
    Like {
        /// The text matched.
        expr: Box<Expr>,
        /// The pattern (`%` any text, `_` one character).
        pattern: Box<Expr>,
        /// `NOT LIKE`.
        negated: bool,
        /// `ILIKE`.
        case_insensitive: bool,
    },
    /// `CASE [operand] WHEN … THEN … [ELSE …] END`.
    Case {
        /// The operand of a simple CASE.
        operand: Option<Box<Expr>>,
        /// The (condition or value, result) pairs.
        whens: Vec<(Expr, Expr)>,
        /// The ELSE result (null when absent).
        otherwise: Option<Box<Expr>>,
    },
    /// `CAST(x AS type)`.
    Cast {
        /// The operand.
        expr: Box<Expr>,
        /// The target type.
        to: SqlType,
    },
}

/// A sub-expression with its leaves replaced (see [`Expr::map_leaves`]).
fn sub(e: &Expr, f: &mut dyn FnMut(&Expr) -> Result<Option<Expr>>) -> Result<Box<Expr>> {
    e.map_leaves(f).map(Box::new)
}

fn type_error(msg: String) -> WorkloadError {
    WorkloadError::Type(msg)
}

impl Expr {
    /// A boxed binary expression.
    pub fn binary(op: BinOp, a: Expr, b: Expr) -> Expr {
        Expr::Binary(op, Box::new(a), Box::new(b))
    }

    /// Every sub-expression, this one first.
    pub fn walk<'e>(&'e self, f: &mut dyn FnMut(&'e Expr)) {
        f(self);
        match self {
            Expr::Unary(_, a) | Expr::IsNull { expr: a, .. } | Expr::Cast { expr: a, .. } => {
                a.walk(f)
            }
            Expr::Binary(_, a, b)
            | Expr::Like {
                expr: a,
                pattern: b,
                ..
            } => {
                a.walk(f);
                b.walk(f);
            }
            Expr::InList { expr, list, .. } => {
                expr.walk(f);
                list.iter().for_each(|e| e.walk(f));
            }
            Expr::Case {
                operand,
                whens,
                otherwise,
            } => {
                if let Some(o) = operand {
                    o.walk(f);
                }
                for (w, t) in whens {
                    w.walk(f);
                    t.walk(f);
                }
                if let Some(o) = otherwise {
                    o.walk(f);
                }
            }
            _ => {}
        }
    }

    /// The same expression with every leaf for which `f` gives a replacement replaced.
    pub fn map_leaves(&self, f: &mut dyn FnMut(&Expr) -> Result<Option<Expr>>) -> Result<Expr> {
        if let Some(e) = f(self)? {
            return Ok(e);
        }
        Ok(match self {
            Expr::Unary(op, a) => Expr::Unary(*op, sub(a, f)?),
            Expr::Binary(op, a, b) => Expr::Binary(*op, sub(a, f)?, sub(b, f)?),
            Expr::IsNull { expr, negated } => Expr::IsNull {
                expr: sub(expr, f)?,
                negated: *negated,
            },
            Expr::InList {
                expr,
                list,
                negated,
            } => Expr::InList {
                expr: sub(expr, f)?,
                list: list
                    .iter()
                    .map(|e| e.map_leaves(f))
                    .collect::<Result<_>>()?,
                negated: *negated,
            },
            Expr::Like {
                expr,
                pattern,
                negated,
                case_insensitive,
            } => Expr::Like {
                expr: sub(expr, f)?,
                pattern: sub(pattern, f)?,
                negated: *negated,
                case_insensitive: *case_insensitive,
            },
            Expr::Case {
                operand,
                whens,
                otherwise,
            } => Expr::Case {
                operand: operand.as_ref().map(|o| sub(o, f)).transpose()?,
                whens: whens
                    .iter()
                    .map(|(w, t)| Ok((w.map_leaves(f)?, t.map_leaves(f)?)))
                    .collect::<Result<_>>()?,
                otherwise: otherwise.as_ref().map(|o| sub(o, f)).transpose()?,
            },
            Expr::Cast { expr, to } => Expr::Cast {
                expr: sub(expr, f)?,
                to: *to,
            },
            leaf => leaf.clone(),
        })
    }

    /// Evaluate over `row` (the values of the slots). Only bound expressions evaluate: a
    /// column, key or aggregate that was not bound to a slot is an error.
    pub fn eval(&self, row: &[Scalar]) -> Result<Scalar> {
        Ok(match self {
            Expr::Slot(i) => row
                .get(*i)
                .cloned()
                .ok_or_else(|| type_error(format!("slot {i} is not in the row")))?,
            Expr::Literal(v) => v.clone(),
            Expr::Unary(UnOp::Not, a) => match a.eval(row)? {
                Scalar::Null => Scalar::Null,
                Scalar::Bool(b) => Scalar::Bool(!b),
                v => return Err(type_error(format!("NOT of {v:?}"))),
            },
            Expr::Unary(UnOp::Neg, a) => negate(&a.eval(row)?)?,
            Expr::Binary(BinOp::And, a, b) => {
                kleene(truth(&a.eval(row)?)?, || truth(&b.eval(row)?), false)?
            }
            Expr::Binary(BinOp::Or, a, b) => {
                kleene(truth(&a.eval(row)?)?, || truth(&b.eval(row)?), true)?
            }
            Expr::Binary(op, a, b) => binary(*op, &a.eval(row)?, &b.eval(row)?)?,
            Expr::IsNull { expr, negated } => Scalar::Bool(expr.eval(row)?.is_null() != *negated),
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                let v = expr.eval(row)?;
                let mut found = Some(false);
                if v.is_null() {
                    found = None;
                } else {
                    for e in list {
                        match compare(&v, &e.eval(row)?)? {
                            Some(Ordering::Equal) => {
                                found = Some(true);
                                break;
                            }
                            None => found = None,
                            Some(_) => {}
                        }
                    }
                }
                found.map_or(Scalar::Null, |f| Scalar::Bool(f != *negated))
            }
            Expr::Like {
                expr,
                pattern,
                negated,
                case_insensitive,
            } => match (expr.eval(row)?, pattern.eval(row)?) {
                (Scalar::Str(s), Scalar::Str(p)) => {
                    Scalar::Bool(like(&s, &p, *case_insensitive) != *negated)
                }
                (Scalar::Null, _) | (_, Scalar::Null) => Scalar::Null,
                (a, b) => return Err(type_error(format!("{a:?} LIKE {b:?}: LIKE needs text"))),
            },
            Expr::Case {
                operand,
                whens,
                otherwise,
            } => {
                let op = operand.as_ref().map(|o| o.eval(row)).transpose()?;
                for (w, then) in whens {
                    let hit = match &op {
                        Some(v) => compare(v, &w.eval(row)?)? == Some(Ordering::Equal),
                        None => truth(&w.eval(row)?)? == Some(true),
                    };
                    if hit {
                        return then.eval(row);
                    }
                }
                match otherwise {
                    Some(e) => e.eval(row)?,
                    None => Scalar::Null,
                }
            }
            Expr::Cast { expr, to } => cast(&expr.eval(row)?, *to)?,
            unbound => {
                return Err(type_error(format!(
                    "{unbound:?} must be bound to a slot before evaluation"
                )));
            }
        })
    }
}

/// A value as a truth value: `None` for null.
pub fn truth(v: &Scalar) -> Result<Option<bool>> {
    match v {
        Scalar::Null => Ok(None),
        Scalar::Bool(b) => Ok(Some(*b)),
        v => Err(type_error(format!("{v:?} is not a boolean"))),
    }
}

/// Kleene AND (`dominant` false) or OR (`dominant` true): the right side is evaluated only
/// when the left does not decide.
fn kleene(
    a: Option<bool>,
    b: impl FnOnce() -> Result<Option<bool>>,
    dominant: bool,
) -> Result<Scalar> {
    if a == Some(dominant) {
        return Ok(Scalar::Bool(dominant));
    }
    let b = b()?;
    Ok(match (a, b) {
        (_, Some(x)) if x == dominant => Scalar::Bool(dominant),
        (Some(_), Some(_)) => Scalar::Bool(!dominant),
        _ => Scalar::Null,
    })
}

/// SQL comparison: `None` when either side is null; a type error between values that do
/// not compare (text with a number, say).
pub fn compare(a: &Scalar, b: &Scalar) -> Result<Option<Ordering>> {
    use Scalar::*;
    Ok(Some(match (a, b) {
        (Null, _) | (_, Null) => return Ok(None),
        (Int(x), Int(y)) => x.cmp(y),
        (Float(x), Float(y)) => cmp_f64(*x, *y),
        (Int(x), Float(y)) => cmp_f64(*x as f64, *y),
        (Float(x), Int(y)) => cmp_f64(*x, *y as f64),
        (Str(x), Str(y)) => x.cmp(y),
        (Bool(x), Bool(y)) => x.cmp(y),
        (Timestamp(x), Timestamp(y)) => x.cmp(y),
        (x, y) => return Err(type_error(format!("{x:?} and {y:?} do not compare"))),
    }))
}

fn negate(v: &Scalar) -> Result<Scalar> {
    Ok(match v {
        Scalar::Null => Scalar::Null,
        Scalar::Int(i) => Scalar::Int(
            i.checked_neg()
                .ok_or_else(|| type_error(format!("overflow in -({i})")))?,
        ),
        Scalar::Float(f) => Scalar::Float(-f),
        v => return Err(type_error(format!("-{v:?}: not a number"))),
    })
}

/// A binary operator other than AND and OR on two values.
pub fn binary(op: BinOp, a: &Scalar, b: &Scalar) -> Result<Scalar> {
    use Scalar::*;
    if op.is_comparison() {
        return Ok(compare(a, b)?.map_or(Null, |o| Bool(op.holds(o))));
    }
    if a.is_null() || b.is_null() {
        return Ok(Null);
    }
    if op == BinOp::Concat {
        let (x, y) = (cast(a, SqlType::Varchar)?, cast(b, SqlType::Varchar)?);
        return Ok(match (x, y) {
            (Str(x), Str(y)) => Str(x + &y),
            _ => Null,
        });
    }
    let overflow = || type_error(format!("overflow in {a:?} {op:?} {b:?}"));
    Ok(match (op, a, b) {
        (BinOp::Add, Int(x), Int(y)) => Int(x.checked_add(*y).ok_or_else(overflow)?),
        (BinOp::Sub, Int(x), Int(y)) => Int(x.checked_sub(*y).ok_or_else(overflow)?),
        (BinOp::Mul, Int(x), Int(y)) => Int(x.checked_mul(*y).ok_or_else(overflow)?),
        (BinOp::Mod, Int(_), Int(0)) => Null,
        (BinOp::Mod, Int(x), Int(y)) => Int(x.checked_rem(*y).unwrap_or(0)),
        (op, x, y) => {
            let (Some(x), Some(y)) = (number(x), number(y)) else {
                return Err(type_error(format!("{a:?} {op:?} {b:?}: not numbers")));
            };
            match op {
                BinOp::Add => Float(x + y),
                BinOp::Sub => Float(x - y),
                BinOp::Mul => Float(x * y),
                BinOp::Div => Float(x / y),
                BinOp::Mod if y == 0.0 => Null,
                BinOp::Mod => Float(x % y),
                _ => return Err(type_error(format!("operator {op:?}"))),
            }
        }
    })
}

fn number(v: &Scalar) -> Option<f64> {
    match v {
        Scalar::Int(i) => Some(*i as f64),
        Scalar::Float(f) => Some(*f),
        _ => None,
    }
}

/// SQL LIKE: `%` matches any text, `_` one character; `case_insensitive` for ILIKE.
pub fn like(text: &str, pattern: &str, case_insensitive: bool) -> bool {
    if case_insensitive {
        return like(&text.to_lowercase(), &pattern.to_lowercase(), false);
    }
    let t: Vec<char> = text.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    // Greedy matching with backtracking to the last `%` (linear in practice).
    let (mut ti, mut pi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '_' || p[pi] == t[ti]) {
            ti += 1;
            pi += 1;
        } else if pi < p.len() && p[pi] == '%' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '%')
}

/// DuckDB's CAST of a value (null stays null); a value that does not convert is a type
/// error, as DuckDB's conversion errors are.
pub fn cast(v: &Scalar, to: SqlType) -> Result<Scalar> {
    use Scalar::*;
    let fail = || type_error(format!("cannot CAST {v:?} AS {}", to.name()));
    Ok(match (v, to) {
        (Null, _) => Null,
        (Int(_), SqlType::Bigint)
        | (Float(_), SqlType::Double)
        | (Str(_), SqlType::Varchar)
        | (Bool(_), SqlType::Boolean)
        | (Timestamp(_), SqlType::Timestamp) => v.clone(),
        (Float(f), SqlType::Bigint) => {
            let r = f.round_ties_even();
            if !r.is_finite() || r < i64::MIN as f64 || r >= i64::MAX as f64 {
                return Err(fail());
            }
            Int(r as i64)
        }
        (Bool(b), SqlType::Bigint) => Int(i64::from(*b)),
        (Str(s), SqlType::Bigint) => Int(s.trim().parse().map_err(|_| fail())?),
        (Int(i), SqlType::Double) => Float(*i as f64),
        (Bool(b), SqlType::Double) => Float(f64::from(u8::from(*b))),
        (Str(s), SqlType::Double) => Float(parse_double(s.trim()).ok_or_else(fail)?),
        (Int(i), SqlType::Varchar) => Str(i.to_string()),
        (Float(f), SqlType::Varchar) => Str(format_double(*f)),
        (Bool(b), SqlType::Varchar) => Str(b.to_string()),
        (Timestamp(us), SqlType::Varchar) => Str(timestamp_text(*us)),
        (Int(i), SqlType::Boolean) => Bool(*i != 0),
        (Float(f), SqlType::Boolean) => Bool(*f != 0.0),
        (Str(s), SqlType::Boolean) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "t" | "1" => Bool(true),
            "false" | "f" | "0" => Bool(false),
            _ => return Err(fail()),
        },
        (Str(s), SqlType::Timestamp) => Timestamp(parse_timestamp(s.trim()).ok_or_else(fail)?),
        _ => return Err(fail()),
    })
}

/// A double as text: `inf`, `-inf`, `nan`, or the shortest digits that read back.
fn parse_double(s: &str) -> Option<f64> {
    match s.to_ascii_lowercase().as_str() {
        "inf" | "infinity" | "+inf" | "+infinity" => Some(f64::INFINITY),
        "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
        "nan" => Some(f64::NAN),
        t => t.parse().ok().filter(|f: &f64| f.is_finite()),
    }
}

/// A double as text (Rust's shortest round-trip form; `inf`, `-inf`, `nan`).
fn format_double(f: f64) -> String {
    if f.is_nan() {
        "nan".into()
    } else if f.is_infinite() {
        if f > 0.0 { "inf".into() } else { "-inf".into() }
    } else {
        format!("{f:?}")
    }
}

/// A timestamp as DuckDB writes it: `YYYY-MM-DD HH:MM:SS[.ffffff]`.
fn timestamp_text(us: i64) -> String {
    let text = crate::scalar::rfc3339_millis(us.div_euclid(1000));
    let (date_time, _) = text.split_at(19);
    let sub = us.rem_euclid(1_000_000);
    let base = date_time.replace('T', " ");
    if sub == 0 {
        base
    } else {
        let frac = format!("{sub:06}");
        format!("{base}.{}", frac.trim_end_matches('0'))
    }
}

/// `YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS[.f]`, or with `T` and a trailing `Z`, as UTC µs.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let s = s.strip_suffix('Z').unwrap_or(s);
    let (date, time) = match s.find([' ', 'T']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mut d = date.splitn(3, '-');
    let y: i64 = d.next()?.parse().ok()?;
    let m: i64 = d.next()?.parse().ok()?;
    let day: i64 = d.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    let mut us = days_from_civil(y, m, day) * 86_400_000_000;
    if let Some(t) = time {
        let (hms, frac) = t.split_once('.').unwrap_or((t, ""));
        let mut p = hms.splitn(3, ':');
        let h: i64 = p.next()?.parse().ok()?;
        let mi: i64 = p.next()?.parse().ok()?;
        let sec: i64 = p.next().unwrap_or("0").parse().ok()?;
        if h > 23 || mi > 59 || sec > 60 || frac.len() > 9 {
            return None;
        }
        let mut micros = 0;
        if !frac.is_empty() {
            let digits: String = frac.chars().chain("000000".chars()).take(6).collect();
            micros = digits.parse::<i64>().ok()?;
        }
        us += ((h * 60 + mi) * 60 + sec) * 1_000_000 + micros;
    }
    Some(us)
}

/// Howard Hinnant's civil-to-days algorithm.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(v: impl Into<Scalar>) -> Expr {
        Expr::Literal(v.into())
    }

    #[test]
    fn arithmetic_follows_duckdb() {
        let ev = |op, a: Scalar, b: Scalar| binary(op, &a, &b).unwrap();
        assert_eq!(
            ev(BinOp::Add, Scalar::Int(2), Scalar::Int(3)),
            Scalar::Int(5)
        );
        assert_eq!(
            ev(BinOp::Div, Scalar::Int(1), Scalar::Int(2)),
            Scalar::Float(0.5)
        );
        assert_eq!(
            ev(BinOp::Div, Scalar::Int(1), Scalar::Int(0)),
            Scalar::Float(f64::INFINITY)
        );
        assert_eq!(ev(BinOp::Mod, Scalar::Int(5), Scalar::Int(0)), Scalar::Null);
        assert_eq!(
            ev(BinOp::Mod, Scalar::Int(-7), Scalar::Int(3)),
            Scalar::Int(-1)
        );
        assert!(binary(BinOp::Add, &Scalar::Int(i64::MAX), &Scalar::Int(1)).is_err());
        assert_eq!(ev(BinOp::Add, Scalar::Null, Scalar::Int(1)), Scalar::Null);
        let nan = Scalar::Float(f64::NAN);
        assert_eq!(ev(BinOp::Eq, nan.clone(), nan.clone()), Scalar::Bool(true));
        assert_eq!(
            ev(BinOp::Gt, nan, Scalar::Float(f64::INFINITY)),
            Scalar::Bool(true)
        );
        assert_eq!(
            ev(BinOp::Eq, Scalar::Float(-0.0), Scalar::Float(0.0)),
            Scalar::Bool(true)
        );
    }

    #[test]
    fn logic_in_and_case_have_sql_null_semantics() {
        let and = Expr::binary(BinOp::And, lit(Scalar::Null), lit(false));
        assert_eq!(and.eval(&[]).unwrap(), Scalar::Bool(false));
        let or = Expr::binary(BinOp::Or, lit(Scalar::Null), lit(false));
        assert_eq!(or.eval(&[]).unwrap(), Scalar::Null);
        let inl = |v: i64, negated| Expr::InList {
            expr: Box::new(lit(v)),
            list: vec![lit(1i64), lit(Scalar::Null)],
            negated,
        };
        assert_eq!(inl(1, false).eval(&[]).unwrap(), Scalar::Bool(true));
        assert_eq!(inl(2, false).eval(&[]).unwrap(), Scalar::Null);
        assert_eq!(inl(2, true).eval(&[]).unwrap(), Scalar::Null);
        let case = Expr::Case {
            operand: None,
            whens: vec![(
                Expr::binary(BinOp::Gt, Expr::Slot(0), lit(3i64)),
                lit("big"),
            )],
            otherwise: Some(Box::new(lit("small"))),
        };
        assert_eq!(case.eval(&[Scalar::Int(5)]).unwrap(), Scalar::from("big"));
        assert_eq!(case.eval(&[Scalar::Null]).unwrap(), Scalar::from("small"));
    }

    #[test]
    fn like_and_casts() {
        assert!(like("abc", "a%", false));
        assert!(like("abc", "%b%", false));
        assert!(like("abc", "a_c", false));
        assert!(!like("abc", "a_", false));
        assert!(like("ABC", "a%", true));
        assert!(like("", "%", false));
        assert!(like("aXbXc", "%X%c", false));
        assert_eq!(
            cast(&Scalar::Float(2.5), SqlType::Bigint).unwrap(),
            Scalar::Int(2)
        );
        assert_eq!(
            cast(&Scalar::Float(3.5), SqlType::Bigint).unwrap(),
            Scalar::Int(4)
        );
        assert!(cast(&Scalar::Float(f64::NAN), SqlType::Bigint).is_err());
        assert_eq!(
            cast(&Scalar::from(" 12 "), SqlType::Bigint).unwrap(),
            Scalar::Int(12)
        );
        assert_eq!(
            cast(&Scalar::from("2024-01-01 10:00:00"), SqlType::Timestamp).unwrap(),
            Scalar::Timestamp(1_704_103_200_000_000)
        );
        assert_eq!(
            cast(&Scalar::Timestamp(1_704_103_200_500_000), SqlType::Varchar).unwrap(),
            Scalar::from("2024-01-01 10:00:00.5")
        );
        assert_eq!(
            cast(&Scalar::from("t"), SqlType::Boolean).unwrap(),
            Scalar::Bool(true)
        );
    }
}
