//! The `Log` trait: what every layer of lambda-kappa may ask of the master log.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use event_listener::{EventListener, Listener};
use serde::{Deserialize, Serialize};

use crate::config::TopicConfig;
use crate::error::Result;
pub use crate::lost::{LostRange, SkippedGap};
use crate::partition::Appended;
use crate::partitioner::partition_for_key;
use crate::record::{NewRecord, Record, RecordView};

/// A topic and one of its partitions.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TopicPartition {
    /// The topic's name.
    pub topic: String,
    /// The partition number, from 0.
    pub partition: u32,
}

impl TopicPartition {
    /// Partition `partition` of `topic`.
    pub fn new(topic: impl Into<String>, partition: u32) -> Self {
        Self {
            topic: topic.into(),
            partition,
        }
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.topic, self.partition)
    }
}

/// A topic's name and configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicInfo {
    /// The topic's name.
    pub name: String,
    /// Its configuration.
    pub config: TopicConfig,
    /// Topics the log keeps for itself (names starting with `__`).
    pub internal: bool,
}

/// The state of one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionInfo {
    /// The partition number.
    pub partition: u32,
    /// First offset still in the log (Kafka's log start offset).
    pub earliest: u64,
    /// Offset the next record will get (Kafka's log end offset).
    pub latest: u64,
    /// Bytes of its segment files (0 on a Kafka cluster, which has no cheap way to tell).
    pub bytes: u64,
    /// Number of its segments (0 on a Kafka cluster).
    pub segments: u64,
}

/// A topic with the state of each partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicDescription {
    /// The topic's name and configuration.
    pub info: TopicInfo,
    /// Every partition, in partition order.
    pub partitions: Vec<PartitionInfo>,
}

/// Bounds on one fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchLimits {
    /// At most this many records.
    pub max_records: usize,
    /// A soft bound: a fetch returns at least one batch when there is data.
    pub max_bytes: usize,
}

impl Default for FetchLimits {
    fn default() -> Self {
        Self {
            max_records: 10_000,
            max_bytes: 4 * 1024 * 1024,
        }
    }
}

/// How a consumer group spreads partitions over its members (Kafka's assignors).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssignmentStrategy {
    /// Per topic, consecutive ranges of partitions to members in member-id order.
    #[default]
    Range,
    /// All partitions of all topics dealt out one by one.
    RoundRobin,
}

/// What a group member owns in one generation of its group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// Increases by one at every rebalance.
    pub generation: u64,
    /// The partitions this member owns in this generation.
    pub partitions: Vec<TopicPartition>,
}

/// Membership of one consumer in a group. Dropping it leaves the group, which
/// rebalances the partitions over the remaining members.
///
/// The contract is Kafka's: at every generation each subscribed partition is owned by
/// exactly one member; a member commits only for partitions it owns in the current
/// generation; processing is **at least once** — records processed after the last commit
/// are processed again by the next owner after a rebalance or a crash.
pub trait GroupMembership: Send + Sync + fmt::Debug {
    /// The group's name.
    fn group(&self) -> &str;
    /// This member's id within the group.
    fn member_id(&self) -> &str;
    /// The current generation and what this member owns in it.
    ///
    /// Kafka backend: the generation is this member's count of assignments received,
    /// not Kafka's generation id.
    fn assignment(&self) -> Assignment;
    /// Commit positions (the offset of the next record to read) for owned partitions.
    /// Fails with [`crate::LogError::Group`] when a partition is not owned by this member in
    /// the current generation (it was rebalanced away).
    fn commit(&self, offsets: &[(TopicPartition, u64)]) -> Result<()> {
        self.commit_with(offsets, &mut || Ok(()))
    }
    /// A fenced write: while this member owns every partition of `offsets`, run `write`
    /// (say, appending the state changes those positions cover), then commit the
    /// positions. No rebalance can take the partitions away from the ownership check to
    /// the commit — a revocation waits until this returns — so a member that lost its
    /// partitions writes nothing, and the next owner starts after the last write of the
    /// previous one. Fails with [`crate::LogError::Group`] without running `write` when a
    /// partition is not owned; when `write` fails, nothing is committed.
    fn commit_with(
        &self,
        offsets: &[(TopicPartition, u64)],
        write: &mut dyn FnMut() -> Result<()>,
    ) -> Result<()>;
    /// Block until the group's generation differs from `generation`, or `timeout` passes.
    /// Returns whether it changed.
    fn wait_for_rebalance(&self, generation: u64, timeout: Duration) -> bool;
}

