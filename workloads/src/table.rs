//! Tables of partial aggregates per (window, group key), and the finished rows.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::partial::Partial;
use crate::scalar::Scalar;
use crate::window::Window;

/// The values of the group-by columns of one cell.
pub type GroupKey = Vec<Scalar>;

/// Partial aggregates per (window, key): what a batch view, a realtime view and a Kappa
/// table all store, so that any two merge without knowing which pipeline made them.
///
/// Kept by window, then by key: a window's cells come and go together in the pipelines
/// (a batch recompute, a stream task finalizing a window), so moving a window's cells
/// from one table into another ([`PartialTable::merge_from`]) is one step per window
/// when the other table does not have it yet, and a cell is looked up among its own
/// window's cells only. No window is ever kept without a cell, so two tables with the
/// same cells are equal.
///
/// Stored as a sequence of [`StoredCell`]s, in (window, key) order; written from the
/// cells where they are (no copy of the table is made to write it).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(from = "Vec<StoredCell>")]
pub struct PartialTable {
    windows: BTreeMap<Window, WindowCells>,
    /// The number of cells, over all windows.
    len: usize,
}

/// The cells of one window, by key.
type WindowCells = BTreeMap<GroupKey, Vec<Partial>>;

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
        let mut t = PartialTable::new();
        for c in v {
            *t.cell_mut(c.window, c.key, Vec::new) = c.partials;
        }
        t
    }
}

/// A [`StoredCell`] borrowed from a table: the same fields in the same order, so that it
/// serializes exactly as the owned one does.
#[derive(Serialize)]
#[serde(rename = "StoredCell")]
struct StoredCellRef<'a> {
    window: &'a Window,
    key: &'a GroupKey,
    partials: &'a Vec<Partial>,
}

impl Serialize for PartialTable {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq as _;
        // The length first (postcard needs it; the cells' iterator does not know it).
        let mut seq = serializer.serialize_seq(Some(self.len))?;
        for (window, key, partials) in self.iter() {
            seq.serialize_element(&StoredCellRef {
                window,
                key,
                partials,
            })?;
        }
        seq.end()
    }
}

impl From<PartialTable> for Vec<StoredCell> {
    fn from(t: PartialTable) -> Self {
        let mut out = Vec::with_capacity(t.len);
        for (window, cells) in t.windows {
            out.extend(cells.into_iter().map(|(key, partials)| StoredCell {
                window,
                key,
                partials,
            }));
        }
        out
    }
}

/// Merge `theirs` into the partials `mine` of the same cell.
fn merge_partials(mine: &mut [Partial], theirs: &[Partial]) -> Result<()> {
    for (a, b) in mine.iter_mut().zip(theirs) {
        a.merge(b)?;
    }
    Ok(())
}

