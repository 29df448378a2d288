//! # speed_layer — the Lambda speed layer
//!
//! Tails one topic of the master log from a **horizon** (per-partition offsets; every
//! record below it is covered by a batch view) and keeps a **realtime view**: partial
//! aggregates per (window, key) in [`workloads::PartialTable`]s with exactly the layout
//! of [`Workload::empty_partials`], so the serving layer merges it with a batch view
//! without knowing who made which half.
//!
//! ```text
//!            master_log (one topic, P partitions)
//!   p0 ─────────────[ batch view covers ]│ H0 ────── gen 0 ──────│ H1 ── gen 1 ──▶ head
//!   p1 ──────────[ batch view covers ]│ H0 ─── gen 0 ───│ H1 ──── gen 1 ────────▶ head
//!                                        ▲                        ▲
//!                           base horizon (published)   begin_generation(H1) at batch start
//!
//!   one tokio task per partition:
//!     listen ─► fetch (spawn_blocking) ─► decode + dedup ─► fold under one lock into the
//!       ▲        generation g with from_g[p] ≤ offset < from_{g+1}[p]; position[p] = next
//!       └──── await the EventListener (a future: no spinning, no sleep-polling) ◄─┘
//!
//!   RealtimeView = [ (from_0, table_0), (from_1, table_1), … ] + positions + caught_up
//!   snapshot()  — one lock: generations, positions and caught_up agree
//!   expire(H1)  — the batch view at H1 is published: drop every generation below H1
//!   save/load   — postcard file with a CRC32C, so `lk query` works after the process stops
//! ```
//!
//! ## Contract
//! - **Generations make the hand-off exact** (Marz's expiring realtime views). A
//!   generation `(from, table)` holds exactly the records with offsets `≥ from[p]` and
//!   below the next generation's `from[p]`. [`SpeedLayer::begin_generation`]`(H)` is called
//!   when a batch run *starts* with horizon `H`: records at or above `H` go to a new
//!   generation. [`SpeedLayer::expire`]`(H)` is called when the batch view at `H` is
//!   *published*: every generation lying below `H` is dropped. No gap, no double count,
//!   and no subtraction (distinct sets and arg-max cannot be subtracted). A record read
//!   after its generation expired (the batch run finished before the speed layer had read
//!   up to its horizon) is already in the batch view and is skipped.
//!   `begin_generation(H)` needs the layer not to have read past `H` yet (else
//!   [`SpeedError::PastHorizon`]); a live deployment uses
//!   [`SpeedLayer::begin_generation_now`], which opens the generation at the current
//!   positions and *returns them as the horizon* for the batch run to read up to.
//! - **Late events** (event time in a window a batch view already covers) still go into
//!   the realtime view, as a correction of that window: the merge adds them to the batch
//!   cell. The next batch run reads them (they are above the old horizon, below the new
//!   one) and the generation holding them expires when it is published, so they are
//!   counted exactly once at every moment.
//! - **Duplicates** (same event id; a re-send has the same key, so the same partition)
//!   are dropped with bounded state: per partition, at least the ids seen whose event
//!   time is within [`SpeedConfig::dedup_window_ms`] (default 10 minutes) of the largest
//!   event time seen in that partition, and at most about two windows' worth (two sets
//!   that rotate by event time, the older dropped whole: no per-id expiry). At start the set is seeded by re-reading the records
//!   appended within the same window (by append time, via `offset_for_time`) just below
//!   the start position. **Bound**: de-duplication is exact as long as a re-send arrives
//!   while the partition's largest event time is less than the original's event time
//!   plus the window, and (across a restart or hand-off) was appended within the window
//!   of append time after the original. Imported CSV rows are each their own event.
//! - Decoding and folding are cheap per event and run on the partition's task; the log
//!   fetch (file I/O in the embedded log) runs on tokio's blocking pool.
//! - **Decoding and folding** are the datasets crate's [`datasets::StreamDecoder`], the
//!   decoder the Kappa job uses too: built-ins decode their dataset's events; spec
//!   workloads decode imported CSV rows (`Filter::matches`, `Aggregate::update` per
//!   aggregate column, group-by columns). The operator (`operator.rs`) folds an event into
//!   every window of its time (a session event adds a `[t, t + gap)` cell and sessions are
//!   coalesced at query time by `PartialTable::coalesce_sessions`). Specs over generated
//!   topics are [`SpeedError::Unsupported`].
//! - **Persistence**: [`SpeedLayer::save`] writes generations and positions atomically,
//!   with a CRC32C; [`SpeedLayer::load`] / [`RealtimeSnapshot::load`] discard generations
//!   covered by the currently published horizon; if that horizon cuts through a
//!   generation, the saved view is dropped and reading restarts at the horizon. A damaged
//!   file is never read as a view: [`RealtimeSnapshot::load`] returns
//!   [`SpeedError::BadSave`], and [`SpeedLayer::load`] warns, discards it and restarts at
//!   the published horizon, reading the log again from there.
//! - **Partition scope** ([`SpeedConfig::partitions`]): a layer may read only some
//!   partitions; the others keep their starting offsets (a worker of a Lambda group
//!   starts them at 0 and keeps one layer, one saved view and one batch view per
//!   partition it owns, so that a partition's views move whole when the group
//!   rebalances; `lk lambda run --worker`). Offsets vectors keep one entry per
//!   partition of the topic either way.
//! - Bad input is a [`SpeedError`], never a panic.
//!
//! ## Usage
//! `lk lambda speed --until-caught-up` is [`SpeedLayer::run_until_caught_up`]; the
//! long-running mode is [`SpeedLayer::run`] with a `tokio::sync::watch` shutdown signal.
//!
//! ```no_run
//! # async fn demo(log: std::sync::Arc<dyn master_log::Log>) -> speed_layer::Result<()> {
//! use speed_layer::{SpeedConfig, SpeedLayer};
//! use workloads::{BuiltIn, Workload};
//!
//! let workload = Workload::BuiltIn(BuiltIn::PageviewsPerMinute);
//! let config = SpeedConfig::new("pageviews", "data/datasets");
//! let published = vec![0; log.partition_count("pageviews")? as usize]; // no batch view yet
//! let speed = SpeedLayer::new(log, workload.clone(), config, published)?;
//! let (stop, shutdown) = tokio::sync::watch::channel(false);
//! let running = tokio::spawn({
//!     let speed = speed.clone();
//!     async move { speed.run(shutdown).await }
//! });
//! // A batch run starts: it reads [0, horizon), later records go to a new generation.
//! let horizon = speed.begin_generation_now();
//! // … the batch view at `horizon` is published (atomically, by the serving layer):
//! speed.expire(&horizon)?;
//! let snapshot = speed.snapshot(); // merge snapshot.merged()? with the batch view
//! speed.save(std::path::Path::new("data/views/pageviews-per-minute.realtime"))?;
//! stop.send(true).ok();
//! running.await.map_err(|e| speed_layer::SpeedError::Task(e.to_string()))??;
//! # let _ = snapshot; Ok(())
//! # }
//! ```

