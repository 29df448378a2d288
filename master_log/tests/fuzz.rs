//! Property-based fuzzing (proptest, stable toolchain) of what the log reads back from
//! disk: segment files and index files made of arbitrary or mutated bytes never make it
//! panic, and never make it return a record whose batch fails its CRC — every record a
//! reader gets is one that was appended, at its offset, unchanged.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use master_log::{
    Bytes, EmbeddedLog, FetchLimits, Log, LogError, LogOptions, NewRecord, Record, TopicConfig,
};
use proptest::prelude::*;

const TOPIC: &str = "t";

fn record_for(o: u64) -> NewRecord {
    let mut r = NewRecord::keyed(
        format!("k{o}"),
        format!("value {o} {}", "x".repeat((o % 7) as usize)),
        o as i64,
    );
    if o.is_multiple_of(5) {
        r.headers.push(master_log::Header {
            key: "h".into(),
            value: Bytes::from(format!("{o}")),
        });
    }
    r
}

fn matches_original(r: &Record) -> bool {
    let o = r.offset;
    let want = record_for(o);
    r.key == want.key
        && r.value == want.value
        && r.event_time == want.event_time
        && r.headers == want.headers
}

/// A log with `batches` batches of 1 to 4 records in segments of `segment_bytes`,
/// closed cleanly; returns the partition directory and its latest offset.
fn template(dir: &Path, batches: u64, segment_bytes: u64) -> (PathBuf, u64) {
    let log = EmbeddedLog::open(dir).unwrap();
    let config = TopicConfig {
        segment_bytes,
        index_interval_bytes: 128,
        ..TopicConfig::default()
    };
    log.create_topic(TOPIC, config).unwrap();
    for b in 0..batches {
        let base = log.offsets(TOPIC, 0).unwrap().1;
        let records: Vec<NewRecord> = (base..base + 1 + b % 4).map(record_for).collect();
        log.append(TOPIC, 0, &records).unwrap();
    }
    let latest = log.offsets(TOPIC, 0).unwrap().1;
    (dir.join("topics").join(TOPIC).join("0"), latest)
}

/// Read the whole partition with gaps accepted: every record, checked against what was
/// appended; returns how many were read.
fn read_checked(dir: &Path) -> usize {
    let options = LogOptions {
        accept_gaps: true,
        ..LogOptions::default()
    };
    let log = match EmbeddedLog::open_with(dir, options) {
        Ok(log) => log,
        // Damage the log refuses to open over is a typed error, never a panic.
        Err(e) => {
            assert!(
                matches!(e, LogError::Metadata { .. } | LogError::Corrupt { .. }),
                "{e}"
            );
            return 0;
        }
    };
    let (mut next, latest) = log.offsets(TOPIC, 0).unwrap();
    let mut read = 0;
    while next < latest {
        let records = match log.fetch(
            TOPIC,
            0,
            next,
            FetchLimits {
                max_records: 7,
                max_bytes: 300,
            },
        ) {
            Ok(r) => r,
            Err(LogError::LostOffsets { end, .. }) => {
                next = end;
                continue;
            }
            Err(e) => panic!("at {next}: {e}"),
        };
        let Some(last) = records.last() else { break };
        for r in &records {
            assert!(
                matches_original(r),
                "record {} is not the one appended: {r:?}",
                r.offset
            );
        }
        read += records.len();
        next = last.offset + 1;
    }
    drop(log);
    let _ = master_log::verify(dir).unwrap();
    read
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            fs::copy(e.path(), target).unwrap();
        }
    }
}

