//! The Lambda pipeline as N processes of one consumer group (`lk lambda run --worker`).
//!
//! ```text
//!   group lambda[.NS].<workload>.<topic>  (the log assigns the partitions)
//!   worker A owns {0, 2}                     worker B owns {1, 3}
//!     per owned partition p:                   …
//!       speed layer scoped to p (tokio task) ── follows p from its realtime view
//!       every batch_every: H = begin_generation_now()[p]
//!         this thread: recompute p alone over [0, H)     (polars + rayon, never on tokio)
//!         fenced by the group: publish partitions/p/batch vN, expire, save realtime view
//!       every save_every: fenced: save partitions/p/realtime.view, commit p's position
//!   rebalance: lost p → stop its task (its last fenced save is what the next owner loads)
//!              gained p → load p's batch view and realtime view from the shared directory
//! ```
//!
//! Views are per key and a key lives in one partition, so a partition's batch and
//! realtime views are computed without any other partition's records, and a reader
//! merges every partition's views into one answer ([`crate::Layout::saved_snapshot`]).
//! Every write of partition `p`'s files happens inside `GroupMembership::commit_with`:
//! only while this worker owns `p`, and no rebalance can hand `p` to another worker in
//! the middle of it. A worker that dies (SIGKILL) leaves files written atomically, the
//! last of which the next owner resumes from: its batch view is exact and its realtime
//! view holds exactly the records below its saved positions (generations the published
//! batch view covers are dropped when loading), so nothing is lost and nothing counts
//! twice.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use master_log::{AssignmentStrategy, GroupMembership, Log, LogError, TopicPartition};
use speed_layer::{SpeedConfig, SpeedLayer};
use workloads::Workload;

use crate::cycle::publish;
use crate::error::io;
use crate::layout::{Layout, ViewFiles, rebuild_batch_view};
use crate::{LambdaError, Result};

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// The topic the pipeline reads.
    pub topic: String,
    /// The dataset sidecars.
    pub sidecar_dir: PathBuf,
    /// A partition's batch view is recomputed this long after the previous one started.
    pub batch_every: Duration,
    /// The realtime views are saved (and positions committed) this often.
    pub save_every: Duration,
    /// Keeps groups of the same workload apart on a shared log.
    pub namespace: Option<String>,
}

/// What a worker reports as it goes (`lk` prints each).
#[derive(Debug, Clone, PartialEq)]
pub enum WorkerEvent {
    /// Joined the group.
    Joined {
        /// This member's id.
        member: String,
        /// The group's name.
        group: String,
        /// The topic.
        topic: String,
    },
    /// A new assignment.
    Generation {
        /// The group's generation.
        generation: u64,
        /// The partitions this worker owns in it.
        partitions: Vec<u32>,
    },
    /// A partition moved to another worker.
    Moved(u32),
    /// A partition kept through a rebalance was written by another worker meanwhile.
    Reloading(u32),
    /// A partition taken over.
    TakenOver {
        /// The partition.
        partition: u32,
        /// The published batch view's version and horizon in the partition, if any.
        batch: Option<(u64, u64)>,
        /// Whether a saved realtime view was loaded.
        loaded: bool,
        /// Where the speed layer resumes.
        position: u64,
    },
    /// A partition's batch view published.
    Published {
        /// The partition.
        partition: u32,
        /// The view's version.
        version: u64,
        /// Its horizon in the partition.
        horizon: u64,
        /// Records read.
        records: u64,
        /// Cells of the view.
        cells: usize,
        /// Seconds since the batch round started.
        seconds: f64,
    },
    /// A batch view not published: the partition is moving to another worker.
    NotPublished(u32),
    /// A partition's speed layer caught up (said once per take-over).
    CaughtUp {
        /// The partition.
        partition: u32,
        /// Its position.
        position: u64,
    },
}

