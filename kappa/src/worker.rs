//! A job's worker threads: each follows its group member's assignment, reads its tasks'
//! partitions, shows what they processed in memory when a fresh query asks (when the job
//! tracks fresh results), checkpoints them (every `checkpoint_interval`, or a task after
//! `checkpoint_records`), writes the table, and sleeps on the log's wake-up and the job's
//! stop event (which a fresh query also fires) when there is nothing to read.

use std::future::Future as _;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context as PollContext, Poll, Wake, Waker};
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};

use event_listener::EventListener;
use master_log::{GroupMembership, LogError};

use crate::assignment::follow_assignment;
use crate::error::{KappaError, Result, error_chain};
use crate::shared::{ABORT, Inner, STOP};
use crate::task::Task;

/// How long the workers run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Until every partition has reached the head (then a last checkpoint).
    UntilCaughtUp,
    /// Until the job is stopped or aborted.
    Continuous,
}

/// Start worker thread `index` of the job, as group member `member`: it runs the worker
/// loop, then keeps the membership in `Inner::finished` and records its failure, causes
/// included, for the job's waiters.
pub(crate) fn spawn(
    inner: Arc<Inner>,
    member: Box<dyn GroupMembership>,
    mode: Mode,
    index: usize,
) -> Result<JoinHandle<Result<()>>> {
    inner.workers_running.fetch_add(1, Ordering::SeqCst);
    let running = inner.clone();
    thread::Builder::new()
        .name(format!("kappa-{}-{index}", inner.name))
        .spawn(move || {
            if let Some(hook) = &inner.config.on_thread_start {
                (hook.0)();
            }
            let r = worker(&inner, member.as_ref(), mode);
            inner.workers_running.fetch_sub(1, Ordering::SeqCst);
            inner.finished.lock().push(member);
            if let Err(e) = &r {
                inner.shared.lock().errors.push(error_chain(e));
            }
            inner.changed.notify_all();
            inner.table_written.notify_all();
            r
        })
        .map_err(|e| {
            running.workers_running.fetch_sub(1, Ordering::SeqCst);
            KappaError::Worker(format!("spawn: {e}"))
        })
}

