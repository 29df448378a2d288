//! librdkafka plumbing shared by every client of the log: the context that forwards the
//! library's logs to `tracing`, client configurations, the consumers the log makes, a
//! tiny executor for admin futures, and the mapping of client errors to [`LogError`].

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Wake};
use std::time::Duration;

use rdkafka::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use super::options::KafkaOptions;
use crate::error::{LogError, Result};

/// librdkafka's logs and errors, forwarded to `tracing`.
#[derive(Debug, Default)]
pub(super) struct Ctx;

/// Forward one librdkafka log line to `tracing` (target `librdkafka`).
pub(super) fn forward_log(level: RDKafkaLogLevel, fac: &str, msg: &str) {
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

/// Drive a future to completion on this thread (the admin API's futures complete from
/// the admin client's own thread).
pub(super) fn block_on<F: Future>(f: F) -> F::Output {
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
pub(super) fn kerr(op: &str, e: impl fmt::Display) -> LogError {
    LogError::Kafka {
        op: op.to_owned(),
        message: e.to_string(),
    }
}

/// The error code inside a client error, if it has one.
pub(super) fn code_of(e: &KafkaError) -> Option<RDKafkaErrorCode> {
    e.rdkafka_error_code()
}

/// A duration as librdkafka's milliseconds setting.
pub(super) fn ms(d: Duration) -> String {
    d.as_millis().to_string()
}

/// A client id unique within this process: `lk-ROLE-PID-N`.
pub(super) fn client_id(role: &str) -> String {
    static NEXT_CLIENT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT_CLIENT.fetch_add(1, Ordering::Relaxed);
    format!("lk-{role}-{}-{n}", std::process::id())
}

/// A client creation error: a refused setting is [`LogError::InvalidConfig`].
pub(super) fn config_error(op: &str, e: KafkaError) -> LogError {
    match e {
        KafkaError::ClientConfig(_, desc, key, value) => {
            LogError::InvalidConfig(format!("librdkafka setting {key}={value:?}: {desc}"))
        }
        other => kerr(op, other),
    }
}

/// A ListOffsets error: an unknown topic or partition is [`LogError::UnknownTopic`].
pub(super) fn offsets_error(topic: &str, e: KafkaError) -> LogError {
    match code_of(&e) {
        Some(RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic) => {
            LogError::UnknownTopic(topic.to_owned())
        }
        _ => kerr("list offsets", e),
    }
}

/// Pass the user's extra librdkafka settings ([`KafkaOptions::extra`]) through.
pub(super) fn apply_extra(c: &mut ClientConfig, options: &KafkaOptions) {
    for (k, v) in &options.extra {
        c.set(k, v);
    }
}

/// The settings every client of the log shares.
pub(super) fn base_config(
    bootstrap: &str,
    options: &KafkaOptions,
    client_id: &str,
) -> ClientConfig {
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
pub(super) fn fetch_wait_ms(options: &KafkaOptions) -> &'static str {
    if options.tansu_compat { "0" } else { "100" }
}

/// A consumer that consumes nothing by itself: no auto commit, no offset store, reset
/// refused (an out-of-range position is an error, never a silent jump).
pub(super) fn new_consumer(
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
