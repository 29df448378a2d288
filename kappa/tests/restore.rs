//! Crash and restore: a job is stopped mid-way without a final checkpoint (as a crash
//! would), several times, and restarted; it restores from its local store when that is
//! intact and current, else from its changelog alone, and the final table equals an
//! uninterrupted run's — nothing lost, nothing counted twice, late events written once.

mod common;

use std::time::Duration;

use common::*;
use kappa::{Job, JobConfig, OutputTable, RestoreSource, StoreKind};
use master_log::{EmbeddedLog, FetchLimits, Log, NewRecord};
use workloads::{BuiltIn, Partial, Workload};

fn config(fx: &Fixture, kdir: &std::path::Path, store: StoreKind) -> JobConfig {
    JobConfig {
        store,
        // Only record-count checkpoints, so that a crash loses work since the last one.
        checkpoint_interval: Duration::from_secs(3600),
        checkpoint_records: 250,
        // Small fetches, so that checkpoints fall between fetches mid-stream.
        fetch_limits: FetchLimits {
            max_records: 97,
            max_bytes: 1 << 20,
        },
        ..fx.config(kdir, 0)
    }
}

/// An uninterrupted run over the whole dataset: its table and its late records.
fn reference(fx: &Fixture, w: &Workload) -> (OutputTable, Vec<(u32, u64)>) {
    let (log, kdir) = fx.full_job_target();
    let job = fx.job(&log, w, config(fx, &kdir, StoreKind::Redb));
    job.run_until_caught_up().unwrap();
    let mut late = late_sources(log.as_ref(), job.name());
    late.sort();
    (kappa::load_version(&kdir, w.name(), 1).unwrap(), late)
}

/// Run over `rounds` growing prefixes of the data, crashing after each, then once more to
/// the end; returns the final report's restore sources.
fn crashy_run(
    fx: &Fixture,
    w: &Workload,
    store: StoreKind,
    delete_local: bool,
    rounds: u64,
    log: &std::sync::Arc<EmbeddedLog>,
    kdir: &std::path::Path,
) -> Vec<RestoreSource> {
    let mut lost_work = 0;
    for r in 1..=rounds {
        fx.copy(
            log.as_ref(),
            &fx.fraction(r - 1, rounds + 1),
            &fx.fraction(r, rounds + 1),
        );
        let job = fx.job(log, w, config(fx, kdir, store));
        let running = job.start().unwrap();
        assert!(running.wait_caught_up(Duration::from_secs(120)).unwrap());
        let status = running.status();
        lost_work += status
            .partitions
            .iter()
            .filter(|p| p.position > p.checkpointed)
            .count();
        running.abort().unwrap();
        if delete_local {
            std::fs::remove_dir_all(kappa::state_dir(kdir, job.name())).unwrap();
        }
    }
    assert!(lost_work > 0, "the crashes must lose uncheckpointed work");
    fx.copy(log.as_ref(), &fx.fraction(rounds, rounds + 1), &fx.end());
    let job = fx.job(log, w, config(fx, kdir, store));
    let report = job.run_until_caught_up().unwrap();
    report.restores.iter().map(|r| r.source).collect()
}

fn check(fx: &Fixture, w: &Workload) {
    let (expected, expected_late) = reference(fx, w);
    for (store, delete_local, source) in [
        (StoreKind::Redb, false, RestoreSource::LocalStore),
        (StoreKind::Redb, true, RestoreSource::Changelog),
        (StoreKind::Memory, false, RestoreSource::Changelog),
    ] {
        let what = format!(
            "{}p {} {store:?} delete_local={delete_local}",
            fx.parts,
            w.name()
        );
        let (log, kdir) = fx.job_target();
        let sources = crashy_run(fx, w, store, delete_local, 3, &log, &kdir);
        assert!(sources.iter().all(|s| *s == source), "{what}: {sources:?}");
        let got = kappa::load_version(&kdir, w.name(), 1).unwrap();
        assert!(same_result(&got, &expected), "{what}");
        let mut late = late_sources(log.as_ref(), &kappa::job_name(w.name(), 1));
        late.sort();
        assert_eq!(
            late, expected_late,
            "{what}: late events written exactly once"
        );
    }
}

#[test]
fn crashes_restore_from_local_store_or_changelog_to_the_same_table() {
    let fx = generated_n(
        datasets::DatasetKind::Pageviews,
        &[BuiltIn::PageviewsPerMinute, BuiltIn::ProfileViewersHourly],
        2,
        6_000,
    );
    for w in &fx.workloads {
        check(&fx, w);
    }
    let fx = generated_n(
        datasets::DatasetKind::Nexmark,
        &[BuiltIn::NexmarkQ7],
        1,
        6_000,
    );
    check(&fx, &fx.workloads[0]);
    let fx = generated_n(
        datasets::DatasetKind::Ysb,
        &[BuiltIn::YsbCampaign10s],
        4,
        6_000,
    );
    check(&fx, &fx.workloads[0]);
}

#[test]
fn crashes_with_spec_workloads_and_sessions() {
    let fx = csv(2);
    for w in &fx.workloads[1..] {
        check(&fx, w);
    }
}

