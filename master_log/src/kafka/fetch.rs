//! Random-access reads: a pool of consumers that never join a group (librdkafka wants a
//! `group.id` for `assign`; they carry `lk-reader` and commit nothing), each assigned
//! to one partition at a time.
//!
//! A reader remembers the offset it delivers next. A fetch that continues where a reader
//! stopped takes that reader and keeps librdkafka's prefetched records; any other fetch
//! re-assigns a reader at the requested offset (an idle one when the pool is full, else
//! a new one). A reader that reached the end of its partition is paused while idle.

use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use super::{Ctx, KafkaLog, kerr, new_consumer, to_record};
use crate::error::{LogError, Result};
use crate::log::{FetchLimits, Log};
use crate::record::Record;

/// The group id readers carry (never joined, never committed to).
const READER_GROUP: &str = "lk-reader";

/// How long a fetch that has records waits for more before it returns them.
const MORE_WAIT: Duration = Duration::from_millis(20);

pub(super) struct Reader {
    consumer: BaseConsumer<Ctx>,
    /// The partition it is assigned to and the offset it delivers next.
    at: Option<(String, u32, u64)>,
    /// Paused while idle (see `fetch`): it has no prefetched records left.
    paused: bool,
}

pub(super) struct ReaderPool {
    /// Oldest first.
    idle: Mutex<Vec<Reader>>,
    max_idle: usize,
}

impl ReaderPool {
    pub(super) fn new(max_idle: usize) -> Self {
        ReaderPool {
            idle: Mutex::new(Vec::new()),
            max_idle: max_idle.max(1),
        }
    }

    /// The reader positioned at `offset` of the partition, or, when the pool is full, the
    /// oldest idle one (to be re-assigned); `None` means: make a new one.
    fn take(&self, topic: &str, partition: u32, offset: u64) -> Option<Reader> {
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

    fn put(&self, reader: Reader) {
        let mut idle = self.idle.lock();
        idle.push(reader);
        while idle.len() > self.max_idle {
            idle.remove(0);
        }
    }
}

fn record_size(r: &Record) -> usize {
    r.key.as_ref().map_or(0, |k| k.len())
        + r.value.as_ref().map_or(0, |v| v.len())
        + r.headers
            .iter()
            .map(|h| h.key.len() + h.value.len())
            .sum::<usize>()
        + 16
}

/// Records of `topic/partition` from `offset` (checked to be in `[earliest, latest)`).
pub(super) fn fetch(
    log: &KafkaLog,
    topic: &str,
    partition: u32,
    offset: u64,
    (earliest, latest): (u64, u64),
    limits: FetchLimits,
) -> Result<Vec<Record>> {
    let inner = &log.inner;
    let mut reader = match inner.readers.take(topic, partition, offset) {
        Some(r) => r,
        None => Reader {
            // librdkafka refuses `assign` without a group id; the group is never joined
            // (no subscribe) and nothing is committed.
            consumer: new_consumer(
                &inner.bootstrap,
                &inner.options,
                &log.client_id("fetch"),
                Some(READER_GROUP),
                false,
            )?,
            at: None,
            paused: false,
        },
    };
    let here = (topic.to_owned(), partition, offset);
    let deadline = Instant::now() + inner.options.fetch_timeout;
    let mut out: Vec<Record> = Vec::new();
    let mut bytes = 0usize;
    // A reader that continues where it stopped keeps its prefetched records; a paused
    // one has none left and is re-assigned (which starts fetching at once, where a
    // resume can wait for the broker thread's next wake-up, up to a second).
    if reader.at.as_ref() != Some(&here) || reader.paused {
        assign(&reader.consumer, topic, partition, offset)?;
        reader.paused = false;
    }
    reader.at = None;
    if inner.options.tansu_compat && offset > earliest {
        let first = step_back(
            log,
            &reader.consumer,
            topic,
            partition,
            offset,
            earliest,
            deadline,
        )?;
        if let Some(r) = first {
            bytes += record_size(&r);
            out.push(r);
        }
    }
    let outcome = loop {
        let next = out.last().map_or(offset, |r| r.offset + 1);
        if out.len() >= limits.max_records
            || (!out.is_empty() && (bytes >= limits.max_bytes || next >= latest))
        {
            break Ok(());
        }
        let wait = if out.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break Err(kerr(
                    "fetch",
                    format!(
                        "no record at or after offset {offset} of {topic}/{partition} arrived \
                         within {:?}, though the partition ends at {latest}",
                        inner.options.fetch_timeout
                    ),
                ));
            }
            left.min(Duration::from_millis(200))
        } else {
            MORE_WAIT
        };
        match reader.consumer.poll(wait) {
            None if out.is_empty() => continue,
            None => break Ok(()),
            Some(Ok(m)) => {
                if m.topic() != topic
                    || m.partition() != partition as i32
                    || m.offset() < next as i64
                {
                    continue;
                }
                let r = to_record(&m);
                bytes += record_size(&r);
                out.push(r);
            }
            Some(Err(e)) => break Err(poll_error(log, topic, partition, offset, e)),
        }
    };
    match outcome {
        Ok(()) => {
            let next = out.last().map_or(offset, |r| r.offset + 1);
            // A reader that reached the end is paused, so that it does not keep polling
            // the broker while idle (with `tansu_compat`, every idle reader: its fetches
            // do not wait at the broker, so an unpaused one would spin). One that has
            // not keeps prefetching for the next sequential fetch.
            let park = next >= latest || inner.options.tansu_compat;
            if !park || pause(&reader.consumer, topic, partition, true).is_ok() {
                reader.paused = park;
                reader.at = Some((topic.to_owned(), partition, next));
                inner.readers.put(reader);
            }
            Ok(out)
        }
        // The reader is dropped: its position is unknown.
        Err(e) => Err(e),
    }
}

