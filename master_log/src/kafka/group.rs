//! Consumer-group membership on a Kafka cluster.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use event_listener::{Event, Listener};
use parking_lot::Mutex;
use rdkafka::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use super::client::{apply_extra, client_id, config_error, fetch_wait_ms, forward_log, kerr, ms};
use super::commit::commit_error;
use super::conn::Inner;
use crate::error::{LogError, Result};
use crate::log::{Assignment, AssignmentStrategy, GroupMembership, TopicPartition};

/// A member of a Kafka consumer group, from [`crate::Log::join_group`] on a
/// [`super::KafkaLog`].
///
/// Its consumer subscribes to the topics with `partition.assignment.strategy` `range` or
/// `roundrobin` (Kafka's eager protocol: at a rebalance every member gives up all its
/// partitions, then gets its new share). A thread polls the consumer to keep the group
/// protocol alive (heartbeats, rebalances); the assigned partitions are paused at once,
/// so the member never consumes records itself: records are read with
/// [`crate::Log::fetch`]. Dropping the member closes the consumer, which leaves the group
/// at once (the others rebalance without waiting for the session timeout), and stops the
/// thread.
///
/// Differences from the embedded log's members:
/// - `join_group` returns once the member has its first assignment (up to
///   [`super::KafkaOptions::join_timeout`]; a real Kafka broker delays the first
///   rebalance of an empty group by `group.initial.rebalance.delay.ms`, 3 s by default).
/// - The *generation* is this member's own count of assignments it received, not
///   Kafka's generation id (which librdkafka does not expose): it increases by one at
///   every rebalance this member goes through, and members of one group may be at
///   different numbers.
/// - `member_id` is the client id of the member's consumer (`lk-member-PID-N`); Kafka's
///   member id starts with it.
/// - Between the revocation and the new assignment of a rebalance, the member owns
///   nothing (its commits are refused) while `assignment()` still shows the old
///   generation number.
/// - Besides the ownership check made here, the group coordinator fences commits of a
///   stale generation; both are [`LogError::Group`].
pub struct KafkaMember {
    group: String,
    member_id: String,
    /// The log's connection, for the range checks of commits.
    inner: Arc<Inner>,
    consumer: Arc<BaseConsumer<MemberCtx>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for KafkaMember {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaMember")
            .field("group", &self.group)
            .field("member_id", &self.member_id)
            .field("assignment", &self.assignment())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct MemberState {
    generation: u64,
    partitions: Vec<TopicPartition>,
    /// The last error the consumer reported.
    error: Option<KafkaError>,
}

struct MemberCtx {
    state: Mutex<MemberState>,
    rebalanced: Event,
}

impl ClientContext for MemberCtx {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, msg: &str) {
        forward_log(level, fac, msg);
    }
    fn error(&self, error: KafkaError, reason: &str) {
        tracing::debug!(target: "librdkafka", %error, "{reason}");
        self.state.lock().error = Some(error);
        self.rebalanced.notify(usize::MAX);
    }
}

impl ConsumerContext for MemberCtx {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(_) = rebalance {
            // Waits for a commit in progress: no commit straddles a rebalance.
            self.state.lock().partitions.clear();
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => {
                if tpl.count() > 0
                    && let Err(e) = consumer.pause(tpl)
                {
                    tracing::warn!(%e, "could not pause the assigned partitions");
                }
                let mut parts: Vec<TopicPartition> = tpl
                    .elements()
                    .iter()
                    .map(|e| TopicPartition::new(e.topic(), e.partition() as u32))
                    .collect();
                parts.sort();
                {
                    let mut s = self.state.lock();
                    s.generation += 1;
                    s.partitions = parts;
                }
                self.rebalanced.notify(usize::MAX);
            }
            Rebalance::Revoke(_) => {}
            Rebalance::Error(e) => {
                tracing::warn!(%e, "rebalance error");
                self.state.lock().error = Some(e.clone());
                self.rebalanced.notify(usize::MAX);
            }
        }
    }
}

/// Errors after which joining cannot succeed.
fn fatal_for_join(e: &KafkaError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::InconsistentGroupProtocol
                | RDKafkaErrorCode::GroupAuthorizationFailed
                | RDKafkaErrorCode::TopicAuthorizationFailed
                | RDKafkaErrorCode::InvalidGroupId
                | RDKafkaErrorCode::UnknownTopicOrPartition
        )
    )
}

