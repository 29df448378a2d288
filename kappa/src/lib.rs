#![warn(missing_docs)]
//! # kappa — the Kappa pipeline
//!
//! One stream job per workload computes the whole view; history is recomputed by
//! replaying the log into a new table version (Kreps' Kappa architecture), with Samza's
//! model of jobs, tasks, local state and changelogs, and Flink/Arroyo-style event time.
//!
//! ```text
//!  master_log topic T (P partitions)          consumer group kappa.W.vN assigns partitions
//!   p0 ──►┌ task 0 ─ WindowAggregate ─┐       to worker threads (range / round-robin)
//!   p1 ──►├ task 1 ─ WindowAggregate ─┤
//!   …     │   decode → late? → dedup → fold into (window, key) cells
//!         │   watermark_p = max event time − bound ──► finalize closed windows
//!         │          │ late events ──► topic kappa.W.vN.late (partition p)
//!         │          ▼ at each checkpoint (per task):
//!         │   fenced by the group (no rebalance in between):
//!         │     1. late records → side topic
//!         │     2. changelog kappa.W.vN.changelog/p: changed open cells, finalized
//!         │        windows (in chunks), dedup buckets, then a MARKER {seq, offset,
//!         │        clock, counters} — one append
//!         │     3. commit the input offset to the group
//!         │   4. local store (redb task-p.redb): the writes of the checkpoints since it
//!         │      last took some in + the last checkpoint, one transaction, every 10 s
//!         └──────────────┬────────────┘
//!                        ▼ publish: finalized cells + open cells + checkpoint
//!   output table  <dir>/tables/W.vN/part-p  (one file per partition: a snapshot, then deltas)
//!                        ▲ one atomic rename switches
//!   alias         <dir>/tables/W.alias  ──► "N"   ◄── load_serving() (serving layer, lk query)
//! ```
//!
//! ## Contract
//! - **Jobs and tasks.** A [`Job`] runs one [`workloads::Workload`] over one topic; there
//!   is one task per input partition, each with its own [`Operator`], state store and
//!   changelog partition. Tasks run on `workers` std threads, which take their partitions
//!   from the job's consumer group (`kappa.W.vN`; a Kafka consumer group on a Kafka
//!   log), so the same tasks spread over processes and machines
//!   ([`JobConfig::distributed`], `lk kappa run --worker`). **Rebalances**: a worker
//!   follows its member's assignment — it keeps the tasks it still owns (if nobody else
//!   wrote their changelog meanwhile), closes those it lost and opens (restores) those it
//!   gained. Every checkpoint's appends are fenced by the group
//!   ([`master_log::GroupMembership::commit_with`]): they happen only while the member
//!   owns the partition, and no revocation can pass between the ownership check and the
//!   offset commit that follows them, so a task that lost its partition writes nothing
//!   and the new owner restores from the last checkpoint of the old one — what was
//!   processed since is processed again, and the state stays exactly once. An idle
//!   worker sleeps on the log's wake-up (`Log::listen`) and on the job's stop event at
//!   once (looking at its assignment every 100 ms): no spinning.
//! - **Operators** ([`Operator`]): `process` is required; `on_watermark` and
//!   `on_checkpoint` are defaulted hooks. All state goes through the [`Context`], which
//!   tracks every change. [`WindowAggregate`] is the stream form of every workload —
//!   built-ins decode their dataset's events, spec workloads decode imported CSV rows
//!   with the topic's schema — and keeps per (window, key) partials with exactly the
//!   layout of `Workload::empty_partials`: the union of all tasks' cells is a
//!   `PartialTable` that `Workload::finish` (and `serving_layer::answer_table`) turns into
//!   rows.
//! - **Local state** ([`StateStore`]): [`RedbStore`] (default) or [`MemoryStore`]. Why
//!   redb: pure Rust (rocksdb needs a C++ toolchain and long native builds), one file per
//!   task, ACID transactions with a single writer — exactly what a task's checkpoint is:
//!   its writes and its offsets committed together — crash-safe copy-on-write B-trees,
//!   and actively maintained. fjall, a pure-Rust LSM tree, would fit too; an LSM favours
//!   write-heavy stores, while a task writes once per checkpoint and reads its whole
//!   state only at restore, which a B-tree serves well. A task updates its working set
//!   in memory (open windows' cells, de-duplication set) and the store holds its whole
//!   share durably. **Limit**: the job also keeps its partitions' table parts in memory
//!   (a part file takes only the cells that changed, but the job keeps the whole part to
//!   serve [`Job::table`] and to write a full snapshot when the deltas outgrow the last
//!   one), so the table must fit in memory; the state store need not.
//! - **Changelog** (`kappa.W.vN.changelog`, compacted, one partition per task): every
//!   state change of a checkpoint interval — the latest value of each changed open cell,
//!   the cells of each window finalized (a few chunks per window, with tombstones for
//!   the keys its cells had while open), each changed de-duplication bucket, or a
//!   tombstone — is appended, followed by a **marker** record holding the checkpoint
//!   (input offset, event-time clock, counters), all in one `append`. The changelog is
//!   the state's durable record at every checkpoint. The local store takes in the
//!   writes of the checkpoints since it last did, with the last checkpoint (and its
//!   marker's changelog offset), in one redb transaction
//!   ([`JobConfig::store_commit_interval`], 10 s by default, and always at a task's first
//!   checkpoint and when it closes): the store is a local copy that spares a restore the
//!   whole changelog, so a store a crash left behind by whole checkpoints is caught up
//!   from the changelog, as below. A key first put and deleted within one such lag (an
//!   open cell written at a checkpoint, then finalized) never reaches the store.
//! - **Restore** (exactly-once state). A task's local store is used when it is intact
//!   (opens) and on the changelog's history: the changelog record at its marker offset is
//!   that very checkpoint's marker (Samza's host affinity). If later markers follow (the
//!   process died before the store took its last checkpoints in), the changelog
//!   records after the store's marker, up to the last marker, catch the store up in one
//!   transaction. Otherwise — no store, a damaged one (checked at every open with redb's
//!   full integrity check, a panic inside redb contained: see [`RedbStore`]; deleted,
//!   with a warning and [`RestoreReport::damage`]; a store another process holds open
//!   is never taken for damage: the task waits a few seconds for a handover, then fails
//!   with [`KappaError::StoreBusy`], so one job never runs twice on one directory), or
//!   one whose marker is not in the
//!   changelog — the store is cleared and rebuilt from the changelog: records are applied
//!   when the marker after them is read, so state is never seen without its offsets or
//!   the reverse; a store is never trusted without its changelog. Records after the
//!   last marker are a **torn checkpoint** (the embedded log splits appends over 8 MiB
//!   into several batches, each atomic; a crash can cut between them): they are ignored,
//!   and *repaired* at once — the committed value (or a tombstone) of every key they
//!   touched is appended again, then the marker again — so that the latest record of
//!   each key is a committed one. **Compaction and torn
//!   tails**: compaction keeps the latest record per key; if it ran between a crash and
//!   the repair (on a segment roll inside the torn append itself, or by `lk log maintain`
//!   before the job restarts), a torn record would have replaced an older committed
//!   value in the closed segments, and the changelog alone could no longer restore that
//!   key (the local store still can). A checkpoint's changes below one batch (8 MiB)
//!   cannot be torn at all. The task then resumes from the checkpointed offset: records
//!   processed after the last checkpoint are processed again, with the state they first
//!   saw, so the final table equals that of a run without crash.
//! - **Duplicates** (same event id) are dropped with bounded state: the ids of the last
//!   `dedup_window_ms` of event time (10 minutes by default; kept in buckets of a tenth
//!   of the window, so between 1 and 1.1 windows), checkpointed and restored with the
//!   rest. Imported CSV rows are each their own event.
//! - **Event time.** Tumbling, hopping and session windows (`workloads::WindowSpec`; a
//!   session event makes a `[t, t + gap)` cell, coalesced by `Workload::finish`). Each
//!   task's watermark is its partition's largest event time minus `watermark_bound_ms`.
//!   A window is **closed** when `end + allowed_lateness_ms ≤ watermark`; an event whose
//!   first-ending window is closed is **late**: it updates none of its windows, is
//!   counted and written to `kappa.W.vN.late` (with its source partition and offset as
//!   headers), never dropped silently. Lateness is decided by the task's own partition
//!   clock (as Kafka Streams' stream time), so a replay decides exactly as the first run
//!   did. Closed windows are finalized: their cells leave the working set for the task's
//!   share of the output table, which keeps them. The job's watermark
//!   ([`JobStatus::watermark`], [`OutputTable::watermark`]) is the minimum over
//!   partitions that are not idle (caught up and without new records for
//!   `idle_timeout`); when all are idle, the maximum.
//! - **Late events, exactly once**: they are written at checkpoints; after a crash, the
//!   late records already written for offsets at or after the restored checkpoint are
//!   found on the side topic and not written again.
//! - **Output table** ([`OutputTable`]): one part per input partition
//!   (`<dir>/tables/W.vN/part-p`, [`TablePart`]: the partition's cells and the offset
//!   they cover), written after that task's checkpoints as a **delta** of the cells that
//!   changed, appended to the part file, which starts with a full snapshot (see the
//!   `table` module: a reader sees one write or the next, never a mix; a last frame cut
//!   short is ignored, any frame failing its CRC32C is an error naming the file and
//!   byte, never an older frame served instead, and a starting job rewrites a damaged
//!   part at once); reading a version merges its parts. The alias `<dir>/tables/W.alias`
//!   names the serving version with its CRC32C and is switched by one rename ([`set_serving`]);
//!   [`load_serving`] reads it without any lock, while the job runs. Workers in several
//!   processes make one table when they share the directory; each part comes from the
//!   partition's current owner.
//! - **Visibility** (read-committed by default): a part shows its task's last
//!   checkpoint, so a reader sees only durable results, a result becomes visible at the
//!   checkpoint that covers it, and what a reader saw never moves back. With
//!   [`JobConfig::uncommitted_every`] (read-uncommitted, `lk kappa run
//!   --uncommitted-every`), the parts are also written between checkpoints with what the
//!   tasks have processed (no changelog, store or offset write), and no table file is
//!   fsynced: a result is visible milliseconds after it is read. A part is then still
//!   the exact result of its partition's records below its position, and the final
//!   table is the same; but after a crash a part can move back to the last checkpoint
//!   until the restarted task has read those records again (its first write is the
//!   restored state). The table is derived data either way: a starting job rewrites its
//!   parts from the restored state.
//! - **Fresh results in memory** ([`Job::track_fresh`]): a fresh query
//!   ([`Job::fresh_table`]) asks the workers, which publish what their tasks have
//!   processed into the job's memory alone after their current read; a record is fresh
//!   ([`Job::wait_fresh`]) once its task has processed it. The cells of windows
//!   finalized since the last checkpoint are held there and join the table at the next
//!   one. Nothing of the table, its files or the checkpoints changes, and nothing is
//!   done per record: a process serving queries from its own job sees results
//!   milliseconds after they are read, other readers at the checkpoint that covers
//!   them; after a crash the fresh results move back to the checkpoint.
//! - **Reprocessing** ([`reprocess`]): version N+1 replays the topic from offset 0 into
//!   its own table (own changelog, state and group) while version N keeps serving; once
//!   it has caught up (lag at or under a threshold), every task checkpoints at once
//!   ([`RunningJob::checkpoint_now`]: changelog, group offsets, table files), the alias
//!   switches atomically, and version N can be retired ([`retire`]). The new job stops
//!   after the switch: its local stores take in the checkpoints then, off the switch's
//!   path (the changelog already holds them).
//! - **Bad input** — records that do not decode, unknown columns, bad configuration,
//!   damaged files — is a [`KappaError`], never a panic.
//!
//! ## Usage
//! `lk kappa run --until-caught-up` is [`Job::run_until_caught_up`]; the long-running
//! mode is [`Job::start`], then [`RunningJob::stop`]; a query reads [`load_serving`].
//!
//! ```no_run
//! # fn demo(log: std::sync::Arc<dyn master_log::Log>) -> kappa::Result<()> {
//! use std::path::Path;
//! use kappa::{Job, JobConfig};
//! use workloads::{BuiltIn, Workload};
//!
//! let workload = Workload::BuiltIn(BuiltIn::PageviewsPerMinute);
//! let config = JobConfig {
//!     allowed_lateness_ms: 60_000,
//!     ..JobConfig::new("pageviews", "data/kappa", "data/datasets")
//! };
//! let job = Job::new(log.clone(), workload.clone(), config.clone())?;
//! let running = job.start()?;
//! running.wait_caught_up(std::time::Duration::from_secs(60))?;
//! println!("{:?}", running.status()); // positions, lag, watermark, late events
//! running.stop()?; // final checkpoint and table write
//!
//! // Any process, while the job runs: the serving table and the positions it covers.
//! let table = kappa::load_serving(Path::new("data/kappa"), workload.name())?;
//! let rows = workload.finish(&table.table)?;
//!
//! // A changed workload applied to all of history: version 2 replays from offset 0,
//! // then the alias switches; version 1 is retired.
//! let v2 = JobConfig { version: 2, ..config.clone() };
//! kappa::reprocess(log.clone(), workload, v2, 0, std::time::Duration::from_secs(3600), &mut |s| {
//!     eprintln!("lag {} records", s.lag);
//! })?;
//! kappa::retire(log.as_ref(), &config, "pageviews-per-minute", 1)?;
//! # let _ = rows; Ok(())
//! # }
//! ```

