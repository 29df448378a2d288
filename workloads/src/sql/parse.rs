//! The shape of a SQL workload: one SELECT over a window table function, optionally
//! joined with side tables, grouped by the window and columns; or such a query (or one
//! over the window's rows) ranked per window in a subquery and filtered by rank outside.

use sqlparser::ast;
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;

use crate::error::{Result, WorkloadError};
use crate::sql::agg::{AggCall, AggFunc};
use crate::sql::convert::{Mode, pos_of, sql_error, text_of, unsupported};
use crate::sql::expr::{ColumnRef, Expr, Pos};
use crate::sql::from::{plain_topic, side_join, window_tvf};
use crate::sql::model::{RankKind, SideJoin, SqlWorkload, TopN};
use crate::window::WindowSpec;

/// One output column of a (sub)query.
#[derive(Debug, Clone)]
struct Item {
    name: String,
    kind: Kind,
    pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    WindowStart,
    WindowEnd,
    /// Group key `i` (a grouped query).
    Key(usize),
    /// A result expression (a grouped query).
    Value(Expr),
    /// A row expression (a query over the window's rows).
    Raw(Expr),
    /// The rank of a top-N.
    Rank,
}

/// The rank item of a top-N: `ROW_NUMBER() OVER (PARTITION BY … ORDER BY …)`.
#[derive(Debug, Clone)]
struct RankItem {
    kind: RankKind,
    partition: Vec<usize>,
    order: Vec<(Expr, bool)>,
}

/// The innermost query: the window table function and everything grouped under it.
#[derive(Debug)]
struct Core {
    topic: String,
    topic_names: Vec<String>,
    time_column: ColumnRef,
    window: WindowSpec,
    joins: Vec<SideJoin>,
    filter: Option<Expr>,
    keys: Vec<Expr>,
    aggregates: Vec<AggCall>,
    having: Option<Expr>,
    grouped: bool,
    /// A projection: neither grouped nor ranked (every row kept).
    plain: bool,
    items: Vec<Item>,
    rank: Option<RankItem>,
}