/// The shared master log: topics of partitions of records with dense offsets.
///
/// Every pipeline reads and writes through this trait only, so any implementation
/// (the embedded engine, or a Kafka cluster behind the `kafka` feature) serves them all.
///
/// Guarantees an implementation gives:
/// - offsets in a partition are dense from the first record on, start at 0 and never
///   change; compaction removes records but never renumbers the ones it keeps;
/// - a record acknowledged by [`Log::append`] is read back unchanged by every later
///   [`Log::fetch`] of its offset until retention or compaction removes it;
/// - append times never decrease within a partition; [`Log::offset_for_time`] looks up
///   by append time;
/// - a keyed record goes to `partition_for_key(key)`, exactly Kafka's default
///   partitioner.
pub trait Log: Send + Sync + fmt::Debug {
    /// Create a topic. Fails if the name is invalid or taken.
    fn create_topic(&self, name: &str, config: TopicConfig) -> Result<()>;
    /// Delete a topic and all its data.
    fn delete_topic(&self, name: &str) -> Result<()>;
    /// Every topic, internal ones included.
    fn list_topics(&self) -> Result<Vec<TopicInfo>>;
    /// A topic's configuration and the state of each partition.
    ///
    /// Kafka backend: `bytes` and `segments` are reported as 0 (unknown).
    fn describe_topic(&self, name: &str) -> Result<TopicDescription>;

