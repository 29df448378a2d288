//! The embedded log shared by several processes: what one process learns of the others'
//! topics, appends and commits.
//!
//! - **Topics** created or deleted by another process: a name this process does not
//!   know is looked up in the topics directory before it is [`LogError::UnknownTopic`];
//!   [`crate::Log::list_topics`] reads the directory again. A topic whose directory is gone
//!   (or replaced) is forgotten at its next refresh.
//! - **Appends**: readers refresh a partition when they ask at or past its end (see
//!   `partition::follow`); waiters ([`crate::Log::listen`]) are woken by this process's
//!   appends at once, and by other processes' by a watcher thread per listened topic
//!   that polls the partitions' files every [`FOLLOW_INTERVAL`] (two `stat`s each).
//! - **Committed offsets** are read from the offsets topic: every commit or read of
//!   commits first applies what was appended to it since (by any process), in log
//!   order — the log is the one truth.

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::RwLock;

use super::{
    EmbeddedLog, OFFSETS_TOPIC, TopicState, decode_offset_key, holds_records, metadata_missing,
    open_topic, read_topic_config, topics_dir,
};
use crate::clock::now_ms;
use crate::config::validate_name;
use crate::error::{IoContext, LogError, Result};
use crate::partition::Partition;
use crate::topic_meta::TOPIC_META;

/// How often a watcher looks for other processes' appends to a listened topic.
pub const FOLLOW_INTERVAL: Duration = Duration::from_millis(20);

/// Committed offsets as read from the offsets topic.
#[derive(Debug, Default)]
pub(crate) struct Committed {
    /// (group, topic, partition) → next offset to read.
    pub map: HashMap<(String, String, u32), u64>,
    /// Per partition of the offsets topic, the offset up to which it was applied.
    applied: Vec<u64>,
}

