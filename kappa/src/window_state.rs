//! The state one task keeps, in memory, with change tracking: windowed cells (the working
//! set of open windows, and the cells finalized since the last checkpoint), the bounded
//! de-duplication set, the partition's event-time clock, and late events not yet written.
//!
//! Everything here is encoded into key-value pairs for the state store and the changelog:
//!
//! ```text
//!   'c' ++ postcard((Window, GroupKey))      → postcard(Vec<Partial>)     an open cell
//!   'f' ++ start, end (i64 BE) ++ chunk (u32 BE)
//!                              → postcard((GroupKey, Vec<Partial>)) …   a finalized window
//!   'd' ++ bucket (i64 BE) ++ shard (u8)     → postcard(Vec<u64>) sorted   ids seen
//! ```
//!
//! An open cell changed since the last checkpoint is written under its own key. When the
//! watermark closes a window, its cells are written together, as chunks of at most
//! [`FINAL_CHUNK_BYTES`] (one key per chunk, not one per cell: a finalized cell never
//! changes again), and the keys its cells had while open are deleted. Finalized windows
//! are never deleted (they are the task's share of the output table); de-duplication
//! buckets are deleted when they fall out of the window.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};

use datasets::append_postcard;
use master_log::{Header, NewRecord, RecordView};
use workloads::{GroupKey, Partial, PartialTable, Scalar, Window};

use crate::error::{Result, corrupt};
use crate::id_set::IdSet;
use crate::table::EncodedCells;

const CELL: u8 = b'c';
const FINAL: u8 = b'f';
/// A finalized window's cells are written in chunks of about this many bytes, far below
/// the log's record size limit.
pub(crate) const FINAL_CHUNK_BYTES: usize = 256 * 1024;
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

/// One checkpoint's writes ([`WindowState::take_writes`]), in key order.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Writes {
    pub list: Vec<Write>,
    /// Per write, whether it puts its key for the first time since the task opened (an
    /// open cell's or a de-duplication shard's first write): a key the local store
    /// cannot hold yet.
    pub first_put: Vec<bool>,
}

impl Writes {
    /// `others` and `first_puts`, each in key order and none in both, merged in order.
    fn merge(others: Vec<Write>, first_puts: Vec<Write>) -> Writes {
        let mut out = Writes {
            list: Vec::with_capacity(others.len() + first_puts.len()),
            first_put: Vec::with_capacity(others.len() + first_puts.len()),
        };
        let mut others = others.into_iter().peekable();
        let mut firsts = first_puts.into_iter().peekable();
        loop {
            let first = match (others.peek(), firsts.peek()) {
                (None, None) => break,
                (Some(_), None) => false,
                (None, Some(_)) => true,
                (Some(a), Some(b)) => b.0 < a.0,
            };
            let next = if first { firsts.next() } else { others.next() };
            out.list.extend(next);
            out.first_put.push(first);
        }
        out
    }
}

/// The working set's maps, looked up once per event each: FxHash too (windows and
/// group keys come from the task's own input, as the ids do).
type CellMap<K, V> = rustc_hash::FxHashMap<K, V>;

/// One time bucket of the de-duplication set: its ids by shard (`id % SHARDS`), the
/// shards that exist (each is one store key, written while it exists and deleted when
/// the bucket expires), those changed since the last checkpoint, and those whose key
/// the changelog has.
#[derive(Debug, Default)]
struct Bucket {
    shards: [Vec<u64>; SHARDS as usize],
    /// Bit `s`: shard `s` exists.
    present: u16,
    /// Bit `s`: shard `s` changed since the last checkpoint.
    dirty: u16,
    /// Bit `s`: shard `s`'s key is on the changelog (written at a checkpoint, or
    /// restored). A shard without it needs no delete when its bucket expires, and its
    /// first write is a first put ([`Writes::first_put`]).
    written: u16,
}

#[derive(Debug)]
pub(crate) struct Dedup {
    window_ms: i64,
    bucket_ms: i64,
    ids: IdSet,
    /// The buckets by bucket number, in order: about 11 within the window (and any
    /// older one an out-of-order id re-opened, until the clock moves). An id is in one
    /// bucket only (`ids` is checked first). A deque: the bucket of an event is nearly
    /// always the last one, and buckets expire from the front.
    buckets: VecDeque<(i64, Bucket)>,
    max_time: Option<i64>,
    /// The clock at which the first bucket expires (`i64::MAX` without one): the clock
    /// moves at nearly every event, a bucket expires a few times a window.
    expire_at: i64,
    /// Shards of buckets expired since the last checkpoint (their deletes).
    expired: Vec<(i64, u8)>,
    /// The start and number of the last bucket an id went to: most ids go to the same
    /// one, found without a division.
    last_bucket: Option<(i64, i64)>,
}

impl Dedup {
    fn new(window_ms: i64) -> Self {
        // Buckets of a tenth of the window: ids are kept between 1 and 1.1 windows.
        let bucket_ms = (window_ms / 10).max(1);
        Dedup {
            window_ms,
            bucket_ms,
            ids: IdSet::default(),
            buckets: VecDeque::new(),
            max_time: None,
            expire_at: i64::MAX,
            expired: Vec::new(),
            last_bucket: None,
        }
    }

