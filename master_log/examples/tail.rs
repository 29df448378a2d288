//! A tailing reader: it sleeps on the log's append event and wakes when a writer appends —
//! no spinning and no polling interval. Prints how long each wake-up took.
//!
//! ```sh
//! cargo run --release -p master_log --example tail
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use master_log::{EmbeddedLog, FetchLimits, Log, NewRecord, TopicConfig, now_ms};

fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let log = Arc::new(EmbeddedLog::open(dir.path())?);
    log.create_topic("ticks", TopicConfig::with_partitions(1))?;
    let origin = Instant::now();

    let reader = {
        let log = log.clone();
        std::thread::spawn(move || -> anyhow::Result<()> {
            let mut next = 0;
            while next < 10 {
                // Sleeps until an append (or the timeout); never spins.
                if !log.wait_for("ticks", 0, next, Duration::from_secs(5))? {
                    anyhow::bail!("no record within 5 s");
                }
                for r in log.fetch("ticks", 0, next, FetchLimits::default())? {
                    let sent =
                        u64::from_le_bytes(r.value.as_deref().unwrap_or_default().try_into()?);
                    let now = origin.elapsed().as_nanos() as u64;
                    println!(
                        "offset {} arrived {:.1} µs after its append started",
                        r.offset,
                        (now - sent) as f64 / 1e3
                    );
                    next = r.offset + 1;
                }
            }
            Ok(())
        })
    };
    for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(100));
        let sent = origin.elapsed().as_nanos() as u64;
        log.append(
            "ticks",
            0,
            &[NewRecord::value(sent.to_le_bytes().to_vec(), now_ms())],
        )?;
    }
    reader.join().expect("reader thread")?;
    Ok(())
}
