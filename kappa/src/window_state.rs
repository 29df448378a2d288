//! The state one task keeps, in memory, with change tracking: windowed cells (the working
//! set of open windows, and the cells finalized since the last checkpoint), the bounded
//! de-duplication set, the partition's event-time clock, and late events not yet written.
//!
//! Everything here is encoded into key-value pairs for the state store and the changelog:
//!
//! ```text
//!   'c' ++ postcard((Window, GroupKey))      → postcard(Vec<Partial>)     one per cell
//!   'd' ++ bucket (i64 BE) ++ shard (u8)     → postcard(Vec<u64>) sorted   ids seen
//! ```
//!
//! Cells are never deleted (a finalized cell is the task's share of the output table);
//! de-duplication buckets are deleted when they fall out of the window.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use master_log::{Header, NewRecord, Record};
use workloads::{GroupKey, Partial, PartialTable, Scalar, Window};

use crate::error::{Result, corrupt};

const CELL: u8 = b'c';
const DEDUP: u8 = b'd';
/// Ids of one bucket are split over this many store keys, so that no value grows past
/// the log's record size at high rates.
const SHARDS: u64 = 16;

/// Header of a record on the late-events side topic: the input partition of the late
/// event (u32, little-endian).
pub const LATE_SOURCE_PARTITION: &str = "kappa-source-partition";
/// Header of a record on the late-events side topic: the input offset of the late event
/// (u64, little-endian).
pub const LATE_SOURCE_OFFSET: &str = "kappa-source-offset";

/// One write for the store and the changelog: a key and its new value (`None` deletes).
pub(crate) type Write = (Vec<u8>, Option<Vec<u8>>);

/// The ids seen, hashed with FxHash (`rustc-hash`: a multiply and a rotate per word),
/// several times faster than SipHash. Ids come from the log's own producers, and the set
/// is bounded by the de-duplication window, so HashDoS resistance buys nothing here.
type IdSet = rustc_hash::FxHashSet<u64>;

/// The working set's maps, looked up once or twice per event: FxHash too (windows and
/// group keys come from the task's own input, as the ids do).
type CellMap<K, V> = rustc_hash::FxHashMap<K, V>;

#[derive(Debug)]
pub(crate) struct Dedup {
    window_ms: i64,
    bucket_ms: i64,
    ids: IdSet,
    /// Ids by (time bucket, shard); each id is in one bucket only (`ids` is checked first).
    buckets: BTreeMap<(i64, u8), Vec<u64>>,
    max_time: Option<i64>,
    dirty: BTreeSet<(i64, u8)>,
}

impl Dedup {
    fn new(window_ms: i64) -> Self {
        // Buckets of a tenth of the window: ids are kept between 1 and 1.1 windows.
        let bucket_ms = (window_ms / 10).max(1);
        Dedup {
            window_ms,
            bucket_ms,
            ids: IdSet::default(),
            buckets: BTreeMap::new(),
            max_time: None,
            dirty: BTreeSet::new(),
        }
    }

    fn first_time(&mut self, id: u64, time: i64) -> bool {
        if self.ids.contains(&id) {
            return false;
        }
        let slot = (time.div_euclid(self.bucket_ms), (id % SHARDS) as u8);
        self.ids.insert(id);
        self.buckets.entry(slot).or_default().push(id);
        self.dirty.insert(slot);
        true
    }

    /// Move the clock (the partition's largest event time, shared with the watermark,
    /// so that a restore from a checkpoint expires exactly as the first run did).
    fn advance(&mut self, time: i64) {
        if self.max_time.is_none_or(|m| time > m) {
            self.max_time = Some(time);
            self.expire();
        }
    }

    /// Drop buckets lying wholly before `max_time - window`.
    fn expire(&mut self) {
        let Some(max) = self.max_time else { return };
        let oldest = max.saturating_sub(self.window_ms);
        while let Some(entry) = self.buckets.first_entry() {
            let (bucket, _) = *entry.key();
            if bucket.saturating_add(1).saturating_mul(self.bucket_ms) > oldest {
                break;
            }
            let (slot, ids) = entry.remove_entry();
            for id in ids {
                self.ids.remove(&id);
            }
            self.dirty.insert(slot);
        }
    }

