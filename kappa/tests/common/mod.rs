//! The Kappa tests' fixtures: testkit's (a source log holding a whole dataset, copied
//! into fresh target logs in pieces), at the sizes these tests use, with jobs over them.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use datasets::DatasetKind;
use kappa::{Job, JobConfig, OutputTable, StoreKind};
use master_log::{EmbeddedLog, FetchLimits, Log};
use workloads::{BuiltIn, Workload};

#[allow(unused_imports)] // each test file uses some of them
pub use testkit::{
    CSV_LATENESS_MS, Fixture, GENERATED_LATENESS_MS, PARTITIONS, assert_exact, copy_filtered,
    datasets, generated_n, spec,
};

/// A generated dataset of 8,000 events (see [`testkit::generated_n`]).
pub fn generated(kind: DatasetKind, builtins: &[BuiltIn], parts: u32) -> Fixture {
    generated_n(kind, builtins, parts, 8_000)
}

/// The CSV fixture with 4,000 rows.
pub fn csv(parts: u32) -> Fixture {
    testkit::csv_rows(parts, 4_000)
}

/// Every fixture: the three generated datasets and the CSV, at `parts` partitions.
pub fn all(parts: u32) -> Vec<Fixture> {
    let mut v: Vec<Fixture> = datasets()
        .iter()
        .map(|(k, b)| generated(*k, b, parts))
        .collect();
    v.push(csv(parts));
    v
}

/// What a Kappa test needs of a fixture beyond testkit's.
pub trait KappaFixture {
    /// A new, empty target log with the topic created, and its Kappa directory.
    fn job_target(&self) -> (Arc<EmbeddedLog>, PathBuf);
    /// A target log holding the whole dataset, and its Kappa directory.
    fn full_job_target(&self) -> (Arc<EmbeddedLog>, PathBuf);
    fn config(&self, kdir: &std::path::Path, lateness_ms: i64) -> JobConfig;
    fn job(&self, log: &Arc<EmbeddedLog>, w: &Workload, config: JobConfig) -> Job;
}

impl KappaFixture for Fixture {
    fn job_target(&self) -> (Arc<EmbeddedLog>, PathBuf) {
        let (log, dir) = self.target_dir();
        (log, dir.join("kappa"))
    }

    fn full_job_target(&self) -> (Arc<EmbeddedLog>, PathBuf) {
        let (log, kdir) = self.job_target();
        self.copy(log.as_ref(), &self.zeros(), &self.end());
        (log, kdir)
    }

    fn config(&self, kdir: &std::path::Path, lateness_ms: i64) -> JobConfig {
        JobConfig {
            allowed_lateness_ms: lateness_ms,
            ..JobConfig::new(&self.topic, kdir, &self.side)
        }
    }

    fn job(&self, log: &Arc<EmbeddedLog>, w: &Workload, config: JobConfig) -> Job {
        Job::new(log.clone(), w.clone(), config).unwrap()
    }
}

/// The (partition, offset) of every record on a job's late-events topic.
pub fn late_sources(log: &dyn Log, job: &str) -> Vec<(u32, u64)> {
    let topic = kappa::late_topic(job);
    let mut out = Vec::new();
    for p in 0..log.partition_count(&topic).unwrap() {
        let (_, end) = log.offsets(&topic, p).unwrap();
        let mut at = 0;
        while at < end {
            let recs = log.fetch(&topic, p, at, FetchLimits::default()).unwrap();
            at = recs.last().unwrap().offset + 1;
            for r in recs {
                let h = |name: &str| {
                    r.headers
                        .iter()
                        .find(|h| h.key == name)
                        .map(|h| h.value.to_vec())
                        .unwrap()
                };
                let sp = u32::from_le_bytes(h(kappa::LATE_SOURCE_PARTITION).try_into().unwrap());
                let so = u64::from_le_bytes(h(kappa::LATE_SOURCE_OFFSET).try_into().unwrap());
                assert_eq!(sp, p, "late records stay in their partition");
                out.push((sp, so));
            }
        }
    }
    out
}

/// What must be equal between a crashed-and-restored run and an uninterrupted one.
pub fn same_result(a: &OutputTable, b: &OutputTable) -> bool {
    a.table == b.table
        && a.positions == b.positions
        && a.events == b.events
        && a.duplicates == b.duplicates
        && a.late_events == b.late_events
}

pub fn store_kinds() -> [StoreKind; 2] {
    [StoreKind::Redb, StoreKind::Memory]
}

pub fn distinct<T: Ord + Clone>(v: &[T]) -> BTreeSet<T> {
    v.iter().cloned().collect()
}
