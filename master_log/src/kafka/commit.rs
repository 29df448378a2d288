//! Committed offsets: Kafka's group offsets (OffsetCommit/OffsetFetch) through a
//! consumer with `group.id` = the group, committed synchronously. A commit here is a
//! *standalone* one (no member, generation -1); members commit through their own
//! consumer (see `group`).

use std::collections::BTreeMap;
use std::sync::Arc;

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use super::client::{Ctx, client_id, code_of, kerr, new_consumer};
use super::conn::Inner;
use crate::config::validate_name;
use crate::error::{LogError, Result};

impl Inner {
    /// Commit `offsets` (partition, next offset to read) of `topic` for `group`.
    pub(super) fn commit_offsets(
        &self,
        group: &str,
        topic: &str,
        offsets: &[(u32, u64)],
    ) -> Result<()> {
        validate_name(group)?;
        self.topic_meta(topic)?;
        self.check_commit_range(topic, offsets)?;
        if offsets.is_empty() {
            return Ok(());
        }
        let mut tpl = TopicPartitionList::with_capacity(offsets.len());
        for &(p, o) in offsets {
            tpl.add_partition_offset(topic, p as i32, Offset::Offset(o as i64))
                .map_err(|e| kerr("commit", e))?;
        }
        let c = self.committer(group)?;
        c.commit(&tpl, CommitMode::Sync)
            .map_err(|e| commit_error(group, e))
    }

    /// The offsets `group` committed for the partitions of `topic`.
    pub(super) fn committed_offsets(&self, group: &str, topic: &str) -> Result<BTreeMap<u32, u64>> {
        validate_name(group)?;
        let meta = self.topic_meta(topic)?;
        let mut tpl = TopicPartitionList::with_capacity(meta.config.partitions as usize);
        for p in 0..meta.config.partitions {
            tpl.add_partition(topic, p as i32);
        }
        let c = self.committer(group)?;
        let res = c
            .committed_offsets(tpl, self.options.request_timeout)
            .map_err(|e| kerr("committed offsets", e))?;
        Ok(res
            .elements_for_topic(topic)
            .iter()
            .filter_map(|el| match el.offset() {
                Offset::Offset(o) if o >= 0 => Some((el.partition() as u32, o as u64)),
                _ => None,
            })
            .collect())
    }

    /// The consumer that commits for `group` and reads its committed offsets.
    fn committer(&self, group: &str) -> Result<Arc<BaseConsumer<Ctx>>> {
        let mut map = self.committers.lock();
        if let Some(c) = map.get(group) {
            return Ok(c.clone());
        }
        let id = client_id("commit");
        let c = Arc::new(new_consumer(
            &self.bootstrap,
            &self.options,
            &id,
            Some(group),
            false,
        )?);
        if map.len() >= 16 {
            map.clear();
        }
        map.insert(group.to_owned(), c.clone());
        Ok(c)
    }

    /// Refuse offsets beyond a partition's latest offset (as the embedded log does).
    pub(super) fn check_commit_range(&self, topic: &str, offsets: &[(u32, u64)]) -> Result<()> {
        for &(p, offset) in offsets {
            self.check_partition(topic, p)?;
            let (earliest, latest) = self.offsets(topic, p)?;
            if offset > latest {
                return Err(LogError::OffsetOutOfRange {
                    topic: topic.to_owned(),
                    partition: p,
                    offset,
                    earliest,
                    latest,
                });
            }
        }
        Ok(())
    }
}

/// A commit error: fencing and ownership errors are [`LogError::Group`].
pub(super) fn commit_error(group: &str, e: KafkaError) -> LogError {
    match code_of(&e) {
        Some(
            code @ (RDKafkaErrorCode::IllegalGeneration
            | RDKafkaErrorCode::UnknownMemberId
            | RDKafkaErrorCode::RebalanceInProgress
            | RDKafkaErrorCode::FencedInstanceId
            | RDKafkaErrorCode::StaleMemberEpoch),
        ) => LogError::Group {
            group: group.to_owned(),
            reason: format!("the group coordinator refused the commit: {code}"),
        },
        _ => kerr("commit", e),
    }
}
