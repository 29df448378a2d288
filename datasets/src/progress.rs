//! Progress reporting without a terminal library: long operations call a hook.

use serde::{Deserialize, Serialize};

/// What a long operation is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// A generator writing events.
    Generate,
    /// Reading a sample of a CSV file to infer its column types.
    Infer,
    /// The first pass of a `fail`-mode import: every row is checked, nothing written.
    Validate,
    /// Writing rows or events to the log.
    Write,
    /// Writing a topic to a file.
    Export,
}

/// A snapshot of a long operation, passed to the progress hook about every 64 Ki items
/// and once at the end of each phase (with `done == true`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// The phase of the operation.
    pub phase: Phase,
    /// Items (events, rows or records) handled so far in this phase.
    pub items: u64,
    /// Items expected in this phase, when known (events to generate, records to export).
    pub total_items: Option<u64>,
    /// Input bytes consumed so far (CSV import).
    pub bytes: u64,
    /// Input bytes in all (the file size, for an ETA), when known.
    pub total_bytes: Option<u64>,
    /// Whether this phase has finished.
    pub done: bool,
}

impl Progress {
    pub(crate) fn new(phase: Phase) -> Self {
        Self {
            phase,
            items: 0,
            total_items: None,
            bytes: 0,
            total_bytes: None,
            done: false,
        }
    }

    /// Fraction done in `[0, 1]`, by items when their total is known, else by bytes.
    pub fn fraction(&self) -> Option<f64> {
        if self.done {
            return Some(1.0);
        }
        match (self.total_items, self.total_bytes) {
            (Some(t), _) if t > 0 => Some((self.items as f64 / t as f64).min(1.0)),
            (_, Some(t)) if t > 0 => Some((self.bytes as f64 / t as f64).min(1.0)),
            _ => None,
        }
    }
}

/// The progress hook every long operation takes: `&mut |p: &Progress| ...`.
pub type ProgressFn<'a> = dyn FnMut(&Progress) + 'a;

/// A hook that ignores progress.
pub fn no_progress(_: &Progress) {}

/// How often (in items) operations report.
pub(crate) const REPORT_EVERY: u64 = 1 << 16;
