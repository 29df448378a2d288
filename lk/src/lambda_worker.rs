//! `lk lambda run --worker`: the Lambda pipeline as N processes of one consumer group.
//!
//! ```text
//!   group lambda[.NS].<workload>.<topic>  (Kafka assigns the partitions)
//!   worker A owns {0, 2}                     worker B owns {1, 3}
//!     per owned partition p:                   …
//!       speed layer scoped to p (tokio task) ── follows p from its realtime view
//!       every --batch-every: H = begin_generation_now()[p]
//!         main thread: recompute p alone over [0, H)     (polars + rayon, never on tokio)
//!         fenced by the group: publish partitions/p/batch vN, expire, save realtime view
//!       every --save-every: fenced: save partitions/p/realtime.view, commit p's position
//!   rebalance: lost p → stop its task (its last fenced save is what the next owner loads)
//!              gained p → load p's batch view and realtime view from the shared --data
//! ```
//!
//! Views are per key and a key lives in one partition, so a partition's batch and
//! realtime views are computed without any other partition's records, and `lk query`
//! (or `lk serve`) merges every partition's views into one answer
//! (`LambdaSnapshot::from_partitions`; see [`crate::views`]). Every write of partition
//! `p`'s files happens inside `GroupMembership::commit_with`: only while this worker owns
//! `p`, and no rebalance can hand `p` to another worker in the middle of it. A worker
//! that dies (SIGKILL) leaves files written atomically (rename), the last of which the
//! next owner resumes from: its batch view is exact and its realtime view holds exactly
//! the records below its saved positions (generations the published batch view covers
//! are dropped when loading), so nothing is lost and nothing counts twice.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use master_log::{AssignmentStrategy, GroupMembership, Log, LogError, TopicPartition};
use speed_layer::{SpeedConfig, SpeedLayer};
use workloads::Workload;

use crate::datasets_cmd::sidecar_dir;
use crate::views::{check_layout, partition_realtime_file, partition_store};

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// A partition's batch view is recomputed this long after the previous one started.
    pub batch_every: Duration,
    /// The realtime views are saved (and positions committed) this often.
    pub save_every: Duration,
    /// Keeps groups of the same workload apart on a shared log.
    pub namespace: Option<String>,
}

/// The consumer group of a Lambda deployment of `workload` over `topic`.
pub fn group_name(workload: &Workload, topic: &str, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) => format!("lambda.{ns}.{}.{topic}", workload.name()),
        None => format!("lambda.{}.{topic}", workload.name()),
    }
}

/// What a worker keeps for one partition it owns.
struct Owned {
    speed: SpeedLayer,
    store: batch_layer::ViewStore,
    file: PathBuf,
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
    /// Whether "caught up" was printed since this worker took the partition over.
    announced: bool,
    /// The partition's files as this worker last read or wrote them.
    files: Files,
}

/// What identifies the state of a partition's files: the published batch view's version
/// and the realtime view's modification time. If they changed while this worker did not
/// own the partition for a while (moved away and back), another worker wrote them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Files {
    batch_version: Option<u64>,
    realtime_modified: Option<SystemTime>,
}

impl Files {
    fn read(store: &batch_layer::ViewStore, file: &Path) -> anyhow::Result<Files> {
        Ok(Files {
            batch_version: store.current_version()?,
            realtime_modified: match std::fs::metadata(file) {
                Ok(m) => Some(m.modified()?),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(anyhow::Error::new(e).context(format!("{}", file.display()))),
            },
        })
    }
}

struct Worker<'a> {
    data: &'a Path,
    log: Arc<dyn Log>,
    workload: Workload,
    topic: String,
    opts: WorkerOptions,
    membership: Box<dyn GroupMembership>,
    runtime: tokio::runtime::Runtime,
    owned: BTreeMap<u32, Owned>,
    batch_runs: u64,
}

