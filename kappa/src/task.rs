//! One task: one input partition, its operator, its state store and its changelog
//! partition. Restore, processing and checkpoints.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

use master_log::{
    FetchLimits, GroupMembership, Log, NewRecord, Record, RecordView, TopicPartition,
};
use workloads::PartialTable;

use crate::error::{KappaError, Result, corrupt, error_chain};
use crate::operator::{Context, Operator};
use crate::state::{Checkpoint, StateStore, StoredCheckpoint};
use crate::store_lag::StoreLag;
use crate::table::EncodedCells;
use crate::window_state::{LATE_SOURCE_OFFSET, WindowState, Write, Writes};

/// Key of the marker record that closes a checkpoint in the changelog. State keys start
/// with a lower-case letter, so it can never be one.
pub(crate) const MARKER_KEY: &[u8] = b"!checkpoint";

/// How a task got its state back when it was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestoreSource {
    /// Nothing to restore: no checkpoint anywhere (a new job, or a reprocessing version).
    Fresh,
    /// The local store was intact and on the changelog's history (Samza's host
    /// affinity); if it was behind by whole checkpoints, the changelog records after its
    /// marker caught it up.
    LocalStore,
    /// The local store was missing, damaged or stale: state rebuilt from the changelog.
    Changelog,
}

/// What opening one task did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RestoreReport {
    /// The task's input partition.
    pub partition: u32,
    /// Where the state came from.
    pub source: RestoreSource,
    /// The checkpoint restored (offset 0, seq 0 when fresh).
    pub checkpoint: Checkpoint,
    /// Changelog records read to restore (all of them from the changelog; those after
    /// the local store's marker otherwise).
    pub changelog_records: u64,
    /// Records after the last marker (a torn checkpoint), ignored and repaired.
    pub torn_records: u64,
    /// Damaged files the task found when it opened, each with what was wrong: a local
    /// store (deleted, and the state rebuilt from the changelog) or its table part
    /// (rewritten from the restored state). Each was also logged as a warning.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub damage: Vec<String>,
}

/// What a task hands to the job's output table: at a checkpoint, or (with
/// `JobConfig::uncommitted_every`) without one.
#[derive(Debug)]
pub(crate) struct Published {
    /// Where the task is: its checkpoint, or for an uncommitted publication the same
    /// fields as of now (not stored anywhere).
    pub checkpoint: Checkpoint,
    /// Whether `checkpoint` is committed (changelog, store and group offsets).
    pub committed: bool,
    /// Cells finalized since the previous publication.
    pub finalized: PartialTable,
    /// Their encoding, when the task kept it (see [`crate::table::EncodedCells`]).
    pub finalized_encoded: Option<EncodedCells>,
    /// The open cells, as of this publication.
    pub open: PartialTable,
}

pub(crate) struct TaskTopics {
    pub input: String,
    pub changelog: String,
    pub late: String,
}

#[derive(Debug)]
pub(crate) struct Task {
    log: Arc<dyn Log>,
    input: String,
    changelog: String,
    late: String,
    pub partition: u32,
    store: Box<dyn StateStore>,
    operator: Box<dyn Operator>,
    pub state: WindowState,
    /// Next input offset to read.
    pub position: u64,
    pub records: u64,
    seq: u64,
    late_end: u64,
    /// Records processed since the last checkpoint.
    pub since_checkpoint: u64,
    last: Checkpoint,
    /// The input position of the last publication (committed or not).
    shown: u64,
    /// The changelog partition's end offset after this task's last append (or when it
    /// opened): if the changelog is longer now, another owner wrote to it since.
    changelog_end: u64,
    /// Checkpoints on the changelog that the local store has not taken in yet.
    store_lag: StoreLag,
}

impl Drop for Task {
    /// The store takes in the checkpoints it lags behind: they are on the changelog
    /// already, so a failure here costs the next open a longer catch-up, nothing more.
    fn drop(&mut self) {
        if let Err(e) = self.store_lag.commit(self.store.as_mut()) {
            tracing::warn!(
                "task {}: local store not brought up to its last checkpoint ({}); the next \
                 open catches it up from the changelog",
                self.partition,
                error_chain(&e)
            );
        }
    }
}

fn is_marker(r: &Record) -> bool {
    r.key.as_deref() == Some(MARKER_KEY)
}

