//! Several processes on one data directory: real child processes (this test binary run
//! again, its ignored `child` entry doing what `LOG_CHILD` says) appending to one
//! partition at once, following each other's appends, opening read-only, and being
//! killed mid-append.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use master_log::{EmbeddedLog, FetchLimits, Log, NewRecord, TopicConfig};

const TOPIC: &str = "events";

/// A child process running `role` on the data directory `dir`.
fn spawn(role: &str, dir: &Path, stdout: Stdio) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("LOG_CHILD", role)
        .env("LOG_CHILD_DIR", dir)
        .stdout(stdout)
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

fn wait_ok(mut child: Child, what: &str) {
    let status = child.wait().unwrap();
    assert!(status.success(), "{what}: {status}");
}

/// Every record of a partition, read with `log`.
fn read_all(log: &EmbeddedLog, partition: u32) -> Vec<master_log::Record> {
    let mut out = Vec::new();
    let end = log.offsets(TOPIC, partition).unwrap().1;
    while (out.len() as u64) < end {
        let got = log
            .fetch(TOPIC, partition, out.len() as u64, FetchLimits::default())
            .unwrap();
        assert!(!got.is_empty());
        out.extend(got);
    }
    out
}

/// What a child does, chosen by `LOG_CHILD` (`role:arg:arg`).
#[test]
#[ignore = "run by the other tests of this file as a child process"]
fn child() {
    let role = std::env::var("LOG_CHILD").unwrap();
    let dir = PathBuf::from(std::env::var("LOG_CHILD_DIR").unwrap());
    let words: Vec<&str> = role.split(':').collect();
    let log = EmbeddedLog::open(&dir).unwrap();
    match words.as_slice() {
        // Wait for the file `go`, then append `batches` batches of `size` keyed records.
        ["append", name, batches, size] => {
            let (batches, size): (u64, u64) = (batches.parse().unwrap(), size.parse().unwrap());
            while !dir.join("go").exists() {
                std::thread::sleep(Duration::from_millis(1));
            }
            for b in 0..batches {
                let records: Vec<NewRecord> = (0..size)
                    .map(|i| {
                        let key = format!("{name}-{}", b * size + i);
                        NewRecord::keyed(key.clone(), key, 0)
                    })
                    .collect();
                log.append(TOPIC, 0, &records).unwrap();
            }
        }
        // Read partition 0 as it grows until `count` records were read; fail after 10 s.
        // Each wait may take longer than that: only a wake-up by the appends of the
        // other process ends it in time.
        ["follow", count] => {
            let count: u64 = count.parse().unwrap();
            let deadline = Instant::now() + Duration::from_secs(10);
            let mut next = 0;
            while next < count {
                let woken = log
                    .wait_for(TOPIC, 0, next, Duration::from_secs(20))
                    .unwrap();
                assert!(Instant::now() < deadline, "read {next} of {count}");
                if !woken {
                    continue;
                }
                for r in log.fetch(TOPIC, 0, next, FetchLimits::default()).unwrap() {
                    assert_eq!(r.offset, next);
                    assert_eq!(r.value.as_deref(), Some(format!("v{next}").as_bytes()));
                    next += 1;
                }
            }
            println!("followed {next}");
        }
        // Read everything there is, as read-only commands do.
        ["read"] => {
            for t in log.list_topics().unwrap() {
                let d = log.describe_topic(&t.name).unwrap();
                for p in d.partitions {
                    let mut offset = p.earliest;
                    while offset < p.latest {
                        let got = log
                            .fetch(&t.name, p.partition, offset, FetchLimits::default())
                            .unwrap();
                        offset = got.last().unwrap().offset + 1;
                    }
                }
            }
            log.committed_offsets("g", TOPIC).unwrap();
        }
        // Append one record at a time, saying after each which offset it got, forever.
        ["append-forever"] => {
            let mut out = std::io::stdout().lock();
            for seq in 0u64.. {
                let value = vec![b'x'; 64 * 1024 + (seq % 7) as usize];
                let record = NewRecord::keyed(format!("r{seq}"), value, seq as i64);
                let at = log.append(TOPIC, 0, &[record]).unwrap();
                assert_eq!(at.base_offset, seq);
                writeln!(out, "acked {seq}").unwrap();
                out.flush().unwrap();
            }
        }
        other => panic!("unknown child role {other:?}"),
    }
}

