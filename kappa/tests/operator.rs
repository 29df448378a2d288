//! The operator trait: a custom operator implementing only `process` runs as a job with
//! the same checkpoints and restore; its hooks default to doing nothing (so, unlike the
//! workloads' `WindowAggregate`, it finalizes no window).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use kappa::{Context, Job, Operator, OperatorFactory};
use master_log::RecordView;
use workloads::{Partial, Scalar, Window};

/// Records per (minute of event time, partition), duplicates included.
#[derive(Debug)]
struct RecordsPerPartition;

impl Operator for RecordsPerPartition {
    fn process(&mut self, record: &RecordView<'_>, ctx: &mut Context<'_>) -> kappa::Result<()> {
        let start = record.event_time.div_euclid(60_000) * 60_000;
        let window = Window {
            start,
            end: start + 60_000,
        };
        let key = [Scalar::Int(i64::from(ctx.partition()))];
        match ctx
            .cell(window, &key, || vec![Partial::Count(0)])
            .as_mut_slice()
        {
            [Partial::Count(n)] => *n += 1,
            other => return Err(kappa::KappaError::Unsupported(format!("{other:?}"))),
        }
        ctx.observe_event_time(record.event_time);
        Ok(())
    }
}

fn counts(table: &workloads::PartialTable) -> (u64, Vec<Scalar>) {
    let mut total = 0;
    let mut keys = Vec::new();
    for (_, k, p) in table.iter() {
        if let [Partial::Count(n)] = p.as_slice() {
            total += n;
        }
        if !keys.contains(&k[0]) {
            keys.push(k[0].clone());
        }
    }
    keys.sort();
    (total, keys)
}

#[test]
fn a_custom_operator_runs_with_checkpoints_and_restore() {
    let fx = generated_n(
        datasets::DatasetKind::Pageviews,
        &[workloads::BuiltIn::PageviewsPerMinute],
        2,
        4_000,
    );
    let w = &fx.workloads[0];
    let (log, kdir) = fx.job_target();
    let factory: OperatorFactory = Arc::new(|_| Ok(Box::new(RecordsPerPartition)));
    let config = kappa::JobConfig {
        checkpoint_records: 300,
        checkpoint_interval: Duration::from_secs(3600),
        fetch_limits: master_log::FetchLimits {
            max_records: 100,
            max_bytes: 1 << 20,
        },
        ..fx.config(&kdir, 0)
    };
    // Half the data, a crash, the rest.
    fx.copy(log.as_ref(), &fx.zeros(), &fx.fraction(1, 2));
    let job = Job::with_operator(log.clone(), w.clone(), config.clone(), factory.clone()).unwrap();
    let running = job.start().unwrap();
    assert!(running.wait_caught_up(Duration::from_secs(60)).unwrap());
    running.abort().unwrap();
    fx.copy(log.as_ref(), &fx.fraction(1, 2), &fx.end());
    let job = Job::with_operator(log.clone(), w.clone(), config, factory).unwrap();
    let report = job.run_until_caught_up().unwrap();
    let table = kappa::load_serving(&kdir, w.name()).unwrap();
    let (total, keys) = counts(&table.table);
    assert_eq!(total, fx.end().iter().sum::<u64>(), "every record once");
    assert_eq!(keys, vec![Scalar::Int(0), Scalar::Int(1)]);
    // Default `on_watermark`: nothing finalized, every cell still open.
    assert_eq!(report.status.open_cells, table.table.len() as u64);

    // The workload's own operator finalizes closed windows.
    let (log, kdir) = fx.full_job_target();
    let report = fx
        .job(&log, w, fx.config(&kdir, 0))
        .run_until_caught_up()
        .unwrap();
    let table = kappa::load_serving(&kdir, w.name()).unwrap();
    assert!(report.status.open_cells < table.table.len() as u64 / 2);
}