fn assign(consumer: &BaseConsumer<Ctx>, topic: &str, partition: u32, offset: u64) -> Result<()> {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition as i32, Offset::Offset(offset as i64))
        .map_err(|e| kerr("fetch", e))?;
    consumer.assign(&tpl).map_err(|e| kerr("fetch", e))?;
    // A partition paused by an earlier use stays paused across assignments.
    pause(consumer, topic, partition, false)
}

/// Pause (or resume) fetching of the reader's partition: an idle reader does not keep
/// polling the broker.
fn pause(consumer: &BaseConsumer<Ctx>, topic: &str, partition: u32, on: bool) -> Result<()> {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(topic, partition as i32);
    if on {
        consumer.pause(&tpl)
    } else {
        consumer.resume(&tpl)
    }
    .map_err(|e| kerr("fetch", e))
}

/// The first record at or after `from` that the consumer delivers before `until`.
fn first_record(
    log: &KafkaLog,
    consumer: &BaseConsumer<Ctx>,
    topic: &str,
    partition: u32,
    from: u64,
    until: Instant,
) -> Result<Option<Record>> {
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        match consumer.poll(left.min(Duration::from_millis(200))) {
            Some(Ok(m))
                if m.topic() == topic
                    && m.partition() == partition as i32
                    && m.offset() >= from as i64 =>
            {
                return Ok(Some(to_record(&m)));
            }
            Some(Ok(_)) | None => {}
            Some(Err(e)) => return Err(poll_error(log, topic, partition, from, e)),
        }
    }
}

/// How long `step_back` waits for a record before it steps further back. A broker that
/// has the data answers at once (tansu is asked not to wait); a miss only costs one more
/// step, never a wrong answer.
const STEP_WAIT: Duration = Duration::from_millis(50);