pub fn run_worker(
    data: &Path,
    log: Arc<dyn Log>,
    workload: Workload,
    topic: String,
    opts: WorkerOptions,
) -> anyhow::Result<ExitCode> {
    check_layout(data, &workload, true)?;
    if let Some(ns) = &opts.namespace {
        master_log::validate_name(ns).context("--namespace")?;
    }
    // Ctrl-C from here on stops the worker cleanly (joining the group may take a while).
    let stop = crate::stop_flag()?;
    let group = group_name(&workload, &topic, opts.namespace.as_deref());
    log.partition_count(&topic)?; // an unknown topic fails before joining
    let membership = log.join_group(&group, &[&topic], AssignmentStrategy::Range)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the tokio runtime")?;
    println!(
        "lambda worker {} of group {group} over {topic}",
        membership.member_id()
    );
    let mut worker = Worker {
        data,
        log,
        workload,
        topic,
        opts,
        membership,
        runtime,
        owned: BTreeMap::new(),
        batch_runs: 0,
    };
    let outcome = worker.run(&|| stop.load(Ordering::SeqCst));
    let stopped = worker.stop_all();
    outcome?;
    stopped?;
    println!(
        "lambda worker stopped after {} batch run(s)",
        worker.batch_runs
    );
    Ok(ExitCode::SUCCESS)
}

