//! Reading: [`Inner::fetch`] through the pool of readers (see `readers`), stepping back
//! to the start of a batch when the broker needs it (`tansu_compat`, or a broker found
//! to list short end offsets: see `offsets`), and [`Inner::offset_for_time`],
//! answered exactly by reading forward from the broker's answer.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use super::client::{Ctx, kerr, offsets_error};
use super::conn::Inner;
use super::message::to_record;
use super::readers::{Reader, assign, pause};
use crate::error::{LogError, Result};
use crate::log::FetchLimits;
use crate::record::Record;

/// How long a fetch that has records waits for more before it returns them.
const MORE_WAIT: Duration = Duration::from_millis(20);

/// How long a pooled reader, re-assigned to a fetch's position, may deliver nothing before
/// the fetch goes on with a new reader (the records are known to be there).
const REUSED_STALL: Duration = Duration::from_secs(3);

/// The size a fetched record counts for against [`FetchLimits::max_bytes`].
fn record_size(r: &Record) -> usize {
    r.key.as_ref().map_or(0, |k| k.len())
        + r.value.as_ref().map_or(0, |v| v.len())
        + r.headers
            .iter()
            .map(|h| h.key.len() + h.value.len())
            .sum::<usize>()
        + 16
}

impl Inner {
    /// Up to `limits` of the records of `topic/partition` from `offset`. A fetch at or
    /// past the listed end, and one that reads up to it, has the end confirmed by a fetch
    /// there (see `offsets`): an empty answer means the partition holds nothing more.
    pub(super) fn fetch(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        limits: FetchLimits,
    ) -> Result<Vec<Record>> {
        self.check_partition(topic, partition)?;
        let (earliest, mut latest) = self.offsets(topic, partition)?;
        if offset >= latest && offset >= earliest {
            latest = self.confirm_end(topic, partition, latest)?;
        }
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
        let records = self.read(topic, partition, offset, (earliest, latest), limits)?;
        if records.last().is_some_and(|r| r.offset + 1 >= latest) {
            // Read to the listed end: confirmed before anyone takes it for the end.
            self.confirm_end(topic, partition, latest)?;
        }
        Ok(records)
    }

    /// The first offset of `topic/partition` whose append time is at or after `time_ms`.
    pub(super) fn offset_for_time(
        &self,
        topic: &str,
        partition: u32,
        time_ms: i64,
    ) -> Result<Option<u64>> {
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
            .meta
            .offsets_for_times(tpl, self.options.request_timeout)
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

    /// Records of `topic/partition` from `offset` (checked to be in `[earliest, latest)`),
    /// read by a reader of the pool, or by a new one when the pool has none, or when the
    /// pooled one delivers nothing within [`REUSED_STALL`] (a re-assigned librdkafka
    /// consumer has been seen, under load, never to start fetching its new partition; a
    /// new consumer has no such state).
    fn read(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        range: (u64, u64),
        limits: FetchLimits,
    ) -> Result<Vec<Record>> {
        if let Some(reader) = self.readers.take(topic, partition, offset) {
            let stall = Some(Instant::now() + REUSED_STALL);
            if let Some(out) =
                self.read_with(reader, stall, topic, partition, offset, range, limits)?
            {
                return Ok(out);
            }
            tracing::debug!(
                topic,
                partition,
                offset,
                "a pooled reader delivered nothing in {REUSED_STALL:?}: reading with a new one"
            );
        }
        let reader = Reader::new(&self.bootstrap, &self.options)?;
        let out = self.read_with(reader, None, topic, partition, offset, range, limits)?;
        Ok(out.unwrap_or_default())
    }

    /// [`Inner::read`] with `reader`; `None` when nothing arrived by `stall` (the reader
    /// is then dropped).
    #[allow(clippy::too_many_arguments)]
    fn read_with(
        &self,
        mut reader: Reader,
        stall: Option<Instant>,
        topic: &str,
        partition: u32,
        offset: u64,
        (earliest, latest): (u64, u64),
        limits: FetchLimits,
    ) -> Result<Option<Vec<Record>>> {
        let here = (topic.to_owned(), partition, offset);
        let deadline = Instant::now() + self.options.fetch_timeout;
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
        if self.fetch_end.load(Ordering::Relaxed) && offset > earliest {
            let first = step_back(
                self,
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
                break Ok(true);
            }
            let wait = if out.is_empty() {
                if stall.is_some_and(|at| Instant::now() >= at) {
                    break Ok(false);
                }
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break Err(kerr(
                        "fetch",
                        format!(
                            "no record at or after offset {offset} of {topic}/{partition} arrived \
                             within {:?}, though the partition ends at {latest}",
                            self.options.fetch_timeout
                        ),
                    ));
                }
                left.min(Duration::from_millis(200))
            } else {
                MORE_WAIT
            };
            match reader.consumer.poll(wait) {
                None if out.is_empty() => continue,
                None => break Ok(true),
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
                Some(Err(e)) => break Err(poll_error(self, topic, partition, offset, e)),
            }
        };
        match outcome {
            Ok(false) => Ok(None),
            Ok(true) => {
                let next = out.last().map_or(offset, |r| r.offset + 1);
                // A reader that reached the end is paused, so that it does not keep polling
                // the broker while idle (with `tansu_compat`, every idle reader: its fetches
                // do not wait at the broker, so an unpaused one would spin). One that has
                // not keeps prefetching for the next sequential fetch.
                let park = next >= latest || self.options.tansu_compat;
                if !park || pause(&reader.consumer, topic, partition, true).is_ok() {
                    reader.paused = park;
                    reader.at = Some((topic.to_owned(), partition, next));
                    self.readers.put(reader);
                }
                Ok(Some(out))
            }
            // The reader is dropped: its position is unknown.
            Err(e) => Err(e),
        }
    }
}

/// The first record at or after `from` that the consumer delivers before `until`.
fn first_record(
    inner: &Inner,
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
            Some(Err(e)) => return Err(poll_error(inner, topic, partition, from, e)),
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
    inner: &Inner,
    consumer: &BaseConsumer<Ctx>,
    topic: &str,
    partition: u32,
    offset: u64,
    earliest: u64,
    deadline: Instant,
) -> Result<Option<Record>> {
    let quick = || (Instant::now() + STEP_WAIT).min(deadline);
    if let Some(r) = first_record(inner, consumer, topic, partition, offset, quick())?
        && r.offset == offset
    {
        return Ok(Some(r));
    }
    let mut back = 1u64;
    loop {
        let from = offset.saturating_sub(back).max(earliest);
        assign(consumer, topic, partition, from)?;
        let until = if from == earliest { deadline } else { quick() };
        match first_record(inner, consumer, topic, partition, from, until)? {
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
fn poll_error(inner: &Inner, topic: &str, partition: u32, offset: u64, e: KafkaError) -> LogError {
    match e.rdkafka_error_code() {
        Some(RDKafkaErrorCode::OffsetOutOfRange | RDKafkaErrorCode::AutoOffsetReset) => {
            match inner.offsets(topic, partition) {
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
