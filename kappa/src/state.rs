//! Local state stores: a task's key-value state together with its last checkpoint.
//!
//! [`RedbStore`] keeps it on disk in one [redb](https://docs.rs/redb) file per task;
//! [`MemoryStore`] keeps it in memory (gone with the process: a task with a memory store
//! always restores from its changelog). Both apply a checkpoint's writes and the
//! checkpoint itself in **one transaction**, so a store never holds state without the
//! input offsets it corresponds to, or the reverse.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::error::{KappaError, Result, corrupt};
use crate::window_state::Write;

/// A task's checkpoint: where to resume reading, and the task's clock and counters as of
/// that position. Written with the state it belongs to, in the store and (as the marker
/// record closing a checkpoint) in the changelog.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Checkpoints of a task are numbered 1, 2, …; 0 is "nothing processed yet".
    pub seq: u64,
    /// The input offset to resume at (everything below is in the state).
    pub offset: u64,
    /// The largest event time seen (the partition's watermark clock).
    pub max_event_time: Option<i64>,
    /// Input records read.
    pub records: u64,
    /// Events applied to the state.
    pub events: u64,
    /// Duplicate events dropped.
    pub duplicates: u64,
    /// Late events reported (written to the late-events topic).
    pub late_events: u64,
    /// Every record of the late-events side partition below this offset comes from an
    /// input offset below `offset` (see `Task` for how a restore avoids writing twice).
    pub late_end: u64,
}

/// A checkpoint as a local store keeps it: with the changelog offset of its marker, by
/// which a restore tells whether the local store is current.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCheckpoint {
    /// The checkpoint itself, as the marker record holds it.
    pub checkpoint: Checkpoint,
    /// Offset of the checkpoint's marker record in the task's changelog partition.
    pub marker_offset: u64,
}

/// A visitor of stored key-value pairs ([`StateStore::for_each`]).
pub type Visitor<'a> = dyn FnMut(&[u8], &[u8]) -> Result<()> + 'a;

/// A task's local key-value state with its checkpoint.
pub trait StateStore: Send + fmt::Debug {
    /// The last committed checkpoint, if any.
    fn checkpoint(&self) -> Result<Option<StoredCheckpoint>>;
    /// One value.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;
    /// Every key-value pair, in key order.
    fn for_each(&self, f: &mut Visitor<'_>) -> Result<()>;
    /// Apply `writes` (a `None` value deletes) and set the checkpoint, atomically.
    fn commit(&mut self, writes: &[Write], checkpoint: &StoredCheckpoint) -> Result<()>;
    /// Forget everything (before a restore from the changelog).
    fn clear(&mut self) -> Result<()>;
}

/// State in memory: fast, and lost with the process.
#[derive(Debug, Default)]
pub struct MemoryStore {
    data: BTreeMap<Vec<u8>, Vec<u8>>,
    checkpoint: Option<StoredCheckpoint>,
}

impl MemoryStore {
    /// An empty store, without a checkpoint.
    pub fn new() -> Self {
        Self::default()
    }
}

impl StateStore for MemoryStore {
    fn checkpoint(&self) -> Result<Option<StoredCheckpoint>> {
        Ok(self.checkpoint.clone())
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.data.get(key).cloned())
    }

    fn for_each(&self, f: &mut Visitor<'_>) -> Result<()> {
        for (k, v) in &self.data {
            f(k, v)?;
        }
        Ok(())
    }

    fn commit(&mut self, writes: &[Write], checkpoint: &StoredCheckpoint) -> Result<()> {
        for (k, v) in writes {
            match v {
                Some(v) => self.data.insert(k.clone(), v.clone()),
                None => self.data.remove(k),
            };
        }
        self.checkpoint = Some(checkpoint.clone());
        Ok(())
    }

    fn clear(&mut self) -> Result<()> {
        self.data.clear();
        self.checkpoint = None;
        Ok(())
    }
}

const STATE: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("state");
const META: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("meta");
const CHECKPOINT_KEY: &str = "checkpoint";

