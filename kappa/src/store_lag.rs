//! The checkpoints a task's local store is behind its changelog by
//! (`JobConfig::store_commit_interval`), taken in by one store transaction at a time.
//!
//! ```text
//!   checkpoint ──► changelog (every write, at once)
//!        └───────► StoreLag: newest value per key ──(interval passed)──► store commit
//! ```
//!
//! A key put for the first time while the store lags and deleted before it catches up
//! (an open window's cell written at a checkpoint, then its window finalized; a
//! de-duplication shard written, then its bucket expired) never
//! reaches the store: the store cannot hold it, so neither the put nor the delete is
//! any of its business. A restore never misses it: the changelog has both.

use std::collections::hash_map::Entry;
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::state::{StateStore, StoredCheckpoint};
use crate::window_state::Write;

/// A key's newest value while the store lags (`None`: deleted).
#[derive(Debug)]
struct Lagging {
    value: Option<Vec<u8>>,
    /// The store does not hold the key: its first write in the lag put it for the
    /// first time ([`Writes::first_put`](crate::window_state::Writes::first_put)).
    absent: bool,
}

/// The writes of the checkpoints the store lags behind, the newest checkpoint, and when
/// the store last took them in.
#[derive(Debug, Default)]
pub(crate) struct StoreLag {
    /// By key; a hash map, not an ordered one: every checkpoint adds to it, the store
    /// takes it in far more rarely (then in key order).
    writes: rustc_hash::FxHashMap<Vec<u8>, Lagging>,
    checkpoint: Option<StoredCheckpoint>,
    /// When the store last took checkpoints in; `None` before the task's first one.
    committed_at: Option<Instant>,
    interval: Duration,
}

impl StoreLag {
    /// A lag the store takes in every `interval` (and at a task's first checkpoint).
    pub fn new(interval: Duration) -> Self {
        StoreLag {
            interval,
            ..StoreLag::default()
        }
    }

    /// Add one checkpoint's writes, already on the changelog; `first_put[i]` tells
    /// whether `writes[i]` puts its key for the first time ([`Writes::first_put`](crate::window_state::Writes::first_put)).
    pub fn add(&mut self, writes: Vec<Write>, first_put: &[bool], checkpoint: StoredCheckpoint) {
        for (i, (key, value)) in writes.into_iter().enumerate() {
            match self.writes.entry(key) {
                Entry::Vacant(e) => {
                    let absent = first_put.get(i).copied().unwrap_or(false);
                    e.insert(Lagging { value, absent });
                }
                // The first write in the lag decides whether the store holds the key;
                // one it does not hold, deleted, is forgotten at once (a later put is
                // then its first again): the lag stays the size of the live state.
                Entry::Occupied(e) if value.is_none() && e.get().absent => {
                    e.remove();
                }
                Entry::Occupied(mut e) => e.get_mut().value = value,
            }
        }
        self.checkpoint = Some(checkpoint);
    }

    /// Whether the store should take the lag in now.
    pub fn due(&self) -> bool {
        self.committed_at
            .is_none_or(|at| at.elapsed() >= self.interval)
    }

    /// Take every lagging checkpoint into `store` in one transaction: the newest value
    /// of every key, except the deletes of keys the store does not hold.
    pub fn commit(&mut self, store: &mut dyn StateStore) -> Result<()> {
        let Some(checkpoint) = self.checkpoint.take() else {
            return Ok(());
        };
        let mut writes: Vec<Write> = std::mem::take(&mut self.writes)
            .into_iter()
            .map(|(k, l)| (k, l.value))
            .collect();
        writes.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        store.commit(&writes, &checkpoint)?;
        self.committed_at = Some(Instant::now());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::MemoryStore;

    fn put(k: &str, v: &str) -> Write {
        (k.as_bytes().to_vec(), Some(v.as_bytes().to_vec()))
    }

    fn delete(k: &str) -> Write {
        (k.as_bytes().to_vec(), None)
    }

    /// The store's pairs, as text.
    fn pairs(store: &MemoryStore) -> Vec<(String, String)> {
        let mut out = Vec::new();
        store
            .for_each(&mut |k, v| {
                out.push((
                    String::from_utf8_lossy(k).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                ));
                Ok(())
            })
            .unwrap();
        out
    }

    /// A store that records every write it is given.
    #[derive(Debug, Default)]
    struct Recording {
        inner: MemoryStore,
        given: Vec<Write>,
    }

    impl StateStore for Recording {
        fn checkpoint(&self) -> Result<Option<StoredCheckpoint>> {
            self.inner.checkpoint()
        }
        fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
            self.inner.get(key)
        }
        fn for_each(&self, f: &mut crate::state::Visitor<'_>) -> Result<()> {
            self.inner.for_each(f)
        }
        fn commit(&mut self, writes: &[Write], checkpoint: &StoredCheckpoint) -> Result<()> {
            self.given.extend_from_slice(writes);
            self.inner.commit(writes, checkpoint)
        }
        fn clear(&mut self) -> Result<()> {
            self.inner.clear()
        }
    }

