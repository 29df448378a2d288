//! Topics of the log as the importers and generators need them.

use master_log::{Log, LogError, TopicConfig};

use crate::error::Result;

/// Create `topic` with `partitions` partitions unless it exists; returns its partition
/// count.
pub(crate) fn ensure_topic(log: &dyn Log, topic: &str, partitions: u32) -> Result<u32> {
    match log.create_topic(topic, TopicConfig::with_partitions(partitions)) {
        Ok(()) | Err(LogError::TopicExists(_)) => Ok(log.partition_count(topic)?),
        Err(e) => Err(e.into()),
    }
}

/// Records in `topic` (0 when it does not exist).
pub(crate) fn topic_records(log: &dyn Log, topic: &str) -> Result<u64> {
    match log.describe_topic(topic) {
        Ok(d) => Ok(d.partitions.iter().map(|p| p.latest - p.earliest).sum()),
        Err(LogError::UnknownTopic(_)) => Ok(0),
        Err(e) => Err(e.into()),
    }
}
