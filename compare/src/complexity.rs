//! Code complexity: the source each pipeline needs for a workload, measured from the
//! project's own files by [`code_metrics`] (lines of code without comments and blanks,
//! functions, cyclomatic complexity; see that crate for exactly what is counted).
//!
//! The sources are embedded with `include_str!`, so a binary measures the code it was
//! built from, and the same build gives the same figures on every run. Every item below
//! is looked up by name: an item renamed or removed in the pipelines' code is an error
//! (and fails this module's tests), never a silent zero.
//!
//! ## What each pipeline needs for a workload
//!
//! A figure is what someone would have to write and maintain to run *this one workload*
//! on the pipeline: its workload-specific code, plus the pipeline's core for windowed
//! aggregation that any workload needs (so the core is in every workload's figure, and
//! the figures of several workloads are not to be added up).
//!
//! **Workload-specific** code is the function written for a built-in (a polars plan),
//! or, in a function that handles every workload in one `match`, *only that workload's
//! arm*: the match-arm filter `[Enum::Variant]` of [`code_metrics::Selector`] measures
//! `builtin [BuiltIn::NexmarkQ7]` as if the function were written for NEXMark Q7 alone.
//! Spec workloads measure the generic spec code paths of the plan (the translation into
//! polars, every aggregate's arm), the same for every spec. The incremental form of a
//! workload (decoding an event, folding it into its cells: `datasets::stream`) is one
//! piece of code that the speed layer and Kappa share, so it is counted for neither.
//!
//! **Lambda** = batch layer + speed layer + the serving layer's merge:
//! - batch layer — reading the log below the horizon into a frame with de-duplication
//!   (`decode.rs`), `recompute_at`, the windowing of the plan (`per_window`), the
//!   conversion of the plan's output into partials (`to_table`, only the partial layouts
//!   the workload uses), and the workload's plan (`plan.rs`);
//! - speed layer — its wrapper of the shared incremental operator (`operator.rs`), the
//!   partition loop that tails the log, de-duplicates and folds (`run_partition`), and
//!   the generations that make the hand-off to the batch view exact (`State`,
//!   `begin_generation_now`, `expire`);
//! - serving layer — merging the batch view with the realtime generations
//!   (`LambdaSnapshot::merged`);
//! - the `lambda` runtime's hand-off — a batch run published together with the expiry
//!   of the generations it covers (`Cycle::run`, `publish`, `LiveViews`).
//!
//! **Kappa** = the stream job: `WindowAggregate` (`new`, `decode`, and
//! `process`/`on_watermark`: late events, de-duplication, folding into every window), the
//! operator model it runs in (`Operator`, `Context`), the task state that is the
//! workload's windowing (`window_state.rs`: cells of open windows, the watermark, closing
//! windows into the output, the de-duplication set, the late-event side output), and the
//! loop that feeds records to the operator and fires the watermark (`Task::process`,
//! `Task::poll`).
//!
//! **Not counted**, in either pipeline:
//! - what both share equally: the master log, the datasets and their codecs, the
//!   `workloads` crate (windows, partials and their merge, `Workload::finish` with top-K and
//!   arg-max, spec parsing), the answer's filtering and rendering in the serving layer;
//! - fault-tolerance and persistence plumbing both would need in production: Kappa's
//!   checkpoints, changelog, state store, restore and output table files; the batch
//!   layer's view store; the speed layer's saved views and the de-duplication seeding on
//!   restart; job and task runtimes (threads, consumer groups, async tasks around the
//!   loops counted above);
//! - tests, and the command-line tools.
//!
//! A type (struct, enum) is counted whole when any of it is needed. `pageviews-per-minute`
//! and `top-pages-hourly` need the same pipeline code — their difference, the ranking,
//! is in the shared `Workload::finish` — and so have the same figures.

use std::cell::RefCell;
use std::rc::Rc;

use code_metrics::{SourceFile, Tally};
use workloads::{BuiltIn, Workload};

use crate::report::Complexity;

/// A source file of the project, embedded at build time.
#[derive(Debug)]
struct Source {
    path: &'static str,
    text: &'static str,
}

macro_rules! source {
    ($path:literal) => {
        Source {
            path: $path,
            text: include_str!(concat!("../../", $path)),
        }
    };
}