    fn key(slot: (i64, u8)) -> Vec<u8> {
        let mut k = Vec::with_capacity(10);
        k.push(DEDUP);
        k.extend_from_slice(&slot.0.to_be_bytes());
        k.push(slot.1);
        k
    }

    fn take_writes(&mut self, out: &mut Vec<Write>) {
        for slot in std::mem::take(&mut self.dirty) {
            let value = self.buckets.get(&slot).map(|ids| {
                let mut v = ids.clone();
                v.sort_unstable();
                postcard::to_stdvec(&v).expect("a vector of u64 always encodes")
            });
            out.push((Dedup::key(slot), value));
        }
    }

    fn restore(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        let (Some(b), Some(&shard)) = (key.get(1..9), key.get(9)) else {
            return Err(corrupt(
                "de-duplication key",
                format!("{} bytes", key.len()),
            ));
        };
        let bucket = i64::from_be_bytes(b.try_into().map_err(|_| corrupt("dedup key", "size"))?);
        let ids: Vec<u64> =
            postcard::from_bytes(value).map_err(|e| corrupt("de-duplication bucket", e))?;
        let bucket = self.buckets.entry((bucket, shard)).or_default();
        for id in ids {
            if self.ids.insert(id) {
                bucket.push(id);
            }
        }
        Ok(())
    }
}

/// One cell of the working set.
#[derive(Debug)]
struct Cell {
    partials: Vec<Partial>,
    /// Changed since the last checkpoint.
    dirty: bool,
}

/// The state of one task (see the module docs).
#[derive(Debug)]
pub(crate) struct WindowState {
    pub partition: u32,
    bound_ms: i64,
    lateness_ms: i64,
    /// The largest event time seen in the partition.
    pub max_event_time: Option<i64>,
    /// Cells of open windows, by window.
    working: CellMap<Window, CellMap<GroupKey, Cell>>,
    /// Open windows by (end, start): what the watermark closes first comes first.
    by_end: BTreeSet<(i64, i64)>,
    /// Cells finalized since the last checkpoint (handed to the job's table then).
    finalized: PartialTable,
    /// Writes of cells that changed and were finalized since the last checkpoint.
    finalized_writes: Vec<Write>,
    dedup: Dedup,
    /// Late records not yet written to the side topic.
    late_pending: Vec<NewRecord>,
    /// Offsets of this partition whose late records are already on the side topic
    /// (written before a crash, after the checkpoint restored): not written again.
    late_written: HashSet<u64>,
    pub late_events: u64,
    pub duplicates: u64,
    pub events: u64,
}

impl WindowState {
    pub fn new(partition: u32, bound_ms: i64, lateness_ms: i64, dedup_window_ms: i64) -> Self {
        WindowState {
            partition,
            bound_ms,
            lateness_ms,
            max_event_time: None,
            working: CellMap::default(),
            by_end: BTreeSet::new(),
            finalized: PartialTable::new(),
            finalized_writes: Vec::new(),
            dedup: Dedup::new(dedup_window_ms),
            late_pending: Vec::new(),
            late_written: HashSet::new(),
            late_events: 0,
            duplicates: 0,
            events: 0,
        }
    }

    pub fn watermark(&self) -> Option<i64> {
        self.max_event_time.map(|t| t.saturating_sub(self.bound_ms))
    }

    pub fn is_closed(&self, window_end: i64) -> bool {
        self.watermark()
            .is_some_and(|wm| window_end.saturating_add(self.lateness_ms) <= wm)
    }

    pub fn observe(&mut self, time: i64) {
        if self.max_event_time.is_none_or(|m| time > m) {
            self.max_event_time = Some(time);
            self.dedup.advance(time);
        }
    }

