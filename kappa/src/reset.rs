//! Removing a job: one version of it ([`delete_job_version`]) or every version with its
//! serving alias ([`reset_job`]), so that the next run starts from scratch.
//!
//! ```text
//!   <dir>/tables/W.vN/        the version's table        ─┐
//!   <dir>/tables/W.alias      the serving alias (reset)   │ files
//!   <dir>/state/W.vN/         the tasks' local stores    ─┘
//!   kappa.[NS.]W.vN.changelog the changelog topic        ─┐ the log
//!   kappa.[NS.]W.vN.late      the late-events topic       │
//!   kappa.[NS.]W.vN           the group's committed offsets on the input topic
//! ```
//!
//! A version is refused while a job of it runs in another process, as far as that can be
//! seen: a task's redb store is locked by the process that has it open (redb holds an
//! exclusive `flock` on it), and on a Kafka log the group's offsets cannot be committed
//! while the group has members. A job with in-memory stores on the embedded log is not
//! seen (the embedded log's lock keeps a second process out of the data directory anyway).
//!
//! The log has no call to delete a group's committed offsets, so they are moved back to
//! the start of every partition (Kafka's `--reset-offsets --to-earliest`): the next run's
//! group starts from scratch either way, since a job restores its position from its
//! changelog, which is gone.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use master_log::{Log, LogError};
use serde::Serialize;

use crate::config::{JobConfig, changelog_topic, group_name, job_name, late_topic, state_dir};
use crate::error::{KappaError, Result, io_err};
use crate::table;

/// What removing versions of a job removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Removed {
    /// The versions removed, ascending.
    pub versions: Vec<u32>,
    /// Table version directories deleted.
    pub tables: usize,
    /// Local state directories deleted (one per version that had stores here).
    pub state_dirs: usize,
    /// Topics deleted from the log (changelogs and late-events topics).
    pub topics: Vec<String>,
    /// Consumer groups whose committed offsets on the input topic were moved back to the
    /// start.
    pub groups_reset: Vec<String>,
    /// Whether the serving alias was removed.
    pub alias: bool,
}

/// Why nothing was removed, or what was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Removal {
    /// Done.
    Removed(Removed),
    /// A job of a version to remove is running: these of its state stores are open in
    /// another process. Nothing was removed.
    Running {
        /// The running job, `WORKLOAD.vN`.
        job: String,
        /// Its stores that are open.
        stores: Vec<PathBuf>,
    },
}

/// The state stores of job `WORKLOAD.vN` (`job`) under `dir` that a running process holds
/// open (locked), if any.
pub fn open_stores(dir: &Path, job: &str) -> Result<Vec<PathBuf>> {
    let state = state_dir(dir, job);
    let entries = match fs::read_dir(&state) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(format!("list {}", state.display()))(e)),
    };
    let mut open = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "redb") {
            continue;
        }
        let file = match fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err(format!("open {}", path.display()))(e)),
        };
        // redb locks its file exclusively while a database is open on it; our lock (if
        // we get it) goes with `file`.
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => open.push(path),
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(io_err(format!("lock {}", path.display()))(e));
            }
        }
    }
    open.sort();
    Ok(open)
}

/// Every version of `workload` that has something left: a table, local state, or a
/// changelog or late-events topic on `log` (named as `config` names them).
pub fn job_versions(log: &dyn Log, config: &JobConfig, workload: &str) -> Result<Vec<u32>> {
    let mut versions: BTreeSet<u32> = table::list_versions(&config.dir, workload)?
        .into_iter()
        .collect();
    let prefix = format!("{workload}.v");
    let state = config.dir.join("state");
    match fs::read_dir(&state) {
        Ok(entries) => versions.extend(entries.flatten().filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_prefix(&prefix)?.parse::<u32>().ok()
        })),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(format!("list {}", state.display()))(e)),
    }
    // `kappa.[NS.]W.vN.changelog` / `.late`.
    let topic_prefix = format!("kappa.{}", config.log_name(&prefix));
    for t in log.list_topics()? {
        let Some(rest) = t.name.strip_prefix(&topic_prefix) else {
            continue;
        };
        let number = rest
            .strip_suffix(".changelog")
            .or_else(|| rest.strip_suffix(".late"));
        if let Some(v) = number.and_then(|n| n.parse::<u32>().ok()) {
            versions.insert(v);
        }
    }
    Ok(versions.into_iter().collect())
}