fn decode_marker(r: &Record) -> Result<Checkpoint> {
    let v = r
        .value
        .as_deref()
        .ok_or_else(|| corrupt("changelog marker", format!("offset {}: no value", r.offset)))?;
    postcard::from_bytes(v).map_err(|e| corrupt("changelog marker", e))
}

/// Read a whole partition of `topic` from `from`, handing every record to `f`.
fn scan(
    log: &dyn Log,
    topic: &str,
    partition: u32,
    from: u64,
    mut f: impl FnMut(Record) -> Result<()>,
) -> Result<()> {
    let (earliest, latest) = log.offsets(topic, partition)?;
    let mut at = from.max(earliest);
    while at < latest {
        let records = log.fetch(topic, partition, at, FetchLimits::default())?;
        let Some(last) = records.last() else { break };
        at = last.offset + 1;
        for r in records {
            f(r)?;
        }
    }
    Ok(())
}

/// The state a task restores, and where it found it.
struct Restored {
    /// The checkpoint restored and its marker's changelog offset (`None`: nothing to
    /// restore, a fresh task).
    stored: Option<StoredCheckpoint>,
    source: RestoreSource,
    /// Changelog records read to restore.
    changelog_records: u64,
    /// The keys of the changelog records after the last marker (a torn checkpoint), one
    /// per record.
    torn_keys: Vec<Vec<u8>>,
    /// The state rebuilt from the changelog; `None` when the local store holds it.
    changelog_state: Option<BTreeMap<Vec<u8>, Vec<u8>>>,
}

/// The key of a changelog record that is not a marker.
fn state_key(r: &Record) -> Result<Vec<u8>> {
    r.key
        .as_deref()
        .map(<[u8]>::to_vec)
        .ok_or_else(|| corrupt("changelog", format!("offset {}: no key", r.offset)))
}

/// Restore from the local store if it is on the changelog's history: the changelog
/// record at its marker offset is that very checkpoint's marker (Samza's host affinity).
/// A store behind by whole checkpoints (killed between a changelog append and the
/// store's commit) is caught up from the changelog records after its marker, up to the
/// last marker. `None` when the store is not on the changelog's history.
fn restore_local(
    log: &dyn Log,
    changelog: &str,
    partition: u32,
    store: &mut dyn StateStore,
    sc: &StoredCheckpoint,
) -> Result<Option<Restored>> {
    let (earliest, latest) = log.offsets(changelog, partition)?;
    if sc.marker_offset < earliest || sc.marker_offset >= latest {
        return Ok(None);
    }
    let head = log.fetch(
        changelog,
        partition,
        sc.marker_offset,
        FetchLimits {
            max_records: 1,
            max_bytes: 1,
        },
    )?;
    let same = match head.first() {
        Some(r) if r.offset == sc.marker_offset && is_marker(r) => {
            decode_marker(r)? == sc.checkpoint
        }
        _ => false,
    };
    if !same {
        return Ok(None);
    }
    let mut pending: Vec<Write> = Vec::new();
    let mut catch_up: Vec<Write> = Vec::new();
    let mut latest = sc.clone();
    let mut n = 0u64;
    scan(log, changelog, partition, sc.marker_offset + 1, |r| {
        n += 1;
        if is_marker(&r) {
            catch_up.append(&mut pending);
            latest = StoredCheckpoint {
                checkpoint: decode_marker(&r)?,
                marker_offset: r.offset,
            };
        } else {
            pending.push((state_key(&r)?, r.value.map(|v| v.to_vec())));
        }
        Ok(())
    })?;
    if latest != *sc {
        store.commit(&catch_up, &latest)?;
    }
    Ok(Some(Restored {
        stored: Some(latest),
        source: RestoreSource::LocalStore,
        changelog_records: n,
        torn_keys: pending.into_iter().map(|(k, _)| k).collect(),
        changelog_state: None,
    }))
}