impl PartialTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many cells it holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds no cell.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A table of one window's cells, given in any order: built at once (sorted, then
    /// laid out), not cell by cell. Of a key given twice, the last partials count.
    pub fn of_window(
        window: Window,
        cells: impl IntoIterator<Item = (GroupKey, Vec<Partial>)>,
    ) -> Self {
        let cells: WindowCells = cells.into_iter().collect();
        let len = cells.len();
        let mut windows = BTreeMap::new();
        if len > 0 {
            windows.insert(window, cells);
        }
        PartialTable { windows, len }
    }

    /// The partials of a cell, created with `empty()` when missing.
    pub fn cell_mut(
        &mut self,
        window: Window,
        key: GroupKey,
        empty: impl FnOnce() -> Vec<Partial>,
    ) -> &mut Vec<Partial> {
        match self.windows.entry(window).or_default().entry(key) {
            Entry::Occupied(cell) => cell.into_mut(),
            Entry::Vacant(slot) => {
                self.len += 1;
                slot.insert(empty())
            }
        }
    }

    /// Remove a cell; its partials, if it was there.
    pub fn remove(&mut self, window: Window, key: &GroupKey) -> Option<Vec<Partial>> {
        let cells = self.windows.get_mut(&window)?;
        let partials = cells.remove(key)?;
        if cells.is_empty() {
            self.windows.remove(&window);
        }
        self.len -= 1;
        Some(partials)
    }

    /// The partials of a cell, if it is there.
    pub fn get(&self, window: Window, key: &[Scalar]) -> Option<&Vec<Partial>> {
        self.windows.get(&window)?.get(key)
    }

    /// Cells in (window, key) order.
    pub fn iter(&self) -> impl Iterator<Item = (&Window, &GroupKey, &Vec<Partial>)> {
        self.windows
            .iter()
            .flat_map(|(w, cells)| cells.iter().map(move |(k, p)| (w, k, p)))
    }

    /// The windows that have cells, in order.
    pub fn windows(&self) -> impl DoubleEndedIterator<Item = &Window> {
        self.windows.keys()
    }

    /// The cells of one window, in key order (none when it has none).
    pub fn window_cells(
        &self,
        window: Window,
    ) -> impl Iterator<Item = (&Window, &GroupKey, &Vec<Partial>)> {
        self.windows
            .range(window..=window)
            .flat_map(|(w, cells)| cells.iter().map(move |(k, p)| (w, k, p)))
    }

    /// Merge another table's cells into this one.
    pub fn merge(&mut self, other: &PartialTable) -> Result<()> {
        if self.is_empty() {
            self.clone_from(other);
            return Ok(());
        }
        for (w, theirs) in &other.windows {
            let Some(mine) = self.windows.get_mut(w) else {
                self.windows.insert(*w, theirs.clone());
                self.len += theirs.len();
                continue;
            };
            for (k, partials) in theirs {
                match mine.entry(k.clone()) {
                    Entry::Occupied(mut cell) => merge_partials(cell.get_mut(), partials)?,
                    Entry::Vacant(slot) => {
                        slot.insert(partials.clone());
                        self.len += 1;
                    }
                }
            }
        }
        Ok(())
    }

    /// Merge another table's cells into this one, taking them: as [`PartialTable::merge`],
    /// without copying a cell (a window this table does not have moves over whole).
    pub fn merge_from(&mut self, other: PartialTable) -> Result<()> {
        if self.is_empty() {
            *self = other;
            return Ok(());
        }
        for (w, theirs) in other.windows {
            let mine = match self.windows.entry(w) {
                Entry::Vacant(slot) => {
                    self.len += theirs.len();
                    slot.insert(theirs);
                    continue;
                }
                Entry::Occupied(mine) => mine.into_mut(),
            };
            for (k, partials) in theirs {
                match mine.entry(k) {
                    Entry::Occupied(mut cell) => merge_partials(cell.get_mut(), &partials)?,
                    Entry::Vacant(slot) => {
                        slot.insert(partials);
                        self.len += 1;
                    }
                }
            }
        }
        Ok(())
    }

    /// For session windows: merge the cells of one key whose windows overlap, into one
    /// cell spanning them (`[first event, last event + gap)`), until none overlap.
    pub fn coalesce_sessions(&mut self) -> Result<()> {
        let mut by_key: BTreeMap<GroupKey, Vec<(Window, Vec<Partial>)>> = BTreeMap::new();
        for cell in Vec::<StoredCell>::from(std::mem::take(self)) {
            by_key
                .entry(cell.key)
                .or_default()
                .push((cell.window, cell.partials));
        }
        for (key, mut sessions) in by_key {
            sessions.sort_by_key(|(w, _)| (w.start, w.end));
            let mut current: Option<(Window, Vec<Partial>)> = None;
            for (w, p) in sessions {
                current = match current.take() {
                    Some((mut cw, mut cp)) if w.start < cw.end => {
                        cw.end = cw.end.max(w.end);
                        merge_partials(&mut cp, &p)?;
                        Some((cw, cp))
                    }
                    Some(done) => {
                        *self.cell_mut(done.0, key.clone(), Vec::new) = done.1;
                        Some((w, p))
                    }
                    None => Some((w, p)),
                };
            }
            if let Some((w, p)) = current {
                *self.cell_mut(w, key, Vec::new) = p;
            }
        }
        Ok(())
    }

    /// Keep only the cells whose group key satisfies `keep`.
    pub fn retain_keys(&mut self, mut keep: impl FnMut(&GroupKey) -> bool) {
        self.windows.retain(|_, cells| {
            cells.retain(|k, _| keep(k));
            !cells.is_empty()
        });
        self.len = self.windows.values().map(BTreeMap::len).sum();
    }

    /// Keep only the cells whose window satisfies `keep`.
    pub fn retain_windows(&mut self, mut keep: impl FnMut(&Window) -> bool) {
        self.windows.retain(|w, _| keep(w));
        self.len = self.windows.values().map(BTreeMap::len).sum();
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

/// How many missing, extra and duplicate cells a [`Comparison`] lists: the first ones, in
/// (window, key) order.
pub const LISTED_CELLS: usize = 20;

/// One cell of an answer with its values, as a [`Comparison`] lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListedCell {
    /// The cell's window.
    pub window: Window,
    /// The cell's group key.
    pub key: GroupKey,
    /// The values the answer holding the cell gives it.
    pub values: Vec<Scalar>,
}

