//! Unit tests of the output table files: parts, frames, damage, the alias.

use super::*;
use workloads::{Partial, Scalar, Window};

/// Partition `partition` of a 2-partition table: `n` events in one cell, covering
/// offsets below `n`, watermark `n`.
fn part(version: u32, partition: u32, n: u64) -> TablePart {
    let mut t = PartialTable::new();
    t.cell_mut(Window { start: 0, end: 10 }, vec![Scalar::Int(1)], || {
        vec![Partial::Count(n)]
    });
    TablePart {
        workload: "w".into(),
        version,
        topic: "t".into(),
        partitions: 2,
        partition,
        position: n,
        watermark: Some(n as i64),
        idle: false,
        allowed_lateness_ms: 0,
        events: n,
        duplicates: 0,
        late_events: 0,
        written_ms: 0,
        table: t,
    }
}

fn count(t: &OutputTable) -> u64 {
    match t.table.iter().next().map(|(_, _, v)| &v[0]) {
        Some(Partial::Count(n)) => *n,
        other => panic!("{other:?}"),
    }
}

#[test]
fn parts_merge_into_one_version() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_part(root, &part(1, 0, 3)).unwrap();
    let t = load_version(root, "w", 1).unwrap();
    // Partition 1 has no part yet: covered to 0, and it holds the watermark back.
    assert_eq!(
        (t.positions.clone(), t.watermark, count(&t)),
        (vec![3, 0], None, 3)
    );
    write_part(root, &part(1, 1, 4)).unwrap();
    let t = load_version(root, "w", 1).unwrap();
    assert_eq!(t.positions, vec![3, 4]);
    assert_eq!((t.watermark, t.events, count(&t)), (Some(3), 7, 7));
    // A rewrite replaces its own part only.
    write_part(root, &part(1, 0, 5)).unwrap();
    let t = load_version(root, "w", 1).unwrap();
    assert_eq!((t.positions.clone(), count(&t)), (vec![5, 4], 9));
    // An idle partition does not hold the watermark back.
    write_part(
        root,
        &TablePart {
            idle: true,
            ..part(1, 0, 5)
        },
    )
    .unwrap();
    assert_eq!(load_version(root, "w", 1).unwrap().watermark, Some(4));
}

#[test]
fn a_reader_asking_for_some_keys_gets_their_cells_merged_and_the_whole_tables_counters() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for p in 0..2u32 {
        let mut part = part(1, p, 10 + u64::from(p));
        for key in 2..6i64 {
            part.table
                .cell_mut(Window { start: 0, end: 10 }, vec![Scalar::Int(key)], || {
                    vec![Partial::Count(key as u64 * 10 + u64::from(p))]
                });
        }
        write_part(root, &part).unwrap();
    }
    // A delta after partition 0's snapshot: key 3 changed, key 1 gone, key 4 changed.
    let mut delta = PartDelta::header_of(&part(1, 0, 12));
    let w = Window { start: 0, end: 10 };
    for (key, n) in [(3, 100), (4, 400)] {
        delta.upserts.push(StoredCell {
            window: w,
            key: vec![Scalar::Int(key)],
            partials: vec![Partial::Count(n)],
        });
    }
    delta.removed.push((w, vec![Scalar::Int(1)]));
    append_part_delta(root, "w", 1, 0, &delta, false).unwrap();
    set_serving(root, "w", 1).unwrap();
    let whole = load_serving(root, "w").unwrap();
    let keep = |k: &workloads::GroupKey| k[0] == Scalar::Int(3) || k[0] == Scalar::Int(1);
    let some = load_serving_where(root, "w", Some(&keep)).unwrap();
    let mut want = whole.table.clone();
    want.retain_keys(keep);
    assert_eq!(some.table.len(), 2);
    assert_eq!(some.table, want);
    // Key 3: 100 from partition 0's delta, 31 from partition 1; key 1: partition 1's.
    assert_eq!(
        some.table.get(w, &[Scalar::Int(3)]),
        Some(&vec![Partial::Count(131)])
    );
    assert_eq!(
        some.table.get(w, &[Scalar::Int(1)]),
        Some(&vec![Partial::Count(11)])
    );
    assert_eq!(
        (some.positions, some.events, some.watermark),
        (whole.positions, whole.events, whole.watermark)
    );
}

