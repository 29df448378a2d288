//! Damaged files: a torn tail of an active segment is cut back to its last good batch on
//! open; a damaged batch, in an active or a closed segment, is cut out alone and every
//! intact record after it kept, its offsets a typed error for readers; damage in closed
//! segments that open does not see is found by readers and `verify`, never returned as
//! data; missing or garbled indexes are rebuilt.

use std::fs::{self, OpenOptions};
use std::ops::ControlFlow;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use master_log::{
    Bytes, EmbeddedLog, FetchLimits, Log, LogError, NewRecord, Record, SegmentIssue, TopicConfig,
};

const TOPIC: &str = "data";

/// One appended batch and where it lies on disk.
#[derive(Debug, Clone)]
struct Batch {
    base: u64,
    last: u64,
    file: PathBuf,
    pos: u64,
    end: u64,
}

fn partition_dir(dir: &Path) -> PathBuf {
    dir.join("topics").join(TOPIC).join("0")
}

/// The segment log files of partition 0, in offset order.
fn segment_logs(dir: &Path) -> Vec<PathBuf> {
    let mut logs: Vec<PathBuf> = fs::read_dir(partition_dir(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    logs
}

fn value_for(offset: u64) -> Bytes {
    let mut v = format!("value-{offset:06}-").into_bytes();
    v.extend((0..40).map(|i| b'a' + ((offset + i) % 26) as u8));
    Bytes::from(v)
}

fn record_for(offset: u64) -> NewRecord {
    NewRecord::keyed(format!("key-{offset}"), value_for(offset), offset as i64)
}

fn assert_record(r: &Record, offset: u64) {
    assert_eq!(r.offset, offset);
    assert_eq!(r.key.as_deref(), Some(format!("key-{offset}").as_bytes()));
    assert_eq!(r.value.as_ref(), Some(&value_for(offset)));
    assert_eq!(r.event_time, offset as i64);
}

/// Create the topic and append `batches` batches of 3 records each, returning where each
/// batch was written. The log is closed cleanly before returning.
fn build(dir: &Path, segment_bytes: u64, batches: u64) -> Vec<Batch> {
    let log = EmbeddedLog::open(dir).unwrap();
    log.create_topic(
        TOPIC,
        TopicConfig {
            segment_bytes,
            index_interval_bytes: 300,
            ..TopicConfig::default()
        },
    )
    .unwrap();
    let mut out = Vec::new();
    let mut prev: Option<(PathBuf, u64)> = None;
    for b in 0..batches {
        let records: Vec<NewRecord> = (b * 3..b * 3 + 3).map(record_for).collect();
        let a = log.append(TOPIC, 0, &records).unwrap();
        assert_eq!((a.base_offset, a.last_offset), (b * 3, b * 3 + 2));
        let file = segment_logs(dir).pop().unwrap();
        let end = fs::metadata(&file).unwrap().len();
        let pos = match &prev {
            Some((f, len)) if *f == file => *len,
            _ => 0,
        };
        prev = Some((file.clone(), end));
        out.push(Batch {
            base: a.base_offset,
            last: a.last_offset,
            file,
            pos,
            end,
        });
    }
    out
}

/// Make the log look as after a crash before its last clean close: the partition
/// manifest, written at that close, goes (a torn tail then is a write the crash cut
/// short, not lost records).
fn forget_clean_close(dir: &Path) {
    fs::remove_file(partition_dir(dir).join("partition.manifest")).unwrap();
}

/// `result` is the typed error for offsets `first..end` of partition 0.
fn assert_lost<T: std::fmt::Debug>(result: master_log::Result<T>, first: u64, end: u64) {
    match result {
        Err(LogError::LostOffsets {
            topic,
            partition: 0,
            first: f,
            end: e,
        }) if topic == TOPIC => assert_eq!((f, e), (first, end)),
        other => panic!("expected offsets {first}..{end} lost, got {other:?}"),
    }
}

fn flip_byte(file: &Path, position: u64) {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(file)
        .unwrap();
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, position).unwrap();
    b[0] ^= 0x20;
    f.write_all_at(&b, position).unwrap();
}

fn read_all(log: &EmbeddedLog, from: u64) -> Vec<Record> {
    log.fetch(TOPIC, 0, from, FetchLimits::default()).unwrap()
}

/// The problems `verify` reports in the log file `file`, as byte positions.
fn verify_positions(dir: &Path, file: &Path) -> Vec<Option<u64>> {
    let report = master_log::verify(dir).unwrap();
    assert!(!report.is_clean());
    report
        .problems
        .iter()
        .filter(|p| p.file == file)
        .map(|p| p.position)
        .collect()
}

fn assert_clean(dir: &Path) {
    let report = master_log::verify(dir).unwrap();
    assert!(report.is_clean(), "{:#?}", report.problems);
}

/// After recovery cut the log back to `good` records: they are intact, and appends go on
/// at offset `good`, also after another reopening.
fn assert_cut_at(dir: &Path, log: EmbeddedLog, good: u64) {
    assert_eq!(log.offsets(TOPIC, 0).unwrap(), (0, good));
    let got = read_all(&log, 0);
    assert_eq!(got.len() as u64, good);
    for (i, r) in got.iter().enumerate() {
        assert_record(r, i as u64);
    }
    let a = log.append(TOPIC, 0, &[record_for(good)]).unwrap();
    assert_eq!(a.base_offset, good);
    drop(log);
    assert_clean(dir);
    let log = EmbeddedLog::open(dir).unwrap();
    assert!(
        log.recovery_issues().is_empty(),
        "{:?}",
        log.recovery_issues()
    );
    let got = read_all(&log, 0);
    assert_eq!(got.len() as u64, good + 1);
    assert_record(got.last().unwrap(), good);
}

#[test]
fn truncated_active_segment_loses_only_the_torn_batch() {
    let dir = tempfile::tempdir().unwrap();
    let batches = build(dir.path(), 1 << 20, 10);
    let torn = &batches[6];
    let file = torn.file.clone();
    assert_eq!(segment_logs(dir.path()), vec![file.clone()]);
    // Cut in the middle of batch 6: batches 7.. are gone, 6 is half there.
    let cut_at = torn.pos + (torn.end - torn.pos) / 2;
    OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(cut_at)
        .unwrap();
    forget_clean_close(dir.path());

    let positions = verify_positions(dir.path(), &file);
    assert_eq!(positions, vec![Some(torn.pos)]);

    let log = EmbeddedLog::open(dir.path()).unwrap();
    match log.recovery_issues() {
        [
            SegmentIssue::TruncatedTail {
                file: f,
                position,
                bytes_cut,
                ..
            },
        ] => {
            assert_eq!(f, &file);
            assert_eq!(*position, torn.pos);
            assert_eq!(*bytes_cut, cut_at - torn.pos);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(fs::metadata(&file).unwrap().len(), torn.pos);
    assert_cut_at(dir.path(), log, torn.base);
}

#[test]
fn truncated_header_is_cut_too() {
    let dir = tempfile::tempdir().unwrap();
    let batches = build(dir.path(), 1 << 20, 4);
    let last = &batches[3];
    // Only part of the last batch's header made it to disk.
    OpenOptions::new()
        .write(true)
        .open(&last.file)
        .unwrap()
        .set_len(last.pos + 7)
        .unwrap();
    forget_clean_close(dir.path());
    assert_eq!(
        verify_positions(dir.path(), &last.file),
        vec![Some(last.pos)]
    );
    let log = EmbeddedLog::open(dir.path()).unwrap();
    assert!(matches!(
        log.recovery_issues(),
        [SegmentIssue::TruncatedTail { position, bytes_cut: 7, .. }] if *position == last.pos
    ));
    assert_cut_at(dir.path(), log, last.base);
}

/// After a clean close, a torn tail is no torn write: what it held was appended, and is
/// lost, and the log goes on after it (no offset is ever given twice).
#[test]
fn truncated_tail_after_a_clean_close_is_lost_not_reused() {
    let dir = tempfile::tempdir().unwrap();
    let batches = build(dir.path(), 1 << 20, 10);
    let torn = &batches[6];
    let cut_at = torn.pos + (torn.end - torn.pos) / 2;
    OpenOptions::new()
        .write(true)
        .open(&torn.file)
        .unwrap()
        .set_len(cut_at)
        .unwrap();
    let report = master_log::verify(dir.path()).unwrap();
    assert!(
        report.problems.iter().any(|p| p.lost == Some((18, 30))),
        "{:#?}",
        report.problems
    );
    let log = EmbeddedLog::open(dir.path()).unwrap();
    assert!(
        matches!(log.recovery_issues(), [SegmentIssue::DamagedBatch { position, .. }] if *position == torn.pos),
        "{:?}",
        log.recovery_issues()
    );
    assert_eq!(log.offsets(TOPIC, 0).unwrap(), (0, 30));
    let got = read_all(&log, 0);
    assert_eq!(got.len(), 18);
    for (i, r) in got.iter().enumerate() {
        assert_record(r, i as u64);
    }
    for from in [18, 25, 29] {
        assert_lost(log.fetch(TOPIC, 0, from, FetchLimits::default()), 18, 30);
    }
    assert_eq!(
        log.append(TOPIC, 0, &[record_for(30)]).unwrap().base_offset,
        30
    );
    drop(log);
    let log = EmbeddedLog::open(dir.path()).unwrap();
    assert!(
        log.recovery_issues().is_empty(),
        "{:?}",
        log.recovery_issues()
    );
    assert_lost(log.fetch(TOPIC, 0, 20, FetchLimits::default()), 18, 30);
    assert_record(&read_all(&log, 30)[0], 30);
}

/// A damaged batch in the middle of the active segment of a cleanly closed partition:
/// only its records are lost. The open trusts the index files the close wrote and does
/// not read the active segment, so the first read that meets the batch finds the damage
/// (its CRC32C fails); from then on its offsets are a typed error for readers, naming
/// the file and position, every intact record after it is kept, the close cuts the
/// batch out (its bytes kept in the quarantine file), and `verify` keeps reporting it.
fn assert_only_the_batch_lost(dir: &Path, batches: &[Batch], bad: &Batch) {
    let latest = batches.last().unwrap().last + 1;
    let log = EmbeddedLog::open(dir).unwrap();
    assert!(
        log.recovery_issues().is_empty(),
        "{:?}",
        log.recovery_issues()
    );
    assert_eq!(log.offsets(TOPIC, 0).unwrap(), (0, latest));
    // A fetch stops before the lost batch; one from inside it is the typed error.
    let before = read_all(&log, 0);
    assert_eq!(before.len() as u64, bad.base);
    for (o, r) in before.iter().enumerate() {
        assert_record(r, o as u64);
    }
    for from in bad.base..=bad.last {
        assert_lost(
            log.fetch(TOPIC, 0, from, FetchLimits::default()),
            bad.base,
            bad.last + 1,
        );
    }
    let after = read_all(&log, bad.last + 1);
    assert_eq!(after.len() as u64, latest - bad.last - 1);
    for (i, r) in after.iter().enumerate() {
        assert_record(r, bad.last + 1 + i as u64);
    }
    let lost = log.lost_ranges(TOPIC, 0).unwrap();
    assert_eq!(lost.len(), 1);
    assert_eq!((lost[0].first, lost[0].end), (bad.base, bad.last + 1));
    let at = format!("at byte {} of {}", bad.pos, bad.file.display());
    assert!(lost[0].reason.contains(&at), "{}", lost[0].reason);
    // Appends go on after the last offset; the loss stays reported.
    assert_eq!(
        log.append(TOPIC, 0, &[record_for(latest)])
            .unwrap()
            .base_offset,
        latest
    );
    drop(log);
    // The close cut the batch out: its bytes are in the quarantine file.
    let quarantine = fs::read(partition_dir(dir).join("quarantine.lkq")).unwrap();
    assert!(quarantine.len() as u64 > bad.end - bad.pos);
    let report = master_log::verify(dir).unwrap();
    assert!(
        report.problems.iter().any(|p| p.file == bad.file
            && p.position == Some(bad.pos)
            && p.lost == Some((bad.base, bad.last + 1))),
        "{:#?}",
        report.problems
    );
    let log = EmbeddedLog::open(dir).unwrap();
    assert!(
        log.recovery_issues().is_empty(),
        "{:?}",
        log.recovery_issues()
    );
    assert_lost(
        log.fetch(TOPIC, 0, bad.base, FetchLimits::default()),
        bad.base,
        bad.last + 1,
    );
}

#[test]
fn flipped_byte_in_active_segment_loses_only_its_batch() {
    let dir = tempfile::tempdir().unwrap();
    let batches = build(dir.path(), 1 << 20, 8);
    let bad = &batches[3];
    // A byte in the middle of the batch's records.
    flip_byte(&bad.file, bad.pos + (bad.end - bad.pos) * 2 / 3);

    let report = master_log::verify(dir.path()).unwrap();
    let p = report.problems.iter().find(|p| p.file == bad.file).unwrap();
    assert_eq!(p.position, Some(bad.pos));
    assert_eq!(p.length, Some(bad.end - bad.pos));
    assert_eq!(p.lost, Some((bad.base, bad.last + 1)));
    assert!(p.reason.contains("CRC"), "{}", p.reason);
    assert_only_the_batch_lost(dir.path(), &batches, bad);
}

/// Every byte of a batch's header (the base offset included), and every third byte of its
/// records, flipped on its own, is caught: by verify, and by recovery, which cuts that
/// batch alone (never returning a changed or renumbered record) and keeps the next one.
#[test]
fn any_flipped_byte_of_an_active_batch_is_detected() {
    let template = tempfile::tempdir().unwrap();
    let batches = build(template.path(), 1 << 20, 4);
    let bad = batches[2].clone();
    let len = bad.end - bad.pos;
    for i in (0..50).chain((50..len).step_by(3)) {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(template.path(), dir.path());
        let file = dir
            .path()
            .join(bad.file.strip_prefix(template.path()).unwrap());
        flip_byte(&file, bad.pos + i);

        let report = master_log::verify(dir.path()).unwrap();
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.file == file && p.position == Some(bad.pos)),
            "byte {i} of the batch: {:?}",
            report.problems
        );
        let log = EmbeddedLog::open(dir.path()).unwrap();
        assert!(
            matches!(
                log.recovery_issues(),
                [SegmentIssue::DamagedBatch { position, .. }] if *position == bad.pos
            ),
            "byte {i} of the batch: {:?}",
            log.recovery_issues()
        );
        assert_eq!(log.offsets(TOPIC, 0).unwrap(), (0, 12), "byte {i}");
        let got = read_all(&log, 0);
        assert_eq!(got.len() as u64, bad.base, "byte {i}");
        for (o, r) in got.iter().enumerate() {
            assert_record(r, o as u64);
        }
        assert_lost(
            log.fetch(TOPIC, 0, bad.base, FetchLimits::default()),
            bad.base,
            bad.last + 1,
        );
        let rest = read_all(&log, bad.last + 1);
        assert_eq!(rest.len(), 3, "byte {i}");
        for (o, r) in rest.iter().enumerate() {
            assert_record(r, bad.last + 1 + o as u64);
        }
    }
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

/// Build a log of several segments and return its batches grouped by segment file.
fn build_segments(dir: &Path) -> Vec<Vec<Batch>> {
    let batches = build(dir, 1024, 24);
    let mut by_file: Vec<Vec<Batch>> = Vec::new();
    for b in batches {
        match by_file.last_mut() {
            Some(v) if v[0].file == b.file => v.push(b),
            _ => by_file.push(vec![b]),
        }
    }
    assert!(by_file.len() >= 4, "{} segments", by_file.len());
    assert!(by_file[1].len() >= 3);
    by_file
}

/// Damage inside a closed segment whose indexes give no sign of it is not seen at
/// open: readers find it. They get every record before it, the typed error for the
/// damaged batch's offsets, and every record after it; `verify` reports it; closing the
/// log cuts it out alone, as recovery would have.
#[test]
fn flipped_byte_in_closed_segment_is_found_by_readers_never_returned() {
    let dir = tempfile::tempdir().unwrap();
    let segs = build_segments(dir.path());
    let seg = &segs[1];
    let bad = &seg[1];
    flip_byte(&bad.file, bad.pos + (bad.end - bad.pos) - 5);

    let report = master_log::verify(dir.path()).unwrap();
    assert!(
        report.problems.iter().any(|p| p.file == bad.file
            && p.position == Some(bad.pos)
            && p.lost == Some((bad.base, bad.last + 1))),
        "{:#?}",
        report.problems
    );

    let log = EmbeddedLog::open(dir.path()).unwrap();
    let latest = segs.last().unwrap().last().unwrap().last + 1;
    assert_eq!(log.offsets(TOPIC, 0).unwrap(), (0, latest));
    assert!(log.lost_ranges(TOPIC, 0).unwrap().is_empty());
    // A fetch that reaches the damaged batch stops before it.
    let before = log
        .fetch(TOPIC, 0, seg[0].base, FetchLimits::default())
        .unwrap();
    assert_eq!(before.len() as u64, bad.base - seg[0].base);
    for r in &before {
        assert_record(r, r.offset);
    }
    for from in [bad.base, bad.base + 1, bad.last] {
        assert_lost(
            log.fetch(TOPIC, 0, from, FetchLimits::default()),
            bad.base,
            bad.last + 1,
        );
        // So does a fetch that shows records in place, and it shows none of the
        // damaged batch's.
        let mut shown = Vec::new();
        let r = log.fetch_each(TOPIC, 0, from, FetchLimits::default(), &mut |v| {
            shown.push(v.offset);
            ControlFlow::Continue(())
        });
        assert_lost(r, bad.base, bad.last + 1);
        assert!(shown.is_empty(), "from {from}: shown {shown:?}");
    }
    // What readers found is known from then on.
    let lost = log.lost_ranges(TOPIC, 0).unwrap();
    assert_eq!((lost[0].first, lost[0].end), (bad.base, bad.last + 1));
    // Records before the damage read as ever, and so do those after it.
    let first = read_all(&log, 0);
    assert_eq!(first.len() as u64, bad.base);
    for (o, r) in first.iter().enumerate() {
        assert_record(r, o as u64);
    }
    let rest = read_all(&log, bad.last + 1);
    assert_eq!(rest.len() as u64, latest - bad.last - 1);
    for (i, r) in rest.iter().enumerate() {
        assert_record(r, bad.last + 1 + i as u64);
    }
    // Closing the log cuts the damaged batch out alone, keeps its bytes aside, and
    // records the loss: it is known at the next open.
    drop(log);
    assert_eq!(
        fs::metadata(&bad.file).unwrap().len(),
        seg.last().unwrap().end - (bad.end - bad.pos)
    );
    assert!(partition_dir(dir.path()).join("quarantine.lkq").exists());
    let log = EmbeddedLog::open(dir.path()).unwrap();
    assert!(
        log.recovery_issues().is_empty(),
        "{:?}",
        log.recovery_issues()
    );
    let lost = log.lost_ranges(TOPIC, 0).unwrap();
    assert_eq!((lost[0].first, lost[0].end), (bad.base, bad.last + 1));
    assert_lost(
        log.fetch(TOPIC, 0, bad.base, FetchLimits::default()),
        bad.base,
        bad.last + 1,
    );
    assert_eq!(
        read_all(&log, bad.last + 1).len() as u64,
        latest - bad.last - 1
    );
    drop(log);
    let report = master_log::verify(dir.path()).unwrap();
    assert!(
        report.problems.iter().any(|p| p.file == bad.file
            && p.position == Some(bad.pos)
            && p.lost == Some((bad.base, bad.last + 1))),
        "{:#?}",
        report.problems
    );
}

/// The same damage, when the segment's index is gone too: open rebuilds the index from
/// a scan, which finds the damaged batch and cuts it out alone.
#[test]
fn damaged_closed_segment_without_index_is_cut_alone() {
    let dir = tempfile::tempdir().unwrap();
    let segs = build_segments(dir.path());
    let seg = &segs[1];
    let bad = &seg[1];
    flip_byte(&bad.file, bad.pos + (bad.end - bad.pos) - 5);
    fs::remove_file(bad.file.with_extension("index")).unwrap();

    let log = EmbeddedLog::open(dir.path()).unwrap();
    match log.recovery_issues() {
        [SegmentIssue::DamagedBatch { file, position, .. }] => {
            assert_eq!(file, &bad.file);
            assert_eq!(*position, bad.pos);
        }
        other => panic!("{other:?}"),
    }
    // The file lost exactly the damaged batch.
    assert_eq!(
        fs::metadata(&bad.file).unwrap().len(),
        seg.last().unwrap().end - (bad.end - bad.pos)
    );
    let latest = segs.last().unwrap().last().unwrap().last + 1;
    assert_eq!(log.offsets(TOPIC, 0).unwrap(), (0, latest));
    for from in [bad.base, bad.base + 1, bad.last] {
        assert_lost(
            log.fetch(TOPIC, 0, from, FetchLimits::default()),
            bad.base,
            bad.last + 1,
        );
    }
    let rest = read_all(&log, seg[2].base);
    assert_eq!(
        rest.len() as u64,
        latest - seg[2].base,
        "later batches still read"
    );
    for (i, r) in rest.iter().enumerate() {
        assert_record(r, seg[2].base + i as u64);
    }
    drop(log);
    // And it stays reported: verify names the file and where the damage was.
    let report = master_log::verify(dir.path()).unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.file == bad.file && p.position == Some(bad.pos)),
        "{:#?}",
        report.problems
    );
}

