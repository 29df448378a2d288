//! Topic names, topic configuration and log-wide options.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{LogError, Result};

/// Kafka's longest legal topic name.
pub const MAX_NAME_LEN: usize = 249;

/// Check a topic or group name against Kafka's rules: 1 to 249 characters of
/// `[A-Za-z0-9._-]`, and neither `.` nor `..`. A name that passes can never reach
/// outside the data directory.
pub fn validate_name(name: &str) -> Result<()> {
    let bad = |reason| {
        Err(LogError::InvalidName {
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("a name cannot be empty");
    }
    if name.len() > MAX_NAME_LEN {
        return bad("a name has at most 249 characters");
    }
    if name == "." || name == ".." {
        return bad("'.' and '..' are not names");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return bad("only ASCII letters, digits, '.', '_' and '-' are allowed");
    }
    Ok(())
}

/// Names starting with this prefix belong to the log itself (e.g. committed offsets).
pub const INTERNAL_PREFIX: &str = "__";

/// When appended data is forced to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case", tag = "policy", content = "ms")]
pub enum FsyncPolicy {
    /// `fsync` after every append call, before it returns: an acknowledged record survives
    /// a power cut. Appends to a partition that arrive while its sync runs share the next
    /// one (group commit), and the sync runs without the partition's lock.
    Always,
    /// `fsync` on an append when the last one is older than the interval, and on close:
    /// a power cut can lose up to the interval's acknowledged records.
    Interval(u64),
    /// Leave it to the operating system (Kafka's default): a crashed *process* loses
    /// nothing (the data is in the page cache), a power cut can lose recent records.
    #[default]
    Never,
}

impl std::str::FromStr for FsyncPolicy {
    type Err = LogError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "always" => Ok(Self::Always),
            "never" => Ok(Self::Never),
            other => match other.strip_prefix("interval:") {
                Some(d) => crate::parse_duration(d).map(|d| Self::Interval(d.as_millis() as u64)),
                None => Err(LogError::InvalidConfig(format!(
                    "fsync policy {other:?}: expected always, never or interval:DURATION"
                ))),
            },
        }
    }
}

/// The configuration of one topic, fixed at creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TopicConfig {
    /// Number of partitions (≥ 1).
    pub partitions: u32,
    /// Keep only the latest record per key (Kafka's `cleanup.policy=compact`).
    pub compact: bool,
    /// Delete closed segments whose newest record is older than this (ms).
    pub retention_ms: Option<u64>,
    /// Delete the oldest closed segments while the partition stays at least this big.
    pub retention_bytes: Option<u64>,
    /// Roll to a new segment when the active one would exceed this size.
    pub segment_bytes: u64,
    /// Roll to a new segment when the active one's first record is older than this (ms).
    pub segment_ms: Option<u64>,
    /// Largest single record accepted, framing included.
    pub max_record_bytes: u64,
    /// How long a tombstone survives compaction, so that readers can see the delete (ms).
    pub delete_retention_ms: u64,
    /// Bytes of log between two entries of a segment's sparse offset and time indexes.
    pub index_interval_bytes: u64,
}

impl Default for TopicConfig {
    fn default() -> Self {
        Self {
            partitions: 1,
            compact: false,
            retention_ms: None,
            retention_bytes: None,
            segment_bytes: 64 * 1024 * 1024,
            segment_ms: None,
            max_record_bytes: 1024 * 1024,
            delete_retention_ms: 24 * 3600 * 1000,
            index_interval_bytes: 4096,
        }
    }
}

impl TopicConfig {
    /// A config with `partitions` partitions and defaults elsewhere.
    pub fn with_partitions(partitions: u32) -> Self {
        Self {
            partitions,
            ..Self::default()
        }
    }

    /// A compacted config, as for changelogs and offsets.
    pub fn compacted(partitions: u32) -> Self {
        Self {
            partitions,
            compact: true,
            ..Self::default()
        }
    }

    /// Reject settings that cannot work.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(LogError::InvalidConfig(m));
        if self.partitions == 0 || self.partitions > 100_000 {
            return bad(format!(
                "partitions must be between 1 and 100000, not {}",
                self.partitions
            ));
        }
        if self.segment_bytes < 1024 || self.segment_bytes > u64::from(u32::MAX) {
            return bad(format!(
                "segment_bytes must be between 1 KiB and 4 GiB, not {}",
                self.segment_bytes
            ));
        }
        if self.max_record_bytes < 64 || self.max_record_bytes > 256 * 1024 * 1024 {
            return bad(format!(
                "max_record_bytes must be between 64 B and 256 MiB, not {}",
                self.max_record_bytes
            ));
        }
        if self.index_interval_bytes == 0 {
            return bad("index_interval_bytes must be positive".into());
        }
        if self.segment_ms == Some(0) {
            return bad("segment_ms must be positive".into());
        }
        Ok(())
    }
}

/// Options of an embedded log as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogOptions {
    /// When appended data is fsynced (see [`FsyncPolicy`]).
    pub fsync: FsyncPolicy,
    /// Partitions of the internal committed-offsets topic when it is first created.
    pub offsets_partitions: u32,
    /// Let readers step over offsets lost to damage instead of failing with
    /// [`LogError::LostOffsets`]; what they stepped over is reported by
    /// [`crate::Log::skipped_gaps`]. Off by default: a reader of a damaged log fails
    /// rather than compute an answer from part of it.
    pub accept_gaps: bool,
}

impl Default for LogOptions {
    fn default() -> Self {
        Self {
            fsync: FsyncPolicy::Never,
            offsets_partitions: 1,
            accept_gaps: false,
        }
    }
}

/// Parse a duration written like `500ms`, `10s`, `5m`, `1h`, `2d` or `1h 30m` (the
/// `humantime` crate's syntax): the one duration syntax of every flag and file of the
/// project.
pub fn parse_duration(s: &str) -> Result<Duration> {
    humantime::parse_duration(s.trim()).map_err(|e| {
        LogError::InvalidConfig(format!(
            "duration {s:?}: {e} (write a number and a unit, like 500ms, 10s, 5m, 1h or 2d)"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_name_rules() {
        for ok in ["a", "page-views", "A.b_c-9", &"x".repeat(249), "..."] {
            validate_name(ok).unwrap();
        }
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "../etc",
            "a b",
            "é",
            &"x".repeat(250),
            "a\0",
        ] {
            assert!(
                matches!(validate_name(bad), Err(LogError::InvalidName { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("2d").unwrap(), Duration::from_secs(172_800));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(
            parse_duration(" 1h 30m ").unwrap(),
            Duration::from_secs(5400)
        );
        for bad in ["", "10", "s", "-1s", "10 parsecs", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn config_validation() {
        TopicConfig::default().validate().unwrap();
        assert!(TopicConfig::with_partitions(0).validate().is_err());
        let c = TopicConfig {
            segment_bytes: 10,
            ..TopicConfig::default()
        };
        assert!(c.validate().is_err());
    }
}