#![warn(missing_docs)]

mod operator;
mod saved;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use master_log::durable::{self, Durability};
use master_log::{FetchLimits, Log};
use parking_lot::Mutex;
use rustc_hash::FxHashSet;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use workloads::{PartialTable, Workload};

use operator::Operator;

/// Everything that can stop the speed layer.
#[derive(Debug, thiserror::Error)]
pub enum SpeedError {
    /// The master log refused an operation.
    #[error(transparent)]
    Log(#[from] master_log::LogError),
    /// A dataset sidecar or campaign table that does not read.
    #[error(transparent)]
    Dataset(#[from] datasets::DatasetError),
    /// A workload that does not fit the topic, or an aggregate that refuses a value.
    #[error(transparent)]
    Workload(#[from] workloads::WorkloadError),
    /// A horizon (or saved view) with another number of partitions than the topic.
    #[error("a horizon of {got} partitions for topic {topic:?}, which has {expected}")]
    PartitionCount {
        /// The topic.
        topic: String,
        /// Its partitions.
        expected: usize,
        /// The horizon's.
        got: usize,
    },
    /// A partition to read that the topic does not have.
    #[error("topic {topic:?} has no partition {partition} (it has {partitions})")]
    UnknownPartition {
        /// The topic.
        topic: String,
        /// The partition asked for.
        partition: u32,
        /// The topic's partitions.
        partitions: usize,
    },
    #[error(
        "partition {partition}: the horizon {horizon} is outside the log [{earliest}, {latest}]"
    )]
    /// A horizon offset outside a partition's log.
    HorizonOutOfRange {
        /// The partition.
        partition: u32,
        /// The horizon's offset.
        horizon: u64,
        /// The partition's first offset.
        earliest: u64,
        /// The partition's end offset.
        latest: u64,
    },
    #[error(
        "partition {partition}: the speed layer already read up to {position}, past the horizon \
         {horizon} (use begin_generation_now to take the horizon from the speed layer)"
    )]
    /// `begin_generation` at a horizon the layer has already read past.
    PastHorizon {
        /// The partition.
        partition: u32,
        /// The next offset the layer reads.
        position: u64,
        /// The horizon's offset.
        horizon: u64,
    },
    /// `begin_generation` at a horizon below the open generation's start.
    #[error("partition {partition}: horizon {horizon} is older than the open generation's {from}")]
    HorizonBackwards {
        /// The partition.
        partition: u32,
        /// The horizon's offset.
        horizon: u64,
        /// The open generation's start.
        from: u64,
    },
    /// `expire` at a horizon no generation starts at.
    #[error("horizon {horizon:?} is not a generation boundary (generations start at {froms:?})")]
    NotABoundary {
        /// The horizon.
        horizon: Vec<u64>,
        /// Where the generations start.
        froms: Vec<Vec<u64>>,
    },
    /// A record the workload cannot read (it does not decode, a tombstone, a YSB view of
    /// an ad without a campaign).
    #[error("record at offset {offset}: {reason}")]
    BadRecord {
        /// The record's offset.
        offset: u64,
        /// Why it cannot be read.
        reason: String,
    },
    /// A workload the speed layer cannot run over this topic.
    #[error("{0}")]
    Unsupported(String),
    /// An operating-system error, with what it concerned.
    #[error("{context}")]
    Io {
        /// What the operation concerned (the file and what was done to it).
        context: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A saved realtime view that does not read (or a view that does not encode).
    #[error("saved realtime view {path}: {reason}")]
    BadSave {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A partition task that failed or panicked.
    #[error("a partition task failed: {0}")]
    Task(String),
}

/// The speed layer's result type.
pub type Result<T, E = SpeedError> = std::result::Result<T, E>;

/// Default de-duplication window: 10 minutes of event time.
pub const DEFAULT_DEDUP_WINDOW_MS: i64 = 10 * 60_000;

/// Where to read and how.
#[derive(Debug, Clone)]
pub struct SpeedConfig {
    /// The topic to read.
    pub topic: String,
    /// The dataset sidecars (`<data>/datasets`): the YSB campaign table, a CSV schema.
    pub sidecar_dir: PathBuf,
    /// Ids are remembered this long in event time (see the crate docs for the bound).
    pub dedup_window_ms: i64,
    /// How much one fetch reads.
    pub fetch_limits: FetchLimits,
    /// Read only these partitions (`None`: all). The others keep the position they start
    /// at and count as caught up: a worker of a group keeps one layer per partition it
    /// owns (see the crate docs, "Partition scope").
    pub partitions: Option<Vec<u32>>,
}

impl SpeedConfig {
    /// Read `topic` with the sidecars in `sidecar_dir`, with defaults elsewhere.
    pub fn new(topic: impl Into<String>, sidecar_dir: impl Into<PathBuf>) -> Self {
        Self {
            topic: topic.into(),
            sidecar_dir: sidecar_dir.into(),
            dedup_window_ms: DEFAULT_DEDUP_WINDOW_MS,
            fetch_limits: FetchLimits::default(),
            partitions: None,
        }
    }

    /// Read only `partitions` (see [`SpeedConfig::partitions`]).
    pub fn with_partitions(mut self, partitions: Vec<u32>) -> Self {
        self.partitions = Some(partitions);
        self
    }

    /// Whether partition `p` is read.
    fn reads(&self, p: usize) -> bool {
        self.partitions
            .as_ref()
            .is_none_or(|ps| ps.iter().any(|&q| q as usize == p))
    }
}

/// One generation of the realtime view: the records at offsets `≥ from[p]` and below the
/// next generation's `from[p]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generation {
    /// Per partition, the first offset of the generation.
    pub from: Vec<u64>,
    /// Partial aggregates of its records.
    pub table: PartialTable,
}

