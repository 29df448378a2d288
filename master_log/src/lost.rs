//! Offsets lost to damage, as the log reports them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Offsets of a partition lost to damage (see [`crate::LogError::LostOffsets`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LostRange {
    /// The first offset lost.
    pub first: u64,
    /// One past the last offset lost (the range is `first..end`).
    pub end: u64,
    /// What was found: the damage, where, and where its bytes are kept.
    pub reason: String,
}

impl fmt::Display for LostRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "offsets {}..{} lost: {}",
            self.first, self.end, self.reason
        )
    }
}

/// A lost range a reader stepped over because the log accepts gaps (see
/// [`crate::Log::skipped_gaps`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SkippedGap {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: u32,
    /// The first offset skipped.
    pub first: u64,
    /// One past the last offset skipped.
    pub end: u64,
}

impl fmt::Display for SkippedGap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "offsets {}..{} of {}/{} (lost to damage) were skipped",
            self.first, self.end, self.topic, self.partition
        )
    }
}