#[test]
fn a_version_just_written_serves_once_each_of_its_parts_is_there() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_part(root, &part(1, 0, 3)).unwrap();
    // Partition 1's part is missing, or the job owned none: no switch.
    for owned in [&[0, 1][..], &[]] {
        assert!(matches!(
            set_serving_written(root, "w", 1, owned),
            Err(KappaError::NoTable { .. })
        ));
        assert_eq!(serving_version(root, "w").unwrap(), None);
    }
    write_part(root, &part(1, 1, 3)).unwrap();
    set_serving_written(root, "w", 1, &[0, 1]).unwrap();
    assert_eq!(serving_version(root, "w").unwrap(), Some(1));
    assert!(set_serving_written(root, "../w", 1, &[0]).is_err());
}

#[test]
fn versions_alias_switch_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    assert!(matches!(
        load_serving(root, "w"),
        Err(KappaError::NoTable { .. })
    ));
    // An alias cannot name a version without a table.
    assert!(set_serving(root, "w", 1).is_err());
    write_part(root, &part(1, 0, 3)).unwrap();
    set_serving(root, "w", 1).unwrap();
    assert_eq!(load_serving(root, "w").unwrap().version, 1);
    write_part(root, &part(2, 0, 4)).unwrap();
    write_part(root, &part(2, 1, 4)).unwrap();
    assert_eq!(load_serving(root, "w").unwrap().version, 1);
    assert!(delete_version(root, "w", 1).is_err());
    set_serving(root, "w", 2).unwrap();
    delete_version(root, "w", 1).unwrap();
    assert_eq!(list_versions(root, "w").unwrap(), vec![2]);
    let t = load_serving(root, "w").unwrap();
    assert_eq!(
        (t.version, t.positions.clone(), count(&t)),
        (2, vec![4, 4], 8)
    );
    // Bad names, damaged files and misplaced parts are errors.
    assert!(load_version(root, "../x", 1).is_err());
    std::fs::write(version_dir(root, "w", 2).join("part-1"), b"junk").unwrap();
    assert!(matches!(
        load_serving(root, "w"),
        Err(KappaError::Corrupt { .. })
    ));
    write_part(root, &part(2, 1, 4)).unwrap();
    std::fs::copy(
        version_dir(root, "w", 2).join("part-1"),
        version_dir(root, "w", 2).join("part-0"),
    )
    .unwrap();
    assert!(matches!(
        load_serving(root, "w"),
        Err(KappaError::Corrupt { .. })
    ));
}

fn file(root: &Path, partition: u32) -> PathBuf {
    part_path(root, "w", 1, partition)
}

fn len(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().len()
}

#[test]
fn a_part_file_is_a_log_of_snapshots_and_the_last_whole_one_counts() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let path = file(root, 0);
    write_part_with(root, &part(1, 0, 1), false, true).unwrap();
    let one = len(&path);
    // Appends: the file grows by a frame each, the last snapshot is the part.
    for n in 2..=5 {
        write_part_with(root, &part(1, 0, n), n % 2 == 0, false).unwrap();
    }
    assert!(len(&path) > 3 * one, "appended, not replaced");
    assert_eq!(load_version(root, "w", 1).unwrap().positions, vec![5, 0]);
    // A frame cut short by a crash (any length of it) is ignored: the one before
    // counts.
    let whole = std::fs::read(&path).unwrap();
    write_part_with(root, &part(1, 0, 6), false, false).unwrap();
    let with_6 = std::fs::read(&path).unwrap();
    for cut in [1, 4, 8, 9, with_6.len() - whole.len() - 1] {
        std::fs::write(&path, &with_6[..whole.len() + cut]).unwrap();
        assert_eq!(
            load_version(root, "w", 1).unwrap().positions,
            vec![5, 0],
            "{cut}"
        );
    }
    // A whole last frame with a flipped byte is damage, an error (not a torn write:
    // the part as of the frame before is not served in its place); so is one before
    // the last.
    let mut bad = with_6.clone();
    *bad.last_mut().unwrap() ^= 1;
    std::fs::write(&path, &bad).unwrap();
    assert!(matches!(
        load_version(root, "w", 1),
        Err(KappaError::Corrupt { .. })
    ));
    let mut bad = with_6.clone();
    bad[whole.len() - 1] ^= 1;
    std::fs::write(&path, &bad).unwrap();
    assert!(matches!(
        load_version(root, "w", 1),
        Err(KappaError::Corrupt { .. })
    ));
    // Starting anew drops whatever the file held.
    write_part_with(root, &part(1, 0, 7), false, true).unwrap();
    assert_eq!(len(&path), one);
    assert_eq!(load_version(root, "w", 1).unwrap().positions, vec![7, 0]);
    // A header without any whole snapshot, or an unknown format, is an error.
    std::fs::write(&path, &with_6[..12]).unwrap();
    assert!(matches!(
        load_version(root, "w", 1),
        Err(KappaError::Corrupt { .. })
    ));
    let mut other = with_6.clone();
    other[8] = 9;
    std::fs::write(&path, &other).unwrap();
    assert!(matches!(
        load_version(root, "w", 1),
        Err(KappaError::Corrupt { .. })
    ));
}

