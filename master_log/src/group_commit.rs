//! Group commit: the appends of one partition under [`FsyncPolicy::Always`] share their
//! `fdatasync`s.
//!
//! An append writes its batches under the partition's lock, takes a ticket (tickets count
//! up, in the order the appends were written), releases the lock and waits until a sync
//! that began after its bytes were written has finished. The first waiter that finds no
//! sync running leads: it notes the last ticket given and the files written since the
//! last sync began, syncs them with no lock held, and wakes every waiter; those whose
//! tickets it covers return, the others wait for (or lead) the next sync. So appenders that
//! arrive while a sync runs are covered together by the next single sync, and no append
//! returns before a sync that covers its bytes has finished.
//!
//! A failed sync fails every append it was to cover, and every later one on the partition:
//! after a failed `fdatasync` the kernel may have dropped the written pages, and a later
//! sync that succeeds says nothing about them. Opening the log again recovers the files.
//!
//! [`FsyncPolicy::Always`]: crate::FsyncPolicy::Always

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex, MutexGuard};

use crate::error::{LogError, Result};

/// How many appends waited for a sync, and how many syncs covered them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncStats {
    /// Appends under [`FsyncPolicy::Always`](crate::FsyncPolicy::Always) acknowledged
    /// after a sync that covered them.
    pub durable_appends: u64,
    /// `fdatasync` calls made for them (one per file a sync covered).
    pub syncs: u64,
}

impl std::ops::AddAssign for SyncStats {
    fn add_assign(&mut self, other: SyncStats) {
        self.durable_appends += other.durable_appends;
        self.syncs += other.syncs;
    }
}

/// One partition's group commit (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct GroupCommit {
    state: Mutex<State>,
    done: Condvar,
    /// Test only: time each sync takes beyond the `fdatasync`, so that appenders surely
    /// meet one in flight.
    #[cfg(test)]
    pub delay: Mutex<std::time::Duration>,
}

#[derive(Debug, Default)]
struct State {
    /// The last ticket given: appends written.
    written: u64,
    /// Tickets covered by a finished sync.
    synced: u64,
    /// The partition's end offset when the last ticket was given, and when the last
    /// sync that finished began.
    written_end: u64,
    synced_end: u64,
    /// The files written since the last sync began, each once, with their paths.
    files: Vec<(Arc<File>, PathBuf)>,
    /// A sync is running.
    syncing: bool,
    /// The sync that failed, and why: every append not covered before it fails.
    failed: Option<(String, std::io::ErrorKind, String)>,
    stats: SyncStats,
}

impl State {
    fn error(&self) -> Option<LogError> {
        let (context, kind, message) = self.failed.as_ref()?;
        Some(LogError::Io {
            context: format!("{context} (failed before this append was synced)"),
            source: std::io::Error::new(*kind, message.clone()),
        })
    }
}

/// An append written and not yet known to be on disk: [`Pending::wait`] for it.
#[derive(Debug)]
#[must_use = "an append is durable only once `wait` returned"]
pub(crate) struct Pending {
    commit: Arc<GroupCommit>,
    ticket: u64,
}

impl GroupCommit {
    /// Note an append whose bytes are written, all in `file` (earlier files were synced
    /// when the partition rolled), the partition now ending at offset `end`. Called
    /// under the partition's lock, after the write.
    pub fn written(self: &Arc<Self>, file: &Arc<File>, path: &Path, end: u64) -> Pending {
        let mut s = self.state.lock();
        s.written += 1;
        s.written_end = end;
        if !s.files.iter().any(|(f, _)| Arc::ptr_eq(f, file)) {
            s.files.push((file.clone(), path.to_owned()));
        }
        Pending {
            commit: self.clone(),
            ticket: s.written,
        }
    }

    /// What the syncs did so far.
    pub fn stats(&self) -> SyncStats {
        self.state.lock().stats
    }

    /// The partition's end offset when the last finished sync began: every offset below
    /// it that this process wrote is on disk.
    #[cfg(test)]
    pub fn synced_end(&self) -> u64 {
        self.state.lock().synced_end
    }

    /// Lead one sync: of the files written since the last one began, covering every
    /// ticket given so far. Called with the state locked and no sync running; returns
    /// with it locked again, the sync finished and the waiters woken.
    fn lead(&self, s: &mut MutexGuard<'_, State>) {
        s.syncing = true;
        // The offsets and tickets written before the sync begins are the ones it covers.
        let end = s.written_end;
        let target = s.written;
        let files = std::mem::take(&mut s.files);
        let result = MutexGuard::unlocked(s, || {
            #[cfg(test)]
            std::thread::sleep(*self.delay.lock());
            files.iter().try_for_each(|(file, path)| {
                file.sync_data()
                    .map_err(|e| (format!("sync {}", path.display()), e))
            })
        });
        s.syncing = false;
        s.stats.syncs += files.len() as u64;
        match result {
            Ok(()) => {
                s.synced = target;
                s.synced_end = end;
            }
            Err((context, e)) => s.failed = Some((context, e.kind(), e.to_string())),
        }
        self.done.notify_all();
    }
}

impl Pending {
    /// Return once a sync that began after the append was written has finished (leading
    /// one when none is running), or with the error of the sync that failed.
    pub fn wait(self) -> Result<()> {
        let commit = &*self.commit;
        let mut s = commit.state.lock();
        loop {
            if s.synced >= self.ticket {
                s.stats.durable_appends += 1;
                return Ok(());
            }
            if let Some(e) = s.error() {
                return Err(e);
            }
            if s.syncing {
                commit.done.wait(&mut s);
            } else {
                commit.lead(&mut s);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_sync_fails_the_appends_it_covers_and_later_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let commit = Arc::new(GroupCommit::default());
        let file = Arc::new(File::create(&path).unwrap());
        commit.written(&file, &path, 1).wait().unwrap();
        // `/dev/null` does not support synchronization: its fdatasync fails (EINVAL).
        let null = Path::new("/dev/null");
        let broken = Arc::new(std::fs::OpenOptions::new().write(true).open(null).unwrap());
        let failing = commit.written(&broken, null, 2);
        assert!(failing.wait().is_err());
        let later = commit.written(&file, &path, 3);
        let err = later.wait().unwrap_err().to_string();
        assert!(
            err.contains("failed before this append was synced"),
            "{err}"
        );
        assert_eq!(commit.synced_end(), 1);
        assert_eq!(
            commit.stats(),
            SyncStats {
                durable_appends: 1,
                syncs: 2
            }
        );
    }
}
