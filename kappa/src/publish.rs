//! The job's side of its output table: what the tasks publish into the shared state
//! ([`Inner::publish`], and in memory only [`Inner::publish_fresh`]), the tables it shows
//! ([`Inner::table_of`], [`Inner::fresh_table_of`]), and the writes of the parts to their
//! files ([`Inner::write_table`]: a delta of what changed, or a whole snapshot).

use std::collections::BTreeSet;
use std::collections::btree_map::Entry;
use std::sync::LazyLock;
use std::sync::atomic::Ordering;

use workloads::{GroupKey, Partial, PartialTable, Window};

use crate::error::Result;
use crate::shared::{FreshPart, Inner, Shared};
use crate::state::Checkpoint;
use crate::table::{self, DeltaRef, MergedCells, OutputTable, TablePart, combine_watermarks};
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
}

/// Bring a partition's open cells `open` to a publication's: drop the cells `finalized`
/// since the last one, then set the open cells it `changed` (see
/// `WindowState::open_table`); each cell either touched is recorded in `touched`.
fn apply_publication(
    open: &mut PartialTable,
    touched: &mut BTreeSet<(Window, GroupKey)>,
    finalized: &PartialTable,
    changed: PartialTable,
) {
    for (w, k, _) in finalized.iter() {
        open.remove(*w, k);
        touched.insert((*w, k.clone()));
    }
    for (w, k, partials) in changed.into_cells() {
        touched.insert((w, k.clone()));
        *open.cell_mut(w, k, Vec::new) = partials;
    }
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
    /// as one.
    fn full_frame_of(&self, shared: &Shared, partition: u32) -> Result<Option<Encoded>> {
        let Some(head) = self.part_header(shared, partition) else {
            return Ok(None);
        };
        let closed = shared.closed.get(&partition).unwrap_or(&EMPTY);
        let open = shared.open.get(&partition).unwrap_or(&EMPTY);
        let position = head.position;
        let part = head.with_table(MergedCells(closed, open));
        Ok(Some(Encoded {
            partition,
            position,
            frame: table::full_frame(&part)?,
            full: true,
        }))
    }

    /// The frame of what changed in one partition's part since its last write: each
    /// cell a publication changed since ([`Shared::changed_since`]: open cells it set,
    /// cells of windows it finalized) as the part holds it now, its closed and open
    /// cells merged as a whole snapshot merges them, or removed when the part holds it no
    /// more. Its cost is the change, not the part. `None` before its first checkpoint.
    fn delta_frame_of(&self, shared: &Shared, partition: u32) -> Result<Option<Encoded>> {
        let Some(header) = self.part_header(shared, partition) else {
            return Ok(None);
        };
        let closed = shared.closed.get(&partition).unwrap_or(&EMPTY);
        let open = shared.open.get(&partition).unwrap_or(&EMPTY);
        let changed = shared.changed_since.get(&partition);
        // A cell both closed and open is merged into a copy of its own, held while the
        // delta borrows it.
        let mut merged: Vec<(&Window, &GroupKey, Vec<Partial>)> = Vec::new();
        let mut delta = DeltaRef::header_of(&header);
        for (w, k) in changed.into_iter().flatten() {
            match (closed.get(*w, k), open.get(*w, k)) {
                (Some(a), Some(b)) => {
                    let mut cell = a.clone();
                    for (x, y) in cell.iter_mut().zip(b) {
                        x.merge(y)?;
                    }
                    merged.push((w, k, cell));
                }
                (Some(v), None) | (None, Some(v)) => delta.upserts.push((w, k, v)),
                (None, None) => delta.removed.push((w, k)),
            }
        }
        delta
            .upserts
            .extend(merged.iter().map(|(w, k, cell)| (*w, *k, cell)));
        let frame = table::delta_frame(&delta)?;
        Ok(Some(Encoded {
            partition,
            position: header.position,
            frame,
            full: false,
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
        let mut kept = self.writing.lock();
        let writes = {
            let mut shared = self.shared.lock();
            // The files of parts no longer written from here (their tasks closed) close.
            kept.retain(|p, _| shared.files.contains_key(p));
            let dirty = std::mem::take(&mut shared.dirty);
            let mut writes = Vec::with_capacity(dirty.len());
            for p in dirty {
                let write = match shared.files.get(&p) {
                    Some(f) if f.delta_bytes <= table::MAX_PART_FILE.max(f.full_bytes) => {
                        self.delta_frame_of(&shared, p)?
                    }
                    _ => self.full_frame_of(&shared, p)?,
                };
                if let Some(write) = write {
                    shared.changed_since.remove(&p);
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
            let at = (workload, version, p);
            let written = if write.full {
                // Perhaps a new file: the deltas after it open it anew.
                kept.remove(&p);
                Some(table::write_full_frame(
                    dir,
                    at,
                    &write.frame,
                    sync,
                    start_new,
                )?)
            } else {
                let mut file = kept.remove(&p);
                let written = table::append_delta_kept(dir, at, &mut file, &write.frame, sync)?;
                if let Some(f) = file {
                    kept.insert(p, f);
                }
                written
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
        }
        drop(shared);
        // What readers of the table see moved: wake `wait_visible` (and the others).
        self.table_written.notify_all();
        self.changed.notify_all();
        Ok(())
    }

    /// Take in what the task of `partition` published (at a checkpoint, or without one
    /// with `uncommitted_every`): the cells finalized and the open cells changed since
    /// its previous publication. Its part is written at the next [`Inner::write_table`].
    /// A publication also takes in what only [`Shared::fresh`] held (the publications
    /// since the previous one here, for fresh queries).
    pub(crate) fn publish(&self, partition: u32, p: Published) -> Result<()> {
        let mut guard = self.shared.lock();
        let shared = &mut *guard;
        let touched = shared.changed_since.entry(partition).or_default();
        let closed = shared.closed.entry(partition).or_default();
        if let Some(f) = shared.fresh.remove(&partition) {
            // What the fresh publications brought (the cells they finalized merge with
            // this publication's: a window is finalized once).
            shared.open.insert(partition, f.open);
            touched.extend(f.changed);
            closed.merge_from(f.finalized)?;
        }
        let open = shared.open.entry(partition).or_default();
        apply_publication(open, touched, &p.finalized, p.open);
        closed.merge_from(p.finalized)?;
        if p.committed {
            shared.committed.insert(partition, p.checkpoint.offset);
        }
        shared.checkpoints.insert(partition, p.checkpoint);
        shared.dirty.insert(partition);
        drop(guard);
        // What the table shows moved: wake `wait_checkpointed`.
        self.changed.notify_all();
        Ok(())
    }

    /// Take in what the task of `partition` has processed since its last publication
    /// (an uncommitted publication), into [`Shared::fresh`] only: nothing is written, and
    /// the table and its files still show the last checkpoint. The first fresh
    /// publication after one into the table starts from a copy of its open cells.
    pub(crate) fn publish_fresh(&self, partition: u32, p: Published) -> Result<()> {
        let mut guard = self.shared.lock();
        let shared = &mut *guard;
        let fresh = match shared.fresh.entry(partition) {
            Entry::Occupied(f) => f.into_mut(),
            Entry::Vacant(slot) => slot.insert(FreshPart {
                open: shared.open.get(&partition).cloned().unwrap_or_default(),
                ..FreshPart::default()
            }),
        };
        apply_publication(&mut fresh.open, &mut fresh.changed, &p.finalized, p.open);
        fresh.finalized.merge_from(p.finalized)?;
        fresh.checkpoint = p.checkpoint;
        drop(guard);
        // What the fresh table shows moved: wake `wait_fresh`.
        self.changed.notify_all();
        Ok(())
    }
}