/// The loop of one worker thread, until the job stops (or, in [`Mode::UntilCaughtUp`],
/// its tasks have caught up and checkpointed).
fn worker(inner: &Inner, membership: &dyn GroupMembership, mode: Mode) -> Result<()> {
    let config = &inner.config;
    let mut tasks: Vec<Task> = Vec::new();
    // The generation the tasks were opened for; `None` reopens every task (after a
    // refused checkpoint, whose changes were taken from the tasks' state).
    let mut opened_for: Option<u64> = None;
    let mut next_checkpoint = Instant::now() + config.checkpoint_interval;
    // With `uncommitted_every`: when the parts are next written without a checkpoint.
    let mut next_shown = Instant::now();
    // The last fresh query this worker answered.
    let mut answered = 0u64;
    // The interval's checkpoint round, one task per turn.
    let mut round = Round::default();
    // The checkpoint requests (`RunningJob::checkpoint_now`) a round has begun for.
    let mut requests_begun = 0u64;
    loop {
        // The group moved partitions: keep the tasks still owned whose changelog nobody
        // else wrote meanwhile, close the others, open the new ones.
        let generation = follow_assignment(inner, membership, &mut tasks, &mut opened_for)?;
        // Listeners first, then the checks: no wake-up can be lost in between.
        let mut data = inner.log.listen(&config.topic)?;
        let mut wake = inner.wake.listen();
        match inner.flag.load(Ordering::SeqCst) {
            ABORT => return Ok(()),
            STOP => {
                checkpoint_round(inner, &mut tasks, membership)?;
                return Ok(());
            }
            _ => {}
        }
        let Turn {
            read,
            all_caught_up,
            mut fenced,
        } = poll_tasks(inner, &mut tasks, membership)?;
        if !fenced {
            answer_fresh(inner, &mut tasks, &mut answered)?;
        }
        inner.changed.notify_all();
        let now = Instant::now();
        let requested = inner.checkpoint_requests.load(Ordering::SeqCst);
        let plan = Plan::of(Due {
            fenced,
            checkpoint: now >= next_checkpoint || requested > requests_begun,
            show: config.uncommitted_every.is_some() && now >= next_shown,
            unshown: tasks.iter().any(Task::has_unshown),
        });
        if plan.show {
            show_uncommitted(inner, &mut tasks)?;
            next_shown = Instant::now() + config.uncommitted_every.unwrap_or_default();
        }
        if let Some(next) = round.task(plan.checkpoint) {
            if next == 0 {
                // A round begun now checkpoints every task after the requests so far.
                requests_begun = requested;
            }
            // One task's checkpoint per turn, its part written at once: the records read
            // meanwhile wait for one task's commits, not for every task's.
            let step = checkpoint_step(inner, &mut tasks, next, membership)?;
            if round.advance(step) {
                fenced = step == Step::Fenced;
                next_checkpoint = Instant::now() + config.checkpoint_interval;
            }
        }
        if fenced {
            round = Round::default();
            // Revoked: wait for the new assignment (the loop's top reopens the tasks).
            membership.wait_for_rebalance(generation, config.checkpoint_interval);
            opened_for = None;
            continue;
        }
        if mode == Mode::UntilCaughtUp && all_caught_up {
            if checkpoint_round(inner, &mut tasks, membership)? {
                return Ok(());
            }
            opened_for = None;
            continue;
        }
        if read == 0 && !round.under_way() {
            // Also wake for a rebalance: poll the assignment at least every 100 ms; and
            // to show what was read before the wait, when its turn comes.
            let mut deadline = next_checkpoint.min(Instant::now() + Duration::from_millis(100));
            if config.uncommitted_every.is_some() && tasks.iter().any(Task::has_unshown) {
                deadline = deadline.min(next_shown);
            }
            wait_either(&mut data, &mut wake, deadline);
        }
    }
}

/// What is due after a worker's round of reads.
#[derive(Debug, Clone, Copy)]
struct Due {
    /// A checkpoint was refused (the tasks are reopened; nothing else is done).
    fenced: bool,
    /// The checkpoint interval has passed.
    checkpoint: bool,
    /// The job shows uncommitted results, and their time has come.
    show: bool,
    /// A task has read records that no publication shows yet.
    unshown: bool,
}

/// What a worker does after a round of reads, in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Plan {
    /// Show the unshown records (read-uncommitted): first, so that what was read is
    /// visible without waiting for the checkpoint's commits (fsyncs).
    show: bool,
    /// Then checkpoint every task and write the table.
    checkpoint: bool,
}

impl Plan {
    fn of(due: Due) -> Plan {
        Plan {
            show: !due.fenced && due.show && due.unshown,
            checkpoint: !due.fenced && due.checkpoint,
        }
    }
}

/// What one round of reads over a worker's tasks did.
struct Turn {
    /// Records read, over all tasks.
    read: usize,
    /// Every task has read to its partition's head.
    all_caught_up: bool,
    /// A checkpoint was refused: the group took a partition away.
    fenced: bool,
}

