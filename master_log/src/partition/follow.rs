//! Several processes on one partition: the writer lock around every write, and how a
//! partition follows what other processes wrote.
//!
//! - **Writes** (append, roll, retention, compaction, recovery, the close that writes
//!   indexes and manifest) run under the partition's writer lock (see `locks`), after
//!   bringing the partition up to date with its files: what another process appended
//!   is read (and checked) first, so that offsets stay dense; a tail that is incomplete
//!   or fails its checks while no one else is writing is a write torn by a crash, and
//!   recovery cuts it before anything is appended.
//! - **Readers** bring the partition up to date when they ask at or past its end (and
//!   for its offsets): two `stat`s tell whether anything changed — the active segment
//!   file's length and inode, the manifest's identity (every roll, retention or
//!   compaction run, repair and close writes it). New complete batches are read and
//!   checked; an incomplete batch at the end is not written yet, never an error, and a
//!   reader never cuts anything. A changed manifest reloads the segment list (see
//!   `load`), keeping the segments whose files are unchanged.

use std::os::unix::fs::MetadataExt;

use super::Partition;
use crate::config::FsyncPolicy;
use crate::durable::sync_dir;
use crate::error::{IoContext, LogError, Result};
use crate::load::{self, file_id};
use crate::locks;
use crate::recover;
use crate::segment::SegmentIssue;

impl Partition {
    /// Load the partition's files at open; with the writer lock held (`writer`),
    /// recover them first if they need it.
    pub(super) fn load_files(
        &mut self,
        writer: bool,
        issues: &mut Vec<SegmentIssue>,
    ) -> Result<()> {
        let mut none = Vec::new();
        let loaded = match load::load(&self.dir, &self.config, &mut none) {
            Ok(l) if l.needs_recovery.is_none() || !writer => l,
            // No segment yet (a new partition), or something to repair.
            _ if writer => return self.recover_files(issues),
            Err(e) => return Err(e),
            Ok(_) => unreachable!("handled above"),
        };
        self.apply(loaded);
        Ok(())
    }

    /// Take what `load` found.
    fn apply(&mut self, loaded: load::Loaded) {
        self.segments = loaded.segments;
        self.lost = loaded.lost;
        self.manifest_id = loaded.manifest_id;
        self.seen_len = loaded.active_len;
        self.note_append_times();
    }

    fn note_append_times(&mut self) {
        let newest = self.segments.iter().map(|s| s.max_append_time).max();
        self.last_append_time = self.last_append_time.max(newest.unwrap_or(i64::MIN));
    }

    /// Recover the partition's files (the writer lock is held): see `recover`.
    pub(super) fn recover_files(&mut self, issues: &mut Vec<SegmentIssue>) -> Result<()> {
        let rec = recover::open_partition(&self.dir, &self.config, issues)?;
        if rec.created && self.fsync != FsyncPolicy::Never {
            sync_dir(&self.dir).ctx(|| format!("sync directory {}", self.dir.display()))?;
        }
        self.segments = rec.segments;
        self.lost = rec.lost;
        self.note_append_times();
        self.seen_len = self.active().size;
        if rec.write_manifest {
            self.write_manifest()?;
        } else {
            self.manifest_id = file_id(&self.manifest_path)?;
        }
        Ok(())
    }

    /// Whether the files changed since this process last looked (two `stat`s).
    pub fn stale(&self) -> Result<bool> {
        if file_id(&self.manifest_path)? != self.manifest_id {
            return Ok(true);
        }
        let active = self.active();
        Ok(match file_id(active.log_file())? {
            Some(id) => id.ino != active.ino || id.len != self.seen_len,
            None => true,
        })
    }

