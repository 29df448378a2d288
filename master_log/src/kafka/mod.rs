//! [`KafkaLog`]: the [`Log`] trait over a Kafka-protocol cluster (cargo feature `kafka`).
//!
//! Built on the `rdkafka` crate with its **bundled librdkafka**, compiled from source by
//! `rdkafka-sys`'s own build script (no cmake, under a minute). Bundled rather than
//! Debian's `librdkafka-dev`: the librdkafka version is pinned by `Cargo.lock` and known
//! to every build, and a fresh machine needs no system package for it (only a C
//! compiler, and OpenSSL and zlib headers, which the project's machines have). The
//! crate's `tokio` feature is off: admin futures are driven by a tiny blocking executor
//! and everything else uses librdkafka's blocking calls.

mod fetch;
mod group;
mod listen;
mod options;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Wake};
use std::time::{Duration, Instant};

use event_listener::EventListener;
use parking_lot::{Condvar, Mutex, RwLock};
use rdkafka::ClientContext;
use rdkafka::admin::{
    AdminClient, AdminOptions, NewTopic, OwnedResourceSpecifier, ResourceSpecifier,
    TopicReplication,
};
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header as KHeader, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, ProducerContext, ThreadedProducer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use crate::config::{INTERNAL_PREFIX, TopicConfig, validate_name};
use crate::embedded::now_ms;
use crate::error::{LogError, Result};
use crate::log::{
    AssignmentStrategy, FetchLimits, GroupMembership, Log, PartitionInfo, TopicDescription,
    TopicInfo,
};
use crate::partition::Appended;
use crate::record::{NewRecord, Record};

pub use group::KafkaMember;
pub use options::{Compression, KafkaOptions, parse_kafka_uri};

/// The header that carries a record's event time (decimal milliseconds since the epoch).
pub const EVENT_TIME_HEADER: &str = "lk.event_time";

/// Largest produce request the producer builds (`message.max.bytes`); a single record
/// beyond it is refused by the client with [`LogError::RecordTooLarge`].
const PRODUCER_MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

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
///   `offset_for_time` is ListOffsets by timestamp.
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
///   waiting); it is off by default, for Kafka. Deleting a topic first closes the idle
///   readers of that topic: one still prefetching from it after the deletion gets that
///   same answer and took the process down (SIGSEGV) about half the time.
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

struct Inner {
    bootstrap: String,
    options: KafkaOptions,
    admin: AdminClient<Ctx>,
    producer: ThreadedProducer<ProducerCtx>,
    /// A consumer without a group for metadata, watermarks and offsets by time.
    meta: BaseConsumer<Ctx>,
    topics: RwLock<HashMap<String, Arc<TopicMeta>>>,
    readers: fetch::ReaderPool,
    /// Reads last batches when `tansu_compat` is on.
    prober: Mutex<Option<BaseConsumer<Ctx>>>,
    watchers: Mutex<HashMap<String, Arc<listen::Watch>>>,
    /// Consumers with `group.id` set, for standalone commits and committed offsets.
    committers: Mutex<HashMap<String, Arc<BaseConsumer<Ctx>>>>,
}

/// What the log caches of a topic.
#[derive(Debug)]
struct TopicMeta {
    config: TopicConfig,
}

impl fmt::Debug for KafkaLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaLog")
            .field("bootstrap", &self.inner.bootstrap)
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

// ---------------------------------------------------------------- client plumbing

/// librdkafka's logs and errors, forwarded to `tracing`.
#[derive(Debug, Default)]
pub(crate) struct Ctx;

fn forward_log(level: RDKafkaLogLevel, fac: &str, msg: &str) {
    match level {
        RDKafkaLogLevel::Emerg
        | RDKafkaLogLevel::Alert
        | RDKafkaLogLevel::Critical
        | RDKafkaLogLevel::Error => tracing::error!(target: "librdkafka", fac, "{msg}"),
        RDKafkaLogLevel::Warning => tracing::warn!(target: "librdkafka", fac, "{msg}"),
        RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
            tracing::debug!(target: "librdkafka", fac, "{msg}")
        }
        RDKafkaLogLevel::Debug => tracing::trace!(target: "librdkafka", fac, "{msg}"),
    }
}

impl ClientContext for Ctx {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, msg: &str) {
        forward_log(level, fac, msg);
    }
    fn error(&self, error: KafkaError, reason: &str) {
        tracing::debug!(target: "librdkafka", %error, "{reason}");
    }
}

impl ConsumerContext for Ctx {}

/// One append waiting for its delivery reports.
#[derive(Debug)]
struct Pending {
    state: Mutex<PendingState>,
    done: Condvar,
}

#[derive(Debug)]
struct PendingState {
    remaining: usize,
    first: u64,
    last: u64,
    append_time: i64,
    error: Option<KafkaError>,
}