    #[test]
    fn the_store_takes_the_lag_in_key_order_with_each_keys_newest_value() {
        let mut store = Recording::default();
        let mut lag = StoreLag::new(Duration::from_secs(3600));
        let keys: Vec<String> = (0..40).rev().map(|i| format!("k{i:02}")).collect();
        for (round, v) in ["old", "new"].into_iter().enumerate() {
            let writes: Vec<Write> = keys.iter().map(|k| put(k, v)).collect();
            lag.add(
                writes,
                &vec![round == 0; keys.len()],
                StoredCheckpoint::default(),
            );
        }
        lag.commit(&mut store).unwrap();
        let mut expected: Vec<Write> = keys.iter().map(|k| put(k, "new")).collect();
        expected.sort();
        assert_eq!(store.given, expected);
    }

    #[test]
    fn a_key_the_store_never_held_leaves_the_lag_when_deleted() {
        let mut store = Recording::default();
        let mut lag = StoreLag::new(Duration::from_secs(3600));
        let ckpt = StoredCheckpoint::default;
        lag.add(vec![put("d1", "x")], &[false], ckpt());
        lag.commit(&mut store).unwrap();
        // c1 is put for the first time and deleted: nothing of it stays behind.
        lag.add(vec![put("c1", "a")], &[true], ckpt());
        lag.add(vec![delete("c1")], &[false], ckpt());
        assert_eq!(lag.writes.len(), 0);
        // Put again, not as a first put: the store must get it.
        lag.add(vec![put("c1", "b")], &[false], ckpt());
        store.given.clear();
        lag.commit(&mut store).unwrap();
        assert_eq!(store.given, vec![put("c1", "b")]);
    }

    #[test]
    fn a_key_first_put_and_deleted_within_one_lag_never_reaches_the_store() {
        let mut store = Recording::default();
        let mut lag = StoreLag::new(Duration::from_secs(3600));
        let ckpt = StoredCheckpoint::default;
        // The first checkpoint: the store takes it in at once.
        lag.add(vec![put("c1", "a"), put("d1", "x")], &[true, false], ckpt());
        assert!(lag.due());
        lag.commit(&mut store).unwrap();
        assert!(!lag.due());
        // While the store lags: c2 and c3 are first put, c1 was put before; then c1,
        // c2 and a never-flagged d2 are deleted, c3 written again.
        lag.add(
            vec![put("c2", "b"), put("c3", "c"), put("d2", "y")],
            &[true, true, false],
            ckpt(),
        );
        lag.add(
            vec![delete("c1"), delete("c2"), put("c3", "cc"), delete("d2")],
            &[false, false, false, false],
            ckpt(),
        );
        store.given.clear();
        lag.commit(&mut store).unwrap();
        let given: Vec<&[u8]> = store.given.iter().map(|(k, _)| k.as_slice()).collect();
        // c2 is nowhere; c1 (held) and d2 (not known to be new) are deleted.
        assert_eq!(given, vec![&b"c1"[..], b"c3", b"d2"]);
        assert_eq!(
            pairs(&store.inner),
            vec![("c3".into(), "cc".into()), ("d1".into(), "x".into())]
        );
    }
}
