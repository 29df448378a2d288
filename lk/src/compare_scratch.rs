//! Where `lk compare` works: a scratch directory inside `--data`, removed when the
//! comparison ends — also when it fails or is interrupted — unless `--keep`.
//!
//! ```text
//!   --log embedded, generated data     --topic T, or --log kafka://…
//!   <data>/compare-<pid>/              <data>/compare-<pid>/
//!     topics/compare.<dataset>/…         compare/   the pipelines' views, Kappa's state
//!     compare/  views, Kappa's state     datasets/  sidecars of generated data (Kafka)
//!     datasets/ the YSB campaign table  on the log (user's --data, or the cluster):
//!   (a log of its own: nothing of the     compare.<dataset> (Kafka), Kappa's changelog
//!   run touches <data>'s log)             and late-events topics: deleted at the end
//! ```
//!
//! A topic the comparison reads (`--topic T`) is never deleted. The Kappa jobs' consumer
//! groups keep their committed offsets on a shared log (it has no call to delete a
//! group). A scratch directory holds a marker file, locked while its run lasts: a later
//! `lk compare` removes the directories of runs that were killed (a lock nobody holds).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use compare::CompareOptions;
use compare::format::{bytes, count};
use master_log::Log;

/// The marker of a scratch directory, locked while its run lasts.
const MARKER: &str = ".lk-compare";

/// A run's scratch directory and what it created on a shared log; removed on drop
/// unless kept.
pub struct Scratch {
    dir: PathBuf,
    /// Locked while the run lasts (see the module docs).
    marker: Option<File>,
    keep: bool,
    /// The log the run's topics are on, when it is not inside `dir`.
    shared: Option<Arc<dyn Log>>,
    /// The run's options (what it created on `shared`), once known.
    opts: Option<CompareOptions>,
    /// `--data` did not exist before the run (removed again if left empty).
    made_data: Option<PathBuf>,
    finished: bool,
}

