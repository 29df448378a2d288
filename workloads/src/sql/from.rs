//! The FROM clause: the window table function over the topic, and the side tables
//! joined to it.

use sqlparser::ast;

use crate::error::Result;
use crate::spec::{MAX_WINDOW_MS, MIN_WINDOW_MS};
use crate::sql::convert::{
    Mode, descriptor, literal_text, pos_of, sql_error, text_of, unsupported,
};
use crate::sql::expr::{ColumnRef, Expr, Pos};
use crate::sql::model::SideJoin;
use crate::window::WindowSpec;

/// `TUMBLE(topic, time, size)`, `HOP(topic, time, slide, size)`, `SESSION(topic, time,
/// gap)` (also inside `TABLE(…)`): the topic, the names it goes by, its time column, the
/// window.
pub(crate) fn window_tvf(
    relation: &ast::TableFactor,
) -> Result<(String, Vec<String>, ColumnRef, WindowSpec)> {
    let pos = pos_of(relation);
    let (name, args, alias): (String, Vec<&ast::Expr>, _) = match relation {
        ast::TableFactor::Table {
            name,
            args: Some(args),
            alias,
            ..
        } => (
            name.to_string(),
            args.args.iter().map(unnamed).collect::<Result<_>>()?,
            alias,
        ),
        ast::TableFactor::TableFunction {
            expr: ast::Expr::Function(f),
            alias,
        } => {
            let ast::FunctionArguments::List(l) = &f.args else {
                return Err(sql_error(pos, "a window table function needs arguments"));
            };
            (
                f.name.to_string(),
                l.args.iter().map(unnamed).collect::<Result<_>>()?,
                alias,
            )
        }
        ast::TableFactor::Table { name, .. } => {
            return Err(sql_error(
                pos,
                format!(
                    "FROM {name}: read the topic through a window table function, e.g. TUMBLE({name}, event_time, INTERVAL '1' MINUTE)"
                ),
            ));
        }
        other => return Err(unsupported(pos, &format!("FROM `{}`", text_of(other)), "")),
    };
    let upper = name.to_ascii_uppercase();
    let arity = match upper.as_str() {
        "TUMBLE" | "SESSION" => 3,
        "HOP" => 4,
        _ => {
            return Err(unsupported(
                pos,
                &format!("the table function {name}"),
                " (windows: TUMBLE, HOP, SESSION)",
            ));
        }
    };
    if args.len() != arity {
        return Err(sql_error(
            pos,
            match upper.as_str() {
                "TUMBLE" => "TUMBLE(topic, time column, INTERVAL size)",
                "HOP" => "HOP(topic, time column, INTERVAL slide, INTERVAL size)",
                _ => "SESSION(topic, time column, INTERVAL gap)",
            },
        ));
    }
    let topic = match args[0] {
        ast::Expr::Identifier(id) => id.value.clone(),
        other => {
            return Err(sql_error(
                pos_of(other),
                "the first argument of a window function is the topic's name",
            ));
        }
    };
    master_log::validate_name(&topic).map_err(|e| sql_error(pos_of(args[0]), e.to_string()))?;
    let time = descriptor(args[1]).ok_or_else(|| {
        sql_error(
            pos_of(args[1]),
            "the second argument is the time column: a column or DESCRIPTOR(column)",
        )
    })?;
    let window = match upper.as_str() {
        "TUMBLE" => WindowSpec::Tumbling {
            size_ms: interval_ms(args[2])?,
        },
        "HOP" => WindowSpec::Hopping {
            slide_ms: interval_ms(args[2])?,
            size_ms: interval_ms(args[3])?,
        },
        _ => WindowSpec::Session {
            gap_ms: interval_ms(args[2])?,
        },
    };
    window.validate().map_err(|r| sql_error(pos, r))?;
    let mut names = vec![topic.clone()];
    if let Some(a) = alias {
        names.push(a.name.value.clone());
    }
    Ok((topic, names, time, window))
}

/// A plain `FROM topic [AS alias]`: the topic and the names it goes by.
pub(crate) fn plain_topic(relation: &ast::TableFactor) -> Option<(String, Vec<String>)> {
    let ast::TableFactor::Table {
        name,
        alias,
        args: None,
        ..
    } = relation
    else {
        return None;
    };
    let topic = name.to_string();
    master_log::validate_name(&topic).ok()?;
    let mut names = vec![topic.clone()];
    if let Some(a) = alias {
        names.push(a.name.value.clone());
    }
    Some((topic, names))
}

fn unnamed(a: &ast::FunctionArg) -> Result<&ast::Expr> {
    match a {
        ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => Ok(e),
        other => Err(unsupported(
            Pos::default(),
            &format!("the argument {other}"),
            "",
        )),
    }
}