/// Remove what interrupted creates and deletes left (the caller holds the topics
/// directory's lock, so none is running): the trash, and topic directories without
/// metadata and without records (a create killed before its `topic.json`).
pub(super) fn clear_leftovers(dir: &Path) -> Result<()> {
    let trash = dir.join("trash");
    if trash.exists() {
        fs::remove_dir_all(&trash).ctx(|| format!("empty {}", trash.display()))?;
    }
    let tdir = topics_dir(dir);
    for entry in fs::read_dir(&tdir).ctx(|| format!("list {}", tdir.display()))? {
        let entry = entry.ctx(|| format!("list {}", tdir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if validate_name(&name).is_err() || !path.is_dir() || path.join(TOPIC_META).exists() {
            continue;
        }
        if holds_records(&path)? {
            return Err(metadata_missing(&path));
        }
        // The topic never existed: its files go.
        let gone = trash.join(format!("{name}-{}-{}", now_ms(), std::process::id()));
        fs::create_dir_all(&trash).ctx(|| format!("create {}", trash.display()))?;
        fs::rename(&path, &gone).ctx(|| format!("move {} to trash", path.display()))?;
        fs::remove_dir_all(&gone).ctx(|| format!("delete {}", gone.display()))?;
        tracing::info!("removed the files of an interrupted create of topic {name}");
    }
    Ok(())
}

/// The topics in the topics directory `tdir`: directories with a `topic.json`. One
/// without, whose segments hold records, lost its metadata: an error. One without and
/// without records is being created by another process (or was left by a create killed
/// halfway): not a topic.
pub(super) fn topic_names(tdir: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(tdir).ctx(|| format!("list {}", tdir.display()))? {
        let entry = entry.ctx(|| format!("list {}", tdir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if validate_name(&name).is_err() || !path.is_dir() {
            continue;
        }
        if path.join(TOPIC_META).exists() {
            names.push(name);
        } else if holds_records(&path)? {
            return Err(metadata_missing(&path));
        }
    }
    names.sort();
    Ok(names)
}

impl EmbeddedLog {
    /// Open a topic another process created since this log was opened, if its
    /// metadata is there.
    pub(super) fn discover(&self, name: &str) -> Result<Option<Arc<TopicState>>> {
        if validate_name(name).is_err() {
            return Ok(None);
        }
        let tdir = topics_dir(&self.inner.dir);
        let dir = tdir.join(name);
        if !dir.join(TOPIC_META).exists() {
            return Ok(None);
        }
        let mut topics = self.inner.topics.write();
        if let Some(t) = topics.get(name) {
            return Ok(Some(t.clone()));
        }
        let config = read_topic_config(&dir)?;
        let mut issues = Vec::new();
        let state = Arc::new(open_topic(
            &tdir,
            name,
            config,
            &self.inner.options,
            &mut issues,
        )?);
        for issue in &issues {
            tracing::warn!("recovery: {issue}");
        }
        topics.insert(name.to_owned(), state.clone());
        Ok(Some(state))
    }

    /// Read the topics directory again: open the topics other processes created, and
    /// forget those they deleted.
    pub(super) fn rescan_topics(&self) -> Result<()> {
        let tdir = topics_dir(&self.inner.dir);
        let names = topic_names(&tdir)?;
        let gone: Vec<Arc<TopicState>> = self
            .inner
            .topics
            .read()
            .iter()
            .filter(|(n, _)| names.binary_search(n).is_err())
            .map(|(_, t)| t.clone())
            .collect();
        for t in gone {
            self.forget(&t);
        }
        for name in names {
            if !self.inner.topics.read().contains_key(&name) {
                self.discover(&name)?;
            }
        }
        Ok(())
    }

    /// Forget a topic another process deleted: nothing of it is written from here.
    pub(super) fn forget(&self, t: &Arc<TopicState>) {
        let mut topics = self.inner.topics.write();
        if topics.get(&t.name).is_some_and(|mine| Arc::ptr_eq(mine, t)) {
            topics.remove(&t.name);
        }
        drop(topics);
        for p in &t.partitions {
            p.write().mark_deleted();
        }
    }

    /// Bring a partition up to date with its files when they changed (another process
    /// appended, rolled, ...): two `stat`s when nothing did. Listeners are woken when
    /// it grew: the watcher would not see the change any more, so without this a
    /// reader asking for the offsets (a served answer's freshness) would hide another
    /// process's appends from a task sleeping on the listener.
    pub(super) fn fresh(&self, t: &Arc<TopicState>, part: &RwLock<Partition>) -> Result<()> {
        if !part.read().stale()? {
            return Ok(());
        }
        let mut p = part.write();
        let before = p.latest();
        let refreshed = p.refresh(false);
        let grew = p.latest() != before;
        drop(p);
        if grew {
            t.appended.notify(usize::MAX);
        }
        if let Err(LogError::UnknownTopic(_)) = &refreshed {
            self.forget(t);
        }
        refreshed
    }

    /// Bring every partition of a topic up to date.
    pub(super) fn fresh_topic(&self, t: &Arc<TopicState>) -> Result<()> {
        for p in &t.partitions {
            self.fresh(t, p)?;
        }
        Ok(())
    }

    /// Start the watcher of other processes' appends to `t`, once.
    pub(super) fn watch(&self, t: &Arc<TopicState>) {
        if t.watching.swap(true, Ordering::Relaxed) {
            return;
        }
        let weak = Arc::downgrade(t);
        let spawned = std::thread::Builder::new()
            .name(format!("lk-follow-{}", t.name))
            .spawn(move || follow(weak));
        if let Err(e) = spawned {
            tracing::warn!("cannot follow other processes' appends to {}: {e}", t.name);
            t.watching.store(false, Ordering::Relaxed);
        }
    }

    /// Apply to `c` what was appended to the offsets topic since it was last read.
    pub(super) fn sync_committed(&self, c: &mut Committed) -> Result<()> {
        let topic = self.topic(OFFSETS_TOPIC)?;
        c.applied.resize(topic.partitions.len(), 0);
        for (p, part) in topic.partitions.iter().enumerate() {
            self.fresh(&topic, part)?;
            loop {
                let fetched = {
                    let part = part.read();
                    let offset = c.applied[p].max(part.earliest());
                    if offset >= part.latest() {
                        c.applied[p] = offset;
                        break;
                    }
                    // Commits lost to damage are stepped over (reported by recovery): a
                    // group resumes from its commit before them, at least once as ever.
                    part.collect(offset, 10_000, 4 << 20, true)?.0
                };
                let records = fetched.records()?;
                let Some(last) = records.last() else { break };
                c.applied[p] = last.offset + 1;
                for r in records {
                    apply_commit(&mut c.map, p, &r);
                }
            }
        }
        Ok(())
    }
}

/// Apply one record of the offsets topic (partition `p`) to the committed offsets.
fn apply_commit(
    map: &mut HashMap<(String, String, u32), u64>,
    p: usize,
    r: &crate::record::Record,
) {
    let key = r.key.as_deref().unwrap_or_default();
    let Some((group, topic, partition)) = decode_offset_key(key) else {
        tracing::warn!(partition = p, offset = r.offset, "unreadable offset key");
        return;
    };
    match r.value.as_deref().map(<[u8; 8]>::try_from) {
        Some(Ok(v)) => {
            map.insert((group, topic, partition), u64::from_le_bytes(v));
        }
        None => {
            map.remove(&(group, topic, partition));
        }
        Some(Err(_)) => tracing::warn!(partition = p, offset = r.offset, "unreadable offset"),
    }
}

/// The watcher of one topic: every [`FOLLOW_INTERVAL`], refresh the partitions whose
/// files changed, and wake the topic's listeners when one grew. Stops when the topic
/// is closed, deleted or dropped.
fn follow(topic: Weak<TopicState>) {
    loop {
        std::thread::sleep(FOLLOW_INTERVAL);
        let Some(t) = topic.upgrade() else { return };
        if t.closed.load(Ordering::Relaxed) {
            return;
        }
        let mut grew = false;
        for part in &t.partitions {
            if !part.read().stale().unwrap_or(false) {
                continue;
            }
            let mut part = part.write();
            let before = part.latest();
            match part.refresh(false) {
                Ok(()) => grew |= part.latest() != before,
                Err(LogError::UnknownTopic(_)) => {
                    t.appended.notify(usize::MAX);
                    return;
                }
                Err(e) => tracing::debug!("following {}: {e}", t.name),
            }
        }
        if grew {
            t.appended.notify(usize::MAX);
        }
    }
}
