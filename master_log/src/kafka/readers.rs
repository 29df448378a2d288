//! Random-access reads: a pool of consumers that never join a group (librdkafka wants a
//! `group.id` for `assign`; they carry `lk-reader` and commit nothing), each assigned
//! to one partition at a time.
//!
//! A reader remembers the offset it delivers next. A fetch that continues where a reader
//! stopped takes that reader and keeps librdkafka's prefetched records; any other fetch
//! re-assigns a reader at the requested offset (an idle one when the pool is full, else
//! a new one). A reader that reached the end of its partition is paused while idle.

use parking_lot::Mutex;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use super::client::{Ctx, client_id, kerr, new_consumer};
use super::options::KafkaOptions;
use crate::error::Result;

/// The group id readers carry (never joined, never committed to).
pub(super) const READER_GROUP: &str = "lk-reader";

/// A consumer of the pool and where it stands.
pub(super) struct Reader {
    pub(super) consumer: BaseConsumer<Ctx>,
    /// The partition it is assigned to and the offset it delivers next.
    pub(super) at: Option<(String, u32, u64)>,
    /// Paused while idle (see `fetch`): it has no prefetched records left.
    pub(super) paused: bool,
}

impl Reader {
    /// A new reader, assigned to nothing yet.
    pub(super) fn new(bootstrap: &str, options: &KafkaOptions) -> Result<Reader> {
        Ok(Reader {
            // librdkafka refuses `assign` without a group id; the group is never joined
            // (no subscribe) and nothing is committed.
            consumer: new_consumer(
                bootstrap,
                options,
                &client_id("fetch"),
                Some(READER_GROUP),
                false,
            )?,
            at: None,
            paused: false,
        })
    }
}

/// The idle readers, for the next fetches to take.
pub(super) struct ReaderPool {
    /// Oldest first.
    idle: Mutex<Vec<Reader>>,
    max_idle: usize,
}

impl ReaderPool {
    /// A pool that keeps up to `max_idle` idle readers (at least 1).
    pub(super) fn new(max_idle: usize) -> Self {
        ReaderPool {
            idle: Mutex::new(Vec::new()),
            max_idle: max_idle.max(1),
        }
    }

    /// The reader positioned at `offset` of the partition, or, when the pool is full, the
    /// oldest idle one (to be re-assigned); `None` means: make a new one.
    pub(super) fn take(&self, topic: &str, partition: u32, offset: u64) -> Option<Reader> {
        let mut idle = self.idle.lock();
        if let Some(i) = idle.iter().position(|r| {
            r.at.as_ref()
                .is_some_and(|(t, p, o)| t == topic && *p == partition && *o == offset)
        }) {
            return Some(idle.remove(i));
        }
        if idle.len() >= self.max_idle {
            return Some(idle.remove(0));
        }
        None
    }

    /// Close the idle readers of `topic` (before it is deleted: a reader still
    /// prefetching from a deleted topic gets answers on which librdkafka has crashed with
    /// tansu — see the module docs of `kafka`, "Against tansu").
    pub(super) fn forget_topic(&self, topic: &str) {
        let closing: Vec<Reader> = {
            let mut idle = self.idle.lock();
            let (gone, kept) = std::mem::take(&mut *idle)
                .into_iter()
                .partition(|r| r.at.as_ref().is_some_and(|(t, _, _)| t == topic));
            *idle = kept;
            gone
        };
        drop(closing);
    }

    /// Keep `reader` for later fetches, closing the oldest idle one beyond the limit.
    pub(super) fn put(&self, reader: Reader) {
        let mut idle = self.idle.lock();
        idle.push(reader);
        while idle.len() > self.max_idle {
            idle.remove(0);
        }
    }
}

/// Assign the reader's consumer to `topic/partition` at `offset` (and resume it).
pub(super) fn assign(
    consumer: &BaseConsumer<Ctx>,
    topic: &str,
    partition: u32,
    offset: u64,
) -> Result<()> {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition as i32, Offset::Offset(offset as i64))
        .map_err(|e| kerr("fetch", e))?;
    consumer.assign(&tpl).map_err(|e| kerr("fetch", e))?;
    // A partition paused by an earlier use stays paused across assignments.
    pause(consumer, topic, partition, false)
}

/// Pause (or resume) fetching of the reader's partition: an idle reader does not keep
/// polling the broker.
pub(super) fn pause(
    consumer: &BaseConsumer<Ctx>,
    topic: &str,
    partition: u32,
    on: bool,
) -> Result<()> {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(topic, partition as i32);
    if on {
        consumer.pause(&tpl)
    } else {
        consumer.resume(&tpl)
    }
    .map_err(|e| kerr("fetch", e))
}
