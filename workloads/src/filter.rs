//! Filter expressions of spec files: `fare > 0`, `event_type = 'view' and price >= 10`,
//! `driver_id is not null or zone != 'JFK'`.
//!
//! Grammar (`and` binds tighter than `or`, parentheses group):
//! ```text
//! expr       := and_expr ("or" and_expr)*
//! and_expr   := unary ("and" unary)*
//! unary      := "not" unary | "(" expr ")" | comparison
//! comparison := column op literal | column "is" ["not"] "null"
//! op         := = | != | <> | < | <= | > | >=
//! literal    := number | 'string' | true | false
//! ```
//! SQL semantics: a comparison with a null column value is unknown, and a row passes the
//! filter only when the whole expression is true.

use serde::{Deserialize, Serialize};

use crate::error::{Result, WorkloadError};
use crate::scalar::Scalar;

/// A comparison operator of a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Filter {
    /// `column OP literal`.
    Cmp {
        /// The column compared.
        column: String,
        /// The operator.
        op: CmpOp,
        /// The value compared with.
        literal: Scalar,
    },
    /// `column IS NULL`, or `IS NOT NULL` when `negated`.
    IsNull {
        /// The column tested.
        column: String,
        /// Whether it is `IS NOT NULL`.
        negated: bool,
    },
    /// Both filters.
    And(Box<Filter>, Box<Filter>),
    /// Either filter.
    Or(Box<Filter>, Box<Filter>),
    /// The opposite of a filter.
    Not(Box<Filter>),
}

impl Filter {
    /// Parse a filter expression; an error names the character where it goes wrong.
    pub fn parse(expr: &str) -> Result<Filter> {
        let tokens = tokenize(expr)?;
        let mut p = Parser {
            expr,
            tokens,
            pos: 0,
        };
        let f = p.or_expr()?;
        if p.pos < p.tokens.len() {
            return Err(p.error("unexpected text after the end of the expression"));
        }
        Ok(f)
    }

    /// Every column the filter reads.
    pub fn columns(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Filter::Cmp { column, .. } | Filter::IsNull { column, .. } => out.push(column),
            Filter::And(a, b) | Filter::Or(a, b) => {
                a.collect(out);
                b.collect(out);
            }
            Filter::Not(a) => a.collect(out),
        }
    }

    /// Evaluate with three-valued logic; `lookup` gives a column's value in the row.
    /// `None` is SQL's unknown.
    pub fn eval<'r>(&self, lookup: &impl Fn(&str) -> &'r Scalar) -> Option<bool> {
        match self {
            Filter::Cmp {
                column,
                op,
                literal,
            } => {
                let v = lookup(column);
                if v.is_null() {
                    return None;
                }
                let ord = compare(v, literal)?;
                Some(match op {
                    CmpOp::Eq => ord.is_eq(),
                    CmpOp::Ne => ord.is_ne(),
                    CmpOp::Lt => ord.is_lt(),
                    CmpOp::Le => ord.is_le(),
                    CmpOp::Gt => ord.is_gt(),
                    CmpOp::Ge => ord.is_ge(),
                })
            }
            Filter::IsNull { column, negated } => Some(lookup(column).is_null() != *negated),
            Filter::And(a, b) => match (a.eval(lookup), b.eval(lookup)) {
                (Some(false), _) | (_, Some(false)) => Some(false),
                (Some(true), Some(true)) => Some(true),
                _ => None,
            },
            Filter::Or(a, b) => match (a.eval(lookup), b.eval(lookup)) {
                (Some(true), _) | (_, Some(true)) => Some(true),
                (Some(false), Some(false)) => Some(false),
                _ => None,
            },
            Filter::Not(a) => a.eval(lookup).map(|b| !b),
        }
    }

    /// Whether the row passes (the expression is true, not false or unknown).
    pub fn matches<'r>(&self, lookup: &impl Fn(&str) -> &'r Scalar) -> bool {
        self.eval(lookup) == Some(true)
    }
}