impl Worker<'_> {
    fn run(&mut self, stop: &dyn Fn() -> bool) -> anyhow::Result<()> {
        let mut generation = None;
        let mut next_save = Instant::now() + self.opts.save_every;
        while !stop() {
            let a = self.membership.assignment();
            if generation != Some(a.generation) {
                let mine: Vec<u32> = a
                    .partitions
                    .iter()
                    .filter(|tp| tp.topic == self.topic)
                    .map(|tp| tp.partition)
                    .collect();
                println!("generation {}: partitions {mine:?}", a.generation);
                self.follow(&mine)?;
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
                self.batch_round(&due)?;
            }
            if Instant::now() >= next_save {
                self.save_round()?;
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
    fn follow(&mut self, mine: &[u32]) -> anyhow::Result<()> {
        let lost: Vec<u32> = self
            .owned
            .keys()
            .filter(|p| !mine.contains(p))
            .copied()
            .collect();
        for p in lost {
            if let Some(o) = self.owned.remove(&p) {
                self.close(o)?;
                println!("partition {p}: moved to another worker");
            }
        }
        for &p in mine {
            // Kept through the rebalance, unless it was away long enough for another
            // worker to write its files: then this worker's copy is stale.
            if let Some(o) = self.owned.get(&p) {
                if Files::read(&o.store, &o.file)? == o.files {
                    continue;
                }
                let o = self.owned.remove(&p).context("an owned partition")?;
                self.close(o)?;
                println!("partition {p}: written by another worker meanwhile; reloading");
            }
            let o = self.open(p)?;
            self.owned.insert(p, o);
        }
        Ok(())
    }

    /// Take partition `p` over: its published batch view and its saved realtime view
    /// (whoever owned it before wrote them), then follow it.
    fn open(&self, p: u32) -> anyhow::Result<Owned> {
        let store = partition_store(self.data, &self.workload, p)?;
        let file = partition_realtime_file(self.data, &self.workload, p);
        let published = store.current()?;
        let n = self.log.partition_count(&self.topic)? as usize;
        let config = SpeedConfig::new(&self.topic, sidecar_dir(self.data)).with_partitions(vec![p]);
        let horizon = published.as_ref().map(|v| v.horizon.as_slice());
        let loaded = file.exists();
        let speed = SpeedLayer::resume(
            self.log.clone(),
            self.workload.clone(),
            config,
            &file,
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
                end[p as usize] = self.log.offsets(&self.topic, p)?.1;
                speed.begin_generation(&end)?;
                (Instant::now(), Some(end))
            }
        };
        let position = speed.positions()[p as usize];
        println!(
            "partition {p}: taken over; batch view {}, realtime view {} at offset {position}",
            published.as_ref().map_or("none".to_owned(), |v| format!(
                "v{} at horizon {}",
                v.version, v.horizon[p as usize]
            )),
            if loaded { "loaded" } else { "new" },
        );
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
            files: Files::read(&store, &file)?,
            store,
            file,
        })
    }

    /// Stop a partition's speed layer task; its error, if it failed, is returned.
    fn close(&self, o: Owned) -> anyhow::Result<()> {
        let _ = o.stop.send(true);
        self.runtime
            .block_on(o.task)
            .map_err(|e| anyhow::anyhow!("speed layer task: {e}"))??;
        Ok(())
    }

    /// A speed layer task that stopped by itself failed: report it.
    fn check_tasks(&mut self) -> anyhow::Result<()> {
        let done: Vec<u32> = self
            .owned
            .iter()
            .filter(|(_, o)| o.task.is_finished())
            .map(|(p, _)| *p)
            .collect();
        for p in done {
            if let Some(o) = self.owned.remove(&p) {
                self.close(o)
                    .with_context(|| format!("partition {p}'s speed layer"))?;
                anyhow::bail!("partition {p}'s speed layer stopped unexpectedly");
            }
        }
        Ok(())
    }

    /// Recompute the batch views of the partitions `due`, each up to its own horizon,
    /// and publish each while this worker still owns its partition.
    fn batch_round(&mut self, due: &[u32]) -> anyhow::Result<()> {
        let started = Instant::now();
        let n = self.log.partition_count(&self.topic)? as usize;
        let mut horizon = vec![0; n];
        let mut todo = Vec::new();
        for &p in due {
            let o = self.owned.get_mut(&p).context("a due partition is owned")?;
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
            &self.topic,
            &sidecar_dir(self.data),
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
            let mut version = 0;
            let published = fenced(self.membership.as_ref(), &self.topic, p, position, || {
                version = o.store.publish(&view)?;
                o.speed.expire(&view.horizon)?;
                o.speed.save(&o.file)?;
                Ok(())
            })?;
            if published {
                o.saved = Some(position);
                o.horizon = Some(view.horizon[p as usize]);
                o.files = Files::read(&o.store, &o.file)?;
                println!(
                    "partition {p}: batch view v{version} published, horizon {} ({} records, {} cells) in {:.2} s",
                    view.horizon[p as usize],
                    view.records_read,
                    view.table.len(),
                    started.elapsed().as_secs_f64()
                );
            } else {
                println!(
                    "partition {p}: no longer this worker's (a rebalance is moving it); its batch view is not published"
                );
            }
        }
        Ok(())
    }

    /// Save the realtime view of every owned partition that read something since its last
    /// save, and commit its position.
    fn save_round(&mut self) -> anyhow::Result<()> {
        for (&p, o) in &mut self.owned {
            let caught_up = o.speed.caught_up();
            let position = o.speed.positions()[p as usize];
            if o.saved != Some(position) {
                let (speed, file) = (&o.speed, &o.file);
                if !fenced(self.membership.as_ref(), &self.topic, p, position, || {
                    Ok(speed.save(file)?)
                })? {
                    continue; // moved: the next rebalance closes it
                }
                o.saved = Some(position);
                o.files = Files::read(&o.store, &o.file)?;
            }
            if caught_up && !o.announced {
                println!("partition {p}: caught up at offset {position}; realtime view saved");
                o.announced = true;
            }
        }
        Ok(())
    }

    /// Stop every task, then save what they read (while still owning the partitions)
    /// and leave the group.
    fn stop_all(&mut self) -> anyhow::Result<()> {
        let mut first_err = None;
        let owned = std::mem::take(&mut self.owned);
        for (p, o) in owned {
            let (speed, file) = (o.speed.clone(), o.file.clone());
            let saved = self.close(o).and_then(|()| {
                let position = speed.positions()[p as usize];
                fenced(self.membership.as_ref(), &self.topic, p, position, || {
                    Ok(speed.save(&file)?)
                })
            });
            if let Err(e) = saved {
                first_err.get_or_insert(e.context(format!("partition {p}")));
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
    mut write: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<bool> {
    let mut failed = None;
    let r = membership.commit_with(&[(TopicPartition::new(topic, p), position)], &mut || {
        write().map_err(|e| {
            let reason = format!("{e:#}");
            failed = Some(e);
            // Nothing is committed after a failed write.
            LogError::InvalidConfig(reason)
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
