//! Fault injection: every kind of file the log writes is damaged in every way — a
//! flipped byte (at several places), truncated (at several lengths), zero-filled,
//! deleted — one fault at a time, in a copy of one log. Each time:
//!
//! - **detected and reported**: `verify` finds a problem and names the damaged file;
//! - **no wrong answer**: every record a reader gets is exactly the one written at its
//!   offset; every offset it does not get is inside a range it got
//!   `LogError::LostOffsets` for (never silently a shorter history), and the log never
//!   ends before it did; a committed offset is the one committed or none (its commit
//!   lost); a log whose metadata is damaged does not open;
//! - **intact data kept**: every record whose bytes the fault did not touch is read
//!   back; after a repair that lost nothing, `verify` is clean again.
//!
//! The counts of each file kind and damage checked are printed (`--nocapture`); the
//! README's table of what happens is built from them.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use master_log::{Bytes, EmbeddedLog, FetchLimits, Log, LogError, NewRecord, Record, TopicConfig};

/// One appended batch and where it lies on disk.
#[derive(Debug, Clone)]
struct Batch {
    topic: &'static str,
    partition: u32,
    base: u64,
    last: u64,
    file: PathBuf,
    pos: u64,
    end: u64,
}

/// The log every case damages a copy of.
struct Fixture {
    dir: tempfile::TempDir,
    batches: Vec<Batch>,
    /// Group → committed offset of `data/0`, one commit (one batch) each.
    commits: BTreeMap<String, u64>,
    /// The batch of each commit in `__consumer_offsets/0` (file, start, end), in the
    /// order of `commits`.
    commit_batches: Vec<(PathBuf, u64, u64)>,
    /// (topic, partition) → latest offset.
    latest: BTreeMap<(&'static str, u32), u64>,
    /// Offsets of `data/1` lost before the faults (its quarantine file holds them).
    lost_before: (u64, u64),
}

const TOPICS: [(&str, u32); 3] = [("data", 0), ("data", 1), ("table", 0)];

fn key(topic: &str, p: u32, o: u64) -> Bytes {
    Bytes::from(format!("{topic}-{p}-key-{o}"))
}

fn value(topic: &str, p: u32, o: u64) -> Bytes {
    let mut v = format!("{topic}-{p}-value-{o:06}-").into_bytes();
    v.extend((0..30).map(|i| b'a' + ((o + i) % 26) as u8));
    Bytes::from(v)
}

fn partition_dir(dir: &Path, topic: &str, p: u32) -> PathBuf {
    dir.join("topics").join(topic).join(p.to_string())
}

fn last_segment(dir: &Path, topic: &str, p: u32) -> PathBuf {
    let mut logs: Vec<PathBuf> = fs::read_dir(partition_dir(dir, topic, p))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    logs.pop().unwrap()
}

/// Append `n` batches of 3 records to `topic/p`, noting where each lies.
fn append_batches(
    log: &EmbeddedLog,
    dir: &Path,
    topic: &'static str,
    p: u32,
    n: u64,
    out: &mut Vec<Batch>,
) {
    for _ in 0..n {
        let base = log.offsets(topic, p).unwrap().1;
        let records: Vec<NewRecord> = (base..base + 3)
            .map(|o| NewRecord::keyed(key(topic, p, o), value(topic, p, o), o as i64))
            .collect();
        let a = log.append(topic, p, &records).unwrap();
        let file = last_segment(dir, topic, p);
        let end = fs::metadata(&file).unwrap().len();
        let size = records.iter().map(NewRecord::encoded_len).sum::<usize>() as u64;
        let pos = out
            .iter()
            .rev()
            .find(|b| b.topic == topic && b.partition == p && b.file == file)
            .map_or(0, |b| b.end);
        assert!(end - pos >= size);
        out.push(Batch {
            topic,
            partition: p,
            base: a.base_offset,
            last: a.last_offset,
            file,
            pos,
            end,
        });
    }
}

fn build() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let small = |partitions, compact| TopicConfig {
        partitions,
        compact,
        segment_bytes: 1024,
        index_interval_bytes: 300,
        ..TopicConfig::default()
    };
    let mut batches = Vec::new();
    let mut commits = BTreeMap::new();
    let mut commit_batches = Vec::new();
    {
        let log = EmbeddedLog::open(dir.path()).unwrap();
        log.create_topic("data", small(2, false)).unwrap();
        log.create_topic("table", small(1, true)).unwrap();
        append_batches(&log, dir.path(), "data", 0, 24, &mut batches);
        append_batches(&log, dir.path(), "data", 1, 6, &mut batches);
        append_batches(&log, dir.path(), "table", 0, 16, &mut batches);
        for g in 0..12u64 {
            let group = format!("g{g:02}");
            log.commit_offsets(&group, "data", &[(0, 3 * g + 1)])
                .unwrap();
            commits.insert(group, 3 * g + 1);
            let file = last_segment(dir.path(), "__consumer_offsets", 0);
            let end = fs::metadata(&file).unwrap().len();
            let pos = commit_batches
                .last()
                .filter(|(f, _, _)| *f == file)
                .map_or(0, |(_, _, e)| *e);
            commit_batches.push((file, pos, end));
        }
    }
    // Lose a batch of `data/1` before the faults, so that it has a quarantine file.
    let victim = batches
        .iter()
        .find(|b| b.topic == "data" && b.partition == 1 && b.base == 6)
        .unwrap()
        .clone();
    flip(&victim.file, victim.pos + 60);
    // Without its index, the segment is scanned at open: the batch is cut out.
    let _ = fs::remove_file(victim.file.with_extension("index"));
    {
        let log = EmbeddedLog::open(dir.path()).unwrap();
        assert_eq!(
            log.recovery_issues().len(),
            1,
            "{:?}",
            log.recovery_issues()
        );
    }
    assert!(
        partition_dir(dir.path(), "data", 1)
            .join("quarantine.lkq")
            .exists()
    );
    batches.retain(|b| !(b.topic == "data" && b.partition == 1 && b.base == 6));
    // The batches after it moved down in their file.
    let shift = victim.end - victim.pos;
    for b in &mut batches {
        if b.file == victim.file && b.pos > victim.pos {
            b.pos -= shift;
            b.end -= shift;
        }
    }
    let mut latest = BTreeMap::new();
    for b in &batches {
        let l = latest.entry((b.topic, b.partition)).or_insert(0);
        *l = (*l).max(b.last + 1);
    }
    assert!(
        batches
            .iter()
            .filter(|b| b.topic == "data" && b.partition == 0)
            .map(|b| &b.file)
            .collect::<BTreeSet<_>>()
            .len()
            >= 4
    );
    Fixture {
        dir,
        batches,
        commits,
        commit_batches,
        latest,
        lost_before: (6, 9),
    }
}

