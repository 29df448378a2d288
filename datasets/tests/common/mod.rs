#![allow(dead_code)]

use datasets::{GenerateOptions, GenerateSummary, no_progress};
use master_log::{Bytes, EmbeddedLog, FetchLimits, Log};

/// A log in a fresh temporary directory, with a sidecar directory beside it.
pub struct TestLog {
    pub dir: tempfile::TempDir,
    pub log: EmbeddedLog,
}

impl TestLog {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = EmbeddedLog::open(dir.path().join("log")).unwrap();
        Self { dir, log }
    }

    pub fn sidecars(&self) -> std::path::PathBuf {
        self.dir.path().join("datasets")
    }

    pub fn generate(&self, opts: &GenerateOptions) -> GenerateSummary {
        datasets::generate(&self.log, opts, Some(&self.sidecars()), &mut no_progress).unwrap()
    }

    /// Every record of `topic`, partition by partition, without append times.
    pub fn dump(&self, topic: &str) -> Vec<DumpedRecord> {
        let mut out = Vec::new();
        for p in 0..self.log.partition_count(topic).unwrap() {
            let (mut offset, latest) = self.log.offsets(topic, p).unwrap();
            while offset < latest {
                let recs = self
                    .log
                    .fetch(topic, p, offset, FetchLimits::default())
                    .unwrap();
                for r in recs {
                    offset = r.offset + 1;
                    out.push(DumpedRecord {
                        partition: p,
                        offset: r.offset,
                        key: r.key,
                        value: r.value,
                        event_time: r.event_time,
                        headers: r.headers.len(),
                    });
                }
            }
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpedRecord {
    pub partition: u32,
    pub offset: u64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub event_time: i64,
    pub headers: usize,
}