#[test]
fn two_processes_appending_to_one_partition_keep_every_record_once_at_dense_offsets() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = EmbeddedLog::open(dir.path()).unwrap();
        // Small segments: the processes roll them under each other's feet too.
        let config = TopicConfig {
            segment_bytes: 64 * 1024,
            ..TopicConfig::default()
        };
        log.create_topic(TOPIC, config).unwrap();
    }
    let (batches, size) = (300u64, 10u64);
    let children: Vec<Child> = ["a", "b"]
        .iter()
        .map(|name| {
            let role = format!("append:{name}:{batches}:{size}");
            spawn(&role, dir.path(), Stdio::null())
        })
        .collect();
    std::fs::write(dir.path().join("go"), b"").unwrap();
    for c in children {
        wait_ok(c, "appending child");
    }
    let report = master_log::verify(dir.path()).unwrap();
    assert!(report.is_clean(), "{:#?}", report.problems);
    assert!(report.segments > 3, "{report:?}");
    let log = EmbeddedLog::open(dir.path()).unwrap();
    assert!(
        log.recovery_issues().is_empty(),
        "{:?}",
        log.recovery_issues()
    );
    let records = read_all(&log, 0);
    assert_eq!(records.len() as u64, 2 * batches * size);
    let mut keys = BTreeSet::new();
    let mut next_of: BTreeMap<String, u64> = BTreeMap::new();
    for (o, r) in records.iter().enumerate() {
        assert_eq!(r.offset, o as u64);
        let key = String::from_utf8(r.key.as_deref().unwrap().to_vec()).unwrap();
        assert_eq!(r.value.as_deref(), Some(key.as_bytes()));
        // Each process's records in the order it appended them.
        let (name, i) = key.split_once('-').unwrap();
        let i: u64 = i.parse().unwrap();
        let next = next_of.entry(name.to_owned()).or_default();
        assert_eq!(i, *next, "{key} at offset {o}");
        *next += 1;
        assert!(keys.insert(key));
    }
    // Both interleaved: neither wrote all its records in one run.
    let first_b = records
        .iter()
        .position(|r| r.key.as_deref().unwrap()[0] == b'b');
    let last_a = records
        .iter()
        .rposition(|r| r.key.as_deref().unwrap()[0] == b'a');
    assert!(first_b.is_some() && last_a.is_some());
}

#[test]
fn a_reader_process_follows_another_process_appends() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path()).unwrap();
    log.create_topic(TOPIC, TopicConfig::default()).unwrap();
    let count = 500u64;
    let mut follower = spawn(&format!("follow:{count}"), dir.path(), Stdio::piped());
    let mut next = 0;
    while next < count {
        let records: Vec<NewRecord> = (next..next + 25)
            .map(|o| NewRecord::value(format!("v{o}"), o as i64))
            .collect();
        log.append(TOPIC, 0, &records).unwrap();
        next += 25;
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut out = String::new();
    std::io::Read::read_to_string(follower.stdout.as_mut().unwrap(), &mut out).unwrap();
    wait_ok(follower, "follower");
    assert!(out.contains(&format!("followed {count}")), "{out}");
}