/// Rebuild the state from the whole changelog into the cleared store: each checkpoint's
/// records are applied when its marker is read; records after the last marker are a
/// torn checkpoint.
fn restore_changelog(
    log: &dyn Log,
    changelog: &str,
    partition: u32,
    store: &mut dyn StateStore,
) -> Result<Restored> {
    let mut applied: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut pending: Vec<Write> = Vec::new();
    let mut last: Option<StoredCheckpoint> = None;
    let mut n = 0u64;
    scan(log, changelog, partition, 0, |r| {
        n += 1;
        if is_marker(&r) {
            for (k, v) in pending.drain(..) {
                match v {
                    Some(v) => applied.insert(k, v),
                    None => applied.remove(&k),
                };
            }
            last = Some(StoredCheckpoint {
                checkpoint: decode_marker(&r)?,
                marker_offset: r.offset,
            });
        } else {
            pending.push((state_key(&r)?, r.value.map(|v| v.to_vec())));
        }
        Ok(())
    })?;
    store.clear()?;
    let mut source = RestoreSource::Fresh;
    if let Some(sc) = &last {
        let writes: Vec<Write> = applied
            .iter()
            .map(|(k, v)| (k.clone(), Some(v.clone())))
            .collect();
        store.commit(&writes, sc)?;
        source = RestoreSource::Changelog;
    }
    Ok(Restored {
        stored: last,
        source,
        changelog_records: n,
        torn_keys: pending.into_iter().map(|(k, _)| k).collect(),
        changelog_state: Some(applied),
    })
}

/// Load the restored state and the checkpoint's clock and counters into `state`.
/// Returns the cells of windows already closed (for the output table).
fn load_state(
    state: &mut WindowState,
    store: &dyn StateStore,
    restored: &Restored,
    checkpoint: &Checkpoint,
) -> Result<PartialTable> {
    match &restored.changelog_state {
        Some(map) => {
            for (k, v) in map {
                state.restore(k, v)?;
            }
        }
        None => store.for_each(&mut |k, v| state.restore(k, v))?,
    }
    state.restore_clock(checkpoint.max_event_time);
    state.events = checkpoint.events;
    state.duplicates = checkpoint.duplicates;
    state.late_events = checkpoint.late_events;
    // Restored cells all start in the working set, closed windows included: the
    // operator finalizes them at its next watermark, as it would have without the
    // restart (an operator that never finalizes keeps them open, as before).
    Ok(state.take_finalized().0)
}

/// Repair a torn tail: re-append the committed value of every key it touched (a
/// tombstone where there is none), then the marker again, so that the latest record of
/// every key in the changelog is a committed one before compaction can run. Returns the
/// number of torn records.
fn repair_torn_tail(
    log: &dyn Log,
    changelog: &str,
    partition: u32,
    store: &mut dyn StateStore,
    restored: Restored,
    checkpoint: &Checkpoint,
) -> Result<u64> {
    let torn = restored.torn_keys;
    let torn_records = torn.len() as u64;
    if torn.is_empty() {
        return Ok(torn_records);
    }
    let keys: BTreeSet<Vec<u8>> = torn.into_iter().collect();
    let mut repair = Vec::with_capacity(keys.len() + 1);
    for k in keys {
        let v = match &restored.changelog_state {
            Some(map) => map.get(&k).cloned(),
            None => store.get(&k)?,
        };
        repair.push(NewRecord {
            key: Some(k.into()),
            value: v.map(Into::into),
            event_time: checkpoint.max_event_time.unwrap_or(0),
            headers: Vec::new(),
        });
    }
    repair.push(marker_record(checkpoint)?);
    let appended = log.append(changelog, partition, &repair)?;
    store.commit(
        &[],
        &StoredCheckpoint {
            checkpoint: checkpoint.clone(),
            marker_offset: appended.last_offset,
        },
    )?;
    Ok(torn_records)
}

/// The input offsets at or after the checkpoint whose late records are already on the
/// side topic (written before a crash): a replay must not write them again.
fn late_already_written(
    log: &dyn Log,
    late: &str,
    partition: u32,
    checkpoint: &Checkpoint,
) -> Result<HashSet<u64>> {
    let mut written = HashSet::new();
    scan(log, late, partition, checkpoint.late_end, |r| {
        let off = r
            .headers
            .iter()
            .find(|h| h.key == LATE_SOURCE_OFFSET)
            .and_then(|h| <[u8; 8]>::try_from(h.value.as_ref()).ok())
            .map(u64::from_le_bytes)
            .ok_or_else(|| {
                corrupt(
                    "late-events record",
                    format!("offset {}: no source offset", r.offset),
                )
            })?;
        if off >= checkpoint.offset {
            written.insert(off);
        }
        Ok(())
    })?;
    Ok(written)
}

