//! The job's side of its output table: what the tasks publish into the shared state
//! ([`Inner::publish`], and in memory only [`Inner::publish_fresh`]), the tables it shows
//! ([`Inner::table_of`], [`Inner::fresh_table_of`]), and the writes of the parts to their
//! files ([`Inner::write_table`]: a delta of what changed, or a whole snapshot).

use std::collections::btree_map::Entry;
use std::sync::atomic::Ordering;
use std::sync::{Arc, LazyLock};

use workloads::PartialTable;

use crate::error::Result;
use crate::shared::{Inner, PartFileState, Shared};
use crate::state::Checkpoint;
use crate::table::{
    self, DeltaRef, EncodedCells, Joined, MergedCells, OutputTable, TablePart, combine_watermarks,
    joined_cells,
};
use crate::task::Published;

/// The cells of a partition that has none.
static EMPTY: LazyLock<PartialTable> = LazyLock::new(PartialTable::new);

/// One part's frame, encoded by [`Inner::write_table`] and written after.
struct Encoded {
    partition: u32,
    /// The part's position once the frame is written.
    position: u64,
    frame: Vec<u8>,
    /// A whole snapshot (else a delta).
    full: bool,
    /// The open cells the part holds once the frame is written (shared with
    /// [`Shared::open`], not copied).
    open: Arc<PartialTable>,
    /// How much of [`Shared::closed_encoded`] the part holds once the frame is written
    /// ([`PartFileState::encoded_upto`]).
    encoded_upto: Option<(usize, usize)>,
}

impl Inner {
    /// The table as of every owned partition's last publication, from `shared`.
    pub(crate) fn table_of(&self, shared: &Shared) -> Result<OutputTable> {
        self.table_at(shared, false)
    }

    /// The table with what the tasks have processed since their last publication
    /// ([`Shared::fresh`]), from `shared`.
    pub(crate) fn fresh_table_of(&self, shared: &Shared) -> Result<OutputTable> {
        self.table_at(shared, true)
    }

    /// The table of every owned partition as of its last publication, or, with `fresh`,
    /// as of what its task has processed when that is further.
    fn table_at(&self, shared: &Shared, fresh: bool) -> Result<OutputTable> {
        let fresh_of = |p: u32| fresh.then(|| shared.fresh.get(&p)).flatten();
        let mut table = PartialTable::new();
        for t in shared.closed.values() {
            table.merge(t)?;
        }
        for (&p, open) in &shared.open {
            match fresh_of(p) {
                Some(f) => {
                    table.merge(&f.finalized)?;
                    table.merge(&f.open)?;
                }
                None => table.merge(open)?,
            }
        }
        let status = self.status_of(shared);
        let bound = self.config.watermark_bound_ms;
        let ckpt = |p: u32| {
            fresh_of(p)
                .map(|f| &f.checkpoint)
                .or_else(|| shared.checkpoints.get(&p))
        };
        let watermark = combine_watermarks(status.partitions.iter().map(|s| {
            let c = ckpt(s.partition);
            let wm = c
                .and_then(|c| c.max_event_time)
                .map(|t| t.saturating_sub(bound));
            (wm, s.idle && c.is_some_and(|c| c.offset >= s.head))
        }));
        let sum = |f: fn(&Checkpoint) -> u64| (0..self.partitions).filter_map(ckpt).map(f).sum();
        Ok(OutputTable {
            workload: self.workload.name().to_owned(),
            version: self.config.version,
            topic: self.config.topic.clone(),
            positions: (0..self.partitions)
                .map(|p| ckpt(p).map_or(0, |c| c.offset))
                .collect(),
            watermark,
            allowed_lateness_ms: self.config.allowed_lateness_ms,
            events: sum(|c| c.events),
            duplicates: sum(|c| c.duplicates),
            late_events: sum(|c| c.late_events),
            written_ms: master_log::now_ms(),
            table,
        })
    }