    pub fn push_late(&mut self, r: &Record) {
        self.late_events += 1;
        if self.late_written.contains(&r.offset) {
            return;
        }
        let mut headers = r.headers.clone();
        headers.push(Header {
            key: LATE_SOURCE_PARTITION.into(),
            value: self.partition.to_le_bytes().to_vec().into(),
        });
        headers.push(Header {
            key: LATE_SOURCE_OFFSET.into(),
            value: r.offset.to_le_bytes().to_vec().into(),
        });
        self.late_pending.push(NewRecord {
            key: r.key.clone(),
            value: r.value.clone(),
            event_time: r.event_time,
            headers,
        });
    }

    pub fn set_late_written(&mut self, offsets: HashSet<u64>) {
        self.late_written = offsets;
    }

    /// Forget written-late offsets the task has read past.
    pub fn prune_late_written(&mut self, position: u64) {
        self.late_written.retain(|&o| o >= position);
    }

    /// Whether late records written before a crash still lie ahead of the task.
    pub fn late_written_pending(&self) -> bool {
        !self.late_written.is_empty()
    }

    pub fn take_late(&mut self) -> Vec<NewRecord> {
        std::mem::take(&mut self.late_pending)
    }

    pub fn first_time(&mut self, id: u64, time: i64) -> bool {
        let first = self.dedup.first_time(id, time);
        if !first {
            self.duplicates += 1;
        }
        first
    }

    pub fn cell(
        &mut self,
        window: Window,
        key: &[Scalar],
        empty: impl FnOnce() -> Vec<Partial>,
    ) -> &mut Vec<Partial> {
        let cells = self.working.entry(window).or_insert_with(|| {
            self.by_end.insert((window.end, window.start));
            CellMap::default()
        });
        if !cells.contains_key(key) {
            cells.insert(
                key.to_vec(),
                Cell {
                    partials: empty(),
                    dirty: true,
                },
            );
        }
        let cell = cells.get_mut(key).expect("inserted above");
        cell.dirty = true;
        &mut cell.partials
    }

    pub fn finalize_closed(&mut self) -> usize {
        let mut n = 0;
        while let Some(&(end, start)) = self.by_end.first() {
            if !self.is_closed(end) {
                break;
            }
            self.by_end.pop_first();
            let window = Window { start, end };
            if let Some(cells) = self.working.remove(&window) {
                n += cells.len();
                for (key, cell) in cells {
                    if cell.dirty {
                        self.finalized_writes.push((
                            cell_key(window, &key),
                            Some(encode_partials(&cell.partials)),
                        ));
                    }
                    *self.finalized.cell_mut(window, key, Vec::new) = cell.partials;
                }
            }
        }
        n
    }

    /// The changed cells and de-duplication buckets since the last call, as writes.
    pub fn take_writes(&mut self) -> Vec<Write> {
        let mut out = std::mem::take(&mut self.finalized_writes);
        for (window, cells) in &mut self.working {
            for (key, cell) in cells.iter_mut().filter(|(_, c)| c.dirty) {
                cell.dirty = false;
                out.push((
                    cell_key(*window, key),
                    Some(encode_partials(&cell.partials)),
                ));
            }
        }
        self.dedup.take_writes(&mut out);
        out.sort();
        out
    }

    /// Cells finalized since the last call: the task hands them to the output table.
    pub fn take_finalized(&mut self) -> PartialTable {
        std::mem::take(&mut self.finalized)
    }

    /// A copy of the open cells (the part of the output table still changing).
    pub fn open_table(&self) -> PartialTable {
        let mut t = PartialTable::new();
        for (w, cells) in &self.working {
            for (k, c) in cells {
                *t.cell_mut(*w, k.clone(), Vec::new) = c.partials.clone();
            }
        }
        t
    }