fn flip(file: &Path, position: u64) {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(file)
        .unwrap();
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, position).unwrap();
    b[0] ^= 0x5a;
    f.write_all_at(&b, position).unwrap();
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

/// A way to damage a file.
#[derive(Debug, Clone, Copy)]
enum Damage {
    /// Flip one byte at this fraction (in tenths) of the file.
    Flip(u64),
    /// Cut the file to this fraction (in tenths) of its length.
    Truncate(u64),
    ZeroFill,
    Delete,
}

impl Damage {
    fn name(self) -> &'static str {
        match self {
            Damage::Flip(_) => "flip a byte",
            Damage::Truncate(_) => "truncate",
            Damage::ZeroFill => "zero-fill",
            Damage::Delete => "delete",
        }
    }

    /// Apply it to `file`; returns the byte range it touched.
    fn apply(self, file: &Path) -> (u64, u64) {
        let len = fs::metadata(file).unwrap().len();
        match self {
            Damage::Flip(tenths) => {
                let p = (len * tenths / 10).min(len - 1);
                flip(file, p);
                (p, p + 1)
            }
            Damage::Truncate(tenths) => {
                let t = len * tenths / 10;
                OpenOptions::new()
                    .write(true)
                    .open(file)
                    .unwrap()
                    .set_len(t)
                    .unwrap();
                (t, len)
            }
            Damage::ZeroFill => {
                fs::write(file, vec![0u8; len as usize]).unwrap();
                (0, len)
            }
            Damage::Delete => {
                fs::remove_file(file).unwrap();
                (0, len)
            }
        }
    }
}