    /// The frame of one partition's part as of its last publication (`None` before
    /// it): a whole snapshot of its closed and open cells, encoded from the two tables
    /// as one; the closed cells copied from [`Shared::closed_encoded`] when it holds them
    /// and every open cell comes after them.
    fn full_frame_of(&self, shared: &Shared, partition: u32) -> Result<Option<Encoded>> {
        let Some(head) = self.part_header(shared, partition) else {
            return Ok(None);
        };
        let closed = shared.closed.get(&partition).unwrap_or(&EMPTY);
        let open = shared.open.get(&partition).cloned().unwrap_or_default();
        let position = head.position;
        let frame = match shared.closed_encoded.get(&partition) {
            Some(encoded) if encoded.cells == closed.len() && encoded.precedes(&open) => {
                let mut open_cells = EncodedCells::default();
                open_cells.append(&open);
                let cells = encoded.cells + open_cells.cells;
                table::full_frame_of_encoded(&head, cells, &[&encoded.bytes, &open_cells.bytes])?
            }
            _ => table::full_frame(&head.with_table(MergedCells(closed, &open)))?,
        };
        Ok(Some(Encoded {
            partition,
            position,
            frame,
            full: true,
            open,
            encoded_upto: encoded_upto(shared, partition),
        }))
    }

    /// The frame of what changed in one partition's part since its last write, `file`:
    /// the cells of windows finalized since (copied from [`Shared::closed_encoded`] when
    /// it holds them all after what the file holds, else encoded), the open cells that
    /// differ from those written, and the open cells written that are gone (one walk over
    /// the open cells now and those written, side by side; no cell copied). `None` before
    /// its first checkpoint.
    fn delta_frame_of(
        &self,
        shared: &Shared,
        partition: u32,
        file: &PartFileState,
    ) -> Result<Option<Encoded>> {
        let Some(header) = self.part_header(shared, partition) else {
            return Ok(None);
        };
        let mut delta = DeltaRef::header_of(&header);
        let closed = shared.closed.get(&partition).unwrap_or(&EMPTY);
        let open = shared.open.get(&partition).cloned().unwrap_or_default();
        let encoded = finalized_encoded(shared, partition, file);
        if encoded.is_none() {
            let finalized = shared.finalized_since.get(&partition);
            for &w in finalized.into_iter().flatten() {
                delta.upserts.extend(closed.window_cells(w));
            }
        }
        for (w, k, cell) in joined_cells(&file.open, &open) {
            match cell {
                Joined::Right(v) => delta.upserts.push((w, k, v)),
                Joined::Both(was, v) if was != v => delta.upserts.push((w, k, v)),
                Joined::Both(..) => {}
                Joined::Left(_) if closed.get(*w, k).is_none() => delta.removed.push((w, k)),
                Joined::Left(_) => {}
            }
        }
        let frame = match encoded {
            Some((bytes, cells)) => table::delta_frame_after_encoded(&delta, cells, bytes)?,
            None => table::delta_frame(&delta)?,
        };
        Ok(Some(Encoded {
            partition,
            position: header.position,
            frame,
            full: false,
            open,
            encoded_upto: encoded_upto(shared, partition),
        }))
    }

    /// One partition's part without its cells, as of its last publication.
    fn part_header(&self, shared: &Shared, partition: u32) -> Option<TablePart<()>> {
        let c = shared.checkpoints.get(&partition)?;
        let status = self.partition_status(shared, partition);
        Some(TablePart {
            workload: self.workload.name().to_owned(),
            version: self.config.version,
            topic: self.config.topic.clone(),
            partitions: self.partitions,
            partition,
            position: c.offset,
            watermark: c
                .max_event_time
                .map(|t| t.saturating_sub(self.config.watermark_bound_ms)),
            idle: status.idle && c.offset >= status.head,
            allowed_lateness_ms: self.config.allowed_lateness_ms,
            events: c.events,
            duplicates: c.duplicates,
            late_events: c.late_events,
            written_ms: master_log::now_ms(),
            table: (),
        })
    }

