//! What several benches share: the event count they run with, and the check that a
//! YSB Kappa table counts each applied event once.
#![allow(dead_code)] // each bench uses what it needs

use anyhow::{Result, anyhow, ensure};

/// Events of a full run: `LK_BENCH_EVENTS` (underscores allowed: `10_000_000`) or
/// `default`.
pub fn events_from_env(default: u64) -> Result<u64> {
    match std::env::var("LK_BENCH_EVENTS") {
        Ok(v) => {
            let n: u64 = v
                .replace('_', "")
                .parse()
                .map_err(|e| anyhow!("LK_BENCH_EVENTS={v:?} is not a number: {e}"))?;
            ensure!(n > 0, "LK_BENCH_EVENTS must be positive");
            Ok(n)
        }
        Err(_) => Ok(default),
    }
}

/// A `ysb-campaign-10s` Kappa table counts every event it applied once, and none late.
pub fn check_ysb_counts(table: &kappa::OutputTable) -> Result<()> {
    let views: u64 = table
        .table
        .iter()
        .map(|(_, _, p)| match p.first() {
            Some(workloads::Partial::Count(n)) => *n,
            _ => 0,
        })
        .sum();
    ensure!(
        views == table.events && table.late_events == 0,
        "the table counts {views} views of {} events applied ({} late)",
        table.events,
        table.late_events
    );
    Ok(())
}