mod assignment;
mod config;
mod error;
mod id_set;
mod job;
mod operator;
mod publish;
mod reprocess;
mod reset;
mod shared;
mod state;
mod status;
mod store_lag;
mod table;
mod task;
mod window_state;
mod worker;

pub use config::{
    DEFAULT_DEDUP_WINDOW_MS, DEFAULT_WATERMARK_BOUND_MS, JobConfig, OperatorFactory, StoreKind,
    ThreadHook, changelog_topic, group_name, job_name, late_topic, state_dir,
};
pub use error::{KappaError, Result};
pub use job::{FRESH_QUERY_TIMEOUT, Job, RunningJob};
pub use operator::{Context, Operator, WindowAggregate};
pub use reprocess::{ReprocessReport, reprocess, retire};
pub use reset::{Removal, Removed, delete_job_version, job_versions, open_stores, reset_job};
pub use state::{Checkpoint, MemoryStore, RedbStore, StateStore, StoredCheckpoint, Visitor};
pub use status::{JobReport, JobStatus, PartitionStatus};
pub use table::{
    Delta, Frame, KeyFilter, MAX_PART_FILE, OutputTable, PartDelta, TablePart, append_part_delta,
    delete_version, list_versions, load_serving, load_serving_where, load_version,
    load_version_where, part_frames, serving_version, set_serving, set_serving_written, tables_dir,
    version_dir, write_part, write_part_with,
};
pub use task::{RestoreReport, RestoreSource};
pub use window_state::{LATE_SOURCE_OFFSET, LATE_SOURCE_PARTITION};