/// One change to a file's bytes.
#[derive(Debug, Clone)]
enum Mutation {
    /// XOR the byte at this fraction of the file with a mask.
    Flip(f64, u8),
    /// Insert bytes at this fraction.
    Insert(f64, Vec<u8>),
    /// Remove this many bytes at this fraction.
    Remove(f64, usize),
    /// Cut the file at this fraction.
    Truncate(f64),
    /// Overwrite bytes at this fraction.
    Overwrite(f64, Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = 0.0..1.0f64;
    prop_oneof![
        4 => (at.clone(), 1..=255u8).prop_map(|(a, m)| Mutation::Flip(a, m)),
        1 => (at.clone(), prop::collection::vec(any::<u8>(), 1..64)).prop_map(|(a, b)| Mutation::Insert(a, b)),
        1 => (at.clone(), 1..200usize).prop_map(|(a, n)| Mutation::Remove(a, n)),
        1 => at.clone().prop_map(Mutation::Truncate),
        1 => (at, prop::collection::vec(any::<u8>(), 1..64)).prop_map(|(a, b)| Mutation::Overwrite(a, b)),
    ]
}

fn mutate(bytes: &mut Vec<u8>, m: &Mutation) {
    let at = |f: f64, len: usize| ((len as f64 * f) as usize).min(len);
    match m {
        Mutation::Flip(f, mask) if !bytes.is_empty() => {
            let i = at(*f, bytes.len() - 1);
            bytes[i] ^= mask;
        }
        Mutation::Flip(..) => {}
        Mutation::Insert(f, b) => {
            let i = at(*f, bytes.len());
            bytes.splice(i..i, b.iter().copied());
        }
        Mutation::Remove(f, n) => {
            let i = at(*f, bytes.len());
            let j = (i + n).min(bytes.len());
            bytes.drain(i..j);
        }
        Mutation::Truncate(f) => bytes.truncate(at(*f, bytes.len())),
        Mutation::Overwrite(f, b) => {
            let i = at(*f, bytes.len());
            for (k, v) in b.iter().enumerate() {
                if let Some(x) = bytes.get_mut(i + k) {
                    *x = *v;
                }
            }
        }
    }
}

/// The segment files of the partition, in offset order.
fn logs(pdir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(pdir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    v.sort();
    v
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 96,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Mutated segment files (any segment, several mutations): no panic, and every
    /// record read back is the one appended at its offset.
    #[test]
    fn mutated_segments_never_panic_nor_serve_a_damaged_record(
        which in 0..3usize,
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let template_dir = tempfile::tempdir().unwrap();
        let (tpdir, _) = template(template_dir.path(), 30, 1024);
        let dir = tempfile::tempdir().unwrap();
        copy_dir(template_dir.path(), dir.path());
        let pdir = dir.path().join(tpdir.strip_prefix(template_dir.path()).unwrap());
        let files = logs(&pdir);
        let file = &files[which.min(files.len() - 1)];
        let mut bytes = fs::read(file).unwrap();
        for m in &mutations {
            mutate(&mut bytes, m);
        }
        fs::write(file, &bytes).unwrap();
        read_checked(dir.path());
    }

    /// A segment of arbitrary bytes: no panic, and nothing read from it (no batch of
    /// random bytes passes its CRC).
    #[test]
    fn arbitrary_bytes_as_a_segment_yield_no_record(bytes in prop::collection::vec(any::<u8>(), 0..3000)) {
        let dir = tempfile::tempdir().unwrap();
        let (pdir, _) = template(dir.path(), 0, 1024);
        fs::write(pdir.join("00000000000000000000.log"), &bytes).unwrap();
        prop_assert_eq!(read_checked(dir.path()), 0);
    }

    /// Index files of arbitrary or mutated bytes (with or without the checksum trailer)
    /// never mislead a reader: every record reads back, and looking up by time gives the
    /// same answers as with the right indexes.
    #[test]
    fn arbitrary_or_mutated_indexes_never_mislead_a_reader(
        which in 0..2usize,
        replace in any::<bool>(),
        junk in prop::collection::vec(any::<u8>(), 0..200),
        mutations in prop::collection::vec(mutation(), 1..3),
    ) {
        let template_dir = tempfile::tempdir().unwrap();
        let (tpdir, latest) = template(template_dir.path(), 40, 1024);
        let dir = tempfile::tempdir().unwrap();
        copy_dir(template_dir.path(), dir.path());
        let pdir = dir.path().join(tpdir.strip_prefix(template_dir.path()).unwrap());
        let files = logs(&pdir);
        prop_assume!(files.len() > 2);
        // Answers by time with the right indexes.
        let times: BTreeMap<i64, Option<u64>> = {
            let log = EmbeddedLog::open(template_dir.path()).unwrap();
            let all = log.fetch(TOPIC, 0, 0, FetchLimits { max_records: latest as usize, max_bytes: usize::MAX }).unwrap();
            all.iter()
                .map(|r| (r.append_time, log.offset_for_time(TOPIC, 0, r.append_time).unwrap()))
                .collect()
        };
        let ext = ["index", "timeindex"][which];
        let index = files[1].with_extension(ext);
        let mut bytes = if replace { junk } else { fs::read(&index).unwrap() };
        for m in &mutations {
            mutate(&mut bytes, m);
        }
        fs::write(&index, &bytes).unwrap();
        prop_assert_eq!(read_checked(dir.path()) as u64, latest);
        let log = EmbeddedLog::open(dir.path()).unwrap();
        for (t, want) in times {
            prop_assert_eq!(log.offset_for_time(TOPIC, 0, t).unwrap(), want);
        }
    }
}