    /// Write the parts of the partitions published since their last write (the others
    /// stay as they are): a delta of what changed, or a whole snapshot at a task's first
    /// write and once the deltas since the last snapshot outgrow it (see the `table`
    /// module). Synced, unless the job shows uncommitted results (then no table file is;
    /// see `JobConfig::uncommitted_every`). The frames are encoded under the shared lock
    /// straight from the tables there (no copy of a table), and written after it.
    pub(crate) fn write_table(&self) -> Result<()> {
        let sync = self.config.uncommitted_every.is_none();
        // Held while the writes are made and the files' state recorded: writes of a part
        // land in the order they were built.
        let _w = self.writing.lock();
        let writes = {
            let mut shared = self.shared.lock();
            let dirty = std::mem::take(&mut shared.dirty);
            let mut writes = Vec::with_capacity(dirty.len());
            for p in dirty {
                let write = match shared.files.get(&p) {
                    Some(f) if f.delta_bytes <= table::MAX_PART_FILE.max(f.full_bytes) => {
                        self.delta_frame_of(&shared, p, f)?
                    }
                    _ => self.full_frame_of(&shared, p)?,
                };
                if let Some(write) = write {
                    shared.finalized_since.remove(&p);
                    let start_new = !shared.files.contains_key(&p);
                    writes.push((write, start_new));
                }
            }
            writes
        };
        if writes.is_empty() {
            return Ok(());
        }
        let dir = &self.config.dir;
        let (workload, version) = (self.workload.name(), self.config.version);
        let mut done = Vec::with_capacity(writes.len());
        for (write, start_new) in writes {
            let p = write.partition;
            let written = if write.full {
                let at = (workload, version, p);
                Some(table::write_full_frame(
                    dir,
                    at,
                    &write.frame,
                    sync,
                    start_new,
                )?)
            } else {
                table::append_delta_frame(dir, workload, version, p, &write.frame, sync)?
            };
            match written {
                Some(bytes) => done.push((write, bytes)),
                // The file went away (its version deleted meanwhile): a whole snapshot
                // next time, in a new file.
                None => {
                    let mut shared = self.shared.lock();
                    shared.dirty.insert(p);
                    shared.files.remove(&p);
                }
            }
        }
        if self.config.serve_if_none
            && !self.serving_known.load(Ordering::Relaxed)
            && !done.is_empty()
        {
            if table::serving_version(dir, workload)?.is_none() {
                // A part of this version was just written: no need to read it back.
                table::write_alias(dir, workload, version)?;
            }
            // An alias, once there, is only ever switched (never removed) while this
            // version runs.
            self.serving_known.store(true, Ordering::Relaxed);
        }
        let mut shared = self.shared.lock();
        shared.table_writes += 1;
        for (write, bytes) in done {
            // Not if the partition was closed here meanwhile (another member owns it).
            if !shared.checkpoints.contains_key(&write.partition) {
                continue;
            }
            shared.written.insert(write.partition, write.position);
            let file = shared.files.entry(write.partition).or_default();
            if write.full {
                file.full_bytes = bytes;
                file.delta_bytes = 0;
            } else {
                file.delta_bytes += bytes;
            }
            file.open = write.open;
            file.encoded_upto = write.encoded_upto;
        }
        drop(shared);
        // What readers of the table see moved: wake `wait_visible` (and the others).
        self.table_written.notify_all();
        self.changed.notify_all();
        Ok(())
    }