/// Check that the input partition still holds the checkpoint's offset (retention may
/// have deleted it; a re-created topic may end before it).
fn check_resume(log: &dyn Log, input: &str, partition: u32, checkpoint: &Checkpoint) -> Result<()> {
    let (earliest, latest) = log.offsets(input, partition)?;
    if checkpoint.offset > latest {
        return Err(KappaError::Config(format!(
            "{input}/{partition}: the checkpoint resumes at offset {}, beyond the log end \
             {latest} (was the topic re-created? retire this version and reprocess)",
            checkpoint.offset
        )));
    }
    if checkpoint.offset < earliest {
        return Err(KappaError::OffsetGone {
            topic: input.to_owned(),
            partition,
            offset: checkpoint.offset,
            earliest,
        });
    }
    Ok(())
}

impl Task {
    /// Open the task of `partition`: restore its state (local store if intact and current,
    /// else changelog), repair a torn changelog tail, and find where to resume. Returns the
    /// task, the cells of windows already closed (for the output table) and a report.
    pub fn open(
        log: Arc<dyn Log>,
        topics: TaskTopics,
        partition: u32,
        mut store: Box<dyn StateStore>,
        operator: Box<dyn Operator>,
        mut state: WindowState,
        store_commit_interval: Duration,
    ) -> Result<(Task, PartialTable, RestoreReport)> {
        let TaskTopics {
            input,
            changelog,
            late,
        } = topics;
        let mut damage = Vec::new();
        let local = match store.checkpoint() {
            Ok(Some(sc)) => restore_local(&*log, &changelog, partition, store.as_mut(), &sc)?,
            Ok(None) => None,
            // A checkpoint that does not decode: the store is not trusted (it is cleared
            // and rebuilt from the changelog below).
            Err(e @ KappaError::Corrupt { .. }) => {
                tracing::warn!(
                    "{}; restoring task {partition} from the changelog",
                    error_chain(&e)
                );
                damage.push(error_chain(&e));
                None
            }
            Err(e) => return Err(e),
        };
        let restored = match local {
            Some(r) => r,
            None => restore_changelog(&*log, &changelog, partition, store.as_mut())?,
        };
        let checkpoint = restored
            .stored
            .as_ref()
            .map(|s| s.checkpoint.clone())
            .unwrap_or_default();
        let closed = load_state(&mut state, store.as_ref(), &restored, &checkpoint)?;
        let (source, changelog_records) = (restored.source, restored.changelog_records);
        let torn_records = repair_torn_tail(
            &*log,
            &changelog,
            partition,
            store.as_mut(),
            restored,
            &checkpoint,
        )?;
        state.set_late_written(late_already_written(&*log, &late, partition, &checkpoint)?);
        check_resume(&*log, &input, partition, &checkpoint)?;
        let report = RestoreReport {
            partition,
            source,
            checkpoint: checkpoint.clone(),
            changelog_records,
            torn_records,
            damage,
        };
        let changelog_end = log.offsets(&changelog, partition)?.1;
        let task = Task {
            log,
            input,
            changelog,
            late,
            partition,
            store,
            operator,
            state,
            position: checkpoint.offset,
            records: checkpoint.records,
            seq: checkpoint.seq,
            late_end: checkpoint.late_end,
            since_checkpoint: 0,
            shown: checkpoint.offset,
            last: checkpoint,
            changelog_end,
            store_lag: StoreLag::new(store_commit_interval),
        };
        Ok((task, closed, report))
    }

    /// Whether the changelog still ends at this task's last append: nobody else (another
    /// member the partition moved to meanwhile) has checkpointed it since.
    pub fn is_current(&self) -> Result<bool> {
        Ok(self.log.offsets(&self.changelog, self.partition)?.1 == self.changelog_end)
    }

    /// Process one record read from the input (in offset order; one below the task's
    /// position, read again, is skipped).
    #[inline]
    fn process(&mut self, r: &RecordView<'_>) -> Result<()> {
        if r.offset < self.position {
            return Ok(());
        }
        let before = self.state.watermark();
        {
            let mut ctx = Context {
                state: &mut self.state,
                record: Some(r),
            };
            self.operator.process(r, &mut ctx)?;
        }
        let after = self.state.watermark();
        if let Some(wm) = after
            && after != before
        {
            let mut ctx = Context {
                state: &mut self.state,
                record: None,
            };
            self.operator.on_watermark(wm, &mut ctx)?;
        }
        self.position = r.offset + 1;
        self.records += 1;
        self.since_checkpoint += 1;
        Ok(())
    }

