//! The harness that feeds the same data through Lambda and Kappa and checks both against
//! the oracle: every dataset's built-in workloads at 1, 2 and 4 partitions, with
//! out-of-order and duplicate records; then lateness, determinism and a run over an
//! existing topic.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use compare::{CompareOptions, Report, Source};
use datasets::DatasetKind;
use master_log::{EmbeddedLog, Log};

fn small(dir: &std::path::Path, dataset: DatasetKind, partitions: u32) -> CompareOptions {
    let mut o = CompareOptions::new(dir.join("compare"), dir.join("datasets"));
    o.source = Source::Generate(dataset);
    o.events = 6_000;
    o.rate = 30_000;
    o.partitions = partitions;
    o.out_of_order = 0.1;
    o.max_delay_ms = 1_000;
    o.late = 0.0;
    o.duplicates = 0.02;
    o.batch_every = Duration::from_millis(100);
    o.checkpoint_interval = Duration::from_millis(50);
    o
}

fn run(dir: &std::path::Path, o: &CompareOptions) -> anyhow::Result<Report> {
    let log: Arc<dyn Log> = Arc::new(EmbeddedLog::open(dir.join("log"))?);
    let stop = AtomicBool::new(false);
    Ok(compare::run(log, o, &stop, &mut |_| {})?)
}

fn assert_exact(r: &Report, what: &str) {
    for (name, p) in [
        ("lambda", &r.pipelines.lambda),
        ("kappa", &r.pipelines.kappa),
    ] {
        let c = &p.correctness;
        assert!(c.cells > 0, "{what}: {name} has cells");
        assert_eq!(
            c.exact_cells, c.cells,
            "{what}: {name} equals the oracle: {c:?}"
        );
        assert_eq!(c.max_abs_error, 0.0, "{what}: {name}");
    }
}

#[test]
fn both_pipelines_equal_the_oracle_on_every_dataset_at_1_2_and_4_partitions() -> anyhow::Result<()>
{
    for dataset in DatasetKind::ALL {
        for partitions in [1, 2, 4] {
            let dir = tempfile::tempdir()?;
            let o = small(dir.path(), dataset, partitions);
            let r = run(dir.path(), &o)?;
            let what = format!("{dataset} at {partitions} partition(s)");
            assert_exact(&r, &what);
            assert!(!r.run.interrupted);
            assert_eq!(r.params.partitions, partitions);
            assert!(r.run.records_fed > o.events, "{what}: duplicates on top");
            assert_eq!(r.run.records_total, r.run.records_fed);
            assert_eq!(
                r.run.arrivals.in_order
                    + r.run.arrivals.out_of_order
                    + r.run.arrivals.late
                    + r.run.arrivals.duplicates,
                r.run.records_fed
            );
            // None of the disorder is later than the watermark bound; Kappa removed
            // duplicates (each workload counts those of the events it keeps, so at most
            // every duplicate once per workload) and the answers are exact.
            let k = &r.pipelines.kappa.correctness;
            assert_eq!(k.late_dropped, 0, "{what}");
            let removed = k.duplicates_removed.unwrap();
            assert!(
                removed > 0 && removed <= r.run.arrivals.duplicates * r.workloads.len() as u64,
                "{what}: {removed} of {:?}",
                r.run.arrivals
            );
            for p in [&r.pipelines.lambda, &r.pipelines.kappa] {
                let l = p.latency_ms.expect("latency measured");
                // One sample per scheduled batch of the feed (30 records per ms).
                assert_eq!(l.samples, r.run.records_fed.div_ceil(30), "{what}");
                assert!(l.p50 <= l.p95 && l.p95 <= l.p99 && l.p99 <= l.max, "{what}");
                assert!(p.throughput_eps.unwrap() > 0.0);
                assert!(p.reprocess_seconds.unwrap() > 0.0);
                assert!(!p.latency_cdf.is_empty());
                // The report lists what its code figures count: they are the sums.
                let c = &p.complexity;
                assert!(!c.items.is_empty() && c.shared.is_some(), "{what}");
                assert_eq!(c.loc, c.items.iter().map(|i| i.loc).sum::<u64>(), "{what}");
                assert_eq!(
                    c.cyclomatic,
                    c.items.iter().map(|i| i.cyclomatic).sum::<u64>(),
                    "{what}"
                );
            }
            assert!(!r.batch_runs.is_empty(), "{what}: the batch layer ran");
            assert_eq!(r.workloads.len(), r.params.workloads.len());
            // The schema reads back (a computed float may come back one unit in the last
            // place off, so compare the parts that are counts and options).
            let back: Report = serde_json::from_str(&serde_json::to_string(&r)?)?;
            assert_eq!(back.params, r.params);
            assert_eq!(back.run.arrivals, r.run.arrivals);
            assert_eq!(
                back.pipelines.kappa.correctness,
                r.pipelines.kappa.correctness
            );
            assert_eq!(
                back.pipelines.lambda.complexity,
                r.pipelines.lambda.complexity
            );
            assert_eq!(back.batch_runs.len(), r.batch_runs.len());
        }
    }
    Ok(())
}