/// Which of the two answers a comparison is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The expected answer (the oracle's).
    Expected,
    /// The answer compared with it (a pipeline's).
    Actual,
}

/// A (window, key) cell that one answer has in more than one row: an answer has one row
/// per cell, so this is a fault of the answer, never collapsed into one row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DuplicateCell {
    /// The answer with the repeated cell.
    pub answer: Side,
    /// The cell's window.
    pub window: Window,
    /// The cell's group key.
    pub key: GroupKey,
    /// The values of each of its rows, in the answer's order.
    pub rows: Vec<Vec<Scalar>>,
}

/// How far one answer is from another (e.g. a pipeline's from the oracle's), per cell.
///
/// A cell that either answer holds in more than one row is a *duplicate*: counted in
/// [`Comparison::duplicates`], listed, never exact (its first rows are the ones the error
/// figures use), and the comparison is not exact.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// (window, key) cells in either answer.
    pub cells: u64,
    /// (window, key) cells in the expected answer.
    #[serde(default)]
    pub expected_cells: u64,
    /// Cells present in both with every value equal (floats within 1e-9 relative), each
    /// in one row of each answer.
    pub exact: u64,
    /// Cells only in the expected answer.
    pub missing: u64,
    /// Cells only in the actual answer.
    pub extra: u64,
    /// Rows, of either answer, whose cell an earlier row of the same answer already has.
    #[serde(default)]
    pub duplicates: u64,
    /// Largest and mean absolute difference over numeric values of cells in both.
    pub max_abs_error: f64,
    /// Mean absolute difference over numeric values of cells in both.
    pub mean_abs_error: f64,
    /// Largest relative difference (|a − e| / |e|) over numeric values of cells in both.
    pub max_rel_error: f64,
    /// The first [`LISTED_CELLS`] missing cells, with the expected values.
    #[serde(default)]
    pub missing_cells: Vec<ListedCell>,
    /// The first [`LISTED_CELLS`] extra cells, with the actual answer's values.
    #[serde(default)]
    pub extra_cells: Vec<ListedCell>,
    /// The first [`LISTED_CELLS`] duplicate cells (the expected answer's first), with
    /// the values of every row.
    #[serde(default)]
    pub duplicate_cells: Vec<DuplicateCell>,
}