/// Compare a column value with a literal: numbers numerically, strings and booleans as
/// such, a timestamp with an integer as µs since the epoch; other pairs are unknown (None).
fn compare(v: &Scalar, lit: &Scalar) -> Option<std::cmp::Ordering> {
    match (v, lit) {
        (Scalar::Str(a), Scalar::Str(b)) => Some(a.cmp(b)),
        (Scalar::Bool(a), Scalar::Bool(b)) => Some(a.cmp(b)),
        (Scalar::Int(a), Scalar::Int(b)) => Some(a.cmp(b)),
        (Scalar::Timestamp(a), Scalar::Int(b)) => Some(a.cmp(b)),
        (a, b) => {
            let (x, y) = (a.as_f64()?, b.as_f64()?);
            x.partial_cmp(&y)
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(Scalar),
    Op(CmpOp),
    LParen,
    RParen,
}

fn tokenize(expr: &str) -> Result<Vec<(usize, Tok)>> {
    let err = |position: usize, reason: &str| WorkloadError::Filter {
        expr: expr.to_owned(),
        position,
        reason: reason.to_owned(),
    };
    let b = expr.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        let start = i;
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'(' => {
                out.push((start, Tok::LParen));
                i += 1;
            }
            b')' => {
                out.push((start, Tok::RParen));
                i += 1;
            }
            b'=' => {
                out.push((start, Tok::Op(CmpOp::Eq)));
                i += if b.get(i + 1) == Some(&b'=') { 2 } else { 1 };
            }
            b'!' if b.get(i + 1) == Some(&b'=') => {
                out.push((start, Tok::Op(CmpOp::Ne)));
                i += 2;
            }
            b'<' => {
                let (op, n) = match b.get(i + 1) {
                    Some(b'=') => (CmpOp::Le, 2),
                    Some(b'>') => (CmpOp::Ne, 2),
                    _ => (CmpOp::Lt, 1),
                };
                out.push((start, Tok::Op(op)));
                i += n;
            }
            b'>' => {
                let (op, n) = match b.get(i + 1) {
                    Some(b'=') => (CmpOp::Ge, 2),
                    _ => (CmpOp::Gt, 1),
                };
                out.push((start, Tok::Op(op)));
                i += n;
            }
            b'\'' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match expr[i..].chars().next() {
                        None => return Err(err(start, "unterminated string")),
                        Some('\'') if b.get(i + 1) == Some(&b'\'') => {
                            s.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(ch) => {
                            s.push(ch);
                            i += ch.len_utf8();
                        }
                    }
                }
                out.push((start, Tok::Str(s)));
            }
            b'0'..=b'9' | b'-' | b'.' => {
                i += 1;
                while i < b.len()
                    && (b[i].is_ascii_alphanumeric()
                        || b[i] == b'.'
                        || b[i] == b'+'
                        || (b[i] == b'-' && matches!(b[i - 1], b'e' | b'E')))
                {
                    i += 1;
                }
                let text = &expr[start..i];
                let num = text
                    .parse::<i64>()
                    .map(Scalar::Int)
                    .or_else(|_| text.parse::<f64>().map(Scalar::Float))
                    .map_err(|_| err(start, "not a number"))?;
                out.push((start, Tok::Num(num)));
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c == b'"' => {
                if c == b'"' {
                    let end = expr[i + 1..]
                        .find('"')
                        .ok_or_else(|| err(start, "unterminated quoted column name"))?;
                    out.push((start, Tok::Ident(expr[i + 1..i + 1 + end].to_owned())));
                    i += end + 2;
                } else {
                    while i < b.len()
                        && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'.')
                    {
                        i += 1;
                    }
                    out.push((start, Tok::Ident(expr[start..i].to_owned())));
                }
            }
            _ => return Err(err(start, "unexpected character")),
        }
    }
    Ok(out)
}

