//! (3) A running speed layer sleeps on the log's listener and wakes on appends made by
//! another thread: it catches up well before a generous timeout, and makes no fetches
//! while the log is idle (no busy wait, no sleep-polling).

mod common;

use std::time::{Duration, Instant};

use common::*;
use master_log::{FetchLimits, Log, NewRecord};
use tokio::sync::watch;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_wakes_on_appends_from_another_thread() {
    for parts in PARTITIONS {
        let fx = generated(
            datasets::DatasetKind::Nexmark,
            &[workloads::BuiltIn::NexmarkQ7],
            parts,
        );
        let w = fx.workloads[0].clone();
        let log = fx.target();
        let zero = vec![0; parts as usize];
        // The records to append later, in chunks per partition.
        let mut chunks: Vec<(u32, Vec<NewRecord>)> = Vec::new();
        for (p, &end) in fx.end().iter().enumerate() {
            let mut at = 0;
            while at < end {
                let limits = FetchLimits {
                    max_records: 1_000,
                    ..FetchLimits::default()
                };
                let recs = fx.src.fetch(&fx.topic, p as u32, at, limits).unwrap();
                at = recs.last().unwrap().offset + 1;
                chunks.push((
                    p as u32,
                    recs.iter()
                        .map(|r| NewRecord {
                            key: r.key.clone(),
                            value: r.value.clone(),
                            event_time: r.event_time,
                            headers: r.headers.clone(),
                        })
                        .collect(),
                ));
            }
        }

        let layer = fx.layer(&log, &w, zero.clone());
        let (stop, rx) = watch::channel(false);
        let runner = tokio::spawn({
            let layer = layer.clone();
            async move { layer.run(rx).await }
        });
        // At the (empty) head, the tasks sleep: no fetches while nothing is appended.
        tokio::time::timeout(Duration::from_secs(10), layer.wait_caught_up())
            .await
            .expect("reaches the empty head");
        let idle = layer.fetch_count();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(layer.fetch_count(), idle, "{parts}p: fetched while idle");

        let started = Instant::now();
        let writer = std::thread::spawn({
            let log = log.clone();
            let topic = fx.topic.clone();
            move || {
                for (i, (p, recs)) in chunks.into_iter().enumerate() {
                    log.append(&topic, p, &recs).unwrap();
                    if i % 4 == 0 {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
            }
        });
        let generous = Duration::from_secs(60);
        tokio::time::timeout(generous, layer.wait_for_positions(&fx.end()))
            .await
            .expect("catches up before the timeout");
        let took = started.elapsed();
        assert!(took < generous / 4, "{parts}p: took {took:?}");
        writer.join().unwrap();

        // Idle again: no more fetches.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let idle = layer.fetch_count();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(layer.fetch_count(), idle, "{parts}p: fetched while idle");

        stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(10), runner)
            .await
            .expect("stops on shutdown")
            .unwrap()
            .unwrap();
        let snap = layer.snapshot();
        assert!(snap.caught_up);
        let expected = fx.oracle(log.as_ref(), &w);
        assert_exact(
            &expected,
            &w,
            &snap.merged().unwrap(),
            &format!("{parts}p live"),
        );
    }
}
