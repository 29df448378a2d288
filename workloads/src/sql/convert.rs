//! From sqlparser's expressions to the model's: row expressions (columns of the topic
//! and side tables) and result expressions (window, group key, aggregates); anything
//! else is refused with its position.

use sqlparser::ast::{self, Spanned};

use crate::error::{Result, WorkloadError};
use crate::scalar::Scalar;
use crate::sql::agg::{AggCall, AggFunc};
use crate::sql::expr::{BinOp, ColumnRef, Expr, Pos, SqlType, UnOp, parse_timestamp};

/// What the SQL surface supports, for error messages.
pub(crate) const SUPPORTED: &str = "supported: SELECT … FROM topic (a projection, each \
     event in its own 1 ms window) or FROM TUMBLE|HOP|SESSION(topic, \
     time column, INTERVAL …) [JOIN side table ON …] [WHERE …] GROUP BY window_start, \
     window_end[, …] [HAVING …], with columns, literals, + - * / % (MOD), ||, comparisons, AND/OR/NOT, \
     IS [NOT] NULL, [NOT] IN (…), [NOT] LIKE/ILIKE, BETWEEN, CASE, CAST; aggregates COUNT(*), \
     COUNT(x), COUNT(DISTINCT x), SUM, AVG, MIN, MAX, MEDIAN, QUANTILE_CONT, QUANTILE_DISC; and a \
     window top-N: ROW_NUMBER()/RANK()/DENSE_RANK() OVER (PARTITION BY window_start … ORDER BY …) \
     filtered by rank <= N in an outer query";

/// The position where an AST node starts.
pub(crate) fn pos_of(node: &impl Spanned) -> Pos {
    let s = node.span().start;
    Pos {
        line: s.line,
        column: s.column,
    }
}

/// An error at `pos` about `construct`.
pub(crate) fn unsupported(pos: Pos, construct: &str, what: &str) -> WorkloadError {
    WorkloadError::Sql {
        line: pos.line,
        column: pos.column,
        message: format!("{construct} is not supported{what} ({SUPPORTED})"),
    }
}

/// An error at `pos` with its own message.
pub(crate) fn sql_error(pos: Pos, message: impl Into<String>) -> WorkloadError {
    WorkloadError::Sql {
        line: pos.line,
        column: pos.column,
        message: message.into(),
    }
}

/// The text of a node, shortened for messages.
pub(crate) fn text_of(node: &impl std::fmt::Display) -> String {
    let t = node.to_string();
    if t.chars().count() > 60 {
        format!("{}…", t.chars().take(60).collect::<String>())
    } else {
        t
    }
}

/// Where an expression is converted: in a row (WHERE, GROUP BY, aggregate arguments) or
/// in a result (SELECT, HAVING, ORDER BY of a top-N).
pub(crate) enum Mode<'a> {
    /// A row expression: columns, no aggregates.
    Row,
    /// A result expression over the group keys (row expressions), registering aggregates.
    Result {
        keys: &'a [Expr],
        aggs: &'a mut Vec<AggCall>,
        /// SELECT aliases usable by name (ORDER BY of a top-N), with their expressions.
        aliases: &'a [(String, Expr)],
    },
}

fn is_window_column(name: &str) -> Option<Expr> {
    if name.eq_ignore_ascii_case("window_start") {
        Some(Expr::WindowStart)
    } else if name.eq_ignore_ascii_case("window_end") {
        Some(Expr::WindowEnd)
    } else {
        None
    }
}

