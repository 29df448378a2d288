//! A consumer over any [`Log`]: reads the partitions it is given (or that its group
//! assigns it), remembers its positions, waits for new data without spinning, and
//! commits positions to its group.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use event_listener::Listener;

use crate::error::{LogError, Result};
use crate::log::{AssignmentStrategy, FetchLimits, GroupMembership, Log, TopicPartition};
use crate::record::Record;

/// Where a consumer starts reading a partition that has no committed position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartFrom {
    /// The first offset still in the log.
    Earliest,
    /// The log end: only records appended from now on.
    Latest,
    /// The first record appended at or after this time (ms since the epoch).
    Time(i64),
    /// Explicit offsets per partition; partitions not named start at the latest offset.
    Offsets(BTreeMap<u32, u64>),
}

/// Records of one partition returned by [`Consumer::poll`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionRecords {
    /// The partition.
    pub partition: u32,
    /// Its records, in offset order.
    pub records: Vec<Record>,
}

/// Reads one topic from a [`Log`].
#[derive(Debug)]
pub struct Consumer {
    log: Arc<dyn Log>,
    topic: String,
    start: StartFrom,
    positions: BTreeMap<u32, u64>,
    membership: Option<Box<dyn GroupMembership>>,
    generation: u64,
    limits: FetchLimits,
    /// Where the next poll starts its round over partitions (fairness).
    cursor: usize,
}

impl Consumer {
    /// A consumer of the given partitions (all when `None`), without a group.
    pub fn assign(
        log: Arc<dyn Log>,
        topic: &str,
        partitions: Option<Vec<u32>>,
        start: StartFrom,
    ) -> Result<Self> {
        let count = log.partition_count(topic)?;
        let partitions = partitions.unwrap_or_else(|| (0..count).collect());
        let mut c = Consumer {
            log,
            topic: topic.to_owned(),
            start,
            positions: BTreeMap::new(),
            membership: None,
            generation: 0,
            limits: FetchLimits::default(),
            cursor: 0,
        };
        for p in partitions {
            if p >= count {
                return Err(LogError::UnknownPartition {
                    topic: topic.to_owned(),
                    partition: p,
                    partitions: count,
                });
            }
            let pos = c.initial_position(p, &BTreeMap::new())?;
            c.positions.insert(p, pos);
        }
        Ok(c)
    }

    /// A consumer in `group`: it reads the partitions the group assigns it, from the
    /// group's committed positions (or `start` where none is committed).
    pub fn join(
        log: Arc<dyn Log>,
        group: &str,
        topic: &str,
        strategy: AssignmentStrategy,
        start: StartFrom,
    ) -> Result<Self> {
        let membership = log.join_group(group, &[topic], strategy)?;
        let mut c = Consumer {
            log,
            topic: topic.to_owned(),
            start,
            positions: BTreeMap::new(),
            membership: Some(membership),
            generation: 0,
            limits: FetchLimits::default(),
            cursor: 0,
        };
        c.refresh_assignment()?;
        Ok(c)
    }

    /// Change how much one poll may return.
    pub fn with_limits(mut self, limits: FetchLimits) -> Self {
        self.limits = limits;
        self
    }

    fn initial_position(&self, p: u32, committed: &BTreeMap<u32, u64>) -> Result<u64> {
        let (earliest, latest) = self.log.offsets(&self.topic, p)?;
        if let Some(&o) = committed.get(&p) {
            return Ok(o.clamp(earliest, latest));
        }
        Ok(match &self.start {
            StartFrom::Earliest => earliest,
            StartFrom::Latest => latest,
            StartFrom::Time(t) => self
                .log
                .offset_for_time(&self.topic, p, *t)?
                .unwrap_or(latest),
            StartFrom::Offsets(map) => match map.get(&p) {
                Some(&o) if o < earliest || o > latest => {
                    return Err(LogError::OffsetOutOfRange {
                        topic: self.topic.clone(),
                        partition: p,
                        offset: o,
                        earliest,
                        latest,
                    });
                }
                Some(&o) => o,
                None => latest,
            },
        })
    }