const DAMAGES: [Damage; 10] = [
    Damage::Flip(1),
    Damage::Flip(3),
    Damage::Flip(5),
    Damage::Flip(7),
    Damage::Flip(9),
    Damage::Truncate(0),
    Damage::Truncate(5),
    Damage::Truncate(9),
    Damage::ZeroFill,
    Damage::Delete,
];

/// The kinds of file the log writes, and the one of each that the suite damages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    ActiveSegment,
    ClosedSegment,
    Index,
    TimeIndex,
    CompactedSegment,
    TopicMeta,
    ConsumerOffsets,
    Manifest,
    Quarantine,
}

const KINDS: [Kind; 9] = [
    Kind::ActiveSegment,
    Kind::ClosedSegment,
    Kind::Index,
    Kind::TimeIndex,
    Kind::CompactedSegment,
    Kind::TopicMeta,
    Kind::ConsumerOffsets,
    Kind::Manifest,
    Kind::Quarantine,
];

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::ActiveSegment => "active segment .log",
            Kind::ClosedSegment => "closed segment .log",
            Kind::Index => "closed segment .index",
            Kind::TimeIndex => "closed segment .timeindex",
            Kind::CompactedSegment => "compacted (changelog) segment .log",
            Kind::TopicMeta => "topic.json",
            Kind::ConsumerOffsets => "consumer offsets segment .log",
            Kind::Manifest => "partition.manifest",
            Kind::Quarantine => "quarantine.lkq",
        }
    }

    /// The file of this kind the suite damages, in the log under `dir`.
    fn file(self, fx: &Fixture, dir: &Path) -> PathBuf {
        let moved = |p: &Path| dir.join(p.strip_prefix(fx.dir.path()).unwrap());
        let seg = |topic: &str, p: u32, nth_file: usize| {
            let files: BTreeSet<&PathBuf> = fx
                .batches
                .iter()
                .filter(|b| b.topic == topic && b.partition == p)
                .map(|b| &b.file)
                .collect();
            moved(files.iter().nth(nth_file).unwrap())
        };
        match self {
            Kind::ActiveSegment => moved(&last_segment(fx.dir.path(), "data", 0)),
            Kind::ClosedSegment => seg("data", 0, 1),
            Kind::Index => seg("data", 0, 1).with_extension("index"),
            Kind::TimeIndex => seg("data", 0, 2).with_extension("timeindex"),
            Kind::CompactedSegment => seg("table", 0, 1),
            Kind::TopicMeta => dir.join("topics/data/topic.json"),
            Kind::ConsumerOffsets => moved(&fx.commit_batches[0].0),
            Kind::Manifest => partition_dir(dir, "data", 0).join("partition.manifest"),
            Kind::Quarantine => partition_dir(dir, "data", 1).join("quarantine.lkq"),
        }
    }

    /// Whether damage to this kind of file can lose records (else it is repaired).
    fn holds_records(self) -> bool {
        matches!(
            self,
            Kind::ActiveSegment
                | Kind::ClosedSegment
                | Kind::CompactedSegment
                | Kind::ConsumerOffsets
        )
    }
}

/// What a reader got of one partition: records by offset, and lost ranges.
#[derive(Debug, Default)]
struct Read {
    records: BTreeMap<u64, Record>,
    lost: Vec<(u64, u64)>,
}

