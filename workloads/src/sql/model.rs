//! The model of a SQL workload: what the query reads, how it groups, what it outputs.

use crate::error::{Result, WorkloadError};
use crate::partial::Partial;
use crate::sql::agg::AggCall;
use crate::sql::expr::{ColumnRef, Expr};
use crate::window::WindowSpec;

/// How a top-N numbers the rows of a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RankKind {
    /// `ROW_NUMBER()`: 1, 2, 3, … (ties by the group key, ascending).
    RowNumber,
    /// `RANK()`: ties share a rank, the next rank skips.
    Rank,
    /// `DENSE_RANK()`: ties share a rank, the next rank follows.
    DenseRank,
}

/// A window top-N: rank per window (and `partition` keys) by `order`, keep rank ≤ `n`.
#[derive(Debug, Clone, PartialEq)]
pub struct TopN {
    /// How rows are numbered.
    pub kind: RankKind,
    /// How many ranks are kept.
    pub n: u64,
    /// Group keys (indexes) that partition a window's rows besides the window.
    pub partition: Vec<usize>,
    /// The ORDER BY: result expressions (row expressions when `over_rows`), descending.
    pub order: Vec<(Expr, bool)>,
    /// The query ranks the window's rows rather than grouped cells: then the one
    /// aggregate is a [`AggFunc::Top`](crate::sql::AggFunc::Top) keeping the best rows, and result expressions see
    /// a kept row's selected values as `Agg(i)`.
    pub over_rows: bool,
}

/// A side table joined to the stream: `[LEFT] JOIN table [AS alias] ON … = alias.col`.
#[derive(Debug, Clone, PartialEq)]
pub struct SideJoin {
    /// The table's name: the file `<topic>.<table>.csv` (or `<table>.csv`) among the
    /// dataset sidecars.
    pub table: String,
    /// The names it goes by in the query (its name, its alias).
    pub names: Vec<String>,
    /// A LEFT JOIN (an event without a match keeps nulls) rather than an inner one (an
    /// event without a match is left out).
    pub left: bool,
    /// The equalities: a row expression of the stream, and the side table's column.
    pub on: Vec<(Expr, String)>,
}

/// A workload written in SQL.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlWorkload {
    /// The workload's name (a file's stem, a registered name, or `sql-<hash>`).
    pub name: String,
    /// The SQL text.
    pub text: String,
    /// The topic the window table function reads.
    pub topic: String,
    /// The names the topic goes by in the query (its name, its alias).
    pub topic_names: Vec<String>,
    /// The time column the windows are over (the topic's event time).
    pub time_column: ColumnRef,
    /// The windows.
    pub window: WindowSpec,
    /// The side tables, in join order.
    pub joins: Vec<SideJoin>,
    /// WHERE, a row expression.
    pub filter: Option<Expr>,
    /// The GROUP BY keys besides the window, row expressions.
    pub keys: Vec<Expr>,
    /// The keys' column names in the answer.
    pub key_names: Vec<String>,
    /// The aggregates, one partial each.
    pub aggregates: Vec<AggCall>,
    /// The answer's value columns, result expressions.
    pub outputs: Vec<Expr>,
    /// Their names.
    pub output_names: Vec<String>,
    /// HAVING, a result expression.
    pub having: Option<Expr>,
    /// A window top-N.
    pub top: Option<TopN>,
}

impl SqlWorkload {
    /// The partials of a new cell.
    pub fn empty_partials(&self) -> Vec<Partial> {
        self.aggregates.iter().map(AggCall::empty).collect()
    }

    /// Every row expression: the join keys, the filter, the keys, the aggregates'
    /// arguments.
    pub fn row_exprs(&self) -> Vec<&Expr> {
        let mut out: Vec<&Expr> = self
            .joins
            .iter()
            .flat_map(|j| j.on.iter().map(|(e, _)| e))
            .collect();
        out.extend(&self.filter);
        out.extend(&self.keys);
        out.extend(self.aggregates.iter().flat_map(|a| &a.args));
        out
    }

    /// Every result expression: the outputs, HAVING, a top-N's ORDER BY (unless it ranks
    /// rows).
    pub fn result_exprs(&self) -> Vec<&Expr> {
        let mut out: Vec<&Expr> = self.outputs.iter().collect();
        out.extend(&self.having);
        if let Some(t) = self.top.as_ref().filter(|t| !t.over_rows) {
            out.extend(t.order.iter().map(|(e, _)| e));
        }
        out
    }

    /// Where a result expression's leaves are in the row of a cell: `[window_start,
    /// window_end, keys…, aggregates…, rank]` (a top-N over rows: `[window_start,
    /// window_end, selected values…, rank]`).
    pub fn bind_result(&self, e: &Expr) -> Result<Expr> {
        let k = self.keys.len();
        let a = match self.top.as_ref().filter(|t| t.over_rows) {
            Some(t) => self.aggregates[0].args.len() - t.order.len(),
            None => self.aggregates.len(),
        };
        e.map_leaves(&mut |x| {
            Ok(match x {
                Expr::WindowStart => Some(Expr::Slot(0)),
                Expr::WindowEnd => Some(Expr::Slot(1)),
                Expr::Key(i) => Some(Expr::Slot(2 + i)),
                Expr::Agg(i) => Some(Expr::Slot(2 + k + i)),
                Expr::Rank => Some(Expr::Slot(2 + k + a)),
                Expr::Column(c) => {
                    return Err(WorkloadError::Sql {
                        line: c.pos.line,
                        column: c.pos.column,
                        message: format!("column {c} is not a column of the result"),
                    });
                }
                _ => None,
            })
        })
    }
}
