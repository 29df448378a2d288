//! The generator framework: options, the arrival model, and writing to the log.
//!
//! Each dataset ([`crate::pageviews`], [`crate::ysb`], [`crate::nexmark`]) only says how
//! to make event number `i` at event time `t`. This module decides *when each event
//! arrives* and writes the events to the log in arrival order:
//!
//! ```text
//!  i = 0, 1, 2, …            event_time(i) = start_ms + i·1000 / event_rate   (no clock)
//!      │ dataset.make(i, t)  key + value bytes
//!      ▼
//!  delay: in order 0 · out of order U[1, max_delay] · late U[late_delay, 2·late_delay]
//!      │ arrival = event_time + delay;  duplicate: a 2nd copy at arrival + U[1, max(max_delay, 1s)]
//!      ▼
//!  reordering heap by (arrival, seq) — pops everything with arrival ≤ the next event time,
//!      │ so it holds only the events in flight (bounded by rate × longest delay)
//!      ▼
//!  per-partition buffers (Kafka's murmur2 of the key) ──append batches──► Log
//! ```
//!
//! Everything above is a function of the seed and the options, so the same seed and
//! options give the same keys, values, event times, partitions and offsets (only the
//! log's append times differ). Random draws for contents, disorder and duplicates come
//! from separate streams: changing the disorder options does not change which events
//! are generated.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use master_log::{Log, NewRecord, partition_for_key};
use serde::{Deserialize, Serialize};

use crate::error::{DatasetError, Result};
use crate::generate_options::{DatasetKind, GenerateOptions, GenerateSummary};
use crate::progress::{Phase, Progress, ProgressFn, REPORT_EVERY};
use crate::rng::{Rng, Threshold};
use crate::sidecar::{self, TopicContent};
use crate::source::{Source, streams};
use crate::topic::{ensure_topic, topic_records};

/// How a record arrived relative to its event time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arrival {
    /// At its event time.
    InOrder,
    /// Up to `max_delay` after its event time.
    OutOfOrder,
    /// `late_delay` or more after its event time.
    Late,
    /// A second copy of an event already sent.
    Duplicate,
}

/// One record as the generator emits it, in arrival order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedRecord {
    /// The event's id (`0..events`; a duplicate has its original's).
    pub event_id: u64,
    /// The record key (decides the partition).
    pub key: Bytes,
    /// The encoded event.
    pub value: Bytes,
    /// The event time, ms since the Unix epoch.
    pub event_time: i64,
    /// When the modelled producer sent it (ms, on the event-time clock).
    pub arrival_time: i64,
    /// How the record arrived relative to its event time.
    pub arrival: Arrival,
    /// Index into the dataset's kind names ([`kind_names`]).
    pub kind: usize,
}

/// Names of the event kinds a dataset counts separately, indexed by
/// [`GeneratedRecord::kind`].
pub fn kind_names(dataset: DatasetKind) -> &'static [&'static str] {
    match dataset {
        DatasetKind::Pageviews => crate::pageviews::KINDS,
        DatasetKind::Ysb => crate::ysb::KINDS,
        DatasetKind::Nexmark => crate::nexmark::KINDS,
    }
}

fn source_for(opts: &GenerateOptions) -> Box<dyn Source> {
    match opts.dataset {
        DatasetKind::Pageviews => Box::new(crate::pageviews::PageviewSource::new(opts)),
        DatasetKind::Ysb => Box::new(crate::ysb::YsbSource::new(opts)),
        DatasetKind::Nexmark => Box::new(crate::nexmark::NexmarkSource::new(opts)),
    }
}

struct Pending {
    arrival: i64,
    seq: u64,
    rec: GeneratedRecord,
}

impl PartialEq for Pending {
    fn eq(&self, o: &Self) -> bool {
        (self.arrival, self.seq) == (o.arrival, o.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Pending {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.arrival, self.seq).cmp(&(o.arrival, o.seq))
    }
}

/// The generator as an iterator of records in arrival order, without a log: what
/// [`generate`] writes, for tests, oracles and custom sinks.
pub struct Generator {
    opts: GenerateOptions,
    source: Box<dyn Source>,
    next_event: u64,
    seq: u64,
    heap: BinaryHeap<Reverse<Pending>>,
    ready: Option<GeneratedRecord>,
    disorder: Rng,
    dup_rng: Rng,
    late_t: u64,
    disorder_t: u64,
    dup_t: Threshold,
    arena: BytesMut,
    key_buf: Vec<u8>,
    value_buf: Vec<u8>,
    failed: bool,
}

impl std::fmt::Debug for Generator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Generator")
            .field("opts", &self.opts)
            .field("next_event", &self.next_event)
            .field("in_flight", &self.heap.len())
            .finish()
    }
}