/// Read a partition from its start to its end, stepping over the ranges the log says
/// are lost (and checking that it says so of the offsets it skips).
fn read_partition(log: &EmbeddedLog, topic: &str, p: u32) -> Read {
    let (earliest, latest) = log.offsets(topic, p).unwrap();
    let mut read = Read::default();
    let mut next = earliest;
    while next < latest {
        match log.fetch(topic, p, next, FetchLimits::default()) {
            Ok(records) => {
                let Some(last) = records.last() else {
                    panic!("{topic}/{p}: nothing at {next}, before the end {latest}");
                };
                assert_eq!(
                    records[0].offset, next,
                    "{topic}/{p}: offsets skipped silently"
                );
                for w in records.windows(2) {
                    assert_eq!(
                        w[1].offset,
                        w[0].offset + 1,
                        "{topic}/{p}: offsets skipped silently"
                    );
                }
                next = last.offset + 1;
                for r in records {
                    read.records.insert(r.offset, r);
                }
            }
            Err(LogError::LostOffsets { first, end, .. }) => {
                assert!(
                    first <= next && next < end,
                    "{topic}/{p}: lost {first}..{end} at {next}"
                );
                read.lost.push((first, end));
                next = end;
            }
            Err(e) => panic!("{topic}/{p} at {next}: {e}"),
        }
    }
    read
}

/// The checks of one case: `kind` damaged by `damage` in a copy of the fixture.
fn check_case(fx: &Fixture, kind: Kind, damage: Damage) {
    let case = format!("{} / {damage:?}", kind.name());
    let copy = tempfile::tempdir().unwrap();
    copy_dir(fx.dir.path(), copy.path());
    let dir = copy.path();
    let file = kind.file(fx, dir);
    let original = fs::read(&file).unwrap();
    let (from, to) = damage.apply(&file);

    // Detected and reported: verify names the file.
    let report = master_log::verify(dir).unwrap();
    // A problem of the time index is named by the offset index, for the pair, its reason
    // saying which.
    let named = |p: &master_log::Problem| {
        p.file == file
            || (kind == Kind::TimeIndex
                && p.file == file.with_extension("index")
                && p.reason.contains("time index"))
    };
    assert!(
        report.problems.iter().any(named),
        "{case}: verify did not name {}: {:#?}",
        file.display(),
        report.problems
    );

    let log = match EmbeddedLog::open(dir) {
        Ok(log) => log,
        Err(LogError::Metadata { file: f, .. }) if kind == Kind::TopicMeta => {
            // The log refuses to open rather than guess a topic's configuration; with the
            // file restored, every record is there.
            assert_eq!(f, file, "{case}");
            fs::write(&file, &original).unwrap();
            let log = EmbeddedLog::open(dir).unwrap();
            check_records(fx, &log, &case, None);
            return;
        }
        Err(e) => panic!("{case}: open failed: {e}"),
    };
    let touched = kind
        .holds_records()
        .then(|| (moved_back(fx, dir, &file), from, to));
    let issues: Vec<String> = log
        .recovery_issues()
        .iter()
        .map(|i| format!("{i:?}").split(' ').next().unwrap().to_owned())
        .collect();
    let lost: u64 = TOPICS
        .iter()
        .chain([("__consumer_offsets", 0)].iter())
        .flat_map(|&(t, p)| log.lost_ranges(t, p).unwrap())
        .map(|l| l.end - l.first)
        .sum::<u64>()
        - (fx.lost_before.1 - fx.lost_before.0);
    println!(
        "{case}: recovery {issues:?}; offsets lost {lost}; verify found {}",
        report.problems.len()
    );
    check_records(fx, &log, &case, touched.as_ref());
    check_commits(fx, &log, &case, kind, (from, to));
    drop(log);
    if !kind.holds_records() && kind != Kind::Quarantine {
        // Repaired, nothing lost: clean again, but for the loss made on purpose.
        let report = master_log::verify(dir).unwrap();
        assert!(
            report
                .problems
                .iter()
                .all(|p| p.lost == Some(fx.lost_before)),
            "{case}: after the repair: {:#?}",
            report.problems
        );
    }
}

