//! From merged partials to the rows of a SQL workload: each cell's values (window,
//! keys, aggregates), HAVING, the top-N ranking per window, then the SELECT list.

use std::collections::BTreeMap;

use crate::error::Result;
use crate::partial::{Partial, sql_order};
use crate::scalar::Scalar;
use crate::sql::expr::{Expr, truth};
use crate::sql::model::{RankKind, SqlWorkload, TopN};
use crate::table::{GroupKey, PartialTable, Row};
use crate::window::Window;

/// A cell before its outputs: its window, key and values `[ws, we, keys…, aggs…]`.
type Cell = (Window, GroupKey, Vec<Scalar>);

/// The cells of each (window, partition keys) of a top-N, each with its ORDER BY values.
type Groups = BTreeMap<(Window, GroupKey), Vec<(Vec<Scalar>, Cell)>>;

fn ts(ms: i64) -> Scalar {
    Scalar::Timestamp(ms.saturating_mul(1000))
}

impl SqlWorkload {
    /// The rows of a table of merged partials (sessions already coalesced), unsorted.
    pub(crate) fn finish_rows(&self, table: &PartialTable) -> Result<Vec<Row>> {
        let outputs: Vec<Expr> = self
            .outputs
            .iter()
            .map(|e| self.bind_result(e))
            .collect::<Result<_>>()?;
        let emit = |w: Window, key: GroupKey, vals: &[Scalar]| -> Result<Row> {
            Ok(Row {
                window: w,
                key,
                values: outputs
                    .iter()
                    .map(|o| o.eval(vals))
                    .collect::<Result<_>>()?,
            })
        };
        if let Some(t) = self.top.as_ref().filter(|t| t.over_rows) {
            let mut rows = Vec::new();
            for (w, _, partials) in table.iter() {
                let Some(Partial::Top(top)) = partials.first() else {
                    continue;
                };
                for (i, r) in top.rows.iter().enumerate() {
                    let rank = Scalar::Int(i as i64 + 1);
                    let mut vals = vec![ts(w.start), ts(w.end)];
                    vals.extend(r[t.order.len()..].iter().cloned());
                    vals.push(rank.clone());
                    let key = if t.n > 1 { vec![rank] } else { vec![] };
                    rows.push(emit(*w, key, &vals)?);
                }
            }
            return Ok(rows);
        }
        let having = self
            .having
            .as_ref()
            .map(|h| self.bind_result(h))
            .transpose()?;
        let mut cells: Vec<Cell> = Vec::with_capacity(table.len());
        for (w, k, partials) in table.iter() {
            let mut vals = vec![ts(w.start), ts(w.end)];
            vals.extend(k.iter().cloned());
            vals.extend(
                self.aggregates
                    .iter()
                    .zip(partials)
                    .map(|(a, p)| a.finish(p)),
            );
            if let Some(h) = &having
                && truth(&h.eval(&vals)?)? != Some(true)
            {
                continue;
            }
            cells.push((*w, k.clone(), vals));
        }
        if let Some(t) = &self.top {
            cells = self.ranked(t, cells)?;
        }
        cells
            .into_iter()
            .map(|(w, k, vals)| emit(w, k, &vals))
            .collect()
    }

    /// The cells of each window (and partition keys) ranked by the top-N's ORDER BY
    /// (ties by the key, ascending), those ranked at most `n` kept with their rank.
    fn ranked(&self, t: &TopN, cells: Vec<Cell>) -> Result<Vec<Cell>> {
        let order: Vec<Expr> = t
            .order
            .iter()
            .map(|(e, _)| self.bind_result(e))
            .collect::<Result<_>>()?;
        let desc: Vec<bool> = t.order.iter().map(|(_, d)| *d).collect();
        let mut groups = Groups::new();
        for cell in cells {
            let part: GroupKey = t.partition.iter().map(|&i| cell.1[i].clone()).collect();
            let by: Vec<Scalar> = order
                .iter()
                .map(|o| o.eval(&cell.2))
                .collect::<Result<_>>()?;
            groups.entry((cell.0, part)).or_default().push((by, cell));
        }
        let mut out = Vec::new();
        for (_, mut members) in groups {
            members.sort_by(|a, b| sql_order(&a.0, &b.0, &desc).then_with(|| a.1.1.cmp(&b.1.1)));
            let (mut rank, mut dense) = (0u64, 0u64);
            let mut prev: Option<Vec<Scalar>> = None;
            for (i, (by, mut cell)) in members.into_iter().enumerate() {
                let tied = prev
                    .as_ref()
                    .is_some_and(|p| sql_order(p, &by, &desc).is_eq());
                if !tied {
                    rank = i as u64 + 1;
                    dense += 1;
                }
                prev = Some(by);
                let r = match t.kind {
                    RankKind::RowNumber => i as u64 + 1,
                    RankKind::Rank => rank,
                    RankKind::DenseRank => dense,
                };
                // Ranks only grow along the order: past `n`, no later cell is kept.
                if r > t.n {
                    break;
                }
                cell.2.push(Scalar::from(r));
                out.push(cell);
            }
        }
        Ok(out)
    }
}
