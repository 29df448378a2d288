//! SIGKILL: a child process appends the dataset to its log chunk by chunk while a job
//! runs over it; the test kills the child at random moments (several rounds) and starts
//! it again; a last child finishes. The final table equals an uninterrupted run's, and
//! every late event is on the side topic exactly once. The same with the local store
//! deleted after every kill (restore from the changelog only), and with uncommitted
//! results shown (`JobConfig::uncommitted_every`): then the table files, written between
//! checkpoints and never fsynced, are readable after every kill.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use datasets::{DatasetKind, GenerateOptions};
use kappa::{Job, JobConfig, OutputTable, RestoreReport, RestoreSource};
use master_log::{EmbeddedLog, FetchLimits, Log, NewRecord, TopicConfig};
use workloads::{BuiltIn, Workload};

const TOPIC: &str = "events";
const PARTS: u32 = 2;

fn workload() -> Workload {
    Workload::BuiltIn(BuiltIn::PageviewsPerMinute)
}

fn config(kdir: &Path, side: &Path, uncommitted: bool) -> JobConfig {
    JobConfig {
        uncommitted_every: uncommitted.then_some(Duration::ZERO),
        checkpoint_records: 150,
        checkpoint_interval: Duration::from_millis(40),
        fetch_limits: FetchLimits {
            max_records: 64,
            max_bytes: 1 << 20,
        },
        ..JobConfig::new(TOPIC, kdir, side)
    }
}

/// Append the source's records from the target's end on, at most `chunk` per partition.
/// Returns whether everything is copied.
fn copy_chunk(src: &dyn Log, dst: &dyn Log, chunk: usize) -> bool {
    let mut done = true;
    for p in 0..PARTS {
        let (_, have) = dst.offsets(TOPIC, p).unwrap();
        let (_, want) = src.offsets(TOPIC, p).unwrap();
        if have >= want {
            continue;
        }
        done = false;
        let limits = FetchLimits {
            max_records: chunk,
            max_bytes: 1 << 20,
        };
        let recs = src.fetch(TOPIC, p, have, limits).unwrap();
        let batch: Vec<NewRecord> = recs
            .iter()
            .map(|r| NewRecord {
                key: r.key.clone(),
                value: r.value.clone(),
                event_time: r.event_time,
                headers: r.headers.clone(),
            })
            .collect();
        dst.append(TOPIC, p, &batch).unwrap();
    }
    done
}

fn open_target(dir: &Path) -> Arc<EmbeddedLog> {
    let log = EmbeddedLog::open(dir.join("log")).unwrap();
    if log.partition_count(TOPIC).is_err() {
        log.create_topic(TOPIC, TopicConfig::with_partitions(PARTS))
            .unwrap();
    }
    Arc::new(log)
}

/// The child: produce and process until killed; with `KAPPA_KILL_FINISH`, copy the rest,
/// run until caught up and print the restore reports.
#[test]
#[ignore = "a child process of the kill tests"]
fn child_process() {
    let Ok(dir) = std::env::var("KAPPA_KILL_DIR") else {
        return;
    };
    let dir = PathBuf::from(dir);
    let src = EmbeddedLog::open(dir.join("src")).unwrap();
    let log = open_target(&dir.join("target"));
    let uncommitted = std::env::var("KAPPA_KILL_UNCOMMITTED").is_ok();
    let config = config(&dir.join("target/kappa"), &dir.join("side"), uncommitted);
    let job = Job::new(log.clone(), workload(), config).unwrap();
    if std::env::var("KAPPA_KILL_FINISH").is_ok() {
        while !copy_chunk(&src, log.as_ref(), 10_000) {}
        let report = job.run_until_caught_up().unwrap();
        println!(
            "RESTORES {}",
            serde_json::to_string(&report.restores).unwrap()
        );
        return;
    }
    let running = job.start().unwrap();
    while !copy_chunk(&src, log.as_ref(), 40) {
        std::thread::sleep(Duration::from_millis(3));
    }
    // Everything is appended: keep running until killed.
    loop {
        assert!(running.wait_caught_up(Duration::from_secs(3600)).is_ok());
    }
}

fn spawn_child(dir: &Path, finish: bool, uncommitted: bool) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--ignored", "--exact", "child_process", "--nocapture"])
        .env("KAPPA_KILL_DIR", dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if finish {
        cmd.env("KAPPA_KILL_FINISH", "1");
    }
    if uncommitted {
        cmd.env("KAPPA_KILL_UNCOMMITTED", "1");
    }
    cmd
}