    /// Load one stored pair (a restore). Cells go to the working set; call
    /// [`WindowState::finalize_closed`] after the last one (with the clock restored).
    pub fn restore(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        match key.first() {
            Some(&CELL) => {
                let (window, group): (Window, GroupKey) =
                    postcard::from_bytes(&key[1..]).map_err(|e| corrupt("cell key", e))?;
                let partials: Vec<Partial> =
                    postcard::from_bytes(value).map_err(|e| corrupt("cell value", e))?;
                let cells = self.working.entry(window).or_insert_with(|| {
                    self.by_end.insert((window.end, window.start));
                    CellMap::default()
                });
                cells.insert(
                    group,
                    Cell {
                        partials,
                        dirty: false,
                    },
                );
                Ok(())
            }
            Some(&DEDUP) => self.dedup.restore(key, value),
            _ => Err(corrupt("state key", format!("unknown kind {key:?}"))),
        }
    }

    /// After a restore: set the de-duplication clock (the partition's clock).
    pub fn restore_clock(&mut self, max_event_time: Option<i64>) {
        self.max_event_time = max_event_time;
        self.dedup.max_time = max_event_time;
    }

    /// Number of cells in the working set (open windows).
    pub fn open_cells(&self) -> usize {
        self.working.values().map(CellMap::len).sum()
    }
}

pub(crate) fn cell_key(window: Window, key: &[Scalar]) -> Vec<u8> {
    postcard::to_extend(&(window, key), vec![CELL]).expect("a cell key always encodes")
}

fn encode_partials(p: &[Partial]) -> Vec<u8> {
    postcard::to_stdvec(p).expect("partials always encode")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedup_keeps_ids_for_the_window_and_writes_its_changes() {
        let mut d = Dedup::new(1000);
        assert!(d.first_time(1, 0));
        assert!(!d.first_time(1, 0));
        assert!(d.first_time(2, 500));
        d.advance(500);
        assert!(!d.first_time(1, 0));
        // 1 s later id 1 (bucket [0,100)) falls out of the window; 2 stays.
        assert!(d.first_time(3, 1_150));
        d.advance(1_150);
        assert!(d.first_time(1, 0));
        assert!(!d.first_time(2, 500));
        let mut w = Vec::new();
        d.take_writes(&mut w);
        assert!(w.iter().all(|(k, _)| k[0] == DEDUP));
        let mut back = Dedup::new(1000);
        for (k, v) in &w {
            if let Some(v) = v {
                back.restore(k, v).unwrap();
            }
        }
        assert_eq!(back.ids, d.ids);
    }

    #[test]
    fn closed_windows_move_to_finalized_and_every_change_is_written_once() {
        let mut s = WindowState::new(0, 10, 5, 1000);
        let w1 = Window { start: 0, end: 100 };
        let w2 = Window {
            start: 100,
            end: 200,
        };
        let k = vec![Scalar::Int(1)];
        s.cell(w1, &k, || vec![Partial::Count(0)])[0] = Partial::Count(3);
        s.cell(w2, &k, || vec![Partial::Count(0)])[0] = Partial::Count(1);
        s.observe(114);
        assert!(!s.is_closed(100)); // 100 + 5 > 114 - 10
        s.observe(115);
        assert!(s.is_closed(100));
        assert_eq!(s.finalize_closed(), 1);
        assert_eq!(s.open_cells(), 1);
        let writes = s.take_writes();
        assert_eq!(writes.len(), 2);
        assert!(s.take_writes().is_empty());
        let fin = s.take_finalized();
        assert_eq!(fin.get(w1, &k), Some(&vec![Partial::Count(3)]));
        // Restoring the writes gives the same cells.
        let mut r = WindowState::new(0, 10, 5, 1000);
        for (key, v) in &writes {
            r.restore(key, v.as_ref().unwrap()).unwrap();
        }
        r.restore_clock(Some(115));
        assert_eq!(r.finalize_closed(), 1);
        assert_eq!(r.take_finalized(), fin);
        assert_eq!(r.open_table(), s.open_table());
        assert!(r.restore(b"x", b"").is_err());
    }
}