/// A consistent copy of the realtime view, taken under one lock.
#[derive(Debug, Clone, PartialEq)]
pub struct RealtimeSnapshot {
    /// The generations, oldest first.
    pub generations: Vec<Generation>,
    /// Per partition, the offset of the next record to read.
    pub positions: Vec<u64>,
    /// Every partition had read everything in the log when last checked.
    pub caught_up: bool,
}

impl RealtimeSnapshot {
    /// The horizon the view starts at (its first generation's `from`).
    pub fn base(&self) -> Option<&[u64]> {
        self.generations.first().map(|g| g.from.as_slice())
    }

    /// Every generation merged into one table.
    pub fn merged(&self) -> Result<PartialTable> {
        let mut t = PartialTable::new();
        for g in &self.generations {
            t.merge(&g.table)?;
        }
        Ok(t)
    }

    /// Read a saved view (see [`SpeedLayer::save`]), dropping what `published` covers.
    /// When `published` cuts through a generation, or lies beyond the saved positions,
    /// the view is unusable: the result is empty, starting at `published`, and the speed
    /// layer must re-read from there. A damaged file (it fails its checksum, is cut short
    /// or zero-filled, does not decode) is [`SpeedError::BadSave`]: never a view.
    pub fn load(path: &Path, published: Option<&[u64]>) -> Result<RealtimeSnapshot> {
        let mut state = State::read(path)?;
        if let Some(h) = published {
            state.apply_published(h, path)?;
        }
        Ok(state.snapshot())
    }
}