fn run_kills(delete_local: bool, uncommitted: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let side = dir.join("side");
    {
        let src = EmbeddedLog::open(dir.join("src")).unwrap();
        let opts = GenerateOptions {
            partitions: PARTS,
            event_rate: Some(20),
            out_of_order: 0.1,
            max_delay_ms: 5_000,
            late: 0.02,
            late_delay_ms: 60_000,
            duplicates: 0.05,
            ..GenerateOptions::new(DatasetKind::Pageviews, TOPIC, 5_000)
        };
        datasets::generate(&src, &opts, Some(&side), &mut datasets::no_progress).unwrap();
    }
    // Kill at pseudo-random moments (seeded by the clock; printed to reproduce).
    let mut seed = master_log::now_ms() as u64 | 1;
    println!("kill seed {seed}");
    for _ in 0..5 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = Duration::from_millis(150 + seed % 600);
        let mut child = spawn_child(dir, false, uncommitted).spawn().unwrap();
        std::thread::sleep(delay);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // Whatever the kill interrupted, the table reads whole (or is not written yet).
        match kappa::load_version(&dir.join("target/kappa"), workload().name(), 1) {
            Ok(_) | Err(kappa::KappaError::NoTable { .. }) => {}
            Err(e) => panic!("the table after a kill: {e}"),
        }
        if delete_local {
            let job = kappa::job_name(workload().name(), 1);
            let state = kappa::state_dir(&dir.join("target/kappa"), &job);
            if state.exists() {
                std::fs::remove_dir_all(state).unwrap();
            }
        }
    }
    let out = spawn_child(dir, true, uncommitted).output().unwrap();
    assert!(out.status.success(), "the last child failed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESTORES "))
        .expect("the last child reports its restores");
    let restores: Vec<RestoreReport> = serde_json::from_str(line).unwrap();
    assert_eq!(restores.len(), PARTS as usize);
    let expected_source = if delete_local {
        RestoreSource::Changelog
    } else {
        RestoreSource::LocalStore
    };
    assert!(
        restores
            .iter()
            .all(|r| r.source == expected_source && r.checkpoint.seq > 0),
        "{restores:?}"
    );

    // The uninterrupted run over the same data.
    let src = EmbeddedLog::open(dir.join("src")).unwrap();
    let reference = open_target(&dir.join("reference"));
    while !copy_chunk(&src, reference.as_ref(), 10_000) {}
    let rkdir = dir.join("reference/kappa");
    Job::new(reference.clone(), workload(), config(&rkdir, &side, false))
        .unwrap()
        .run_until_caught_up()
        .unwrap();
    let expected = kappa::load_version(&rkdir, workload().name(), 1).unwrap();
    let got = kappa::load_version(&dir.join("target/kappa"), workload().name(), 1).unwrap();
    assert!(
        same(&got, &expected),
        "delete_local={delete_local} uncommitted={uncommitted}"
    );
    assert!(expected.late_events > 0 && expected.duplicates > 0);

    let target = open_target(&dir.join("target"));
    let job = kappa::job_name(workload().name(), 1);
    assert_eq!(late(target.as_ref(), &job), late(reference.as_ref(), &job));
}

fn same(a: &OutputTable, b: &OutputTable) -> bool {
    a.table == b.table
        && a.positions == b.positions
        && a.events == b.events
        && a.duplicates == b.duplicates
        && a.late_events == b.late_events
}

/// The late-events side topic's records as (partition, key, value), in order.
fn late(log: &dyn Log, job: &str) -> Vec<(u32, Vec<u8>)> {
    let topic = kappa::late_topic(job);
    let mut out = Vec::new();
    for p in 0..PARTS {
        let (_, end) = log.offsets(&topic, p).unwrap();
        let mut at = 0;
        while at < end {
            let recs = log.fetch(&topic, p, at, FetchLimits::default()).unwrap();
            at = recs.last().unwrap().offset + 1;
            out.extend(recs.into_iter().map(|r| (p, r.value.unwrap().to_vec())));
        }
    }
    out
}

#[test]
fn sigkill_at_random_moments_restores_from_the_local_store() {
    run_kills(false, false);
}

#[test]
fn sigkill_at_random_moments_restores_from_the_changelog_alone() {
    run_kills(true, false);
}

#[test]
fn sigkill_with_uncommitted_results_shown_ends_at_the_same_table() {
    run_kills(false, true);
}
