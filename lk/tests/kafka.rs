//! `lk --log kafka://…`: every command on a Kafka-protocol broker, with the same answers
//! as on the embedded log.
//!
//! The broker's address comes from `LK_KAFKA_BROKERS` (`HOST:PORT`); the test command
//! (`scripts/test.sh`) starts one through `scripts/with-kafka.sh`. Without it, the tests
//! that need a broker fail: they never skip silently. Every test uses topics and job
//! namespaces of its own, so they run side by side on one broker.
#![cfg(feature = "kafka")]

mod common;

use std::sync::atomic::{AtomicU32, Ordering};

use assert_cmd::Command;
use common::{
    generate_pageviews, generate_pageviews_into, kafka_flags, lk, pageviews_per_minute_csv,
    stdout_of,
};
use tempfile::TempDir;

const WORKLOAD: &str = "pageviews-per-minute";

/// `lk` on the test broker, with `dir` as its working directory.
fn on_kafka(dir: &TempDir) -> Command {
    let mut c = lk(dir);
    c.args(kafka_flags())
        .env_remove("LK_LOG_URI")
        .env_remove("LK_KAFKA_TANSU_COMPAT");
    c
}

/// A name no other test, and no earlier run on the same broker, uses.
fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}-{}-{nanos:08x}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn query(mut c: Command, topic: &str, pipeline: &str) -> String {
    stdout_of(c.args([
        "query",
        "--workload",
        WORKLOAD,
        "--topic",
        topic,
        "--pipeline",
        pipeline,
        "--format",
        "csv",
    ]))
}

/// Lambda (batch + speed + serving) and Kappa over a generated topic on Kafka give the
/// oracle's answer, as they do over the same data on the embedded log.
#[test]
fn both_pipelines_answer_the_same_on_kafka_as_on_the_embedded_log() {
    let embedded = TempDir::new().unwrap();
    generate_pageviews(&embedded, "5", 3000).assert().success();
    let want = pageviews_per_minute_csv(&embedded);

    let work = TempDir::new().unwrap();
    let topic = unique("pageviews");
    let out = stdout_of(&mut generate_pageviews_into(
        on_kafka(&work),
        &topic,
        "5",
        3000,
    ));
    assert!(out.contains("3000"), "{out}");
    // The generator's description of the topic is local, in --data.
    assert!(
        std::fs::read_dir(work.path().join("datasets"))
            .unwrap()
            .next()
            .is_some()
    );

    stdout_of(on_kafka(&work).args([
        "lambda",
        "run",
        "--workload",
        WORKLOAD,
        "--topic",
        &topic,
        "--until-caught-up",
    ]));
    assert_eq!(query(on_kafka(&work), &topic, "lambda"), want);

    let namespace = unique("ns");
    let run = stdout_of(on_kafka(&work).args([
        "kappa",
        "run",
        "--workload",
        WORKLOAD,
        "--topic",
        &topic,
        "--namespace",
        &namespace,
        "--allowed-lateness",
        "5m",
        "--until-caught-up",
    ]));
    assert!(run.contains("0 late"), "{run}");
    assert_eq!(query(on_kafka(&work), &topic, "kappa"), want);

    // The job's changelog is a compacted topic on the cluster, named in its namespace.
    let topics = stdout_of(on_kafka(&work).args(["topic", "list", "--internal"]));
    let changelog = format!("kappa.{namespace}.{WORKLOAD}.v1.changelog");
    assert!(topics.contains(&changelog), "{changelog} in\n{topics}");
    let described = stdout_of(on_kafka(&work).args(["topic", "describe", &changelog]));
    assert!(described.contains("compact"), "{described}");

    // Reprocessing on Kafka: v2 from offset 0, switch-over, v1 retired with its topics.
    let re = stdout_of(on_kafka(&work).args([
        "kappa",
        "reprocess",
        "--workload",
        WORKLOAD,
        "--topic",
        &topic,
        "--namespace",
        &namespace,
        "--allowed-lateness",
        "5m",
    ]));
    assert!(re.contains("into v2") && re.contains("retired v1"), "{re}");
    assert_eq!(query(on_kafka(&work), &topic, "kappa"), want);
    let topics = stdout_of(on_kafka(&work).args(["topic", "list", "--internal"]));
    assert!(!topics.contains(&changelog), "{topics}");
}