impl Generator {
    /// A generator for `opts` (validated first).
    pub fn new(opts: &GenerateOptions) -> Result<Self> {
        opts.validate()?;
        let late = Threshold::new(opts.late);
        let disorder = Threshold::new(opts.late + opts.out_of_order);
        Ok(Self {
            opts: opts.clone(),
            source: source_for(opts),
            next_event: 0,
            seq: 0,
            heap: BinaryHeap::new(),
            ready: None,
            disorder: Rng::new(opts.seed, streams::DISORDER),
            dup_rng: Rng::new(opts.seed, streams::DUPLICATES),
            late_t: late.raw(),
            disorder_t: disorder.raw(),
            dup_t: Threshold::new(opts.duplicates),
            arena: BytesMut::with_capacity(1 << 20),
            key_buf: Vec::with_capacity(64),
            value_buf: Vec::with_capacity(256),
            failed: false,
        })
    }

    /// Records waiting in the reordering buffer.
    pub fn in_flight(&self) -> usize {
        self.heap.len()
    }

    fn event_time(&self, i: u64) -> i64 {
        let rate = u128::from(self.opts.effective_event_rate());
        let offset = (u128::from(i) * 1000 / rate).min(i64::MAX as u128) as i64;
        self.opts.start_ms.saturating_add(offset)
    }

    fn freeze(arena: &mut BytesMut, bytes: &[u8]) -> Bytes {
        if arena.capacity() - arena.len() < bytes.len() {
            arena.reserve(bytes.len().max(1 << 20));
        }
        arena.extend_from_slice(bytes);
        arena.split().freeze()
    }

    fn push(&mut self, arrival: i64, rec: GeneratedRecord) {
        self.seq += 1;
        self.heap.push(Reverse(Pending {
            arrival,
            seq: self.seq,
            rec,
        }));
    }

    /// Make the next event; it either is ready at once or goes into the heap.
    fn make_next(&mut self) -> Result<()> {
        let i = self.next_event;
        self.next_event += 1;
        let t = self.event_time(i);
        self.key_buf.clear();
        self.value_buf.clear();
        let kind = self.source.make(
            i,
            t,
            self.opts.codec,
            &mut self.key_buf,
            &mut self.value_buf,
        )?;
        let key = Self::freeze(&mut self.arena, &self.key_buf);
        let value = Self::freeze(&mut self.arena, &self.value_buf);
        let r = self.disorder.next_u64();
        let (arrival, delay) = if self.late_t != 0 && r < self.late_t {
            let d = self.opts.late_delay_ms;
            (
                Arrival::Late,
                self.disorder.range_inclusive(d, d.saturating_mul(2)),
            )
        } else if self.disorder_t != 0 && r < self.disorder_t {
            let d = self.opts.max_delay_ms;
            (Arrival::OutOfOrder, self.disorder.range_inclusive(1, d))
        } else {
            (Arrival::InOrder, 0)
        };
        let arrival_time = t.saturating_add(delay as i64);
        let rec = GeneratedRecord {
            event_id: i,
            key,
            value,
            event_time: t,
            arrival_time,
            arrival,
            kind,
        };
        if self.dup_rng.chance(self.dup_t) {
            let gap = self
                .dup_rng
                .range_inclusive(1, self.opts.max_delay_ms.max(1_000));
            let dup_arrival = arrival_time.saturating_add(gap as i64);
            let dup = GeneratedRecord {
                arrival_time: dup_arrival,
                arrival: Arrival::Duplicate,
                ..rec.clone()
            };
            self.push(dup_arrival, dup);
        }
        if delay == 0 {
            self.ready = Some(rec);
        } else {
            self.push(arrival_time, rec);
        }
        Ok(())
    }