#[test]
fn a_part_file_starts_anew_before_it_grows_past_its_bound() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let path = file(root, 1);
    // A part of 100 cells: about 1 KB a snapshot.
    let big = |n: u64| {
        let mut p = part(1, 1, n);
        for k in 0..100 {
            p.table
                .cell_mut(Window { start: 0, end: 10 }, vec![Scalar::Int(k)], || {
                    vec![Partial::Count(n)]
                });
        }
        p
    };
    write_part_with(root, &big(0), false, true).unwrap();
    let mut largest = 0;
    let mut restarted = false;
    for n in 1..3_000 {
        let before = len(&path);
        write_part_with(root, &big(n), false, false).unwrap();
        restarted |= len(&path) < before;
        largest = largest.max(len(&path));
    }
    assert!(restarted, "the file was started anew");
    assert!(largest <= MAX_PART_FILE, "{largest}");
    assert_eq!(
        load_version(root, "w", 1).unwrap().positions,
        vec![0, 2_999]
    );
}

#[test]
fn a_part_file_of_the_previous_format_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let old = PartFile {
        magic: MAGIC_2,
        format: FORMAT_2,
        part: part(1, 0, 3),
    };
    std::fs::create_dir_all(version_dir(root, "w", 1)).unwrap();
    std::fs::write(file(root, 0), postcard::to_stdvec(&old).unwrap()).unwrap();
    assert_eq!(load_version(root, "w", 1).unwrap().positions, vec![3, 0]);
    // Appending to it starts a file of the current format.
    write_part_with(root, &part(1, 0, 4), false, false).unwrap();
    assert!(
        std::fs::read(file(root, 0))
            .unwrap()
            .starts_with(PART_HEADER)
    );
    assert_eq!(load_version(root, "w", 1).unwrap().positions, vec![4, 0]);
}

#[test]
fn deltas_apply_to_the_last_full_snapshot_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let w = |s: i64| Window {
        start: s,
        end: s + 10,
    };
    let cell = |s: i64, k: i64, n: u64| StoredCell {
        window: w(s),
        key: vec![Scalar::Int(k)],
        partials: vec![Partial::Count(n)],
    };
    // Full: one cell (window 0, key 1) = 3.
    write_part_with(root, &part(1, 0, 3), false, true).unwrap();
    let delta =
        |position: u64, upserts: Vec<StoredCell>, removed: Vec<(Window, GroupKey)>| PartDelta {
            position,
            upserts,
            removed,
            ..PartDelta::header_of(&part(1, 0, position))
        };
    let d1 = delta(5, vec![cell(0, 1, 5), cell(10, 2, 1)], vec![]);
    let d2 = delta(7, vec![cell(10, 2, 3)], vec![(w(0), vec![Scalar::Int(1)])]);
    for d in [&d1, &d2] {
        assert!(
            append_part_delta(root, "w", 1, 0, d, false)
                .unwrap()
                .is_some()
        );
    }
    let t = load_version(root, "w", 1).unwrap();
    assert_eq!(t.positions, vec![7, 0]);
    let cells: Vec<_> = t
        .table
        .iter()
        .map(|(w, k, p)| (*w, k.clone(), p.clone()))
        .collect();
    assert_eq!(
        cells,
        vec![(w(10), vec![Scalar::Int(2)], vec![Partial::Count(3)])]
    );
    // A torn last delta: the part as of the one before.
    let path = file(root, 0);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
    let t = load_version(root, "w", 1).unwrap();
    assert_eq!((t.positions.clone(), count(&t)), (vec![5, 0], 5));
    // A full snapshot replaces everything before it; deltas continue from it.
    write_part_with(root, &part(1, 0, 9), false, true).unwrap();
    append_part_delta(
        root,
        "w",
        1,
        0,
        &delta(11, vec![cell(0, 1, 11)], vec![]),
        false,
    )
    .unwrap()
    .unwrap();
    let t = load_version(root, "w", 1).unwrap();
    assert_eq!(
        (t.positions.clone(), t.table.len(), count(&t)),
        (vec![11, 0], 1, 11)
    );
    // No file: nothing to append to. A delta before any full snapshot is damage.
    assert_eq!(
        append_part_delta(root, "w", 1, 1, &d1, false).unwrap(),
        None
    );
    let mut only_delta = file_header().to_vec();
    only_delta.extend_from_slice(&frame_bytes(&FrameRef::<(), _>::Delta(&d1)).unwrap());
    std::fs::write(file(root, 1), only_delta).unwrap();
    assert!(matches!(
        load_version(root, "w", 1),
        Err(KappaError::Corrupt { .. })
    ));
}