/// `tansu_compat`: a broker that serves only whole batches starting at or after the
/// fetch offset skips the rest of the batch holding `offset` (or sends nothing when it
/// is the last batch). Step back (1, 2, 4, … offsets) until the first record delivered
/// is at or before `offset`, and leave the consumer reading there. Returns the first
/// record if it is at or after `offset` (the caller keeps it).
fn step_back(
    log: &KafkaLog,
    consumer: &BaseConsumer<Ctx>,
    topic: &str,
    partition: u32,
    offset: u64,
    earliest: u64,
    deadline: Instant,
) -> Result<Option<Record>> {
    let quick = || (Instant::now() + STEP_WAIT).min(deadline);
    if let Some(r) = first_record(log, consumer, topic, partition, offset, quick())?
        && r.offset == offset
    {
        return Ok(Some(r));
    }
    let mut back = 1u64;
    loop {
        let from = offset.saturating_sub(back).max(earliest);
        assign(consumer, topic, partition, from)?;
        let until = if from == earliest { deadline } else { quick() };
        match first_record(log, consumer, topic, partition, from, until)? {
            Some(r) if r.offset <= offset => return Ok((r.offset == offset).then_some(r)),
            // Nothing at or before `offset` from the partition's start: a gap (compaction).
            Some(r) if from == earliest => return Ok(Some(r)),
            None if from == earliest => {
                return Err(kerr(
                    "fetch",
                    format!(
                        "no record at or after offset {offset} of {topic}/{partition} arrived in time"
                    ),
                ));
            }
            _ => {}
        }
        back = back.saturating_mul(2);
    }
}

/// An error from polling: an out-of-range position (retention moved the start past it)
/// is [`LogError::OffsetOutOfRange`] with fresh offsets.
fn poll_error(log: &KafkaLog, topic: &str, partition: u32, offset: u64, e: KafkaError) -> LogError {
    match e.rdkafka_error_code() {
        Some(RDKafkaErrorCode::OffsetOutOfRange | RDKafkaErrorCode::AutoOffsetReset) => {
            match log.offsets(topic, partition) {
                Ok((earliest, latest)) => LogError::OffsetOutOfRange {
                    topic: topic.to_owned(),
                    partition,
                    offset,
                    earliest,
                    latest,
                },
                Err(e) => e,
            }
        }
        _ => kerr("fetch", format!("{topic}/{partition} at {offset}: {e}")),
    }
}

/// The end of `topic/partition` as a fetch sees it: read from `listed - 1` (the last
/// record ListOffsets admits to) until the consumer reports the end of the partition,
/// which librdkafka does when its position reaches the fetch's high watermark.
pub(super) fn end_by_fetch(
    log: &KafkaLog,
    topic: &str,
    partition: u32,
    listed: u64,
) -> Result<u64> {
    if listed == 0 {
        return Ok(0);
    }
    let inner = &log.inner;
    let mut guard = inner.prober.lock();
    if guard.is_none() {
        *guard = Some(new_consumer(
            &inner.bootstrap,
            &inner.options,
            &log.client_id("probe"),
            Some(READER_GROUP),
            true,
        )?);
    }
    let consumer = guard.as_ref().expect("just set");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition as i32, Offset::Offset(listed as i64 - 1))
        .map_err(|e| kerr("list offsets", e))?;
    consumer.assign(&tpl).map_err(|e| kerr("list offsets", e))?;
    let deadline = Instant::now() + inner.options.fetch_timeout;
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
                    && m.offset() >= listed as i64 - 1 =>
            {
                end = end.max(m.offset() as u64 + 1);
            }
            Some(Ok(_)) => {}
            Some(Err(KafkaError::PartitionEOF(p))) if p == partition as i32 => break Ok(end),
            // Not `poll_error`: its fresh offsets would come back here.
            Some(Err(e)) => break Err(kerr("list offsets", format!("{topic}/{partition}: {e}"))),
            None => {}
        }
    };
    let _ = consumer.unassign();
    outcome
}
