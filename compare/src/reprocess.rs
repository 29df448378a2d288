//! Reprocessing the whole history with each pipeline, `--reprocess-runs` times from
//! fresh state, and its figures: every phase's median and range over the runs, and the
//! rates of the history read. What each phase covers is stated in [`crate::report`];
//! how each pipeline is driven, in [`crate::pipelines::reprocess`].

use master_log::Log;

use crate::Result;
use crate::pipelines::{self, Architecture, Phases, Setup};
use crate::report::Reprocess;
use crate::summary::stat;

/// Per pipeline (in the order given), per workload (in the run's order), per run: the
/// phases.
pub(crate) type Timings = Vec<Vec<Vec<Phases>>>;

/// Recompute the whole history of every workload with each pipeline of `archs`, each
/// `setup.opts.reprocess_runs` times from fresh state. The pipelines take turns, the
/// one that goes first alternating from run to run, so that neither always runs right
/// after the other's writes.
pub(crate) fn run_all(setup: &Setup, archs: &[Architecture]) -> Result<Timings> {
    let mut out = vec![vec![Vec::new(); setup.workloads.len()]; archs.len()];
    for run in 0..setup.opts.reprocess_runs {
        for (w, workload) in setup.workloads.iter().enumerate() {
            let mut order: Vec<usize> = (0..archs.len()).collect();
            if run % 2 == 1 {
                order.reverse();
            }
            for i in order {
                out[i][w].push(pipelines::reprocess(archs[i], setup, workload, run)?);
            }
        }
    }
    Ok(out)
}

/// What one reprocessing of one workload reads: the whole topic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct History {
    /// Its records.
    pub records: u64,
    /// Its partitions' size on disk; `None` where the log cannot tell (Kafka).
    pub bytes: Option<u64>,
}

/// The history of `topic`, of `records` records.
pub(crate) fn history(log: &dyn Log, topic: &str, records: u64) -> Result<History> {
    let bytes: u64 = log
        .describe_topic(topic)?
        .partitions
        .iter()
        .map(|p| p.bytes)
        .sum();
    Ok(History {
        records,
        bytes: (bytes > 0).then_some(bytes),
    })
}

/// The figures of one pipeline's reprocessing of several workloads (per workload, per
/// run): a run's phases are the sum of its workloads', each of which read `history`.
/// `None` when nothing was run.
pub(crate) fn figures(
    per_workload: &[Vec<Phases>],
    history: History,
    durability: &str,
) -> Option<Reprocess> {
    let runs = per_workload.iter().map(Vec::len).min().unwrap_or(0);
    if runs == 0 {
        return None;
    }
    let pooled: Vec<Phases> = (0..runs)
        .map(|r| {
            per_workload.iter().fold(Phases::default(), |a, w| Phases {
                setup: a.setup + w[r].setup,
                process: a.process + w[r].process,
                publish: a.publish + w[r].publish,
            })
        })
        .collect();
    let of = |f: fn(&Phases) -> f64| stat(pooled.iter().map(f).collect());
    let (setup, process, publish, total) = (
        of(|p| p.setup)?,
        of(|p| p.process)?,
        of(|p| p.publish)?,
        of(Phases::total)?,
    );
    let n = per_workload.len() as u64;
    let records = history.records * n;
    let bytes = history.bytes.map(|b| b * n);
    let per_s = |amount: f64, secs: f64| (secs > 0.0).then(|| amount / secs);
    let mb = bytes.map(|b| b as f64 / 1e6);
    Some(Reprocess {
        runs: runs as u32,
        durability: durability.to_owned(),
        process_eps: per_s(records as f64, process.median),
        process_mb_s: mb.and_then(|m| per_s(m, process.median)),
        total_eps: per_s(records as f64, total.median),
        total_mb_s: mb.and_then(|m| per_s(m, total.median)),
        setup,
        process,
        publish,
        total,
        records,
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ph(setup: f64, process: f64, publish: f64) -> Phases {
        Phases {
            setup,
            process,
            publish,
        }
    }

    fn history() -> History {
        History {
            records: 1_000,
            bytes: Some(2_000_000),
        }
    }

    #[test]
    fn phases_sum_to_the_total_in_every_run() {
        // Two workloads, three runs each.
        let w1 = vec![ph(0.5, 2.0, 0.25), ph(0.5, 3.0, 0.5), ph(1.0, 1.0, 0.25)];
        let w2 = vec![ph(0.25, 1.0, 0.25), ph(0.25, 1.0, 0.5), ph(0.5, 1.0, 0.25)];
        let r = figures(&[w1, w2], history(), "synced").unwrap();
        assert_eq!(r.runs, 3);
        for i in 0..3 {
            let sum = r.setup.values[i] + r.process.values[i] + r.publish.values[i];
            assert!((sum - r.total.values[i]).abs() < 1e-12, "run {i}");
        }
        assert_eq!(r.total.values, vec![4.25, 5.75, 4.0]);
        assert_eq!(r.process.values, vec![3.0, 4.0, 2.0]);
        assert_eq!(
            (r.total.median, r.total.min, r.total.max),
            (4.25, 4.0, 5.75)
        );
        assert_eq!(r.setup.median, 0.75);
        // Both workloads read the whole history: twice the records and bytes.
        assert_eq!(r.records, 2_000);
        assert_eq!(r.bytes, Some(4_000_000));
        assert_eq!(r.process_eps, Some(2_000.0 / 3.0));
        assert_eq!(r.process_mb_s, Some(4.0 / 3.0));
        assert_eq!(r.total_eps, Some(2_000.0 / 4.25));
        assert_eq!(r.durability, "synced");
    }

    #[test]
    fn runs_count_what_every_workload_ran() {
        let r = figures(
            &[vec![ph(1.0, 1.0, 1.0); 4], vec![ph(1.0, 1.0, 1.0); 3]],
            history(),
            "synced",
        )
        .unwrap();
        assert_eq!(r.runs, 3);
        assert_eq!(r.total.values, vec![6.0; 3]);
        assert!(figures(&[], history(), "synced").is_none());
        assert!(figures(&[Vec::new()], history(), "synced").is_none());
    }

    #[test]
    fn rates_without_a_size_or_a_time_are_not_measured() {
        let h = History {
            records: 10,
            bytes: None,
        };
        let r = figures(&[vec![ph(0.0, 0.0, 0.0)]], h, "synced").unwrap();
        assert_eq!(r.bytes, None);
        assert_eq!(
            (r.process_eps, r.process_mb_s, r.total_mb_s),
            (None, None, None)
        );
    }
}