/// A part file of three frames (a snapshot, a delta, a snapshot) and the part as of each.
fn three_frames(root: &Path) -> (Vec<u8>, Vec<TablePart>) {
    let mut parts = vec![part(1, 0, 1)];
    write_part_with(root, &parts[0], false, true).unwrap();
    let mut d = PartDelta::header_of(&part(1, 0, 2));
    d.upserts.push(StoredCell {
        window: Window { start: 0, end: 10 },
        key: vec![Scalar::Int(1)],
        partials: vec![Partial::Count(2)],
    });
    append_part_delta(root, "w", 1, 0, &d, false)
        .unwrap()
        .unwrap();
    parts.push(part(1, 0, 2));
    write_part_with(root, &part(1, 0, 3), false, false).unwrap();
    parts.push(part(1, 0, 3));
    (std::fs::read(file(root, 0)).unwrap(), parts)
}

#[test]
fn every_flipped_byte_of_a_part_file_is_damage_naming_the_file_and_byte() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (bytes, _) = three_frames(root);
    let path = file(root, 0);
    let mut starts = Vec::new();
    for i in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[i] ^= 0x20;
        std::fs::write(&path, &bad).unwrap();
        match load_version(root, "w", 1) {
            Err(KappaError::Corrupt { what, .. }) => {
                assert!(what.contains(&path.display().to_string()), "{what}");
                let at: usize = what.rsplit(' ').next().unwrap().parse().unwrap();
                starts.push(at);
            }
            other => panic!("byte {i}: {other:?}"),
        }
    }
    // The byte named is where the damaged frame starts: the three frames' starts.
    starts.dedup();
    assert!(starts.len() >= 3, "{starts:?}");
}

#[test]
fn a_cut_part_file_reads_as_of_an_earlier_whole_write_or_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (bytes, parts) = three_frames(root);
    let path = file(root, 0);
    let mut seen = std::collections::BTreeSet::new();
    for len in 0..bytes.len() {
        std::fs::write(&path, &bytes[..len]).unwrap();
        match load_version(root, "w", 1) {
            Ok(t) => {
                // Exactly the part as of one write, never a mix.
                let p = parts.iter().find(|p| p.position == t.positions[0]).unwrap();
                assert_eq!(count(&t), p.position, "cut at {len}");
                seen.insert(p.position);
            }
            Err(KappaError::Corrupt { .. }) => {}
            Err(e) => panic!("cut at {len}: {e:?}"),
        }
    }
    assert_eq!(
        seen,
        [1, 2].into(),
        "the first two writes, each when the next is cut"
    );
    // Zeros in place of the last frame: damage, not a torn write.
    let mut zeroed = bytes.clone();
    let from = bytes.len() - 20;
    zeroed[from..].fill(0);
    std::fs::write(&path, &zeroed).unwrap();
    assert!(matches!(
        load_version(root, "w", 1),
        Err(KappaError::Corrupt { .. })
    ));
}