/// The fixture's path of a file of the copy.
fn moved_back(fx: &Fixture, dir: &Path, file: &Path) -> PathBuf {
    fx.dir.path().join(file.strip_prefix(dir).unwrap())
}

/// No wrong answer, intact data kept: see the module docs. `touched` is the damaged
/// file (as the fixture names it) and the byte range the damage touched.
fn check_records(
    fx: &Fixture,
    log: &EmbeddedLog,
    case: &str,
    touched: Option<&(PathBuf, u64, u64)>,
) {
    for (topic, p) in TOPICS {
        let read = read_partition(log, topic, p);
        let latest = fx.latest[&(topic, p)];
        assert!(
            log.offsets(topic, p).unwrap().1 >= latest,
            "{case}: {topic}/{p} got shorter"
        );
        for (o, r) in &read.records {
            assert_eq!(
                r.key.as_ref(),
                Some(&key(topic, p, *o)),
                "{case}: {topic}/{p}/{o}"
            );
            assert_eq!(
                r.value.as_ref(),
                Some(&value(topic, p, *o)),
                "{case}: {topic}/{p}/{o}"
            );
            assert_eq!(r.event_time, *o as i64, "{case}: {topic}/{p}/{o}");
        }
        let lost = |o: u64| read.lost.iter().any(|&(f, e)| f <= o && o < e);
        for b in fx
            .batches
            .iter()
            .filter(|b| b.topic == topic && b.partition == p)
        {
            let hit =
                touched.is_some_and(|(f, from, to)| *f == b.file && b.pos < *to && *from < b.end);
            for o in b.base..=b.last {
                if hit {
                    assert!(
                        read.records.contains_key(&o) || lost(o),
                        "{case}: {topic}/{p}/{o} gone silently"
                    );
                } else {
                    assert!(
                        read.records.contains_key(&o),
                        "{case}: intact {topic}/{p}/{o} not read back"
                    );
                }
            }
        }
        if (topic, p) == ("data", 1) {
            let (f, e) = fx.lost_before;
            assert!(
                read.lost.contains(&(f, e)),
                "{case}: the earlier loss is forgotten"
            );
        }
    }
}

/// Committed offsets: each group's is the one it committed, or none when the damage
/// touched its commit (it then starts again as configured: at least once, as ever).
fn check_commits(fx: &Fixture, log: &EmbeddedLog, case: &str, kind: Kind, (from, to): (u64, u64)) {
    for ((group, &offset), (_, pos, end)) in fx.commits.iter().zip(&fx.commit_batches) {
        let got = log.committed_offsets(group, "data").unwrap();
        match got.get(&0) {
            Some(&o) => assert_eq!(o, offset, "{case}: group {group}"),
            None => assert!(
                kind == Kind::ConsumerOffsets && *pos < to && from < *end,
                "{case}: group {group} lost its commit"
            ),
        }
    }
}

#[test]
fn every_file_kind_and_damage_is_detected_reported_and_never_served_wrong() {
    let fx = build();
    {
        // The fixture itself: clean but for the loss made on purpose.
        let report = master_log::verify(fx.dir.path()).unwrap();
        assert!(!report.problems.is_empty());
        assert!(
            report
                .problems
                .iter()
                .all(|p| p.lost == Some(fx.lost_before)),
            "{:#?}",
            report.problems
        );
    }
    let mut counts: BTreeMap<(&str, &str), u32> = BTreeMap::new();
    for kind in KINDS {
        for damage in DAMAGES {
            check_case(&fx, kind, damage);
            *counts.entry((kind.name(), damage.name())).or_default() += 1;
        }
    }
    let total: u32 = counts.values().sum();
    for ((kind, damage), n) in &counts {
        println!("{kind:36} {damage:12} {n} cases");
    }
    println!("{total} cases");
    assert_eq!(total as usize, KINDS.len() * DAMAGES.len());
}
