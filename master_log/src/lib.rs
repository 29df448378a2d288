//! # master_log — the one log every pipeline shares
//!
//! Kafka's model, as a library: **topics** of **partitions**, each an append-only,
//! immutable sequence of records numbered by dense **offsets** from 0. The Lambda batch
//! layer reads `[0, horizon)`, the speed layer tails from the horizon, and Kappa jobs
//! consume from their checkpoints (or from 0 to reprocess) — all through one small trait,
//! [`Log`]:
//!
//! ```text
//!   producers ──append──► ┌───────────── Log (trait) ─────────────┐
//!   (keyed: murmur2)      │ topic "events"                        │
//!                         │   partition 0: [0][1][2][3][4]…  ◄── fetch(offset)
//!                         │   partition 1: [0][1][2]…        ◄── listen / wait_for
//!                         │ topic "__consumer_offsets" (compact)  │◄── commit / join_group
//!                         └───────┬───────────────────────────────┘
//!                                 │ implemented by
//!            EmbeddedLog (default: segment files in a data directory)
//!            Kafka cluster (feature `kafka`)
//! ```
//!
//! ## Guarantees of the embedded engine ([`EmbeddedLog`])
//! - **Durability** follows the [`FsyncPolicy`]: with `always`, an append returns only
//!   after its batch is on disk. Concurrent appends share their syncs (group commit, see
//!   `group_commit`): an append writes under the partition's lock and waits for a sync
//!   that began after its write with no lock held, so appends that arrive while one sync
//!   runs are covered by the next; [`EmbeddedLog::sync_stats`] counts both. A reader can
//!   see records before their append returns. With any policy, a crashed *process* loses
//!   nothing that was acknowledged (the data is in the page cache).
//! - **Integrity**: every batch carries a CRC32C; reads check it and never return a record
//!   whose batch fails. Every file the log writes is checksummed (segments per batch;
//!   indexes, topic metadata, partition manifests and quarantine files whole or per
//!   entry). [`verify()`] checks everything without changing it.
//! - **Recovery keeps what is intact** (see `recover`): a damaged batch is cut out
//!   alone — the scan steps over it to the next valid batch and keeps every record
//!   after it — and its bytes are kept in the partition's quarantine file; a torn tail
//!   (past what the partition manifest records as appended) is cut; a closed segment that
//!   is missing, empty or shorter than recorded is found; damaged indexes are rebuilt.
//!   What was found is in [`EmbeddedLog::recovery_issues`] and logged as warnings.
//!   Recovery is a write: only the process holding the partition's writer lock does it —
//!   at open when the lock is free, else the process writing the partition, before its
//!   next append.
//! - **A clean close makes the next open cheap** (see `load`): the last writer's close
//!   writes the active segment's indexes and the manifest; an open that finds them in
//!   agreement with the files reads the index files and the batches after their last
//!   entry only, not the whole active segment (Kafka skips log recovery after a clean
//!   shutdown the same way). Damage done later inside what they cover is found by the
//!   per-batch CRC check of the first read that meets it (next item), and cut out by the
//!   writer's close; `verify` checks everything.
//! - **Missing data is never served as a shorter history**: offsets lost to damage are
//!   [`LogError::LostOffsets`] for every reader (damage in a closed segment that open did
//!   not see is found by the reader that meets it), listed by [`Log::lost_ranges`] and
//!   `verify`; a fetch stops before them. [`LogOptions::accept_gaps`] lets readers step
//!   over them instead, and [`Log::skipped_gaps`] tells what they skipped.
//! - **Reading takes no lock for long**: a fetch reads its batches under the partition's
//!   read lock and decodes them (or shows them to [`Log::fetch_each`]'s closure) after
//!   releasing it.
//! - **Opening is read-only when nothing is wrong**: a clean data directory is opened,
//!   read and closed without writing a byte; a partition writes its indexes and manifest
//!   on close only after appends.
//! - **Atomicity**: a batch is written whole or cut on recovery. An append larger than one
//!   batch (8 MiB) is split; each part is atomic.
//! - **Retention** deletes whole closed segments, by age or size. **Compaction** keeps the
//!   latest record per key in closed segments and never changes an offset.
//! - **Consumer groups**: committed offsets are durable (in the compacted topic
//!   `__consumer_offsets`) and shared by every process (each reads the commits of the
//!   others from the topic, in log order); membership lives in one process — the members
//!   of a group share a process on the embedded log (use the Kafka backend for a group
//!   across processes); delivery is at least once.
//! - **Several processes** (see `locks`, `partition::follow`, `embedded::shared`): any
//!   number open one data directory at once — one writer per partition at a time, any
//!   number of readers. Each holds `DATA/.lock` shared; every write of a partition
//!   (append, roll, retention, compaction, recovery, the close) runs under its writer
//!   lock (an exclusive `flock` on its directory), after reading what other processes
//!   appended since, so offsets stay dense. Readers follow appends: a fetch at a
//!   partition's end, and its offsets, look at its files first (two `stat`s when nothing
//!   changed), and read and CRC-check only the new complete batches — an incomplete batch
//!   at the end is not written yet, never an error and never cut by a reader; a changed
//!   manifest (a roll, retention, compaction, repair or close elsewhere) reloads the
//!   segment list. [`Log::listen`] wakes on this process's appends at once and on other
//!   processes' within about 20 ms (a watcher thread polls the listened topic's files).
//!   Topics created or deleted by another process are seen at the next lookup;
//!   [`Log::list_topics`] reads the topics directory again. A lock held longer than a
//!   writer waits (30 s), or `DATA/.lock` held whole by an older version, is
//!   [`LogError::Locked`], naming the holder's pid.
//! - **Bad input** — invalid names, unknown topics or partitions, out-of-range offsets,
//!   oversize records, a topic with more partitions than the open-file limit allows
//!   (refused before anything is written) — is a typed [`LogError`], never a panic.
//!
//! ## The Kafka backend (feature `kafka`)
//! `KafkaLog::connect("kafka://HOST:PORT", KafkaOptions::default())` gives the same
//! trait over a Kafka-protocol cluster through librdkafka (bundled, built from source).
//! Its docs list how each method maps to Kafka and where it differs; its tests run
//! against a real broker through `scripts/with-kafka.sh`.

