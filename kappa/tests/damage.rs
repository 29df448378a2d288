//! Fault injection into the Kappa job's derived files — a table part, a task's redb
//! store, the serving alias — each flipped, cut, zero-filled and deleted. For every case:
//! a reader (`load_serving`) gets a typed error or a table that is the oracle's answer
//! for the positions it reports (never a wrong one); a restarted job reports the damage
//! it found (`RestoreReport::damage`, and a warning naming the file), rebuilds from the
//! changelog or the restored state, and serves the uninterrupted run's table again.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use kappa::{JobConfig, KappaError, OutputTable, RestoreSource, StateStore};
use master_log::EmbeddedLog;
use testkit::damage::{Damage, copy_dir, damage, damage_at, warnings};
use workloads::{BuiltIn, Workload};

/// Where the bytes of a value stored in the pristine store lie in its file (each copy
/// redb's pages hold, the live one among them).
fn value_positions(store: &Path) -> Vec<usize> {
    let s = kappa::RedbStore::open(store).unwrap();
    let mut longest: Vec<u8> = Vec::new();
    s.for_each(&mut |_, v| {
        if v.len() > longest.len() {
            longest = v.to_vec();
        }
        Ok(())
    })
    .unwrap();
    drop(s);
    assert!(longest.len() >= 8, "{longest:?}");
    let bytes = std::fs::read(store).unwrap();
    let at: Vec<usize> = bytes
        .windows(longest.len())
        .enumerate()
        .filter(|(_, w)| *w == longest.as_slice())
        .map(|(i, _)| i + longest.len() / 2)
        .collect();
    assert!(!at.is_empty());
    at
}

struct Setup {
    fx: Fixture,
    w: Workload,
    log: Arc<EmbeddedLog>,
    /// The Kappa directory of an uninterrupted run, and its serving table.
    pristine: PathBuf,
    reference: OutputTable,
}

fn config(fx: &Fixture, kdir: &Path) -> JobConfig {
    let mut config = fx.config(kdir, fx.covering_lateness_ms);
    // Part files of a snapshot and many deltas.
    config.uncommitted_every = Some(Duration::ZERO);
    config.fetch_limits.max_records = 250;
    config.checkpoint_records = 1_000;
    config
}

fn setup() -> Setup {
    let fx = generated_n(
        datasets::DatasetKind::Pageviews,
        &[BuiltIn::PageviewsPerMinute],
        2,
        4_000,
    );
    let w = fx.workloads[0].clone();
    let (log, pristine) = fx.full_job_target();
    fx.job(&log, &w, config(&fx, &pristine))
        .run_until_caught_up()
        .unwrap();
    let reference = kappa::load_serving(&pristine, w.name()).unwrap();
    assert_exact(
        &fx.oracle(log.as_ref(), &w),
        &w,
        &reference.table,
        "pristine",
    );
    assert!(kappa::part_frames(&pristine, w.name(), 1, 0).unwrap().len() > 3);
    Setup {
        fx,
        w,
        log,
        pristine,
        reference,
    }
}

impl Setup {
    /// A fresh copy of the pristine Kappa directory.
    fn copy(&self, case: &str) -> PathBuf {
        let kdir = self.pristine.with_file_name(format!("kappa-{case}"));
        let _ = std::fs::remove_dir_all(&kdir);
        copy_dir(&self.pristine, &kdir);
        kdir
    }

    /// What a reader of `kdir` gets: an error, or a table that is the oracle's answer for
    /// the positions it reports.
    fn read(&self, kdir: &Path, what: &str) -> String {
        match kappa::load_serving(kdir, self.w.name()) {
            Ok(t) if same_result(&t, &self.reference) => "the table".into(),
            Ok(t) => {
                let prefix = self.fx.target();
                self.fx
                    .copy(prefix.as_ref(), &self.fx.zeros(), &t.positions);
                let expected = self.fx.oracle(prefix.as_ref(), &self.w);
                assert_exact(&expected, &self.w, &t.table, what);
                format!("an older table, at {:?}", t.positions)
            }
            Err(e @ (KappaError::Corrupt { .. } | KappaError::NoTable { .. })) => {
                let name = format!("{e:?}");
                name.split([' ', '{']).next().unwrap().to_owned() + " error"
            }
            Err(e) => panic!("{what}: {e:?}"),
        }
    }
}

