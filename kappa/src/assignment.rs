//! A worker follows its group member's assignment: it opens (restores) the tasks of the
//! partitions it gains, with their local stores, and closes those it loses.

use master_log::GroupMembership;

use crate::config::{StoreKind, state_dir};
use crate::error::{KappaError, Result, io_err};
use crate::shared::Inner;
use crate::state::{MemoryStore, RedbStore, StateStore};
use crate::task::{Task, TaskTopics};
use crate::window_state::WindowState;

/// Follow the group's assignment: when its generation differs from the one the tasks
/// were opened for (`opened_for`; `None` reopens every task), keep the tasks still owned
/// whose changelog nobody else wrote meanwhile, close the others and open the new ones.
/// Returns the generation.
pub(crate) fn follow_assignment(
    inner: &Inner,
    membership: &dyn GroupMembership,
    tasks: &mut Vec<Task>,
    opened_for: &mut Option<u64>,
) -> Result<u64> {
    let (generation, partitions) = owned(inner, membership);
    if *opened_for != Some(generation) {
        let mut kept = Vec::with_capacity(partitions.len());
        let mut gone = Vec::new();
        for task in tasks.drain(..) {
            if opened_for.is_some() && partitions.contains(&task.partition) && task.is_current()? {
                kept.push(task);
            } else {
                gone.push(task);
            }
        }
        close_tasks(inner, &mut gone);
        for p in partitions {
            if !kept.iter().any(|t| t.partition == p) {
                kept.push(open_task(inner, p)?);
            }
        }
        *tasks = kept;
        *opened_for = Some(generation);
        inner.changed.notify_all();
    }
    Ok(generation)
}

/// The local store of the task of `partition`: a redb file (started over when it is not
/// intact: the changelog restores it), or memory.
fn open_store(inner: &Inner, partition: u32) -> Result<Box<dyn StateStore>> {
    Ok(match inner.config.store {
        StoreKind::Memory => Box::new(MemoryStore::new()),
        StoreKind::Redb => {
            let path =
                state_dir(&inner.config.dir, &inner.name).join(format!("task-{partition}.redb"));
            match RedbStore::open(&path) {
                Ok(s) => Box::new(s),
                Err(e @ KappaError::Store { .. }) => {
                    // Not intact: start it over and restore from the changelog.
                    tracing::warn!("{e}; restoring task {partition} from the changelog");
                    std::fs::remove_file(&path)
                        .map_err(io_err(format!("remove {}", path.display())))?;
                    Box::new(RedbStore::open(&path)?)
                }
                Err(e) => return Err(e),
            }
        }
    })
}

/// Open the task of `partition`: restore its state (local store or changelog) and
/// publish what it restored.
fn open_task(inner: &Inner, partition: u32) -> Result<Task> {
    let config = &inner.config;
    let operator = (inner.factory.0)(partition)?;
    let state = WindowState::new(
        partition,
        config.watermark_bound_ms,
        config.allowed_lateness_ms,
        config.dedup_window_ms,
    );
    let (task, closed, report) = Task::open(
        inner.log.clone(),
        TaskTopics {
            input: config.topic.clone(),
            changelog: inner.changelog.clone(),
            late: inner.late.clone(),
        },
        partition,
        open_store(inner, partition)?,
        operator,
        state,
    )?;
    let head = inner.log.offsets(&config.topic, partition)?.1;
    let mut shared = inner.shared.lock();
    shared.closed.insert(partition, closed);
    shared.open.insert(partition, task.state.open_table());
    shared.committed.insert(partition, report.checkpoint.offset);
    shared
        .checkpoints
        .insert(partition, report.checkpoint.clone());
    // Rewritten from the restored state (a part written after the last checkpoint, or
    // not synced, may show more, or be gone).
    shared.written.remove(&partition);
    shared.files.remove(&partition);
    shared.finalized_since.remove(&partition);
    shared.fresh.remove(&partition);
    shared.dirty.insert(partition);
    shared.restores.push(report);
    let l = &mut shared.live[partition as usize];
    l.position = task.position;
    l.head = head;
    l.opened = true;
    l.follow(&task);
    Ok(task)
}

/// Close the tasks of a worker whose assignment changed: their partitions may be
/// another member's now, which restores them from the changelog (what was processed
/// here since their last checkpoint is processed again there). This process's view of
/// them is dropped; their table parts stay until the new owner rewrites them.
fn close_tasks(inner: &Inner, tasks: &mut Vec<Task>) {
    let mut shared = inner.shared.lock();
    for task in tasks.drain(..) {
        let p = task.partition;
        shared.closed.remove(&p);
        shared.open.remove(&p);
        shared.checkpoints.remove(&p);
        shared.committed.remove(&p);
        shared.written.remove(&p);
        shared.files.remove(&p);
        shared.finalized_since.remove(&p);
        shared.fresh.remove(&p);
        shared.dirty.remove(&p);
        shared.live[p as usize].opened = false;
    }
}

/// The partitions of the job's topic that `membership` owns, and the generation.
fn owned(inner: &Inner, membership: &dyn GroupMembership) -> (u64, Vec<u32>) {
    let a = membership.assignment();
    let parts = a
        .partitions
        .iter()
        .filter(|tp| tp.topic == inner.config.topic)
        .map(|tp| tp.partition)
        .collect();
    (a.generation, parts)
}