#![warn(missing_docs)]

mod buffers;
mod clock;
mod config;
mod consumer;
pub mod durable;
mod embedded;
mod error;
mod group;
mod group_commit;
#[cfg(feature = "kafka")]
mod kafka;
mod load;
mod locks;
mod log;
mod lost;
mod manifest;
mod open_files;
mod partition;
pub mod partitioner;
mod quarantine;
mod read;
mod record;
mod recover;
mod scan;
mod segment;
mod topic_meta;
mod verify;

pub use clock::now_ms;
pub use config::{
    FsyncPolicy, INTERNAL_PREFIX, LogOptions, MAX_NAME_LEN, TopicConfig, parse_duration,
    validate_name,
};
pub use consumer::{Consumer, PartitionRecords, StartFrom};
pub use embedded::{EmbeddedLog, OFFSETS_TOPIC};
pub use error::{LogError, Result, error_chain};
pub use group::{EmbeddedMember, assign_range, assign_round_robin};
pub use group_commit::SyncStats;
#[cfg(feature = "kafka")]
pub use kafka::{
    Compression, EVENT_TIME_HEADER, KafkaLog, KafkaMember, KafkaOptions, parse_kafka_uri,
};
pub use log::{
    Assignment, AssignmentStrategy, FetchLimits, GroupMembership, Log, LostRange, PartitionInfo,
    SkippedGap, TopicDescription, TopicInfo, TopicPartition,
};
pub use partition::{Appended, CompactionStats, RetentionStats};
pub use partitioner::{murmur2, partition_for_key};
pub use record::{Header, NewRecord, Record, RecordHeaders, RecordView};
pub use segment::SegmentIssue;
pub use verify::{Problem, VerifyReport, verify};

pub use bytes::Bytes;
pub use event_listener::{EventListener, Listener};
