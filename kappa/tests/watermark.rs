//! Watermarks: per partition, the largest event time minus the bound; for the job, the
//! minimum over partitions that are not idle (the maximum when all are).

mod common;

use std::time::Duration;

use common::*;
use master_log::{FetchLimits, Log};

#[test]
fn an_idle_partition_does_not_hold_the_watermark_back() {
    let fx = generated(
        datasets::DatasetKind::Pageviews,
        &[workloads::BuiltIn::PageviewsPerMinute],
        2,
    );
    let w = &fx.workloads[0];
    let (log, kdir) = fx.job_target();
    // Partition 0 gets all its data; partition 1 a few early records only.
    let end = fx.end();
    fx.copy(log.as_ref(), &[0, 0], &[end[0], 10]);
    let last_time = |p: u32, upto: u64| {
        let recs = fx
            .src
            .fetch(&fx.topic, p, 0, FetchLimits::default())
            .unwrap();
        let mut max = i64::MIN;
        let mut at = 0;
        let mut recs = recs;
        loop {
            for r in recs.iter().filter(|r| r.offset < upto) {
                let e: datasets::PageView = datasets::decode(r.value.as_deref().unwrap()).unwrap();
                max = max.max(e.event_time);
            }
            at = recs.last().map_or(at, |r| r.offset + 1);
            if at >= upto {
                return max;
            }
            recs = fx
                .src
                .fetch(&fx.topic, p, at, FetchLimits::default())
                .unwrap();
        }
    };
    let bound = kappa::DEFAULT_WATERMARK_BOUND_MS;
    let (wm0, wm1) = (last_time(0, end[0]) - bound, last_time(1, 10) - bound);
    assert!(wm1 < wm0);

    // Not idle (long timeout): the slow partition holds the job's watermark back.
    let config = kappa::JobConfig {
        idle_timeout: Duration::from_secs(3600),
        ..fx.config(&kdir, 0)
    };
    let report = fx.job(&log, w, config).run_until_caught_up().unwrap();
    assert_eq!(report.status.partitions[0].watermark, Some(wm0));
    assert_eq!(report.status.partitions[1].watermark, Some(wm1));
    assert_eq!(report.status.watermark, Some(wm1));
    assert_eq!(
        kappa::load_serving(&kdir, w.name()).unwrap().watermark,
        Some(wm1)
    );

    // Idle at once: both caught up and idle, so the job's watermark is the largest.
    let config = kappa::JobConfig {
        version: 2,
        idle_timeout: Duration::ZERO,
        ..fx.config(&kdir, 0)
    };
    let job = fx.job(&log, w, config);
    let report = job.run_until_caught_up().unwrap();
    assert!(report.status.partitions.iter().all(|p| p.idle));
    assert_eq!(report.status.watermark, Some(wm0));
    assert_eq!(job.table().unwrap().watermark, Some(wm0));

    // A running job whose partition 1 goes quiet: after the idle timeout, the watermark
    // follows partition 0 alone.
    let config = kappa::JobConfig {
        version: 3,
        idle_timeout: Duration::from_millis(200),
        ..fx.config(&kdir, 0)
    };
    let job = fx.job(&log, w, config);
    let running = job.start().unwrap();
    assert!(running.wait_caught_up(Duration::from_secs(60)).unwrap());
    std::thread::sleep(Duration::from_millis(300));
    let s = running.status();
    assert!(s.partitions.iter().all(|p| p.idle), "{s:?}");
    assert_eq!(s.watermark, Some(wm0));
    // New data wakes the job up at once.
    fx.copy(log.as_ref(), &[0, 10], &[0, 20]);
    assert!(running.wait_caught_up(Duration::from_secs(10)).unwrap());
    let report = running.stop().unwrap();
    assert_eq!(report.status.partitions[1].position, 20);
}