/// sqlparser's error as ours, with the line and column it names.
fn parse_error(e: sqlparser::parser::ParserError) -> WorkloadError {
    let text = e.to_string();
    let num = |key: &str| -> u64 {
        text.split(key)
            .nth(1)
            .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    WorkloadError::Sql {
        line: num("Line: "),
        column: num("Column: "),
        message: text
            .split(" at Line:")
            .next()
            .unwrap_or(&text)
            .trim_start_matches("sql parser error: ")
            .to_owned(),
    }
}

/// Parse and check `text`, naming the workload `name`.
pub(crate) fn parse(text: &str, name: &str) -> Result<SqlWorkload> {
    let statements = Parser::parse_sql(&GenericDialect {}, text).map_err(parse_error)?;
    let [ast::Statement::Query(q)] = statements.as_slice() else {
        let pos = statements
            .get(1)
            .or(statements.first())
            .map(pos_of)
            .unwrap_or_default();
        return Err(sql_error(pos, "a workload is one SELECT query"));
    };
    let select = select_of(q)?;
    let (core, outer) = match single_from(select)? {
        Some((sub, _)) => {
            let (core, items) = ranked(sub)?;
            let mut core = core;
            let outer = outer_items(select, &items, &mut core, pos_of(select))?;
            (core, Some(outer))
        }
        None => (core(select, false)?, None),
    };
    assemble(core, outer, text, name)
}

/// The SELECT of a query without WITH, ORDER BY, LIMIT or set operations.
fn select_of(q: &ast::Query) -> Result<&ast::Select> {
    let pos = pos_of(q);
    if q.with.is_some() {
        return Err(unsupported(pos, "WITH", ""));
    }
    if let Some(o) = &q.order_by {
        return Err(unsupported(
            pos_of(o),
            "ORDER BY of the result",
            " (answers are sorted by window and key)",
        ));
    }
    if q.limit_clause.is_some() || q.fetch.is_some() {
        return Err(unsupported(
            pos,
            "LIMIT",
            " (rank rows per window with ROW_NUMBER instead)",
        ));
    }
    match q.body.as_ref() {
        ast::SetExpr::Select(s) => {
            check_select_clauses(s)?;
            Ok(s)
        }
        ast::SetExpr::Query(q) => select_of(q),
        other => Err(unsupported(
            pos_of(other),
            &format!("`{}`", text_of(other)),
            "",
        )),
    }
}

fn check_select_clauses(s: &ast::Select) -> Result<()> {
    let pos = pos_of(s);
    let bad = |what: &str| Err(unsupported(pos, what, ""));
    if s.distinct.is_some() {
        return bad("SELECT DISTINCT");
    }
    if s.qualify.is_some() {
        return bad("QUALIFY");
    }
    if !s.named_window.is_empty() {
        return bad("WINDOW");
    }
    if s.top.is_some() || s.into.is_some() || !s.lateral_views.is_empty() {
        return bad(&format!("`{}`", text_of(s)));
    }
    if s.prewhere.is_some() || !s.sort_by.is_empty() || !s.cluster_by.is_empty() {
        return bad(&format!("`{}`", text_of(s)));
    }
    Ok(())
}

/// The subquery of `FROM (subquery)`, if the FROM is one.
fn single_from(s: &ast::Select) -> Result<Option<(&ast::Query, Pos)>> {
    let [from] = s.from.as_slice() else {
        return Err(sql_error(
            pos_of(s),
            "FROM must name one window table function (TUMBLE, HOP or SESSION); side tables are JOINed",
        ));
    };
    match &from.relation {
        ast::TableFactor::Derived { subquery, .. } => {
            if let Some(j) = from.joins.first() {
                return Err(unsupported(
                    pos_of(&j.relation),
                    "joining two subqueries (a stream-stream join, as NEXMark Q4 and Q8 need)",
                    " (a stream joins side tables inside its windowed query)",
                ));
            }
            Ok(Some((subquery, pos_of(&from.relation))))
        }
        _ => Ok(None),
    }
}

/// The rank subquery of a top-N: a core with a rank item, or `SELECT *, rank FROM (core)`.
fn ranked(q: &ast::Query) -> Result<(Core, Vec<Item>)> {
    let s = select_of(q)?;
    match single_from(s)? {
        None => {
            let core = core(s, true)?;
            if core.rank.is_none() {
                return Err(sql_error(
                    pos_of(s),
                    "a query FROM a subquery is a window top-N: the subquery needs ROW_NUMBER() (or RANK(), DENSE_RANK()) OVER (PARTITION BY window_start … ORDER BY …) AS rn",
                ));
            }
            let items = core.items.clone();
            Ok((core, items))
        }
        Some((inner, _)) => {
            let mut core = core(select_of(inner)?, false)?;
            let items = rank_over(s, &mut core)?;
            Ok((core, items))
        }
    }
}

/// `SELECT *, ROW_NUMBER() OVER (…) AS rn FROM (core)`: the rank over the core's items.
fn rank_over(s: &ast::Select, core: &mut Core) -> Result<Vec<Item>> {
    if s.selection.is_some() || s.having.is_some() {
        return Err(unsupported(
            pos_of(s),
            "WHERE or HAVING beside the rank",
            " (filter in the windowed query, or by rank outside)",
        ));
    }
    let mut items = Vec::new();
    for p in &s.projection {
        let pos = pos_of(p);
        match p {
            ast::SelectItem::Wildcard(_) => items.extend(core.items.iter().cloned()),
            ast::SelectItem::ExprWithAlias {
                expr: ast::Expr::Function(f),
                alias,
            } if f.over.is_some() => {
                let aliases = item_exprs(&core.items);
                core.rank = Some(rank_item(f, core, &aliases, pos)?);
                items.push(Item {
                    name: alias.value.clone(),
                    kind: Kind::Rank,
                    pos,
                });
            }
            ast::SelectItem::UnnamedExpr(e) | ast::SelectItem::ExprWithAlias { expr: e, .. } => {
                let name = match e {
                    ast::Expr::Identifier(id) => id.value.clone(),
                    _ => {
                        return Err(unsupported(
                            pos,
                            &format!("`{}` beside the rank", text_of(e)),
                            "",
                        ));
                    }
                };
                let item =
                    core.items.iter().find(|i| i.name == name).ok_or_else(|| {
                        sql_error(pos, format!("the subquery has no column {name}"))
                    })?;
                let mut item = item.clone();
                if let ast::SelectItem::ExprWithAlias { alias, .. } = p {
                    item.name = alias.value.clone();
                }
                items.push(item);
            }
            other => return Err(unsupported(pos, &format!("`{other}`"), "")),
        }
    }
    if core.rank.is_none() {
        return Err(sql_error(
            pos_of(s),
            "the subquery needs ROW_NUMBER() OVER (…) AS rn",
        ));
    }
    Ok(items)
}

/// The expressions items stand for, by name (for ORDER BY in a top-N).
fn item_exprs(items: &[Item]) -> Vec<(String, Expr)> {
    items
        .iter()
        .filter_map(|i| {
            let e = match &i.kind {
                Kind::WindowStart => Expr::WindowStart,
                Kind::WindowEnd => Expr::WindowEnd,
                Kind::Key(k) => Expr::Key(*k),
                Kind::Value(e) | Kind::Raw(e) => e.clone(),
                Kind::Rank => return None,
            };
            Some((i.name.clone(), e))
        })
        .collect()
}

/// The innermost SELECT: FROM a window table function [JOIN side tables] [WHERE] GROUP BY
/// window and keys [HAVING]; `allow_rank`: one item may be the rank of a top-N.
fn core(s: &ast::Select, allow_rank: bool) -> Result<Core> {
    let [from] = s.from.as_slice() else {
        return Err(sql_error(
            pos_of(s),
            "FROM must name one window table function",
        ));
    };
    let (topic, topic_names, time_column, window, plain_from) = match plain_topic(&from.relation) {
        // A plain `FROM topic`: every event in the 1 ms window of its event time.
        Some((topic, names)) => {
            let time = ColumnRef {
                qualifier: None,
                name: "event_time".into(),
                pos: pos_of(&from.relation),
            };
            (
                topic,
                names,
                time,
                WindowSpec::Tumbling { size_ms: 1 },
                true,
            )
        }
        None => {
            let (topic, names, time, window) = window_tvf(&from.relation)?;
            (topic, names, time, window, false)
        }
    };
    let joins = from
        .joins
        .iter()
        .map(|j| side_join(j, &topic_names))
        .collect::<Result<Vec<_>>>()?;
    let filter = s
        .selection
        .as_ref()
        .map(|w| Mode::Row.expr(w))
        .transpose()?;
    let (grouped, keys) = group_keys(&s.group_by, pos_of(s))?;
    let mut core = Core {
        topic,
        topic_names,
        time_column,
        window,
        joins,
        filter,
        keys,
        aggregates: Vec::new(),
        having: None,
        grouped,
        plain: false,
        items: Vec::new(),
        rank: None,
    };
    let mut rank_fn = None;
    for p in &s.projection {
        let pos = pos_of(p);
        let (e, alias) = match p {
            ast::SelectItem::UnnamedExpr(e) => (e, None),
            ast::SelectItem::ExprWithAlias { expr, alias } => (expr, Some(alias.value.clone())),
            other => {
                return Err(unsupported(
                    pos,
                    &format!("`{other}`"),
                    " (name the columns: SELECT window_start, window_end, key, aggregate …)",
                ));
            }
        };
        if let ast::Expr::Function(f) = e
            && f.over.is_some()
            && allow_rank
        {
            let name = alias.ok_or_else(|| sql_error(pos, "name the rank: `… OVER (…) AS rn`"))?;
            rank_fn = Some((f, pos));
            core.items.push(Item {
                name,
                kind: Kind::Rank,
                pos,
            });
            continue;
        }
        let item = core_item(&mut core, e, alias, pos)?;
        core.items.push(item);
    }
    core.plain = !core.grouped && core.aggregates.is_empty() && rank_fn.is_none();
    if plain_from && !core.plain {
        return Err(sql_error(
            pos_of(&from.relation),
            format!(
                "aggregating or ranking needs a window: FROM TUMBLE({0}, event_time, INTERVAL …), HOP(…) or SESSION(…) instead of FROM {0}",
                core.topic
            ),
        ));
    }
    if !core.grouped && !core.aggregates.is_empty() {
        return Err(sql_error(
            pos_of(s),
            "aggregates need GROUP BY window_start, window_end (and the key columns)",
        ));
    }
    if let Some(h) = &s.having {
        let mut mode = Mode::Result {
            keys: &core.keys,
            aggs: &mut core.aggregates,
            aliases: &[],
        };
        core.having = Some(mode.expr(h)?);
    }
    if let Some((f, pos)) = rank_fn {
        let aliases = item_exprs(&core.items);
        let rank = rank_item(f, &mut core, &aliases, pos)?;
        core.rank = Some(rank);
    }
    Ok(core)
}

/// One SELECT item of the core.
fn core_item(core: &mut Core, e: &ast::Expr, alias: Option<String>, pos: Pos) -> Result<Item> {
    let default_name = match e {
        ast::Expr::Identifier(id) => id.value.clone(),
        ast::Expr::CompoundIdentifier(p) => p.last().map(|i| i.value.clone()).unwrap_or_default(),
        other => other.to_string(),
    };
    let name = alias.unwrap_or(default_name);
    let kind = if core.grouped {
        let mut mode = Mode::Result {
            keys: &core.keys,
            aggs: &mut core.aggregates,
            aliases: &[],
        };
        match mode.expr(e)? {
            Expr::WindowStart => Kind::WindowStart,
            Expr::WindowEnd => Kind::WindowEnd,
            Expr::Key(k) => Kind::Key(k),
            v => Kind::Value(v),
        }
    } else {
        match e {
            ast::Expr::Identifier(id) if id.value.eq_ignore_ascii_case("window_start") => {
                Kind::WindowStart
            }
            ast::Expr::Identifier(id) if id.value.eq_ignore_ascii_case("window_end") => {
                Kind::WindowEnd
            }
            e => Kind::Raw(Mode::Row.expr(e)?),
        }
    };
    Ok(Item { name, kind, pos })
}

/// GROUP BY: whether there is one, and its keys (the window columns left out; the
/// window start must be there).
fn group_keys(g: &ast::GroupByExpr, pos: Pos) -> Result<(bool, Vec<Expr>)> {
    let exprs = match g {
        ast::GroupByExpr::Expressions(e, m) if m.is_empty() => e,
        other => return Err(unsupported(pos, &format!("`{other}`"), "")),
    };
    if exprs.is_empty() {
        return Ok((false, Vec::new()));
    }
    let mut keys: Vec<Expr> = Vec::new();
    let mut window = false;
    for e in exprs {
        if let ast::Expr::Identifier(id) = e
            && ["window_start", "window_end"]
                .iter()
                .any(|w| id.value.eq_ignore_ascii_case(w))
        {
            window |= id.value.eq_ignore_ascii_case("window_start");
            continue;
        }
        let k = Mode::Row.expr(e)?;
        if keys.contains(&k) {
            return Err(sql_error(pos_of(e), format!("`{e}` is grouped twice")));
        }
        keys.push(k);
    }
    if !window {
        return Err(sql_error(
            pos,
            "GROUP BY must include window_start (and window_end): the query aggregates per window",
        ));
    }
    Ok((true, keys))
}

/// The rank of a top-N.
fn rank_item(
    f: &ast::Function,
    core: &mut Core,
    aliases: &[(String, Expr)],
    pos: Pos,
) -> Result<RankItem> {
    let name = f.name.to_string().to_ascii_lowercase();
    let kind = match name.as_str() {
        "row_number" => RankKind::RowNumber,
        "rank" => RankKind::Rank,
        "dense_rank" => RankKind::DenseRank,
        _ => {
            return Err(unsupported(
                pos,
                &format!("the window function {}", f.name),
                " (a window top-N ranks with ROW_NUMBER, RANK or DENSE_RANK)",
            ));
        }
    };
    let ast::FunctionArguments::List(l) = &f.args else {
        return Err(sql_error(pos, format!("{name}() takes no argument")));
    };
    if !l.args.is_empty() {
        return Err(sql_error(pos, format!("{name}() takes no argument")));
    }
    let Some(ast::WindowType::WindowSpec(spec)) = &f.over else {
        return Err(unsupported(pos, "a named window", ""));
    };
    if spec.window_frame.is_some() {
        return Err(unsupported(pos, "a window frame", ""));
    }
    let mut partition = Vec::new();
    let mut by_window = false;
    for p in &spec.partition_by {
        match p {
            ast::Expr::Identifier(id) if id.value.eq_ignore_ascii_case("window_start") => {
                by_window = true
            }
            ast::Expr::Identifier(id) if id.value.eq_ignore_ascii_case("window_end") => {}
            e => {
                let mut mode = Mode::Result {
                    keys: &core.keys,
                    aggs: &mut core.aggregates,
                    aliases,
                };
                match mode.expr(e) {
                    Ok(Expr::Key(k)) if core.grouped => partition.push(k),
                    _ => {
                        return Err(unsupported(
                            pos_of(e),
                            &format!("PARTITION BY {e}"),
                            " (a top-N partitions by window_start, window_end and group keys)",
                        ));
                    }
                }
            }
        }
    }
    if !by_window {
        return Err(sql_error(
            pos,
            "a window top-N must PARTITION BY window_start",
        ));
    }
    if spec.order_by.is_empty() {
        return Err(sql_error(pos, "a window top-N needs ORDER BY"));
    }
    let mut order = Vec::new();
    for o in &spec.order_by {
        if o.options.nulls_first.is_some() || o.with_fill.is_some() {
            return Err(unsupported(
                pos_of(&o.expr),
                "NULLS FIRST/LAST",
                " (nulls sort last)",
            ));
        }
        let desc = o.options.asc == Some(false);
        let e = if core.grouped {
            let mut mode = Mode::Result {
                keys: &core.keys,
                aggs: &mut core.aggregates,
                aliases,
            };
            mode.expr(&o.expr)?
        } else {
            match &o.expr {
                ast::Expr::Identifier(id) => match aliases.iter().find(|(a, _)| *a == id.value) {
                    Some((_, e)) => e.clone(),
                    None => Mode::Row.expr(&o.expr)?,
                },
                e => Mode::Row.expr(e)?,
            }
        };
        order.push((e, desc));
    }
    if !core.grouped && kind != RankKind::RowNumber {
        return Err(unsupported(
            pos,
            &format!("{} over the window's rows", name.to_uppercase()),
            " (rank rows with ROW_NUMBER, or cells of a grouped query with RANK or DENSE_RANK)",
        ));
    }
    Ok(RankItem {
        kind,
        partition,
        order,
    })
}

/// The outer query of a top-N: its items (from the subquery's, by name) and its rank
/// limit `rn <= N` (or `rn < N`, `rn = 1`).
fn outer_items(
    s: &ast::Select,
    items: &[Item],
    core: &mut Core,
    pos: Pos,
) -> Result<(Vec<Item>, u64)> {
    if !matches!(&s.group_by, ast::GroupByExpr::Expressions(e, _) if e.is_empty())
        || s.having.is_some()
    {
        return Err(unsupported(pos, "GROUP BY or HAVING over a top-N", ""));
    }
    let rank_name = items
        .iter()
        .find(|i| i.kind == Kind::Rank)
        .map(|i| i.name.clone())
        .unwrap_or_default();
    let Some(w) = &s.selection else {
        return Err(sql_error(
            pos,
            format!("a window top-N needs WHERE {rank_name} <= N"),
        ));
    };
    let n = rank_limit(w, &rank_name)?;
    let mut out = Vec::new();
    for p in &s.projection {
        let pos = pos_of(p);
        match p {
            ast::SelectItem::Wildcard(_) => out.extend(items.iter().cloned()),
            ast::SelectItem::UnnamedExpr(e) | ast::SelectItem::ExprWithAlias { expr: e, .. } => {
                let name = match e {
                    ast::Expr::Identifier(id) => id.value.clone(),
                    ast::Expr::CompoundIdentifier(p) => {
                        p.last().map(|i| i.value.clone()).unwrap_or_default()
                    }
                    other if core.grouped => {
                        let mut aliases = item_exprs(items);
                        aliases.extend(
                            items
                                .iter()
                                .filter(|i| i.kind == Kind::Rank)
                                .map(|i| (i.name.clone(), Expr::Rank)),
                        );
                        let mut mode = Mode::Result {
                            keys: &core.keys,
                            aggs: &mut core.aggregates,
                            aliases: &aliases,
                        };
                        let name = match p {
                            ast::SelectItem::ExprWithAlias { alias, .. } => alias.value.clone(),
                            _ => other.to_string(),
                        };
                        out.push(Item {
                            name,
                            kind: Kind::Value(mode.expr(other)?),
                            pos,
                        });
                        continue;
                    }
                    other => {
                        return Err(unsupported(
                            pos,
                            &format!("`{}` outside a top-N over rows", text_of(other)),
                            " (the outer query selects the subquery's columns)",
                        ));
                    }
                };
                let mut item = items
                    .iter()
                    .find(|i| i.name == name)
                    .cloned()
                    .ok_or_else(|| sql_error(pos, format!("the subquery has no column {name}")))?;
                if let ast::SelectItem::ExprWithAlias { alias, .. } = p {
                    item.name = alias.value.clone();
                }
                item.pos = pos;
                out.push(item);
            }
            other => return Err(unsupported(pos, &format!("`{other}`"), "")),
        }
    }
    Ok((out, n))
}

/// `rn <= N`, `rn < N`, `rn = 1`, or the same written the other way round.
fn rank_limit(w: &ast::Expr, rank: &str) -> Result<u64> {
    use ast::BinaryOperator as B;
    let pos = pos_of(w);
    let refused = || {
        sql_error(
            pos,
            format!(
                "the outer WHERE of a window top-N is `{rank} <= N` (or `{rank} < N`, `{rank} = 1`)"
            ),
        )
    };
    let ast::Expr::BinaryOp { left, op, right } = w else {
        return Err(refused());
    };
    let is_rank = |e: &ast::Expr| matches!(e, ast::Expr::Identifier(id) if id.value == rank);
    let number = |e: &ast::Expr| match e {
        ast::Expr::Value(v) => match &v.value {
            ast::Value::Number(n, _) => n.parse::<u64>().ok(),
            _ => None,
        },
        _ => None,
    };
    let (op, n) = if is_rank(left) {
        (op.clone(), number(right))
    } else if is_rank(right) {
        let flipped = match op {
            B::GtEq => B::LtEq,
            B::Gt => B::Lt,
            B::Eq => B::Eq,
            _ => return Err(refused()),
        };
        (flipped, number(left))
    } else {
        return Err(refused());
    };
    let n = n.ok_or_else(refused)?;
    let n = match op {
        B::LtEq => n,
        B::Lt => n.saturating_sub(1),
        B::Eq if n == 1 => 1,
        _ => return Err(refused()),
    };
    if n == 0 {
        return Err(sql_error(pos, "a window top-N keeps at least one row"));
    }
    Ok(n)
}

/// The model from the core and the outer query of a top-N (its items and rank limit).
fn assemble(
    mut core: Core,
    outer: Option<(Vec<Item>, u64)>,
    text: &str,
    name: &str,
) -> Result<SqlWorkload> {
    let (items, n) = match outer {
        Some((items, n)) => (items, Some(n)),
        None => (std::mem::take(&mut core.items), None),
    };
    let top = match (core.rank.take(), n) {
        (Some(r), Some(n)) => Some(TopN {
            kind: r.kind,
            n,
            partition: r.partition,
            order: r.order,
            over_rows: !core.grouped,
        }),
        (None, None) if core.plain => Some(TopN {
            kind: RankKind::RowNumber,
            n: u64::MAX,
            partition: Vec::new(),
            order: Vec::new(),
            over_rows: true,
        }),
        (None, _) => None,
        (Some(_), None) => {
            return Err(sql_error(
                Pos::default(),
                "a rank needs an outer query keeping rank <= N",
            ));
        }
    };
    let mut key_names: Vec<Option<String>> = vec![None; core.keys.len()];
    let mut outputs = Vec::new();
    let mut output_names = Vec::new();
    let mut picked: Vec<Expr> = Vec::new();
    let mut rank_name = None;
    for item in &items {
        match &item.kind {
            Kind::WindowStart | Kind::WindowEnd => {}
            Kind::Key(k) => {
                if key_names[*k].is_none() {
                    key_names[*k] = Some(item.name.clone());
                } else {
                    outputs.push(Expr::Key(*k));
                    output_names.push(item.name.clone());
                }
            }
            Kind::Value(e) => {
                outputs.push(e.clone());
                output_names.push(item.name.clone());
            }
            Kind::Raw(e) => {
                outputs.push(Expr::Agg(picked.len()));
                picked.push(e.clone());
                output_names.push(item.name.clone());
            }
            Kind::Rank => {
                rank_name = Some(item.name.clone());
                outputs.push(Expr::Rank);
                output_names.push(item.name.clone());
            }
        }
    }
    if let Some(i) = key_names.iter().position(Option::is_none) {
        return Err(sql_error(
            items.first().map(|i| i.pos).unwrap_or_default(),
            format!(
                "the group key `{:?}` must be selected (every GROUP BY column is a column of the answer)",
                core.keys[i]
            ),
        ));
    }
    let mut key_names: Vec<String> = key_names.into_iter().flatten().collect();
    if let Some(t) = top.as_ref().filter(|t| t.over_rows) {
        // A top-N over rows: one aggregate keeps the best rows (ORDER BY values, then the
        // values selected); a row's key is its rank unless one row is kept.
        let mut args: Vec<Expr> = t.order.iter().map(|(e, _)| e.clone()).collect();
        args.extend(picked);
        core.aggregates = vec![AggCall {
            func: AggFunc::Top {
                n: t.n,
                desc: t.order.iter().map(|(_, d)| *d).collect(),
            },
            args,
        }];
        if t.n > 1 {
            let name = rank_name
                .clone()
                .unwrap_or_else(|| if core.plain { "_row" } else { "rank" }.into());
            if let Some(i) = output_names.iter().position(|n| *n == name) {
                outputs.remove(i);
                output_names.remove(i);
            }
            key_names = vec![name];
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for n in key_names.iter().chain(&output_names) {
        if !seen.insert(n.as_str()) {
            return Err(sql_error(
                Pos::default(),
                format!("two columns of the answer are named {n:?}: give one an alias"),
            ));
        }
    }
    Ok(SqlWorkload {
        name: name.to_owned(),
        text: text.to_owned(),
        topic: core.topic,
        topic_names: core.topic_names,
        time_column: core.time_column,
        window: core.window,
        joins: core.joins,
        filter: core.filter,
        keys: core.keys,
        key_names,
        aggregates: core.aggregates,
        outputs,
        output_names,
        having: core.having,
        top,
    })
}
