//! `lk tour`: every step runs to the end on the embedded log and the tour exits 0; every
//! step it lists has its section in docs/tour.md; bad requests are refused.

mod common;

use common::{lk, stdout_of};
use tempfile::TempDir;

/// `lk tour --list`: (number, title) of every step.
fn steps(dir: &TempDir) -> Vec<(usize, String)> {
    stdout_of(lk(dir).args(["tour", "--list"]))
        .lines()
        .map(|l| {
            let (n, rest) = l.trim().split_once(". ").expect("a numbered step");
            let title = rest.trim().split_once(' ').expect("a slug and a title").1;
            (n.parse().unwrap(), title.trim().to_owned())
        })
        .collect()
}

#[test]
fn the_quick_tour_runs_every_step_to_the_end() {
    let dir = TempDir::new().unwrap();
    let steps = steps(&dir);
    assert!(steps.len() >= 10, "{steps:?}");
    let out = lk(&dir)
        .args(["tour", "--quick"])
        .env_remove("LK_KAFKA_BROKERS")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (n, title) in &steps {
        assert!(
            stdout.contains(&format!("Step {n} of {}: {title}", steps.len())),
            "step {n} in\n{stdout}"
        );
    }
    assert_eq!(
        stdout.matches("(step took").count(),
        steps.len(),
        "every step ran to its end:\n{stdout}"
    );
    assert!(stdout.contains(&format!("The tour ran {} steps", steps.len())));
    // Without a broker the Kafka step says why it did nothing.
    assert!(
        stdout.contains("skipped: no Kafka broker named"),
        "{stdout}"
    );
    // Figures measured, not just words.
    for figure in ["records/s", "lost: 0", "exactly once", "0 differ"] {
        assert!(stdout.contains(figure), "{figure} in\n{stdout}");
    }
    // --data given: the steps' directories are kept for inspection.
    assert!(dir.path().join("01-the-log").join(".lk-tour").exists());
}

#[test]
fn every_listed_step_has_a_section_in_docs_tour_md() {
    let dir = TempDir::new().unwrap();
    let doc_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/tour.md");
    let doc = std::fs::read_to_string(&doc_path).unwrap();
    for (n, title) in steps(&dir) {
        let heading = format!("\n## {n}. {title}\n");
        let at = doc
            .find(&heading)
            .unwrap_or_else(|| panic!("{} has no section {heading:?}", doc_path.display()));
        // The section holds the step's output, in a code block.
        let section = &doc[at + heading.len()..];
        let section = &section[..section.find("\n## ").unwrap_or(section.len())];
        assert!(section.contains("```text\n"), "step {n} shows no output");
        assert!(
            section.contains("*This step took "),
            "step {n} did not finish"
        );
    }
}

#[test]
fn bad_requests_are_refused() {
    let dir = TempDir::new().unwrap();
    let out = lk(&dir).args(["tour", "--step", "99"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the tour has steps 1 to"));
    // A directory the tour did not make is never emptied.
    std::fs::create_dir(dir.path().join("01-the-log")).unwrap();
    std::fs::write(dir.path().join("01-the-log").join("mine.txt"), "keep me").unwrap();
    let out = lk(&dir)
        .args(["tour", "--quick", "--step", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("was not made by `lk tour`"));
    assert!(dir.path().join("01-the-log").join("mine.txt").exists());
}