const BATCH_LIB: Source = source!("batch_layer/src/lib.rs");
const BATCH_DECODE: Source = source!("batch_layer/src/decode.rs");
const BATCH_PLAN: Source = source!("batch_layer/src/plan.rs");
const SPEED_LIB: Source = source!("speed_layer/src/lib.rs");
const SPEED_OPERATOR: Source = source!("speed_layer/src/operator.rs");
const SERVING_LIB: Source = source!("serving_layer/src/lib.rs");
const LAMBDA_CYCLE: Source = source!("lambda/src/cycle.rs");
const LAMBDA_VIEWS: Source = source!("lambda/src/views.rs");
const KAPPA_OPERATOR: Source = source!("kappa/src/operator.rs");
const KAPPA_WINDOW_STATE: Source = source!("kappa/src/window_state.rs");
const KAPPA_TASK: Source = source!("kappa/src/task.rs");

/// Items of one file.
type Part = (&'static Source, &'static [&'static str]);

/// Lambda's core for windowed aggregation, counted for every workload.
const LAMBDA_CORE: &[Part] = &[
    (&BATCH_LIB, &["BatchView", "recompute_at"]),
    (
        &BATCH_DECODE,
        &[
            "TIME",
            "Kind",
            "impl From for Kind",
            "Events",
            "impl Events",
            "Buf",
            "impl Buf",
            "PartitionRead",
            "read_partition",
            "read_events",
        ],
    ),
    (
        &BATCH_PLAN,
        &[
            "WS",
            "WE",
            "PartCol",
            "Output",
            "per_window",
            "int_of",
            "scalar_of",
        ],
    ),
    (
        &SPEED_OPERATOR,
        &["Operator", "speed_error", "impl Operator"],
    ),
    (
        &SPEED_LIB,
        &[
            "Generation",
            "RealtimeSnapshot",
            "State",
            "le",
            "State::fresh",
            "State::snapshot",
            "State::generation_for",
            "State::expire",
            "Dedup",
            "impl Dedup",
            "Inner::run_partition",
            "blocking",
            "SpeedLayer::begin_generation_now",
            "SpeedLayer::expire",
        ],
    ),
    (
        &SERVING_LIB,
        &[
            "BatchPart",
            "Generation",
            "LambdaSnapshot",
            "LambdaSnapshot::merged",
            "all_le",
            "check_len",
        ],
    ),
    (
        &LAMBDA_CYCLE,
        &["Cycle::worth_running", "Cycle::run", "publish"],
    ),
    (
        &LAMBDA_VIEWS,
        &[
            "LiveViews",
            "LiveViews::publish",
            "LiveViews::snapshot",
            "snapshot_of",
            "generations",
        ],
    ),
];

/// Kappa's core for windowed aggregation, counted for every workload.
const KAPPA_CORE: &[Part] = &[
    (
        &KAPPA_OPERATOR,
        &[
            "Operator",
            "Context",
            "impl Context",
            "WindowAggregate",
            "kappa_error",
            "impl WindowAggregate",
            "impl Operator for WindowAggregate",
        ],
    ),
    (
        &KAPPA_WINDOW_STATE,
        &[
            "SHARDS",
            "LATE_SOURCE_PARTITION",
            "LATE_SOURCE_OFFSET",
            "IdSet",
            "Dedup",
            "Dedup::new",
            "Dedup::first_time",
            "Dedup::advance",
            "Dedup::expire",
            "Cell",
            "WindowState",
            "WindowState::new",
            "WindowState::watermark",
            "WindowState::is_closed",
            "WindowState::observe",
            "WindowState::push_late",
            "WindowState::first_time",
            "WindowState::cell",
            "WindowState::finalize_closed",
            "WindowState::take_finalized",
            "WindowState::open_table",
        ],
    ),
    (&KAPPA_TASK, &["Task::process", "Task::poll"]),
];

/// The code written for one built-in in the batch layer's plans (`plan.rs`): its plan
/// and the helpers only some plans use, and its partial layout (`PartCol::…` in
/// `to_table`).
#[rustfmt::skip]
fn builtin_plan(b: BuiltIn) -> (&'static [&'static str], &'static str) {
    match b {
        BuiltIn::PageviewsPerMinute   => (&["pageviews_count"], "Count"),
        BuiltIn::TopPagesHourly       => (&["pageviews_count"], "Count"),
        BuiltIn::ProfileViewersHourly => (&["profile_viewers", "filtered", "builtin_filter"], "Distinct"),
        BuiltIn::YsbCampaign10s       => (&["ysb_campaign", "filtered", "builtin_filter"], "Count"),
        BuiltIn::NexmarkQ5            => (&["nexmark_q5", "filtered", "builtin_filter"], "Count"),
        BuiltIn::NexmarkQ7            => (&["nexmark_q7", "filtered", "builtin_filter"], "MaxBy"),
    }
}

/// The workload-specific items of each pipeline: (file, selectors) for Lambda, then Kappa.
type Selection = Vec<(&'static Source, Vec<String>)>;

/// The incremental form of every workload (decoding an event and folding it into its
/// cells) is one piece of code both pipelines share (`datasets::stream`), so it is
/// counted for neither: what is left workload-specific is the batch layer's plan, a
/// second implementation of the same query that only Lambda needs.
fn specific(workload: &Workload) -> (Selection, Selection) {
    let owned = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    match workload {
        Workload::BuiltIn(b) => {
            let (items, part_col) = builtin_plan(*b);
            let mut plan = vec![
                "need".to_owned(),
                "run [Workload::BuiltIn]".to_owned(),
                format!("builtin [BuiltIn::{b:?}]"),
                format!("to_table [PartCol::{part_col}]"),
            ];
            plan.extend(owned(items));
            (vec![(&BATCH_PLAN, plan)], Vec::new())
        }
        Workload::Spec(_) => (
            vec![(
                &BATCH_PLAN,
                owned(&[
                    "SID",
                    "TWO_32",
                    "run [Workload::Spec]",
                    "spec",
                    "filter_expr",
                    // Every layout but MaxBy (only NEXMark Q7's arg-max has it).
                    "to_table [PartCol::Count, PartCol::SumInt, PartCol::SumFloat, \
                     PartCol::Min, PartCol::Max, PartCol::Distinct]",
                ]),
            )],
            Vec::new(),
        ),
    }
}

thread_local! {
    /// The embedded files parsed by this thread. Parsing keeps every token's location
    /// in a per-thread table, so each file is parsed once per thread, not once per call.
    static PARSED: RefCell<Vec<(&'static str, Rc<SourceFile>)>> = const { RefCell::new(Vec::new()) };
}

fn parsed(src: &Source) -> code_metrics::Result<Rc<SourceFile>> {
    PARSED.with_borrow_mut(|files| {
        if let Some((_, f)) = files.iter().find(|(p, _)| *p == src.path) {
            return Ok(f.clone());
        }
        let file = Rc::new(SourceFile::parse(src.path, src.text)?);
        files.push((src.path, file.clone()));
        Ok(file)
    })
}

/// Measure a pipeline's core and workload-specific items together (each line and each
/// function once).
fn measure(core: &[Part], specific: Selection) -> code_metrics::Result<Complexity> {
    let mut tally = Tally::new();
    let all = core
        .iter()
        .map(|(src, items)| (*src, items.iter().map(|s| s.to_string()).collect()))
        .chain(specific);
    for (src, items) in all {
        let file = parsed(src)?;
        for item in &items {
            tally.add(&file, item)?;
        }
    }
    let m = tally.metrics();
    Ok(Complexity {
        loc: m.loc,
        functions: m.functions,
        cyclomatic: m.cyclomatic,
        items: tally.items().to_vec(),
    })
}

/// The code complexity of `workload` on each pipeline: (Lambda, Kappa).
pub fn complexity(workload: &Workload) -> code_metrics::Result<(Complexity, Complexity)> {
    let (lambda, kappa) = specific(workload);
    Ok((measure(LAMBDA_CORE, lambda)?, measure(KAPPA_CORE, kappa)?))
}

/// The code each pipeline needs for all of `workloads` together: the union of their
/// items, each line and function once (a function whose arms are selected per workload
/// is measured with the union of those arms).
pub fn complexity_of(workloads: &[Workload]) -> code_metrics::Result<(Complexity, Complexity)> {
    let (mut lambda, mut kappa) = (Selection::new(), Selection::new());
    for w in workloads {
        let (l, k) = specific(w);
        lambda.extend(l);
        kappa.extend(k);
    }
    Ok((
        measure(LAMBDA_CORE, union(lambda))?,
        measure(KAPPA_CORE, union(kappa))?,
    ))
}

/// One selector per item: `f [A]` and `f [B]` become `f [A, B]`; `f` alone wins over any
/// arm filter of `f`.
fn union(selection: Selection) -> Selection {
    use std::collections::{BTreeMap, BTreeSet};
    let mut order: Vec<(&'static Source, String)> = Vec::new();
    let mut arms: BTreeMap<(&'static str, String), Option<BTreeSet<String>>> = BTreeMap::new();
    for (src, items) in selection {
        for item in items {
            let (base, filter) = match item.split_once('[') {
                Some((b, f)) => (
                    b.trim().to_owned(),
                    Some(
                        f.trim_end_matches(']')
                            .split(',')
                            .map(|v| v.trim().to_owned())
                            .collect::<BTreeSet<_>>(),
                    ),
                ),
                None => (item.trim().to_owned(), None),
            };
            let key = (src.path, base.clone());
            match arms.get_mut(&key) {
                None => {
                    order.push((src, base));
                    arms.insert(key, filter);
                }
                Some(existing) => match (existing.as_mut(), filter) {
                    (Some(set), Some(more)) => set.extend(more),
                    (Some(_), None) => *existing = None,
                    (None, _) => {}
                },
            }
        }
    }
    let mut out: Selection = Vec::new();
    for (src, base) in order {
        let item = match &arms[&(src.path, base.clone())] {
            None => base,
            Some(set) => format!(
                "{base} [{}]",
                set.iter().cloned().collect::<Vec<_>>().join(", ")
            ),
        };
        match out.iter_mut().find(|(s, _)| s.path == src.path) {
            Some((_, items)) => items.push(item),
            None => out.push((src, vec![item])),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> anyhow::Result<Workload> {
        let text = "name = \"trips_per_zone\"\ntopic = \"trips\"\n\
                    window = { kind = \"session\", gap = \"5m\" }\n\
                    group_by = [\"zone\"]\naggregates = [\"count\", \"sum(fare)\"]\n";
        Ok(Workload::Spec(workloads::WorkloadSpec::parse(
            text,
            std::path::Path::new("t.toml"),
        )?))
    }

    fn every_workload() -> anyhow::Result<Vec<Workload>> {
        let mut all: Vec<Workload> = BuiltIn::ALL.into_iter().map(Workload::BuiltIn).collect();
        all.push(spec()?);
        Ok(all)
    }

    const SOURCES: [&Source; 11] = [
        &BATCH_LIB,
        &BATCH_DECODE,
        &BATCH_PLAN,
        &SPEED_LIB,
        &SPEED_OPERATOR,
        &SERVING_LIB,
        &LAMBDA_CYCLE,
        &LAMBDA_VIEWS,
        &KAPPA_OPERATOR,
        &KAPPA_WINDOW_STATE,
        &KAPPA_TASK,
    ];

    #[test]
    fn several_workloads_together_count_shared_code_once() -> anyhow::Result<()> {
        let q5 = Workload::BuiltIn(BuiltIn::NexmarkQ5);
        let q7 = Workload::BuiltIn(BuiltIn::NexmarkQ7);
        let (l5, k5) = complexity(&q5)?;
        let (l7, k7) = complexity(&q7)?;
        let (l, k) = complexity_of(&[q5.clone(), q7])?;
        // Lambda: more than either alone (each has its own batch plan), less than the
        // two added (the core is shared).
        assert!(l.loc > l5.loc.max(l7.loc), "{l:?}");
        assert!(l.loc < l5.loc + l7.loc);
        assert!(l.cyclomatic <= l5.cyclomatic + l7.cyclomatic);
        // Kappa: the incremental form of both is the shared decoder, so the job's code is
        // the same for one workload or two.
        assert_eq!((k.loc, k.cyclomatic), (k5.loc, k5.cyclomatic));
        assert_eq!((k.loc, k.cyclomatic), (k7.loc, k7.cyclomatic));
        // One workload alone measures the same as `complexity` (its arm filters may be
        // listed in another order).
        let figures = |(l, k): (Complexity, Complexity)| {
            [l, k].map(|c| (c.loc, c.functions, c.cyclomatic, c.items.len()))
        };
        assert_eq!(
            figures(complexity_of(std::slice::from_ref(&q5))?),
            figures(complexity(&q5)?)
        );
        Ok(())
    }

    #[test]
    fn every_workload_resolves_with_figures_above_zero() -> anyhow::Result<()> {
        for w in every_workload()? {
            let (lambda, kappa) = complexity(&w)?;
            for (pipeline, c) in [("lambda", &lambda), ("kappa", &kappa)] {
                assert!(
                    c.loc > 0 && c.functions > 0 && c.cyclomatic >= c.functions,
                    "{} on {pipeline}: {c:?}",
                    w.name()
                );
                assert!(!c.items.is_empty(), "{} on {pipeline}", w.name());
            }
        }
        Ok(())
    }

    #[test]
    fn figures_are_the_same_on_every_call() -> anyhow::Result<()> {
        for w in every_workload()? {
            assert_eq!(complexity(&w)?, complexity(&w)?, "{}", w.name());
        }
        Ok(())
    }

    #[test]
    fn items_name_real_items_of_the_embedded_files() -> anyhow::Result<()> {
        for w in every_workload()? {
            let (lambda, kappa) = complexity(&w)?;
            for item in lambda.items.iter().chain(&kappa.items) {
                let (path, selector) = item
                    .split_once("::")
                    .ok_or_else(|| anyhow::anyhow!("{item}: not file::item"))?;
                let src = SOURCES
                    .iter()
                    .find(|s| s.path == path)
                    .ok_or_else(|| anyhow::anyhow!("{item}: not an embedded file"))?;
                let m = parsed(src)?.measure(&selector.parse()?)?.metrics();
                assert!(m.loc > 0, "{item} has no code");
            }
            // Lambda is made of the three layers, Kappa of the stream job.
            for layer in ["batch_layer/", "speed_layer/", "serving_layer/"] {
                assert!(lambda.items.iter().any(|i| i.starts_with(layer)), "{layer}");
                assert!(!kappa.items.iter().any(|i| i.starts_with(layer)), "{layer}");
            }
            assert!(kappa.items.iter().all(|i| i.starts_with("kappa/")));
        }
        Ok(())
    }

    #[test]
    fn workload_specific_code_makes_the_difference() -> anyhow::Result<()> {
        let of = |b| complexity(&Workload::BuiltIn(b));
        let figures = |c: &Complexity| (c.loc, c.functions, c.cyclomatic);
        let (pv_l, pv_k) = of(BuiltIn::PageviewsPerMinute)?;
        let (top_l, top_k) = of(BuiltIn::TopPagesHourly)?;
        // The ranking of top-pages-hourly is in the shared `Workload::finish`.
        assert_eq!(figures(&pv_l), figures(&top_l));
        assert_eq!(figures(&pv_k), figures(&top_k));
        // Q7's arg-max needs more than Q5's count in the batch plan; the YSB join more
        // than a plain count.
        let (q5_l, q5_k) = of(BuiltIn::NexmarkQ5)?;
        let (q7_l, _) = of(BuiltIn::NexmarkQ7)?;
        assert!(q7_l.loc > q5_l.loc, "{} vs {}", q7_l.loc, q5_l.loc);
        let (ysb_l, ysb_k) = of(BuiltIn::YsbCampaign10s)?;
        assert!(ysb_l.loc > pv_l.loc);
        assert!(ysb_l.cyclomatic > pv_l.cyclomatic);
        // Only the workload's arm of the plan is counted: Q5 and page views do not carry
        // each other's plan.
        assert!(q5_l.items.iter().any(|i| i.ends_with("nexmark_q5")));
        assert!(!q5_l.items.iter().any(|i| i.contains("pageviews")));
        // The incremental form is the shared decoder: counted for neither pipeline, so
        // Kappa's figure is the same for every workload.
        assert_eq!(figures(&ysb_k), figures(&pv_k));
        assert_eq!(figures(&q5_k), figures(&pv_k));
        for c in [&ysb_l, &ysb_k, &q5_l, &q5_k] {
            assert!(!c.items.iter().any(|i| i.starts_with("datasets/")), "{c:?}");
        }
        // The spec path is the generic one: no built-in's arm.
        let (spec_l, spec_k) = complexity(&spec()?)?;
        assert!(spec_l.items.iter().any(|i| i.ends_with("::spec")));
        assert!(
            !spec_l
                .items
                .iter()
                .chain(&spec_k.items)
                .any(|i| i.contains("BuiltIn"))
        );
        Ok(())
    }
}
