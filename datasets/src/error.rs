//! The one error type of the datasets crate.

use std::path::PathBuf;

/// Everything that can go wrong while generating, importing, exporting or decoding
/// events. Bad input is always one of these, never a panic.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// The master log refused an operation.
    #[error(transparent)]
    Log(#[from] master_log::LogError),

    /// Options that make no sense (a fraction outside `[0, 1]`, zero partitions, ...).
    #[error("invalid options: {0}")]
    InvalidOptions(String),

    /// A bad row of a CSV file in `fail` mode: nothing of the file was written.
    #[error("{file}:{line}: {reason} (nothing of this file was written)")]
    BadRow {
        /// The CSV file.
        file: PathBuf,
        /// 1-based line number where the row starts (the header is line 1).
        line: u64,
        /// What is wrong with the row.
        reason: String,
    },

    /// The CSV file itself cannot be used (no header, duplicate column names, ...).
    #[error("{file}: {reason}")]
    BadFile {
        /// The file.
        file: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// A CSV file whose columns differ from the schema the topic already has.
    #[error("topic {topic:?} already holds rows of another schema: {reason}")]
    SchemaMismatch {
        /// The topic.
        topic: String,
        /// How the file differs from the topic's schema.
        reason: String,
    },

    /// A generator asked to write into a topic that already holds records.
    #[error(
        "topic {topic:?} already holds {records} records; generate into a new topic or set `append`"
    )]
    TopicNotEmpty {
        /// The topic.
        topic: String,
        /// How many records it holds.
        records: u64,
    },

    /// A file imported into the topic before, completely (the same size and bytes):
    /// importing it again would duplicate its rows.
    #[error(
        "{file} was already imported into topic {topic:?} (as {earlier}, {rows} rows, \
         {bytes} bytes, CRC-32C {crc32c:08x}); importing it again would duplicate its rows: \
         pass --again to import it anyway"
    )]
    AlreadyImported {
        /// The file asked to import.
        file: PathBuf,
        /// The topic.
        topic: String,
        /// The file of the earlier import (the same bytes).
        earlier: PathBuf,
        /// Rows the earlier import read.
        rows: u64,
        /// Size of the file, bytes.
        bytes: u64,
        /// CRC-32C of the file's bytes.
        crc32c: u32,
    },

    /// The commit marker of an import that cannot be used or does not fit the log: the
    /// import's staging topic and the target are left as they are.
    #[error("commit marker {file}: {reason}")]
    CommitMarker {
        /// The marker file.
        file: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// A record value that does not decode as the expected event.
    #[error("cannot decode {what}: {reason}")]
    Decode {
        /// The event (or row) expected.
        what: &'static str,
        /// Why the value is not one.
        reason: String,
    },

    /// A topic whose records are neither a known dataset nor described by a sidecar.
    #[error("topic {topic:?}: {reason}")]
    UnknownDataset {
        /// The topic.
        topic: String,
        /// What was found instead.
        reason: String,
    },

    /// A CSV reader or writer error that is not about one row.
    #[error("{context}")]
    Csv {
        /// What was being read or written.
        context: String,
        /// The CSV library's error.
        #[source]
        source: csv::Error,
    },

    /// A sidecar file that does not parse.
    #[error("bad sidecar file {file}: {reason}")]
    Sidecar {
        /// The sidecar file.
        file: PathBuf,
        /// Why it does not parse.
        reason: String,
    },

    /// A record without a value (a tombstone): no event to decode.
    #[error("a record without a value (tombstone)")]
    NoValue,

    /// A YSB event whose ad is not in the topic's campaign table.
    #[error("ad {ad} has no campaign")]
    NoCampaign {
        /// The ad of the event.
        ad: crate::ids::Uuid,
    },

    /// A spec workload over a topic without a dataset sidecar (no schema for its rows).
    #[error("topic {topic:?} has no dataset sidecar in {}", dir.display())]
    NoSidecar {
        /// The topic.
        topic: String,
        /// The sidecar directory searched.
        dir: PathBuf,
    },

    /// A spec workload over a topic of generated events: spec workloads run over
    /// imported CSV topics.
    #[error(
        "spec workload {workload:?} over generated topic {topic:?}: spec workloads run over \
         imported CSV topics"
    )]
    SpecOverGenerated {
        /// The spec workload's name.
        workload: String,
        /// The generated topic.
        topic: String,
    },

    /// An update that does not fit the partial aggregates of its cell.
    #[error("{0}")]
    UpdateMismatch(String),

    /// A workload that does not fit the topic (a column it needs is missing), or an
    /// update an aggregate refuses.
    #[error(transparent)]
    Workload(#[from] workloads::WorkloadError),

    /// An operating-system error, with what it concerned.
    #[error("{context}")]
    Io {
        /// What the operation concerned (the file and what was done to it).
        context: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

/// The datasets crate's result type.
pub type Result<T, E = DatasetError> = std::result::Result<T, E>;

/// Attach a context to an `io::Error`.
pub(crate) trait IoContext<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| DatasetError::Io {
            context: context(),
            source,
        })
    }
}

impl<T> IoContext<T> for std::result::Result<T, csv::Error> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| DatasetError::Csv {
            context: context(),
            source,
        })
    }
}
