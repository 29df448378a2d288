//! The cells of two tables side by side ([`joined_cells`]), a part's cells held in
//! two tables encoded as one ([`MergedCells`]), and a part's closed cells kept encoded
//! ([`EncodedCells`]): what a table write encodes from the job's tables without copying
//! them, or without encoding them again; and the frames made from cells kept encoded
//! ([`full_frame_of_encoded`], [`delta_frame_after_encoded`]).

use datasets::append_postcard;
use serde::Serialize;
use workloads::{GroupKey, Partial, PartialTable, Window};

use super::{Delta, DeltaRef, FrameRef, PartDelta, TablePart, seal};
use crate::error::{Result, corrupt};

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

/// A part's closed cells encoded as a whole snapshot holds them (each as postcard
/// encodes a `StoredCell`, in (window, key) order), kept while the closed cells only
/// grow by windows after all those held, as a stream task finalizes them: a snapshot
/// then copies these bytes instead of encoding every closed cell again.
#[derive(Debug, Default)]
pub(crate) struct EncodedCells {
    /// The cells' bytes, one after the other.
    pub bytes: Vec<u8>,
    /// How many cells `bytes` holds.
    pub cells: usize,
    /// The last window of those cells.
    pub last: Option<Window>,
}

impl EncodedCells {
    /// Whether every cell of `table` comes after those held (so that the cells held, then
    /// those of `table`, are in order).
    pub fn precedes(&self, table: &PartialTable) -> bool {
        match (self.last, table.windows().next()) {
            (Some(last), Some(first)) => last < *first,
            _ => true,
        }
    }

    /// Append the cells of `table`, which [`EncodedCells::precedes`] must allow.
    pub fn append(&mut self, table: &PartialTable) {
        debug_assert!(self.precedes(table));
        for cell in table.iter() {
            append_postcard(&cell, &mut self.bytes).expect("a cell always encodes");
        }
        self.cells += table.len();
        if let Some(&w) = table.windows().next_back() {
            self.last = Some(w);
        }
    }

    /// Append one cell of `window` (which must not come before the last one) from its
    /// parts' bytes: the window's, then the key's and the partials' (as a `(key,
    /// partials)` tuple encodes).
    pub fn push_encoded(&mut self, window: Window, window_bytes: &[u8], rest: &[u8]) {
        debug_assert!(self.last.is_none_or(|last| last <= window));
        self.bytes.extend_from_slice(window_bytes);
        self.bytes.extend_from_slice(rest);
        self.cells += 1;
        self.last = Some(window);
    }

    /// Append the cells `other` holds, which must all come after those held.
    pub fn extend(&mut self, other: EncodedCells) {
        debug_assert!(match (self.last, other.last) {
            (Some(a), Some(b)) => a < b,
            _ => true,
        });
        if self.bytes.is_empty() {
            self.bytes = other.bytes;
        } else {
            self.bytes.extend_from_slice(&other.bytes);
        }
        self.cells += other.cells;
        self.last = other.last.or(self.last);
    }
}

/// The frame of a whole snapshot of the part `header` describes whose cells, `cells` of
/// them, are already encoded one after the other in `encoded` (each as postcard encodes a
/// [`StoredCell`](workloads::StoredCell), in (window, key) order): the bytes
/// [`full_frame`](super::full_frame) makes of the same part, without encoding the cells
/// again. (Postcard writes a struct as its fields in order, `()` as nothing, and a
/// sequence as its length, then its elements.)
pub(crate) fn full_frame_of_encoded(
    header: &TablePart<()>,
    cells: usize,
    encoded: &[&[u8]],
) -> Result<Vec<u8>> {
    let size = encoded.iter().map(|e| e.len()).sum::<usize>();
    let mut bytes = Vec::with_capacity(12 + 256 + size);
    bytes.resize(12, 0);
    append_postcard(&FrameRef::<(), PartDelta>::Full(header), &mut bytes)
        .and_then(|()| append_postcard(&cells, &mut bytes))
        .map_err(|e| corrupt("output table", e))?;
    for e in encoded {
        bytes.extend_from_slice(e);
    }
    seal(bytes)
}

/// The frame of `delta` with `cells` more upserts in front of its own, already encoded
/// one after the other in `encoded` (each as postcard encodes a
/// [`StoredCell`](workloads::StoredCell)): the bytes [`delta_frame`](super::delta_frame)
/// makes of the delta holding those cells first, without encoding them again. (Postcard
/// writes a sequence as its length, then its elements; the head of a delta without cells
/// ends with its two empty sequences, one zero byte each.)
pub(crate) fn delta_frame_after_encoded(
    delta: &DeltaRef<'_>,
    cells: usize,
    encoded: &[u8],
) -> Result<Vec<u8>> {
    let own = |e: postcard::Error| corrupt("output table", e);
    let head: Delta<(), ()> = delta.head();
    let mut bytes = Vec::with_capacity(12 + 128 + encoded.len());
    bytes.resize(12, 0);
    append_postcard(&FrameRef::<(), _>::Delta(&head), &mut bytes).map_err(own)?;
    if bytes.len() < 14 || bytes[bytes.len() - 2..] != [0, 0] {
        return Err(corrupt(
            "output table",
            "a delta without cells does not end with two empty sequences",
        ));
    }
    bytes.truncate(bytes.len() - 2);
    let upserts = cells + delta.upserts.len();
    append_postcard(&upserts, &mut bytes).map_err(own)?;
    bytes.extend_from_slice(encoded);
    for cell in &delta.upserts {
        append_postcard(cell, &mut bytes).map_err(own)?;
    }
    append_postcard(&delta.removed, &mut bytes).map_err(own)?;
    seal(bytes)
}