#[test]
fn late_events_beyond_the_allowed_lateness_are_what_kappa_misses() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut o = small(dir.path(), DatasetKind::Ysb, 2);
    o.events = 20_000;
    o.rate = 40_000;
    o.duplicates = 0.0;
    // 20 s of event time: ysb-campaign-10s's windows close during the run.
    o.event_rate = Some(1_000);
    o.late = 0.02;
    o.late_delay_ms = 3_000;
    let strict = run(dir.path(), &o)?;
    // Lambda's views count every event, late or not.
    let l = &strict.pipelines.lambda.correctness;
    assert_eq!(l.exact_cells, l.cells);
    let k = &strict.pipelines.kappa.correctness;
    assert!(strict.run.arrivals.late > 0);
    assert!(
        k.late_dropped > 0 && k.late_dropped <= strict.run.arrivals.late,
        "{k:?} vs {:?}",
        strict.run.arrivals
    );
    assert!(
        k.exact_cells < k.cells,
        "dropped events change counts: {k:?}"
    );
    // ysb-campaign-10s counts views: the missing counts are the dropped views at most.
    assert!(k.max_abs_error <= k.late_dropped as f64);
    assert!(
        strict
            .verdict
            .iter()
            .any(|s| s.contains("late events dropped"))
    );

    // An allowed lateness covering the data's lateness makes Kappa exact again.
    o.allowed_lateness_ms = 2 * o.late_delay_ms as i64 + 1_000;
    let dir2 = tempfile::tempdir()?;
    o.work_dir = dir2.path().join("compare");
    o.sidecar_dir = dir2.path().join("datasets");
    let lenient = run(dir2.path(), &o)?;
    assert_exact(&lenient, "with allowed lateness");
    assert_eq!(lenient.pipelines.kappa.correctness.late_dropped, 0);
    Ok(())
}

#[test]
fn the_same_seed_gives_the_same_correctness_and_complexity() -> anyhow::Result<()> {
    // The second run reuses the first one's data directory: a comparison starts afresh
    // (its Kappa jobs must not restore the previous run's state and offsets).
    let dir = tempfile::tempdir()?;
    let mut figures = Vec::new();
    for _ in 0..2 {
        let mut o = small(dir.path(), DatasetKind::Ysb, 4);
        o.late = 0.01;
        o.late_delay_ms = 2_000;
        let r = run(dir.path(), &o)?;
        figures.push((
            r.pipelines.lambda.correctness.clone(),
            r.pipelines.kappa.correctness.clone(),
            r.pipelines.lambda.complexity.clone(),
            r.pipelines.kappa.complexity.clone(),
            r.run.arrivals,
            r.workloads
                .iter()
                .map(|w| (w.lambda.correctness.clone(), w.kappa.correctness.clone()))
                .collect::<Vec<_>>(),
        ));
    }
    assert_eq!(figures[0], figures[1]);
    Ok(())
}

#[test]
fn an_existing_topic_is_compared_without_a_feed() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let log = EmbeddedLog::open(dir.path().join("log"))?;
    let opts = datasets::GenerateOptions {
        partitions: 3,
        duplicates: 0.01,
        ..datasets::GenerateOptions::new(DatasetKind::Pageviews, "views", 5_000)
    };
    datasets::generate(&log, &opts, Some(&dir.path().join("datasets")), &mut |_| {})?;
    // A user's own Kappa job of the same workload over the same topic: the comparison's
    // jobs live in their own namespace and leave it alone.
    let log: Arc<dyn Log> = Arc::new(log);
    let pageviews = workloads::Workload::BuiltIn(workloads::BuiltIn::PageviewsPerMinute);
    kappa::Job::new(
        log.clone(),
        pageviews.clone(),
        kappa::JobConfig::new(
            "views",
            dir.path().join("kappa"),
            dir.path().join("datasets"),
        ),
    )?
    .run_until_caught_up()?;
    let users = kappa::changelog_topic(&kappa::job_name(pageviews.name(), 1));
    let users_end = log.end_offsets(&users)?;
    assert!(users_end.iter().sum::<u64>() > 0);
    drop(log);
    let mut o = small(dir.path(), DatasetKind::Pageviews, 1);
    o.source = Source::Topic("views".into());
    // Without a dataset, the workloads must be named.
    assert!(run(dir.path(), &o).is_err());
    o.workloads = vec![workloads::Workload::BuiltIn(
        workloads::BuiltIn::PageviewsPerMinute,
    )];
    let r = run(dir.path(), &o)?;
    assert!(!r.params.fed);
    assert_eq!(r.params.partitions, 3);
    assert_eq!(r.run.records_fed, 0);
    assert!(r.run.records_total > 5_000);
    assert!(r.pipelines.lambda.latency_ms.is_none() && r.pipelines.kappa.latency_ms.is_none());
    assert!(r.pipelines.kappa.throughput_eps.unwrap() > 0.0);
    assert_exact(&r, "existing topic");
    let log = EmbeddedLog::open(dir.path().join("log"))?;
    assert_eq!(
        log.end_offsets(&users)?,
        users_end,
        "the user's changelog is untouched"
    );
    Ok(())
}

#[test]
fn bad_options_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = small(dir.path(), DatasetKind::Ysb, 1);
    o.rate = 0;
    assert!(matches!(
        run(dir.path(), &o)
            .unwrap_err()
            .downcast::<compare::CompareError>(),
        Ok(compare::CompareError::Options(_))
    ));
}
