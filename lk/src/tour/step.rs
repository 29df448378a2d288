//! What every step of the tour is ([`Step`]) and works with ([`Ctx`]).

use std::path::PathBuf;
use std::sync::Arc;

use master_log::{EmbeddedLog, Log};

use super::out::Out;
use crate::backend::LogArgs;

/// One step of the tour.
pub struct Step {
    /// A short name, also the step directory's (`NN-slug`).
    pub slug: &'static str,
    /// The title.
    pub title: &'static str,
    /// What the step shows, for a newcomer (paragraphs separated by blank lines).
    pub about: &'static str,
    /// Runs the step.
    pub run: fn(&mut Ctx) -> anyhow::Result<()>,
}

/// What a step works with.
pub struct Ctx {
    /// The step's own data directory.
    pub dir: PathBuf,
    /// This `lk` binary, run for the steps' `$ lk …` commands.
    pub exe: PathBuf,
    /// Small sizes (`--quick`).
    pub quick: bool,
    /// The Kafka cluster to use for the replication step, if one was named.
    pub kafka: Option<LogArgs>,
    /// Where the step's lines go.
    pub out: Out,
}

impl Ctx {
    /// `full` normally, `quick` with `--quick`.
    pub fn size(&self, full: u64, quick: u64) -> u64 {
        if self.quick { quick } else { full }
    }

    /// Open the step's embedded log (drop it before running a `$ lk …` command on it:
    /// one process opens a data directory at a time).
    pub fn open_log(&self) -> anyhow::Result<Arc<dyn Log>> {
        Ok(Arc::new(EmbeddedLog::open(&self.dir)?))
    }

    /// Print one line of the step's output.
    pub fn say(&mut self, line: impl AsRef<str>) {
        self.out.line(line.as_ref());
    }
}