/// Read the next records of every task and record their progress; checkpoint a task
/// that has processed `checkpoint_records` since its last checkpoint.
fn poll_tasks(inner: &Inner, tasks: &mut [Task], membership: &dyn GroupMembership) -> Result<Turn> {
    let config = &inner.config;
    let mut turn = Turn {
        read: 0,
        all_caught_up: true,
        fenced: false,
    };
    for task in tasks.iter_mut() {
        let n = task.poll(config.fetch_limits)?;
        turn.read += n;
        let head = inner.log.offsets(&config.topic, task.partition)?.1;
        if task.position < head {
            turn.all_caught_up = false;
        }
        {
            let mut shared = inner.shared.lock();
            let l = &mut shared.live[task.partition as usize];
            l.position = task.position;
            l.head = head;
            if n > 0 {
                l.last_data = Instant::now();
            }
            l.follow(task);
        }
        if task.since_checkpoint >= config.checkpoint_records {
            // Bounds the work a crash can lose; the part is written at the next
            // interval's round (a part rewritten per 100,000 records made the table
            // writing grow with the square of the log's length).
            match checkpoint_one(inner, task, membership) {
                Ok(()) => {}
                Err(e) if rebalanced(&e) => {
                    turn.fenced = true;
                    break;
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(turn)
}

/// A checkpoint refused because the group took the partition away.
fn rebalanced(e: &KappaError) -> bool {
    matches!(e, KappaError::Log(LogError::Group { .. }))
}

/// Checkpoint every task and write the table; `Ok(false)` when the group took a
/// partition away meanwhile (the tasks must be reopened for the new assignment).
fn checkpoint_round(
    inner: &Inner,
    tasks: &mut [Task],
    membership: &dyn GroupMembership,
) -> Result<bool> {
    match checkpoint_all(inner, tasks, membership) {
        Ok(()) => Ok(true),
        Err(e) if rebalanced(&e) => {
            // Parts of the partitions checkpointed before the refusal.
            inner.write_table()?;
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// The interval's checkpoint round of a worker: its tasks are checkpointed one per turn
/// (between two, the worker reads and shows what it read).
#[derive(Debug, Default)]
struct Round {
    /// The index of the next task, while a round is under way.
    next: Option<usize>,
}

impl Round {
    /// The task to checkpoint this turn: the next of the round under way, or the first
    /// when a checkpoint is `due` and no round is.
    fn task(&mut self, due: bool) -> Option<usize> {
        if due && self.next.is_none() {
            self.next = Some(0);
        }
        self.next
    }

    /// After this turn's [`checkpoint_step`]: whether the round is over.
    fn advance(&mut self, step: Step) -> bool {
        match (step, self.next) {
            (Step::More, Some(n)) => {
                self.next = Some(n + 1);
                false
            }
            _ => {
                self.next = None;
                true
            }
        }
    }

    fn under_way(&self) -> bool {
        self.next.is_some()
    }
}

/// Where a checkpoint round is after [`checkpoint_step`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Tasks remain to checkpoint in this round.
    More,
    /// Every task is checkpointed.
    Done,
    /// The group took a partition away meanwhile (the tasks must be reopened).
    Fenced,
}

/// Checkpoint task `index` of a round (none when the tasks changed and it is past
/// them) and write the table.
fn checkpoint_step(
    inner: &Inner,
    tasks: &mut [Task],
    index: usize,
    membership: &dyn GroupMembership,
) -> Result<Step> {
    if let Some(task) = tasks.get_mut(index) {
        match checkpoint_one(inner, task, membership) {
            Ok(()) => {}
            Err(e) if rebalanced(&e) => {
                // Parts of the partitions checkpointed before the refusal.
                inner.write_table()?;
                return Ok(Step::Fenced);
            }
            Err(e) => return Err(e),
        }
    }
    inner.write_table()?;
    Ok(if index + 1 < tasks.len() {
        Step::More
    } else {
        Step::Done
    })
}

/// Checkpoint one task (fenced by the group) and publish what it checkpointed.
fn checkpoint_one(inner: &Inner, task: &mut Task, membership: &dyn GroupMembership) -> Result<()> {
    if let Some(p) = task.checkpoint(Some(membership))? {
        inner.publish(task.partition, p)?;
    }
    Ok(())
}

/// Publish what every task processed since its last publication, without a checkpoint,
/// and write the parts that moved (`JobConfig::uncommitted_every`).
fn show_uncommitted(inner: &Inner, tasks: &mut [Task]) -> Result<()> {
    for t in tasks.iter_mut() {
        if let Some(p) = t.publish_uncommitted() {
            inner.publish(t.partition, p)?;
        }
    }
    inner.write_table()
}

/// With fresh results tracked (`Job::track_fresh`) and the table showing checkpoints
/// only: when a fresh query has asked since this worker last answered, publish what
/// every task processed since its last publication into memory alone, and say so.
fn answer_fresh(inner: &Inner, tasks: &mut [Task], answered: &mut u64) -> Result<()> {
    if inner.config.uncommitted_every.is_some() || !inner.fresh.load(Ordering::SeqCst) {
        return Ok(());
    }
    let asked = inner.fresh_requests.load(Ordering::SeqCst);
    if asked <= *answered {
        return Ok(());
    }
    for t in tasks.iter_mut() {
        if let Some(p) = t.publish_uncommitted() {
            inner.publish_fresh(t.partition, p)?;
        }
    }
    let mut shared = inner.shared.lock();
    for t in tasks.iter() {
        shared.fresh_answered.insert(t.partition, asked);
    }
    *answered = asked;
    Ok(())
}

/// Checkpoint every task, then write the table.
fn checkpoint_all(
    inner: &Inner,
    tasks: &mut [Task],
    membership: &dyn GroupMembership,
) -> Result<()> {
    for t in tasks.iter_mut() {
        checkpoint_one(inner, t, membership)?;
    }
    inner.write_table()
}

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Block until either listener fires or `deadline` passes (no spinning: the thread parks
/// until a listener wakes it).
fn wait_either(a: &mut EventListener, b: &mut EventListener, deadline: Instant) {
    let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
    let mut cx = PollContext::from_waker(&waker);
    loop {
        if let Poll::Ready(()) = Pin::new(&mut *a).poll(&mut cx) {
            return;
        }
        if let Poll::Ready(()) = Pin::new(&mut *b).poll(&mut cx) {
            return;
        }
        let now = Instant::now();
        if now >= deadline {
            return;
        }
        thread::park_timeout(deadline - now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn due(checkpoint: bool, show: bool, unshown: bool) -> Due {
        Due {
            fenced: false,
            checkpoint,
            show,
            unshown,
        }
    }

    #[test]
    fn records_read_before_a_due_checkpoint_are_shown_before_its_commits() {
        // Uncommitted results due with a checkpoint: both, the show first (the plan's
        // order), so the records read are not held back by the checkpoint's fsyncs.
        let p = Plan::of(due(true, true, true));
        assert_eq!(
            p,
            Plan {
                show: true,
                checkpoint: true
            }
        );
        // Nothing read since the last publication: the checkpoint alone.
        assert_eq!(
            Plan::of(due(true, true, false)),
            Plan {
                show: false,
                checkpoint: true
            }
        );
        // Before their time, uncommitted results wait (`uncommitted_every`).
        assert_eq!(
            Plan::of(due(false, false, true)),
            Plan {
                show: false,
                checkpoint: false
            }
        );
        assert_eq!(
            Plan::of(due(false, true, true)),
            Plan {
                show: true,
                checkpoint: false
            }
        );
    }

    #[test]
    fn a_checkpoint_round_takes_one_task_per_turn() {
        let mut round = Round::default();
        assert_eq!(round.task(false), None, "nothing due, no round");
        assert_eq!(round.task(true), Some(0));
        assert!(!round.advance(Step::More));
        assert!(round.under_way());
        // The next turns take the next tasks, due or not (the interval is counted from
        // the round's end).
        assert_eq!(round.task(false), Some(1));
        assert!(!round.advance(Step::More));
        assert_eq!(round.task(true), Some(2));
        assert!(round.advance(Step::Done));
        assert!(!round.under_way());
        assert_eq!(round.task(false), None);
        // A refused checkpoint ends the round.
        assert_eq!(round.task(true), Some(0));
        assert!(round.advance(Step::Fenced));
        assert_eq!(round.task(false), None);
    }

    #[test]
    fn a_fenced_worker_neither_shows_nor_checkpoints() {
        let p = Plan::of(Due {
            fenced: true,
            ..due(true, true, true)
        });
        assert_eq!(
            p,
            Plan {
                show: false,
                checkpoint: false
            }
        );
    }
}