impl Scratch {
    /// A new scratch directory in `data`, after removing those of killed runs.
    pub fn create(data: &Path, keep: bool) -> anyhow::Result<Scratch> {
        let made_data = (!data.exists()).then(|| data.to_path_buf());
        remove_abandoned(data);
        let dir = data.join(format!("compare-{}", std::process::id()));
        if dir.exists() {
            // A killed run of a process with this pid: nobody else can use the name.
            std::fs::remove_dir_all(&dir).with_context(|| format!("clear {}", dir.display()))?;
        }
        std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
        let path = dir.join(MARKER);
        let marker = File::create(&path).with_context(|| format!("create {}", path.display()))?;
        marker
            .try_lock()
            .map_err(|e| anyhow::anyhow!("lock {}: {e}", path.display()))?;
        Ok(Scratch {
            dir,
            marker: Some(marker),
            keep,
            shared: None,
            opts: None,
            made_data,
            finished: false,
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The run works on `log`, outside the scratch directory, with `opts`: what it
    /// creates there is deleted at the end too.
    pub fn track(&mut self, log: Option<Arc<dyn Log>>, opts: &CompareOptions) {
        self.shared = log;
        self.opts = Some(opts.clone());
    }

    /// End the run: remove what it made (or keep it) and say so in one line.
    pub fn finish(mut self) -> anyhow::Result<String> {
        self.finished = true;
        let size = dir_bytes(&self.dir);
        if self.keep {
            return Ok(self.kept(size));
        }
        let topics = self.remove_topics()?;
        self.remove_dir()?;
        let mut line = format!(
            "removed the comparison's data: {} in {}",
            bytes(size),
            self.dir.display()
        );
        if !topics.is_empty() {
            let records: u64 = topics.iter().map(|t| t.records).sum();
            let on_disk: u64 = topics.iter().map(|t| t.bytes).sum();
            line.push_str(&format!(
                ", and {} topic(s) from the log ({} records{})",
                topics.len(),
                count(records),
                if on_disk > 0 {
                    format!(", {}", bytes(on_disk))
                } else {
                    String::new()
                }
            ));
        }
        line.push_str(" (--keep would keep it)");
        Ok(line)
    }

    /// The line of a kept run; its marker goes, so that no later run removes it.
    fn kept(&mut self, size: u64) -> String {
        self.marker = None;
        let _ = std::fs::remove_file(self.dir.join(MARKER));
        let mut line = format!(
            "kept the comparison's data: {} in {}",
            bytes(size),
            self.dir.display()
        );
        if self.shared.is_none() {
            line.push_str(&format!(
                " (a data directory of its own: lk --data {} topic list)",
                self.dir.display()
            ));
        } else if let Some(opts) = &self.opts
            && let (Some(log), Ok(names)) = (&self.shared, compare::leftovers::created_topics(opts))
        {
            let on_log: Vec<String> = log
                .list_topics()
                .map(|ts| {
                    ts.into_iter()
                        .filter(|t| names.contains(&t.name))
                        .map(|t| t.name)
                        .collect()
                })
                .unwrap_or_default();
            if !on_log.is_empty() {
                line.push_str(&format!("; its topics on the log: {}", on_log.join(", ")));
            }
        }
        line
    }

    fn remove_topics(&self) -> anyhow::Result<Vec<compare::leftovers::RemovedTopic>> {
        match (&self.shared, &self.opts) {
            (Some(log), Some(opts)) => {
                compare::leftovers::remove_created_topics(log.as_ref(), opts)
                    .context("delete the comparison's topics")
            }
            _ => Ok(Vec::new()),
        }
    }

    fn remove_dir(&mut self) -> anyhow::Result<()> {
        self.marker = None;
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("remove {}", self.dir.display())),
        }
        if let Some(data) = &self.made_data {
            // Only if nothing else was put there meanwhile.
            let _ = std::fs::remove_dir(data);
        }
        Ok(())
    }
}

impl Drop for Scratch {
    /// A run that failed or panicked: remove what it made all the same (or say where it
    /// is, with `--keep`).
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        if self.keep {
            let size = dir_bytes(&self.dir);
            eprintln!("lk: {}", self.kept(size));
            return;
        }
        let size = dir_bytes(&self.dir);
        let topics = self.remove_topics();
        let dir = self.remove_dir();
        match (topics, dir) {
            // Nothing was made yet (options refused before the run): nothing to say.
            (Ok(t), Ok(())) if t.is_empty() && size == 0 => {}
            (Ok(t), Ok(())) => eprintln!(
                "lk: removed the comparison's data: {} in {}{}",
                bytes(size),
                self.dir.display(),
                if t.is_empty() {
                    String::new()
                } else {
                    format!(", and {} topic(s) from the log", t.len())
                }
            ),
            (Err(e), _) | (_, Err(e)) => eprintln!(
                "lk: could not remove all of the comparison's data ({}): {}",
                self.dir.display(),
                master_log::error_chain(e.as_ref())
            ),
        }
    }
}

/// Remove the scratch directories of runs that ended without removing theirs (killed):
/// those whose marker nobody holds locked. Best effort, said on stderr.
fn remove_abandoned(data: &Path) {
    let Ok(entries) = std::fs::read_dir(data) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix("compare-")) else {
            continue;
        };
        if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let dir = entry.path();
        let Ok(marker) = File::open(dir.join(MARKER)) else {
            continue; // kept (--keep), or not ours
        };
        if marker.try_lock().is_err() {
            continue; // its run is still going
        }
        let size = dir_bytes(&dir);
        drop(marker);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => eprintln!(
                "lk: removed {} ({}), left by an `lk compare` that did not finish",
                dir.display(),
                bytes(size)
            ),
            Err(e) => eprintln!("lk: could not remove {}: {e}", dir.display()),
        }
    }
}

/// The bytes of the files under `dir` (0 for what cannot be read).
fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_killed_runs_directory_goes_a_running_or_kept_one_stays() {
        let data = tempfile::TempDir::new().unwrap();
        let d = data.path();
        let running = Scratch::create(d, false).unwrap();
        let killed = d.join("compare-1");
        let kept = d.join("compare-2");
        let other = d.join("compare-notes");
        for dir in [&killed, &kept, &other] {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(dir.join("x"), "data").unwrap();
        }
        std::fs::write(killed.join(MARKER), "").unwrap();
        std::fs::write(other.join(MARKER), "").unwrap();
        remove_abandoned(d);
        assert!(!killed.exists());
        assert!(kept.exists() && other.exists() && running.dir().exists());
        let line = running.finish().unwrap();
        assert!(line.starts_with("removed the comparison's data"), "{line}");
        assert!(!d.join(format!("compare-{}", std::process::id())).exists());
    }
}