/// Whether the expression calls an aggregate function anywhere.
fn has_aggregate(e: &ast::Expr) -> bool {
    use ast::Expr as A;
    match e {
        A::Function(f) => agg_name(f).is_some() && f.over.is_none(),
        A::BinaryOp { left, right, .. } => has_aggregate(left) || has_aggregate(right),
        A::UnaryOp { expr, .. }
        | A::Nested(expr)
        | A::IsNull(expr)
        | A::IsNotNull(expr)
        | A::Cast { expr, .. } => has_aggregate(expr),
        A::InList { expr, list, .. } => has_aggregate(expr) || list.iter().any(has_aggregate),
        A::Between {
            expr, low, high, ..
        } => has_aggregate(expr) || has_aggregate(low) || has_aggregate(high),
        A::Like { expr, pattern, .. } | A::ILike { expr, pattern, .. } => {
            has_aggregate(expr) || has_aggregate(pattern)
        }
        A::Case {
            operand,
            conditions,
            else_result,
            ..
        } => {
            operand.as_deref().is_some_and(has_aggregate)
                || conditions
                    .iter()
                    .any(|c| has_aggregate(&c.condition) || has_aggregate(&c.result))
                || else_result.as_deref().is_some_and(has_aggregate)
        }
        _ => false,
    }
}

fn agg_name(f: &ast::Function) -> Option<String> {
    let name = f.name.to_string().to_ascii_lowercase();
    matches!(
        name.as_str(),
        "count"
            | "sum"
            | "avg"
            | "mean"
            | "min"
            | "max"
            | "median"
            | "quantile"
            | "quantile_cont"
            | "quantile_disc"
    )
    .then_some(name)
}

/// A column reference from an identifier chain.
pub(crate) fn column_ref(parts: &[ast::Ident]) -> Option<ColumnRef> {
    let pos = parts
        .first()
        .map(|i| Pos {
            line: i.span.start.line,
            column: i.span.start.column,
        })
        .unwrap_or_default();
    match parts {
        [c] => Some(ColumnRef {
            qualifier: None,
            name: c.value.clone(),
            pos,
        }),
        [q, c] => Some(ColumnRef {
            qualifier: Some(q.value.clone()),
            name: c.value.clone(),
            pos,
        }),
        _ => None,
    }
}

/// A literal value.
pub(crate) fn literal(v: &ast::Value, pos: Pos) -> Result<Scalar> {
    Ok(match v {
        ast::Value::Number(n, _) => match n.parse::<i64>() {
            Ok(i) => Scalar::Int(i),
            Err(_) => Scalar::Float(
                n.parse::<f64>()
                    .map_err(|_| sql_error(pos, format!("{n} is not a number")))?,
            ),
        },
        ast::Value::SingleQuotedString(s) => Scalar::Str(s.clone()),
        ast::Value::Boolean(b) => Scalar::Bool(*b),
        ast::Value::Null => Scalar::Null,
        other => return Err(unsupported(pos, &format!("the literal {other}"), "")),
    })
}

/// A CAST target type.
pub(crate) fn sql_type(t: &ast::DataType, pos: Pos) -> Result<SqlType> {
    let name = t.to_string().to_ascii_uppercase();
    let base = name.split('(').next().unwrap_or("").trim();
    Ok(match base {
        "BIGINT" | "INT" | "INTEGER" | "INT8" | "INT64" | "INT4" | "SMALLINT" | "TINYINT"
        | "HUGEINT" | "LONG" => SqlType::Bigint,
        "DOUBLE" | "FLOAT" | "FLOAT8" | "FLOAT64" | "REAL" | "DOUBLE PRECISION" | "DECIMAL"
        | "NUMERIC" => SqlType::Double,
        "VARCHAR" | "TEXT" | "STRING" | "CHAR" | "CHARACTER VARYING" => SqlType::Varchar,
        "BOOLEAN" | "BOOL" => SqlType::Boolean,
        "TIMESTAMP" | "DATETIME" => SqlType::Timestamp,
        _ => {
            return Err(unsupported(
                pos,
                &format!("the type {name}"),
                " (types: BIGINT, DOUBLE, VARCHAR, BOOLEAN, TIMESTAMP)",
            ));
        }
    })
}