/// State in a redb file: larger than memory, durable at every checkpoint (each commit is
/// fsynced: redb's `Durability::Immediate`), and crash-safe (redb's copy-on-write B-trees
/// with checksummed commits: a torn commit is rolled back on open).
///
/// **Damage** is looked for when the store opens ([`RedbStore::open`]), never trusted
/// away. redb keeps a checksum (XXH3) of every B-tree page in its parent and of each root
/// in the file's header, but verifies them only when it recovers from an unclean
/// shutdown, not on a read: a byte flipped in a stored value reads back flipped. So the
/// store runs redb's full check (`Database::check_integrity`: every page reachable from
/// the last commit, the header and the allocator state) at every open, in about the
/// time of one scan of the store. Detected: a changed byte in any page the last commit
/// reaches (the stored keys and values, the checkpoint, the B-trees' structure), a
/// header or commit slot that fails its
/// checksum, a file cut short or zero-filled, a file that is not a database. redb panics
/// on many of these (its repair asserts); the panic is contained
/// ([`std::panic::catch_unwind`], its message still printed by the panic hook) and is
/// damage like any other. A check that had to roll the file back to an earlier commit
/// (its stored checkpoint read differently after the check than before it) counts as
/// damage too. A check that only rebuilt redb's page allocator, with the last commit
/// intact, does not: redb 4 asks for that after some clean closes (its closing commit
/// trims the file, and a later check can count the allocator's pages differently). An empty file
/// (a crash right after creating it) is damage. Not detected: a byte changed in pages
/// no commit reaches (free space, which nothing reads), and a whole store replaced by
/// another consistent redb file — that one is caught by the restore, which trusts a
/// store only if its checkpoint's marker is in the changelog. The caller (the job)
/// deletes a damaged store and rebuilds it from the changelog, with a warning.
pub struct RedbStore {
    path: PathBuf,
    db: redb::Database,
}

impl fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedbStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// The text of a panic's payload.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_owned())
}

/// Open (or create) the redb file at `path` and run redb's full integrity check; a
/// failure, a repair or a panic inside redb is `Err` with what happened.
/// Why a store did not open.
enum NotOpened {
    /// Another process holds it open (redb's file lock).
    Busy,
    /// Not an intact redb database.
    Damaged(String),
}

/// What the last commit of `db` stored as its checkpoint (the bytes; `None` when there
/// is none), as a fingerprint of that commit.
fn last_commit(db: &redb::Database) -> std::result::Result<Option<Vec<u8>>, redb::Error> {
    let txn = db.begin_read()?;
    let meta = match txn.open_table(META) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    Ok(meta.get(CHECKPOINT_KEY)?.map(|v| v.value().to_vec()))
}

fn open_checked(path: &Path) -> std::result::Result<redb::Database, NotOpened> {
    if std::fs::metadata(path).is_ok_and(|m| m.len() == 0) {
        return Err(NotOpened::Damaged("an empty file, not a database".into()));
    }
    let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut db = match redb::Database::create(path) {
            Ok(db) => db,
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => return Err(NotOpened::Busy),
            Err(e) => return Err(NotOpened::Damaged(e.to_string())),
        };
        let before = last_commit(&db);
        match db.check_integrity() {
            Ok(true) => Ok(db),
            // Only the allocator was rebuilt: the last commit is the one it was.
            Ok(false) if before.is_ok() && last_commit(&db).ok() == before.ok() => Ok(db),
            Ok(false) => Err(NotOpened::Damaged(
                "redb's integrity check had to roll it back to an earlier commit".to_owned(),
            )),
            Err(e) => Err(NotOpened::Damaged(format!(
                "redb's integrity check failed: {e}"
            ))),
        }
    }));
    match opened {
        Ok(r) => r,
        Err(payload) => Err(NotOpened::Damaged(format!(
            "redb panicked opening it: {}",
            panic_text(payload.as_ref())
        ))),
    }
}