    /// The bucket numbered `number`, created when missing.
    #[inline]
    fn bucket_mut(&mut self, number: i64) -> &mut Bucket {
        let at = match self.buckets.back() {
            Some(&(last, _)) if last == number => self.buckets.len() - 1,
            _ => {
                let at = self.buckets.partition_point(|(b, _)| *b < number);
                if self.buckets.get(at).is_none_or(|(b, _)| *b != number) {
                    self.buckets.insert(at, (number, Bucket::default()));
                    self.expire_at = self.expire_at.min(self.expiry(number));
                }
                at
            }
        };
        &mut self.buckets[at].1
    }

    #[inline]
    fn first_time(&mut self, id: u64, time: i64) -> bool {
        if !self.ids.insert(id) {
            return false;
        }
        let shard = (id % SHARDS) as usize;
        let number = self.bucket_of(time);
        let bucket = self.bucket_mut(number);
        bucket.shards[shard].push(id);
        bucket.present |= 1 << shard;
        bucket.dirty |= 1 << shard;
        true
    }

    /// The number of the bucket holding `time` (`time / bucket_ms`, rounded down).
    #[inline]
    fn bucket_of(&mut self, time: i64) -> i64 {
        if let Some((start, number)) = self.last_bucket
            && time >= start
            && (time.wrapping_sub(start) as u64) < self.bucket_ms as u64
        {
            return number;
        }
        let number = time.div_euclid(self.bucket_ms);
        self.last_bucket = number
            .checked_mul(self.bucket_ms)
            .map(|start| (start, number));
        number
    }

    /// Move the clock (the partition's largest event time, shared with the watermark,
    /// so that a restore from a checkpoint expires exactly as the first run did).
    #[inline]
    fn advance(&mut self, time: i64) {
        if self.max_time.is_none_or(|m| time > m) {
            self.max_time = Some(time);
            if time >= self.expire_at {
                self.expire();
            }
        }
    }

    /// Drop buckets lying wholly before `max_time - window`.
    fn expire(&mut self) {
        let Some(max) = self.max_time else { return };
        let oldest = max.saturating_sub(self.window_ms);
        while let Some(&(number, _)) = self.buckets.front() {
            if number.saturating_add(1).saturating_mul(self.bucket_ms) > oldest {
                break;
            }
            if let Some((number, bucket)) = self.buckets.pop_front() {
                self.drop_bucket(number, bucket);
            }
        }
        self.expire_at = self
            .buckets
            .front()
            .map_or(i64::MAX, |&(number, _)| self.expiry(number));
    }

    /// The clock at or after which bucket `number` may expire: never later than
    /// [`Dedup::expire`] would drop it (`i64::MIN`, check always, where the bound does not
    /// fit an `i64`).
    fn expiry(&self, number: i64) -> i64 {
        number
            .checked_add(1)
            .and_then(|n| n.checked_mul(self.bucket_ms))
            .and_then(|end| end.checked_add(self.window_ms))
            .unwrap_or(i64::MIN)
    }

    #[cold]
    fn drop_bucket(&mut self, number: i64, bucket: Bucket) {
        for (shard, ids) in bucket.shards.into_iter().enumerate() {
            if bucket.written & (1 << shard) != 0 {
                self.expired.push((number, shard as u8));
            }
            for id in ids {
                self.ids.remove(id);
            }
        }
        self.ids.trim();
    }

    fn key(slot: (i64, u8)) -> Vec<u8> {
        let mut k = Vec::with_capacity(10);
        k.push(DEDUP);
        k.extend_from_slice(&slot.0.to_be_bytes());
        k.push(slot.1);
        k
    }

    /// The shard `slot` as it is now: its ids, sorted in place (their order is free),
    /// or `None` when it does not exist.
    fn sorted_shard(&mut self, (number, shard): (i64, u8)) -> Option<&[u64]> {
        let at = self.buckets.partition_point(|(b, _)| *b < number);
        match self.buckets.get_mut(at) {
            Some((b, bucket)) if *b == number && bucket.present & (1 << shard) != 0 => {
                let ids = &mut bucket.shards[usize::from(shard)];
                // A stable sort: it finds the runs already in order (the ids written at
                // the last checkpoint, and most of those since, which come in about
                // ascending order) and merges them, where an unstable one partitions all.
                ids.sort();
                Some(ids)
            }
            _ => None,
        }
    }

    /// The changed shards since the last call: deletes of the expired ones, and puts of
    /// the others (into `first_puts` when the changelog does not have the shard yet).
    fn take_writes(&mut self, out: &mut Vec<Write>, first_puts: &mut Vec<Write>) {
        // Each changed slot, and whether its key was on the changelog before (an
        // expired shard that was written: a bucket an out-of-order id opened again
        // puts that key anew, and that put is no first one).
        let mut changed: BTreeMap<(i64, u8), bool> =
            self.expired.drain(..).map(|slot| (slot, true)).collect();
        for (number, bucket) in &mut self.buckets {
            for shard in 0..SHARDS as u8 {
                if bucket.dirty & (1 << shard) != 0 {
                    changed.entry((*number, shard)).or_insert(false);
                }
            }
            bucket.dirty = 0;
        }
        for (slot, was_written) in changed {
            let first = self.mark_written(slot) && !was_written;
            let write = (Dedup::key(slot), self.sorted_shard(slot).map(encode_ids));
            if first { &mut *first_puts } else { &mut *out }.push(write);
        }
    }