impl std::fmt::Display for WorkerEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WorkerEvent::Joined {
                member,
                group,
                topic,
            } => {
                write!(f, "lambda worker {member} of group {group} over {topic}")
            }
            WorkerEvent::Generation {
                generation,
                partitions,
            } => {
                write!(f, "generation {generation}: partitions {partitions:?}")
            }
            WorkerEvent::Moved(p) => write!(f, "partition {p}: moved to another worker"),
            WorkerEvent::Reloading(p) => {
                write!(
                    f,
                    "partition {p}: written by another worker meanwhile; reloading"
                )
            }
            WorkerEvent::TakenOver {
                partition,
                batch,
                loaded,
                position,
            } => {
                let batch = match batch {
                    Some((v, h)) => format!("v{v} at horizon {h}"),
                    None => "none".into(),
                };
                let realtime = if *loaded { "loaded" } else { "new" };
                write!(
                    f,
                    "partition {partition}: taken over; batch view {batch}, realtime view {realtime} at offset {position}"
                )
            }
            WorkerEvent::Published {
                partition,
                version,
                horizon,
                records,
                cells,
                seconds,
            } => {
                write!(
                    f,
                    "partition {partition}: batch view v{version} published, horizon {horizon} ({records} records, {cells} cells) in {seconds:.2} s"
                )
            }
            WorkerEvent::NotPublished(p) => write!(
                f,
                "partition {p}: no longer this worker's (a rebalance is moving it); its batch view is not published"
            ),
            WorkerEvent::CaughtUp {
                partition,
                position,
            } => write!(
                f,
                "partition {partition}: caught up at offset {position}; realtime view saved"
            ),
        }
    }
}

/// The consumer group of a Lambda deployment of `workload` over `topic`.
pub fn group_name(workload: &Workload, topic: &str, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) => format!("lambda.{ns}.{}.{topic}", workload.name()),
        None => format!("lambda.{}.{topic}", workload.name()),
    }
}

/// Run a worker of `workload`'s group until `stop()` is true, keeping its views under
/// `layout`; returns the number of batch rounds it ran.
pub fn run(
    log: Arc<dyn Log>,
    workload: Workload,
    layout: &Layout,
    opts: WorkerOptions,
    stop: &dyn Fn() -> bool,
    on_event: &mut dyn FnMut(&WorkerEvent),
) -> Result<u64> {
    if opts.batch_every.is_zero() || opts.save_every.is_zero() {
        return Err(LambdaError::Config(
            "the batch and save periods must be longer than zero".into(),
        ));
    }
    layout.check(true)?;
    if let Some(ns) = &opts.namespace {
        master_log::validate_name(ns)?;
    }
    let group = group_name(&workload, &opts.topic, opts.namespace.as_deref());
    log.partition_count(&opts.topic)?; // an unknown topic fails before joining
    let membership = log.join_group(&group, &[&opts.topic], AssignmentStrategy::Range)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_name("lambda-speed")
        .enable_all()
        .build()
        .map_err(io("start the tokio runtime"))?;
    on_event(&WorkerEvent::Joined {
        member: membership.member_id().to_owned(),
        group,
        topic: opts.topic.clone(),
    });
    let mut worker = Worker {
        log,
        workload,
        layout,
        opts,
        membership,
        runtime,
        owned: BTreeMap::new(),
        batch_runs: 0,
    };
    let outcome = worker.follow_group(stop, on_event);
    let stopped = worker.stop_all();
    outcome?;
    stopped?;
    Ok(worker.batch_runs)
}

/// What a worker keeps for one partition it owns.
struct Owned {
    speed: SpeedLayer,
    files: ViewFiles,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<speed_layer::Result<()>>,
    /// When the next batch run of this partition starts.
    next_batch: Instant,
    /// The horizon of that run, when fixed already (at gain: the log's end then).
    pending: Option<Vec<u64>>,
    /// The position of the last save.
    saved: Option<u64>,
    /// The published batch view's horizon in this partition.
    horizon: Option<u64>,
    /// Whether "caught up" was said since this worker took the partition over.
    announced: bool,
    /// The partition's files as this worker last read or wrote them.
    state: FilesState,
}

