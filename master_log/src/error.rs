//! The one error type of the master log.

use std::path::PathBuf;

/// Everything that can go wrong in the master log, typed so that callers (and the
/// `lk` binary) can tell bad input from damaged storage from I/O failure.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// A topic or group name that breaks Kafka's naming rules.
    #[error("invalid name {name:?}: {reason}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// Which rule it breaks.
        reason: &'static str,
    },

    /// The topic does not exist.
    #[error("unknown topic {0:?}")]
    UnknownTopic(String),

    /// The topic exists already.
    #[error("topic {0:?} already exists")]
    TopicExists(String),

    /// The partition number is not in `0..partitions`.
    #[error("topic {topic:?} has {partitions} partitions; there is no partition {partition}")]
    UnknownPartition {
        /// The topic.
        topic: String,
        /// The partition asked for.
        partition: u32,
        /// How many partitions the topic has.
        partitions: u32,
    },

    /// An offset outside `[earliest, latest]` of a partition.
    #[error(
        "offset {offset} is out of range for {topic}/{partition}: valid offsets are {earliest}..={latest}"
    )]
    OffsetOutOfRange {
        /// The topic.
        topic: String,
        /// The partition.
        partition: u32,
        /// The offset asked for.
        offset: u64,
        /// The partition's earliest offset (its first record still kept).
        earliest: u64,
        /// The partition's latest offset (the next one to be written).
        latest: u64,
    },

    /// Offsets of a partition that were lost to damage (a damaged batch cut out of its
    /// segment, a segment file missing or shorter than recorded): a reader gets this
    /// error for them, never a shorter history in their place. A log opened with
    /// `LogOptions::accept_gaps` steps over them instead and reports what it skipped.
    #[error("offsets {first}..{end} of {topic}/{partition} were lost to damage")]
    LostOffsets {
        /// The topic.
        topic: String,
        /// The partition.
        partition: u32,
        /// The first offset lost.
        first: u64,
        /// One past the last offset lost.
        end: u64,
    },

    /// A topic needs more open files than the process's open-file limit leaves.
    #[error(
        "topic {topic:?} needs {needed} open files (one per partition) but the open-file limit \
         ({limit}, `ulimit -n`) leaves {available}: raise the limit or create fewer partitions"
    )]
    TooManyOpenFiles {
        /// The topic being created.
        topic: String,
        /// Files it would open.
        needed: u64,
        /// Files the process may still open, beyond a reserve for everything else.
        available: u64,
        /// The process's soft limit (`RLIMIT_NOFILE`).
        limit: u64,
    },

    /// A record (or a batch) larger than the topic accepts.
    #[error("record of {size} bytes exceeds the limit of {max} bytes")]
    RecordTooLarge {
        /// The encoded size of the record (or batch), in bytes.
        size: usize,
        /// The largest size accepted, in bytes.
        max: usize,
    },

    /// A configuration value that makes no sense.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),

    /// A record without a key sent to a compacted topic.
    #[error("topic {0:?} is compacted: every record needs a key")]
    KeyRequired(String),

    /// Another process holds a lock too long: the data directory (an older version,
    /// which takes it whole), or a partition's writer lock or the topics directory's
    /// lock for longer than a writer waits.
    #[error("{path} is in use by another process{holder}")]
    Locked {
        /// The directory locked.
        path: PathBuf,
        /// ` (pid N)` (or ` (pids N, M)`) with the holders' process ids when they can be
        /// told, else empty.
        holder: String,
    },

    /// Bytes on disk that fail their checksum or framing.
    #[error("corrupt data in {file} at byte {position}: {reason}")]
    Corrupt {
        /// The damaged file.
        file: PathBuf,
        /// The byte position of the damage in it.
        position: u64,
        /// What is wrong there.
        reason: String,
    },

    /// A consumer-group operation by a member that no longer owns what it touches.
    #[error("group {group:?}: {reason}")]
    Group {
        /// The group.
        group: String,
        /// Why the operation was refused.
        reason: String,
    },

    /// An operating-system error, with the path it concerned.
    #[error("{context}")]
    Io {
        /// What was being done, naming the file or directory.
        context: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// Metadata that does not parse.
    #[error("bad metadata in {file}: {reason}")]
    Metadata {
        /// The metadata file.
        file: PathBuf,
        /// Why it does not parse or is invalid.
        reason: String,
    },

    /// A Kafka cluster (feature `kafka`) refused or failed an operation; `message` is the
    /// client's or the broker's description of the error.
    #[error("kafka {op}: {message}")]
    Kafka {
        /// The operation that failed (`append`, `fetch`, `create topic`, …).
        op: String,
        /// The client's or the broker's description of the error.
        message: String,
    },
}

/// The master log's result type.
pub type Result<T, E = LogError> = std::result::Result<T, E>;

/// `e` and every cause under it (its `source()` chain), `: `-separated: for an error that
/// has to become one line (a warning, a status field, an HTTP body) without losing its
/// causes. Every crate of the workspace renders errors this way.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// Attach a context to an `io::Error`.
pub(crate) trait IoContext<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| LogError::Io {
            context: context(),
            source,
        })
    }
}
