//! Imports and generator runs are atomic: staged, committed with a marker, recovered
//! before the next run; a file already imported is not imported again unless forced.

mod common;

use common::TestLog;
use datasets::{
    DatasetError, DatasetKind, GenerateOptions, ImportOptions, Recovery, TopicContent, import_csv,
    no_progress,
};
use master_log::{Log, TopicConfig};

fn csv(t: &TestLog, name: &str, rows: u64) -> std::path::PathBuf {
    let path = t.dir.path().join(name);
    let mut text = String::from("ts,id,v\n");
    for i in 0..rows {
        text.push_str(&format!("{},{i},{}\n", 1_700_000_000 + i, i * 3));
    }
    std::fs::write(&path, text).unwrap();
    path
}

fn opts(file: &std::path::Path) -> ImportOptions {
    ImportOptions {
        key_column: Some("id".into()),
        time_format: "epoch-s".parse().unwrap(),
        ..ImportOptions::new(file, "t", "ts")
    }
}

fn imports(t: &TestLog) -> usize {
    match datasets::read_sidecar(&t.sidecars(), "t")
        .unwrap()
        .unwrap()
        .content
    {
        TopicContent::Csv { imports, .. } => imports.len(),
        other => panic!("{other:?}"),
    }
}

/// Topics other than the log's own.
fn user_topics(t: &TestLog) -> Vec<String> {
    let mut names: Vec<String> = t
        .log
        .list_topics()
        .unwrap()
        .into_iter()
        .filter(|i| !i.internal)
        .map(|i| i.name)
        .collect();
    names.sort();
    names
}

#[test]
fn a_rerun_of_a_completed_import_is_refused_and_writes_nothing() {
    let t = TestLog::new();
    let a = csv(&t, "a.csv", 1_000);
    let first = import_csv(&t.log, &opts(&a), Some(&t.sidecars()), &mut no_progress).unwrap();
    let identity = first.source.clone().unwrap();
    assert_eq!(identity.bytes, std::fs::metadata(&a).unwrap().len());
    let before = t.dump("t");
    // The same file, and a copy of it under another name: the same rows.
    let copy = t.dir.path().join("copy.csv");
    std::fs::copy(&a, &copy).unwrap();
    for file in [&a, &copy] {
        let err =
            import_csv(&t.log, &opts(file), Some(&t.sidecars()), &mut no_progress).unwrap_err();
        assert!(
            matches!(&err, DatasetError::AlreadyImported { earlier, rows: 1_000, .. } if earlier == &a),
            "{err}"
        );
        assert!(err.to_string().contains("--again"), "{err}");
    }
    assert_eq!(t.dump("t"), before);
    assert_eq!(imports(&t), 1);
    assert_eq!(user_topics(&t), ["t"], "no staging topic is left");
    // Another file is another import.
    let b = csv(&t, "b.csv", 10);
    import_csv(&t.log, &opts(&b), Some(&t.sidecars()), &mut no_progress).unwrap();
    assert_eq!(t.dump("t").len(), 1_010);
}

#[test]
fn a_forced_rerun_appends_the_file_again() {
    let t = TestLog::new();
    let a = csv(&t, "a.csv", 500);
    import_csv(&t.log, &opts(&a), Some(&t.sidecars()), &mut no_progress).unwrap();
    let again = ImportOptions {
        again: true,
        ..opts(&a)
    };
    let s = import_csv(&t.log, &again, Some(&t.sidecars()), &mut no_progress).unwrap();
    assert_eq!(s.accepted, 500);
    assert_eq!(t.dump("t").len(), 1_000);
    assert_eq!(imports(&t), 2);
}

#[test]
fn an_import_after_one_that_never_committed_deletes_its_staging_and_succeeds() {
    let t = TestLog::new();
    let a = csv(&t, "a.csv", 300);
    // What a SIGKILL before the commit leaves: a staging topic with some of the rows.
    let staging = "t.staging-19a2b3c4d5e";
    t.log
        .create_topic(staging, TopicConfig::with_partitions(4))
        .unwrap();
    t.log
        .append(
            staging,
            0,
            &[master_log::NewRecord::value(&b"partial"[..], 0)],
        )
        .unwrap();
    let done = datasets::recover(&t.log, &t.sidecars(), "t").unwrap();
    assert_eq!(
        done,
        [Recovery::Discarded {
            staging: staging.into(),
            records: 1
        }]
    );
    t.log
        .create_topic(staging, TopicConfig::with_partitions(4))
        .unwrap();
    let s = import_csv(&t.log, &opts(&a), Some(&t.sidecars()), &mut no_progress).unwrap();
    assert_eq!(s.accepted, 300);
    assert_eq!(t.dump("t").len(), 300);
    assert_eq!(user_topics(&t), ["t"]);
}

#[test]
fn an_import_that_fails_after_staging_rows_leaves_no_staging_topic_and_no_temporary_file() {
    let t = TestLog::new();
    let a = csv(&t, "a.csv", 50);
    import_csv(&t.log, &opts(&a), Some(&t.sidecars()), &mut no_progress).unwrap();
    // 1,000 good rows are staged, then a bad row goes to a rejects file that cannot be
    // created (its directory would be a regular file): the import fails.
    let b = csv(&t, "b.csv", 1_000);
    let mut text = std::fs::read_to_string(&b).unwrap();
    text.push_str("not-a-time,1,2\n");
    std::fs::write(&b, text).unwrap();
    let skip = ImportOptions {
        on_error: datasets::OnError::Skip,
        rejects: Some(a.join("rejects.csv")),
        ..opts(&b)
    };
    import_csv(&t.log, &skip, Some(&t.sidecars()), &mut no_progress).unwrap_err();
    assert_eq!(user_topics(&t), ["t"], "the staging topic is deleted");
    assert_eq!(t.dump("t").len(), 50, "the target is untouched");
    assert_eq!(imports(&t), 1);
    assert!(
        std::fs::read_dir(t.sidecars()).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .contains(".tmp")),
        "no temporary file is left"
    );
}

#[test]
fn generate_is_staged_and_a_rerun_into_the_full_topic_is_refused() {
    let t = TestLog::new();
    let g = GenerateOptions {
        partitions: 3,
        ..GenerateOptions::new(DatasetKind::Ysb, "ads", 2_000)
    };
    let s = t.generate(&g);
    assert_eq!(t.dump("ads").len() as u64, s.records);
    assert!(s.campaigns_file.as_ref().unwrap().exists());
    assert!(s.sidecar.as_ref().unwrap().exists());
    assert_eq!(
        t.log
            .list_topics()
            .unwrap()
            .iter()
            .filter(|i| !i.internal)
            .count(),
        1
    );
    let err = datasets::generate(&t.log, &g, Some(&t.sidecars()), &mut no_progress).unwrap_err();
    assert!(matches!(err, DatasetError::TopicNotEmpty { .. }), "{err}");
    // Forced (`append`): the events again.
    let appended = GenerateOptions { append: true, ..g };
    t.generate(&appended);
    assert_eq!(t.dump("ads").len() as u64, 2 * s.records);
}
