//! Tables of partial aggregates per (window, group key), and the finished rows.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::partial::Partial;
use crate::scalar::Scalar;
use crate::window::Window;

/// The values of the group-by columns of one cell.
pub type GroupKey = Vec<Scalar>;

/// Partial aggregates per (window, key): what a batch view, a realtime view and a Kappa
/// table all store, so that any two merge without knowing which pipeline made them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "Vec<StoredCell>", into = "Vec<StoredCell>")]
pub struct PartialTable {
    cells: BTreeMap<(Window, GroupKey), Vec<Partial>>,
}

/// One cell as stored on disk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredCell {
    /// The cell's window.
    pub window: Window,
    /// The cell's group key.
    pub key: GroupKey,
    /// The cell's partials.
    pub partials: Vec<Partial>,
}

impl From<Vec<StoredCell>> for PartialTable {
    fn from(v: Vec<StoredCell>) -> Self {
        PartialTable {
            cells: v
                .into_iter()
                .map(|c| ((c.window, c.key), c.partials))
                .collect(),
        }
    }
}

impl From<PartialTable> for Vec<StoredCell> {
    fn from(t: PartialTable) -> Self {
        t.cells
            .into_iter()
            .map(|((window, key), partials)| StoredCell {
                window,
                key,
                partials,
            })
            .collect()
    }
}

impl PartialTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many cells it holds.
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// Whether it holds no cell.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// The partials of a cell, created with `empty()` when missing.
    pub fn cell_mut(
        &mut self,
        window: Window,
        key: GroupKey,
        empty: impl FnOnce() -> Vec<Partial>,
    ) -> &mut Vec<Partial> {
        self.cells.entry((window, key)).or_insert_with(empty)
    }

    /// Remove a cell; its partials, if it was there.
    pub fn remove(&mut self, window: Window, key: &GroupKey) -> Option<Vec<Partial>> {
        self.cells.remove(&(window, key.clone()))
    }

    /// The partials of a cell, if it is there.
    pub fn get(&self, window: Window, key: &GroupKey) -> Option<&Vec<Partial>> {
        self.cells.get(&(window, key.clone()))
    }

    /// Cells in (window, key) order.
    pub fn iter(&self) -> impl Iterator<Item = (&Window, &GroupKey, &Vec<Partial>)> {
        self.cells.iter().map(|((w, k), p)| (w, k, p))
    }

    /// Merge another table's cells into this one.
    pub fn merge(&mut self, other: &PartialTable) -> Result<()> {
        for ((w, k), partials) in &other.cells {
            match self.cells.get_mut(&(*w, k.clone())) {
                Some(mine) => {
                    for (a, b) in mine.iter_mut().zip(partials) {
                        a.merge(b)?;
                    }
                }
                None => {
                    self.cells.insert((*w, k.clone()), partials.clone());
                }
            }
        }
        Ok(())
    }

    /// For session windows: merge the cells of one key whose windows overlap, into one
    /// cell spanning them (`[first event, last event + gap)`), until none overlap.
    pub fn coalesce_sessions(&mut self) -> Result<()> {
        let mut by_key: BTreeMap<GroupKey, Vec<(Window, Vec<Partial>)>> = BTreeMap::new();
        for ((w, k), p) in std::mem::take(&mut self.cells) {
            by_key.entry(k).or_default().push((w, p));
        }
        for (key, mut sessions) in by_key {
            sessions.sort_by_key(|(w, _)| (w.start, w.end));
            let mut current: Option<(Window, Vec<Partial>)> = None;
            for (w, p) in sessions {
                current = match current.take() {
                    Some((mut cw, mut cp)) if w.start < cw.end => {
                        cw.end = cw.end.max(w.end);
                        for (a, b) in cp.iter_mut().zip(&p) {
                            a.merge(b)?;
                        }
                        Some((cw, cp))
                    }
                    Some(done) => {
                        self.cells.insert((done.0, key.clone()), done.1);
                        Some((w, p))
                    }
                    None => Some((w, p)),
                };
            }
            if let Some((w, p)) = current {
                self.cells.insert((w, key), p);
            }
        }
        Ok(())
    }

    /// Keep only the cells whose window satisfies `keep`.
    pub fn retain_windows(&mut self, mut keep: impl FnMut(&Window) -> bool) {
        self.cells.retain(|(w, _), _| keep(w));
    }
}

/// One finished row: a window, the group-by values, then the aggregate values.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Row {
    /// The row's window.
    pub window: Window,
    /// The values of the group-by columns.
    pub key: GroupKey,
    /// The values of the value columns.
    pub values: Vec<Scalar>,
}

/// A workload's answer: rows sorted by window, then key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultSet {
    /// Names of the group-by columns.
    pub key_columns: Vec<String>,
    /// Names of the value columns.
    pub value_columns: Vec<String>,
    /// The rows.
    pub rows: Vec<Row>,
}

/// How far one answer is from another (e.g. a pipeline's from the oracle's), per cell.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// (window, key) cells in either answer.
    pub cells: u64,
    /// Cells present in both with every value equal (floats within 1e-9 relative).
    pub exact: u64,
    /// Cells only in the expected answer.
    pub missing: u64,
    /// Cells only in the actual answer.
    pub extra: u64,
    /// Largest and mean absolute difference over numeric values of cells in both.
    pub max_abs_error: f64,
    /// Mean absolute difference over numeric values of cells in both.
    pub mean_abs_error: f64,
    /// Largest relative difference (|a − e| / |e|) over numeric values of cells in both.
    pub max_rel_error: f64,
}