impl Pending {
    fn new(n: usize) -> Self {
        Pending {
            state: Mutex::new(PendingState {
                remaining: n,
                first: u64::MAX,
                last: 0,
                append_time: i64::MIN,
                error: None,
            }),
            done: Condvar::new(),
        }
    }

    fn report(&self, n: usize, outcome: std::result::Result<(i64, i64), KafkaError>) {
        let mut s = self.state.lock();
        match outcome {
            Ok((offset, time)) if offset >= 0 => {
                s.first = s.first.min(offset as u64);
                s.last = s.last.max(offset as u64);
                s.append_time = s.append_time.max(time);
            }
            Ok(_) => {
                s.error.get_or_insert(KafkaError::MessageProduction(
                    RDKafkaErrorCode::InvalidRecord,
                ));
            }
            Err(e) => {
                s.error.get_or_insert(e);
            }
        }
        s.remaining -= n;
        if s.remaining == 0 {
            self.done.notify_all();
        }
    }
}

struct ProducerCtx;

impl ClientContext for ProducerCtx {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, msg: &str) {
        forward_log(level, fac, msg);
    }
    fn error(&self, error: KafkaError, reason: &str) {
        tracing::debug!(target: "librdkafka", %error, "{reason}");
    }
}

impl ProducerContext for ProducerCtx {
    type DeliveryOpaque = Arc<Pending>;

    fn delivery(&self, result: &DeliveryResult<'_>, pending: Arc<Pending>) {
        let outcome = match result {
            Ok(m) => Ok((m.offset(), m.timestamp().to_millis().unwrap_or(i64::MIN))),
            Err((e, _)) => Err(e.clone()),
        };
        pending.report(1, outcome);
    }
}

/// Drive a future to completion on this thread (the admin API's futures complete from
/// the admin client's own thread).
fn block_on<F: Future>(f: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Arc::new(Unpark(std::thread::current())).into();
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        match f.as_mut().poll(&mut cx) {
            Poll::Ready(v) => return v,
            Poll::Pending => std::thread::park(),
        }
    }
}

/// A `LogError::Kafka` for `op`.
fn kerr(op: &str, e: impl fmt::Display) -> LogError {
    LogError::Kafka {
        op: op.to_owned(),
        message: e.to_string(),
    }
}

/// The error code inside a client error, if it has one.
fn code_of(e: &KafkaError) -> Option<RDKafkaErrorCode> {
    e.rdkafka_error_code()
}

fn ms(d: Duration) -> String {
    d.as_millis().to_string()
}

