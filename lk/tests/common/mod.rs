//! What every `lk` end-to-end test needs.
#![allow(dead_code)]

use assert_cmd::Command;
use master_log::{EmbeddedLog, Log};
use tempfile::TempDir;

/// The `lk` binary with `--data` set to `dir` (and `$LK_DATA` cleared).
pub fn lk(dir: &TempDir) -> Command {
    let mut cmd = Command::cargo_bin("lk").unwrap();
    cmd.arg("--data").arg(dir.path()).env_remove("LK_DATA");
    cmd
}

/// The `lk` binary as a process to spawn, with `--data` set to `dir` and the environment
/// that would point it elsewhere (`$LK_DATA`, `$LK_LOG_URI`, `$LK_KAFKA_TANSU_COMPAT`)
/// cleared.
pub fn lk_process(dir: &std::path::Path) -> std::process::Command {
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("lk"));
    c.arg("--data")
        .arg(dir)
        .env_remove("LK_DATA")
        .env_remove("LK_LOG_URI")
        .env_remove("LK_KAFKA_TANSU_COMPAT");
    c
}

/// `kill -INT`: the signal a terminal's Ctrl-C sends.
pub fn ctrl_c(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Wait for `child` to exit, failing with `what` after `timeout`.
pub fn wait_exit(
    child: &mut std::process::Child,
    timeout: std::time::Duration,
    what: &str,
) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(std::time::Instant::now() < deadline, "{what}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The test broker's address, `LK_KAFKA_BROKERS` (`HOST:PORT`); without it the tests
/// that need a broker fail, never skip silently.
#[cfg(feature = "kafka")]
pub fn brokers() -> String {
    match std::env::var("LK_KAFKA_BROKERS") {
        Ok(b) if !b.trim().is_empty() => b,
        _ => panic!(
            "LK_KAFKA_BROKERS is not set: these tests need a Kafka-protocol broker \
             (HOST:PORT); run them through scripts/with-kafka.sh"
        ),
    }
}

/// The flags that point `lk` at the test broker: tansu needs the compatibility mode
/// unless `LK_KAFKA_EXACT` says the broker is a real Kafka.
#[cfg(feature = "kafka")]
pub fn kafka_flags() -> Vec<String> {
    let mut flags = vec!["--log".to_owned(), format!("kafka://{}", brokers())];
    if std::env::var_os("LK_KAFKA_EXACT").is_none() {
        flags.push("--kafka-tansu-compat".to_owned());
    }
    flags
}

/// Run `cmd`, require success (else fail with its stderr), and return its stdout.
pub fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `lk kappa run --workload W --until-caught-up` with 5 minutes of allowed lateness, which
/// covers the disorder of [`generate_pageviews`]' data (late events arrive a minute late),
/// so that the Kappa table holds the exact answer; `extra` arguments appended. Its output.
pub fn kappa_run_exact(dir: &TempDir, workload: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "kappa",
        "run",
        "--workload",
        workload,
        "--allowed-lateness",
        "5m",
        "--until-caught-up",
    ];
    args.extend_from_slice(extra);
    stdout_of(lk(dir).args(&args))
}

/// `lk generate pageviews` into topic `pageviews` (2 partitions, 20 events/s of event
/// time) with out-of-order, late and duplicate events, as the pipelines' tests use it.
pub fn generate_pageviews(dir: &TempDir, seed: &str, events: u32) -> Command {
    generate_pageviews_into(lk(dir), "pageviews", seed, events)
}

/// [`generate_pageviews`] through the `lk` command `c`, into `topic`.
pub fn generate_pageviews_into(mut c: Command, topic: &str, seed: &str, events: u32) -> Command {
    c.args(["generate", "pageviews", "--topic", topic, "--events"])
        .arg(events.to_string())
        .args([
            "--partitions",
            "2",
            "--event-rate",
            "20",
            "--seed",
            seed,
            "--out-of-order",
            "0.1",
            "--max-delay",
            "5s",
            "--late",
            "0.02",
            "--late-delay",
            "1m",
            "--duplicates",
            "0.05",
        ]);
    c
}

/// Copy the records of `[from, to)` of every partition of `pageviews` from `src` into
/// `dst`, keeping partitions (the test's way to append "the rest" after a horizon).
pub fn copy(src: &EmbeddedLog, dst: &EmbeddedLog, from: &[u64], to: &[u64]) {
    for (p, (&a, &b)) in from.iter().zip(to).enumerate() {
        let mut next = a;
        while next < b {
            let recs = src
                .fetch(
                    "pageviews",
                    p as u32,
                    next,
                    master_log::FetchLimits::default(),
                )
                .unwrap();
            let recs: Vec<_> = recs.into_iter().filter(|r| r.offset < b).collect();
            next = recs.last().unwrap().offset + 1;
            let batch: Vec<master_log::NewRecord> = recs
                .into_iter()
                .map(|r| master_log::NewRecord {
                    key: r.key,
                    value: r.value,
                    event_time: r.event_time,
                    headers: r.headers,
                })
                .collect();
            dst.append("pageviews", p as u32, &batch).unwrap();
        }
    }
}

/// A generated dataset split in two: `src` holds all of it; `dir` gets a `pageviews` topic
/// of `partitions` partitions with the first half of every partition. Returns the
/// offsets where the halves meet and where they end, for [`copy`] of the rest.
pub fn first_half(src: &TempDir, dir: &TempDir, partitions: u32) -> (Vec<u64>, Vec<u64>) {
    let src_log = EmbeddedLog::open(src.path()).unwrap();
    let end = src_log.end_offsets("pageviews").unwrap();
    let mid: Vec<u64> = end.iter().map(|e| e / 2).collect();
    let dst = EmbeddedLog::open(dir.path()).unwrap();
    dst.create_topic(
        "pageviews",
        master_log::TopicConfig::with_partitions(partitions),
    )
    .unwrap();
    copy(&src_log, &dst, &vec![0; end.len()], &mid);
    (mid, end)
}

/// Copy `[from, to)` of `src`'s `pageviews` into `dir`'s.
pub fn copy_dirs(src: &TempDir, dir: &TempDir, from: &[u64], to: &[u64]) {
    let src_log = EmbeddedLog::open(src.path()).unwrap();
    let dst = EmbeddedLog::open(dir.path()).unwrap();
    copy(&src_log, &dst, from, to);
}

/// The oracle's answer of `pageviews-per-minute` over `dir`'s topic `pageviews`.
pub fn pageviews_per_minute_oracle(dir: &TempDir) -> workloads::ResultSet {
    let log = EmbeddedLog::open(dir.path()).unwrap();
    oracle::answer(
        &log,
        &workloads::Workload::BuiltIn(workloads::BuiltIn::PageviewsPerMinute),
        "pageviews",
        &dir.path().join("datasets"),
    )
    .unwrap()
}

/// The oracle's answer of `pageviews-per-minute` over `dir`'s `pageviews`, as `lk query
/// --format csv` prints it.
pub fn pageviews_per_minute_csv(dir: &TempDir) -> String {
    let expected = pageviews_per_minute_oracle(dir);
    assert!(expected.rows.len() > 50);
    let mut want = String::from("window_start,window_end,page_id,views\n");
    for r in &expected.rows {
        want.push_str(&format!(
            "{},{},{},{}\n",
            workloads::rfc3339_millis(r.window.start),
            workloads::rfc3339_millis(r.window.end),
            r.key[0],
            r.values[0]
        ));
    }
    want
}

/// A running `lk` process whose output is read as it comes (for commands that run until
/// interrupted).
pub struct Running {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    stderr: std::thread::JoinHandle<String>,
    /// Every stdout line read so far.
    pub seen: String,
}

impl Running {
    /// Start `lk --data DIR` with `args` (and `$LK_DATA`, `$LK_LOG_URI` cleared).
    pub fn spawn(dir: &std::path::Path, args: &[String]) -> Running {
        use std::io::{BufRead, Read};
        use std::process::Stdio;
        let mut child = lk_process(dir)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut err = child.stderr.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        Running {
            child,
            lines,
            stderr,
            seen: String::new(),
        }
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Wait until a line containing each of `needles` has been printed (since the start),
    /// failing with what was printed after `timeout`.
    pub fn wait_for(&mut self, needles: &[String], timeout: std::time::Duration) {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if needles.iter().all(|n| self.seen.contains(n.as_str())) {
                return;
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push_str(&line);
                    self.seen.push('\n');
                }
                Err(_) => panic!(
                    "waited for {needles:?}; the process printed:\n{}",
                    self.seen
                ),
            }
        }
    }

    /// Ctrl-C (SIGINT), then require a successful exit; returns all of stdout.
    pub fn interrupt(self) -> String {
        ctrl_c(self.child.id());
        self.finish()
    }

    /// SIGKILL; returns what it printed.
    pub fn kill(mut self) -> String {
        self.child.kill().unwrap();
        let _ = self.child.wait();
        while let Ok(line) = self.lines.recv() {
            self.seen.push_str(&line);
            self.seen.push('\n');
        }
        self.seen
    }

    fn finish(mut self) -> String {
        let status = self.child.wait().unwrap();
        while let Ok(line) = self.lines.recv() {
            self.seen.push_str(&line);
            self.seen.push('\n');
        }
        let stderr = self.stderr.join().unwrap();
        assert!(status.success(), "{status}: {}\n{stderr}", self.seen);
        self.seen
    }
}
