//! [`KafkaLog`]: the [`Log`] trait over a Kafka-protocol cluster (cargo feature `kafka`).
//!
//! Built on the `rdkafka` crate with its **bundled librdkafka**, compiled from source by
//! `rdkafka-sys`'s own build script (no cmake, under a minute). Bundled rather than
//! Debian's `librdkafka-dev`: the librdkafka version is pinned by `Cargo.lock` and known
//! to every build, and a fresh machine needs no system package for it (only a C
//! compiler, and OpenSSL and zlib headers, which the project's machines have). The
//! crate's `tokio` feature is off: admin futures are driven by a tiny blocking executor
//! and everything else uses librdkafka's blocking calls.
//!
//! The modules, from the bottom up: `client` (librdkafka plumbing: contexts, client
//! settings, error mapping), `message` (a record as a Kafka message), `producer` (the
//! producer and its delivery reports), `readers` (the pool of reading consumers), `conn`
//! (the clients and caches a [`KafkaLog`] shares), then the operations on them: `topics`,
//! `offsets`, `fetch`, `append`, `listen`, `commit` and `group`.

mod append;
mod client;
mod commit;
mod conn;
mod fetch;
mod group;
mod listen;
mod message;
mod offsets;
mod options;
mod producer;
mod readers;
mod topics;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use event_listener::EventListener;

use crate::config::{TopicConfig, validate_name};
use crate::error::Result;
use crate::log::{
    AssignmentStrategy, FetchLimits, GroupMembership, Log, TopicDescription, TopicInfo,
};
use crate::partition::Appended;
use crate::record::{NewRecord, Record};
use conn::Inner;

pub use group::KafkaMember;
pub use message::EVENT_TIME_HEADER;
pub use options::{Compression, KafkaOptions, parse_kafka_uri};

/// The master log on a Kafka cluster: a second implementation of [`Log`] next to
/// [`crate::EmbeddedLog`], so that every pipeline can run against real Kafka unchanged.
///
/// ```no_run
/// # fn main() -> master_log::Result<()> {
/// use master_log::{KafkaLog, KafkaOptions, Log, TopicConfig};
/// let log = KafkaLog::connect("kafka://127.0.0.1:9092", KafkaOptions::default())?;
/// log.create_topic("events", TopicConfig::with_partitions(4))?;
/// # Ok(()) }
/// ```
///
/// # How each method maps to Kafka
/// - **Topics** go through the admin API (CreateTopics, DeleteTopics, DescribeConfigs)
///   and metadata. A topic is created with `cleanup.policy` (`compact` or `delete`),
///   `retention.ms` and `retention.bytes` (`-1` for `None`: kept forever, as in the
///   embedded log, not Kafka's 7-day default), `segment.bytes`, `segment.ms` (when set),
///   `max.message.bytes`, `delete.retention.ms`, `index.interval.bytes`, and
///   `message.timestamp.type=LogAppendTime`. `create_topic` and `delete_topic` return
///   once the cluster's metadata shows the change.
/// - **Append** produces every record to the named partition with an idempotent
///   producer (`acks=all` by default) and waits for every delivery report. The Kafka
///   timestamp is the **append time**: the topic's `LogAppendTime` makes the broker
///   stamp each batch when it writes it, so [`Log::offset_for_time`] (Kafka's
///   ListOffsets by timestamp) looks up by append time as the trait promises. The
///   **event time** travels in the header `lk.event_time` (decimal ms), which
///   [`Log::fetch`] removes again; a record without it (written by another client)
///   gets its Kafka timestamp as event time. The producer sends the append's wall-clock
///   time as the record's CreateTime, so on a topic with `CreateTime` (made by another
///   tool) append times are the producers' clocks and may step back between producers.
/// - **Fetch** is random access through a pool of consumers without a group, each
///   assigned to one partition at a time, reused for the next offset of that partition
///   (so a sequential reader keeps librdkafka's prefetching) and re-assigned otherwise.
/// - **Offsets** are the partition's watermarks (ListOffsets earliest/latest);
///   `offset_for_time` is ListOffsets by timestamp. "Caught up" is never taken from
///   ListOffsets alone: a fetch at or past the listed end, and one that reads up to it,
///   confirms the end with a fetch there (once per listed end). When that fetch finds
///   records past the listed end, the log warns and switches for good to fetch-based end
///   detection (every end offset read from the last batch, fetches stepping back to the
///   batch start, as `tansu_compat` does), so that no reader sees lag 0 while records
///   remain.
/// - **Listen**: appends through this `KafkaLog` wake listeners at once; a background
///   thread per listened topic polls the end offsets of all its partitions (one
///   ListOffsets request) every [`KafkaOptions::listen_interval`] (20 ms) and wakes
///   listeners when one moved, so appends by other producers wake them within about
///   that interval plus a round trip. The thread stops 30 s after the last listener.
/// - **Committed offsets** are Kafka's group offsets (OffsetCommit/OffsetFetch) through a
///   consumer with `group.id` = the group, committed synchronously.
/// - **Groups**: [`Log::join_group`] starts a consumer subscribed to the topics with
///   `partition.assignment.strategy` = `range` or `roundrobin` and a thread that polls
///   it; see [`KafkaMember`].
///
/// # Differences from the embedded log
/// - `describe_topic` reports `bytes` and `segments` as 0: the Kafka protocol has no
///   cheap per-partition size (DescribeLogDirs needs cluster-admin rights and sees one
///   broker at a time). The configuration is the broker's effective one: a setting
///   left unset (`segment_ms: None`) comes back with the broker's default.
/// - An append is all or nothing for the checks made before sending (empty append,
///   missing key on a compacted topic, record size, reserved header), but a delivery
///   failure after retries can leave part of a large append written (Kafka is atomic
///   per produce batch, not per call). With other producers writing the same partition,
///   their records may fall between the first and last offset of one append.
/// - `commit_offsets` is a *standalone* commit (no member, generation -1): Kafka refuses
///   it while the group has active members (commit through the member then).
/// - Deleting a topic also deletes its committed offsets (the broker does), and Kafka
///   deletes asynchronously: the name may stay taken for a moment.
/// - Compaction, retention and segment rolling are the broker's, on its schedule.
/// - Header values are never null here: a null header value from another client reads
///   as an empty value. The header name `lk.event_time` is reserved.
/// - Group members: see [`KafkaMember`].
///
/// # Against tansu
/// The tests run against [tansu](https://crates.io/crates/tansu) 0.6 (a Kafka-protocol
/// broker in Rust, in memory; `scripts/with-kafka.sh`). What it lacks, and what this
/// module does about it:
/// - ListOffsets(latest) answers the last batch's *base* offset + 1, and a fetch from
///   inside a batch starts at the next batch; a waiting fetch's second round answers
///   UNKNOWN_TOPIC_OR_PARTITION with a leader hint on which librdkafka 2.12 crashes.
///   [`KafkaOptions::tansu_compat`] works around all three (end offsets confirmed by
///   reading the last batch, fetches stepping back to the batch start, no fetch
///   waiting); it is off by default, for Kafka. Without it the first two are noticed
///   (see **Offsets** above) and worked around from then on, with a warning; the third
///   is not. Deleting a topic first closes the idle readers of that topic and the
///   consumer that probes end offsets: one still fetching from it after the deletion
///   gets that same answer and took the process down (SIGSEGV) about half the time.
/// - `message.timestamp.type=LogAppendTime` is stored but not applied: records keep the
///   producer's timestamp, which this log sets to the append's wall-clock time. Append
///   times are then the producers' clocks (equal for all records of one append, and
///   possibly out of order between producers), and tansu's ListOffsets by time looks
///   at when it stored each batch; `offset_for_time` still answers exactly by reading
///   forward from the broker's answer.
/// - A standalone commit to a group with members is accepted (Kafka refuses it).
/// - The idempotent producer's first append waits about 1 s for its producer id.
///
/// The code path for Kafka (`tansu_compat` off: exact end offsets, fetches from inside
/// a batch, waiting fetches, the broker's LogAppendTime in delivery reports) is tested
/// on librdkafka's mock cluster (`tests/kafka_mock.rs`).
/// - Measured on loopback: a member's first assignment in a few ms; 1→2 members
///   rebalance in about 3 s, 2→1 in under 1 s; listeners woken by another producer's
///   append within about 10 ms of its acknowledgement.
#[derive(Clone)]
pub struct KafkaLog {
    inner: Arc<Inner>,
}

