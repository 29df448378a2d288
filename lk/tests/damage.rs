//! The command line over a damaged or fragile data directory: lost offsets make the
//! Lambda batch layer and `lk log verify` fail naming them; read-only commands write
//! nothing; a topic that would not fit under the open-file limit is refused whole.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use common::{generate_pageviews, lk, stdout_of};
use master_log::{EmbeddedLog, FetchLimits, Log, NewRecord, TopicConfig};
use tempfile::TempDir;

/// The segment log files of `topic`'s partition `p`, in offset order.
fn segments(dir: &TempDir, topic: &str, p: u32) -> Vec<PathBuf> {
    let pdir = dir.path().join("topics").join(topic).join(p.to_string());
    let mut logs: Vec<PathBuf> = std::fs::read_dir(pdir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    logs
}

/// Generated `pageviews` in segments of 4 KiB (appended 50 records at a time), so that
/// each partition has closed segments.
fn small_segments(dir: &TempDir) {
    let src = TempDir::new().unwrap();
    generate_pageviews(&src, "7", 3000).assert().success();
    let src = EmbeddedLog::open(src.path()).unwrap();
    let dst = EmbeddedLog::open(dir.path()).unwrap();
    let config = TopicConfig {
        segment_bytes: 4096,
        ..TopicConfig::with_partitions(2)
    };
    dst.create_topic("pageviews", config).unwrap();
    let limits = FetchLimits {
        max_records: 50,
        ..FetchLimits::default()
    };
    for (p, end) in src
        .end_offsets("pageviews")
        .unwrap()
        .into_iter()
        .enumerate()
    {
        let mut next = 0;
        while next < end {
            let records = src.fetch("pageviews", p as u32, next, limits).unwrap();
            next = records.last().unwrap().offset + 1;
            let batch: Vec<NewRecord> = records
                .into_iter()
                .map(|r| NewRecord {
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

#[test]
fn lambda_batch_and_verify_fail_naming_offsets_lost_with_a_truncated_closed_segment() {
    let dir = TempDir::new().unwrap();
    small_segments(&dir);
    let segs = segments(&dir, "pageviews", 0);
    assert!(segs.len() > 3, "{segs:?}");
    // The second segment, cut to nothing: its offsets are those up to the third's base.
    let base = |p: &Path| -> u64 { p.file_stem().unwrap().to_str().unwrap().parse().unwrap() };
    let (first, end) = (base(&segs[1]), base(&segs[2]));
    std::fs::OpenOptions::new()
        .write(true)
        .open(&segs[1])
        .unwrap()
        .set_len(0)
        .unwrap();
    let lost = format!("offsets {first}..{end}");

    let out = lk(&dir).args(["log", "verify"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains(&format!("[{lost} lost]")), "{stdout}");

    let out = lk(&dir)
        .args(["lambda", "batch", "--workload", "pageviews-per-minute"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("{lost} of pageviews/0 were lost to damage")),
        "{stderr}"
    );
    // Nothing was published.
    let batch = dir.path().join("lambda/pageviews-per-minute/batch");
    let published = std::fs::read_dir(&batch).map_or(0, |d| d.count());
    assert_eq!(
        published,
        0,
        "a batch view was published in {}",
        batch.display()
    );

    lk(&dir)
        .args(["topic", "describe", "pageviews"])
        .assert()
        .success()
        .stdout(predicates::str::contains(format!(
            "DAMAGED partition 0: {lost} lost"
        )));
    // Told to accept the gap, the batch layer runs over what is left.
    lk(&dir)
        .args([
            "--accept-gaps",
            "lambda",
            "batch",
            "--workload",
            "pageviews-per-minute",
        ])
        .assert()
        .success();
}

/// Every file under `dir` but the lock file: its bytes, inode and modification time.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (Vec<u8>, u64, i64, i64)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let md = e.metadata().unwrap();
            if md.is_dir() {
                stack.push(e.path());
            } else if e.file_name() != ".lock" {
                let bytes = std::fs::read(e.path()).unwrap();
                out.insert(e.path(), (bytes, md.ino(), md.mtime(), md.mtime_nsec()));
            }
        }
    }
    out
}

#[test]
fn read_only_commands_leave_a_clean_data_directory_byte_for_byte_unchanged() {
    let dir = TempDir::new().unwrap();
    small_segments(&dir);
    lk(&dir)
        .args([
            "topic",
            "create",
            "table",
            "--compact",
            "--segment-bytes",
            "1024",
        ])
        .assert()
        .success();
    let input: String = (0..300).map(|i| format!("k{}\tv{i}\n", i % 17)).collect();
    lk(&dir)
        .args(["produce", "table", "--batch", "7"])
        .write_stdin(input)
        .assert()
        .success();
    // Committed offsets, so that the internal topic holds records too.
    stdout_of(lk(&dir).args([
        "consume",
        "table",
        "--group",
        "g",
        "--from-beginning",
        "--idle-timeout",
        "300ms",
    ]));
    lk(&dir)
        .args(["lambda", "batch", "--workload", "pageviews-per-minute"])
        .assert()
        .success();
    lk(&dir).args(["log", "verify"]).assert().success();
    let before = snapshot(dir.path());
    assert!(before.keys().any(|p| p.ends_with("partition.manifest")));

    let commands: &[&[&str]] = &[
        &["topic", "list"],
        &["topic", "list", "--internal", "--format", "json"],
        &["topic", "describe", "pageviews"],
        &[
            "topic",
            "describe",
            "__consumer_offsets",
            "--format",
            "json",
        ],
        &["log", "verify"],
        &[
            "consume",
            "pageviews",
            "--from-beginning",
            "--idle-timeout",
            "200ms",
        ],
        &["consume", "table", "--offset", "0:5", "--max", "3"],
        &[
            "query",
            "--workload",
            "pageviews-per-minute",
            "--format",
            "csv",
        ],
    ];
    for args in commands {
        stdout_of(lk(&dir).args(*args));
        let after = snapshot(dir.path());
        let changed: Vec<&PathBuf> = before
            .iter()
            .filter(|(p, v)| after.get(*p) != Some(v))
            .map(|(p, _)| p)
            .chain(after.keys().filter(|p| !before.contains_key(*p)))
            .collect();
        assert!(
            changed.is_empty(),
            "`lk {}` changed {changed:?}",
            args.join(" ")
        );
    }
}

#[test]
fn a_topic_beyond_the_open_file_limit_is_refused_and_leaves_nothing_behind() {
    let dir = TempDir::new().unwrap();
    lk(&dir).args(["topic", "list"]).assert().success();
    let lk_bin = assert_cmd::cargo::cargo_bin("lk");
    let under_limit = |partitions: &str| {
        std::process::Command::new("sh")
            .arg("-c")
            .arg("ulimit -n 256 && exec \"$0\" --data \"$1\" topic create big --partitions \"$2\"")
            .arg(&lk_bin)
            .arg(dir.path())
            .arg(partitions)
            .env_remove("LK_DATA")
            .env_remove("LK_LOG_URI")
            .output()
            .unwrap()
    };
    let out = under_limit("1000");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("needs 1000 open files") && stderr.contains("open-file limit (256"),
        "{stderr}"
    );
    assert!(!dir.path().join("topics").join("big").exists());
    lk(&dir)
        .args(["topic", "list"])
        .assert()
        .success()
        .stdout("");
    // What fits under the same limit is created.
    let out = under_limit("100");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    lk(&dir)
        .args(["topic", "list"])
        .assert()
        .success()
        .stdout("big\t100 partitions\n");
}