fn bin_op(op: &ast::BinaryOperator) -> Option<BinOp> {
    use ast::BinaryOperator as B;
    Some(match op {
        B::Plus => BinOp::Add,
        B::Minus => BinOp::Sub,
        B::Multiply => BinOp::Mul,
        B::Divide => BinOp::Div,
        B::Modulo => BinOp::Mod,
        B::Eq => BinOp::Eq,
        B::NotEq => BinOp::NotEq,
        B::Lt => BinOp::Lt,
        B::LtEq => BinOp::LtEq,
        B::Gt => BinOp::Gt,
        B::GtEq => BinOp::GtEq,
        B::And => BinOp::And,
        B::Or => BinOp::Or,
        B::StringConcat => BinOp::Concat,
        _ => return None,
    })
}

impl Mode<'_> {
    /// Convert `e`.
    pub(crate) fn expr(&mut self, e: &ast::Expr) -> Result<Expr> {
        let pos = pos_of(e);
        if let Mode::Result { keys, .. } = self
            && !has_aggregate(e)
            && !matches!(e, ast::Expr::Value(_))
            && let Ok(row) = Mode::Row.expr(e)
            && let Some(i) = keys.iter().position(|k| *k == row)
        {
            return Ok(Expr::Key(i));
        }
        use ast::Expr as A;
        Ok(match e {
            A::Identifier(id) => self.column(std::slice::from_ref(id), pos)?,
            A::CompoundIdentifier(parts) => self.column(parts, pos)?,
            A::Value(v) => Expr::Literal(literal(&v.value, pos)?),
            A::TypedString(ts) => {
                let text = ts.value.value.clone().into_string().unwrap_or_default();
                match sql_type(&ts.data_type, pos)? {
                    SqlType::Timestamp => {
                        Expr::Literal(Scalar::Timestamp(parse_timestamp(&text).ok_or_else(
                            || sql_error(pos, format!("{text:?} is not a timestamp")),
                        )?))
                    }
                    t => Expr::Cast {
                        expr: Box::new(Expr::Literal(Scalar::Str(text))),
                        to: t,
                    },
                }
            }
            A::Nested(inner) => self.expr(inner)?,
            A::BinaryOp { left, op, right } => {
                let op = bin_op(op)
                    .ok_or_else(|| unsupported(pos, &format!("the operator {op}"), ""))?;
                Expr::binary(op, self.expr(left)?, self.expr(right)?)
            }
            A::UnaryOp { op, expr } => match op {
                ast::UnaryOperator::Minus => match self.expr(expr)? {
                    Expr::Literal(Scalar::Int(i)) if i != i64::MIN => {
                        Expr::Literal(Scalar::Int(-i))
                    }
                    Expr::Literal(Scalar::Float(f)) => Expr::Literal(Scalar::Float(-f)),
                    x => Expr::Unary(UnOp::Neg, Box::new(x)),
                },
                ast::UnaryOperator::Plus => self.expr(expr)?,
                ast::UnaryOperator::Not => Expr::Unary(UnOp::Not, Box::new(self.expr(expr)?)),
                op => return Err(unsupported(pos, &format!("the operator {op}"), "")),
            },
            A::IsNull(x) | A::IsNotNull(x) => Expr::IsNull {
                expr: Box::new(self.expr(x)?),
                negated: matches!(e, A::IsNotNull(_)),
            },
            A::InList {
                expr,
                list,
                negated,
            } => Expr::InList {
                expr: Box::new(self.expr(expr)?),
                list: list.iter().map(|x| self.expr(x)).collect::<Result<_>>()?,
                negated: *negated,
            },
            A::Between {
                expr,
                negated,
                low,
                high,
            } => {
                let x = self.expr(expr)?;
                let within = Expr::binary(
                    BinOp::And,
                    Expr::binary(BinOp::GtEq, x.clone(), self.expr(low)?),
                    Expr::binary(BinOp::LtEq, x, self.expr(high)?),
                );
                if *negated {
                    Expr::Unary(UnOp::Not, Box::new(within))
                } else {
                    within
                }
            }
            A::Like {
                negated,
                any: false,
                expr,
                pattern,
                escape_char: None,
            }
            | A::ILike {
                negated,
                any: false,
                expr,
                pattern,
                escape_char: None,
            } => Expr::Like {
                expr: Box::new(self.expr(expr)?),
                pattern: Box::new(self.expr(pattern)?),
                negated: *negated,
                case_insensitive: matches!(e, A::ILike { .. }),
            },
            A::Case {
                operand,
                conditions,
                else_result,
                ..
            } => Expr::Case {
                operand: operand
                    .as_ref()
                    .map(|o| self.expr(o).map(Box::new))
                    .transpose()?,
                whens: conditions
                    .iter()
                    .map(|c| Ok((self.expr(&c.condition)?, self.expr(&c.result)?)))
                    .collect::<Result<_>>()?,
                otherwise: else_result
                    .as_ref()
                    .map(|o| self.expr(o).map(Box::new))
                    .transpose()?,
            },
            A::Cast {
                kind: ast::CastKind::Cast | ast::CastKind::DoubleColon,
                expr,
                data_type,
                format: None,
                ..
            } => Expr::Cast {
                expr: Box::new(self.expr(expr)?),
                to: sql_type(data_type, pos)?,
            },
            A::Function(f) => self.function(f, pos)?,
            other => {
                return Err(unsupported(
                    pos,
                    &format!("the expression `{}`", text_of(other)),
                    "",
                ));
            }
        })
    }

    fn column(&mut self, parts: &[ast::Ident], pos: Pos) -> Result<Expr> {
        let c = column_ref(parts).ok_or_else(|| {
            unsupported(
                pos,
                &format!("the name {}", ast::ObjectName::from(parts.to_vec())),
                " (a column is `name` or `table.name`)",
            )
        })?;
        if c.qualifier.is_none()
            && let Some(w) = is_window_column(&c.name)
        {
            return match self {
                Mode::Row => Err(sql_error(
                    pos,
                    format!(
                        "{} is known once rows are grouped: use it in SELECT, HAVING or a top-N, not in WHERE, GROUP BY expressions or aggregates",
                        c.name
                    ),
                )),
                Mode::Result { .. } => Ok(w),
            };
        }
        match self {
            Mode::Row => Ok(Expr::Column(c)),
            Mode::Result { aliases, .. } => {
                if c.qualifier.is_none()
                    && let Some((_, e)) = aliases.iter().find(|(a, _)| *a == c.name)
                {
                    return Ok(e.clone());
                }
                Err(sql_error(
                    pos,
                    format!("column {c} must appear in GROUP BY or be used in an aggregate"),
                ))
            }
        }
    }

    fn function(&mut self, f: &ast::Function, pos: Pos) -> Result<Expr> {
        let name = f.name.to_string();
        if f.over.is_some() {
            return Err(unsupported(
                pos,
                &format!("the window function {name}"),
                " here (ROW_NUMBER, RANK and DENSE_RANK only as the rank of a window top-N: `… OVER (PARTITION BY window_start ORDER BY …) AS rn` in a subquery, filtered by `rn <= N` outside)",
            ));
        }
        if name.eq_ignore_ascii_case("mod")
            && let ast::FunctionArguments::List(l) = &f.args
            && let [
                ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(a)),
                ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(b)),
            ] = l.args.as_slice()
        {
            return Ok(Expr::binary(BinOp::Mod, self.expr(a)?, self.expr(b)?));
        }
        let Some(lower) = agg_name(f) else {
            return Err(unsupported(pos, &format!("the function {name}"), ""));
        };
        let Mode::Result { aggs, .. } = self else {
            return Err(sql_error(
                pos,
                format!(
                    "the aggregate {name} is not allowed here (only in SELECT, HAVING and ORDER BY of a grouped query)"
                ),
            ));
        };
        let call = aggregate(f, &lower, pos)?;
        let i = match aggs.iter().position(|a| *a == call) {
            Some(i) => i,
            None => {
                aggs.push(call);
                aggs.len() - 1
            }
        };
        Ok(Expr::Agg(i))
    }
}