    /// Read and process the next records; returns how many were read. The records are
    /// shown where the log read them ([`Log::fetch_each`]): none is copied, except a
    /// late one (for the side topic).
    pub fn poll(&mut self, limits: FetchLimits) -> Result<usize> {
        let log = self.log.clone();
        let input = std::mem::take(&mut self.input);
        let mut failed = None;
        let read = log.fetch_each(
            &input,
            self.partition,
            self.position,
            limits,
            &mut |r| match self.process(&r) {
                Ok(()) => ControlFlow::Continue(()),
                Err(e) => {
                    failed = Some(e);
                    ControlFlow::Break(())
                }
            },
        );
        self.input = input;
        match failed {
            Some(e) => Err(e),
            None => Ok(read?),
        }
    }

    /// Write a checkpoint: late records to the side topic, then the state changes and the
    /// marker to the changelog (one append); then the local store takes in the
    /// checkpoints it lags behind (one transaction) if `JobConfig::store_commit_interval`
    /// has passed since it last did. With `membership`, the two appends are fenced by
    /// the job's consumer group ([`GroupMembership::commit_with`]): they happen only while
    /// this member owns the partition, with the input offset committed after them, and
    /// no rebalance can hand the partition to another member in between — a task whose
    /// partition moved writes nothing (the error is [`master_log::LogError::Group`]).
    /// Returns `None` when nothing changed.
    pub fn checkpoint(
        &mut self,
        membership: Option<&dyn GroupMembership>,
    ) -> Result<Option<Published>> {
        {
            let mut ctx = Context {
                state: &mut self.state,
                record: None,
            };
            self.operator.on_checkpoint(&mut ctx)?;
        }
        let Writes {
            list: writes,
            first_put,
        } = self.state.take_writes();
        let late = self.state.take_late();
        if writes.is_empty() && late.is_empty() && self.position == self.last.offset {
            return Ok(None);
        }
        // The writes move into the changelog's records and back: no copy of the state.
        let mut records = changelog_records(writes, self.state.max_event_time.unwrap_or(0));
        let (checkpoint, appended) = match membership {
            None => self.append_checkpoint(&mut records, &late)?,
            Some(m) => {
                let tp = TopicPartition::new(self.input.clone(), self.partition);
                let position = self.position;
                let mut outcome = None;
                let fenced = m.commit_with(&[(tp, position)], &mut || {
                    let r = self.append_checkpoint(&mut records, &late);
                    let failed = r.as_ref().err().map(|e| error_chain(e));
                    outcome = Some(r);
                    match failed {
                        // Nothing is committed after a failed write. The typed error is
                        // returned below; the group's refusal carries its text and causes.
                        Some(reason) => Err(master_log::LogError::InvalidConfig(reason)),
                        None => Ok(()),
                    }
                });
                match (outcome, fenced) {
                    (Some(Err(e)), _) => return Err(e),
                    (_, Err(e)) => return Err(e.into()),
                    (Some(Ok(done)), Ok(())) => done,
                    (None, Ok(())) => {
                        return Err(KappaError::Worker(
                            "the group committed without running the checkpoint's write".into(),
                        ));
                    }
                }
            }
        };
        self.store_lag.add(
            state_writes(records),
            &first_put,
            StoredCheckpoint {
                checkpoint: checkpoint.clone(),
                marker_offset: appended.last_offset,
            },
        );
        if self.store_lag.due() {
            self.store_lag.commit(self.store.as_mut())?;
        }
        self.since_checkpoint = 0;
        self.changelog_end = appended.last_offset + 1;
        self.last = checkpoint.clone();
        self.shown = self.position;
        let (finalized, finalized_encoded) = self.state.take_finalized();
        Ok(Some(Published {
            checkpoint,
            committed: true,
            finalized,
            finalized_encoded,
            open: self.state.open_table(),
        }))
    }