    /// Take in what the task of `partition` published (at a checkpoint, or without one
    /// with `uncommitted_every`); its part is written at the next [`Inner::write_table`].
    /// A checkpoint also takes in the cells finalized since the previous one that only
    /// [`Shared::fresh`] held.
    pub(crate) fn publish(&self, partition: u32, p: Published) -> Result<()> {
        let mut shared = self.shared.lock();
        let pending = if p.committed {
            shared.fresh.remove(&partition).map(|f| f.finalized)
        } else {
            None
        };
        let pending = pending.map(|f| (f, None));
        for (finalized, encoded) in pending
            .into_iter()
            .chain([(p.finalized, p.finalized_encoded)])
        {
            shared
                .finalized_since
                .entry(partition)
                .or_default()
                .extend(finalized.windows().copied());
            encode_closed(&mut shared, partition, &finalized, encoded);
            shared
                .closed
                .entry(partition)
                .or_default()
                .merge_from(finalized)?;
        }
        shared.open.insert(partition, Arc::new(p.open));
        if p.committed {
            shared.committed.insert(partition, p.checkpoint.offset);
        }
        shared.checkpoints.insert(partition, p.checkpoint);
        shared.dirty.insert(partition);
        drop(shared);
        // What the table shows moved: wake `wait_checkpointed`.
        self.changed.notify_all();
        Ok(())
    }

    /// Take in what the task of `partition` has processed since its last publication
    /// (an uncommitted publication), into [`Shared::fresh`] only: nothing is written, and
    /// the table and its files still show the last checkpoint.
    pub(crate) fn publish_fresh(&self, partition: u32, p: Published) -> Result<()> {
        let mut shared = self.shared.lock();
        let fresh = shared.fresh.entry(partition).or_default();
        fresh.finalized.merge(&p.finalized)?;
        fresh.open = p.open;
        fresh.checkpoint = p.checkpoint;
        drop(shared);
        // What the fresh table shows moved: wake `wait_fresh`.
        self.changed.notify_all();
        Ok(())
    }
}

/// How much of [`Shared::closed_encoded`] `partition` has, as (bytes, cells): `None`
/// without an encoding of all its closed cells.
fn encoded_upto(shared: &Shared, partition: u32) -> Option<(usize, usize)> {
    let encoded = shared.closed_encoded.get(&partition)?;
    let closed = shared.closed.get(&partition).map_or(0, PartialTable::len);
    (encoded.cells == closed).then_some((encoded.bytes.len(), encoded.cells))
}

/// The cells of the windows finalized in `partition` since its part was written as
/// `file`, as encoded in [`Shared::closed_encoded`] after what `file` holds, with their
/// number: `None` when that encoding does not hold exactly those cells (it was dropped
/// or started anew since, or the file holds none of it).
fn finalized_encoded<'a>(
    shared: &'a Shared,
    partition: u32,
    file: &PartFileState,
) -> Option<(&'a [u8], usize)> {
    let (bytes, cells) = file.encoded_upto?;
    let (now_bytes, now_cells) = encoded_upto(shared, partition)?;
    if bytes > now_bytes || cells > now_cells {
        return None;
    }
    let closed = shared.closed.get(&partition)?;
    let finalized: usize = (shared.finalized_since.get(&partition).into_iter().flatten())
        .map(|&w| closed.window_cells(w).count())
        .sum();
    let encoded = shared.closed_encoded.get(&partition)?;
    (now_cells - cells == finalized).then(|| (&encoded.bytes[bytes..], finalized))
}

/// Keep [`Shared::closed_encoded`] of `partition` the encoding of its closed cells as
/// `finalized` is about to join them: `finalized` appended when all its windows come
/// after those held, else the encoding dropped (a snapshot then encodes the cells).
/// Started with the partition's first closed cells. `encoded`, the task's encoding of
/// `finalized` when it kept one, is copied instead of encoding the cells again.
fn encode_closed(
    shared: &mut Shared,
    partition: u32,
    finalized: &PartialTable,
    encoded_by_task: Option<EncodedCells>,
) {
    let held = shared.closed.get(&partition).map_or(0, PartialTable::len);
    let encoded = match shared.closed_encoded.entry(partition) {
        Entry::Occupied(e) => e.into_mut(),
        Entry::Vacant(e) if held == 0 => e.insert(EncodedCells::default()),
        Entry::Vacant(_) => return,
    };
    if encoded.cells == held && encoded.precedes(finalized) {
        match encoded_by_task {
            Some(e) if e.cells == finalized.len() => encoded.extend(e),
            _ => encoded.append(finalized),
        }
    } else {
        shared.closed_encoded.remove(&partition);
    }
}
