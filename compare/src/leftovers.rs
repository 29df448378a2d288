//! What a comparison leaves on its log, so that it can be removed afterwards (`lk
//! compare` does, unless `--keep`):
//!
//! ```text
//!   compare.<dataset>                      the generated topic (Source::Generate only)
//!   kappa.<ns>.<W>.v1|v2.changelog|late    the live Kappa jobs' topics
//!   kappa.<ns>.reprocess<R>.<W>.v2.…       each reprocessing run's (retired as it ends)
//! ```
//!
//! `<ns>` is the harness' namespace over the topic (`compare.<topic>`). An existing topic
//! the comparison reads (`Source::Topic`) is never among them. The Kappa jobs' consumer
//! groups keep their committed offsets: the log has no call to delete a group.

use master_log::{Log, LogError};

use crate::Result;
use crate::options::{CompareOptions, Source};
use crate::run::{generated_topic, namespace_of, resolve_workloads};

/// A topic removed from the log, with what it held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedTopic {
    /// Its name.
    pub name: String,
    /// Its records (latest minus earliest offset, over its partitions).
    pub records: u64,
    /// Bytes of its segment files (0 on a Kafka cluster, which does not tell).
    pub bytes: u64,
}

/// The names of every topic the comparison `opts` may create on its log, whether it
/// exists or not.
pub fn created_topics(opts: &CompareOptions) -> Result<Vec<String>> {
    let (dataset, topic) = match &opts.source {
        Source::Generate(d) => (Some(*d), generated_topic(opts, *d)),
        Source::Topic(t) => (None, t.clone()),
    };
    let ns = namespace_of(&topic);
    let mut names = Vec::new();
    if dataset.is_some() {
        names.push(topic.clone());
    }
    let namespaces = std::iter::once(ns.clone())
        .chain((0..opts.reprocess_runs).map(|run| format!("{ns}.reprocess{run}")));
    let workloads = resolve_workloads(opts, dataset)?;
    for space in namespaces {
        for w in &workloads {
            for version in [1, 2] {
                let job = format!("{space}.{}", kappa::job_name(w.name(), version));
                names.push(kappa::changelog_topic(&job));
                names.push(kappa::late_topic(&job));
            }
        }
    }
    // Never the topic a comparison over an existing topic reads.
    if let Source::Topic(t) = &opts.source {
        names.retain(|n| n != t);
    }
    Ok(names)
}

/// Delete from `log` the topics the comparison `opts` created ([`created_topics`] that
/// exist); what each held.
pub fn remove_created_topics(log: &dyn Log, opts: &CompareOptions) -> Result<Vec<RemovedTopic>> {
    let wanted = created_topics(opts)?;
    let mut removed = Vec::new();
    for t in log.list_topics()? {
        if t.internal || !wanted.contains(&t.name) {
            continue;
        }
        let (records, bytes) = match log.describe_topic(&t.name) {
            Ok(d) => d.partitions.iter().fold((0, 0), |(r, b), p| {
                (r + p.latest.saturating_sub(p.earliest), b + p.bytes)
            }),
            Err(LogError::UnknownTopic(_)) => continue,
            Err(e) => return Err(e.into()),
        };
        match log.delete_topic(&t.name) {
            Ok(()) => {}
            Err(LogError::UnknownTopic(_)) => continue,
            Err(e) => return Err(e.into()),
        }
        removed.push(RemovedTopic {
            name: t.name,
            records,
            bytes,
        });
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datasets::DatasetKind;
    use workloads::{BuiltIn, Workload};

    #[test]
    fn a_generated_run_creates_its_topic_and_kappa_topics_but_never_reads_a_users() {
        let mut o = CompareOptions::new("w", "s");
        o.source = Source::Generate(DatasetKind::Ysb);
        o.reprocess_runs = 2;
        let names = created_topics(&o).unwrap();
        assert!(names.contains(&"compare.ysb".to_owned()));
        assert!(names.contains(&"kappa.compare.ysb.ysb-campaign-10s.v1.changelog".to_owned()));
        assert!(
            names.contains(&"kappa.compare.ysb.reprocess1.ysb-campaign-10s.v2.late".to_owned())
        );
        o.source = Source::Topic("clicks".into());
        o.workloads = vec![Workload::BuiltIn(BuiltIn::ALL[0])];
        let names = created_topics(&o).unwrap();
        assert!(!names.contains(&"clicks".to_owned()), "{names:?}");
        assert!(names.iter().all(|n| n.starts_with("kappa.compare.clicks.")));
    }
}