struct Parser<'e> {
    expr: &'e str,
    tokens: Vec<(usize, Tok)>,
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, reason: &str) -> WorkloadError {
        WorkloadError::Filter {
            expr: self.expr.to_owned(),
            position: self
                .tokens
                .get(self.pos)
                .map_or(self.expr.len(), |(p, _)| *p),
            reason: reason.to_owned(),
        }
    }

    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos).map(|(_, t)| t)
    }

    fn keyword(&mut self, word: &str) -> bool {
        if let Some(Tok::Ident(w)) = self.peek()
            && w.eq_ignore_ascii_case(word)
        {
            self.pos += 1;
            return true;
        }
        false
    }

    fn or_expr(&mut self) -> Result<Filter> {
        let mut f = self.and_expr()?;
        while self.keyword("or") {
            f = Filter::Or(Box::new(f), Box::new(self.and_expr()?));
        }
        Ok(f)
    }

    fn and_expr(&mut self) -> Result<Filter> {
        let mut f = self.unary()?;
        while self.keyword("and") {
            f = Filter::And(Box::new(f), Box::new(self.unary()?));
        }
        Ok(f)
    }

    fn unary(&mut self) -> Result<Filter> {
        if self.keyword("not") {
            return Ok(Filter::Not(Box::new(self.unary()?)));
        }
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            let f = self.or_expr()?;
            if self.peek() != Some(&Tok::RParen) {
                return Err(self.error("expected ')'"));
            }
            self.pos += 1;
            return Ok(f);
        }
        let column = match self.peek() {
            Some(Tok::Ident(c)) if !is_keyword(c) => c.clone(),
            _ => return Err(self.error("expected a column name")),
        };
        self.pos += 1;
        if self.keyword("is") {
            let negated = self.keyword("not");
            if !self.keyword("null") {
                return Err(self.error("expected 'null' after 'is'"));
            }
            return Ok(Filter::IsNull { column, negated });
        }
        let op = match self.peek() {
            Some(Tok::Op(op)) => *op,
            _ => return Err(self.error("expected a comparison (=, !=, <, <=, >, >=)")),
        };
        self.pos += 1;
        let literal = match self.peek() {
            Some(Tok::Num(n)) => n.clone(),
            Some(Tok::Str(s)) => Scalar::Str(s.clone()),
            Some(Tok::Ident(w)) if w.eq_ignore_ascii_case("true") => Scalar::Bool(true),
            Some(Tok::Ident(w)) if w.eq_ignore_ascii_case("false") => Scalar::Bool(false),
            Some(Tok::Ident(w)) if w.eq_ignore_ascii_case("null") => {
                return Err(self.error("compare with null using 'is null' or 'is not null'"));
            }
            _ => return Err(self.error("expected a number, a 'string', true or false")),
        };
        self.pos += 1;
        Ok(Filter::Cmp {
            column,
            op,
            literal,
        })
    }
}

fn is_keyword(w: &str) -> bool {
    ["and", "or", "not", "is", "null", "true", "false"]
        .iter()
        .any(|k| w.eq_ignore_ascii_case(k))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn eval(expr: &str, row: &[(&str, Scalar)]) -> Option<bool> {
        let map: HashMap<&str, Scalar> = row.iter().cloned().collect();
        static NULL: Scalar = Scalar::Null;
        let f = Filter::parse(expr).unwrap();
        f.eval(&|c: &str| map.get(c).unwrap_or(&NULL))
    }

    #[test]
    fn comparisons_and_logic() {
        let row = [
            ("fare", Scalar::Float(12.5)),
            ("zone", Scalar::Str("JFK".into())),
            ("n", Scalar::Int(3)),
        ];
        assert_eq!(eval("fare > 0", &row), Some(true));
        assert_eq!(eval("fare >= 12.5 and zone = 'JFK'", &row), Some(true));
        assert_eq!(eval("zone != 'JFK' or n < 2", &row), Some(false));
        assert_eq!(eval("not (n = 3)", &row), Some(false));
        assert_eq!(eval("n <> 4 AND fare < 1e3", &row), Some(true));
        assert_eq!(eval("zone = 'it''s'", &row), Some(false));
    }

    #[test]
    fn sql_null_semantics() {
        let row = [("a", Scalar::Null), ("b", Scalar::Int(1))];
        assert_eq!(eval("a > 0", &row), None);
        assert_eq!(eval("a > 0 or b = 1", &row), Some(true));
        assert_eq!(eval("a > 0 and b = 1", &row), None);
        assert_eq!(eval("a > 0 and b = 2", &row), Some(false));
        assert_eq!(eval("a is null", &row), Some(true));
        assert_eq!(eval("b is not null", &row), Some(true));
        assert_eq!(eval("not a > 0", &row), None);
    }

    #[test]
    fn errors_point_at_the_problem() {
        for (expr, pos) in [
            ("fare >", 6),
            ("> 3", 0),
            ("a = 'x", 4),
            ("a = 1 b", 6),
            ("(a = 1", 6),
            ("a = null", 4),
            ("a # 1", 2),
        ] {
            match Filter::parse(expr) {
                Err(WorkloadError::Filter { position, .. }) => {
                    assert_eq!(position, pos, "{expr}")
                }
                other => panic!("{expr}: {other:?}"),
            }
        }
    }

    #[test]
    fn columns_are_listed() {
        let f = Filter::parse("a > 1 and (b is null or not c = 'x')").unwrap();
        assert_eq!(f.columns(), vec!["a", "b", "c"]);
    }
}
