//! Jobs: one workload over one topic, one task per input partition, tasks on worker
//! threads that take their partitions from the job's consumer group. The handles: a
//! [`Job`] (set up, start, progress, table) and a [`RunningJob`] (wait, stop, abort).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use event_listener::Event;
use master_log::{Log, LogError, TopicConfig};
use parking_lot::{Condvar, Mutex};
use workloads::Workload;

use crate::config::{
    JobConfig, OperatorFactory, changelog_topic, group_name, job_name, late_topic,
};
use crate::error::{KappaError, Result};
use crate::operator::{Operator, WindowAggregate};
use crate::shared::{ABORT, Factory, Inner, Live, RUN, STOP, Shared};
use crate::status::{JobReport, JobStatus};
use crate::table::OutputTable;
use crate::worker::{self, Mode};

/// How long [`Job::fresh_table`] waits for the workers to answer.
pub const FRESH_QUERY_TIMEOUT: Duration = Duration::from_secs(10);

/// A Kappa job: `workload` over `config.topic`, writing table version `config.version`.
/// Cheap to clone.
#[derive(Debug, Clone)]
pub struct Job {
    inner: Arc<Inner>,
}

fn ensure_topic(log: &dyn Log, name: &str, config: TopicConfig) -> Result<()> {
    match log.create_topic(name, config.clone()) {
        Ok(()) => Ok(()),
        Err(LogError::TopicExists(_)) => {
            let have = log.partition_count(name)?;
            if have != config.partitions {
                return Err(KappaError::Config(format!(
                    "topic {name} has {have} partitions; the job needs {}",
                    config.partitions
                )));
            }
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

impl Job {
    /// Set up a job: check the workload against the topic, create its changelog and
    /// late-events topics if missing. Nothing is read yet. Every task runs the
    /// workload's stream form, [`WindowAggregate`].
    pub fn new(log: Arc<dyn Log>, workload: Workload, config: JobConfig) -> Result<Job> {
        // Fail early on a workload that cannot run over this topic.
        WindowAggregate::new(&workload, &config.topic, &config.sidecar_dir)?;
        let (w, topic, side) = (
            workload.clone(),
            config.topic.clone(),
            config.sidecar_dir.clone(),
        );
        let factory: OperatorFactory = Arc::new(move |_partition| {
            Ok(Box::new(WindowAggregate::new(&w, &topic, &side)?) as Box<dyn Operator>)
        });
        Self::with_operator(log, workload, config, factory)
    }

    /// A job whose tasks run operators made by `factory` (one per partition). The
    /// operators' cells must have the layout of `workload.empty_partials()`, so that the
    /// table finishes with `workload.finish`.
    pub fn with_operator(
        log: Arc<dyn Log>,
        workload: Workload,
        config: JobConfig,
        factory: OperatorFactory,
    ) -> Result<Job> {
        config.validate()?;
        let name = job_name(workload.name(), config.version);
        let changelog = changelog_topic(&config.log_name(&name));
        let late = late_topic(&config.log_name(&name));
        for t in [&changelog, &late] {
            master_log::validate_name(t)
                .map_err(|e| KappaError::Config(format!("job {name}: {e}")))?;
        }
        let partitions = log.partition_count(&config.topic)?;
        ensure_topic(
            log.as_ref(),
            &changelog,
            TopicConfig {
                max_record_bytes: 64 * 1024 * 1024,
                ..TopicConfig::compacted(partitions)
            },
        )?;
        ensure_topic(
            log.as_ref(),
            &late,
            TopicConfig::with_partitions(partitions),
        )?;
        Ok(Job {
            inner: Arc::new(Inner {
                log,
                group: group_name(&config.log_name(&name)),
                workload,
                config,
                name,
                changelog,
                late,
                partitions,
                shared: Mutex::new(Shared::new(partitions)),
                changed: Condvar::new(),
                table_written: Condvar::new(),
                writing: Mutex::new(()),
                serving_known: AtomicBool::new(false),
                finished: Mutex::new(Vec::new()),
                flag: AtomicU8::new(RUN),
                fresh: AtomicBool::new(false),
                fresh_requests: AtomicU64::new(0),
                checkpoint_requests: AtomicU64::new(0),
                workers_running: AtomicUsize::new(0),
                wake: Event::new(),
                factory: Factory(factory),
            }),
        })
    }

    /// `WORKLOAD.vN`.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The workload the job computes.
    pub fn workload(&self) -> &Workload {
        &self.inner.workload
    }

    /// How the job runs.
    pub fn config(&self) -> &JobConfig {
        &self.inner.config
    }

    /// Read from the checkpoints (or from offset 0) until every partition has reached the
    /// head, checkpoint, write the table, and return.
    pub fn run_until_caught_up(&self) -> Result<JobReport> {
        self.start_mode(Mode::UntilCaughtUp)?.finish()
    }

    /// Start the worker threads; they run until [`RunningJob::stop`] (or `abort`).
    pub fn start(&self) -> Result<RunningJob> {
        self.start_mode(Mode::Continuous)
    }

    /// Join the job's consumer group with one member per worker, then start the workers.
    fn start_mode(&self, mode: Mode) -> Result<RunningJob> {
        let inner = &self.inner;
        if inner.flag.load(Ordering::SeqCst) != RUN {
            return Err(KappaError::Config(format!(
                "job {} was stopped; open a new Job to run it again",
                inner.name
            )));
        }
        let workers = inner.config.workers.min(inner.partitions as usize).max(1);
        // Join every member first, so that each thread starts with its final assignment.
        let mut members = Vec::with_capacity(workers);
        for _ in 0..workers {
            members.push(inner.log.join_group(
                &inner.group,
                &[inner.config.topic.as_str()],
                inner.config.assignment,
            )?);
        }
        let started = Instant::now();
        let mut threads = Vec::with_capacity(workers);
        for (i, m) in members.into_iter().enumerate() {
            threads.push(worker::spawn(self.inner.clone(), m, mode, i)?);
        }
        Ok(RunningJob {
            job: self.clone(),
            threads,
            started,
        })
    }

    /// Block until every partition's last committed checkpoint is at or past `target`
    /// (offsets per partition), or a worker failed, or `timeout` passed. Returns whether
    /// the checkpoints cover `target`. (Without `uncommitted_every`, this is also what
    /// [`Job::table`] shows.)
    pub fn wait_checkpointed(&self, target: &[u64], timeout: Duration) -> Result<bool> {
        self.wait_covered(target, timeout, |s, p| s.committed.get(&p).copied())
    }

    /// Block until every partition's part of the table, as written to its file (what
    /// `lk query` and other readers of the table see), covers `target` (offsets per
    /// partition), or a worker failed, or `timeout` passed. Returns whether it does.
    pub fn wait_visible(&self, target: &[u64], timeout: Duration) -> Result<bool> {
        let covered = |shared: &Shared| covers(shared, target, |s, p| s.written.get(&p).copied());
        self.inner.wait_written(timeout, covered)
    }

    /// Answer fresh queries ([`Job::fresh_table`], [`Job::wait_fresh`]): the *fresh*
    /// results of this process — everything its tasks have processed, before a
    /// checkpoint covers it — written nowhere. The table, its files and every other
    /// reader still show checkpoints only, and nothing of a checkpoint changes. Costs
    /// nothing per record: a fresh query asks the workers, which publish their tasks'
    /// state into memory after their current read. (With `uncommitted_every`, the
    /// table itself is as fresh as the last uncommitted publication, and the fresh
    /// table is the table.)
    pub fn track_fresh(&self) {
        self.inner.fresh.store(true, Ordering::SeqCst);
    }

    /// The table with everything the tasks have processed (see [`Job::track_fresh`];
    /// without it, the same as [`Job::table`]): the workers are asked for their tasks'
    /// state, and answer after their current read (waited for up to
    /// [`FRESH_QUERY_TIMEOUT`]; a worker that does not answer in time, during a
    /// rebalance say, leaves its partitions as of its last answer). Not durable: after
    /// a crash, what the restarted job shows can move back to the last checkpoint.
    pub fn fresh_table(&self) -> Result<OutputTable> {
        let inner = &self.inner;
        let asks = inner.fresh.load(Ordering::SeqCst)
            && inner.config.uncommitted_every.is_none()
            && inner.flag.load(Ordering::SeqCst) == RUN
            && inner.workers_running.load(Ordering::SeqCst) > 0;
        if asks {
            let asked = inner.fresh_requests.fetch_add(1, Ordering::SeqCst) + 1;
            inner.wake.notify(usize::MAX);
            inner.wait_for(FRESH_QUERY_TIMEOUT, |shared| {
                shared.live.iter().enumerate().all(|(p, l)| {
                    !l.opened
                        || shared
                            .fresh_answered
                            .get(&(p as u32))
                            .is_some_and(|&a| a >= asked)
                })
            })?;
        }
        let shared = inner.shared.lock();
        inner.fresh_table_of(&shared)
    }

    /// Block until a fresh query would show every record below `target` (offsets per
    /// partition: the tasks have processed them), or a worker failed, or `timeout`
    /// passed. Returns whether it does.
    pub fn wait_fresh(&self, target: &[u64], timeout: Duration) -> Result<bool> {
        let offset = self.fresh_offset();
        self.wait_covered(target, timeout, offset)
    }

    /// Per partition, the offset a fresh query covers (0 for a partition not owned
    /// here).
    pub fn fresh_positions(&self) -> Vec<u64> {
        let offset = self.fresh_offset();
        let shared = self.inner.shared.lock();
        (0..self.inner.partitions)
            .map(|p| offset(&shared, p).unwrap_or(0))
            .collect()
    }

    /// Where a fresh query reads a partition's offset: what its task has processed when
    /// fresh queries are answered, else its last publication.
    fn fresh_offset(&self) -> fn(&Shared, u32) -> Option<u64> {
        let answered = self.inner.fresh.load(Ordering::SeqCst)
            && self.inner.config.uncommitted_every.is_none();
        if answered {
            |s, p| {
                let l = &s.live[p as usize];
                l.opened.then_some(l.position)
            }
        } else {
            |s, p| s.checkpoints.get(&p).map(|c| c.offset)
        }
    }

    /// Per partition, the offset of its last committed checkpoint (0 for a partition not
    /// owned here).
    pub fn checkpointed_positions(&self) -> Vec<u64> {
        let shared = self.inner.shared.lock();
        (0..self.inner.partitions)
            .map(|p| shared.committed.get(&p).copied().unwrap_or(0))
            .collect()
    }

    /// Block until `offset` (per partition) covers `target` (see
    /// [`Job::wait_checkpointed`]).
    fn wait_covered(
        &self,
        target: &[u64],
        timeout: Duration,
        offset: fn(&Shared, u32) -> Option<u64>,
    ) -> Result<bool> {
        self.inner
            .wait_for(timeout, |shared| covers(shared, target, offset))
    }

    /// The job's progress now.
    pub fn status(&self) -> JobStatus {
        let shared = self.inner.shared.lock();
        self.inner.status_of(&shared)
    }

    /// The table as of the last checkpoint of every task (what the table file holds).
    pub fn table(&self) -> Result<OutputTable> {
        let shared = self.inner.shared.lock();
        self.inner.table_of(&shared)
    }
}

/// A job whose worker threads are running.
#[derive(Debug)]
pub struct RunningJob {
    job: Job,
    threads: Vec<JoinHandle<Result<()>>>,
    started: Instant,
}

impl RunningJob {
    /// The job the threads run.
    pub fn job(&self) -> &Job {
        &self.job
    }

    /// The job's progress now.
    pub fn status(&self) -> JobStatus {
        self.job.status()
    }

    /// Block until every partition has read to the head it sees (or a worker failed, or
    /// `timeout` passed). Returns whether it caught up.
    pub fn wait_caught_up(&self, timeout: Duration) -> Result<bool> {
        let inner = &self.job.inner;
        inner.wait_for(timeout, |shared| inner.status_of(shared).caught_up)
    }

    /// Checkpoint every task now, without waiting for the interval, and write the table:
    /// returns `Ok(true)` once checkpoints taken after this call cover every partition's
    /// position at the call, both committed (changelog and group offsets) and written to
    /// the table's files; `Ok(false)` if `timeout` passed first; a worker's error if one
    /// failed. The job keeps running.
    pub fn checkpoint_now(&self, timeout: Duration) -> Result<bool> {
        let inner = &self.job.inner;
        let deadline = Instant::now() + timeout;
        let target: Vec<u64> = {
            let shared = inner.shared.lock();
            let at = |l: &Live| if l.opened { l.position } else { 0 };
            shared.live.iter().map(at).collect()
        };
        inner.checkpoint_requests.fetch_add(1, Ordering::SeqCst);
        inner.wake.notify(usize::MAX);
        let left = || deadline.saturating_duration_since(Instant::now());
        Ok(self.wait_checkpointed(&target, left())? && self.wait_visible(&target, left())?)
    }

    /// See [`Job::wait_checkpointed`].
    pub fn wait_checkpointed(&self, target: &[u64], timeout: Duration) -> Result<bool> {
        self.job.wait_checkpointed(target, timeout)
    }

    /// See [`Job::wait_visible`].
    pub fn wait_visible(&self, target: &[u64], timeout: Duration) -> Result<bool> {
        self.job.wait_visible(target, timeout)
    }

    /// See [`Job::wait_fresh`].
    pub fn wait_fresh(&self, target: &[u64], timeout: Duration) -> Result<bool> {
        self.job.wait_fresh(target, timeout)
    }

    /// Stop: every task checkpoints, the table is written, the threads end.
    pub fn stop(self) -> Result<JobReport> {
        self.job.inner.flag.store(STOP, Ordering::SeqCst);
        self.job.inner.wake.notify(usize::MAX);
        self.finish()
    }

    /// Stop at once without a final checkpoint, as a crash would: what was processed
    /// since each task's last checkpoint is lost and will be read again by the next run.
    pub fn abort(self) -> Result<()> {
        self.job.inner.flag.store(ABORT, Ordering::SeqCst);
        self.job.inner.wake.notify(usize::MAX);
        join_all(self.threads, &self.job.inner).map_or(Ok(()), Err)
    }

    /// Wait for the workers to end, write the table and report.
    fn finish(self) -> Result<JobReport> {
        if let Some(e) = join_all(self.threads, &self.job.inner) {
            return Err(e);
        }
        let inner = &self.job.inner;
        inner.write_table()?;
        let shared = inner.shared.lock();
        let mut restores = shared.restores.clone();
        restores.sort_by_key(|r| r.partition);
        Ok(JobReport {
            status: inner.status_of(&shared),
            restores,
            elapsed_ms: self.started.elapsed().as_millis() as u64,
            table_writes: shared.table_writes,
        })
    }
}

/// Join every worker thread, then let the group members go (every worker is done: they
/// leave the group now). Returns the first worker's error, if any.
fn join_all(threads: Vec<JoinHandle<Result<()>>>, inner: &Inner) -> Option<KappaError> {
    let mut first = None;
    for t in threads {
        match t.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => first = first.or(Some(e)),
            Err(_) => first = first.or(Some(KappaError::Worker("a worker panicked".into()))),
        }
    }
    inner.finished.lock().clear();
    first
}

/// Whether `offset` (per partition) covers `target`: a partition is covered when its
/// target is 0 or its offset is at or past it.
fn covers(shared: &Shared, target: &[u64], offset: fn(&Shared, u32) -> Option<u64>) -> bool {
    target
        .iter()
        .enumerate()
        .all(|(p, &t)| t == 0 || offset(shared, p as u32).is_some_and(|o| o >= t))
}