/// 6,000 page views in 2 partitions, counted per minute.
fn pageviews() -> Fixture {
    generated_n(
        datasets::DatasetKind::Pageviews,
        &[BuiltIn::PageviewsPerMinute],
        2,
        6_000,
    )
}

/// The changelog's last records of partition `p` and their keys.
fn changelog_records(log: &dyn Log, job: &str, p: u32) -> Vec<master_log::Record> {
    let topic = kappa::changelog_topic(job);
    let (earliest, end) = log.offsets(&topic, p).unwrap();
    let mut out = Vec::new();
    let mut at = earliest;
    while at < end {
        let recs = log.fetch(&topic, p, at, FetchLimits::default()).unwrap();
        at = recs.last().unwrap().offset + 1;
        out.extend(recs);
    }
    out
}

#[test]
fn a_torn_changelog_tail_is_ignored_repaired_and_survives_compaction() {
    let fx = pageviews();
    let w = &fx.workloads[0];
    let (expected, _) = reference(&fx, w);
    for delete_local in [false, true] {
        let (log, kdir) = fx.job_target();
        let job_name = kappa::job_name(w.name(), 1);
        fx.copy(log.as_ref(), &fx.zeros(), &fx.fraction(1, 2));
        let job = fx.job(&log, w, config(&fx, &kdir, StoreKind::Redb));
        job.run_until_caught_up().unwrap();
        // A torn checkpoint: state records after the last marker, never closed by one —
        // bogus counts for cells that exist, and a cell that does not.
        let recs = changelog_records(log.as_ref(), &job_name, 0);
        let cells: Vec<&master_log::Record> = recs
            .iter()
            .filter(|r| r.key.as_deref().is_some_and(|k| k[0] == b'c'))
            .collect();
        assert!(cells.len() > 3);
        let bogus = postcard::to_stdvec(&vec![Partial::Count(999_999)]).unwrap();
        let mut torn: Vec<NewRecord> = cells[cells.len() - 3..]
            .iter()
            .map(|r| NewRecord {
                key: r.key.clone(),
                value: Some(bogus.clone().into()),
                event_time: 0,
                headers: Vec::new(),
            })
            .collect();
        let mut new_key = cells[0].key.clone().unwrap().to_vec();
        new_key.push(0); // not a valid cell key: it would fail to decode if applied
        torn.push(NewRecord::keyed(new_key, bogus.clone(), 0));
        log.append(&kappa::changelog_topic(&job_name), 0, &torn)
            .unwrap();
        if delete_local {
            std::fs::remove_dir_all(kappa::state_dir(&kdir, &job_name)).unwrap();
        }
        fx.copy(log.as_ref(), &fx.fraction(1, 2), &fx.end());
        let job = fx.job(&log, w, config(&fx, &kdir, StoreKind::Redb));
        let report = job.run_until_caught_up().unwrap();
        let r0 = &report.restores[0];
        assert_eq!(r0.torn_records, 4, "{r0:?}");
        let expected_source = if delete_local {
            RestoreSource::Changelog
        } else {
            RestoreSource::LocalStore
        };
        assert_eq!(r0.source, expected_source);
        let got = kappa::load_version(&kdir, w.name(), 1).unwrap();
        assert!(same_result(&got, &expected), "delete_local={delete_local}");

        // After the repair, compaction keeps a committed value for every key: a restore
        // from the compacted changelog alone gives the same table.
        let topic = kappa::changelog_topic(&job_name);
        let before: usize = (0..2)
            .map(|p| changelog_records(log.as_ref(), &job_name, p).len())
            .sum();
        log.roll(&topic).unwrap();
        log.run_maintenance().unwrap();
        let after: usize = (0..2)
            .map(|p| changelog_records(log.as_ref(), &job_name, p).len())
            .sum();
        assert!(
            after < before,
            "compaction removed superseded records: {after} < {before}"
        );
        std::fs::remove_dir_all(kappa::state_dir(&kdir, &job_name)).unwrap();
        let job = Job::new(log.clone(), w.clone(), config(&fx, &kdir, StoreKind::Redb)).unwrap();
        let report = job.run_until_caught_up().unwrap();
        assert!(
            report
                .restores
                .iter()
                .all(|r| r.source == RestoreSource::Changelog)
        );
        assert!(report.restores.iter().all(|r| r.torn_records == 0));
        let again = kappa::load_version(&kdir, w.name(), 1).unwrap();
        assert!(same_result(&again, &expected));
    }
}