    /// Append records to one partition, all or nothing for validation errors. Returns
    /// the offsets they got.
    ///
    /// Kafka backend: a delivery failure after retries can leave part of a large append
    /// written, and other producers' records may fall between its first and last offset.
    fn append(&self, topic: &str, partition: u32, records: &[NewRecord]) -> Result<Appended>;
    /// Records from `offset` on. `offset == latest` gives an empty result; an offset
    /// outside `[earliest, latest]` is [`crate::LogError::OffsetOutOfRange`]. A fetch
    /// never crosses a range lost to damage: it returns the records before it, and a
    /// fetch from inside it is [`crate::LogError::LostOffsets`] — unless the log accepts
    /// gaps, when it steps over it (see [`Log::skipped_gaps`]).
    fn fetch(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        limits: FetchLimits,
    ) -> Result<Vec<Record>>;
    /// The records [`Log::fetch`] would return, shown one by one to `each` (until it
    /// breaks) without being copied out: a reader that decodes each record at once and
    /// keeps nothing of it saves a `Record` per record. Returns how many were shown.
    ///
    /// The embedded log reads the batches (and checks their CRCs) under the partition's
    /// read lock, then releases it and shows the records borrowed from its own read
    /// buffers: `each` runs with no lock of the log held, so however long it takes, it
    /// holds up neither appends nor other readers (and may itself call the log). By
    /// default (the Kafka backend) the records are fetched as `Record`s and shown from
    /// those.
    fn fetch_each(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        limits: FetchLimits,
        each: &mut dyn FnMut(RecordView<'_>) -> ControlFlow<()>,
    ) -> Result<usize> {
        let records = self.fetch(topic, partition, offset, limits)?;
        let mut shown = 0;
        for r in &records {
            shown += 1;
            if each(r.view()).is_break() {
                break;
            }
        }
        Ok(shown)
    }
    /// `(earliest, latest)` offsets of a partition.
    fn offsets(&self, topic: &str, partition: u32) -> Result<(u64, u64)>;
    /// The first offset whose append time is at or after `time_ms`; `None` when every
    /// record is older (read from the latest offset then).
    fn offset_for_time(&self, topic: &str, partition: u32, time_ms: i64) -> Result<Option<u64>>;
    /// A listener that fires at the next append to any partition of `topic`. Create it,
    /// check for data, then wait on it: no wake-up can be missed in between. It works
    /// both blocking ([`Listener::wait_timeout`]) and as a future.
    ///
    /// Kafka backend: appends through the same `KafkaLog` wake at once, other producers'
    /// within about `KafkaOptions::listen_interval` (20 ms) plus a round trip.
    fn listen(&self, topic: &str) -> Result<EventListener>;

    /// Store committed positions of `group` (each the offset of the next record to read).
    ///
    /// Kafka backend: a standalone commit, which Kafka refuses while the group has
    /// active members.
    fn commit_offsets(&self, group: &str, topic: &str, offsets: &[(u32, u64)]) -> Result<()>;
    /// The committed positions of `group` on `topic`, by partition.
    fn committed_offsets(&self, group: &str, topic: &str) -> Result<BTreeMap<u32, u64>>;
    /// Join `group` as a new member subscribed to `topics`; the group rebalances.
    fn join_group(
        &self,
        group: &str,
        topics: &[&str],
        strategy: AssignmentStrategy,
    ) -> Result<Box<dyn GroupMembership>>;

    /// The offset ranges of a partition lost to damage and kept track of (what
    /// `lk topic describe` shows), in offset order. Empty for a partition without
    /// damage, and always on a Kafka cluster (the broker keeps its own).
    fn lost_ranges(&self, topic: &str, partition: u32) -> Result<Vec<LostRange>> {
        let _ = (topic, partition);
        Ok(Vec::new())
    }

    /// The lost ranges readers of this log stepped over since it was opened, because
    /// it accepts gaps (the embedded log's `LogOptions::accept_gaps`): what a pipeline
    /// or report that read through them must say it left out. Each range appears once,
    /// in (topic, partition, offset) order. Empty when gaps are not accepted (readers
    /// then get [`crate::LogError::LostOffsets`] instead) and on a Kafka cluster.
    fn skipped_gaps(&self) -> Vec<SkippedGap> {
        Vec::new()
    }

    /// Number of partitions of a topic.
    fn partition_count(&self, topic: &str) -> Result<u32> {
        Ok(self.describe_topic(topic)?.info.config.partitions)
    }

    /// The latest offset of every partition: the *horizon* a batch run captures.
    fn end_offsets(&self, topic: &str) -> Result<Vec<u64>> {
        Ok(self
            .describe_topic(topic)?
            .partitions
            .iter()
            .map(|p| p.latest)
            .collect())
    }

    /// Append records to a topic, choosing partitions as Kafka's default partitioner does:
    /// a keyed record by `murmur2(key)`, keyless records of one call all to one partition,
    /// rotating between calls (Kafka's sticky partitioner). Returns where each group of
    /// records landed, in partition order; records keep their relative order within a
    /// partition.
    fn produce(&self, topic: &str, records: Vec<NewRecord>) -> Result<Vec<(u32, Appended)>> {
        split_for_produce(records, self.partition_count(topic)?)
            .into_iter()
            .map(|(p, recs)| Ok((p, self.append(topic, p, &recs)?)))
            .collect()
    }

    /// Block until `partition` has a record at `offset` (its latest offset is beyond it)
    /// or `timeout` passes. Returns whether data is there. Sleeps on the log's wake-up,
    /// never spins.
    fn wait_for(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        timeout: Duration,
    ) -> Result<bool> {
        let deadline = Instant::now() + timeout;
        loop {
            let listener = self.listen(topic)?;
            if self.offsets(topic, partition)?.1 > offset {
                return Ok(true);
            }
            if listener.wait_deadline(deadline).is_none() {
                return Ok(self.offsets(topic, partition)?.1 > offset);
            }
        }
    }
}

/// The records of one [`Log::produce`] call by partition, as Kafka's default partitioner
/// chooses them (see there), in partition order, each partition's in their relative
/// order; partitions without records left out.
pub(crate) fn split_for_produce(
    records: Vec<NewRecord>,
    partitions: u32,
) -> Vec<(u32, Vec<NewRecord>)> {
    static STICKY: AtomicU32 = AtomicU32::new(0);
    let sticky = STICKY.fetch_add(1, Ordering::Relaxed) % partitions;
    let chosen: Vec<u32> = records
        .iter()
        .map(|r| match &r.key {
            Some(k) => partition_for_key(k, partitions),
            None => sticky,
        })
        .collect();
    // Each partition's records moved once, into a vector of the right size.
    let mut counts = vec![0usize; partitions as usize];
    for &p in &chosen {
        counts[p as usize] += 1;
    }
    let mut by_partition: Vec<Vec<NewRecord>> =
        counts.into_iter().map(Vec::with_capacity).collect();
    for (r, p) in records.into_iter().zip(chosen) {
        by_partition[p as usize].push(r);
    }
    by_partition
        .into_iter()
        .enumerate()
        .filter(|(_, recs)| !recs.is_empty())
        .map(|(p, recs)| (p as u32, recs))
        .collect()
}
