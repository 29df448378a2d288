//! The producer client: its configuration, and the delivery reports of one append
//! gathered in a [`Pending`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, MutexGuard};
use rdkafka::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{DeliveryResult, ProducerContext, ThreadedProducer};

use super::client::{apply_extra, base_config, config_error, forward_log, ms};
use super::options::KafkaOptions;
use crate::error::Result;

/// Largest produce request the producer builds (`message.max.bytes`); a single record
/// beyond it is refused by the client with [`LogError::RecordTooLarge`].
pub(super) const PRODUCER_MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// The idempotent producer every append of the log goes through.
pub(super) fn new_producer(
    bootstrap: &str,
    options: &KafkaOptions,
) -> Result<ThreadedProducer<ProducerCtx>> {
    let mut pc = base_config(bootstrap, options, "lk-producer");
    pc.set("acks", &options.acks)
        .set("linger.ms", ms(options.linger))
        .set("compression.codec", options.compression.as_str())
        .set("retries", options.retries.to_string())
        .set("message.timeout.ms", ms(options.delivery_timeout))
        .set("enable.idempotence", options.idempotence.to_string())
        .set("partitioner", "murmur2_random")
        .set("message.max.bytes", PRODUCER_MAX_MESSAGE_BYTES.to_string());
    apply_extra(&mut pc, options);
    pc.create_with_context(ProducerCtx)
        .map_err(|e| config_error("connect", e))
}

/// One append waiting for its delivery reports.
#[derive(Debug)]
pub(super) struct Pending {
    state: Mutex<PendingState>,
    done: Condvar,
}

/// What the delivery reports of one append said so far.
#[derive(Debug)]
pub(super) struct PendingState {
    /// Records not reported yet.
    remaining: usize,
    /// The lowest offset reported (`u64::MAX`: none).
    pub(super) first: u64,
    /// The highest offset reported.
    pub(super) last: u64,
    /// The latest Kafka timestamp reported (`i64::MIN`: none).
    pub(super) append_time: i64,
    /// The first failure reported.
    pub(super) error: Option<KafkaError>,
}

impl Pending {
    /// Waiting for the reports of `n` records.
    pub(super) fn new(n: usize) -> Self {
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

    /// `n` records reported with `outcome` (their offset and timestamp, or a failure).
    pub(super) fn report(&self, n: usize, outcome: std::result::Result<(i64, i64), KafkaError>) {
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

    /// Wait up to `wait` for every report; `None` when they did not all come in time.
    pub(super) fn wait(&self, wait: Duration) -> Option<MutexGuard<'_, PendingState>> {
        let mut s = self.state.lock();
        if s.remaining > 0 {
            let deadline = Instant::now() + wait;
            while s.remaining > 0 {
                if self.done.wait_until(&mut s, deadline).timed_out() {
                    return None;
                }
            }
        }
        Some(s)
    }
}

/// The producer's context: forwards librdkafka's logs and hands each delivery report to
/// the [`Pending`] append it belongs to.
pub(super) struct ProducerCtx;

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
