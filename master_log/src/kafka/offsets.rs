//! Offsets: a partition's watermarks (ListOffsets earliest and latest), with the end
//! confirmed by reading the last batch when `tansu_compat` is on — or once a fetch has
//! found the broker's listed end wrong — and a topic's description built from them.
//!
//! "Caught up" is never taken from ListOffsets alone: a reader that reaches the listed
//! end (or asks for records there) has it confirmed by a fetch at that position
//! (`confirm_end`). When the fetch finds records past it, the log warns and switches to
//! fetch-based end detection for good, so that no one sees lag 0 while records remain.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use super::client::{client_id, kerr, new_consumer, offsets_error};
use super::conn::Inner;
use super::readers::READER_GROUP;
use crate::config::INTERNAL_PREFIX;
use crate::error::Result;
use crate::log::{PartitionInfo, TopicDescription, TopicInfo};

impl Inner {
    /// The earliest and latest offsets of `topic/partition`.
    pub(super) fn offsets(&self, topic: &str, partition: u32) -> Result<(u64, u64)> {
        self.check_partition(topic, partition)?;
        let (lo, hi) = self
            .meta
            .fetch_watermarks(topic, partition as i32, self.options.request_timeout)
            .map_err(|e| offsets_error(topic, e))?;
        let hi = self.confirm_latest(topic, partition, hi.max(0) as u64)?;
        Ok((lo.max(0) as u64, hi))
    }

    /// The latest offset of every partition of `topic`.
    pub(super) fn end_offsets(&self, topic: &str) -> Result<Vec<u64>> {
        let partitions = self.partition_count(topic)?;
        self.latest_offsets(topic, partitions)
    }

    /// A topic's configuration and the watermarks of its partitions.
    pub(super) fn describe_topic(&self, name: &str) -> Result<TopicDescription> {
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

    /// requests.
    fn all_watermarks(&self, topic: &str, partitions: u32) -> Result<Vec<(u64, u64)>> {
        let query = |at: Offset| -> Result<Vec<u64>> {
            let mut tpl = TopicPartitionList::with_capacity(partitions as usize);
            for p in 0..partitions {
                tpl.add_partition_offset(topic, p as i32, at)
                    .map_err(|e| kerr("list offsets", e))?;
            }
            let res = self
                .meta
                .offsets_for_times(tpl, self.options.request_timeout)
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

    /// The latest offset `listed` by ListOffsets, or, with fetch-based end detection
    /// (`tansu_compat`, or after a fetch found the listed end wrong), the end of the
    /// partition as a fetch from `listed - 1` sees it.
    fn confirm_latest(&self, topic: &str, partition: u32, listed: u64) -> Result<u64> {
        if self.fetch_end.load(Ordering::Relaxed) {
            self.end_by_fetch(topic, partition, listed)
        } else {
            Ok(listed)
        }
    }

    /// Confirm that `listed`, the end of `topic/partition` as [`Inner::offsets`] gave
    /// it, is where a fetch finds nothing more, and return the end a fetch sees. When
    /// records lie past it, the broker's end offsets disagree with its fetches: warn, and
    /// switch this log to fetch-based end detection. An end confirmed once is not asked
    /// again while the broker lists the same.
    pub(super) fn confirm_end(&self, topic: &str, partition: u32, listed: u64) -> Result<u64> {
        if self.fetch_end.load(Ordering::Relaxed) {
            return Ok(listed);
        }
        let key = (topic.to_owned(), partition);
        if self.confirmed_ends.lock().get(&key) == Some(&listed) {
            return Ok(listed);
        }
        let seen = self.probe_end(topic, partition, listed.saturating_sub(1), listed)?;
        if seen > listed {
            tracing::warn!(
                topic,
                partition,
                "the broker lists the end of {topic}/{partition} at offset {listed}, but a fetch \
                 there returned records up to offset {}: its end offsets are not to be trusted; \
                 switching to fetch-based end detection",
                seen - 1
            );
            self.fetch_end.store(true, Ordering::Relaxed);
            return Ok(seen);
        }
        self.confirmed_ends.lock().insert(key, listed);
        Ok(listed)
    }

    /// Latest offsets of every partition as ListOffsets reports them, in one request
    /// (the listen thread's poll: any change of them is news).
    pub(super) fn listed_latest_offsets(&self, topic: &str, partitions: u32) -> Result<Vec<u64>> {
        let mut tpl = TopicPartitionList::with_capacity(partitions as usize);
        for p in 0..partitions {
            tpl.add_partition_offset(topic, p as i32, Offset::End)
                .map_err(|e| kerr("list offsets", e))?;
        }
        let res = self
            .meta
            .offsets_for_times(tpl, self.options.request_timeout)
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

    /// The end of `topic/partition` as a fetch sees it: read from `listed - 1` (the last
    /// record ListOffsets admits to) until the consumer reports the end of the partition,
    /// which librdkafka does when its position reaches the fetch's high watermark.
    fn end_by_fetch(&self, topic: &str, partition: u32, listed: u64) -> Result<u64> {
        if listed == 0 {
            return Ok(0);
        }
        self.probe_end(topic, partition, listed - 1, listed)
    }

    /// Close the end-offset prober (before a topic is deleted): a consumer that read the
    /// topic may still have a fetch in flight, and its answer after the deletion has
    /// crashed librdkafka with tansu (see the module docs of `kafka`, "Against tansu").
    /// The next probe opens a new one.
    pub(super) fn close_prober(&self) {
        let prober = self.prober.lock().take();
        drop(prober);
    }

    /// Read `topic/partition` from `from` until the consumer reports its end; the offset
    /// after the last record seen, and at least `listed`.
    fn probe_end(&self, topic: &str, partition: u32, from: u64, listed: u64) -> Result<u64> {
        let mut guard = self.prober.lock();
        if guard.is_none() {
            *guard = Some(new_consumer(
                &self.bootstrap,
                &self.options,
                &client_id("probe"),
                Some(READER_GROUP),
                true,
            )?);
        }
        let consumer = guard.as_ref().expect("just set");
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, partition as i32, Offset::Offset(from as i64))
            .map_err(|e| kerr("list offsets", e))?;
        consumer.assign(&tpl).map_err(|e| kerr("list offsets", e))?;
        let deadline = Instant::now() + self.options.fetch_timeout;
        let mut end = listed;
        let outcome = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break Err(kerr(
                    "list offsets",
                    format!("reading the end of {topic}/{partition} did not finish in time"),
                ));
            }
            match consumer.poll(left.min(Duration::from_millis(200))) {
                Some(Ok(m))
                    if m.topic() == topic
                        && m.partition() == partition as i32
                        && m.offset() >= from as i64 =>
                {
                    end = end.max(m.offset() as u64 + 1);
                }
                Some(Ok(_)) => {}
                Some(Err(KafkaError::PartitionEOF(p))) if p == partition as i32 => break Ok(end),
                // Not `poll_error`: its fresh offsets would come back here.
                Some(Err(e)) => {
                    break Err(kerr("list offsets", format!("{topic}/{partition}: {e}")));
                }
                None => {}
            }
        };
        let _ = consumer.unassign();
        outcome
    }
}