impl Comparison {
    /// The fraction of cells that are exact; `None` (not applicable) when the expected
    /// answer has no cell, so that an empty expectation never reads as "all exact".
    pub fn exact_fraction(&self) -> Option<f64> {
        (self.expected_cells > 0).then(|| self.exact as f64 / self.cells as f64)
    }

    /// Whether every cell is exact and no answer repeats a cell (vacuously true of two
    /// empty answers: check [`Comparison::exact_fraction`] for that).
    pub fn is_exact(&self) -> bool {
        self.exact == self.cells && self.duplicates == 0
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

/// The rows of each cell of an answer, in the answer's order.
type Cells<'r> = BTreeMap<(Window, &'r GroupKey), Vec<&'r Vec<Scalar>>>;

/// Index an answer by cell; count and list the cells it holds more than once.
fn cells_of<'r>(answer: &'r ResultSet, side: Side, c: &mut Comparison) -> Cells<'r> {
    let mut cells: Cells<'r> = BTreeMap::new();
    for row in &answer.rows {
        cells
            .entry((row.window, &row.key))
            .or_default()
            .push(&row.values);
    }
    for ((window, key), rows) in &cells {
        if rows.len() > 1 {
            c.duplicates += rows.len() as u64 - 1;
            if c.duplicate_cells.len() < LISTED_CELLS {
                c.duplicate_cells.push(DuplicateCell {
                    answer: side,
                    window: *window,
                    key: (*key).clone(),
                    rows: rows.iter().map(|v| (*v).clone()).collect(),
                });
            }
        }
    }
    cells
}

/// Add `cell` to `list` unless it holds [`LISTED_CELLS`] already.
fn list(list: &mut Vec<ListedCell>, window: Window, key: &GroupKey, values: &[Scalar]) {
    if list.len() < LISTED_CELLS {
        list.push(ListedCell {
            window,
            key: key.clone(),
            values: values.to_vec(),
        });
    }
}