#[test]
fn damaged_kappa_files_are_detected_reported_and_rebuilt() {
    let s = setup();
    let name = kappa::job_name(s.w.name(), 1);
    let kinds = [
        ("part", PathBuf::from(format!("tables/{}/part-0", name))),
        (
            "redb store",
            PathBuf::from(format!("state/{name}/task-0.redb")),
        ),
        (
            "alias",
            PathBuf::from(format!("tables/{}.alias", s.w.name())),
        ),
    ];
    assert!(s.pristine.join(&kinds[1].1).is_file(), "{:?}", kinds[1].1);
    let store_flips = value_positions(&s.pristine.join(&kinds[1].1));
    let mut rows = Vec::new();
    let mut detected = 0;
    for (kind, rel) in &kinds {
        for how in [Damage::Flip, Damage::Cut, Damage::Zeros, Damage::Delete] {
            let what = format!("{kind} {how:?}");
            let kdir = s.copy(&format!("{}-{how:?}", kind.replace(' ', "_")));
            let file = kdir.join(rel);
            let len = std::fs::metadata(&file).unwrap().len() as usize;
            let flips = match *kind {
                "redb store" => store_flips.clone(),
                _ => vec![len / 2],
            };
            damage_at(&file, how, &flips);
            let reader = s.read(&kdir, &what);

            // The job restarts: its damaged files found, reported and rebuilt. Started
            // with checkpoints an hour apart: what is readable once it has caught up was
            // rewritten when its tasks opened.
            let before = warnings(&file.display().to_string());
            let job = s.fx.job(
                &s.log,
                &s.w,
                JobConfig {
                    checkpoint_interval: Duration::from_secs(3600),
                    ..config(&s.fx, &kdir)
                },
            );
            let running = job.start().unwrap();
            assert!(running.wait_caught_up(Duration::from_secs(120)).unwrap());
            let at_open = s.read(&kdir, &what);
            let report = running.stop().unwrap();
            let warned = warnings(&file.display().to_string()) > before;
            let r0 = &report.restores[0];
            let reported = !r0.damage.is_empty();
            let after = s.read(&kdir, &what);
            assert_eq!(after, "the table", "{what}: rebuilt");
            if *kind == "redb store" {
                assert_eq!(r0.source, RestoreSource::Changelog, "{what}: {r0:?}");
                assert_eq!(reported, how != Damage::Delete, "{what}: {r0:?}");
                assert_eq!(warned, reported, "{what}");
            }
            if *kind == "part" && reader.contains("error") {
                assert!(reported && warned, "{what}: {r0:?}");
                assert_eq!(at_open, "the table", "{what}: rewritten at open");
            }
            if *kind == "alias" {
                assert!(reader.contains("error"), "{what}: {reader}");
                assert_eq!(warned, how != Damage::Delete, "{what}");
            }
            let seen = reader.contains("error") || reported || warned;
            detected += usize::from(seen);
            rows.push(format!(
                "{kind} × {how:?}: reader {reader}; restart: damage reported {reported}, \
                 warned {warned}, source {:?}; served after: {after}",
                r0.source
            ));
        }
    }
    // A damaged alias with another version beside this one: not the job's to guess which
    // serves. It runs on, warns, and readers keep getting the error.
    let kdir = s.copy("alias-two-versions");
    std::fs::create_dir_all(kappa::version_dir(&kdir, s.w.name(), 2)).unwrap();
    let alias = kdir.join(&kinds[2].1);
    damage(&alias, Damage::Zeros);
    let before = warnings(&alias.display().to_string());
    s.fx.job(&s.log, &s.w, config(&s.fx, &kdir))
        .run_until_caught_up()
        .unwrap();
    assert!(warnings(&alias.display().to_string()) > before);
    assert!(matches!(
        kappa::load_serving(&kdir, s.w.name()),
        Err(KappaError::Corrupt { .. })
    ));
    kappa::set_serving(&kdir, s.w.name(), 1).unwrap();
    assert!(same_result(
        &kappa::load_serving(&kdir, s.w.name()).unwrap(),
        &s.reference
    ));

    for r in &rows {
        println!("{r}");
    }
    println!("{} cases, {detected} detected", rows.len());
    // Not seen: a part file cut inside its deltas (a torn write: read as of an earlier
    // one), a part file deleted (its partition reads as not begun), a deleted store (a
    // new host's): each served consistently and rebuilt.
    assert_eq!(rows.len(), 12);
    assert!(detected >= 9, "{detected}");
}