    /// Whether shard `slot` exists and was not written since its bucket opened; marks it
    /// written.
    fn mark_written(&mut self, (number, shard): (i64, u8)) -> bool {
        let at = self.buckets.partition_point(|(b, _)| *b < number);
        match self.buckets.get_mut(at) {
            Some((b, bucket)) if *b == number && bucket.present & (1 << shard) != 0 => {
                let first = bucket.written & (1 << shard) == 0;
                bucket.written |= 1 << shard;
                first
            }
            _ => false,
        }
    }

    fn restore(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        let (Some(b), Some(&shard), 10) = (key.get(1..9), key.get(9), key.len()) else {
            return Err(corrupt(
                "de-duplication key",
                format!("{} bytes", key.len()),
            ));
        };
        if u64::from(shard) >= SHARDS {
            return Err(corrupt("de-duplication key", format!("shard {shard}")));
        }
        let number = i64::from_be_bytes(b.try_into().map_err(|_| corrupt("dedup key", "size"))?);
        let ids: Vec<u64> =
            postcard::from_bytes(value).map_err(|e| corrupt("de-duplication bucket", e))?;
        let shard = usize::from(shard);
        let mut fresh = Vec::with_capacity(ids.len());
        for id in ids {
            if self.ids.insert(id) {
                fresh.push(id);
            }
        }
        let bucket = self.bucket_mut(number);
        bucket.present |= 1 << shard;
        bucket.written |= 1 << shard;
        bucket.shards[shard].extend(fresh);
        Ok(())
    }
}

/// One cell of the working set.
#[derive(Debug)]
struct Cell {
    partials: Vec<Partial>,
    /// Changed since the last checkpoint.
    dirty: bool,
    /// Its own key (`'c'`) is in the store and the changelog: written at a checkpoint
    /// while its window was open, or restored from one. Deleted when the window is
    /// finalized.
    stored: bool,
}

/// The cells of one open window: each key's place in `cells`. An event's cell is found
/// with one hash lookup, which copies the place out (a map of cells would need a second
/// lookup to hand out the cell it may have had to insert); a numbered key's (see
/// [`datasets::Contribution::number`]) by its number, once its cell is there.
#[derive(Debug, Default)]
struct WindowCells {
    index: CellMap<GroupKey, usize>,
    /// Each key number's place in `cells` ([`NO_CELL`]: none looked up by it yet).
    by_number: Vec<u32>,
    cells: Vec<Cell>,
}

/// A key number without a cell in [`WindowCells::by_number`].
const NO_CELL: u32 = u32::MAX;

impl WindowCells {
    /// No cell yet, with room for `cells` of them.
    fn with_capacity(cells: usize) -> Self {
        WindowCells {
            index: CellMap::with_capacity_and_hasher(cells, Default::default()),
            by_number: Vec::new(),
            cells: Vec::with_capacity(cells),
        }
    }

    /// The cell of `key` (numbered `number`, if the decoder numbers its keys), created
    /// with `empty` when missing.
    #[inline]
    fn cell(
        &mut self,
        key: &[Scalar],
        number: Option<u32>,
        empty: impl FnOnce() -> Vec<Partial>,
    ) -> &mut Cell {
        if let Some(n) = number
            && let Some(&at) = self.by_number.get(n as usize)
            && at != NO_CELL
        {
            return &mut self.cells[at as usize];
        }
        let at = match self.index.get(key) {
            Some(&at) => at,
            None => {
                let at = self.cells.len();
                self.index.insert(key.to_vec(), at);
                self.cells.push(Cell {
                    partials: empty(),
                    dirty: true,
                    stored: false,
                });
                at
            }
        };
        if let (Some(n), Ok(place)) = (number, u32::try_from(at)) {
            let n = n as usize;
            if self.by_number.len() <= n {
                self.by_number.resize(n + 1, NO_CELL);
            }
            self.by_number[n] = place;
        }
        &mut self.cells[at]
    }

    /// Set the cell of `key` (a restore).
    fn insert(&mut self, key: GroupKey, cell: Cell) {
        match self.index.get(&key) {
            Some(&at) => self.cells[at] = cell,
            None => {
                self.index.insert(key, self.cells.len());
                self.cells.push(cell);
            }
        }
    }

    fn len(&self) -> usize {
        self.cells.len()
    }

    /// Each key with its cell.
    fn iter(&self) -> impl Iterator<Item = (&GroupKey, &Cell)> {
        self.index.iter().map(|(k, &at)| (k, &self.cells[at]))
    }