    /// Pick up a new assignment after a rebalance. Returns whether it changed.
    fn refresh_assignment(&mut self) -> Result<bool> {
        let Some(m) = &self.membership else {
            return Ok(false);
        };
        let a = m.assignment();
        if a.generation == self.generation {
            return Ok(false);
        }
        let group = m.group().to_owned();
        self.generation = a.generation;
        let committed = self.log.committed_offsets(&group, &self.topic)?;
        let mut positions = BTreeMap::new();
        for tp in a.partitions.iter().filter(|tp| tp.topic == self.topic) {
            // A partition kept across the rebalance resumes where this consumer was, or
            // where another owner committed in between, whichever is further.
            let pos = match self.positions.get(&tp.partition) {
                Some(&kept) => kept.max(committed.get(&tp.partition).copied().unwrap_or(0)),
                None => self.initial_position(tp.partition, &committed)?,
            };
            positions.insert(tp.partition, pos);
        }
        self.positions = positions;
        Ok(true)
    }

    /// The partitions read, with the offset of the next record to read in each.
    pub fn positions(&self) -> &BTreeMap<u32, u64> {
        &self.positions
    }

    /// Set the next offset to read in an assigned partition.
    pub fn seek(&mut self, partition: u32, offset: u64) -> Result<()> {
        let (earliest, latest) = self.log.offsets(&self.topic, partition)?;
        if !self.positions.contains_key(&partition) || offset < earliest || offset > latest {
            return Err(LogError::OffsetOutOfRange {
                topic: self.topic.clone(),
                partition,
                offset,
                earliest,
                latest,
            });
        }
        self.positions.insert(partition, offset);
        Ok(())
    }

    /// Whether every assigned partition has been read to its latest offset.
    pub fn caught_up(&self) -> Result<bool> {
        for (&p, &pos) in &self.positions {
            if self.log.offsets(&self.topic, p)?.1 > pos {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Records from the assigned partitions, waiting up to `timeout` for some to arrive.
    /// Returns an empty list when none came. Positions advance past what is returned.
    pub fn poll(&mut self, timeout: Duration) -> Result<Vec<PartitionRecords>> {
        let deadline = Instant::now() + timeout;
        loop {
            self.refresh_assignment()?;
            let listener = self.log.listen(&self.topic)?;
            let out = self.fetch_round()?;
            if !out.is_empty() {
                return Ok(out);
            }
            if listener.wait_deadline(deadline).is_none() {
                self.refresh_assignment()?;
                return self.fetch_round();
            }
        }
    }

    fn fetch_round(&mut self) -> Result<Vec<PartitionRecords>> {
        let parts: Vec<u32> = self.positions.keys().copied().collect();
        let mut out = Vec::new();
        let mut budget = self.limits.max_records;
        for i in 0..parts.len() {
            if budget == 0 {
                break;
            }
            let p = parts[(self.cursor + i) % parts.len()];
            let pos = self.positions[&p];
            let limits = FetchLimits {
                max_records: budget,
                max_bytes: self.limits.max_bytes,
            };
            let mut records = match self.log.fetch(&self.topic, p, pos, limits) {
                Ok(r) => r,
                Err(LogError::OffsetOutOfRange { earliest, .. }) if pos < earliest => {
                    // Retention deleted what we had not read yet: Kafka's
                    // auto.offset.reset=earliest.
                    tracing::warn!(topic = %self.topic, partition = p, "position {pos} was deleted by retention; resuming at {earliest}");
                    self.positions.insert(p, earliest);
                    self.log.fetch(&self.topic, p, earliest, limits)?
                }
                Err(e) => return Err(e),
            };
            records.truncate(budget);
            if let Some(last) = records.last() {
                self.positions.insert(p, last.offset + 1);
                budget -= records.len();
                out.push(PartitionRecords {
                    partition: p,
                    records,
                });
            }
        }
        if !parts.is_empty() {
            self.cursor = (self.cursor + 1) % parts.len();
        }
        Ok(out)
    }

    /// Commit the current positions to the group (a no-op without a group).
    pub fn commit(&mut self) -> Result<()> {
        let Some(m) = &self.membership else {
            return Ok(());
        };
        let offsets: Vec<(TopicPartition, u64)> = self
            .positions
            .iter()
            .map(|(&p, &o)| (TopicPartition::new(self.topic.clone(), p), o))
            .collect();
        m.commit(&offsets)
    }
}