impl KafkaLog {
    /// Connect to the cluster at `uri` (`kafka://HOST:PORT[,HOST:PORT…]`). Fails when
    /// no broker answers a metadata request within [`KafkaOptions::request_timeout`].
    pub fn connect(uri: &str, options: KafkaOptions) -> Result<KafkaLog> {
        let servers = parse_kafka_uri(uri)?;
        options.validate()?;
        let bootstrap = servers.join(",");
        let base = base_config(&bootstrap, &options, "lk-admin");
        let admin: AdminClient<Ctx> = base
            .create_with_context(Ctx)
            .map_err(|e| config_error("connect", e))?;

        let mut pc = base_config(&bootstrap, &options, "lk-producer");
        pc.set("acks", &options.acks)
            .set("linger.ms", ms(options.linger))
            .set("compression.codec", options.compression.as_str())
            .set("retries", options.retries.to_string())
            .set("message.timeout.ms", ms(options.delivery_timeout))
            .set("enable.idempotence", options.idempotence.to_string())
            .set("partitioner", "murmur2_random")
            .set("message.max.bytes", PRODUCER_MAX_MESSAGE_BYTES.to_string());
        apply_extra(&mut pc, &options);
        let producer: ThreadedProducer<ProducerCtx> = pc
            .create_with_context(ProducerCtx)
            .map_err(|e| config_error("connect", e))?;

        let meta = new_consumer(&bootstrap, &options, "lk-meta", None, false)?;
        // Fail now, with the client's reason, when no broker answers.
        meta.fetch_metadata(None, options.request_timeout)
            .map_err(|e| kerr("connect", format!("no broker of {uri} answered: {e}")))?;

        let pool = options.fetch_pool;
        Ok(KafkaLog {
            inner: Arc::new(Inner {
                bootstrap,
                options,
                admin,
                producer,
                meta,
                topics: RwLock::new(HashMap::new()),
                readers: fetch::ReaderPool::new(pool),
                prober: Mutex::new(None),
                watchers: Mutex::new(HashMap::new()),
                committers: Mutex::new(HashMap::new()),
            }),
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

    fn admin_options(&self) -> AdminOptions {
        let t = self.inner.options.request_timeout;
        AdminOptions::new()
            .request_timeout(Some(t))
            .operation_timeout(Some(t))
    }

    /// A client id unique within this process.
    fn client_id(&self, role: &str) -> String {
        static NEXT_CLIENT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT_CLIENT.fetch_add(1, Ordering::Relaxed);
        format!("lk-{role}-{}-{n}", std::process::id())
    }

    /// Partition count from metadata; `UnknownTopic` when the cluster has no such topic.
    fn metadata_partitions(&self, name: &str) -> Result<u32> {
        let md = self
            .inner
            .meta
            .fetch_metadata(Some(name), self.inner.options.request_timeout)
            .map_err(|e| kerr("metadata", e))?;
        let Some(t) = md.topics().iter().find(|t| t.name() == name) else {
            return Err(LogError::UnknownTopic(name.to_owned()));
        };
        if let Some(err) = t.error() {
            let code = RDKafkaErrorCode::from(err);
            return Err(match code {
                RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic => {
                    LogError::UnknownTopic(name.to_owned())
                }
                other => kerr("metadata", format!("topic {name:?}: {other}")),
            });
        }
        if t.partitions().is_empty() {
            return Err(LogError::UnknownTopic(name.to_owned()));
        }
        Ok(t.partitions().len() as u32)
    }

    /// The effective configurations of `names`, from DescribeConfigs. A topic whose
    /// configuration cannot be read gets the defaults (with a warning).
    fn topic_configs(&self, names: &[(String, u32)]) -> Result<BTreeMap<String, TopicConfig>> {
        let mut out: BTreeMap<String, TopicConfig> = names
            .iter()
            .map(|(n, p)| (n.clone(), TopicConfig::with_partitions(*p)))
            .collect();
        if names.is_empty() {
            return Ok(out);
        }
        let specs: Vec<ResourceSpecifier<'_>> = names
            .iter()
            .map(|(n, _)| ResourceSpecifier::Topic(n.as_str()))
            .collect();
        let results = match block_on(
            self.inner
                .admin
                .describe_configs(&specs, &self.admin_options()),
        ) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(%e, "describe configs failed; reporting default topic configs");
                return Ok(out);
            }
        };
        for r in results {
            match r {
                Ok(res) => {
                    let OwnedResourceSpecifier::Topic(name) = &res.specifier else {
                        continue;
                    };
                    if let Some(config) = out.get_mut(name) {
                        let get = |k: &str| res.get(k).and_then(|e| e.value.clone());
                        apply_kafka_config(config, &get);
                    }
                }
                Err(code) => tracing::warn!(%code, "describe configs of a topic failed"),
            }
        }
        Ok(out)
    }

    /// The cached metadata of `name`, loading it on a miss.
    fn topic_meta(&self, name: &str) -> Result<Arc<TopicMeta>> {
        if let Some(m) = self.inner.topics.read().get(name) {
            return Ok(m.clone());
        }
        self.reload_topic(name)
    }

    fn reload_topic(&self, name: &str) -> Result<Arc<TopicMeta>> {
        let partitions = match self.metadata_partitions(name) {
            Ok(p) => p,
            Err(e) => {
                self.inner.topics.write().remove(name);
                return Err(e);
            }
        };
        let config = self
            .topic_configs(&[(name.to_owned(), partitions)])?
            .remove(name)
            .unwrap_or_else(|| TopicConfig::with_partitions(partitions));
        let meta = Arc::new(TopicMeta { config });
        self.inner
            .topics
            .write()
            .insert(name.to_owned(), meta.clone());
        Ok(meta)
    }

    /// Check that `partition` exists in `topic` (reloading the metadata once, in case
    /// partitions were added), and return the topic's metadata.
    fn check_partition(&self, topic: &str, partition: u32) -> Result<Arc<TopicMeta>> {
        let meta = self.topic_meta(topic)?;
        if partition < meta.config.partitions {
            return Ok(meta);
        }
        let meta = self.reload_topic(topic)?;
        if partition < meta.config.partitions {
            return Ok(meta);
        }
        Err(LogError::UnknownPartition {
            topic: topic.to_owned(),
            partition,
            partitions: meta.config.partitions,
        })
    }

    /// Wait until the cluster's metadata agrees with `exists` for `name`.
    fn await_metadata(&self, name: &str, exists: bool) -> Result<()> {
        let deadline = Instant::now() + self.inner.options.request_timeout;
        loop {
            let now_exists = match self.metadata_partitions(name) {
                Ok(_) => true,
                Err(LogError::UnknownTopic(_)) => false,
                Err(e) => return Err(e),
            };
            if now_exists == exists {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(kerr(
                    if exists {
                        "create topic"
                    } else {
                        "delete topic"
                    },
                    format!("the cluster's metadata did not show the change to {name:?} in time"),
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Earliest and latest offsets of every partition of `topic`, in two ListOffsets
    /// requests.
    fn all_watermarks(&self, topic: &str, partitions: u32) -> Result<Vec<(u64, u64)>> {
        let query = |at: Offset| -> Result<Vec<u64>> {
            let mut tpl = TopicPartitionList::with_capacity(partitions as usize);
            for p in 0..partitions {
                tpl.add_partition_offset(topic, p as i32, at)
                    .map_err(|e| kerr("list offsets", e))?;
            }
            let res = self
                .inner
                .meta
                .offsets_for_times(tpl, self.inner.options.request_timeout)
                .map_err(|e| offsets_error(topic, e))?;
            let mut out = vec![0u64; partitions as usize];
            for el in res.elements_for_topic(topic) {
                el.error().map_err(|e| offsets_error(topic, e))?;
                if let (Offset::Offset(o), Some(slot)) =
                    (el.offset(), out.get_mut(el.partition() as usize))
                {
                    *slot = o.max(0) as u64;
                }
            }
            Ok(out)
        };
        let earliest = query(Offset::Beginning)?;
        let latest = query(Offset::End)?;
        let mut out = Vec::with_capacity(latest.len());
        for (p, (lo, hi)) in earliest.into_iter().zip(latest).enumerate() {
            out.push((lo, self.confirm_latest(topic, p as u32, hi)?));
        }
        Ok(out)
    }

    /// Latest offsets of every partition, in one request, confirmed by fetching when
    /// `tansu_compat` is on.
    fn latest_offsets(&self, topic: &str, partitions: u32) -> Result<Vec<u64>> {
        let listed = self.listed_latest_offsets(topic, partitions)?;
        let mut out = Vec::with_capacity(listed.len());
        for (p, hi) in listed.into_iter().enumerate() {
            out.push(self.confirm_latest(topic, p as u32, hi)?);
        }
        Ok(out)
    }

    /// The latest offset `listed` by ListOffsets, or, with `tansu_compat`, the
    /// end of the partition as a fetch from `listed - 1` sees it.
    fn confirm_latest(&self, topic: &str, partition: u32, listed: u64) -> Result<u64> {
        if self.inner.options.tansu_compat {
            fetch::end_by_fetch(self, topic, partition, listed)
        } else {
            Ok(listed)
        }
    }

    /// Latest offsets of every partition as ListOffsets reports them, in one request
    /// (the listen thread's poll: any change of them is news).
    fn listed_latest_offsets(&self, topic: &str, partitions: u32) -> Result<Vec<u64>> {
        let mut tpl = TopicPartitionList::with_capacity(partitions as usize);
        for p in 0..partitions {
            tpl.add_partition_offset(topic, p as i32, Offset::End)
                .map_err(|e| kerr("list offsets", e))?;
        }
        let res = self
            .inner
            .meta
            .offsets_for_times(tpl, self.inner.options.request_timeout)
            .map_err(|e| offsets_error(topic, e))?;
        let mut out = vec![0u64; partitions as usize];
        for el in res.elements_for_topic(topic) {
            if let (Offset::Offset(o), Some(slot)) =
                (el.offset(), out.get_mut(el.partition() as usize))
            {
                *slot = o.max(0) as u64;
            }
        }
        Ok(out)
    }

    /// The consumer that commits for `group` and reads its committed offsets.
    fn committer(&self, group: &str) -> Result<Arc<BaseConsumer<Ctx>>> {
        let mut map = self.inner.committers.lock();
        if let Some(c) = map.get(group) {
            return Ok(c.clone());
        }
        let id = self.client_id("commit");
        let c = Arc::new(new_consumer(
            &self.inner.bootstrap,
            &self.inner.options,
            &id,
            Some(group),
            false,
        )?);
        if map.len() >= 16 {
            map.clear();
        }
        map.insert(group.to_owned(), c.clone());
        Ok(c)
    }

    /// Refuse offsets beyond a partition's latest offset (as the embedded log does).
    fn check_commit_range(&self, topic: &str, offsets: &[(u32, u64)]) -> Result<()> {
        for &(p, offset) in offsets {
            self.check_partition(topic, p)?;
            let (earliest, latest) = self.offsets(topic, p)?;
            if offset > latest {
                return Err(LogError::OffsetOutOfRange {
                    topic: topic.to_owned(),
                    partition: p,
                    offset,
                    earliest,
                    latest,
                });
            }
        }
        Ok(())
    }

    fn notify_appended(&self, topic: &str) {
        if let Some(w) = self.inner.watchers.lock().get(topic) {
            w.event.notify(usize::MAX);
        }
    }
}

fn config_error(op: &str, e: KafkaError) -> LogError {
    match e {
        KafkaError::ClientConfig(_, desc, key, value) => {
            LogError::InvalidConfig(format!("librdkafka setting {key}={value:?}: {desc}"))
        }
        other => kerr(op, other),
    }
}

fn offsets_error(topic: &str, e: KafkaError) -> LogError {
    match code_of(&e) {
        Some(RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic) => {
            LogError::UnknownTopic(topic.to_owned())
        }
        _ => kerr("list offsets", e),
    }
}

fn apply_extra(c: &mut ClientConfig, options: &KafkaOptions) {
    for (k, v) in &options.extra {
        c.set(k, v);
    }
}

fn base_config(bootstrap: &str, options: &KafkaOptions, client_id: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("client.id", client_id)
        .set("socket.timeout.ms", ms(options.request_timeout))
        .set("log.connection.close", "false");
    apply_extra(&mut c, options);
    c
}

/// How long the broker may hold a fetch for data (`fetch.wait.max.ms`). With
/// `tansu_compat`, 0: tansu 0.6 answers the second round of a waiting fetch with
/// UNKNOWN_TOPIC_OR_PARTITION and a leader hint without topic name, on which
/// librdkafka 2.12 crashes (`rd_kafka_metadata_update_op`); an immediate answer has
/// no second round.
pub(crate) fn fetch_wait_ms(options: &KafkaOptions) -> &'static str {
    if options.tansu_compat { "0" } else { "100" }
}

/// A consumer that consumes nothing by itself: no auto commit, no offset store, reset
/// refused (an out-of-range position is an error, never a silent jump).
fn new_consumer(
    bootstrap: &str,
    options: &KafkaOptions,
    client_id: &str,
    group: Option<&str>,
    partition_eof: bool,
) -> Result<BaseConsumer<Ctx>> {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("client.id", client_id)
        .set("socket.timeout.ms", ms(options.request_timeout))
        .set("log.connection.close", "false")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", partition_eof.to_string())
        .set("auto.offset.reset", "error")
        .set("allow.auto.create.topics", "false")
        .set("fetch.wait.max.ms", fetch_wait_ms(options))
        .set("queued.max.messages.kbytes", "16384");
    if let Some(g) = group {
        c.set("group.id", g);
    }
    apply_extra(&mut c, options);
    c.create_with_context(Ctx)
        .map_err(|e| config_error("create consumer", e))
}

/// Fill `config` from a topic's Kafka configuration (`get` returns a setting's value).
fn apply_kafka_config(config: &mut TopicConfig, get: &dyn Fn(&str) -> Option<String>) {
    let num = |k: &str| get(k).and_then(|v| v.parse::<i64>().ok());
    if let Some(policy) = get("cleanup.policy") {
        config.compact = policy.split(',').any(|p| p.trim() == "compact");
    }
    if let Some(v) = num("retention.ms") {
        config.retention_ms = u64::try_from(v).ok();
    }
    if let Some(v) = num("retention.bytes") {
        config.retention_bytes = u64::try_from(v).ok();
    }
    if let Some(v) = num("segment.bytes").and_then(|v| u64::try_from(v).ok()) {
        config.segment_bytes = v;
    }
    if let Some(v) = num("segment.ms") {
        config.segment_ms = u64::try_from(v).ok().filter(|&v| v > 0);
    }
    if let Some(v) = num("max.message.bytes").and_then(|v| u64::try_from(v).ok()) {
        config.max_record_bytes = v;
    }
    if let Some(v) = num("delete.retention.ms").and_then(|v| u64::try_from(v).ok()) {
        config.delete_retention_ms = v;
    }
    if let Some(v) = num("index.interval.bytes").and_then(|v| u64::try_from(v).ok()) {
        config.index_interval_bytes = v;
    }
}

/// The Kafka topic settings for `config`.
fn kafka_topic_settings(config: &TopicConfig) -> Vec<(&'static str, String)> {
    let opt = |v: Option<u64>| v.map_or_else(|| "-1".to_owned(), |v| v.to_string());
    let mut s = vec![
        (
            "cleanup.policy",
            if config.compact { "compact" } else { "delete" }.to_owned(),
        ),
        ("retention.ms", opt(config.retention_ms)),
        ("retention.bytes", opt(config.retention_bytes)),
        ("segment.bytes", config.segment_bytes.to_string()),
        ("max.message.bytes", config.max_record_bytes.to_string()),
        (
            "delete.retention.ms",
            config.delete_retention_ms.to_string(),
        ),
        (
            "index.interval.bytes",
            config.index_interval_bytes.to_string(),
        ),
        ("message.timestamp.type", "LogAppendTime".to_owned()),
    ];
    if let Some(v) = config.segment_ms {
        s.push(("segment.ms", v.to_string()));
    }
    s
}

fn refuse_internal(name: &str, reason: &'static str) -> Result<()> {
    if name.starts_with(INTERNAL_PREFIX) {
        return Err(LogError::InvalidName {
            name: name.to_owned(),
            reason,
        });
    }
    Ok(())
}

/// A record read from Kafka, with the event time taken out of its header.
pub(crate) fn to_record<M: Message>(m: &M) -> Record {
    use rdkafka::message::Headers;
    let append_time = m.timestamp().to_millis().unwrap_or(0);
    let mut event_time = None;
    let mut headers = Vec::new();
    if let Some(hs) = m.headers() {
        for h in hs.iter() {
            if h.key == EVENT_TIME_HEADER
                && event_time.is_none()
                && let Some(t) = h
                    .value
                    .and_then(|v| std::str::from_utf8(v).ok())
                    .and_then(|s| s.parse::<i64>().ok())
            {
                event_time = Some(t);
                continue;
            }
            headers.push(crate::record::Header {
                key: h.key.to_owned(),
                value: bytes::Bytes::copy_from_slice(h.value.unwrap_or_default()),
            });
        }
    }
    Record {
        offset: m.offset().max(0) as u64,
        key: m.key().map(bytes::Bytes::copy_from_slice),
        value: m.payload().map(bytes::Bytes::copy_from_slice),
        event_time: event_time.unwrap_or(append_time),
        append_time,
        headers,
    }
}

impl Log for KafkaLog {
    fn create_topic(&self, name: &str, config: TopicConfig) -> Result<()> {
        validate_name(name)?;
        refuse_internal(
            name,
            "names starting with '__' are reserved for the log's internal topics",
        )?;
        config.validate()?;
        let settings = kafka_topic_settings(&config);
        let rf = self.inner.options.replication_factor.unwrap_or(-1);
        let mut topic = NewTopic::new(name, config.partitions as i32, TopicReplication::Fixed(rf));
        for (k, v) in &settings {
            topic = topic.set(k, v);
        }
        let results = block_on(
            self.inner
                .admin
                .create_topics([&topic], &self.admin_options()),
        )
        .map_err(|e| kerr("create topic", e))?;
        for r in results {
            if let Err((_, code)) = r {
                return Err(match code {
                    RDKafkaErrorCode::TopicAlreadyExists => LogError::TopicExists(name.to_owned()),
                    RDKafkaErrorCode::InvalidConfig
                    | RDKafkaErrorCode::InvalidPartitions
                    | RDKafkaErrorCode::InvalidReplicationFactor
                    | RDKafkaErrorCode::PolicyViolation => {
                        LogError::InvalidConfig(format!("topic {name:?}: {code}"))
                    }
                    RDKafkaErrorCode::InvalidTopic => LogError::InvalidName {
                        name: name.to_owned(),
                        reason: "the cluster refused the name",
                    },
                    other => kerr("create topic", format!("{name:?}: {other}")),
                });
            }
        }
        self.inner.topics.write().remove(name);
        self.await_metadata(name, true)
    }

    fn delete_topic(&self, name: &str) -> Result<()> {
        validate_name(name)?;
        refuse_internal(name, "internal topics cannot be deleted")?;
        self.inner.readers.forget_topic(name);
        let results = block_on(
            self.inner
                .admin
                .delete_topics(&[name], &self.admin_options()),
        )
        .map_err(|e| kerr("delete topic", e))?;
        self.inner.topics.write().remove(name);
        for r in results {
            if let Err((_, code)) = r {
                return Err(match code {
                    RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic => {
                        LogError::UnknownTopic(name.to_owned())
                    }
                    other => kerr("delete topic", format!("{name:?}: {other}")),
                });
            }
        }
        self.await_metadata(name, false)
    }

    fn list_topics(&self) -> Result<Vec<TopicInfo>> {
        let md = self
            .inner
            .meta
            .fetch_metadata(None, self.inner.options.request_timeout)
            .map_err(|e| kerr("metadata", e))?;
        let mut names: Vec<(String, u32)> = md
            .topics()
            .iter()
            .filter(|t| t.error().is_none() && !t.partitions().is_empty())
            .map(|t| (t.name().to_owned(), t.partitions().len() as u32))
            .collect();
        names.sort();
        let configs = self.topic_configs(&names)?;
        Ok(configs
            .into_iter()
            .map(|(name, config)| TopicInfo {
                internal: name.starts_with(INTERNAL_PREFIX),
                name,
                config,
            })
            .collect())
    }

    fn describe_topic(&self, name: &str) -> Result<TopicDescription> {
        let meta = self.reload_topic(name)?;
        let marks = self.all_watermarks(name, meta.config.partitions)?;
        Ok(TopicDescription {
            info: TopicInfo {
                name: name.to_owned(),
                config: meta.config.clone(),
                internal: name.starts_with(INTERNAL_PREFIX),
            },
            partitions: marks
                .into_iter()
                .enumerate()
                .map(|(p, (earliest, latest))| PartitionInfo {
                    partition: p as u32,
                    earliest,
                    latest,
                    bytes: 0,
                    segments: 0,
                })
                .collect(),
        })
    }

    fn partition_count(&self, topic: &str) -> Result<u32> {
        Ok(self.topic_meta(topic)?.config.partitions)
    }

    fn end_offsets(&self, topic: &str) -> Result<Vec<u64>> {
        let partitions = self.partition_count(topic)?;
        self.latest_offsets(topic, partitions)
    }

    fn append(&self, topic: &str, partition: u32, records: &[NewRecord]) -> Result<Appended> {
        if records.is_empty() {
            return Err(LogError::InvalidConfig("nothing to append".into()));
        }
        let meta = self.check_partition(topic, partition)?;
        let max = (meta.config.max_record_bytes as usize).min(PRODUCER_MAX_MESSAGE_BYTES);
        for r in records {
            let size = r.encoded_len();
            if size > max {
                return Err(LogError::RecordTooLarge { size, max });
            }
            if meta.config.compact && r.key.is_none() {
                return Err(LogError::KeyRequired(topic.to_owned()));
            }
            if r.headers.iter().any(|h| h.key == EVENT_TIME_HEADER) {
                return Err(LogError::InvalidConfig(format!(
                    "the header name {EVENT_TIME_HEADER} is reserved for the event time"
                )));
            }
        }
        let pending = Arc::new(Pending::new(records.len()));
        let now = now_ms();
        for (i, r) in records.iter().enumerate() {
            let event_time = r.event_time.to_string();
            let mut headers = OwnedHeaders::new_with_capacity(r.headers.len() + 1);
            for h in &r.headers {
                headers = headers.insert(KHeader {
                    key: &h.key,
                    value: Some(&h.value[..]),
                });
            }
            headers = headers.insert(KHeader {
                key: EVENT_TIME_HEADER,
                value: Some(event_time.as_bytes()),
            });
            let mut rec: BaseRecord<'_, [u8], [u8], Arc<Pending>> =
                BaseRecord::with_opaque_to(topic, pending.clone())
                    .partition(partition as i32)
                    .timestamp(now)
                    .headers(headers);
            if let Some(k) = &r.key {
                rec = rec.key(&k[..]);
            }
            if let Some(v) = &r.value {
                rec = rec.payload(&v[..]);
            }
            let sent = loop {
                match self.inner.producer.send(rec) {
                    Ok(()) => break Ok(()),
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        rec = back;
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    Err((e, _)) => break Err(e),
                }
            };
            if let Err(e) = sent {
                // Records not handed over are reported failed here; those before them
                // still get their delivery reports.
                pending.report(records.len() - i, Err(e));
                break;
            }
        }
        let wait = self.inner.options.delivery_timeout + Duration::from_secs(10);
        let mut s = pending.state.lock();
        if s.remaining > 0 {
            let deadline = Instant::now() + wait;
            while s.remaining > 0 {
                if pending.done.wait_until(&mut s, deadline).timed_out() {
                    return Err(kerr(
                        "append",
                        format!("no delivery report within {wait:?} for {topic}/{partition}"),
                    ));
                }
            }
        }
        if s.first != u64::MAX {
            // Something landed: wake listeners even if part of the append failed.
            self.notify_appended(topic);
        }
        if let Some(e) = s.error.take() {
            return Err(match code_of(&e) {
                Some(RDKafkaErrorCode::MessageSizeTooLarge) => LogError::RecordTooLarge {
                    size: records
                        .iter()
                        .map(NewRecord::encoded_len)
                        .max()
                        .unwrap_or(0),
                    max,
                },
                Some(
                    RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic,
                ) => {
                    self.inner.topics.write().remove(topic);
                    LogError::UnknownTopic(topic.to_owned())
                }
                _ => kerr("append", format!("{topic}/{partition}: {e}")),
            });
        }
        if matches!(self.inner.options.acks.as_str(), "0") || s.first == u64::MAX {
            return Err(kerr(
                "append",
                "the records were sent but with acks=0 the broker reports no offsets",
            ));
        }
        Ok(Appended {
            base_offset: s.first,
            last_offset: s.last,
            append_time: if s.append_time == i64::MIN {
                now
            } else {
                s.append_time
            },
        })
    }

    fn fetch(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        limits: FetchLimits,
    ) -> Result<Vec<Record>> {
        self.check_partition(topic, partition)?;
        let (earliest, latest) = self.offsets(topic, partition)?;
        if offset < earliest || offset > latest {
            return Err(LogError::OffsetOutOfRange {
                topic: topic.to_owned(),
                partition,
                offset,
                earliest,
                latest,
            });
        }
        if offset == latest || limits.max_records == 0 {
            return Ok(Vec::new());
        }
        fetch::fetch(self, topic, partition, offset, (earliest, latest), limits)
    }

    fn offsets(&self, topic: &str, partition: u32) -> Result<(u64, u64)> {
        self.check_partition(topic, partition)?;
        let (lo, hi) = self
            .inner
            .meta
            .fetch_watermarks(topic, partition as i32, self.inner.options.request_timeout)
            .map_err(|e| offsets_error(topic, e))?;
        let hi = self.confirm_latest(topic, partition, hi.max(0) as u64)?;
        Ok((lo.max(0) as u64, hi))
    }

    fn offset_for_time(&self, topic: &str, partition: u32, time_ms: i64) -> Result<Option<u64>> {
        self.check_partition(topic, partition)?;
        // Negative timestamps are ListOffsets' special values (-1 latest, -2 earliest);
        // every append time is at or after 0. The broker is asked for one millisecond
        // earlier and its answer checked by reading forward to the first record at or
        // after `time_ms`: with Kafka that is the first record read; it also makes the
        // answer exact with brokers that look up by batch and by their own store time
        // (tansu 0.6).
        let t = time_ms.max(0);
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, partition as i32, Offset::Offset((t - 1).max(0)))
            .map_err(|e| kerr("offset for time", e))?;
        let res = self
            .inner
            .meta
            .offsets_for_times(tpl, self.inner.options.request_timeout)
            .map_err(|e| offsets_error(topic, e))?;
        let Some(el) = res.find_partition(topic, partition as i32) else {
            return Ok(None);
        };
        el.error().map_err(|e| offsets_error(topic, e))?;
        let Offset::Offset(found) = el.offset() else {
            return Ok(None);
        };
        let (earliest, latest) = self.offsets(topic, partition)?;
        let mut at = (found.max(0) as u64).max(earliest);
        while at < latest {
            let records = self.fetch(topic, partition, at, FetchLimits::default())?;
            let Some(last) = records.last() else {
                break;
            };
            if let Some(r) = records.iter().find(|r| r.append_time >= time_ms) {
                return Ok(Some(r.offset));
            }
            at = last.offset + 1;
        }
        Ok(None)
    }

    fn listen(&self, topic: &str) -> Result<EventListener> {
        listen::listen(self, topic)
    }

    fn commit_offsets(&self, group: &str, topic: &str, offsets: &[(u32, u64)]) -> Result<()> {
        validate_name(group)?;
        self.topic_meta(topic)?;
        self.check_commit_range(topic, offsets)?;
        if offsets.is_empty() {
            return Ok(());
        }
        let mut tpl = TopicPartitionList::with_capacity(offsets.len());
        for &(p, o) in offsets {
            tpl.add_partition_offset(topic, p as i32, Offset::Offset(o as i64))
                .map_err(|e| kerr("commit", e))?;
        }
        let c = self.committer(group)?;
        c.commit(&tpl, CommitMode::Sync)
            .map_err(|e| commit_error(group, e))
    }

    fn committed_offsets(&self, group: &str, topic: &str) -> Result<BTreeMap<u32, u64>> {
        validate_name(group)?;
        let meta = self.topic_meta(topic)?;
        let mut tpl = TopicPartitionList::with_capacity(meta.config.partitions as usize);
        for p in 0..meta.config.partitions {
            tpl.add_partition(topic, p as i32);
        }
        let c = self.committer(group)?;
        let res = c
            .committed_offsets(tpl, self.inner.options.request_timeout)
            .map_err(|e| kerr("committed offsets", e))?;
        Ok(res
            .elements_for_topic(topic)
            .iter()
            .filter_map(|el| match el.offset() {
                Offset::Offset(o) if o >= 0 => Some((el.partition() as u32, o as u64)),
                _ => None,
            })
            .collect())
    }

    fn join_group(
        &self,
        group: &str,
        topics: &[&str],
        strategy: AssignmentStrategy,
    ) -> Result<Box<dyn GroupMembership>> {
        validate_name(group)?;
        Ok(Box::new(group::join(self, group, topics, strategy)?))
    }
}

/// A commit error: fencing and ownership errors are [`LogError::Group`].
fn commit_error(group: &str, e: KafkaError) -> LogError {
    match code_of(&e) {
        Some(
            code @ (RDKafkaErrorCode::IllegalGeneration
            | RDKafkaErrorCode::UnknownMemberId
            | RDKafkaErrorCode::RebalanceInProgress
            | RDKafkaErrorCode::FencedInstanceId
            | RDKafkaErrorCode::StaleMemberEpoch),
        ) => LogError::Group {
            group: group.to_owned(),
            reason: format!("the group coordinator refused the commit: {code}"),
        },
        _ => kerr("commit", e),
    }
}