/// What identifies the state of a partition's files: the published batch view's version
/// and the realtime view's modification time. If they changed while this worker did not
/// own the partition for a while (moved away and back), another worker wrote them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FilesState {
    batch_version: Option<u64>,
    realtime_modified: Option<SystemTime>,
}

impl FilesState {
    fn read(files: &ViewFiles) -> Result<FilesState> {
        let context = || format!("{}", files.realtime.display());
        Ok(FilesState {
            batch_version: files.store.current_version()?,
            realtime_modified: match std::fs::metadata(&files.realtime) {
                Ok(m) => Some(m.modified().map_err(io(context()))?),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(io(context())(e)),
            },
        })
    }
}

struct Worker<'a> {
    log: Arc<dyn Log>,
    workload: Workload,
    layout: &'a Layout,
    opts: WorkerOptions,
    membership: Box<dyn GroupMembership>,
    runtime: tokio::runtime::Runtime,
    owned: BTreeMap<u32, Owned>,
    batch_runs: u64,
}

impl Worker<'_> {
    /// Follow the group's assignment, run the due batch rounds and saves, until `stop`.
    fn follow_group(
        &mut self,
        stop: &dyn Fn() -> bool,
        on_event: &mut dyn FnMut(&WorkerEvent),
    ) -> Result<()> {
        let mut generation = None;
        let mut next_save = Instant::now() + self.opts.save_every;
        while !stop() {
            let a = self.membership.assignment();
            if generation != Some(a.generation) {
                let mine: Vec<u32> = a
                    .partitions
                    .iter()
                    .filter(|tp| tp.topic == self.opts.topic)
                    .map(|tp| tp.partition)
                    .collect();
                on_event(&WorkerEvent::Generation {
                    generation: a.generation,
                    partitions: mine.clone(),
                });
                self.follow(&mine, on_event)?;
                generation = Some(a.generation);
            }
            self.check_tasks()?;
            let now = Instant::now();
            let due: Vec<u32> = self
                .owned
                .iter()
                .filter(|(_, o)| o.next_batch <= now)
                .map(|(p, _)| *p)
                .collect();
            if !due.is_empty() {
                self.batch_round(&due, on_event)?;
            }
            if Instant::now() >= next_save {
                self.save_round(on_event)?;
                next_save = Instant::now() + self.opts.save_every;
            }
            let wake = self
                .owned
                .values()
                .map(|o| o.next_batch)
                .chain([next_save])
                .min()
                .unwrap_or(next_save);
            let wait = wake
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(200));
            self.membership
                .wait_for_rebalance(generation.unwrap_or(0), wait);
        }
        Ok(())
    }

    /// Close the tasks of partitions no longer owned, open the newly owned ones.
    fn follow(&mut self, mine: &[u32], on_event: &mut dyn FnMut(&WorkerEvent)) -> Result<()> {
        let lost: Vec<u32> = self
            .owned
            .keys()
            .filter(|p| !mine.contains(p))
            .copied()
            .collect();
        for p in lost {
            if let Some(o) = self.owned.remove(&p) {
                self.close(o)?;
                on_event(&WorkerEvent::Moved(p));
            }
        }
        for &p in mine {
            // Kept through the rebalance, unless it was away long enough for another
            // worker to write its files: then this worker's copy is stale.
            if let Some(o) = self.owned.get(&p) {
                if FilesState::read(&o.files)? == o.state {
                    continue;
                }
                if let Some(o) = self.owned.remove(&p) {
                    self.close(o)?;
                }
                on_event(&WorkerEvent::Reloading(p));
            }
            let o = self.open(p, on_event)?;
            self.owned.insert(p, o);
        }
        Ok(())
    }

    /// Take partition `p` over: its published batch view and its saved realtime view
    /// (whoever owned it before wrote them), then follow it.
    fn open(&self, p: u32, on_event: &mut dyn FnMut(&WorkerEvent)) -> Result<Owned> {
        let files = self.layout.partition_files(p)?;
        let published = match files.store.current() {
            Ok(v) => v,
            Err(e @ batch_layer::BatchError::Corrupt { .. }) => {
                let damage = LambdaError::Damaged(e.into());
                tracing::warn!(
                    "{}; recomputing partition {p}'s batch view from the log",
                    master_log::error_chain(&damage)
                );
                Some(rebuild_batch_view(
                    self.log.as_ref(),
                    &self.workload,
                    &self.opts.topic,
                    &self.opts.sidecar_dir,
                    &files.store,
                    Some(p),
                )?)
            }
            Err(e) => return Err(e.into()),
        };
        let n = self.log.partition_count(&self.opts.topic)? as usize;
        let config =
            SpeedConfig::new(&self.opts.topic, &self.opts.sidecar_dir).with_partitions(vec![p]);
        let horizon = published.as_ref().map(|v| v.horizon.as_slice());
        let loaded = files.realtime.exists();
        let speed = SpeedLayer::resume(
            self.log.clone(),
            self.workload.clone(),
            config,
            &files.realtime,
            horizon,
        )?;
        // A batch view older than the period (or none): recompute at once, up to the
        // end of the partition now — the speed layer has not read past it yet.
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let age = published
            .as_ref()
            .map(|v| Duration::from_millis(now_ms.saturating_sub(v.created_ms)));
        let (next_batch, pending) = match age {
            Some(age) if age < self.opts.batch_every => {
                (Instant::now() + (self.opts.batch_every - age), None)
            }
            _ => {
                let mut end = vec![0; n];
                end[p as usize] = self.log.offsets(&self.opts.topic, p)?.1;
                speed.begin_generation(&end)?;
                (Instant::now(), Some(end))
            }
        };
        let position = speed.positions()[p as usize];
        on_event(&WorkerEvent::TakenOver {
            partition: p,
            batch: published
                .as_ref()
                .map(|v| (v.version, v.horizon[p as usize])),
            loaded,
            position,
        });
        let (stop, shutdown) = tokio::sync::watch::channel(false);
        let task = {
            let speed = speed.clone();
            self.runtime.spawn(async move { speed.run(shutdown).await })
        };
        Ok(Owned {
            speed,
            stop,
            task,
            next_batch,
            pending,
            saved: Some(position),
            announced: false,
            horizon: published.as_ref().map(|v| v.horizon[p as usize]),
            state: FilesState::read(&files)?,
            files,
        })
    }

    /// Stop a partition's speed layer task; its error, if it failed, is returned.
    fn close(&self, o: Owned) -> Result<()> {
        let _ = o.stop.send(true);
        self.runtime
            .block_on(o.task)
            .map_err(|e| LambdaError::Thread(format!("speed layer task: {e}")))??;
        Ok(())
    }

    /// A speed layer task that stopped by itself failed: report it.
    fn check_tasks(&mut self) -> Result<()> {
        let done: Vec<u32> = self
            .owned
            .iter()
            .filter(|(_, o)| o.task.is_finished())
            .map(|(p, _)| *p)
            .collect();
        for p in done {
            if let Some(o) = self.owned.remove(&p) {
                self.close(o)?;
                return Err(LambdaError::Thread(format!(
                    "partition {p}'s speed layer stopped unexpectedly"
                )));
            }
        }
        Ok(())
    }

    /// Recompute the batch views of the partitions `due`, each up to its own horizon,
    /// and publish each while this worker still owns its partition.
    fn batch_round(&mut self, due: &[u32], on_event: &mut dyn FnMut(&WorkerEvent)) -> Result<()> {
        let started = Instant::now();
        let n = self.log.partition_count(&self.opts.topic)? as usize;
        let mut horizon = vec![0; n];
        let mut todo = Vec::new();
        for &p in due {
            let Some(o) = self.owned.get_mut(&p) else {
                continue;
            };
            let h = match o.pending.take() {
                Some(h) => h[p as usize],
                None => o.speed.begin_generation_now()[p as usize],
            };
            if o.horizon == Some(h) {
                // Nothing arrived since the published view (and no generation was
                // opened: the speed layer had not moved from that horizon).
                o.next_batch = started + self.opts.batch_every;
                continue;
            }
            horizon[p as usize] = h;
            todo.push(p);
        }
        if todo.is_empty() {
            return Ok(());
        }
        // polars and rayon on this (non-tokio) thread; the speed layers go on.
        let views = batch_layer::recompute_partitions_at(
            self.log.as_ref(),
            &self.workload,
            &self.opts.topic,
            &self.opts.sidecar_dir,
            &horizon,
            &todo,
        )?;
        self.batch_runs += 1;
        for (&p, view) in todo.iter().zip(views) {
            let Some(o) = self.owned.get_mut(&p) else {
                continue;
            };
            o.next_batch = started + self.opts.batch_every;
            let position = o.speed.positions()[p as usize];
            let (records, cells, h) = (
                view.records_read,
                view.table.len(),
                view.horizon[p as usize],
            );
            let (mut version, mut view) = (None, Some(view));
            let published = fenced(
                self.membership.as_ref(),
                &self.opts.topic,
                p,
                position,
                || {
                    if let Some(view) = view.take() {
                        version = publish(&o.speed, None, Some(&o.files), view)?;
                    }
                    Ok(())
                },
            )?;
            if !published {
                on_event(&WorkerEvent::NotPublished(p));
                continue;
            }
            o.saved = Some(position);
            o.horizon = Some(h);
            o.state = FilesState::read(&o.files)?;
            on_event(&WorkerEvent::Published {
                partition: p,
                version: version.unwrap_or(0),
                horizon: h,
                records,
                cells,
                seconds: started.elapsed().as_secs_f64(),
            });
        }
        Ok(())
    }

    /// Save the realtime view of every owned partition that read something since its last
    /// save, and commit its position.
    fn save_round(&mut self, on_event: &mut dyn FnMut(&WorkerEvent)) -> Result<()> {
        for (&p, o) in &mut self.owned {
            let caught_up = o.speed.caught_up();
            let position = o.speed.positions()[p as usize];
            if o.saved != Some(position) {
                let (speed, file) = (&o.speed, &o.files.realtime);
                if !fenced(
                    self.membership.as_ref(),
                    &self.opts.topic,
                    p,
                    position,
                    || Ok(speed.save(file)?),
                )? {
                    continue; // moved: the next rebalance closes it
                }
                o.saved = Some(position);
                o.state = FilesState::read(&o.files)?;
            }
            if caught_up && !o.announced {
                on_event(&WorkerEvent::CaughtUp {
                    partition: p,
                    position,
                });
                o.announced = true;
            }
        }
        Ok(())
    }

    /// Stop every task, then save what they read (while still owning the partitions)
    /// and leave the group.
    fn stop_all(&mut self) -> Result<()> {
        let mut first_err = None;
        let owned = std::mem::take(&mut self.owned);
        for (p, o) in owned {
            let (speed, file) = (o.speed.clone(), o.files.realtime.clone());
            let saved = self.close(o).and_then(|()| {
                let position = speed.positions()[p as usize];
                fenced(
                    self.membership.as_ref(),
                    &self.opts.topic,
                    p,
                    position,
                    || Ok(speed.save(&file)?),
                )
            });
            if let Err(e) = saved {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

/// Run `write` fenced by the group for partition `p` (see
/// `GroupMembership::commit_with`), committing `position` after it. `Ok(false)` when the
/// partition is no longer this worker's (nothing was written).
fn fenced(
    membership: &dyn GroupMembership,
    topic: &str,
    p: u32,
    position: u64,
    mut write: impl FnMut() -> Result<()>,
) -> Result<bool> {
    let mut failed = None;
    let r = membership.commit_with(&[(TopicPartition::new(topic, p), position)], &mut || {
        write().map_err(|e| {
            failed = Some(e);
            // Nothing is committed after a failed write; the write's own error is
            // returned below.
            LogError::InvalidConfig(format!("partition {p}: a write failed"))
        })
    });
    if let Some(e) = failed {
        return Err(e);
    }
    match r {
        Ok(()) => Ok(true),
        Err(LogError::Group { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}
