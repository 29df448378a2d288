//! Appending: every record is produced to the named partition with the idempotent
//! producer, and the append waits for all their delivery reports (see `producer`).

use std::sync::Arc;
use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::BaseRecord;

use super::client::{code_of, kerr};
use super::conn::Inner;
use super::message::{EVENT_TIME_HEADER, headers_of};
use super::producer::{PRODUCER_MAX_MESSAGE_BYTES, Pending};
use crate::clock::now_ms;
use crate::config::TopicConfig;
use crate::error::{LogError, Result};
use crate::partition::Appended;
use crate::record::NewRecord;

impl Inner {
    /// Append `records` to `topic/partition`: checked, sent, and acknowledged.
    pub(super) fn append(
        &self,
        topic: &str,
        partition: u32,
        records: &[NewRecord],
    ) -> Result<Appended> {
        if records.is_empty() {
            return Err(LogError::InvalidConfig("nothing to append".into()));
        }
        let meta = self.check_partition(topic, partition)?;
        let max = (meta.config.max_record_bytes as usize).min(PRODUCER_MAX_MESSAGE_BYTES);
        check_records(topic, &meta.config, max, records)?;
        let pending = Arc::new(Pending::new(records.len()));
        let now = now_ms();
        self.send_records(topic, partition, records, &pending, now);
        let wait = self.options.delivery_timeout + Duration::from_secs(10);
        let Some(mut s) = pending.wait(wait) else {
            return Err(kerr(
                "append",
                format!("no delivery report within {wait:?} for {topic}/{partition}"),
            ));
        };
        if s.first != u64::MAX {
            // Something landed: wake listeners even if part of the append failed.
            self.notify_appended(topic);
        }
        if let Some(e) = s.error.take() {
            return Err(self.delivery_error(topic, partition, records, max, e));
        }
        if matches!(self.options.acks.as_str(), "0") || s.first == u64::MAX {
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

    /// Hand every record to the producer, stamped `now`, waiting while its queue is full.
    /// Records not handed over are reported failed to `pending` at once; those before
    /// them still get their delivery reports.
    fn send_records(
        &self,
        topic: &str,
        partition: u32,
        records: &[NewRecord],
        pending: &Arc<Pending>,
        now: i64,
    ) {
        for (i, r) in records.iter().enumerate() {
            let mut rec: BaseRecord<'_, [u8], [u8], Arc<Pending>> =
                BaseRecord::with_opaque_to(topic, pending.clone())
                    .partition(partition as i32)
                    .timestamp(now)
                    .headers(headers_of(r));
            if let Some(k) = &r.key {
                rec = rec.key(&k[..]);
            }
            if let Some(v) = &r.value {
                rec = rec.payload(&v[..]);
            }
            let sent = loop {
                match self.producer.send(rec) {
                    Ok(()) => break Ok(()),
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        rec = back;
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    Err((e, _)) => break Err(e),
                }
            };
            if let Err(e) = sent {
                pending.report(records.len() - i, Err(e));
                break;
            }
        }
    }

    /// The error of an append whose delivery failed with `e`.
    fn delivery_error(
        &self,
        topic: &str,
        partition: u32,
        records: &[NewRecord],
        max: usize,
        e: KafkaError,
    ) -> LogError {
        match code_of(&e) {
            Some(RDKafkaErrorCode::MessageSizeTooLarge) => LogError::RecordTooLarge {
                size: records
                    .iter()
                    .map(NewRecord::encoded_len)
                    .max()
                    .unwrap_or(0),
                max,
            },
            Some(RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic) => {
                self.topics.write().remove(topic);
                LogError::UnknownTopic(topic.to_owned())
            }
            _ => kerr("append", format!("{topic}/{partition}: {e}")),
        }
    }
}

/// The checks made before anything is sent: record size (at most `max`), a key on a
/// compacted topic, and the reserved header name.
fn check_records(
    topic: &str,
    config: &TopicConfig,
    max: usize,
    records: &[NewRecord],
) -> Result<()> {
    for r in records {
        let size = r.encoded_len();
        if size > max {
            return Err(LogError::RecordTooLarge { size, max });
        }
        if config.compact && r.key.is_none() {
            return Err(LogError::KeyRequired(topic.to_owned()));
        }
        if r.headers.iter().any(|h| h.key == EVENT_TIME_HEADER) {
            return Err(LogError::InvalidConfig(format!(
                "the header name {EVENT_TIME_HEADER} is reserved for the event time"
            )));
        }
    }
    Ok(())
}