/// Delete version `version` of `workload`'s job: its table, its local stores, its
/// changelog and late-events topics, and move its group's committed offsets on
/// `config.topic` back to the start. The serving version is refused (a
/// [`KappaError::Config`]: reprocess into another version first, or [`reset_job`]); so
/// is a version whose job runs ([`Removal::Running`]).
pub fn delete_job_version(
    log: &dyn Log,
    config: &JobConfig,
    workload: &str,
    version: u32,
) -> Result<Removal> {
    if table::serving_version(&config.dir, workload)? == Some(version) {
        return Err(KappaError::Config(format!(
            "{} is the serving version: reprocess into a new version first, or reset the job",
            job_name(workload, version)
        )));
    }
    remove_versions(log, config, workload, &[version], false)
}

/// Reset `workload`'s job: every version's table, local stores, changelog and
/// late-events topics, the serving alias, and the groups' committed offsets (moved back
/// to the start), so that the next run starts from offset 0 with empty state. Refused
/// while a version's job runs ([`Removal::Running`]).
pub fn reset_job(log: &dyn Log, config: &JobConfig, workload: &str) -> Result<Removal> {
    let versions = job_versions(log, config, workload)?;
    remove_versions(log, config, workload, &versions, true)
}

/// Remove `versions` (and the alias, with `alias`), after checking that none runs.
fn remove_versions(
    log: &dyn Log,
    config: &JobConfig,
    workload: &str,
    versions: &[u32],
    alias: bool,
) -> Result<Removal> {
    master_log::validate_name(workload)
        .map_err(|e| KappaError::Config(format!("workload name: {e}")))?;
    for &v in versions {
        let job = job_name(workload, v);
        let stores = open_stores(&config.dir, &job)?;
        if !stores.is_empty() {
            return Ok(Removal::Running { job, stores });
        }
    }
    let mut removed = Removed {
        versions: versions.to_vec(),
        ..Removed::default()
    };
    // First the offsets: on Kafka a group with live members refuses the commit, which
    // stops the removal before anything is deleted.
    for &v in versions {
        let group = group_name(&config.log_name(&job_name(workload, v)));
        if reset_group_offsets(log, &group, &config.topic)? {
            removed.groups_reset.push(group);
        }
    }
    if alias {
        let path = table::tables_dir(&config.dir).join(format!("{workload}.alias"));
        match fs::remove_file(&path) {
            Ok(()) => removed.alias = true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(format!("delete {}", path.display()))(e)),
        }
    }
    for &v in versions {
        remove_version(log, config, workload, v, &mut removed)?;
    }
    Ok(Removal::Removed(removed))
}

/// Delete one version's table, state and topics, counting them in `removed`.
fn remove_version(
    log: &dyn Log,
    config: &JobConfig,
    workload: &str,
    version: u32,
    removed: &mut Removed,
) -> Result<()> {
    let job = job_name(workload, version);
    if table::version_dir(&config.dir, workload, version).exists() {
        table::delete_version(&config.dir, workload, version)?;
        removed.tables += 1;
    }
    let state = state_dir(&config.dir, &job);
    match fs::remove_dir_all(&state) {
        Ok(()) => removed.state_dirs += 1,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(format!("delete {}", state.display()))(e)),
    }
    let on_log = config.log_name(&job);
    for topic in [changelog_topic(&on_log), late_topic(&on_log)] {
        match log.delete_topic(&topic) {
            Ok(()) => removed.topics.push(topic),
            Err(LogError::UnknownTopic(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Move `group`'s committed offsets on `topic` back to each partition's earliest offset.
/// Returns whether it had any (a missing topic has none).
fn reset_group_offsets(log: &dyn Log, group: &str, topic: &str) -> Result<bool> {
    let committed = match log.committed_offsets(group, topic) {
        Ok(c) => c,
        Err(LogError::UnknownTopic(_)) => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    if committed.is_empty() {
        return Ok(false);
    }
    let mut start = Vec::with_capacity(committed.len());
    for &p in committed.keys() {
        start.push((p, log.offsets(topic, p)?.0));
    }
    log.commit_offsets(group, topic, &start)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_held_open_is_seen_and_a_closed_one_is_not() {
        let dir = tempfile::TempDir::new().unwrap();
        let job = job_name("w", 1);
        assert!(open_stores(dir.path(), &job).unwrap().is_empty());
        let path = state_dir(dir.path(), &job).join("task-0.redb");
        let store = crate::state::RedbStore::open(&path).unwrap();
        assert_eq!(open_stores(dir.path(), &job).unwrap(), vec![path]);
        drop(store);
        assert!(open_stores(dir.path(), &job).unwrap().is_empty());
    }
}