impl RedbStore {
    /// Open (or create) the store in `path`, checked (see [`RedbStore`]): a file that is
    /// not a redb database, or that fails redb's integrity check (a panic inside redb
    /// included), is a [`KappaError::Store`] (the caller may delete it and restore from
    /// the changelog). A store another process holds open (the same job run twice) is
    /// [`KappaError::StoreBusy`], which nobody may delete.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(crate::error::io_err(format!("create {}", dir.display())))?;
        }
        let db = open_checked(path).map_err(|why| match why {
            NotOpened::Busy => KappaError::StoreBusy {
                path: path.to_path_buf(),
            },
            NotOpened::Damaged(reason) => KappaError::Store {
                path: path.to_path_buf(),
                reason,
            },
        })?;
        let store = RedbStore {
            path: path.to_path_buf(),
            db,
        };
        // Create the tables so that reads never meet a missing table.
        store.write(|txn| {
            txn.open_table(STATE)?;
            txn.open_table(META)?;
            Ok(())
        })?;
        Ok(store)
    }

    fn err(&self, e: impl Into<redb::Error>) -> KappaError {
        KappaError::Store {
            path: self.path.clone(),
            reason: e.into().to_string(),
        }
    }

    fn write(
        &self,
        f: impl FnOnce(&redb::WriteTransaction) -> std::result::Result<(), redb::Error>,
    ) -> Result<()> {
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        f(&txn).map_err(|e| self.err(e))?;
        txn.commit().map_err(|e| self.err(e))
    }
}