#[test]
fn a_store_behind_catches_up_a_damaged_or_foreign_one_is_not_used() {
    // Run, keep a copy of the local stores, run further, put the old copy back: the
    // stores are behind the changelog by whole checkpoints and catch up from it.
    let fx = pageviews();
    let w = &fx.workloads[0];
    let (expected, expected_late) = reference(&fx, w);
    let (log, kdir) = fx.job_target();
    let name = kappa::job_name(w.name(), 1);
    let state = kappa::state_dir(&kdir, &name);
    let run = || {
        fx.job(&log, w, config(&fx, &kdir, StoreKind::Redb))
            .run_until_caught_up()
            .unwrap()
    };
    fx.copy(log.as_ref(), &fx.zeros(), &fx.fraction(1, 2));
    run();
    let saved = kdir.join("saved-state");
    std::fs::create_dir_all(&saved).unwrap();
    for p in 0..2 {
        let f = format!("task-{p}.redb");
        std::fs::copy(state.join(&f), saved.join(&f)).unwrap();
    }
    fx.copy(log.as_ref(), &fx.fraction(1, 2), &fx.fraction(3, 4));
    run();
    for p in 0..2 {
        let f = format!("task-{p}.redb");
        std::fs::copy(saved.join(&f), state.join(&f)).unwrap();
    }
    // A damaged store file is not intact: that task restores from the changelog.
    std::fs::write(state.join("task-1.redb"), b"garbage, not a database").unwrap();
    fx.copy(log.as_ref(), &fx.fraction(3, 4), &fx.end());
    let report = run();
    let r = &report.restores;
    assert_eq!(r[0].source, RestoreSource::LocalStore, "{r:?}");
    assert!(
        r[0].changelog_records > 0,
        "caught up from the changelog: {r:?}"
    );
    assert_eq!(r[1].source, RestoreSource::Changelog, "{r:?}");
    let got = kappa::load_version(&kdir, w.name(), 1).unwrap();
    assert!(same_result(&got, &expected));

    // A store whose changelog is gone (another history) is not trusted: without a
    // changelog there is nothing to restore, and the job starts over from offset 0.
    log.delete_topic(&kappa::changelog_topic(&name)).unwrap();
    log.delete_topic(&kappa::late_topic(&name)).unwrap();
    let report = run();
    assert!(
        report
            .restores
            .iter()
            .all(|r| r.source == RestoreSource::Fresh),
        "{:?}",
        report.restores
    );
    let got = kappa::load_version(&kdir, w.name(), 1).unwrap();
    assert!(same_result(&got, &expected));
    let mut late = late_sources(log.as_ref(), &name);
    late.sort();
    assert_eq!(late, expected_late);
}

/// The checkpoint of the last marker in a task's changelog partition.
fn last_marker(log: &dyn Log, job: &str, p: u32) -> (u64, kappa::Checkpoint) {
    let records = changelog_records(log, job, p);
    let marker = records
        .iter()
        .rev()
        .find(|r| r.key.as_deref() == Some(&b"!checkpoint"[..]))
        .expect("a checkpoint marker");
    let checkpoint = postcard::from_bytes(marker.value.as_deref().unwrap()).unwrap();
    (marker.offset, checkpoint)
}

/// The checkpoint a task's redb store holds, read from a copy of its file (the job holds
/// the file itself open).
fn stored_checkpoint(state: &std::path::Path, p: u32, copy: &std::path::Path) -> u64 {
    std::fs::copy(state.join(format!("task-{p}.redb")), copy).unwrap();
    let store = kappa::RedbStore::open(copy).unwrap();
    kappa::StateStore::checkpoint(&store)
        .unwrap()
        .expect("a stored checkpoint")
        .checkpoint
        .seq
}

#[test]
fn a_local_store_takes_checkpoints_in_at_its_interval_and_when_its_task_closes() {
    let fx = pageviews();
    let w = &fx.workloads[0];
    let (expected, _) = reference(&fx, w);
    let (log, kdir) = fx.full_job_target();
    let cfg = JobConfig {
        store_commit_interval: Duration::from_secs(3600),
        ..config(&fx, &kdir, StoreKind::Redb)
    };
    let job = fx.job(&log, w, cfg.clone());
    let state = kappa::state_dir(&kdir, job.name());
    let running = job.start().unwrap();
    assert!(running.wait_caught_up(Duration::from_secs(120)).unwrap());
    // Running: the store holds the task's first checkpoint only; the changelog has
    // several (a checkpoint per 250 records).
    let copy = kdir.join("copy.redb");
    for p in 0..2 {
        let (_, last) = last_marker(log.as_ref(), job.name(), p);
        assert!(last.seq > 3, "several checkpoints: {last:?}");
        assert_eq!(stored_checkpoint(&state, p, &copy), 1, "partition {p}");
        std::fs::remove_file(&copy).unwrap();
    }
    running.stop().unwrap();
    // Closed: each store holds its changelog's last checkpoint, at that marker.
    for p in 0..2 {
        let (offset, last) = last_marker(log.as_ref(), job.name(), p);
        let store = kappa::RedbStore::open(&state.join(format!("task-{p}.redb"))).unwrap();
        let stored = kappa::StateStore::checkpoint(&store).unwrap().unwrap();
        assert_eq!((stored.marker_offset, stored.checkpoint), (offset, last));
    }
    // The next run opens from the stores with nothing to catch up.
    let report = fx.job(&log, w, cfg).run_until_caught_up().unwrap();
    assert!(
        report
            .restores
            .iter()
            .all(|r| r.source == RestoreSource::LocalStore && r.changelog_records == 0),
        "{:?}",
        report.restores
    );
    let got = kappa::load_version(&kdir, w.name(), 1).unwrap();
    assert!(same_result(&got, &expected));
}