    /// What the task has processed since its last publication, for the output table
    /// without a checkpoint (read-uncommitted, `JobConfig::uncommitted_every`): nothing
    /// is written to the changelog, the store or the group. `None` when the task has read
    /// nothing since. The cells are those of every record below the position, as at a
    /// checkpoint; the operator's `on_checkpoint` hook runs at checkpoints only.
    pub fn publish_uncommitted(&mut self) -> Option<Published> {
        if !self.has_unshown() {
            return None;
        }
        self.shown = self.position;
        let (finalized, finalized_encoded) = self.state.take_finalized();
        Some(Published {
            checkpoint: self.current(self.seq),
            committed: false,
            finalized,
            finalized_encoded,
            open: self.state.open_table(),
        })
    }

    /// Whether the task has read records that no publication shows yet.
    pub fn has_unshown(&self) -> bool {
        self.position != self.shown
    }

    /// The checkpoint fields as of now, numbered `seq`.
    fn current(&self, seq: u64) -> Checkpoint {
        Checkpoint {
            seq,
            offset: self.position,
            max_event_time: self.state.max_event_time,
            records: self.records,
            events: self.state.events,
            duplicates: self.state.duplicates,
            late_events: self.state.late_events,
            late_end: self.late_end,
        }
    }
}

impl Task {
    /// The appends of a checkpoint: late records to the side topic, then the state
    /// changes (`records`, from [`changelog_records`]) and the marker to the changelog.
    /// Returns the checkpoint and where its changelog append landed; `records` is left
    /// as it was given.
    fn append_checkpoint(
        &mut self,
        records: &mut Vec<NewRecord>,
        late: &[NewRecord],
    ) -> Result<(Checkpoint, master_log::Appended)> {
        if !late.is_empty() {
            self.log.append(&self.late, self.partition, late)?;
        }
        self.state.prune_late_written(self.position);
        if !self.state.late_written_pending() {
            self.late_end = self.log.offsets(&self.late, self.partition)?.1;
        }
        self.seq += 1;
        let checkpoint = self.current(self.seq);
        records.push(marker_record(&checkpoint)?);
        let appended = self.log.append(&self.changelog, self.partition, records);
        records.pop();
        Ok((checkpoint, appended?))
    }
}

/// A checkpoint's state changes as changelog records (at the partition's event time
/// `event_time`, as the marker), each write's key and value moved in, not copied.
fn changelog_records(writes: Vec<Write>, event_time: i64) -> Vec<NewRecord> {
    writes
        .into_iter()
        .map(|(k, v)| NewRecord {
            key: Some(k.into()),
            value: v.map(Into::into),
            event_time,
            headers: Vec::new(),
        })
        .collect()
}

/// The writes back from their changelog records ([`changelog_records`]): once the log
/// has let go of them, each key and value is moved back out, not copied.
fn state_writes(records: Vec<NewRecord>) -> Vec<Write> {
    records
        .into_iter()
        .map(|r| {
            (
                r.key.map(Vec::from).unwrap_or_default(),
                r.value.map(Vec::from),
            )
        })
        .collect()
}

fn marker_record(c: &Checkpoint) -> Result<NewRecord> {
    let value = postcard::to_stdvec(c).map_err(|e| corrupt("checkpoint", e))?;
    Ok(NewRecord::keyed(
        MARKER_KEY.to_vec(),
        value,
        c.max_event_time.unwrap_or(0),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_go_to_changelog_records_and_back_unchanged_and_uncopied() {
        let writes: Vec<Write> = vec![
            (b"c-one".to_vec(), Some(b"value".to_vec())),
            (b"c-two".to_vec(), None),
            (Vec::with_capacity(64), Some(Vec::new())),
        ];
        let expected = writes.clone();
        let places: Vec<*const u8> = writes.iter().map(|(k, _)| k.as_ptr()).collect();
        let records = changelog_records(writes, 42);
        assert!(
            records
                .iter()
                .all(|r| r.event_time == 42 && r.headers.is_empty())
        );
        assert_eq!(records[0].key.as_deref(), Some(&b"c-one"[..]));
        assert_eq!(records[1].value, None);
        let back = state_writes(records);
        assert_eq!(back, expected);
        let after: Vec<*const u8> = back.iter().map(|(k, _)| k.as_ptr()).collect();
        assert_eq!(after[..2], places[..2], "keys moved back, not copied");
    }
}
