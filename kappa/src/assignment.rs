//! A worker follows its group member's assignment: it opens (restores) the tasks of the
//! partitions it gains, with their local stores, and closes those it loses.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use master_log::GroupMembership;

use crate::config::{StoreKind, state_dir};
use crate::error::{KappaError, Result, error_chain, io_err};
use crate::shared::Inner;
use crate::state::{MemoryStore, RedbStore, StateStore};
use crate::table;
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

/// How long a task waits for a store another process holds open: a partition handed
/// over between worker processes is released within it; a second run of the same job
/// is refused after it.
const STORE_BUSY_WAIT: Duration = Duration::from_secs(5);

/// The local store of the task of `partition`: a redb file (started over when it is not
/// intact: the changelog restores it), or memory. With the damage found, if any. A
/// store open in another process is never touched: after [`STORE_BUSY_WAIT`] it is
/// [`KappaError::StoreBusy`].
fn open_store(inner: &Inner, partition: u32) -> Result<(Box<dyn StateStore>, Option<String>)> {
    Ok(match inner.config.store {
        StoreKind::Memory => (Box::new(MemoryStore::new()), None),
        StoreKind::Redb => {
            let path =
                state_dir(&inner.config.dir, &inner.name).join(format!("task-{partition}.redb"));
            let deadline = Instant::now() + STORE_BUSY_WAIT;
            let opened = loop {
                match RedbStore::open(&path) {
                    Err(KappaError::StoreBusy { .. }) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    other => break other,
                }
            };
            match opened {
                Ok(s) => (Box::new(s), None),
                Err(e @ KappaError::Store { .. }) => {
                    // Not intact: start it over and restore from the changelog.
                    let damage = error_chain(&e);
                    tracing::warn!("{damage}; restoring task {partition} from the changelog");
                    std::fs::remove_file(&path)
                        .map_err(io_err(format!("remove {}", path.display())))?;
                    (Box::new(RedbStore::open(&path)?), Some(damage))
                }
                Err(e) => return Err(e),
            }
        }
    })
}

/// Check the table part of `partition` as readers read it; the damage found, if any.
fn check_part(inner: &Inner, partition: u32) -> Result<Option<String>> {
    let config = &inner.config;
    match table::check_part(
        &config.dir,
        inner.workload.name(),
        config.version,
        partition,
    ) {
        Ok(()) => Ok(None),
        Err(e @ KappaError::Corrupt { .. }) => {
            let damage = error_chain(&e);
            tracing::warn!("{damage}; rewriting it from the restored state of task {partition}");
            Ok(Some(damage))
        }
        Err(e) => Err(e),
    }
}

/// Check the workload's serving alias once per job (until it is known to be there). A
/// damaged alias is never followed: when this job may name itself the serving version
/// (`serve_if_none`) and its version is the workload's only one, the alias is removed
/// and written again at the job's first table write; otherwise it stays as it is (which
/// version should serve is not the job's to guess: readers get the error until
/// `set_serving` names one), and the job runs on without looking at it again.
fn check_alias(inner: &Inner) -> Result<()> {
    if inner.serving_known.load(Ordering::Relaxed) {
        return Ok(());
    }
    let (dir, workload) = (&inner.config.dir, inner.workload.name());
    let e = match table::serving_version(dir, workload) {
        Err(e @ KappaError::Corrupt { .. }) => e,
        other => return other.map(|_| ()),
    };
    let only = table::list_versions(dir, workload)?
        .iter()
        .all(|&v| v == inner.config.version);
    if inner.config.serve_if_none && only {
        tracing::warn!(
            "{}; removed, version {} serves once its table is written",
            error_chain(&e),
            inner.config.version
        );
        table::remove_alias(dir, workload)
    } else {
        tracing::warn!(
            "{}; readers get this error until a version is made the serving one",
            error_chain(&e)
        );
        inner.serving_known.store(true, Ordering::Relaxed);
        Ok(())
    }
}

/// Open the task of `partition`: restore its state (local store or changelog) and
/// publish what it restored. A damaged table part is rewritten from it at once.
fn open_task(inner: &Inner, partition: u32) -> Result<Task> {
    let config = &inner.config;
    check_alias(inner)?;
    let operator = (inner.factory.0)(partition)?;
    let state = WindowState::new(
        partition,
        config.watermark_bound_ms,
        config.allowed_lateness_ms,
        config.dedup_window_ms,
    );
    let (store, store_damage) = open_store(inner, partition)?;
    let part_damage = check_part(inner, partition)?;
    let (task, closed, mut report) = Task::open(
        inner.log.clone(),
        TaskTopics {
            input: config.topic.clone(),
            changelog: inner.changelog.clone(),
            late: inner.late.clone(),
        },
        partition,
        store,
        operator,
        state,
        config.store_commit_interval,
    )?;
    let rewrite = part_damage.is_some();
    report.damage.splice(0..0, store_damage);
    report.damage.extend(part_damage);
    let head = inner.log.offsets(&config.topic, partition)?.1;
    {
        let mut shared = inner.shared.lock();
        shared.closed.insert(partition, closed);
        shared.closed_encoded.remove(&partition);
        shared
            .open
            .insert(partition, task.state.open_table().into());
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
    }
    if rewrite {
        // Readers get an error until the part is whole again: rewrite it now, not at the
        // next checkpoint (and before the partition counts as opened).
        inner.write_table()?;
    }
    let mut shared = inner.shared.lock();
    let l = &mut shared.live[partition as usize];
    l.position = task.position;
    l.head = head;
    l.opened = true;
    l.follow(&task);
    drop(shared);
    Ok(task)
}

/// Close the tasks of a worker whose assignment changed: their partitions may be
/// another member's now, which restores them from the changelog (what was processed
/// here since their last checkpoint is processed again there). This process's view of
/// them is dropped; their table parts stay until the new owner rewrites them.
fn close_tasks(inner: &Inner, tasks: &mut Vec<Task>) {
    let closing: Vec<Task> = std::mem::take(tasks);
    let mut shared = inner.shared.lock();
    for task in &closing {
        let p = task.partition;
        shared.closed.remove(&p);
        shared.closed_encoded.remove(&p);
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
    drop(shared);
    // Dropped outside the lock: each task's local store takes in its last checkpoints.
    drop(closing);
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
