//! The Kappa pipeline from the command line: `lk kappa run` into table v1, `lk query
//! --pipeline kappa` equal to the oracle, `lk kappa reprocess` into v2 with the alias
//! switched and v1 retired, and bad input refused.

mod common;

use common::{
    generate_pageviews, kappa_run_exact, lk, pageviews_per_minute_csv as oracle_csv, stdout_of,
};
use tempfile::TempDir;

const WORKLOAD: &str = "pageviews-per-minute";

/// The state store of task `task` of the job's version 1.
fn store_path(dir: &TempDir, task: u32) -> std::path::PathBuf {
    dir.path()
        .join("kappa/state")
        .join(format!("{WORKLOAD}.v1"))
        .join(format!("task-{task}.redb"))
}

fn query_kappa(dir: &TempDir) -> String {
    stdout_of(lk(dir).args([
        "query",
        "--workload",
        WORKLOAD,
        "--pipeline",
        "kappa",
        "--format",
        "csv",
    ]))
}

#[test]
fn run_query_reprocess_and_versions() {
    let dir = TempDir::new().unwrap();
    generate_pageviews(&dir, "11", 4000).assert().success();
    let want = oracle_csv(&dir);
    // No table yet: a clear error.
    let out = lk(&dir)
        .args(["query", "--workload", WORKLOAD, "--pipeline", "kappa"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no Kappa table yet"));

    // Lateness covering the data's disorder: exact.
    let run = kappa_run_exact(&dir, WORKLOAD, &[]);
    assert!(run.contains("0 late"), "{run}");
    assert_eq!(query_kappa(&dir), want);

    // Reprocess with zero lateness: v2 replaces v1, and it reports late events.
    let re = stdout_of(lk(&dir).args([
        "kappa",
        "reprocess",
        "--workload",
        WORKLOAD,
        "--allowed-lateness",
        "0s",
    ]));
    assert!(re.contains("into v2") && re.contains("retired v1"), "{re}");
    let versions = stdout_of(lk(&dir).args(["kappa", "versions", "--workload", WORKLOAD]));
    assert!(
        versions.contains(&format!("{WORKLOAD}.v2 (serving)")) && !versions.contains(".v1"),
        "{versions}"
    );
    let late_answer = query_kappa(&dir);
    assert_ne!(late_answer, want, "zero lateness must drop the late events");
    let table_late: u64 = versions
        .split(", ")
        .find_map(|part| part.strip_suffix(" late\n").or(part.strip_suffix(" late")))
        .and_then(|n| n.trim().parse().ok())
        .expect("the version line reports late events");
    assert!(table_late > 0, "{versions}");

    // Reprocess back to generous lateness: the oracle's answer again, now as v3.
    stdout_of(lk(&dir).args([
        "kappa",
        "reprocess",
        "--workload",
        WORKLOAD,
        "--allowed-lateness",
        "5m",
    ]));
    assert_eq!(query_kappa(&dir), want);
}

#[test]
fn bad_arguments_are_refused() {
    let dir = TempDir::new().unwrap();
    generate_pageviews(&dir, "11", 4000).assert().success();
    let run = ["kappa", "run", "--workload", WORKLOAD, "--until-caught-up"];
    for (args, code) in [
        (
            &["kappa", "run", "--workload", "nope", "--until-caught-up"][..],
            1,
        ),
        (&["--workers", "0"][..], 1),
        // A flag's value that does not parse is a usage error.
        (&["--allowed-lateness", "soon"][..], 2),
        (&["--uncommitted-every", "5"][..], 2),
        (&["--checkpoint-records", "0"][..], 2),
    ] {
        let args: Vec<&str> = if args[0] == "kappa" {
            args.to_vec()
        } else {
            run.iter().chain(args).copied().collect()
        };
        let out = lk(&dir).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        let prefix = if code == 1 { "lk: error: " } else { "error: " };
        assert!(err.starts_with(prefix), "{args:?}: {err}");
    }
}

/// The largest checkpoint number a run's restore lines name.
fn last_checkpoint(run: &str) -> u64 {
    run.lines()
        .filter_map(|l| l.split("(checkpoint ").nth(1))
        .filter_map(|rest| rest.split(' ').next()?.parse().ok())
        .max()
        .unwrap_or_else(|| panic!("no restored checkpoint in: {run}"))
}

#[test]
fn checkpoint_records_sets_how_often_a_task_checkpoints() {
    let dir = TempDir::new().unwrap();
    // 30,000 records per partition: three reads of 10,000 each, a task's checkpoint
    // coming at most once per read.
    generate_pageviews(&dir, "11", 60_000).assert().success();
    let run = |extra: &[&str]| {
        let mut args = vec!["--checkpoint-every", "1h"];
        args.extend_from_slice(extra);
        kappa_run_exact(&dir, WORKLOAD, &args)
    };
    run(&["--checkpoint-records", "250"]);
    let again = run(&[]);
    assert!(last_checkpoint(&again) >= 3, "{again}");
    stdout_of(lk(&dir).args(["kappa", "reset", "--workload", WORKLOAD]));
    // The default, 100,000 records: the last checkpoint only.
    run(&[]);
    let again = run(&[]);
    assert_eq!(last_checkpoint(&again), 1, "{again}");
}

/// The job's topics on the log, its state directories and its table entries in `dir`.
fn leftovers(dir: &TempDir) -> Vec<String> {
    let mut left: Vec<String> = stdout_of(lk(dir).args(["topic", "list"]))
        .lines()
        .filter(|l| l.starts_with("kappa."))
        .map(str::to_owned)
        .collect();
    for sub in ["state", "tables"] {
        let d = dir.path().join("kappa").join(sub);
        if let Ok(entries) = std::fs::read_dir(&d) {
            left.extend(
                entries
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with(WORKLOAD)),
            );
        }
    }
    left
}

#[test]
fn reset_leaves_nothing_of_the_job_and_a_rerun_answers_like_the_first() {
    let dir = TempDir::new().unwrap();
    generate_pageviews(&dir, "3", 3000).assert().success();
    let run = [
        "kappa",
        "run",
        "--workload",
        WORKLOAD,
        "--allowed-lateness",
        "0s",
        "--until-caught-up",
    ];
    stdout_of(lk(&dir).args(run));
    let first = query_kappa(&dir);
    // A second version, the first kept: reset removes both.
    stdout_of(lk(&dir).args([
        "kappa",
        "reprocess",
        "--workload",
        WORKLOAD,
        "--allowed-lateness",
        "5m",
        "--keep-old",
    ]));
    assert!(leftovers(&dir).len() >= 6, "{:?}", leftovers(&dir));

    // Refused while a job holds its state store open (as a running job does).
    let store = store_path(&dir, 0);
    let held = kappa::RedbStore::open(&store).unwrap();
    let out = lk(&dir)
        .args(["kappa", "reset", "--workload", WORKLOAD])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{WORKLOAD}.v1 is running")), "{err}");
    assert!(
        leftovers(&dir).len() >= 6,
        "a refused reset removes nothing"
    );
    drop(held);

    let reset = stdout_of(lk(&dir).args(["kappa", "reset", "--workload", WORKLOAD]));
    assert!(
        reset.contains("versions v1, v2")
            && reset.contains("2 tables, 2 state directories, 4 topics"),
        "{reset}"
    );
    assert_eq!(leftovers(&dir), Vec::<String>::new());
    assert!(
        !dir.path()
            .join(format!("kappa/tables/{WORKLOAD}.alias"))
            .exists()
    );
    {
        use master_log::Log as _;
        let log = master_log::EmbeddedLog::open(dir.path()).unwrap();
        for v in [1, 2] {
            let group = format!("kappa.{WORKLOAD}.v{v}");
            let committed = log.committed_offsets(&group, "pageviews").unwrap();
            assert!(
                committed.values().all(|&o| o == 0),
                "{group}: {committed:?}"
            );
        }
    }
    let out = lk(&dir)
        .args(["query", "--workload", WORKLOAD, "--pipeline", "kappa"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("no Kappa table yet"));
    let again = stdout_of(lk(&dir).args(["kappa", "reset", "--workload", WORKLOAD]));
    assert!(again.contains("has no Kappa job to reset"), "{again}");

    // The next run starts from scratch and answers as the first did.
    let rerun = stdout_of(lk(&dir).args(run));
    assert_eq!(
        rerun
            .matches("no checkpoint yet, starts at offset 0")
            .count(),
        2,
        "{rerun}"
    );
    assert_eq!(query_kappa(&dir), first);
}

/// A second run of a job whose state store another process holds open (the job
/// running there) is refused with a clear error, and the store is left as it was: never
/// taken for damage, deleted and restored under the running job.
#[test]
fn a_second_run_of_a_running_job_is_refused_and_leaves_its_state_alone() {
    use std::os::unix::fs::MetadataExt;
    let dir = TempDir::new().unwrap();
    generate_pageviews(&dir, "5", 2000).assert().success();
    let run = ["kappa", "run", "--workload", WORKLOAD, "--until-caught-up"];
    stdout_of(lk(&dir).args(run));
    let first = query_kappa(&dir);
    let store = store_path(&dir, 1);
    let held = kappa::RedbStore::open(&store).unwrap();
    let before = (
        std::fs::metadata(&store).unwrap().ino(),
        std::fs::read(&store).unwrap(),
    );
    let out = lk(&dir).args(run).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is open in another process"), "{err}");
    assert!(err.contains("task-1.redb"), "{err}");
    let after = (
        std::fs::metadata(&store).unwrap().ino(),
        std::fs::read(&store).unwrap(),
    );
    assert!(before == after, "the held store was changed");
    drop(held);
    // Released: the job runs again and answers as before.
    stdout_of(lk(&dir).args(run));
    assert_eq!(query_kappa(&dir), first);
}

#[test]
fn delete_removes_one_version_but_not_the_serving_one() {
    let dir = TempDir::new().unwrap();
    generate_pageviews(&dir, "3", 2000).assert().success();
    stdout_of(lk(&dir).args(["kappa", "run", "--workload", WORKLOAD, "--until-caught-up"]));
    stdout_of(lk(&dir).args(["kappa", "reprocess", "--workload", WORKLOAD, "--keep-old"]));
    let delete = |v: &str| {
        lk(&dir)
            .args(["kappa", "delete", "--workload", WORKLOAD, "--version", v])
            .output()
            .unwrap()
    };
    let serving = delete("2");
    assert_eq!(serving.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&serving.stderr).contains("is the serving version"));
    let missing = delete("7");
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("does not exist (versions of"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
    let out = delete("1");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "deleted {WORKLOAD}.v1: 1 table, 1 state directory, 2 topics"
        )),
        "{text}"
    );
    let left = leftovers(&dir);
    assert!(left.iter().all(|l| !l.contains(".v1")), "{left:?}");
    assert!(left.iter().any(|l| l.contains(".v2")), "{left:?}");
    let versions = stdout_of(lk(&dir).args(["kappa", "versions", "--workload", WORKLOAD]));
    assert!(
        versions.starts_with(&format!("{WORKLOAD}.v2 (serving)")),
        "{versions}"
    );
}

#[test]
fn messages_speak_plainly() {
    let dir = TempDir::new().unwrap();
    // One event: the counts are singular.
    lk(&dir)
        .args([
            "generate",
            "pageviews",
            "--topic",
            "pageviews",
            "--events",
            "1",
            "--partitions",
            "1",
        ])
        .assert()
        .success();
    let run =
        stdout_of(lk(&dir).args(["kappa", "run", "--workload", WORKLOAD, "--until-caught-up"]));
    assert!(run.contains("1 record read (1 event, "), "{run}");
    assert!(
        run.contains("restore: partition 0: no checkpoint yet"),
        "{run}"
    );
    let versions = stdout_of(lk(&dir).args(["kappa", "versions", "--workload", WORKLOAD]));
    assert!(versions.contains("1 cell, 1 event, 0 late"), "{versions}");
    for text in [&run, &versions] {
        for debug in [
            "RestoreReport",
            "Some(",
            "{ ",
            "[0]",
            "1 events",
            "1 records",
        ] {
            assert!(!text.contains(debug), "{debug:?} in {text}");
        }
    }
}