/// Topics, produce and consume on Kafka: keys land in the same partitions, at the same
/// offsets, as on the embedded log (librdkafka's murmur2 is the embedded partitioner).
#[test]
fn produce_and_consume_match_the_embedded_log_record_for_record() {
    let embedded = TempDir::new().unwrap();
    let work = TempDir::new().unwrap();
    let topic = unique("lines");
    let input: String = (0..300)
        .map(|i| format!("member-{i}\tview {i}\n"))
        .collect();
    let mut outputs = Vec::new();
    for backend in ["embedded", "kafka"] {
        let cmd = || match backend {
            "embedded" => lk(&embedded),
            _ => on_kafka(&work),
        };
        let out = stdout_of(cmd().args(["topic", "create", &topic, "--partitions", "4"]));
        assert!(out.contains("4 partitions"), "{backend}: {out}");
        stdout_of(cmd().args(["produce", &topic]).write_stdin(input.clone()));
        let out = stdout_of(cmd().args([
            "consume",
            &topic,
            "--from-beginning",
            "--max",
            "300",
            "--idle-timeout",
            "10s",
            "--format",
            "json",
        ]));
        let mut records: Vec<(u64, u64, String, String)> = out
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (
                    v["partition"].as_u64().unwrap(),
                    v["offset"].as_u64().unwrap(),
                    v["key"].as_str().unwrap().to_owned(),
                    v["value"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        records.sort();
        assert_eq!(records.len(), 300, "{backend}");
        outputs.push(records);
    }
    assert_eq!(outputs[0], outputs[1]);
    let partitions: std::collections::BTreeSet<u64> = outputs[0].iter().map(|r| r.0).collect();
    assert_eq!(partitions.len(), 4, "the keys spread over every partition");

    let listed = stdout_of(on_kafka(&work).args(["topic", "list"]));
    assert!(listed.contains(&topic), "{listed}");
    let out = on_kafka(&work)
        .args(["topic", "create", &topic, "--partitions", "4"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&topic),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout_of(on_kafka(&work).args(["topic", "delete", &topic]));
}

/// `lk compare` on Kafka: both pipelines follow a topic fed on the cluster and both are
/// exact against the oracle.
#[test]
fn compare_runs_on_kafka() {
    let work = TempDir::new().unwrap();
    let json = work.path().join("report.json");
    // The generated topic is `compare.ysb`, deleted and created again by each run.
    let out = on_kafka(&work)
        .args([
            "compare",
            "--dataset",
            "ysb",
            "--events",
            "4000",
            "--rate",
            "8000",
            "--event-rate",
            "2000",
            "--partitions",
            "2",
            "--batch-every",
            "500ms",
            "--checkpoint-every",
            "100ms",
            "--allowed-lateness",
            "1m",
            "--json",
        ])
        .arg(&json)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    for p in ["lambda", "kappa"] {
        assert_eq!(
            report["pipelines"][p]["correctness"]["exact_fraction"], 1.0,
            "{p}: {}",
            report["pipelines"][p]
        );
    }
    // What the run made is gone: its topics on the cluster (the fed topic, Kappa's
    // changelogs and late-events topics) and its scratch directory.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout
            .lines()
            .last()
            .unwrap()
            .contains("topic(s) from the log"),
        "{stdout}"
    );
    let topics = stdout_of(on_kafka(&work).args(["topic", "list"]));
    assert!(
        topics
            .lines()
            .all(|t| !t.starts_with("compare.ysb\t") && !t.starts_with("kappa.compare.ysb.")),
        "{topics}"
    );
    let left: Vec<_> = std::fs::read_dir(work.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with("compare-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// What does not apply to a cluster, or does not parse, is refused before connecting.
#[test]
fn embedded_only_commands_and_bad_log_flags_are_refused() {
    let work = TempDir::new().unwrap();
    let cases: [(&[&str], &str); 5] = [
        (
            &["--log", "kafka://127.0.0.1:1", "log", "verify"],
            "embedded log's files",
        ),
        (
            &["--log", "file:///tmp/x", "topic", "list"],
            "expected `embedded` or kafka://",
        ),
        (
            &["--log", "kafka://nohost", "topic", "list"],
            "without a port",
        ),
        (
            &[
                "--log",
                "kafka://127.0.0.1:1",
                "-X",
                "group.id=x",
                "topic",
                "list",
            ],
            "group.id",
        ),
        (
            &[
                "--log",
                "kafka://127.0.0.1:1",
                "--kafka-acks",
                "2",
                "topic",
                "list",
            ],
            "acks",
        ),
    ];
    for (args, message) in cases {
        let out = lk(&work).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    // Nothing was created in the working directory by a refused command.
    assert_eq!(std::fs::read_dir(work.path()).unwrap().count(), 0);
}

/// Workers of one pipeline started as two processes of one consumer group: the group
/// splits the partitions between them. One is SIGKILLed while records arrive, and a
/// replacement is started (as a supervisor would); the group moves the dead worker's
/// partition, whose new owner resumes from what the dead one last saved in the shared
/// directory (Kappa: its checkpoint, restored from the changelog or the local store;
/// Lambda: the partition's published batch view and saved realtime view). The answer
/// `lk query` merges from the shared directory equals the oracle's, as a single
/// process's does.
///
/// (With Apache Kafka the survivor alone would take the partition over once the dead
/// member's session times out; tansu 0.6 expires a dead member only when the group
/// changes, hence the replacement.)
///
/// `started` is what a worker prints once it has joined; `took_over(p)` what the
/// survivors print when they take partition `p` over (both partitions must be). Returns
/// the killed worker's output.
fn workers_survive_a_sigkill(
    pipeline: &str,
    worker_args: &[&str],
    started: &str,
    took_over: fn(u32) -> String,
) -> String {
    use common::Running;
    use std::time::{Duration, Instant};

    let embedded = TempDir::new().unwrap();
    generate_pageviews(&embedded, "21", 4000).assert().success();
    let want = pageviews_per_minute_csv(&embedded);

    let work = TempDir::new().unwrap();
    let topic = unique("pageviews");
    stdout_of(on_kafka(&work).args(["topic", "create", &topic, "--partitions", "2"]));
    let namespace = unique("ns");
    let mut args = kafka_flags();
    args.extend(worker_args.iter().map(|a| a.to_string()));
    args.extend(
        [
            "--workload",
            WORKLOAD,
            "--topic",
            &topic,
            "--namespace",
            &namespace,
        ]
        .map(String::from),
    );
    let worker = || Running::spawn(work.path(), &args);
    let first = worker();
    std::thread::sleep(Duration::from_secs(2));
    let second = worker();
    std::thread::sleep(Duration::from_secs(4));
    // The data arrives in real time (5 s) while both run; the first dies in the middle.
    let feeder = {
        let mut c = generate_pageviews_into(on_kafka(&work), &topic, "21", 4000);
        c.args(["--rate", "800"]);
        std::thread::spawn(move || c.assert().success())
    };
    std::thread::sleep(Duration::from_millis(2500));
    let killed = first.kill(); // SIGKILL
    feeder.join().unwrap();
    let mut third = worker();
    // The replacement has joined the group before the answer is awaited.
    third.wait_for(&[started.to_owned()], Duration::from_secs(60));

    let query = || {
        let out = on_kafka(&work)
            .args(["query", "--workload", WORKLOAD, "--topic", &topic])
            .args(["--pipeline", pipeline, "--format", "csv"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while query() != want && Instant::now() < deadline {
        std::thread::sleep(Duration::from_secs(1));
    }
    let outputs = second.interrupt() + &third.interrupt();
    let context = format!("workers' output:\n{outputs}\nkilled worker's:\n{killed}");
    assert_eq!(query(), want, "{context}");
    // The partitions moved: the remaining workers took both over between them.
    for p in [0, 1] {
        assert!(outputs.contains(&took_over(p)), "{context}");
    }
    killed
}

#[test]
fn kappa_workers_in_several_processes_survive_a_sigkill() {
    workers_survive_a_sigkill(
        "kappa",
        &[
            "kappa",
            "run",
            "--allowed-lateness",
            "5m",
            "--workers",
            "1",
            "--worker",
        ],
        "running",
        |p| format!("restore: partition {p}:"),
    );
}

#[test]
fn lambda_workers_in_several_processes_survive_a_sigkill() {
    // Batch runs every 2 s while the data arrives, so each partition's answer is a batch
    // view plus a realtime view at the moment of the kill.
    let killed = workers_survive_a_sigkill(
        "lambda",
        &[
            "lambda",
            "run",
            "--worker",
            "--batch-every",
            "2s",
            "--save-every",
            "200ms",
        ],
        "generation",
        |p| format!("partition {p}: taken over"),
    );
    assert!(killed.contains("published"), "{killed}");
}
