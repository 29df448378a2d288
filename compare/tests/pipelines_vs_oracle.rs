//! The harness that feeds the same data through Lambda and Kappa and checks both against
//! the oracle: every dataset's built-in workloads at 1, 2 and 4 partitions, with
//! out-of-order and duplicate records; then lateness, determinism and a run over an
//! existing topic; then that a delay or a loss injected into one pipeline shows in its
//! figures, and only in its.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use compare::{Architecture, CompareOptions, Injection, Report, Source};
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

/// Each pipeline reprocessed every workload `--reprocess-runs` times, each run's phases
/// summing to its total, over the whole history.
fn assert_reprocessed(r: &Report, o: &CompareOptions, what: &str) {
    let runs = o.reprocess_runs as usize;
    assert!(runs >= 3, "three runs by default");
    let records = r.run.records_total * r.workloads.len() as u64;
    for (name, p) in [
        ("lambda", &r.pipelines.lambda),
        ("kappa", &r.pipelines.kappa),
    ] {
        let rp = p.reprocess.as_ref().unwrap();
        assert_eq!(rp.runs as usize, runs, "{what}: {name}");
        assert_eq!(rp.durability, "synced", "{what}: {name}");
        assert_eq!(rp.records, records, "{what}: {name}");
        assert!(rp.bytes.unwrap() > 0, "{what}: {name} read bytes");
        assert!(rp.process_mb_s.unwrap() > 0.0, "{what}: {name}");
        for s in [&rp.setup, &rp.process, &rp.publish, &rp.total] {
            assert_eq!(s.values.len(), runs, "{what}: {name}");
            assert!(s.min <= s.median && s.median <= s.max, "{what}: {name}");
        }
        assert!(
            rp.process.min > 0.0 && rp.publish.min > 0.0,
            "{what}: {name}"
        );
        for i in 0..runs {
            let sum = rp.setup.values[i] + rp.process.values[i] + rp.publish.values[i];
            assert!(
                (sum - rp.total.values[i]).abs() < 1e-9,
                "{what}: {name} run {i}"
            );
        }
        assert_eq!(p.reprocess_seconds, Some(rp.total.median), "{what}: {name}");
        for w in &r.workloads {
            let wp = if name == "lambda" {
                &w.lambda
            } else {
                &w.kappa
            };
            let wr = wp.reprocess.as_ref().unwrap();
            assert_eq!(wr.runs as usize, runs, "{what}: {name} {}", w.name);
            assert_eq!(wr.records, r.run.records_total, "{what}: {name} {}", w.name);
        }
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
            assert_reprocessed(&r, &o, &what);
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
                let (fresh, stable) = (p.fresh.latency_ms.unwrap(), p.stable.latency_ms.unwrap());
                // One sample per scheduled batch of the feed (30 records per ms), at
                // each level.
                assert_eq!(fresh.samples, r.run.records_fed.div_ceil(30), "{what}");
                assert_eq!(stable.samples, fresh.samples, "{what}");
                // A result is stable only once it is fresh: batch by batch, so at every
                // percentile.
                assert!(fresh.p50 <= stable.p50 && fresh.max <= stable.max, "{what}");
                assert!(p.throughput_eps.unwrap() > 0.0);
                assert!(p.reprocess_seconds.unwrap() > 0.0);
                assert!(!p.fresh.latency_cdf.is_empty() && !p.stable.latency_cdf.is_empty());
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
            // The disorder the feed measured covers the generated out-of-order delay
            // and no more (no late events here), and what the summary shows is the run.
            let d = r.disorder.as_ref().unwrap();
            // (A duplicate's second copy comes up to another max(max delay, 1 s) later.)
            assert!(
                d.max_ms > 0 && d.max_ms <= 2 * o.max_delay_ms as i64,
                "{what}: {d:?}"
            );
            assert_eq!(d.records, r.run.records_fed);
            assert_eq!(r.summary.runs, 1);
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
    o.allowed_lateness_ms = Some(0);
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

    // The allowed lateness that covers the data's lateness (the default) makes Kappa
    // exact again.
    o.allowed_lateness_ms = None;
    let dir2 = tempfile::tempdir()?;
    o.work_dir = dir2.path().join("compare");
    o.sidecar_dir = dir2.path().join("datasets");
    let lenient = run(dir2.path(), &o)?;
    assert_exact(&lenient, "with allowed lateness");
    assert_eq!(lenient.pipelines.kappa.correctness.late_dropped, 0);
    assert_eq!(
        lenient.params.allowed_lateness_from,
        compare::report::LatenessSource::Data
    );
    assert_eq!(lenient.params.allowed_lateness_ms, 2 * 3_000 - 1_000);
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
    assert!(
        r.pipelines.lambda.fresh.latency_ms.is_none()
            && r.pipelines.kappa.stable.latency_ms.is_none()
    );
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

/// The fresh and stable p50 of one pipeline of `r`.
fn p50s(r: &Report, arch: Architecture) -> [f64; 2] {
    let p = match arch {
        Architecture::Lambda => &r.pipelines.lambda,
        Architecture::Kappa => &r.pipelines.kappa,
    };
    [&p.fresh, &p.stable].map(|l| l.latency_ms.unwrap().p50)
}

#[test]
fn a_delay_injected_into_one_pipeline_shows_in_its_latency_by_about_that_much() -> anyhow::Result<()>
{
    let delay = Duration::from_secs(2);
    let d = delay.as_secs_f64() * 1000.0;
    for arch in Architecture::BOTH {
        let dir = tempfile::tempdir()?;
        let mut o = small(dir.path(), DatasetKind::Ysb, 2);
        o.reprocess = false;
        let base = run(dir.path(), &o)?;
        let other = match arch {
            Architecture::Lambda => Architecture::Kappa,
            Architecture::Kappa => Architecture::Lambda,
        };
        o.inject = Some(Injection {
            pipeline: arch,
            delay,
            drop_cells: 0,
        });
        let delayed = run(dir.path(), &o)?;
        let base_p99 = match arch {
            Architecture::Lambda => &base.pipelines.lambda,
            Architecture::Kappa => &base.pipelines.kappa,
        }
        .stable
        .latency_ms
        .unwrap()
        .p99;
        for (level, (before, after)) in p50s(&base, arch)
            .into_iter()
            .zip(p50s(&delayed, arch))
            .enumerate()
        {
            // Every record is shown `delay` later: none sooner, and not much more than
            // the delay on top of what it took without (a delay counted twice, or
            // piling up batch after batch, would be seconds more).
            assert!(
                after >= d,
                "{arch:?} level {level}: p50 {after} ms with a {d} ms delay"
            );
            assert!(
                after <= d + before + base_p99.max(500.0),
                "{arch:?} level {level}: p50 {after} ms, {before} ms without the delay"
            );
        }
        // The other pipeline is not delayed.
        assert!(
            p50s(&delayed, other)[0] < d,
            "{other:?}: {:?}",
            p50s(&delayed, other)
        );
        assert_exact(&delayed, "a delay changes no answer");
    }
    Ok(())
}

#[test]
fn cells_dropped_from_one_pipeline_show_in_its_correctness_alone() -> anyhow::Result<()> {
    for arch in Architecture::BOTH {
        let dir = tempfile::tempdir()?;
        let mut o = small(dir.path(), DatasetKind::Ysb, 2);
        o.reprocess = false;
        o.inject = Some(Injection {
            pipeline: arch,
            delay: Duration::ZERO,
            drop_cells: 5,
        });
        let r = run(dir.path(), &o)?;
        let (hit, spared) = match arch {
            Architecture::Lambda => (&r.pipelines.lambda, &r.pipelines.kappa),
            Architecture::Kappa => (&r.pipelines.kappa, &r.pipelines.lambda),
        };
        let c = &hit.correctness;
        assert_eq!(c.missing_cells, 5, "{arch:?}: {c:?}");
        assert_eq!(c.exact_cells, c.cells - 5, "{arch:?}");
        assert!(c.exact_fraction < 1.0);
        let s = &spared.correctness;
        assert_eq!(
            (s.exact_cells, s.missing_cells),
            (s.cells, 0),
            "{arch:?} spared"
        );
        // The summary and the verdict say which one is exact.
        let f = r
            .summary
            .figures
            .iter()
            .find(|f| f.key == "exact_fraction")
            .unwrap();
        let want = match arch {
            Architecture::Lambda => compare::report::Difference::Kappa,
            Architecture::Kappa => compare::report::Difference::Lambda,
        };
        assert_eq!(f.difference, want);
    }
    Ok(())
}