impl fmt::Debug for KafkaLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaLog")
            .field("bootstrap", &self.inner.bootstrap)
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl KafkaLog {
    /// Connect to the cluster at `uri` (`kafka://HOST:PORT[,HOST:PORT…]`). Fails when
    /// no broker answers a metadata request within [`KafkaOptions::request_timeout`].
    pub fn connect(uri: &str, options: KafkaOptions) -> Result<KafkaLog> {
        Ok(KafkaLog {
            inner: Arc::new(Inner::connect(uri, options)?),
        })
    }

    /// The bootstrap servers this log connects to.
    pub fn bootstrap_servers(&self) -> &str {
        &self.inner.bootstrap
    }

    /// The options it was connected with.
    pub fn options(&self) -> &KafkaOptions {
        &self.inner.options
    }
}

impl Log for KafkaLog {
    fn create_topic(&self, name: &str, config: TopicConfig) -> Result<()> {
        self.inner.create_topic(name, config)
    }

    fn delete_topic(&self, name: &str) -> Result<()> {
        self.inner.delete_topic(name)
    }

    fn list_topics(&self) -> Result<Vec<TopicInfo>> {
        self.inner.list_topics()
    }

    fn describe_topic(&self, name: &str) -> Result<TopicDescription> {
        self.inner.describe_topic(name)
    }

    fn partition_count(&self, topic: &str) -> Result<u32> {
        self.inner.partition_count(topic)
    }

    fn end_offsets(&self, topic: &str) -> Result<Vec<u64>> {
        self.inner.end_offsets(topic)
    }

    fn append(&self, topic: &str, partition: u32, records: &[NewRecord]) -> Result<Appended> {
        self.inner.append(topic, partition, records)
    }

    fn fetch(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        limits: FetchLimits,
    ) -> Result<Vec<Record>> {
        self.inner.fetch(topic, partition, offset, limits)
    }

    fn offsets(&self, topic: &str, partition: u32) -> Result<(u64, u64)> {
        self.inner.offsets(topic, partition)
    }

    fn offset_for_time(&self, topic: &str, partition: u32, time_ms: i64) -> Result<Option<u64>> {
        self.inner.offset_for_time(topic, partition, time_ms)
    }

    fn listen(&self, topic: &str) -> Result<EventListener> {
        listen::listen(&self.inner, topic)
    }

    fn commit_offsets(&self, group: &str, topic: &str, offsets: &[(u32, u64)]) -> Result<()> {
        self.inner.commit_offsets(group, topic, offsets)
    }

    fn committed_offsets(&self, group: &str, topic: &str) -> Result<BTreeMap<u32, u64>> {
        self.inner.committed_offsets(group, topic)
    }

    fn join_group(
        &self,
        group: &str,
        topics: &[&str],
        strategy: AssignmentStrategy,
    ) -> Result<Box<dyn GroupMembership>> {
        validate_name(group)?;
        Ok(Box::new(group::join(&self.inner, group, topics, strategy)?))
    }
}