impl StateStore for RedbStore {
    fn checkpoint(&self) -> Result<Option<StoredCheckpoint>> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let meta = txn.open_table(META).map_err(|e| self.err(e))?;
        match meta.get(CHECKPOINT_KEY).map_err(|e| self.err(e))? {
            None => Ok(None),
            Some(v) => postcard::from_bytes(v.value())
                .map(Some)
                .map_err(|e| corrupt(format!("checkpoint in {}", self.path.display()), e)),
        }
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let table = txn.open_table(STATE).map_err(|e| self.err(e))?;
        Ok(table
            .get(key)
            .map_err(|e| self.err(e))?
            .map(|v| v.value().to_vec()))
    }

    fn for_each(&self, f: &mut Visitor<'_>) -> Result<()> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let table = txn.open_table(STATE).map_err(|e| self.err(e))?;
        for item in table.iter().map_err(|e| self.err(e))? {
            let (k, v) = item.map_err(|e| self.err(e))?;
            f(k.value(), v.value())?;
        }
        Ok(())
    }

    fn commit(&mut self, writes: &[Write], checkpoint: &StoredCheckpoint) -> Result<()> {
        let meta = postcard::to_stdvec(checkpoint).map_err(|e| corrupt("checkpoint", e))?;
        self.write(|txn| {
            let mut table = txn.open_table(STATE)?;
            for (k, v) in writes {
                match v {
                    Some(v) => {
                        table.insert(k.as_slice(), v.as_slice())?;
                    }
                    None => {
                        table.remove(k.as_slice())?;
                    }
                }
            }
            let mut m = txn.open_table(META)?;
            m.insert(CHECKPOINT_KEY, meta.as_slice())?;
            Ok(())
        })
    }

    fn clear(&mut self) -> Result<()> {
        self.write(|txn| {
            txn.delete_table(STATE)?;
            txn.delete_table(META)?;
            txn.open_table(STATE)?;
            txn.open_table(META)?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exercise(store: &mut dyn StateStore) {
        assert_eq!(store.checkpoint().unwrap(), None);
        let ck = |seq| StoredCheckpoint {
            checkpoint: Checkpoint {
                seq,
                offset: seq * 10,
                ..Checkpoint::default()
            },
            marker_offset: seq,
        };
        let w = vec![
            (b"a".to_vec(), Some(b"1".to_vec())),
            (b"b".to_vec(), Some(b"2".to_vec())),
        ];
        store.commit(&w, &ck(1)).unwrap();
        store
            .commit(
                &[(b"a".to_vec(), None), (b"c".to_vec(), Some(b"3".to_vec()))],
                &ck(2),
            )
            .unwrap();
        let mut seen = Vec::new();
        store
            .for_each(&mut |k, v| {
                seen.push((k.to_vec(), v.to_vec()));
                Ok(())
            })
            .unwrap();
        assert_eq!(
            seen,
            vec![
                (b"b".to_vec(), b"2".to_vec()),
                (b"c".to_vec(), b"3".to_vec())
            ]
        );
        assert_eq!(store.get(b"c").unwrap(), Some(b"3".to_vec()));
        assert_eq!(store.get(b"a").unwrap(), None);
        assert_eq!(store.checkpoint().unwrap(), Some(ck(2)));
        store.clear().unwrap();
        assert_eq!(store.checkpoint().unwrap(), None);
        assert_eq!(store.get(b"b").unwrap(), None);
    }

    #[test]
    fn a_cleanly_closed_store_opens_intact_whatever_it_committed() {
        // Commit sizes after which redb 4's check at the next open rebuilds the
        // allocator of a file closed cleanly (not damage: the last commit is intact).
        for sizes in [&[1, 1][..], &[1, 10], &[1, 1000], &[10], &[5, 5, 5, 5]] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("task.redb");
            let mut store = RedbStore::open(&path).unwrap();
            let mut last = None;
            for (seq, &n) in (1..).zip(sizes) {
                let writes: Vec<Write> = (0..n)
                    .map(|k| (format!("k{seq}-{k}").into_bytes(), Some(vec![2; 200])))
                    .collect();
                let ck = StoredCheckpoint {
                    checkpoint: Checkpoint {
                        seq,
                        ..Checkpoint::default()
                    },
                    marker_offset: seq,
                };
                store.commit(&writes, &ck).unwrap();
                last = Some(ck);
            }
            drop(store);
            let store = RedbStore::open(&path).unwrap_or_else(|e| panic!("{sizes:?}: {e}"));
            assert_eq!(store.checkpoint().unwrap(), last, "{sizes:?}");
        }
    }

    #[test]
    fn memory_store_commits_writes_with_the_checkpoint() {
        exercise(&mut MemoryStore::new());
    }

    #[test]
    fn redb_store_commits_durably_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t/task.redb");
        exercise(&mut RedbStore::open(&path).unwrap());
        let mut s = RedbStore::open(&path).unwrap();
        let ck = StoredCheckpoint {
            checkpoint: Checkpoint {
                seq: 7,
                ..Checkpoint::default()
            },
            marker_offset: 3,
        };
        s.commit(&[(b"k".to_vec(), Some(b"v".to_vec()))], &ck)
            .unwrap();
        drop(s);
        let s = RedbStore::open(&path).unwrap();
        assert_eq!(s.checkpoint().unwrap(), Some(ck));
        assert_eq!(s.get(b"k").unwrap(), Some(b"v".to_vec()));
        // A stored value with a flipped byte (in every copy redb's pages hold), the file
        // cut, zero-filled or empty: damage, a typed error (redb's panics contained).
        let value = vec![7u8; 64];
        drop(s);
        let mut s = RedbStore::open(&path).unwrap();
        s.commit(
            &[(b"big".to_vec(), Some(value.clone()))],
            &StoredCheckpoint::default(),
        )
        .unwrap();
        drop(s);
        let bytes = std::fs::read(&path).unwrap();
        let mut flipped = bytes.clone();
        let mut n = 0;
        for i in 0..bytes.len() - value.len() {
            if bytes[i..i + value.len()] == value[..] {
                flipped[i + 10] ^= 1;
                n += 1;
            }
        }
        assert!(n > 0);
        let half = bytes[..bytes.len() / 2].to_vec();
        for (what, damaged) in [
            ("flipped", flipped),
            ("cut", half),
            ("zeros", vec![0; bytes.len()]),
            ("empty", Vec::new()),
        ] {
            std::fs::write(&path, &damaged).unwrap();
            assert!(
                matches!(RedbStore::open(&path), Err(KappaError::Store { .. })),
                "{what}"
            );
        }
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(
            RedbStore::open(&path).unwrap().get(b"big").unwrap(),
            Some(value)
        );
        // Not a database: a typed error, no panic.
        let junk = dir.path().join("junk.redb");
        std::fs::write(&junk, b"this is not a redb file at all, not at all").unwrap();
        assert!(matches!(
            RedbStore::open(&junk),
            Err(KappaError::Store { .. })
        ));
    }
}