/// An aggregate call (`name` in lower case).
fn aggregate(f: &ast::Function, name: &str, pos: Pos) -> Result<AggCall> {
    if f.filter.is_some() || !f.within_group.is_empty() || f.null_treatment.is_some() {
        return Err(unsupported(
            pos,
            &format!("`{}`", text_of(f)),
            " (FILTER, WITHIN GROUP and IGNORE NULLS are not)",
        ));
    }
    let ast::FunctionArguments::List(list) = &f.args else {
        return Err(sql_error(pos, format!("{name} needs arguments")));
    };
    if !list.clauses.is_empty() {
        return Err(unsupported(pos, &format!("`{}`", text_of(f)), ""));
    }
    let distinct = matches!(
        list.duplicate_treatment,
        Some(ast::DuplicateTreatment::Distinct)
    );
    let mut args = Vec::new();
    let mut star = false;
    for a in &list.args {
        match a {
            ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => args.push(e),
            ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Wildcard) => star = true,
            other => return Err(unsupported(pos, &format!("the argument {other}"), "")),
        }
    }
    let one = |args: &[&ast::Expr]| -> Result<Vec<Expr>> {
        match args {
            [e] => Ok(vec![Mode::Row.expr(e)?]),
            _ => Err(sql_error(
                pos,
                format!("{name} takes one column expression"),
            )),
        }
    };
    let quantile = |args: &[&ast::Expr]| -> Result<(Vec<Expr>, f64)> {
        let [e, q] = args else {
            return Err(sql_error(
                pos,
                format!("{name} takes (expression, quantile)"),
            ));
        };
        let q = match Mode::Row.expr(q)? {
            Expr::Literal(Scalar::Float(q)) => q,
            Expr::Literal(Scalar::Int(q)) => q as f64,
            _ => return Err(sql_error(pos, "the quantile must be a number literal")),
        };
        if !(0.0..=1.0).contains(&q) {
            return Err(sql_error(
                pos,
                format!("the quantile {q} is not between 0 and 1"),
            ));
        }
        Ok((vec![Mode::Row.expr(e)?], q))
    };
    if distinct && name != "count" {
        return Err(unsupported(
            pos,
            &format!("{}(DISTINCT …)", name.to_uppercase()),
            " (DISTINCT only in COUNT)",
        ));
    }
    let (func, args) = match name {
        "count" if star && args.is_empty() => (AggFunc::CountStar, vec![]),
        "count" if distinct => (AggFunc::CountDistinct, one(&args)?),
        "count" => (AggFunc::Count, one(&args)?),
        "sum" => (AggFunc::Sum, one(&args)?),
        "avg" | "mean" => (AggFunc::Avg, one(&args)?),
        "min" => (AggFunc::Min, one(&args)?),
        "max" => (AggFunc::Max, one(&args)?),
        "median" => (AggFunc::Median, one(&args)?),
        "quantile_cont" => {
            let (a, q) = quantile(&args)?;
            (AggFunc::QuantileCont(q), a)
        }
        _ => {
            let (a, q) = quantile(&args)?;
            (AggFunc::QuantileDisc(q), a)
        }
    };
    if star && func != AggFunc::CountStar {
        return Err(sql_error(pos, format!("{name}(*) is not an aggregate")));
    }
    Ok(AggCall { func, args })
}

/// A literal's value, for the window table function's arguments.
pub(crate) fn literal_text(e: &ast::Expr) -> Option<String> {
    match e {
        ast::Expr::Value(v) => match &v.value {
            ast::Value::SingleQuotedString(s) | ast::Value::Number(s, _) => Some(s.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// A column named by an identifier (or `DESCRIPTOR(col)`).
pub(crate) fn descriptor(e: &ast::Expr) -> Option<ColumnRef> {
    match e {
        ast::Expr::Identifier(id) => column_ref(std::slice::from_ref(id)),
        ast::Expr::CompoundIdentifier(p) => column_ref(p),
        ast::Expr::Function(f) if f.name.to_string().eq_ignore_ascii_case("descriptor") => {
            match &f.args {
                ast::FunctionArguments::List(l) => match l.args.as_slice() {
                    [ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e))] => descriptor(e),
                    _ => None,
                },
                _ => None,
            }
        }
        _ => None,
    }
}