/// Join `group` subscribed to `topics`: returns once the member has its first assignment.
pub(super) fn join(
    inner: &Arc<Inner>,
    group: &str,
    topics: &[&str],
    strategy: AssignmentStrategy,
) -> Result<KafkaMember> {
    if topics.is_empty() {
        return Err(LogError::Group {
            group: group.to_owned(),
            reason: "a member must subscribe to at least one topic".into(),
        });
    }
    for t in topics {
        inner.topic_meta(t)?;
    }
    let options = &inner.options;
    let member_id = client_id("member");
    let session = options.session_timeout.max(Duration::from_secs(1));
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &inner.bootstrap)
        .set("client.id", &member_id)
        .set("group.id", group)
        .set(
            "partition.assignment.strategy",
            match strategy {
                AssignmentStrategy::Range => "range",
                AssignmentStrategy::RoundRobin => "roundrobin",
            },
        )
        .set("session.timeout.ms", ms(session))
        .set(
            "heartbeat.interval.ms",
            ms((session / 5).max(Duration::from_millis(100))),
        )
        .set("socket.timeout.ms", ms(options.request_timeout))
        .set("log.connection.close", "false")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false")
        .set("auto.offset.reset", "latest")
        .set("fetch.wait.max.ms", fetch_wait_ms(options))
        .set("allow.auto.create.topics", "false");
    apply_extra(&mut c, options);
    let ctx = MemberCtx {
        state: Mutex::new(MemberState::default()),
        rebalanced: Event::new(),
    };
    let consumer: Arc<BaseConsumer<MemberCtx>> = Arc::new(
        c.create_with_context(ctx)
            .map_err(|e| config_error("join group", e))?,
    );
    consumer
        .subscribe(topics)
        .map_err(|e| kerr("join group", e))?;
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let consumer = consumer.clone();
        let stop = stop.clone();
        std::thread::Builder::new()
            .name(format!("lk-group-{group}"))
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match consumer.poll(Duration::from_millis(50)) {
                        // Records fetched before the pause took effect are dropped:
                        // members read through `fetch`.
                        Some(Ok(_)) | None => {}
                        Some(Err(e)) => {
                            tracing::debug!(%e, "group member consumer error");
                            consumer.context().state.lock().error = Some(e);
                            consumer.context().rebalanced.notify(usize::MAX);
                        }
                    }
                }
            })
            .map_err(|e| LogError::Io {
                context: "start the group thread".into(),
                source: e,
            })?
    };
    let member = KafkaMember {
        group: group.to_owned(),
        member_id,
        inner: inner.clone(),
        consumer,
        stop,
        thread: Some(thread),
    };
    // Wait for the first assignment.
    let deadline = Instant::now() + options.join_timeout;
    let ctx = member.consumer.context();
    loop {
        let listener = ctx.rebalanced.listen();
        {
            let s = ctx.state.lock();
            if s.generation > 0 {
                break;
            }
            if let Some(e) = s.error.as_ref().filter(|e| fatal_for_join(e)) {
                return Err(LogError::Group {
                    group: group.to_owned(),
                    reason: format!("joining failed: {e}"),
                });
            }
        }
        if listener.wait_deadline(deadline).is_none() && Instant::now() >= deadline {
            let last = ctx.state.lock().error.as_ref().map(|e| e.to_string());
            return Err(LogError::Group {
                group: group.to_owned(),
                reason: format!(
                    "no assignment within {:?}{}",
                    options.join_timeout,
                    last.map(|e| format!(" (last error: {e})"))
                        .unwrap_or_default()
                ),
            });
        }
    }
    Ok(member)
}

impl KafkaMember {
    fn generation(&self) -> u64 {
        self.consumer.context().state.lock().generation
    }
}

impl GroupMembership for KafkaMember {
    fn group(&self) -> &str {
        &self.group
    }

    fn member_id(&self) -> &str {
        &self.member_id
    }

    fn assignment(&self) -> Assignment {
        let s = self.consumer.context().state.lock();
        Assignment {
            generation: s.generation,
            partitions: s.partitions.clone(),
        }
    }

    fn commit_with(
        &self,
        offsets: &[(TopicPartition, u64)],
        write: &mut dyn FnMut() -> Result<()>,
    ) -> Result<()> {
        // Hold the member's state while writing and committing, so that no revocation
        // (which takes it in the rebalance callback) slips in between the ownership
        // check and the commit.
        let state = self.consumer.context().state.lock();
        for (tp, _) in offsets {
            if !state.partitions.contains(tp) {
                return Err(LogError::Group {
                    group: self.group.clone(),
                    reason: format!(
                        "{} does not own {tp} in generation {} (the group rebalanced)",
                        self.member_id, state.generation
                    ),
                });
            }
        }
        write()?;
        if offsets.is_empty() {
            return Ok(());
        }
        let mut by_topic: BTreeMap<&str, Vec<(u32, u64)>> = BTreeMap::new();
        for (tp, o) in offsets {
            by_topic
                .entry(tp.topic.as_str())
                .or_default()
                .push((tp.partition, *o));
        }
        let mut tpl = TopicPartitionList::with_capacity(offsets.len());
        for (topic, offs) in &by_topic {
            self.inner.check_commit_range(topic, offs)?;
            for &(p, o) in offs {
                tpl.add_partition_offset(topic, p as i32, Offset::Offset(o as i64))
                    .map_err(|e| kerr("commit", e))?;
            }
        }
        self.consumer
            .commit(&tpl, CommitMode::Sync)
            .map_err(|e| commit_error(&self.group, e))
    }

    fn wait_for_rebalance(&self, generation: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let ctx = self.consumer.context();
        loop {
            let listener = ctx.rebalanced.listen();
            if self.generation() != generation {
                return true;
            }
            if listener.wait_deadline(deadline).is_none() && Instant::now() >= deadline {
                return self.generation() != generation;
            }
        }
    }
}

impl Drop for KafkaMember {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // The last reference to the consumer goes with `self`: rdkafka closes it, which
        // revokes the assignment and leaves the group.
    }
}
