//! What the append-to-visible latency benches (`lambda_latency`, `kappa_latency`) share:
//! the YSB events of a run, batched on a fixed schedule of 100,000 events/s, with the end
//! offsets that cover each batch.

use std::path::Path;
use std::time::Duration;

use anyhow::{Result, ensure};
use datasets::{DatasetKind, GenerateOptions, Generator, YsbCampaigns};
use master_log::{NewRecord, partition_for_key};

pub const TOPIC: &str = "ysb";
pub const PARTITIONS: u32 = 4;
/// Events per batch, and batches per second: 100,000 events/s.
pub const BATCH: usize = 100;
pub const PACE: Duration = Duration::from_millis(1);

#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub batches: usize,
    pub runs: usize,
}

impl Plan {
    /// 10 s of batches, 3 runs under `cargo bench`; 0.2 s, one run otherwise.
    pub fn for_mode(full: bool) -> Plan {
        if full {
            Plan {
                batches: 10_000,
                runs: 3,
            }
        } else {
            Plan {
                batches: 200,
                runs: 1,
            }
        }
    }
}

/// The events of one run, batched, with per batch the end offsets (per partition) that
/// cover it.
pub struct Schedule {
    pub batches: Vec<Vec<NewRecord>>,
    pub targets: Vec<Vec<u64>>,
}

/// Generate the run's events (and the ad → campaign table into `sidecars`).
pub fn prepare(plan: Plan, sidecars: &Path) -> Result<Schedule> {
    let events = (plan.batches * BATCH) as u64;
    let opts = GenerateOptions {
        partitions: PARTITIONS,
        event_rate: Some(100_000),
        ..GenerateOptions::new(DatasetKind::Ysb, TOPIC, events)
    };
    YsbCampaigns::new(opts.seed).write_csv(&sidecars.join(format!("{TOPIC}.campaigns.csv")))?;
    let records: Vec<NewRecord> = Generator::new(&opts)?
        .map(|r| r.map(|r| NewRecord::keyed(r.key, r.value, r.event_time)))
        .collect::<datasets::Result<_>>()?;
    ensure!(records.len() as u64 == events, "one record per event");
    let mut ends = vec![0u64; PARTITIONS as usize];
    let mut batches = Vec::with_capacity(plan.batches);
    let mut targets = Vec::with_capacity(plan.batches);
    for chunk in records.chunks(BATCH) {
        for r in chunk {
            let key = r.key.as_deref().expect("keyed");
            ends[partition_for_key(key, PARTITIONS) as usize] += 1;
        }
        batches.push(chunk.to_vec());
        targets.push(ends.clone());
    }
    Ok(Schedule { batches, targets })
}