#[derive(Debug)]
struct State {
    generations: Vec<Generation>,
    positions: Vec<u64>,
    caught_up: Vec<bool>,
}

fn le(a: &[u64], b: &[u64]) -> bool {
    a.iter().zip(b).all(|(a, b)| a <= b)
}

impl State {
    fn fresh(horizon: Vec<u64>) -> State {
        State {
            caught_up: vec![false; horizon.len()],
            positions: horizon.clone(),
            generations: vec![Generation {
                from: horizon,
                table: PartialTable::new(),
            }],
        }
    }

    fn reset(&mut self, horizon: Vec<u64>) {
        *self = State::fresh(horizon);
    }

    fn snapshot(&self) -> RealtimeSnapshot {
        RealtimeSnapshot {
            generations: self.generations.clone(),
            positions: self.positions.clone(),
            caught_up: self.caught_up.iter().all(|c| *c),
        }
    }

    /// The generation an offset of partition `p` belongs to; `None` below the oldest
    /// generation (an expired one: a published batch view already covers the record,
    /// which happens when a batch run finishes before the speed layer has read up to its
    /// horizon).
    fn generation_for(&mut self, p: usize, offset: u64) -> Option<&mut PartialTable> {
        let i = self.generations.iter().rposition(|g| g.from[p] <= offset)?;
        Some(&mut self.generations[i].table)
    }

    fn expire(&mut self, h: &[u64]) -> Result<usize> {
        // Already expired (a horizon at or below the base): nothing to do.
        if le(h, &self.generations[0].from) {
            return Ok(0);
        }
        match self.generations.iter().position(|g| g.from == h) {
            Some(k) => {
                self.generations.drain(..k);
                Ok(k)
            }
            None => Err(SpeedError::NotABoundary {
                horizon: h.to_vec(),
                froms: self.generations.iter().map(|g| g.from.clone()).collect(),
            }),
        }
    }
}

/// Per-partition de-duplication with bounded state: two sets of ids that rotate by event
/// time. Ids go into `current`; once the largest event time seen has moved a window past
/// the moment `current` was started, `current` becomes `previous` and the old `previous`
/// is dropped whole. An id is therefore remembered while the largest event time is below
/// its own event time plus the window (at least), and at most about two windows: the
/// documented bound, with no per-id expiry work (no heap, no removals).
#[derive(Debug)]
struct Dedup {
    window_ms: i64,
    current: FxHashSet<u64>,
    previous: FxHashSet<u64>,
    /// The largest event time when `current` was started.
    started: i64,
    max_time: i64,
}

impl Dedup {
    fn new(window_ms: i64) -> Self {
        Dedup {
            window_ms,
            current: FxHashSet::default(),
            previous: FxHashSet::default(),
            started: i64::MIN,
            max_time: i64::MIN,
        }
    }

    /// Whether this is the first time `id` is seen (within the window).
    fn first_time(&mut self, id: u64, time: i64) -> bool {
        if self.previous.contains(&id) || !self.current.insert(id) {
            return false;
        }
        if time > self.max_time {
            self.max_time = time;
            if self.started == i64::MIN {
                self.started = time;
            } else if time.saturating_sub(self.started) >= self.window_ms {
                // Every id in `previous` was inserted before `started`, when the largest
                // event time (hence its own) was at most `started`: a window ago.
                self.previous = std::mem::take(&mut self.current);
                self.started = time;
            }
        }
        true
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }
}