/// Ways to damage an index file, each of which must be noticed and repaired on open.
fn garble(kind: &str, index: &Path) {
    match kind {
        "deleted" => fs::remove_file(index).unwrap(),
        "empty" => fs::write(index, b"").unwrap(),
        "partial entry" => {
            let mut b = fs::read(index).unwrap();
            b.push(7);
            fs::write(index, b).unwrap();
        }
        "random bytes" => {
            let len = fs::read(index).unwrap().len();
            let junk: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            fs::write(index, junk).unwrap();
        }
        "points past the end" => {
            let mut b = fs::read(index).unwrap();
            let n = b.len();
            b[n - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
            fs::write(index, b).unwrap();
        }
        other => unreachable!("{other}"),
    }
}

#[test]
fn damaged_index_of_closed_segment_is_rebuilt() {
    for kind in [
        "deleted",
        "empty",
        "partial entry",
        "random bytes",
        "points past the end",
    ] {
        for ext in ["index", "timeindex"] {
            let dir = tempfile::tempdir().unwrap();
            let segs = build_segments(dir.path());
            let file = segs[1][0].file.clone();
            let index = file.with_extension(ext);
            let original = fs::read(&index).unwrap();
            assert!(!original.is_empty());
            garble(kind, &index);

            let report = master_log::verify(dir.path()).unwrap();
            assert!(
                report
                    .problems
                    .iter()
                    .any(|p| p.position.is_none() && p.file == file.with_extension("index")),
                "{kind} {ext}: {:#?}",
                report.problems
            );

            let log = EmbeddedLog::open(dir.path()).unwrap();
            match log.recovery_issues() {
                [SegmentIssue::RebuiltIndex { file: f, .. }] => assert_eq!(f, &file),
                other => panic!("{kind} {ext}: {other:?}"),
            }
            // The rebuilt index is the one that was there.
            assert_eq!(fs::read(&index).unwrap(), original, "{kind} {ext}");
            let latest = segs.last().unwrap().last().unwrap().last + 1;
            let mut next = 0;
            while next < latest {
                let got = log
                    .fetch(
                        TOPIC,
                        0,
                        next,
                        FetchLimits {
                            max_records: 2,
                            ..FetchLimits::default()
                        },
                    )
                    .unwrap();
                for r in got {
                    assert_record(&r, next);
                    next += 1;
                }
            }
            let t = log.fetch(TOPIC, 0, 0, FetchLimits::default()).unwrap()[0].append_time;
            assert_eq!(log.offset_for_time(TOPIC, 0, t).unwrap(), Some(0));
            drop(log);
            assert_clean(dir.path());
        }
    }
}
