//! The cells of two tables side by side ([`joined_cells`]), and a part's cells held in
//! two tables encoded as one ([`MergedCells`]): what a table write encodes from the
//! job's tables without copying them.

use serde::Serialize;
use workloads::{GroupKey, Partial, PartialTable, Window};

/// One side or both of [`joined_cells`]: a cell of the first table, of the second, or of
/// both.
pub(crate) enum Joined<'a> {
    /// Only in the first table.
    Left(&'a Vec<Partial>),
    /// Only in the second table.
    Right(&'a Vec<Partial>),
    /// In both.
    Both(&'a Vec<Partial>, &'a Vec<Partial>),
}

/// The cells of two tables side by side, in (window, key) order: one walk over both,
/// without a lookup or a copy of a key.
pub(crate) fn joined_cells<'a>(
    a: &'a PartialTable,
    b: &'a PartialTable,
) -> impl Iterator<Item = (&'a Window, &'a GroupKey, Joined<'a>)> {
    let mut a = a.iter().peekable();
    let mut b = b.iter().peekable();
    std::iter::from_fn(move || {
        let order = match (a.peek(), b.peek()) {
            (None, None) => return None,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some((wa, ka, _)), Some((wb, kb, _))) => (wa, ka).cmp(&(wb, kb)),
        };
        Some(match order {
            std::cmp::Ordering::Less => a.next().map(|(w, k, p)| (w, k, Joined::Left(p)))?,
            std::cmp::Ordering::Greater => b.next().map(|(w, k, p)| (w, k, Joined::Right(p)))?,
            std::cmp::Ordering::Equal => {
                let (w, k, pa) = a.next()?;
                let (_, _, pb) = b.next()?;
                (w, k, Joined::Both(pa, pb))
            }
        })
    })
}

/// The cells of a part held in two tables (its closed windows' and its open ones'),
/// encoded exactly as the one table [`PartialTable::merge`] makes of them, without
/// building it: only a cell in both is merged, into a copy of its own.
pub(crate) struct MergedCells<'a>(pub &'a PartialTable, pub &'a PartialTable);

impl Serialize for MergedCells<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::{Error as _, SerializeSeq as _};
        let n = joined_cells(self.0, self.1).count();
        let mut seq = s.serialize_seq(Some(n))?;
        for (w, k, cell) in joined_cells(self.0, self.1) {
            // A struct is written as its fields in order: as `StoredCell` is.
            match cell {
                Joined::Left(p) | Joined::Right(p) => seq.serialize_element(&(w, k, p))?,
                Joined::Both(a, b) => {
                    let mut merged = a.clone();
                    for (x, y) in merged.iter_mut().zip(b) {
                        x.merge(y).map_err(S::Error::custom)?;
                    }
                    seq.serialize_element(&(w, k, &merged))?;
                }
            }
        }
        seq.end()
    }
}