    fn next_record(&mut self) -> Result<Option<GeneratedRecord>> {
        loop {
            // Everything that arrives no later than the next event's event time can go:
            // no future event arrives earlier (delays are never negative).
            let horizon = if self.next_event < self.opts.events {
                self.event_time(self.next_event)
            } else {
                i64::MAX
            };
            if let Some(ready) = &self.ready {
                // A just-made in-order event goes after heap entries arriving no later.
                let first_heap = self.heap.peek().map(|p| p.0.arrival);
                if first_heap.is_none_or(|a| a > ready.arrival_time) {
                    return Ok(self.ready.take());
                }
            }
            if let Some(top) = self.heap.peek()
                && (top.0.arrival <= horizon || self.ready.is_some())
            {
                return Ok(self.heap.pop().map(|p| p.0.rec));
            }
            if let Some(r) = self.ready.take() {
                return Ok(Some(r));
            }
            if self.next_event >= self.opts.events {
                return Ok(None);
            }
            self.make_next()?;
        }
    }
}

impl Iterator for Generator {
    type Item = Result<GeneratedRecord>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.next_record() {
            Ok(r) => r.map(Ok),
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// Generate `opts.events` events into `opts.topic` of `log`, creating the topic with
/// `opts.partitions` partitions if it does not exist.
///
/// With `sidecar_dir` (e.g. `<data>/datasets`), writes the summary to
/// `<sidecar_dir>/<topic>.json` and, for YSB, the ad → campaign table to
/// `<sidecar_dir>/<topic>.campaigns.csv`. Calls `progress` about every 64 Ki records.
///
/// With `sidecar_dir` and no real-time pacing (`opts.rate` unset), generating is atomic
/// like an import (see [`crate::staging`]): interrupted runs into the topic are recovered
/// first, the records are staged, and they, the campaign table and the summary are
/// published after a commit marker. A paced run is a live stream — its records are
/// meant to be read as they come — so it writes straight to the topic, as a run without
/// `sidecar_dir` does, and an interrupted one leaves what it wrote.
pub fn generate(
    log: &dyn Log,
    opts: &GenerateOptions,
    sidecar_dir: Option<&Path>,
    progress: &mut ProgressFn<'_>,
) -> Result<GenerateSummary> {
    opts.validate()?;
    crate::staging::check_target_name(&opts.topic)?;
    let started = Instant::now();
    if let Some(dir) = sidecar_dir {
        crate::staging::recover(log, dir, &opts.topic)?;
    }
    if !opts.append {
        let records = topic_records(log, &opts.topic)?;
        if records > 0 {
            return Err(DatasetError::TopicNotEmpty {
                topic: opts.topic.clone(),
                records,
            });
        }
    }
    match sidecar_dir {
        Some(dir) if opts.rate.is_none() => generate_staged(log, opts, dir, started, progress),
        _ => {
            let partitions = ensure_topic(log, &opts.topic, opts.partitions)?;
            let campaigns_file = match (opts.dataset, sidecar_dir) {
                (DatasetKind::Ysb, Some(dir)) => {
                    let path = sidecar::campaigns_path(dir, &opts.topic);
                    crate::ysb::YsbCampaigns::new(opts.seed).write_csv(&path)?;
                    Some(path)
                }
                _ => None,
            };
            let to = Target {
                topic: &opts.topic,
                partitions,
                campaigns_file,
                started,
            };
            let mut summary = write_events(log, opts, to, progress)?;
            if let Some(dir) = sidecar_dir {
                let content = TopicContent::Generated(Box::new(summary.clone()));
                summary.sidecar = Some(sidecar::write(dir, &opts.topic, &content)?);
            }
            Ok(summary)
        }
    }
}

/// Generate into a staging topic, then commit and publish the records with the
/// campaign table and the summary (see [`crate::staging`]).
fn generate_staged(
    log: &dyn Log,
    opts: &GenerateOptions,
    dir: &Path,
    started: Instant,
    progress: &mut ProgressFn<'_>,
) -> Result<GenerateSummary> {
    let stage = crate::staging::begin(log, &opts.topic, opts.partitions)?;
    let to = Target {
        topic: &stage.topic,
        partitions: stage.partitions(),
        // Written when published, from the seed.
        campaigns_file: (opts.dataset == DatasetKind::Ysb)
            .then(|| sidecar::campaigns_path(dir, &opts.topic)),
        started,
    };
    let mut summary = match write_events(log, opts, to, progress) {
        Ok(s) => s,
        Err(e) => {
            // Nothing was committed: drop what was staged. Should that fail, the next
            // run into the topic deletes the staging topic.
            let _ = stage.abort(log);
            return Err(e);
        }
    };
    summary.sidecar = Some(sidecar::sidecar_path(dir, &opts.topic));
    let content = TopicContent::Generated(Box::new(summary.clone()));
    crate::staging::commit(log, dir, stage, content, None)?;
    Ok(summary)
}

/// Where [`write_events`] writes.
struct Target<'a> {
    /// The topic written (the target, or its staging topic).
    topic: &'a str,
    /// Its partitions.
    partitions: u32,
    /// The campaign table the summary names.
    campaigns_file: Option<std::path::PathBuf>,
    /// When the run started.
    started: Instant,
}

/// Generate the events into `to.topic`, paced when asked; returns the summary (without
/// its sidecar path).
fn write_events(
    log: &dyn Log,
    opts: &GenerateOptions,
    to: Target<'_>,
    progress: &mut ProgressFn<'_>,
) -> Result<GenerateSummary> {
    let Target {
        topic,
        partitions,
        campaigns_file,
        started,
    } = to;
    let names = kind_names(opts.dataset);
    let mut kinds = vec![0u64; names.len()];
    let mut summary = GenerateSummary {
        options: opts.clone(),
        partitions,
        events: 0,
        records: 0,
        in_order: 0,
        out_of_order: 0,
        late: 0,
        duplicates: 0,
        kinds: BTreeMap::new(),
        records_per_partition: vec![0; partitions as usize],
        min_event_time: None,
        max_event_time: None,
        value_bytes: 0,
        elapsed_ms: 0,
        records_per_s: 0.0,
        campaigns_file,
        sidecar: None,
    };

    let mut buffers: Vec<Vec<NewRecord>> = (0..partitions)
        .map(|_| Vec::with_capacity(opts.batch_size))
        .collect();
    let flush = |p: usize, buffers: &mut Vec<Vec<NewRecord>>| -> Result<()> {
        if !buffers[p].is_empty() {
            log.append(topic, p as u32, &buffers[p])?;
            buffers[p].clear();
        }
        Ok(())
    };
    // Real-time pacing: flush everything every `tick` records, then sleep until the
    // schedule catches up.
    let tick = opts.rate.map(|r| (r / 100).max(1));
    let mut report = Progress::new(Phase::Generate);
    report.total_items = Some(opts.events);

    for rec in Generator::new(opts)? {
        let rec = rec?;
        match rec.arrival {
            Arrival::InOrder => summary.in_order += 1,
            Arrival::OutOfOrder => summary.out_of_order += 1,
            Arrival::Late => summary.late += 1,
            Arrival::Duplicate => summary.duplicates += 1,
        }
        if rec.arrival != Arrival::Duplicate {
            summary.events += 1;
            kinds[rec.kind] += 1;
        }
        summary.records += 1;
        summary.value_bytes += rec.value.len() as u64;
        summary.min_event_time = Some(
            summary
                .min_event_time
                .map_or(rec.event_time, |m| m.min(rec.event_time)),
        );
        summary.max_event_time = Some(
            summary
                .max_event_time
                .map_or(rec.event_time, |m| m.max(rec.event_time)),
        );
        let p = partition_for_key(&rec.key, partitions) as usize;
        summary.records_per_partition[p] += 1;
        buffers[p].push(NewRecord {
            key: Some(rec.key),
            value: Some(rec.value),
            event_time: rec.event_time,
            headers: Vec::new(),
        });
        if buffers[p].len() >= opts.batch_size {
            flush(p, &mut buffers)?;
        }
        if let (Some(tick), Some(rate)) = (tick, opts.rate)
            && summary.records.is_multiple_of(tick)
        {
            for p in 0..buffers.len() {
                flush(p, &mut buffers)?;
            }
            let due = started + Duration::from_secs_f64(summary.records as f64 / rate as f64);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        if summary.records.is_multiple_of(REPORT_EVERY) {
            report.items = summary.events;
            progress(&report);
        }
    }
    for p in 0..buffers.len() {
        flush(p, &mut buffers)?;
    }
    report.items = summary.events;
    report.done = true;
    progress(&report);

    summary.kinds = names
        .iter()
        .zip(kinds)
        .map(|(n, c)| ((*n).to_owned(), c))
        .collect();
    let elapsed = started.elapsed();
    summary.elapsed_ms = elapsed.as_millis() as u64;
    summary.records_per_s = summary.records as f64 / elapsed.as_secs_f64().max(1e-9);
    Ok(summary)
}