#[derive(Debug)]
struct Inner {
    log: Arc<dyn Log>,
    workload: Workload,
    config: SpeedConfig,
    operator: Operator,
    state: Mutex<State>,
    /// Bumped after every change of the view, so waiters wake without polling.
    progress: watch::Sender<u64>,
    /// Fetch calls made by the partition tasks (an idle layer makes none).
    fetches: AtomicU64,
}

/// The speed layer of one workload over one topic. Cheap to clone (shared state).
#[derive(Debug, Clone)]
pub struct SpeedLayer {
    inner: Arc<Inner>,
}

impl SpeedLayer {
    /// A speed layer starting at `horizon` (one offset per partition; e.g. all zeros
    /// when no batch view exists, or the published batch view's horizon).
    pub fn new(
        log: Arc<dyn Log>,
        workload: Workload,
        config: SpeedConfig,
        horizon: Vec<u64>,
    ) -> Result<SpeedLayer> {
        Self::check_horizon(log.as_ref(), &config.topic, &horizon)?;
        Self::with_state(log, workload, config, State::fresh(horizon))
    }

    fn with_state(
        log: Arc<dyn Log>,
        workload: Workload,
        config: SpeedConfig,
        mut state: State,
    ) -> Result<SpeedLayer> {
        let operator = Operator::new(&workload, &config.topic, &config.sidecar_dir)?;
        if let Some(&p) = config
            .partitions
            .iter()
            .flatten()
            .find(|&&p| p as usize >= state.positions.len())
        {
            return Err(SpeedError::UnknownPartition {
                topic: config.topic.clone(),
                partition: p,
                partitions: state.positions.len(),
            });
        }
        // Partitions out of scope are never read: nothing to catch up on.
        for (p, c) in state.caught_up.iter_mut().enumerate() {
            *c = !config.reads(p);
        }
        Ok(SpeedLayer {
            inner: Arc::new(Inner {
                log,
                workload,
                config,
                operator,
                state: Mutex::new(state),
                progress: watch::channel(0).0,
                fetches: AtomicU64::new(0),
            }),
        })
    }

    fn check_horizon(log: &dyn Log, topic: &str, horizon: &[u64]) -> Result<()> {
        let n = log.partition_count(topic)? as usize;
        if horizon.len() != n {
            return Err(SpeedError::PartitionCount {
                topic: topic.to_owned(),
                expected: n,
                got: horizon.len(),
            });
        }
        for (p, &h) in horizon.iter().enumerate() {
            let (earliest, latest) = log.offsets(topic, p as u32)?;
            if h > latest || (h < earliest && h != 0) {
                return Err(SpeedError::HorizonOutOfRange {
                    partition: p as u32,
                    horizon: h,
                    earliest,
                    latest,
                });
            }
        }
        Ok(())
    }

    /// The workload the layer computes.
    pub fn workload(&self) -> &Workload {
        &self.inner.workload
    }

    /// A consistent copy of the view (one lock).
    pub fn snapshot(&self) -> RealtimeSnapshot {
        self.inner.state.lock().snapshot()
    }

    /// How many fetches the partition tasks have made: constant while the log is idle
    /// (the tasks sleep on the log's listener, they do not poll).
    pub fn fetch_count(&self) -> u64 {
        self.inner.fetches.load(Ordering::Relaxed)
    }

    /// Whether every partition read had read everything in the log when last checked
    /// ([`RealtimeSnapshot::caught_up`] without copying the view).
    pub fn caught_up(&self) -> bool {
        self.inner.state.lock().caught_up.iter().all(|c| *c)
    }

    /// Per partition, the offset of the next record to read.
    pub fn positions(&self) -> Vec<u64> {
        self.inner.state.lock().positions.clone()
    }

    /// A batch run starts with `horizon`: records at or above it go to a new generation.
    /// Fails if the layer has already read past `horizon` in some partition.
    pub fn begin_generation(&self, horizon: &[u64]) -> Result<()> {
        let mut st = self.inner.state.lock();
        if horizon.len() != st.positions.len() {
            return Err(SpeedError::PartitionCount {
                topic: self.inner.config.topic.clone(),
                expected: st.positions.len(),
                got: horizon.len(),
            });
        }
        let open = &st.generations[st.generations.len() - 1].from;
        for (p, (&h, &from)) in horizon.iter().zip(open).enumerate() {
            if h < from {
                return Err(SpeedError::HorizonBackwards {
                    partition: p as u32,
                    horizon: h,
                    from,
                });
            }
        }
        for (p, (&h, &pos)) in horizon.iter().zip(&st.positions).enumerate() {
            if pos > h {
                return Err(SpeedError::PastHorizon {
                    partition: p as u32,
                    position: pos,
                    horizon: h,
                });
            }
        }
        if open.as_slice() != horizon {
            st.generations.push(Generation {
                from: horizon.to_vec(),
                table: PartialTable::new(),
            });
        }
        Ok(())
    }

