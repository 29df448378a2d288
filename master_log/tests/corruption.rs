//! Damaged files: torn and corrupted active segments are cut back to their last good
//! batch on open; damage in closed segments is reported (by `verify`, by `fetch`) and
//! never returned as data; missing or garbled indexes are rebuilt.

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

#[test]
fn flipped_byte_in_active_segment_is_cut_from_its_batch_on() {
    let dir = tempfile::tempdir().unwrap();
    let batches = build(dir.path(), 1 << 20, 8);
    let bad = &batches[3];
    let len = batches.last().unwrap().end;
    // A byte in the middle of the batch's records.
    flip_byte(&bad.file, bad.pos + (bad.end - bad.pos) * 2 / 3);

    assert_eq!(verify_positions(dir.path(), &bad.file)[0], Some(bad.pos));

    let log = EmbeddedLog::open(dir.path()).unwrap();
    match log.recovery_issues() {
        [
            SegmentIssue::TruncatedTail {
                file,
                position,
                bytes_cut,
                reason,
            },
        ] => {
            assert_eq!(file, &bad.file);
            assert_eq!(*position, bad.pos);
            assert_eq!(*bytes_cut, len - bad.pos);
            assert!(reason.contains("CRC"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_cut_at(dir.path(), log, bad.base);
}

/// Every byte of a batch's header (the base offset included), and every third byte of its
/// records, flipped on its own, is caught: by verify, and by recovery, which cuts the log
/// at that batch (never returning a changed or renumbered record).
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
                [SegmentIssue::TruncatedTail { position, .. }] if *position == bad.pos
            ),
            "byte {i} of the batch: {:?}",
            log.recovery_issues()
        );
        assert_eq!(log.offsets(TOPIC, 0).unwrap(), (0, bad.base), "byte {i}");
        let got = read_all(&log, 0);
        for (o, r) in got.iter().enumerate() {
            assert_record(r, o as u64);
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

#[test]
fn flipped_byte_in_closed_segment_is_reported_never_returned() {
    let dir = tempfile::tempdir().unwrap();
    let segs = build_segments(dir.path());
    let seg = &segs[1];
    let bad = &seg[1];
    flip_byte(&bad.file, bad.pos + (bad.end - bad.pos) - 5);

    let report = master_log::verify(dir.path()).unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.file == bad.file && p.position == Some(bad.pos)),
        "{:#?}",
        report.problems
    );

    let log = EmbeddedLog::open(dir.path()).unwrap();
    // Damage in a closed segment is never cut: the log keeps its length.
    let latest = segs.last().unwrap().last().unwrap().last + 1;
    assert_eq!(log.offsets(TOPIC, 0).unwrap(), (0, latest));
    // Any fetch that would have to read the damaged batch fails, naming file and byte.
    for from in [seg[0].base, bad.base, bad.base + 1, bad.last] {
        match log.fetch(TOPIC, 0, from, FetchLimits::default()) {
            Err(LogError::Corrupt { file, position, .. }) => {
                assert_eq!(file, bad.file);
                assert_eq!(position, bad.pos);
            }
            other => panic!("fetch from {from}: {other:?}"),
        }
        // So does a fetch that shows records in place, and it shows none of the
        // damaged batch's.
        let mut shown = Vec::new();
        let r = log.fetch_each(TOPIC, 0, from, FetchLimits::default(), &mut |v| {
            shown.push(v.offset);
            ControlFlow::Continue(())
        });
        match r {
            Err(LogError::Corrupt { file, position, .. }) => {
                assert_eq!(file, bad.file);
                assert_eq!(position, bad.pos);
            }
            other => panic!("fetch_each from {from}: {other:?}"),
        }
        assert!(
            shown.iter().all(|&o| o < bad.base),
            "from {from}: shown {shown:?}"
        );
    }
    // Records before the damage, in the same segment, can still be read up to it.
    let before = log
        .fetch(
            TOPIC,
            0,
            seg[0].base,
            FetchLimits {
                max_records: (bad.base - seg[0].base) as usize,
                ..FetchLimits::default()
            },
        )
        .unwrap();
    assert_eq!(before.len() as u64, bad.base - seg[0].base);
    for r in &before {
        assert_record(r, r.offset);
    }
    // Other segments read as ever.
    let first = log
        .fetch(
            TOPIC,
            0,
            0,
            FetchLimits {
                max_records: seg[0].base as usize,
                ..FetchLimits::default()
            },
        )
        .unwrap();
    assert_eq!(first.len() as u64, seg[0].base);
    for (o, r) in first.iter().enumerate() {
        assert_record(r, o as u64);
    }
    let next_seg = segs[2][0].base;
    let rest = read_all(&log, next_seg);
    assert_eq!(rest.len() as u64, latest - next_seg);
    for (i, r) in rest.iter().enumerate() {
        assert_record(r, next_seg + i as u64);
    }
}

/// The same damage, when the segment's index is gone too: the index is rebuilt up to the
/// damage, the open reports a `DamagedBatch`, and reads of the damaged range still fail
/// rather than skip it.
#[test]
fn damaged_closed_segment_without_index_still_fails_reads() {
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
    // The file keeps its full length.
    assert_eq!(
        fs::metadata(&bad.file).unwrap().len(),
        seg.last().unwrap().end
    );
    let latest = segs.last().unwrap().last().unwrap().last + 1;
    assert_eq!(log.offsets(TOPIC, 0).unwrap(), (0, latest));
    for from in [
        bad.base,
        bad.base + 1,
        seg[2].base,
        seg.last().unwrap().last,
    ] {
        match log.fetch(TOPIC, 0, from, FetchLimits::default()) {
            Err(LogError::Corrupt { file, position, .. }) => {
                assert_eq!(file, bad.file);
                assert_eq!(position, bad.pos);
            }
            other => panic!("fetch from {from}: {other:?}"),
        }
    }
    let next_seg = segs[2][0].base;
    assert_eq!(
        read_all(&log, next_seg).len() as u64,
        latest - next_seg,
        "later segments still read"
    );
    drop(log);
    // And it stays reported: the damage is still there for verify.
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