    /// Each key with its cell, taken.
    fn into_cells(self) -> impl Iterator<Item = (GroupKey, Cell)> {
        let mut cells: Vec<Option<Cell>> = self.cells.into_iter().map(Some).collect();
        self.index
            .into_iter()
            .filter_map(move |(k, at)| cells.get_mut(at).and_then(Option::take).map(|c| (k, c)))
    }
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
    working: CellMap<Window, WindowCells>,
    /// Open windows by (end, start): what the watermark closes first comes first.
    by_end: BTreeSet<(i64, i64)>,
    /// The watermark at which the first of `by_end` closes (`i64::MAX` without one):
    /// checked once per move of the watermark, before the set is.
    first_close: i64,
    /// Cells finalized since the last checkpoint (handed to the job's table then).
    finalized: PartialTable,
    /// `finalized` encoded as a snapshot of the table holds it ([`EncodedCells`]), made
    /// from the bytes its changelog chunks are made of, while every cell there was
    /// finalized here, window after window in order; `None` once a restore put cells
    /// there (the job then encodes them from the table).
    finalized_encoded: Option<EncodedCells>,
    /// How many cells the last window finalized had (the room a new window gets).
    last_finalized_cells: usize,
    /// Writes of the windows finalized since the last checkpoint: their chunks, and
    /// deletes of their cells' open keys.
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
            first_close: i64::MAX,
            finalized: PartialTable::new(),
            finalized_encoded: Some(EncodedCells::default()),
            last_finalized_cells: 0,
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