/// An `INTERVAL '10' SECOND` or `INTERVAL '10 seconds'` in whole ms, within the window
/// limits.
fn interval_ms(e: &ast::Expr) -> Result<i64> {
    let pos = pos_of(e);
    let bad = |why: &str| {
        sql_error(
            pos,
            format!(
                "{why}: a window length is INTERVAL 'n' MILLISECOND|SECOND|MINUTE|HOUR|DAY (or INTERVAL 'n unit'), between 1 ms and 366 days"
            ),
        )
    };
    let ast::Expr::Interval(iv) = e else {
        return Err(bad("not an INTERVAL"));
    };
    if iv.last_field.is_some() || iv.fractional_seconds_precision.is_some() {
        return Err(bad("an interval range"));
    }
    let text = literal_text(&iv.value).ok_or_else(|| bad("not a literal"))?;
    let (number, unit) = match &iv.leading_field {
        Some(f) => (text.trim().to_owned(), f.to_string()),
        None => {
            let mut parts = text.split_whitespace();
            let n = parts.next().unwrap_or("").to_owned();
            (n, parts.next().unwrap_or("").to_owned())
        }
    };
    let unit_ms: f64 = match unit.to_ascii_lowercase().as_str() {
        "ms" | "millisecond" | "milliseconds" => 1.0,
        "s" | "second" | "seconds" => 1_000.0,
        "m" | "minute" | "minutes" => 60_000.0,
        "h" | "hour" | "hours" => 3_600_000.0,
        "d" | "day" | "days" => 86_400_000.0,
        _ => return Err(bad(&format!("the unit {unit:?}"))),
    };
    let n: f64 = number.parse().map_err(|_| bad(&format!("{number:?}")))?;
    let ms = n * unit_ms;
    if ms.fract() != 0.0 || !(MIN_WINDOW_MS as f64..=MAX_WINDOW_MS as f64).contains(&ms) {
        return Err(bad(&format!("{number} {unit}")));
    }
    Ok(ms as i64)
}

/// `[LEFT] JOIN table [AS alias] ON stream_expr = alias.column [AND …]`: a side table.
pub(crate) fn side_join(j: &ast::Join, topic_names: &[String]) -> Result<SideJoin> {
    let pos = pos_of(&j.relation);
    let (left, constraint) = match &j.join_operator {
        ast::JoinOperator::Join(c) | ast::JoinOperator::Inner(c) => (false, c),
        ast::JoinOperator::Left(c) | ast::JoinOperator::LeftOuter(c) => (true, c),
        other => {
            return Err(unsupported(
                pos,
                &format!("the join `{}`", text_of(&format!("{other:?}"))),
                " (a side table is joined with JOIN or LEFT JOIN … ON)",
            ));
        }
    };
    let ast::TableFactor::Table {
        name,
        alias,
        args: None,
        ..
    } = &j.relation
    else {
        return Err(unsupported(
            pos,
            &format!("joining `{}`", text_of(&j.relation)),
            " (a stream joins a side table by name: a CSV file in the data directory; windowed stream-stream joins are not supported yet)",
        ));
    };
    let table = name.to_string();
    if table.contains('.') || master_log::validate_name(&table).is_err() {
        return Err(sql_error(
            pos,
            format!("{table:?} is not a side table name"),
        ));
    }
    let mut names = vec![table.clone()];
    if let Some(a) = alias {
        names.push(a.name.value.clone());
    }
    if names.iter().any(|n| topic_names.contains(n)) {
        return Err(sql_error(
            pos,
            format!("{table} is already the topic's name"),
        ));
    }
    let ast::JoinConstraint::On(on) = constraint else {
        return Err(sql_error(pos, "a side table is joined ON equalities"));
    };
    let mut pairs = Vec::new();
    equalities(on, &names, &mut pairs)?;
    Ok(SideJoin {
        table,
        names,
        left,
        on: pairs,
    })
}

/// `a = b AND c = d …`, each with one side a column of the side table (`names`).
fn equalities(e: &ast::Expr, names: &[String], out: &mut Vec<(Expr, String)>) -> Result<()> {
    let pos = pos_of(e);
    let bad = || {
        sql_error(
            pos,
            format!(
                "the ON of a side table is `stream expression = {}.column` (AND more)",
                names.last().map(String::as_str).unwrap_or("side")
            ),
        )
    };
    let ast::Expr::BinaryOp { left, op, right } = e else {
        return match e {
            ast::Expr::Nested(inner) => equalities(inner, names, out),
            _ => Err(bad()),
        };
    };
    match op {
        ast::BinaryOperator::And => {
            equalities(left, names, out)?;
            equalities(right, names, out)
        }
        ast::BinaryOperator::Eq => {
            let l = Mode::Row.expr(left)?;
            let r = Mode::Row.expr(right)?;
            let side = |x: &Expr| match x {
                Expr::Column(c) if c.qualifier.as_ref().is_some_and(|q| names.contains(q)) => {
                    Some(c.name.clone())
                }
                _ => None,
            };
            let mentions_side = |x: &Expr| {
                let mut found = false;
                x.walk(&mut |n| {
                    if let Expr::Column(c) = n
                        && c.qualifier.as_ref().is_some_and(|q| names.contains(q))
                    {
                        found = true;
                    }
                });
                found
            };
            let pair = match (side(&l), side(&r)) {
                (Some(c), None) if !mentions_side(&r) => (r, c),
                (None, Some(c)) if !mentions_side(&l) => (l, c),
                _ => return Err(bad()),
            };
            out.push(pair);
            Ok(())
        }
        _ => Err(bad()),
    }
}
