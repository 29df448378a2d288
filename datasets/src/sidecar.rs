//! Sidecar files: what the log cannot say about a topic's records.
//!
//! `<dir>/<topic>.json` describes a topic written by this crate: the generator's summary
//! (seed, options, counts), or the schema of imported CSV rows with one summary per
//! import. Files are replaced atomically, unsynced ([`write_atomic`]).

use std::fs;
use std::path::{Path, PathBuf};

use master_log::durable::{self, Durability};
use serde::{Deserialize, Serialize};

use crate::error::{DatasetError, IoContext, Result};
use crate::generate_options::GenerateSummary;
use crate::import_options::ImportSummary;
use crate::row::Schema;

/// Version of the sidecar format written by this crate.
pub const SIDECAR_FORMAT: u32 = 1;

/// What a topic holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "content", rename_all = "snake_case")]
pub enum TopicContent {
    /// Events of a generated dataset.
    Generated(Box<GenerateSummary>),
    /// Typed rows of imported CSV files, all of one schema.
    Csv {
        /// The schema of every row.
        schema: Schema,
        /// One summary per import, oldest first.
        imports: Vec<ImportSummary>,
    },
}

/// The sidecar file of one topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopicManifest {
    /// The sidecar format version ([`SIDECAR_FORMAT`]).
    pub format: u32,
    /// The topic described.
    pub topic: String,
    /// What the topic holds.
    #[serde(flatten)]
    pub content: TopicContent,
}

/// Where the sidecar of `topic` lives in `dir`.
pub fn sidecar_path(dir: &Path, topic: &str) -> PathBuf {
    dir.join(format!("{topic}.json"))
}

/// Where the YSB ad → campaign table of `topic` lives in `dir` (`<topic>.campaigns.csv`).
pub fn campaigns_path(dir: &Path, topic: &str) -> PathBuf {
    dir.join(format!("{topic}.campaigns.csv"))
}

/// The sidecar of `topic`, if there is one.
pub fn read_sidecar(dir: &Path, topic: &str) -> Result<Option<TopicManifest>> {
    let path = sidecar_path(dir, topic);
    let text = match fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).ctx(|| format!("read {}", path.display())),
    };
    serde_json::from_slice(&text)
        .map(Some)
        .map_err(|e| DatasetError::Sidecar {
            file: path,
            reason: e.to_string(),
        })
}

/// Write `content` as the sidecar of `topic`; returns its path.
pub(crate) fn write(dir: &Path, topic: &str, content: &TopicContent) -> Result<PathBuf> {
    let manifest = TopicManifest {
        format: SIDECAR_FORMAT,
        topic: topic.to_owned(),
        content: content.clone(),
    };
    let path = sidecar_path(dir, topic);
    let text = serde_json::to_vec_pretty(&manifest).map_err(|e| DatasetError::Sidecar {
        file: path.clone(),
        reason: e.to_string(),
    })?;
    write_atomic(&path, &text)?;
    Ok(path)
}

/// Write `bytes` to `path` (creating its directory) with
/// [`master_log::durable::write_atomic`], [`Durability::Unsynced`]: readers see the old
/// file or the new one whole; not fsynced (a sidecar or a campaign table is rewritten by
/// the next generate or import).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).ctx(|| format!("create {}", dir.display()))?;
    }
    durable::write_atomic(path, bytes, Durability::Unsynced)
        .ctx(|| format!("write {}", path.display()))
}