/// A listener of one process is woken by another process's append even when a read
/// of the offsets (not the watcher) was the first to see it. Two logs opened in one
/// process hold their own file locks, as two processes do.
#[test]
fn a_listener_wakes_when_an_offsets_read_sees_another_process_append_first() {
    let dir = tempfile::tempdir().unwrap();
    let writer = EmbeddedLog::open(dir.path()).unwrap();
    writer.create_topic(TOPIC, TopicConfig::default()).unwrap();
    let reader = EmbeddedLog::open(dir.path()).unwrap();
    for round in 0..10u64 {
        let listener = reader.listen(TOPIC).unwrap();
        writer
            .append(TOPIC, 0, &[NewRecord::value(format!("v{round}"), 0)])
            .unwrap();
        // At once, before the watcher's next look.
        assert_eq!(reader.end_offsets(TOPIC).unwrap(), vec![round + 1]);
        assert!(
            master_log::Listener::wait_timeout(listener, Duration::from_secs(2)).is_some(),
            "round {round}: the append was seen by the offsets read but no listener woke"
        );
    }
}

/// Every file of `dir`, with its bytes and modification time.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (Vec<u8>, std::time::SystemTime)> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let meta = e.metadata().unwrap();
            if meta.is_dir() {
                todo.push(e.path());
            } else {
                let bytes = std::fs::read(e.path()).unwrap();
                out.insert(e.path(), (bytes, meta.modified().unwrap()));
            }
        }
    }
    out
}

#[test]
fn a_reader_open_of_a_cleanly_closed_log_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = EmbeddedLog::open(dir.path()).unwrap();
        let config = TopicConfig {
            segment_bytes: 4096,
            ..TopicConfig::with_partitions(2)
        };
        log.create_topic(TOPIC, config).unwrap();
        for o in 0..300u64 {
            let r = NewRecord::keyed(format!("k{}", o % 13), format!("v{o}"), o as i64);
            log.append(TOPIC, (o % 2) as u32, &[r]).unwrap();
        }
        log.commit_offsets("g", TOPIC, &[(0, 10)]).unwrap();
    }
    let before = snapshot(dir.path());
    wait_ok(spawn("read", dir.path(), Stdio::null()), "reader");
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn a_process_killed_mid_append_loses_nothing_acknowledged_and_the_next_writer_cuts_its_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path()).unwrap();
    log.create_topic(TOPIC, TopicConfig::default()).unwrap();
    let mut writer = spawn("append-forever", dir.path(), Stdio::piped());
    let mut lines = BufReader::new(writer.stdout.take().unwrap()).lines();
    let mut acked = None;
    for line in lines.by_ref() {
        if let Some(o) = line.unwrap().strip_prefix("acked ") {
            acked = Some(o.parse::<u64>().unwrap());
            if acked >= Some(200) {
                break;
            }
        }
    }
    writer.kill().unwrap();
    writer.wait().unwrap();
    for line in lines {
        if let Some(o) = line.unwrap().strip_prefix("acked ") {
            acked = Some(o.parse::<u64>().unwrap());
        }
    }
    let acked = acked.unwrap();
    // This log followed none of it yet; whatever the kill left at the end of the file,
    // add half a batch there: a write torn by the kill.
    let segment = dir.path().join("topics/events/0/00000000000000000000.log");
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&segment)
        .unwrap();
    let torn = vec![0x5a; 300];
    file.write_all(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0])
        .unwrap();
    file.write_all(&torn).unwrap();
    drop(file);
    // This process appends next: it reads what the killed one appended, cuts the tail.
    let at = log
        .append(TOPIC, 0, &[NewRecord::keyed("after", "kill", 0)])
        .unwrap();
    assert!(at.base_offset > acked, "{at:?} after {acked} acknowledged");
    let records = read_all(&log, 0);
    assert_eq!(records.len() as u64, at.base_offset + 1);
    for r in &records[..at.base_offset as usize] {
        assert_eq!(r.key.as_deref(), Some(format!("r{}", r.offset).as_bytes()));
        assert_eq!(
            r.value.as_ref().unwrap().len(),
            64 * 1024 + (r.offset % 7) as usize
        );
    }
    assert_eq!(records.last().unwrap().key.as_deref(), Some(&b"after"[..]));
    assert!(dir.path().join("topics/events/0/quarantine.lkq").exists());
    drop(log);
    let report = master_log::verify(dir.path()).unwrap();
    assert!(report.is_clean(), "{:#?}", report.problems);
    assert!(report.torn_tails_cut >= 1, "{report:?}");
}