/// Compare an answer with the expected one, cell by cell.
pub fn compare(expected: &ResultSet, actual: &ResultSet) -> Comparison {
    let mut c = Comparison::default();
    let e = cells_of(expected, Side::Expected, &mut c);
    let a = cells_of(actual, Side::Actual, &mut c);
    let mut abs_sum = 0.0;
    let mut abs_n = 0u64;
    for (&(window, key), e_rows) in &e {
        c.cells += 1;
        c.expected_cells += 1;
        let ev = e_rows[0];
        let Some(a_rows) = a.get(&(window, key)) else {
            c.missing += 1;
            list(&mut c.missing_cells, window, key, ev);
            continue;
        };
        let av = a_rows[0];
        let single = e_rows.len() == 1 && a_rows.len() == 1;
        if single && ev.len() == av.len() && ev.iter().zip(av).all(|(x, y)| values_equal(x, y)) {
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
    for (&(window, key), a_rows) in &a {
        if !e.contains_key(&(window, key)) {
            c.cells += 1;
            c.extra += 1;
            list(&mut c.extra_cells, window, key, a_rows[0]);
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
        let mut taken = a.clone();
        a.merge(&b).unwrap();
        let cells: Vec<_> = a.iter().map(|(w, _, p)| (w.start, p[0].clone())).collect();
        assert_eq!(cells, vec![(0, Partial::Count(5)), (10, Partial::Count(1))]);
        // Taking the other table's cells gives the same table; into an empty one, its cells.
        taken.merge_from(b.clone()).unwrap();
        assert_eq!(taken, a);
        let mut empty = PartialTable::new();
        empty.merge(&b).unwrap();
        assert_eq!(empty, b);
        let mut empty = PartialTable::new();
        empty.merge_from(b.clone()).unwrap();
        assert_eq!(empty, b);
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
    fn a_table_emptied_of_a_window_equals_one_built_without_it() {
        let build = |cells: &[(i64, i64)]| {
            let mut t = PartialTable::new();
            for &(start, k) in cells {
                t.cell_mut(w(start, start + 10), vec![Scalar::Int(k)], || {
                    vec![Partial::Count(1)]
                });
            }
            t
        };
        let mut t = build(&[(0, 1), (0, 2), (10, 1), (20, 3)]);
        assert_eq!(t.len(), 4);
        assert_eq!(
            t.remove(w(10, 20), &vec![Scalar::Int(1)]),
            Some(vec![Partial::Count(1)])
        );
        assert_eq!(t.remove(w(10, 20), &vec![Scalar::Int(1)]), None);
        assert_eq!(t, build(&[(0, 1), (0, 2), (20, 3)]));
        t.retain_keys(|k| k[0] != Scalar::Int(3));
        assert_eq!(t, build(&[(0, 1), (0, 2)]));
        assert_eq!(t.windows().count(), 1);
        t.retain_windows(|w| w.start > 0);
        assert_eq!((t.len(), t.is_empty()), (0, true));
        assert_eq!(t, PartialTable::new());
    }

    #[test]
    fn a_window_moves_into_a_table_whole_or_merges_cell_by_cell() {
        let mut a = PartialTable::new();
        a.cell_mut(w(0, 10), vec![Scalar::Int(1)], || vec![Partial::Count(2)]);
        let mut b = PartialTable::new();
        b.cell_mut(w(0, 10), vec![Scalar::Int(1)], || vec![Partial::Count(3)]);
        b.cell_mut(w(0, 10), vec![Scalar::Int(2)], || vec![Partial::Count(4)]);
        b.cell_mut(w(10, 20), vec![Scalar::Int(1)], || vec![Partial::Count(5)]);
        let mut by_ref = a.clone();
        by_ref.merge(&b).unwrap();
        a.merge_from(b).unwrap();
        assert_eq!(a, by_ref);
        assert_eq!(a.len(), 3);
        let cells: Vec<_> = a
            .window_cells(w(0, 10))
            .map(|(w, k, p)| (w.start, k[0].clone(), p[0].clone()))
            .collect();
        assert_eq!(
            cells,
            vec![
                (0, Scalar::Int(1), Partial::Count(5)),
                (0, Scalar::Int(2), Partial::Count(4))
            ]
        );
        assert_eq!(a.window_cells(w(5, 15)).count(), 0);
        assert_eq!(
            a.get(w(10, 20), &[Scalar::Int(1)]),
            Some(&vec![Partial::Count(5)])
        );
    }

    #[test]
    fn a_table_of_one_window_holds_its_cells_in_key_order_as_if_added_one_by_one() {
        let cells = [(3, 30), (1, 10), (2, 20), (1, 11)];
        let mut one_by_one = PartialTable::new();
        for (k, n) in cells {
            *one_by_one.cell_mut(w(0, 10), vec![Scalar::Int(k)], Vec::new) =
                vec![Partial::Count(n)];
        }
        let at_once = PartialTable::of_window(
            w(0, 10),
            cells.map(|(k, n)| (vec![Scalar::Int(k)], vec![Partial::Count(n)])),
        );
        assert_eq!(at_once, one_by_one);
        assert_eq!(at_once.len(), 3);
        let keys: Vec<_> = at_once.iter().map(|(_, k, _)| k[0].clone()).collect();
        assert_eq!(keys, [1, 2, 3].map(Scalar::Int));
        // No cell, no window.
        let empty = PartialTable::of_window(w(0, 10), []);
        assert_eq!(empty, PartialTable::new());
        assert_eq!(empty.windows().count(), 0);
    }

    #[test]
    fn a_table_is_written_as_its_stored_cells() {
        let mut t = PartialTable::new();
        t.cell_mut(w(0, 10), vec![Scalar::Str("a".into())], || {
            vec![Partial::Count(2)]
        });
        t.cell_mut(w(0, 10), vec![Scalar::Int(3)], || vec![Partial::Count(1)]);
        t.cell_mut(w(10, 20), vec![], || vec![Partial::Count(7)]);
        let cells: Vec<StoredCell> = t.clone().into();
        assert_eq!(
            postcard::to_stdvec(&t).unwrap(),
            postcard::to_stdvec(&cells).unwrap()
        );
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            serde_json::to_string(&cells).unwrap()
        );
        let back: PartialTable = postcard::from_bytes(&postcard::to_stdvec(&t).unwrap()).unwrap();
        assert_eq!(back, t);
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

    fn answer(rows: &[(i64, i64, i64)]) -> ResultSet {
        ResultSet {
            key_columns: vec!["k".into()],
            value_columns: vec!["v".into()],
            rows: rows
                .iter()
                .map(|&(s, k, v)| Row {
                    window: w(s, s + 10),
                    key: vec![Scalar::Int(k)],
                    values: vec![Scalar::Int(v)],
                })
                .collect(),
        }
    }

    #[test]
    fn a_repeated_cell_is_a_duplicate_not_collapsed() {
        let e = answer(&[(0, 1, 5), (0, 2, 6)]);
        // The repeated row has the same values: collapsing it would look exact.
        let a = answer(&[(0, 1, 5), (0, 1, 5), (0, 2, 6)]);
        let c = compare(&e, &a);
        assert!(!c.is_exact(), "{c:?}");
        assert_eq!((c.cells, c.exact, c.duplicates), (2, 1, 1));
        assert_eq!(
            c.duplicate_cells,
            vec![DuplicateCell {
                answer: Side::Actual,
                window: w(0, 10),
                key: vec![Scalar::Int(1)],
                rows: vec![vec![Scalar::Int(5)], vec![Scalar::Int(5)]],
            }]
        );
        // In the expected answer too.
        let c = compare(&a, &e);
        assert!(!c.is_exact());
        assert_eq!(c.duplicate_cells[0].answer, Side::Expected);
    }

    #[test]
    fn no_expected_cell_is_not_applicable_rather_than_all_exact() {
        let empty = answer(&[]);
        assert_eq!(compare(&empty, &empty).exact_fraction(), None);
        let c = compare(&empty, &answer(&[(0, 1, 1)]));
        assert_eq!((c.exact_fraction(), c.extra), (None, 1));
        let e = answer(&[(0, 1, 1), (0, 2, 2)]);
        assert_eq!(
            compare(&e, &answer(&[(0, 1, 1)])).exact_fraction(),
            Some(0.5)
        );
        assert_eq!(compare(&e, &e).exact_fraction(), Some(1.0));
    }

    #[test]
    fn missing_and_extra_cells_are_listed_with_values_up_to_the_limit() {
        let e: Vec<(i64, i64, i64)> = (0..30).map(|k| (0, k, k * 10)).collect();
        let a: Vec<(i64, i64, i64)> = (100..125).map(|k| (10, k, k)).collect();
        let c = compare(&answer(&e), &answer(&a));
        assert_eq!((c.missing, c.extra), (30, 25));
        assert_eq!((c.missing_cells.len(), c.extra_cells.len()), (20, 20));
        assert_eq!(
            c.missing_cells[3],
            ListedCell {
                window: w(0, 10),
                key: vec![Scalar::Int(3)],
                values: vec![Scalar::Int(30)],
            }
        );
        assert_eq!(c.extra_cells[0].window, w(10, 20));
        assert_eq!(c.extra_cells[19].values, vec![Scalar::Int(119)]);
        // Cells in both are never listed.
        let c = compare(
            &answer(&[(0, 1, 1), (0, 2, 2)]),
            &answer(&[(0, 1, 1), (0, 3, 3)]),
        );
        assert_eq!(c.missing_cells.len() + c.extra_cells.len(), 2);
        assert_eq!(c.missing_cells[0].key, vec![Scalar::Int(2)]);
        assert_eq!(c.extra_cells[0].key, vec![Scalar::Int(3)]);
    }
}