#[test]
fn a_part_file_of_format_3_is_read_with_the_same_rules() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let frame3 = |p: &TablePart| {
        let payload = postcard::to_stdvec(&Frame::Full(p.clone())).unwrap();
        let mut b = (payload.len() as u32).to_le_bytes().to_vec();
        b.extend_from_slice(&crc32c::crc32c(&payload).to_le_bytes());
        b.extend_from_slice(&payload);
        b
    };
    let mut bytes = PART_HEADER.to_vec();
    bytes.extend_from_slice(&FORMAT_3.to_le_bytes());
    bytes.extend_from_slice(&frame3(&part(1, 0, 3)));
    bytes.extend_from_slice(&frame3(&part(1, 0, 4)));
    std::fs::create_dir_all(version_dir(root, "w", 1)).unwrap();
    std::fs::write(file(root, 0), &bytes).unwrap();
    assert_eq!(load_version(root, "w", 1).unwrap().positions, vec![4, 0]);
    std::fs::write(file(root, 0), &bytes[..bytes.len() - 1]).unwrap();
    assert_eq!(load_version(root, "w", 1).unwrap().positions, vec![3, 0]);
    let mut bad = bytes.clone();
    *bad.last_mut().unwrap() ^= 1;
    std::fs::write(file(root, 0), &bad).unwrap();
    assert!(matches!(
        load_version(root, "w", 1),
        Err(KappaError::Corrupt { .. })
    ));
    // The job's next write starts a file of the current format.
    write_part_with(root, &part(1, 0, 5), false, false).unwrap();
    assert!(
        std::fs::read(file(root, 0))
            .unwrap()
            .starts_with(&file_header())
    );
}

#[test]
fn a_damaged_alias_is_an_error_never_another_version() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for v in [1, 2, 12] {
        write_part(root, &part(v, 0, 3)).unwrap();
    }
    set_serving(root, "w", 12).unwrap();
    let path = alias_path(root, "w");
    let text = std::fs::read(&path).unwrap();
    assert_eq!(serving_version(root, "w").unwrap(), Some(12));
    for i in 0..text.len() {
        for flip in [1u8, 2, 3, 0x20] {
            let mut bad = text.clone();
            bad[i] ^= flip;
            std::fs::write(&path, &bad).unwrap();
            assert!(
                matches!(serving_version(root, "w"), Err(KappaError::Corrupt { .. })),
                "byte {i} ^ {flip}: {:?}",
                String::from_utf8_lossy(&bad)
            );
        }
    }
    for len in 0..text.len() {
        std::fs::write(&path, &text[..len]).unwrap();
        assert!(serving_version(root, "w").is_err(), "cut at {len}");
    }
    std::fs::write(&path, vec![0; text.len()]).unwrap();
    assert!(load_serving(root, "w").is_err());
    // The alias written before the CRC is still read.
    std::fs::write(&path, b"2\n").unwrap();
    assert_eq!(load_serving(root, "w").unwrap().version, 2);
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(
        load_serving(root, "w"),
        Err(KappaError::NoTable { .. })
    ));
}

/// A table of `cells`: (window start, key, count).
fn table_of(cells: &[(i64, i64, u64)]) -> PartialTable {
    let mut t = PartialTable::new();
    for &(start, key, n) in cells {
        let w = Window {
            start,
            end: start + 10,
        };
        *t.cell_mut(w, vec![Scalar::Int(key)], Vec::new) = vec![Partial::Count(n)];
    }
    t
}

#[test]
fn joined_cells_walk_two_tables_in_order_and_pair_the_cells_in_both() {
    let a = table_of(&[(0, 1, 1), (0, 3, 3), (10, 1, 5)]);
    let b = table_of(&[(0, 2, 20), (0, 3, 30), (20, 0, 40)]);
    let seen: Vec<(i64, i64, &str, u64)> = joined_cells(&a, &b)
        .map(|(w, k, cell)| {
            let Scalar::Int(key) = k[0] else { panic!() };
            let n = |p: &Vec<Partial>| match p[0] {
                Partial::Count(n) => n,
                _ => panic!(),
            };
            match cell {
                Joined::Left(p) => (w.start, key, "left", n(p)),
                Joined::Right(p) => (w.start, key, "right", n(p)),
                Joined::Both(p, q) => (w.start, key, "both", n(p) * 100 + n(q)),
            }
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (0, 1, "left", 1),
            (0, 2, "right", 20),
            (0, 3, "both", 330),
            (10, 1, "left", 5),
            (20, 0, "right", 40),
        ]
    );
}

#[test]
fn a_full_frame_of_two_tables_is_the_frame_of_their_merge() {
    let closed = table_of(&[(0, 1, 1), (0, 3, 3), (10, 1, 5)]);
    let open = table_of(&[(0, 2, 20), (0, 3, 30), (20, 0, 40)]);
    let mut merged = closed.clone();
    merged.merge(&open).unwrap();
    let whole = TablePart {
        table: merged,
        ..part(1, 0, 7)
    };
    let head = part(1, 0, 7).with_table(());
    let frame = full_frame(&head.with_table(MergedCells(&closed, &open))).unwrap();
    // The same bytes as the frame of the merged part (the cell in both merged: 33).
    let want = postcard::to_stdvec(&Frame::Full(whole.clone())).unwrap();
    assert_eq!(frame[12..], want[..]);
    let dir = tempfile::tempdir().unwrap();
    write_full_frame(dir.path(), ("w", 1, 0), &frame, false, true).unwrap();
    assert_eq!(
        part_frames(dir.path(), "w", 1, 0).unwrap(),
        vec![Frame::Full(whole)]
    );
}