impl Comparison {
    /// The fraction of cells that are exact (1 when there are none).
    pub fn exact_fraction(&self) -> f64 {
        if self.cells == 0 {
            1.0
        } else {
            self.exact as f64 / self.cells as f64
        }
    }

    /// Whether every cell is exact.
    pub fn is_exact(&self) -> bool {
        self.exact == self.cells
    }
}

/// Floats closer than this (relatively) count as equal: sums of floats in a different
/// order may differ in the last bits.
pub const FLOAT_TOLERANCE: f64 = 1e-9;

fn values_equal(a: &Scalar, b: &Scalar) -> bool {
    match (a, b) {
        (Scalar::Float(x), Scalar::Float(y)) => {
            x == y || (x - y).abs() <= FLOAT_TOLERANCE * x.abs().max(y.abs())
        }
        _ => a == b,
    }
}

/// Compare an answer with the expected one, cell by cell.
pub fn compare(expected: &ResultSet, actual: &ResultSet) -> Comparison {
    let index = |r: &ResultSet| -> BTreeMap<(Window, GroupKey), Vec<Scalar>> {
        r.rows
            .iter()
            .map(|row| ((row.window, row.key.clone()), row.values.clone()))
            .collect()
    };
    let (e, a) = (index(expected), index(actual));
    let mut c = Comparison::default();
    let mut abs_sum = 0.0;
    let mut abs_n = 0u64;
    for (cell, ev) in &e {
        c.cells += 1;
        match a.get(cell) {
            None => c.missing += 1,
            Some(av) => {
                if ev.len() == av.len() && ev.iter().zip(av).all(|(x, y)| values_equal(x, y)) {
                    c.exact += 1;
                }
                for (x, y) in ev.iter().zip(av) {
                    if let (Some(x), Some(y)) = (x.as_f64(), y.as_f64()) {
                        let d = (x - y).abs();
                        c.max_abs_error = c.max_abs_error.max(d);
                        if x != 0.0 {
                            c.max_rel_error = c.max_rel_error.max(d / x.abs());
                        }
                        abs_sum += d;
                        abs_n += 1;
                    }
                }
            }
        }
    }
    for cell in a.keys() {
        if !e.contains_key(cell) {
            c.cells += 1;
            c.extra += 1;
        }
    }
    c.mean_abs_error = if abs_n == 0 {
        0.0
    } else {
        abs_sum / abs_n as f64
    };
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: i64, e: i64) -> Window {
        Window { start: s, end: e }
    }

    #[test]
    fn merge_adds_cells_and_combines_existing() {
        let mut a = PartialTable::new();
        a.cell_mut(w(0, 10), vec![Scalar::Int(1)], || vec![Partial::Count(0)])[0] =
            Partial::Count(2);
        let mut b = PartialTable::new();
        b.cell_mut(w(0, 10), vec![Scalar::Int(1)], || vec![Partial::Count(3)]);
        b.cell_mut(w(10, 20), vec![Scalar::Int(1)], || vec![Partial::Count(1)]);
        a.merge(&b).unwrap();
        let cells: Vec<_> = a.iter().map(|(w, _, p)| (w.start, p[0].clone())).collect();
        assert_eq!(cells, vec![(0, Partial::Count(5)), (10, Partial::Count(1))]);
    }

    #[test]
    fn sessions_coalesce_across_halves() {
        // Events at 0 and 4 (gap 5) in one half, 8 in the other, and 20 alone.
        let mut t = PartialTable::new();
        for (s, n) in [(0, 1), (4, 1), (8, 1), (20, 1)] {
            t.cell_mut(w(s, s + 5), vec![Scalar::Str("k".into())], || {
                vec![Partial::Count(n)]
            });
        }
        t.coalesce_sessions().unwrap();
        let cells: Vec<_> = t
            .iter()
            .map(|(w, _, p)| (w.start, w.end, p[0].clone()))
            .collect();
        assert_eq!(
            cells,
            vec![(0, 13, Partial::Count(3)), (20, 25, Partial::Count(1))]
        );
    }

    #[test]
    fn stored_form_roundtrips() {
        let mut t = PartialTable::new();
        t.cell_mut(
            w(0, 10),
            vec![Scalar::Str("a".into()), Scalar::Null],
            || vec![Partial::Count(2), Partial::Max(Some(Scalar::Float(1.5)))],
        );
        let json = serde_json::to_string(&t).unwrap();
        let back: PartialTable = serde_json::from_str(&json).unwrap();
        assert_eq!(back, t);
    }

    #[test]
    fn comparison_counts_cells_and_errors() {
        let rs = |rows: Vec<(i64, i64, f64)>| ResultSet {
            key_columns: vec!["k".into()],
            value_columns: vec!["v".into()],
            rows: rows
                .into_iter()
                .map(|(s, k, v)| Row {
                    window: w(s, s + 10),
                    key: vec![Scalar::Int(k)],
                    values: vec![Scalar::Float(v)],
                })
                .collect(),
        };
        let e = rs(vec![(0, 1, 10.0), (0, 2, 4.0), (10, 1, 1.0)]);
        let a = rs(vec![(0, 1, 10.0 + 1e-12), (0, 2, 5.0), (20, 1, 1.0)]);
        let c = compare(&e, &a);
        assert_eq!((c.cells, c.exact, c.missing, c.extra), (4, 1, 1, 1));
        assert!((c.max_abs_error - 1.0).abs() < 1e-9);
        assert!((c.max_rel_error - 0.25).abs() < 1e-9);
        assert!(compare(&e, &e).is_exact());
    }
}