    /// Count a late record and keep a copy of it for the side topic (unless it is there
    /// already): the only records of which the task keeps a copy.
    pub fn push_late(&mut self, r: &RecordView<'_>) {
        self.late_events += 1;
        if self.late_written.contains(&r.offset) {
            return;
        }
        let mut headers: Vec<Header> = r
            .headers
            .iter()
            .map(|(key, value)| Header {
                key: key.to_owned(),
                value: value.to_vec().into(),
            })
            .collect();
        headers.push(Header {
            key: LATE_SOURCE_PARTITION.into(),
            value: self.partition.to_le_bytes().to_vec().into(),
        });
        headers.push(Header {
            key: LATE_SOURCE_OFFSET.into(),
            value: r.offset.to_le_bytes().to_vec().into(),
        });
        self.late_pending.push(NewRecord {
            key: r.key.map(|k| k.to_vec().into()),
            value: r.value.map(|v| v.to_vec().into()),
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

    #[inline]
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
        number: Option<u32>,
        empty: impl FnOnce() -> Vec<Partial>,
    ) -> &mut Vec<Partial> {
        let cell = self.window_mut(window).cell(key, number, empty);
        cell.dirty = true;
        &mut cell.partials
    }

    /// The cells of open window `window`, opened when missing: added to the windows
    /// by end (and to the first close, when it closes first), with room for as many
    /// cells as the last window finalized had (no regrowth of its table and index as its
    /// cells come).
    #[inline]
    fn window_mut(&mut self, window: Window) -> &mut WindowCells {
        self.working.entry(window).or_insert_with(|| {
            self.by_end.insert((window.end, window.start));
            let closes_at = window.end.saturating_add(self.lateness_ms);
            self.first_close = self.first_close.min(closes_at);
            WindowCells::with_capacity(self.last_finalized_cells)
        })
    }

    pub fn finalize_closed(&mut self) -> usize {
        if self.watermark().is_none_or(|wm| wm < self.first_close) {
            return 0;
        }
        let mut n = 0;
        while let Some(&(end, start)) = self.by_end.first() {
            if !self.is_closed(end) {
                break;
            }
            self.by_end.pop_first();
            let window = Window { start, end };
            if let Some(cells) = self.working.remove(&window) {
                n += cells.len();
                self.finalize_window(window, cells);
            }
        }
        self.first_close = self
            .by_end
            .first()
            .map_or(i64::MAX, |&(end, _)| end.saturating_add(self.lateness_ms));
        n
    }

    /// Write a closed window's cells in chunks, delete their open keys, and move them
    /// to the finalized cells. The cells are encoded in key order, the table's, so that
    /// each cell's bytes in a chunk, after the window's, are its bytes in a snapshot of
    /// the table too ([`WindowState::finalized_encoded`]: a cell is encoded once).
    fn finalize_window(&mut self, window: Window, cells: WindowCells) {
        self.last_finalized_cells = cells.len();
        let mut keyed = Vec::with_capacity(cells.len());
        for (key, cell) in cells.into_cells() {
            if cell.stored {
                self.finalized_writes.push((cell_key(window, &key), None));
            }
            keyed.push((key, cell.partials));
        }
        let closed = PartialTable::of_window(window, keyed);
        let mut encoded = (self.finalized_encoded.take()).filter(|e| e.precedes(&closed));
        let mut window_bytes = Vec::with_capacity(20);
        append_postcard(&window, &mut window_bytes).expect("a window always encodes");
        let mut chunk = Vec::new();
        let mut number = 0u32;
        for (_, key, partials) in closed.iter() {
            let start = chunk.len();
            append_postcard(&(key, partials), &mut chunk).expect("a cell always encodes");
            if let Some(e) = &mut encoded {
                e.push_encoded(window, &window_bytes, &chunk[start..]);
            }
            if chunk.len() >= FINAL_CHUNK_BYTES {
                let full = std::mem::take(&mut chunk);
                self.finalized_writes
                    .push((final_key(window, number), Some(full)));
                number += 1;
            }
        }
        if !chunk.is_empty() {
            self.finalized_writes
                .push((final_key(window, number), Some(chunk)));
        }
        self.finalized_encoded = encoded;
        self.move_to_finalized(window, closed);
    }

    /// Move the cells of `window` (all in `closed`) to the finalized cells: the whole
    /// window's map at once, or, when a restore put cells of the window there already,
    /// each over its own (and their encoding is given up).
    fn move_to_finalized(&mut self, window: Window, closed: PartialTable) {
        if self.finalized.window_cells(window).next().is_none() {
            self.finalized
                .merge_from(closed)
                .expect("a window the table does not hold merges in without a merge of cells");
            return;
        }
        self.finalized_encoded = None;
        for (_, key, partials) in closed.iter() {
            *self.finalized.cell_mut(window, key.clone(), Vec::new) = partials.clone();
        }
    }

    /// The changed cells and de-duplication buckets since the last call, as writes; a
    /// cell's first write is marked as such.
    pub fn take_writes(&mut self) -> Writes {
        let mut out = std::mem::take(&mut self.finalized_writes);
        let mut first_puts = Vec::new();
        for (window, cells) in &mut self.working {
            for (key, &at) in &cells.index {
                let cell = &mut cells.cells[at];
                if cell.dirty {
                    let write = (
                        cell_key(*window, key),
                        Some(encode_partials(&cell.partials)),
                    );
                    if cell.stored {
                        out.push(write);
                    } else {
                        first_puts.push(write);
                    }
                    cell.dirty = false;
                    cell.stored = true;
                }
            }
        }
        self.dedup.take_writes(&mut out, &mut first_puts);
        // In place, by key: no two writes of one call have the same key.
        out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        first_puts.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        debug_assert!(out.windows(2).all(|w| w[0].0 != w[1].0));
        Writes::merge(out, first_puts)
    }

    /// Cells finalized since the last call, with their encoding when it was kept
    /// ([`WindowState::finalized_encoded`]): the task hands them to the output table.
    pub fn take_finalized(&mut self) -> (PartialTable, Option<EncodedCells>) {
        let encoded = self.finalized_encoded.replace(EncodedCells::default());
        (std::mem::take(&mut self.finalized), encoded)
    }

    /// A copy of the open cells (the part of the output table still changing).
    pub fn open_table(&self) -> PartialTable {
        let mut t = PartialTable::new();
        for (w, cells) in &self.working {
            for (k, c) in cells.iter() {
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
                self.window_mut(window).insert(
                    group,
                    Cell {
                        partials,
                        dirty: false,
                        stored: true,
                    },
                );
                Ok(())
            }
            Some(&FINAL) => self.restore_final(key, value),
            Some(&DEDUP) => self.dedup.restore(key, value),
            _ => Err(corrupt("state key", format!("unknown kind {key:?}"))),
        }
    }

    /// Load one chunk of a finalized window: its cells go to the finalized cells.
    fn restore_final(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        let (Some(start), Some(end), 21) = (key.get(1..9), key.get(9..17), key.len()) else {
            return Err(corrupt(
                "finalized window key",
                format!("{} bytes", key.len()),
            ));
        };
        let bound = |b: &[u8]| i64::from_be_bytes(b.try_into().unwrap_or_default());
        let window = Window {
            start: bound(start),
            end: bound(end),
        };
        let mut rest = value;
        while !rest.is_empty() {
            let ((group, partials), tail): ((GroupKey, Vec<Partial>), &[u8]) =
                postcard::take_from_bytes(rest)
                    .map_err(|e| corrupt("finalized window chunk", e))?;
            *self.finalized.cell_mut(window, group, Vec::new) = partials;
            self.finalized_encoded = None;
            rest = tail;
        }
        Ok(())
    }

    /// After a restore: set the de-duplication clock (the partition's clock).
    pub fn restore_clock(&mut self, max_event_time: Option<i64>) {
        self.max_event_time = max_event_time;
        self.dedup.max_time = max_event_time;
    }

    /// Number of cells in the working set (open windows).
    pub fn open_cells(&self) -> usize {
        self.working.values().map(WindowCells::len).sum()
    }
}

pub(crate) fn cell_key(window: Window, key: &[Scalar]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.push(CELL);
    append_postcard(&(window, key), &mut out).expect("a cell key always encodes");
    out
}

/// Ids as postcard encodes a `Vec<u64>` (its length, then each id, as varints), written
/// straight into one buffer of the right size: a shard holds thousands of ids, and
/// serde's path through postcard costs several times this per id.
fn encode_ids(ids: &[u64]) -> Vec<u8> {
    fn varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    let mut out = Vec::with_capacity(10 + ids.len() * 10);
    varint(&mut out, ids.len() as u64);
    for &id in ids {
        varint(&mut out, id);
    }
    out
}

/// The key of chunk `number` of a finalized window.
fn final_key(window: Window, number: u32) -> Vec<u8> {
    let mut k = Vec::with_capacity(21);
    k.push(FINAL);
    k.extend_from_slice(&window.start.to_be_bytes());
    k.extend_from_slice(&window.end.to_be_bytes());
    k.extend_from_slice(&number.to_be_bytes());
    k
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
        let w = take(&mut d);
        assert!(w.iter().all(|(k, _)| k[0] == DEDUP));
        let mut back = Dedup::new(1000);
        for (k, v) in &w {
            if let Some(v) = v {
                back.restore(k, v).unwrap();
            }
        }
        assert_eq!(back.ids.sorted(), d.ids.sorted());
    }

    #[test]
    fn ids_encode_as_postcard_encodes_their_vector() {
        let cases: [&[u64]; 4] = [
            &[],
            &[0, 1, 127, 128, 16_383, 16_384],
            &[u64::MAX, 1 << 63, (1 << 35) + 7],
            &[300; 200],
        ];
        for ids in cases {
            assert_eq!(
                encode_ids(ids),
                postcard::to_stdvec(ids).unwrap(),
                "{ids:?}"
            );
            let back: Vec<u64> = postcard::from_bytes(&encode_ids(ids)).unwrap();
            assert_eq!(back, ids);
        }
    }

    /// Every write of `d` since the last call, in key order.
    fn take(d: &mut Dedup) -> Vec<Write> {
        let (mut w, mut first) = (Vec::new(), Vec::new());
        d.take_writes(&mut w, &mut first);
        w.append(&mut first);
        w.sort();
        w
    }

    #[test]
    fn a_shard_first_written_is_a_first_put_and_one_never_written_is_never_deleted() {
        // Buckets of 100 ms; ids 1 and 17 share shard 1, id 2 is in shard 2.
        let mut d = Dedup::new(1000);
        assert!(d.first_time(1, 0));
        let (mut w, mut first) = (Vec::new(), Vec::new());
        d.take_writes(&mut w, &mut first);
        assert_eq!((slots(&w), slots(&first)), (vec![], vec![((0, 1), true)]));
        // Written again: not a first put. Bucket 2's shard 2 is new.
        assert!(d.first_time(17, 10));
        assert!(d.first_time(2, 250));
        let (mut w, mut first) = (Vec::new(), Vec::new());
        d.take_writes(&mut w, &mut first);
        assert_eq!(
            (slots(&w), slots(&first)),
            (vec![((0, 1), true)], vec![((2, 2), true)])
        );
        // Bucket 5 opens and expires between two checkpoints, with bucket 0 and 2: only
        // the shards written before are deleted.
        assert!(d.first_time(34, 500));
        d.advance(1_600);
        let (mut w, mut first) = (Vec::new(), Vec::new());
        d.take_writes(&mut w, &mut first);
        assert_eq!(
            (slots(&w), slots(&first)),
            (vec![((0, 1), false), ((2, 2), false)], vec![])
        );
        // An out-of-order id opens bucket 6 again after it expired written: its put
        // follows the delete of the same key, and is no first put.
        assert!(d.first_time(6, 600));
        let _ = take(&mut d);
        d.advance(1_800);
        assert!(d.first_time(22, 600));
        let (mut w, mut first) = (Vec::new(), Vec::new());
        d.take_writes(&mut w, &mut first);
        assert_eq!((slots(&w), slots(&first)), (vec![((6, 6), true)], vec![]));
    }

    /// The slots (bucket, shard) of `writes`, with whether each is a put or a delete.
    fn slots(writes: &[Write]) -> Vec<((i64, u8), bool)> {
        writes
            .iter()
            .map(|(k, v)| {
                let bucket = i64::from_be_bytes(k[1..9].try_into().unwrap());
                ((bucket, k[9]), v.is_some())
            })
            .collect()
    }

    #[test]
    fn an_id_goes_to_the_bucket_of_its_time_whichever_bucket_the_id_before_went_to() {
        // Buckets of 100 ms; times back and forth over their bounds, negative ones too.
        let times = [
            5,
            99,
            100,
            99,
            -1,
            -100,
            -101,
            250,
            199,
            200,
            i64::MAX,
            i64::MIN,
            0,
        ];
        let mut d = Dedup::new(1000);
        for (i, &t) in times.iter().enumerate() {
            // One shard (ids ≡ 0 mod SHARDS), so that a slot is a bucket.
            assert!(d.first_time(i as u64 * SHARDS, t));
        }
        let mut expected: BTreeMap<i64, Vec<u64>> = BTreeMap::new();
        for (i, t) in times.iter().enumerate() {
            expected
                .entry(t.div_euclid(100))
                .or_default()
                .push(i as u64 * SHARDS);
        }
        let got: BTreeMap<i64, Vec<u64>> = take(&mut d)
            .iter()
            .map(|(k, v)| {
                let number = i64::from_be_bytes(k[1..9].try_into().unwrap());
                let ids: Vec<u64> = postcard::from_bytes(v.as_ref().unwrap()).unwrap();
                (number, ids)
            })
            .collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn dedup_writes_each_changed_shard_once_and_deletes_the_expired_ones() {
        // Buckets of 100 ms; ids 1 and 17 share shard 1, id 2 is in shard 2.
        let mut d = Dedup::new(1000);
        assert!(d.first_time(1, 0));
        assert!(d.first_time(17, 50));
        assert!(d.first_time(2, 950));
        // Out of order: an older bucket than the last one.
        assert!(d.first_time(3, 420));
        let w = take(&mut d);
        assert_eq!(
            slots(&w),
            vec![((0, 1), true), ((4, 3), true), ((9, 2), true)]
        );
        assert_eq!(w[0].1, Some(postcard::to_stdvec(&vec![1u64, 17]).unwrap()));
        // Nothing changed: nothing to write.
        let w = take(&mut d);
        assert!(w.is_empty());
        // The clock moves past bucket 0's window: its one shard is deleted, its ids
        // forgotten; bucket 4 stays.
        d.advance(1_100);
        assert!(d.first_time(2_000, 1_100));
        let w = take(&mut d);
        assert_eq!(slots(&w), vec![((0, 1), false), ((11, 0), true)]);
        assert!(d.first_time(1, 1_100));
        assert!(!d.first_time(3, 1_100));
        // A restore of the writes so far holds the same ids; a key that is not a
        // de-duplication shard is damage.
        let mut back = Dedup::new(1000);
        take(&mut d);
        let mut fresh = Dedup::new(1000);
        for (id, t) in [(3, 420), (2, 950), (2_000, 1_100), (1, 1_100)] {
            fresh.first_time(id, t);
        }
        let all = take(&mut fresh);
        for (k, v) in &all {
            back.restore(k, v.as_ref().unwrap()).unwrap();
        }
        assert_eq!(back.ids.sorted(), d.ids.sorted());
        assert!(
            back.restore(&[DEDUP, 0, 0, 0, 0, 0, 0, 0, 0, 16], &[0])
                .is_err()
        );
        assert!(back.restore(&[DEDUP, 0, 0], &[0]).is_err());
    }

    #[test]
    fn a_shard_is_written_with_its_ids_sorted_whatever_order_they_came_in() {
        let mut d = Dedup::new(1000);
        // Ids 33, 1 and 17 share shard 1 of bucket 0, in this order.
        for id in [33, 1, 17] {
            assert!(d.first_time(id, 10));
        }
        let w = take(&mut d);
        assert_eq!(w.len(), 1);
        assert_eq!(
            w[0].1,
            Some(postcard::to_stdvec(&vec![1u64, 17, 33]).unwrap())
        );
        // A later id lands after them: the shard is written again, sorted.
        assert!(d.first_time(65, 20));
        assert!(d.first_time(49, 20));
        let w = take(&mut d);
        let ids: Vec<u64> = postcard::from_bytes(w[0].1.as_ref().unwrap()).unwrap();
        assert_eq!((w.len(), ids), (1, vec![1, 17, 33, 49, 65]));
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
        s.cell(w1, &k, None, || vec![Partial::Count(0)])[0] = Partial::Count(3);
        s.cell(w2, &k, None, || vec![Partial::Count(0)])[0] = Partial::Count(1);
        s.observe(114);
        assert!(!s.is_closed(100)); // 100 + 5 > 114 - 10
        s.observe(115);
        assert!(s.is_closed(100));
        assert_eq!(s.finalize_closed(), 1);
        assert_eq!(s.open_cells(), 1);
        let Writes {
            list: writes,
            first_put,
        } = s.take_writes();
        assert_eq!(writes.len(), 2);
        // The open cell's first write, and the finalized window's chunk (its cell was
        // never written while open: no delete).
        assert_eq!(writes[0].0, cell_key(w2, &k));
        assert_eq!(first_put, vec![true, false]);
        assert_eq!(s.take_writes(), Writes::default());
        let (fin, _) = s.take_finalized();
        assert_eq!(fin.get(w1, &k), Some(&vec![Partial::Count(3)]));
        // Restoring the writes gives the same cells: the finalized window's straight
        // back to the finalized cells, the open one to the working set.
        let mut r = WindowState::new(0, 10, 5, 1000);
        for (key, v) in &writes {
            r.restore(key, v.as_ref().unwrap()).unwrap();
        }
        r.restore_clock(Some(115));
        assert_eq!(r.finalize_closed(), 0);
        assert_eq!(r.take_finalized().0, fin);
        assert_eq!(r.open_table(), s.open_table());
        assert!(r.restore(b"x", b"").is_err());
        // Written again, the cell's key is no longer new; nor is a restored cell's.
        s.cell(w2, &k, None, || vec![Partial::Count(0)])[0] = Partial::Count(2);
        assert_eq!(s.take_writes().first_put, vec![false]);
        r.cell(w2, &k, None, || vec![Partial::Count(0)])[0] = Partial::Count(2);
        assert_eq!(r.take_writes().first_put, vec![false]);
    }

    #[test]
    fn a_finalized_window_is_encoded_once_as_a_snapshot_of_the_table_holds_it() {
        let mut s = WindowState::new(0, 0, 0, 1000);
        let w = |start: i64| Window {
            start,
            end: start + 100,
        };
        // Keys come in no order, as a hash map keeps them; two windows.
        for (start, key, n) in [
            (0, "m", 3),
            (0, "b", 1),
            (100, "z", 2),
            (0, "q", 5),
            (100, "a", 7),
        ] {
            let k = vec![Scalar::Str(key.into()), Scalar::Int(n)];
            s.cell(w(start), &k, None, || vec![Partial::Count(0)])[0] = Partial::Count(n as u64);
        }
        s.observe(1000);
        assert_eq!(s.finalize_closed(), 5);
        let (fin, encoded) = s.take_finalized();
        let encoded = encoded.expect("the task kept the encoding");
        let mut expected = EncodedCells::default();
        expected.append(&fin);
        assert_eq!(
            (encoded.bytes, encoded.cells, encoded.last),
            (expected.bytes, expected.cells, expected.last)
        );
        // The chunks on the changelog hold the same cells: restored, they give the
        // table back, but a restored cell has no encoding of its own.
        let writes = s.take_writes().list;
        let mut r = WindowState::new(0, 0, 0, 1000);
        for (key, v) in &writes {
            r.restore(key, v.as_ref().unwrap()).unwrap();
        }
        let (back, encoded) = r.take_finalized();
        assert_eq!((back, encoded.map(|e| e.cells)), (fin, None));
        // After a take, the next window starts a new encoding.
        assert_eq!(r.take_finalized().1.map(|e| e.cells), Some(0));
    }

    #[test]
    fn windows_opened_out_of_order_close_in_the_order_of_their_ends() {
        let mut s = WindowState::new(0, 0, 0, 1000);
        let w = |start: i64| Window {
            start,
            end: start + 10,
        };
        let k = vec![Scalar::Int(1)];
        for start in [20, 0, 10, 30] {
            s.cell(w(start), &k, None, || vec![Partial::Count(start as u64)]);
        }
        let closed_at = |s: &mut WindowState, time: i64| {
            s.observe(time);
            s.finalize_closed();
            let starts: Vec<i64> = s.take_finalized().0.windows().map(|w| w.start).collect();
            starts
        };
        assert_eq!(closed_at(&mut s, 9), Vec::<i64>::new());
        assert_eq!(closed_at(&mut s, 20), vec![0, 10]);
        assert_eq!(closed_at(&mut s, 35), vec![20]);
        assert_eq!(s.open_cells(), 1);
    }

    #[test]
    fn a_numbered_key_finds_the_cell_of_its_key_however_it_was_made() {
        let mut s = WindowState::new(0, 10, 5, 1000);
        let w = Window { start: 0, end: 100 };
        let (a, b) = (vec![Scalar::Int(1)], vec![Scalar::Int(2)]);
        // A cell restored by key, then found by number: the same cell.
        let restored = cell_key(w, &a);
        let value = postcard::to_stdvec(&vec![Partial::Count(5)]).unwrap();
        s.restore(&restored, &value).unwrap();
        let count = |p: &mut Vec<Partial>| match &mut p[0] {
            Partial::Count(n) => *n += 1,
            other => panic!("{other:?}"),
        };
        for _ in 0..2 {
            count(s.cell(w, &a, Some(3), || vec![Partial::Count(0)]));
            count(s.cell(w, &b, Some(0), || vec![Partial::Count(0)]));
        }
        count(s.cell(w, &a, None, || vec![Partial::Count(0)]));
        let t = s.open_table();
        assert_eq!(t.len(), 2);
        assert_eq!(t.get(w, &a), Some(&vec![Partial::Count(8)]));
        assert_eq!(t.get(w, &b), Some(&vec![Partial::Count(2)]));
    }

    /// A store and changelog as a map: the writes applied in order.
    fn apply(store: &mut std::collections::BTreeMap<Vec<u8>, Vec<u8>>, writes: Vec<Write>) {
        for (k, v) in writes {
            match v {
                Some(v) => store.insert(k, v),
                None => store.remove(&k),
            };
        }
    }

    #[test]
    fn a_finalized_window_is_written_in_chunks_and_its_open_keys_are_deleted() {
        let mut s = WindowState::new(0, 0, 0, 1000);
        let w = Window { start: 0, end: 100 };
        // Enough cells for several chunks; half of them checkpointed while open.
        let cells = 3 * FINAL_CHUNK_BYTES / 40;
        let key = |i: usize| vec![Scalar::Str(format!("key-{i:08}-of-the-window"))];
        for i in 0..cells / 2 {
            s.cell(w, &key(i), None, || vec![Partial::Count(0)])[0] = Partial::Count(i as u64);
        }
        let mut store = std::collections::BTreeMap::new();
        apply(&mut store, s.take_writes().list);
        assert_eq!(store.len(), cells / 2);
        for i in cells / 2..cells {
            s.cell(w, &key(i), None, || vec![Partial::Count(0)])[0] = Partial::Count(i as u64);
        }
        s.observe(100);
        assert_eq!(s.finalize_closed(), cells);
        apply(&mut store, s.take_writes().list);
        // Only chunks are left, each below the chunk size plus one cell.
        assert!(store.keys().all(|k| k[0] == FINAL), "open keys deleted");
        assert!(store.len() >= 3, "{} chunks", store.len());
        assert!(store.values().all(|v| v.len() < FINAL_CHUNK_BYTES + 64));
        let (fin, _) = s.take_finalized();
        assert_eq!(fin.iter().count(), cells);
        let mut r = WindowState::new(0, 0, 0, 1000);
        for (k, v) in &store {
            r.restore(k, v).unwrap();
        }
        assert_eq!(r.take_finalized().0, fin);
        // A chunk cut short, or a key of the wrong size, is damage.
        let (k, v) = store.iter().next().unwrap();
        assert!(r.restore(k, &v[..v.len() - 1]).is_err());
        assert!(r.restore(&k[..20], v).is_err());
    }
}