#[test]
fn a_snapshot_of_closed_cells_kept_encoded_is_the_frame_of_the_cells_encoded_anew() {
    let mut encoded = EncodedCells::default();
    let mut closed = PartialTable::new();
    // Windows finalized in order, in two publications.
    for finalized in [
        table_of(&[(0, 1, 1), (0, 3, 3)]),
        table_of(&[(10, 1, 5), (20, 2, 6)]),
    ] {
        assert!(encoded.precedes(&finalized));
        encoded.append(&finalized);
        closed.merge_from(finalized).unwrap();
    }
    assert_eq!(encoded.cells, 4);
    let open = table_of(&[(30, 2, 20), (30, 3, 30), (40, 0, 40)]);
    assert!(encoded.precedes(&open));
    let mut open_cells = EncodedCells::default();
    open_cells.append(&open);
    let head = part(1, 0, 7).with_table(());
    let frame = full_frame_of_encoded(&head, 7, &[&encoded.bytes, &open_cells.bytes]).unwrap();
    let want = full_frame(&head.clone().with_table(MergedCells(&closed, &open))).unwrap();
    assert_eq!(frame, want);
    // A window at or before the last one held is refused (it would break the order).
    assert!(!encoded.precedes(&table_of(&[(20, 9, 1)])));
    assert!(!encoded.precedes(&table_of(&[(10, 0, 1), (50, 0, 1)])));
    assert!(encoded.precedes(&PartialTable::new()));
}

#[test]
fn a_delta_of_borrowed_cells_reads_as_the_owned_delta() {
    let t = table_of(&[(0, 1, 1), (0, 3, 3)]);
    let gone = (Window { start: 0, end: 10 }, vec![Scalar::Int(9)]);
    let mut borrowed = DeltaRef::header_of(&part(1, 0, 8));
    borrowed.upserts.extend(t.iter());
    borrowed.removed.push((&gone.0, &gone.1));
    let mut owned = PartDelta::header_of(&part(1, 0, 8));
    owned.upserts = t.clone().into();
    owned.removed.push(gone.clone());
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_part_with(root, &part(1, 0, 1), false, true).unwrap();
    append_delta_frame(root, "w", 1, 0, &delta_frame(&borrowed).unwrap(), false).unwrap();
    append_part_delta(root, "w", 1, 0, &owned, false).unwrap();
    let frames = part_frames(root, "w", 1, 0).unwrap();
    assert_eq!(frames[1], Frame::Delta(owned.clone()));
    assert_eq!(frames[1], frames[2]);
}

#[test]
fn a_delta_after_cells_kept_encoded_is_the_frame_of_the_delta_encoded_anew() {
    let finalized = table_of(&[(0, 1, 1), (0, 3, 3), (10, 2, 5)]);
    let mut encoded = EncodedCells::default();
    encoded.append(&finalized);
    let open = table_of(&[(20, 2, 20), (30, 0, 40)]);
    let gone = (Window { start: 40, end: 50 }, vec![Scalar::Int(9)]);
    for (with_open, with_gone) in [(false, false), (true, false), (true, true)] {
        let mut whole = DeltaRef::header_of(&part(1, 0, 8));
        whole.upserts.extend(finalized.iter());
        let mut rest = DeltaRef::header_of(&part(1, 0, 8));
        if with_open {
            whole.upserts.extend(open.iter());
            rest.upserts.extend(open.iter());
        }
        if with_gone {
            whole.removed.push((&gone.0, &gone.1));
            rest.removed.push((&gone.0, &gone.1));
        }
        let frame = delta_frame_after_encoded(&rest, encoded.cells, &encoded.bytes).unwrap();
        assert_eq!(
            frame,
            delta_frame(&whole).unwrap(),
            "{with_open} {with_gone}"
        );
    }
}

#[test]
fn the_alias_written_by_the_job_names_its_version() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_part(root, &part(3, 0, 1)).unwrap();
    write_alias(root, "w", 3).unwrap();
    assert_eq!(serving_version(root, "w").unwrap(), Some(3));
    assert_eq!(load_serving(root, "w").unwrap().version, 3);
}