    /// Bring the partition up to date with its files (see the module docs). `writer`:
    /// the caller holds the writer lock, so bytes past the last complete batch are a
    /// torn write, which is recovered.
    pub fn refresh(&mut self, writer: bool) -> Result<()> {
        let manifest = file_id(&self.manifest_path)?;
        let active = self.active();
        let same = match file_id(active.log_file())? {
            Some(id) if manifest == self.manifest_id && id.ino == active.ino => Some(id.len),
            _ => None,
        };
        if let Some(len) = same {
            let known = if writer { active.size } else { self.seen_len };
            if len == known {
                return Ok(());
            }
            let interval = self.config.index_interval_bytes;
            let stop = self.active_mut().catch_up(len, interval);
            self.seen_len = len;
            self.note_append_times();
            match stop {
                None => return Ok(()),
                // Not written yet (or left for the writer to recover).
                Some(_) if !writer => return Ok(()),
                Some(e) => tracing::warn!(
                    topic = %self.topic,
                    partition = self.id,
                    "{} at byte {}: {}; recovering",
                    self.active().log_path().display(),
                    e.position,
                    e.reason
                ),
            }
        }
        self.reload(writer)
    }

    /// Load the segment list again (the manifest changed, or the active file did), and
    /// recover it when `writer` and it needs it.
    fn reload(&mut self, writer: bool) -> Result<()> {
        match std::fs::metadata(&self.dir) {
            Ok(m) if m.ino() == self.dir_ino => {}
            _ => {
                // Deleted by another process (and maybe created again): nothing of it
                // is written from here any more.
                self.deleted = true;
                return Err(LogError::UnknownTopic(self.topic.clone()));
            }
        }
        let mut segments = std::mem::take(&mut self.segments);
        let mut tries = 0;
        let loaded = loop {
            match load::load(&self.dir, &self.config, &mut segments) {
                Ok(l) => break l,
                // A file deleted by another process's retention or compaction between
                // listing and opening: list again.
                Err(LogError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound && tries < 3 =>
                {
                    tries += 1;
                }
                Err(e) => {
                    self.segments = segments;
                    return Err(e);
                }
            }
        };
        drop(segments);
        match &loaded.needs_recovery {
            Some(why) if writer => {
                tracing::warn!(topic = %self.topic, partition = self.id, "recovering: {why}");
                let mut issues = Vec::new();
                let kept = loaded.segments;
                if let Err(e) = self.recover_files(&mut issues) {
                    self.segments = kept;
                    return Err(e);
                }
                for issue in issues {
                    tracing::warn!(topic = %self.topic, partition = self.id, "recovery: {issue}");
                }
                Ok(())
            }
            _ => {
                self.apply(loaded);
                Ok(())
            }
        }
    }

    /// Run `f` under the partition's writer lock, the partition brought up to date
    /// first.
    pub(super) fn write_locked<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        locks::lock_exclusive(&self.dir_lock, &self.dir)?;
        let result = self.refresh(true).and_then(|()| f(self));
        locks::unlock(&self.dir_lock, &self.dir);
        result
    }

    /// Take the writer lock for good and stop writing: the topic is being deleted.
    pub fn lock_for_delete(&mut self) -> Result<()> {
        locks::lock_exclusive(&self.dir_lock, &self.dir)?;
        self.deleted = true;
        Ok(())
    }

    /// Give back the writer lock [`Partition::lock_for_delete`] took: the delete failed.
    pub fn cancel_delete(&mut self) {
        self.deleted = false;
        locks::unlock(&self.dir_lock, &self.dir);
    }

    /// Close the partition: under the writer lock, cut out the damage readers found
    /// (see `repair_found`) and, after appends, write the active segment's indexes and
    /// the manifest (fsyncing the data first under a syncing policy) — what lets the
    /// next open skip reading the active segment. A partition only read writes nothing.
    pub fn close(&mut self) {
        if self.deleted || self.closed || self.segments.is_empty() {
            return;
        }
        self.closed = true;
        if !self.dirty && self.found.lock().is_empty() {
            return;
        }
        let result = self.write_locked(|p| {
            p.repair_found()?;
            if !p.dirty {
                return Ok(());
            }
            if p.fsync == FsyncPolicy::Never {
                p.active().write_indexes()?;
                p.write_manifest()?;
                p.dirty = false;
                Ok(())
            } else {
                p.flush_now()
            }
        });
        match result {
            Ok(()) | Err(LogError::UnknownTopic(_)) => {}
            Err(e) => {
                tracing::warn!(topic = %self.topic, partition = self.id, "closing partition: {e}")
            }
        }
    }
}
