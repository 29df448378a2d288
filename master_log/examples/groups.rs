//! Consumer groups: two groups on one topic each see every record (publish–subscribe),
//! while the members of one group share its partitions (a queue), and a member leaving
//! hands its partitions to the others.
//!
//! ```sh
//! cargo run -p master_log --example groups
//! ```

use std::sync::Arc;
use std::time::Duration;

use master_log::{
    AssignmentStrategy, Consumer, EmbeddedLog, Log, NewRecord, StartFrom, TopicConfig, now_ms,
};

fn drain(name: &str, c: &mut Consumer) -> anyhow::Result<usize> {
    let mut n = 0;
    loop {
        let got = c.poll(Duration::from_millis(50))?;
        if got.is_empty() {
            break;
        }
        for b in got {
            n += b.records.len();
        }
    }
    c.commit()?;
    println!(
        "  {name} read {n} records from partitions {:?}",
        c.positions().keys().collect::<Vec<_>>()
    );
    Ok(n)
}

fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let log: Arc<dyn Log> = Arc::new(EmbeddedLog::open(dir.path())?);
    log.create_topic("orders", TopicConfig::with_partitions(4))?;
    let records = (0..1000)
        .map(|i| {
            NewRecord::keyed(
                format!("customer-{}", i % 37),
                format!("order {i}"),
                now_ms(),
            )
        })
        .collect();
    log.produce("orders", records)?;

    println!("group 'billing' with two members shares the 4 partitions:");
    let mut a = Consumer::join(
        log.clone(),
        "billing",
        "orders",
        AssignmentStrategy::Range,
        StartFrom::Earliest,
    )?;
    let mut b = Consumer::join(
        log.clone(),
        "billing",
        "orders",
        AssignmentStrategy::Range,
        StartFrom::Earliest,
    )?;
    let shared = drain("billing member a", &mut a)? + drain("billing member b", &mut b)?;
    println!("  together: {shared} records, each once");

    println!("group 'audit' on the same topic sees every record again:");
    let mut audit = Consumer::join(
        log.clone(),
        "audit",
        "orders",
        AssignmentStrategy::RoundRobin,
        StartFrom::Earliest,
    )?;
    drain("audit", &mut audit)?;

    println!("member b leaves 'billing'; a takes over all partitions, resuming at b's commits:");
    drop(b);
    log.produce(
        "orders",
        (0..100)
            .map(|i| NewRecord::keyed(format!("late-{i}"), "order", now_ms()))
            .collect(),
    )?;
    drain("billing member a", &mut a)?;
    println!(
        "committed offsets of 'billing': {:?}",
        log.committed_offsets("billing", "orders")?
    );
    Ok(())
}
