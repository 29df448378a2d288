//! What one invocation runs, and the report it makes: the comparison `repeat` times
//! (each from fresh state), at each value of a sweep, with each pipeline alone as a
//! control (`--alone`), then the search for each pipeline's sustainable rate
//! (`--find-max-rate`); every figure summarized over the repeats, the warnings and the
//! verdict.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use master_log::Log;

use crate::options::{CompareOptions, Source};
use crate::pipelines::Architecture;
use crate::report::{
    Alone, PipelineReport, Pipelines, Report, SCHEMA_VERSION, Summary, Sweep, SweepPoint,
};
use crate::run::{Code, Counter, Outcome, Progress, once, resolve_workloads};
use crate::summary::{FRESH_GROUP, STABLE_GROUP, summarize};
use crate::{CompareError, Result};

/// The runs at one setting: together, and each pipeline alone (with `--alone`).
#[derive(Debug, Default)]
struct PointRuns {
    together: Vec<Outcome>,
    lambda_alone: Vec<Outcome>,
    kappa_alone: Vec<Outcome>,
}

/// Run a comparison on `log`: every run the options ask for, summarized into one
/// report. `stop` ends the current feed early (Ctrl-C); the runs not started yet are
/// skipped, and the report says what was measured.
pub fn run(
    log: Arc<dyn Log>,
    opts: &CompareOptions,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Report> {
    opts.validate()?;
    let machine = crate::resources::machine();
    let code = code_of(opts)?;
    let points = match &opts.sweep {
        Some(s) => (0..s.values.len())
            .map(|i| {
                opts.at_sweep_value(s, i)
                    .map(|(o, x)| (o, Some((s.values[i].clone(), x))))
            })
            .collect::<Result<Vec<_>>>()?,
        None => vec![(opts.clone(), None)],
    };
    let per_point = opts.repeat * if opts.alone { 3 } else { 1 };
    let mut counter = Counter {
        done: 0,
        planned: per_point * points.len() as u32,
    };
    let mut results = Vec::new();
    for (o, _) in &points {
        match run_point(&log, o, &code, &mut counter, stop, progress) {
            // Ctrl-C before this setting fed anything: report the settings measured.
            Err(CompareError::Interrupted) if !results.is_empty() => break,
            r => results.push(r?),
        }
        if stop.load(Ordering::SeqCst) {
            break;
        }
    }
    let max_rate = match &opts.find_max_rate {
        Some(m) if !stop.load(Ordering::SeqCst) => Some(crate::maxrate::search(
            &log,
            opts,
            m,
            &code,
            &mut counter,
            stop,
            progress,
        )?),
        _ => None,
    };
    let first = results
        .first()
        .and_then(|p| p.together.first())
        .ok_or_else(|| CompareError::Run("no run was made".into()))?;
    let pipelines = pipelines_of(first)?;
    let sweep = opts.sweep.as_ref().map(|s| Sweep {
        name: s.setting.name().to_owned(),
        unit: s.setting.unit().to_owned(),
        points: points
            .iter()
            .zip(&results)
            .filter_map(|((_, value), r)| {
                let (value, x) = value.clone()?;
                Some(SweepPoint {
                    value,
                    x,
                    summary: together_summary(r),
                })
            })
            .collect(),
    });
    let mut report = Report {
        schema_version: SCHEMA_VERSION,
        provenance: crate::provenance::provenance(&points[0].0, first.params.allowed_lateness_ms),
        params: first.params.clone(),
        machine,
        run: first.run.clone(),
        disorder: first.disorder.clone(),
        summary: together_summary(&results[0]),
        alone: opts.alone.then(|| alone_summary(&results[0])),
        sweep,
        max_rate,
        pipelines,
        workloads: first.workloads.clone(),
        batch_runs: first.batch_runs.clone(),
        warnings: Vec::new(),
        verdict: Vec::new(),
    };
    report.run.interrupted = results
        .iter()
        .flat_map(|p| &p.together)
        .any(|o| o.run.interrupted);
    report.warnings = crate::warnings::warnings(&report, counter.done, counter.planned);
    report.verdict = crate::verdict::verdict(&report);
    Ok(report)
}

/// The complexity of the run's workloads, counted once for every run.
fn code_of(opts: &CompareOptions) -> Result<Code> {
    let dataset = match &opts.source {
        Source::Generate(d) => Some(*d),
        Source::Topic(_) => None,
    };
    let workloads = resolve_workloads(opts, dataset)?;
    let per_workload = workloads
        .iter()
        .map(crate::complexity::complexity)
        .collect::<code_metrics::Result<_>>()?;
    let (lambda, kappa) = crate::complexity::complexity_of(&workloads)?;
    Ok(Code {
        lambda,
        kappa,
        per_workload,
    })
}

/// The runs at one setting: `repeat` times both pipelines together, each time followed
/// by each alone with `--alone`.
fn run_point(
    log: &Arc<dyn Log>,
    opts: &CompareOptions,
    code: &Code,
    counter: &mut Counter,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(&Progress),
) -> Result<PointRuns> {
    let mut r = PointRuns::default();
    // Ctrl-C before a run fed anything ends the point with the runs done, if any.
    let interrupted = |e: &CompareError, r: &PointRuns| {
        matches!(e, CompareError::Interrupted) && !r.together.is_empty()
    };
    for _ in 0..opts.repeat {
        let scope = counter.scope(&Architecture::BOTH, "both");
        match once(log.clone(), opts, &scope, code, stop, progress) {
            Ok(o) => r.together.push(o),
            Err(e) if interrupted(&e, &r) => return Ok(r),
            Err(e) => return Err(e),
        }
        if stop.load(Ordering::SeqCst) {
            break;
        }
        if opts.alone {
            for (arch, what) in [
                (Architecture::Lambda, "Lambda alone"),
                (Architecture::Kappa, "Kappa alone"),
            ] {
                let scope = counter.scope(&[arch], what);
                let o = match once(log.clone(), opts, &scope, code, stop, progress) {
                    Ok(o) => o,
                    Err(e) if interrupted(&e, &r) => return Ok(r),
                    Err(e) => return Err(e),
                };
                match arch {
                    Architecture::Lambda => r.lambda_alone.push(o),
                    Architecture::Kappa => r.kappa_alone.push(o),
                }
                if stop.load(Ordering::SeqCst) {
                    return Ok(r);
                }
            }
        }
    }
    Ok(r)
}

/// Both pipelines' reports of a run where both ran.
fn pipelines_of(o: &Outcome) -> Result<Pipelines> {
    let get = |a: Architecture| {
        o.get(a)
            .cloned()
            .ok_or_else(|| CompareError::Run(format!("no {} report", a.name())))
    };
    Ok(Pipelines {
        lambda: get(Architecture::Lambda)?,
        kappa: get(Architecture::Kappa)?,
    })
}

/// Every figure over the runs of both pipelines together.
fn together_summary(r: &PointRuns) -> Summary {
    let pairs: Vec<(&PipelineReport, &PipelineReport)> = r
        .together
        .iter()
        .filter_map(|o| Some((o.get(Architecture::Lambda)?, o.get(Architecture::Kappa)?)))
        .collect();
    summarize(&pairs, |_| true)
}

/// The latency and resource figures of each pipeline alone.
fn alone_summary(r: &PointRuns) -> Alone {
    let pairs: Vec<(&PipelineReport, &PipelineReport)> = r
        .lambda_alone
        .iter()
        .zip(&r.kappa_alone)
        .filter_map(|(l, k)| Some((l.get(Architecture::Lambda)?, k.get(Architecture::Kappa)?)))
        .collect();
    Alone {
        summary: summarize(&pairs, |f| {
            f.group == FRESH_GROUP || f.group == STABLE_GROUP || ALONE_KEYS.contains(&f.key)
        }),
    }
}

/// The resource figures shown alone vs together.
pub(crate) const ALONE_KEYS: [&str; 3] = ["throughput_eps", "cpu_seconds", "peak_heap_bytes"];