    /// Open a new generation at the current positions and return them: the horizon the
    /// starting batch run must read up to. Always exact, whatever the layer has read.
    pub fn begin_generation_now(&self) -> Vec<u64> {
        let mut st = self.inner.state.lock();
        let h = st.positions.clone();
        if st.generations[st.generations.len() - 1].from != h {
            st.generations.push(Generation {
                from: h.clone(),
                table: PartialTable::new(),
            });
        }
        h
    }

    /// The batch view at `horizon` is published: drop every generation below it. Returns
    /// how many were dropped. `horizon` must be a generation boundary (one passed to
    /// `begin_generation`), else [`SpeedError::NotABoundary`].
    pub fn expire(&self, horizon: &[u64]) -> Result<usize> {
        let n = self.inner.state.lock().expire(horizon)?;
        self.inner.progress.send_modify(|v| *v += 1);
        Ok(n)
    }

    /// Write the view (generations and positions) to `path` (creating its directory),
    /// with a CRC32C of it (format 2, see the `saved` module), atomically for readers and
    /// unsynced ([`master_log::durable::write_atomic`] with [`Durability::Unsynced`]: a
    /// crash of the process leaves the old file or the new one, a power cut may leave an
    /// older or an empty one).
    pub fn save(&self, path: &Path) -> Result<()> {
        let snap = self.snapshot();
        let saved = saved::SavedView {
            magic: saved::SAVE_MAGIC,
            topic: self.inner.config.topic.clone(),
            workload: self.inner.workload.name().to_owned(),
            generations: snap.generations,
            positions: snap.positions,
        };
        let bytes = saved::encode(&saved).map_err(|reason| SpeedError::BadSave {
            path: path.to_path_buf(),
            reason,
        })?;
        let io = |context: String| move |source| SpeedError::Io { context, source };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io(format!("create {}", dir.display())))?;
        }
        durable::write_atomic(path, &bytes, Durability::Unsynced)
            .map_err(io(format!("write {}", path.display())))
    }

    /// A speed layer resuming a saved view. Generations covered by `published` (the
    /// currently published batch horizon) are dropped; if it cuts through a generation
    /// the saved view is discarded and reading restarts at `published`. A damaged file
    /// (see [`RealtimeSnapshot::load`]) is discarded too, with a warning: the layer
    /// starts at `published` (offset 0 of every partition without a batch view) and
    /// reads the log again from there.
    pub fn load(
        log: Arc<dyn Log>,
        workload: Workload,
        config: SpeedConfig,
        path: &Path,
        published: Option<&[u64]>,
    ) -> Result<SpeedLayer> {
        let mut state = match State::read(path) {
            Ok(state) => state,
            Err(e @ SpeedError::BadSave { .. }) => {
                tracing::warn!(
                    "{e}; discarded: the realtime view restarts at the published batch \
                     horizon and reads the log again from there"
                );
                let start = match published {
                    Some(h) => h.to_vec(),
                    None => vec![0; log.partition_count(&config.topic)? as usize],
                };
                return Self::new(log, workload, config, start);
            }
            Err(e) => return Err(e),
        };
        if let Some(h) = published {
            state.apply_published(h, path)?;
        }
        Self::check_horizon(log.as_ref(), &config.topic, &state.positions)?;
        state.caught_up = vec![false; state.positions.len()];
        Self::with_state(log, workload, config, state)
    }

    /// The layer as it was saved in `path` ([`SpeedLayer::load`]) when that file exists,
    /// else a new one starting at `published` (the published batch horizon), or at
    /// offset 0 of every partition when no batch view is published.
    pub fn resume(
        log: Arc<dyn Log>,
        workload: Workload,
        config: SpeedConfig,
        path: &Path,
        published: Option<&[u64]>,
    ) -> Result<SpeedLayer> {
        if path.exists() {
            return Self::load(log, workload, config, path, published);
        }
        let start = match published {
            Some(h) => h.to_vec(),
            None => vec![0; log.partition_count(&config.topic)? as usize],
        };
        Self::new(log, workload, config, start)
    }

    /// Read until every partition reaches the log's end offsets as of this call.
    pub async fn run_until_caught_up(&self) -> Result<()> {
        let end = self.inner.log.end_offsets(&self.inner.config.topic)?;
        self.run_until(&end).await
    }

    /// Read every partition up to (not including) `end[p]`.
    pub async fn run_until(&self, end: &[u64]) -> Result<()> {
        let (_tx, rx) = watch::channel(false);
        self.run_tasks(Some(end.to_vec()), rx).await
    }

    /// Follow the log until `shutdown` becomes true (or its sender is dropped).
    pub async fn run(&self, shutdown: watch::Receiver<bool>) -> Result<()> {
        self.run_tasks(None, shutdown).await
    }

    /// Wait (without polling) until every partition's position is at least `target[p]`.
    pub async fn wait_for_positions(&self, target: &[u64]) {
        let mut rx = self.inner.progress.subscribe();
        loop {
            if le(target, &self.positions()) {
                return;
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// Wait (without polling) until every partition has read everything in the log.
    pub async fn wait_caught_up(&self) {
        let mut rx = self.inner.progress.subscribe();
        loop {
            if self.snapshot().caught_up {
                return;
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    async fn run_tasks(
        &self,
        end: Option<Vec<u64>>,
        shutdown: watch::Receiver<bool>,
    ) -> Result<()> {
        let n = self.inner.state.lock().positions.len();
        let mut tasks = tokio::task::JoinSet::new();
        for p in (0..n).filter(|&p| self.inner.config.reads(p)) {
            let inner = self.inner.clone();
            let end = end.as_ref().map(|e| e.get(p).copied().unwrap_or(0));
            let shutdown = shutdown.clone();
            tasks.spawn(async move { inner.run_partition(p, end, shutdown).await });
        }
        let mut first_err = None;
        while let Some(r) = tasks.join_next().await {
            let r = r
                .map_err(|e| SpeedError::Task(e.to_string()))
                .and_then(|r| r);
            if let Err(e) = r
                && first_err.is_none()
            {
                first_err = Some(e);
                tasks.abort_all();
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| SpeedError::Task(e.to_string()))?
}

impl Inner {
    /// Seed the de-duplication set of partition `p` from the records appended within the
    /// window just below `pos`.
    fn seed(&self, p: u32, pos: u64) -> Result<Dedup> {
        let mut dedup = Dedup::new(self.config.dedup_window_ms);
        let topic = &self.config.topic;
        let (earliest, _) = self.log.offsets(topic, p)?;
        if pos <= earliest {
            return Ok(dedup);
        }
        let one = FetchLimits {
            max_records: 1,
            ..self.config.fetch_limits
        };
        let Some(last) = self.log.fetch(topic, p, pos - 1, one)?.into_iter().next() else {
            return Ok(dedup);
        };
        let since = last.append_time.saturating_sub(self.config.dedup_window_ms);
        let mut at = self
            .log
            .offset_for_time(topic, p, since)?
            .unwrap_or(pos)
            .clamp(earliest, pos);
        while at < pos {
            let recs = self.log.fetch(topic, p, at, self.config.fetch_limits)?;
            if recs.is_empty() {
                break;
            }
            for r in &recs {
                if r.offset >= pos {
                    return Ok(dedup);
                }
                let d = self.operator.decode(r)?;
                match d.id {
                    Some(id) => {
                        dedup.first_time(id, d.time);
                    }
                    // Rows without ids (CSV): nothing to remember.
                    None => return Ok(dedup),
                }
                at = r.offset + 1;
            }
        }
        Ok(dedup)
    }

    async fn run_partition(
        self: Arc<Self>,
        p: usize,
        end: Option<u64>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<()> {
        let part = p as u32;
        let topic = self.config.topic.clone();
        let mut pos = self.state.lock().positions[p];
        let mut dedup = {
            let me = self.clone();
            blocking(move || me.seed(part, pos)).await?
        };
        let mut contributions = Vec::new();
        loop {
            if end.is_some_and(|e| pos >= e) {
                let latest = self.log.offsets(&topic, part)?.1;
                self.state.lock().caught_up[p] = pos >= latest;
                self.progress.send_modify(|v| *v += 1);
                return Ok(());
            }
            if end.is_none() && *shutdown.borrow() {
                return Ok(());
            }
            // Listen first, then look: no append between the two can be missed.
            let listener = self.log.listen(&topic)?;
            self.fetches.fetch_add(1, Ordering::Relaxed);
            let recs = {
                let (log, topic, limits) =
                    (self.log.clone(), topic.clone(), self.config.fetch_limits);
                blocking(move || Ok(log.fetch(&topic, part, pos, limits)?)).await?
            };
            if recs.is_empty() {
                self.state.lock().caught_up[p] = true;
                self.progress.send_modify(|v| *v += 1);
                tokio::select! {
                    _ = listener => {}
                    changed = shutdown.changed(), if end.is_none() => {
                        if changed.is_err() {
                            return Ok(());
                        }
                    }
                }
                continue;
            }
            drop(listener);
            contributions.clear();
            let mut next = pos;
            for r in &recs {
                if end.is_some_and(|e| r.offset >= e) {
                    break;
                }
                next = r.offset + 1;
                let d = self.operator.decode(r)?;
                if let Some(id) = d.id
                    && !dedup.first_time(id, d.time)
                {
                    continue;
                }
                if let Some(c) = d.contribution {
                    contributions.push((r.offset, d.time, c));
                }
            }
            {
                let mut st = self.state.lock();
                for (offset, time, c) in &contributions {
                    if let Some(table) = st.generation_for(p, *offset) {
                        self.operator.fold(table, *time, &c.key, &c.update)?;
                    }
                }
                st.positions[p] = next;
                st.caught_up[p] = false;
            }
            self.progress.send_modify(|v| *v += 1);
            pos = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedup_remembers_ids_a_window_and_forgets_them_within_two() {
        let mut d = Dedup::new(1_000);
        assert!(d.first_time(1, 0));
        assert!(!d.first_time(1, 0));
        assert!(d.first_time(2, 999));
        // Id 1 (time 0) is within 1,000 ms of the newest time: remembered.
        assert!(!d.first_time(1, 0));
        // The largest time reaches a window past the start: the sets rotate, and id 1
        // (time 0) is still remembered, in the previous set.
        assert!(d.first_time(3, 1_000));
        assert!(!d.first_time(1, 0));
        assert!(!d.first_time(2, 999));
        // Another window on: the set holding ids 1 and 2 is dropped whole — a re-send
        // this late counts again, the documented bound.
        assert!(d.first_time(4, 2_000));
        assert!(d.first_time(1, 0));
        assert!(!d.first_time(4, 2_000));
        // Out-of-order times do not move the rotation.
        assert!(d.first_time(5, 10));
        assert!(d.len() <= 4, "{}", d.len());
    }

    #[test]
    fn dedup_is_exact_within_the_window_for_shuffled_times() {
        // Ids 0..20,000 with times 1 ms apart, shuffled within 500 ms, each sent twice
        // within 900 ms of event time: every re-send is dropped, every first send kept.
        let window = 1_000;
        let mut d = Dedup::new(window);
        let mut order: Vec<(i64, u64)> = Vec::new();
        for id in 0..20_000u64 {
            let t = id as i64;
            let jitter = (id.wrapping_mul(2_654_435_761) % 500) as i64;
            order.push((t + jitter, id)); // first send, arrival time
            order.push((t + jitter + 400, id)); // the re-send
        }
        order.sort_unstable();
        let mut firsts = 0;
        for (_, id) in order {
            if d.first_time(id, id as i64) {
                firsts += 1;
            }
        }
        assert_eq!(firsts, 20_000);
        assert!(d.len() <= 2 * window as usize + 1_000, "{}", d.len());
    }

    #[test]
    fn expire_drops_whole_generations_only() {
        let mut st = State::fresh(vec![0, 0]);
        st.generations.push(Generation {
            from: vec![5, 7],
            table: PartialTable::new(),
        });
        st.generations.push(Generation {
            from: vec![9, 9],
            table: PartialTable::new(),
        });
        assert!(matches!(
            st.expire(&[5, 8]),
            Err(SpeedError::NotABoundary { .. })
        ));
        assert_eq!(st.expire(&[0, 0]).unwrap(), 0);
        assert_eq!(st.expire(&[5, 7]).unwrap(), 1);
        assert_eq!(st.expire(&[5, 7]).unwrap(), 0);
        assert_eq!(st.expire(&[9, 9]).unwrap(), 1);
        assert_eq!(st.generations.len(), 1);
        assert_eq!(
            st.generation_for(0, 100).map(|t| t as *const _),
            Some(&st.generations[0].table as *const _)
        );
        // Below the oldest generation: already covered by the published batch view.
        assert!(st.generation_for(0, 8).is_none());
    }
}
