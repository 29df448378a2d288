//! Code complexity: the code each pipeline is made of, found by one rule from the
//! project's own sources and measured by [`code_metrics`] (lines of code without comments
//! and blanks, functions, cyclomatic and cognitive complexity; that crate says exactly
//! what is counted and how its call graph is followed).
//!
//! The workspace's sources (the root `Cargo.toml`, each member's `Cargo.toml` and
//! `src/**/*.rs`) are embedded at build time by `build.rs`, so a binary measures the
//! code it was built from and the same build gives the same figures on every run.
//!
//! ## The rule
//! 1. **Entry points**: the public API of each pipeline's crate — [`LAMBDA_CRATE`]
//!    (`lambda`: `Lambda::new`, `start`, `run_until_caught_up`, `follow`, `RunningLambda`'s
//!    methods, `LiveViews::snapshot`/`table`, `recompute`, `recompute_and_publish`,
//!    `worker::run`, …) and [`KAPPA_CRATE`] (`kappa`: `Job::new`, `start`,
//!    `run_until_caught_up`, `RunningJob`'s methods, `Job::table`, `load_serving`,
//!    `reprocess`, `retire`, …): every `pub` item of the crate root and its `pub mod`s,
//!    what they `pub use`, the `pub` methods of those types and the default methods of
//!    those traits. Nothing is picked by hand.
//! 2. **Reach**: from there, the call graph through the pipeline's crate and the
//!    workspace crates it depends on (Lambda: `batch_layer`, `speed_layer`,
//!    `serving_layer`, `datasets`, `workloads`, `master_log`; Kappa: `datasets`,
//!    `workloads`, `master_log`): paths resolved through modules and `use`s, method calls
//!    by the receiver's type where a small inference knows it, trait methods to every
//!    impl in scope, otherwise by method name within the calling crate and its
//!    dependencies; a type brings its trait impls. [`code_metrics`]'s crate docs list what
//!    the resolver does and does not do; its errors are on the side of reaching too much.
//! 3. **Charge**: an item reached by one pipeline only is charged to it; an item reached
//!    by both (the log, workloads, datasets with the shared stream decoder, …) is
//!    **shared** and charged to neither. No list of items, included or excluded, is
//!    written anywhere. `#[cfg(test)]` code, `#[test]` functions and `tests/` are never
//!    read.
//!
//! Each item counts once; a line belongs to one item (a method's lines to the method,
//! the rest of its `impl` block to the block), so a pipeline's figures are the sums over
//! its items, and Lambda + Kappa + shared is all the code either reaches.
//!
//! ## Per workload
//! The reachable code does not depend on the workload: a function that handles every
//! workload in one `match` is reached whole, with the arms of the other workloads. So
//! [`complexity`] gives every workload the pipeline's figures (and lists no items: they
//! are listed once, by [`complexity_of`]).

use std::collections::BTreeSet;

use code_metrics::{ItemId, Metrics, Workspace};
use parking_lot::Mutex;
use workloads::Workload;

use crate::report::{CodeItem, Complexity, SharedCode};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/sources.rs"));
}

/// The crate of the Lambda pipeline.
pub const LAMBDA_CRATE: &str = "lambda";
/// The crate of the Kappa pipeline.
pub const KAPPA_CRATE: &str = "kappa";

/// The code of two pipelines, charged by the rule of this module.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// Reached by the first pipeline only (`shared` left `None`).
    pub lambda: Complexity,
    /// Reached by the second pipeline only (`shared` left `None`).
    pub kappa: Complexity,
    /// Reached by both.
    pub shared: SharedCode,
}

fn record(ws: &Workspace, id: ItemId) -> CodeItem {
    let i = ws.item(id);
    CodeItem {
        name: i.name.clone(),
        kind: i.kind.as_str().to_owned(),
        file: i.file.clone(),
        first_line: i.lines.0 as u64,
        last_line: i.lines.1 as u64,
        loc: i.metrics.loc,
        functions: i.metrics.functions,
        cyclomatic: i.metrics.cyclomatic,
        cognitive: i.metrics.cognitive,
    }
}

/// The records of `ids`, by file and line, and their summed figures.
fn records(ws: &Workspace, ids: &BTreeSet<ItemId>) -> (Vec<CodeItem>, Metrics) {
    let mut items: Vec<CodeItem> = ids.iter().map(|id| record(ws, *id)).collect();
    items.sort_by(|a, b| (&a.file, a.first_line, &a.name).cmp(&(&b.file, b.first_line, &b.name)));
    let total = ids.iter().map(|id| ws.item(*id).metrics).sum();
    (items, total)
}

fn charged(ws: &Workspace, ids: &BTreeSet<ItemId>) -> Complexity {
    let (items, m) = records(ws, ids);
    Complexity {
        loc: m.loc,
        functions: m.functions,
        cyclomatic: m.cyclomatic,
        cognitive: m.cognitive,
        items,
        shared: None,
    }
}

/// Split the code of the pipelines whose crates are `first` and `second` in the
/// workspace `files` ((path from the workspace root, text) pairs: see
/// [`Workspace::load`]).
pub fn split<'a>(
    files: impl IntoIterator<Item = (&'a str, &'a str)>,
    first: &str,
    second: &str,
) -> code_metrics::Result<Split> {
    let ws = Workspace::load(files, &[first, second])?;
    let a = ws.reach(first)?;
    let b = ws.reach(second)?;
    let only_a: BTreeSet<ItemId> = a.difference(&b).copied().collect();
    let only_b: BTreeSet<ItemId> = b.difference(&a).copied().collect();
    let both: BTreeSet<ItemId> = a.intersection(&b).copied().collect();
    let (items, m) = records(&ws, &both);
    Ok(Split {
        lambda: charged(&ws, &only_a),
        kappa: charged(&ws, &only_b),
        shared: SharedCode {
            loc: m.loc,
            functions: m.functions,
            cyclomatic: m.cyclomatic,
            cognitive: m.cognitive,
            items,
        },
    })
}

/// The split of this build's own sources (measured once per process; callers meanwhile
/// wait for it rather than measure it again).
fn measured() -> code_metrics::Result<Split> {
    static SPLIT: Mutex<Option<Split>> = Mutex::new(None);
    let mut cached = SPLIT.lock();
    if let Some(s) = cached.as_ref() {
        return Ok(s.clone());
    }
    let s = split(embedded::SOURCES.iter().copied(), LAMBDA_CRATE, KAPPA_CRATE)?;
    *cached = Some(s.clone());
    Ok(s)
}

/// The code each pipeline is charged with, (Lambda, Kappa), each with its items and the
/// shared code. It is the same for any set of workloads (see the module docs).
pub fn complexity_of(_workloads: &[Workload]) -> code_metrics::Result<(Complexity, Complexity)> {
    let s = measured()?;
    let with_shared = |c: Complexity| Complexity {
        shared: Some(s.shared.clone()),
        ..c
    };
    Ok((with_shared(s.lambda.clone()), with_shared(s.kappa.clone())))
}

/// The figures of one workload on each pipeline, (Lambda, Kappa): the pipeline's, since
/// the reachable code is the same for every workload; without items or shared code
/// (listed once by [`complexity_of`]).
pub fn complexity(_workload: &Workload) -> code_metrics::Result<(Complexity, Complexity)> {
    let s = measured()?;
    let figures = |c: Complexity| Complexity {
        items: Vec::new(),
        shared: None,
        ..c
    };
    Ok((figures(s.lambda), figures(s.kappa)))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn every_item(s: &Split) -> Vec<(&'static str, &CodeItem)> {
        let mut out = Vec::new();
        for (who, items) in [
            ("lambda", &s.lambda.items),
            ("kappa", &s.kappa.items),
            ("shared", &s.shared.items),
        ] {
            out.extend(items.iter().map(|i| (who, i)));
        }
        out
    }

    /// Whether `text` is one item of `kind` whose name ends as `name` does.
    fn is_the_item(text: &str, kind: &str, name: &str) -> bool {
        let last = name.rsplit("::").next().unwrap_or(name);
        match code_metrics::item_in(text) {
            Some((k, _)) if k.as_str() == "impl" => kind == "impl",
            Some((k, ident)) if k.as_str() == "fn" => {
                (kind == "fn" || kind == "method") && ident == last
            }
            Some((k, ident)) => k.as_str() == kind && ident == last,
            None => false,
        }
    }

    #[test]
    fn every_listed_location_is_the_item_in_the_tree() -> anyhow::Result<()> {
        let (lambda, kappa) = complexity_of(&[])?;
        let shared = lambda
            .shared
            .clone()
            .ok_or_else(|| anyhow::anyhow!("no shared code"))?;
        assert_eq!(Some(&shared), kappa.shared.as_ref());
        let s = Split {
            lambda,
            kappa,
            shared,
        };
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut checked = 0;
        for (who, item) in every_item(&s) {
            let text = std::fs::read_to_string(root.join(&item.file))
                .map_err(|e| anyhow::anyhow!("{who}: {}: {e}", item.file))?;
            let lines: Vec<&str> = text.lines().collect();
            let (first, last) = (item.first_line as usize, item.last_line as usize);
            assert!(
                1 <= first && first <= last && last <= lines.len(),
                "{who}: {item:?}"
            );
            let body = lines[first - 1..last].join("\n");
            assert!(
                is_the_item(&body, &item.kind, &item.name),
                "{who}: {item:?} is not\n{body}"
            );
            assert!(item.loc <= (last - first + 1) as u64, "{who}: {item:?}");
            checked += 1;
        }
        assert!(checked > 500, "{checked} items");
        Ok(())
    }

    #[test]
    fn no_item_is_charged_to_both_and_totals_are_the_sums_of_the_items() -> anyhow::Result<()> {
        let (lambda, kappa) = complexity_of(&[])?;
        let shared = lambda
            .shared
            .clone()
            .ok_or_else(|| anyhow::anyhow!("no shared code"))?;
        let mut seen = std::collections::BTreeMap::new();
        for (who, items) in [
            ("lambda", &lambda.items),
            ("kappa", &kappa.items),
            ("shared", &shared.items),
        ] {
            for i in items {
                let key = (i.file.clone(), i.first_line, i.name.clone());
                if let Some(before) = seen.insert(key, who) {
                    anyhow::bail!("{} is in both {before} and {who}", i.name);
                }
            }
        }
        let sum = |items: &[CodeItem]| {
            items.iter().fold([0; 4], |a, i| {
                [
                    a[0] + i.loc,
                    a[1] + i.functions,
                    a[2] + i.cyclomatic,
                    a[3] + i.cognitive,
                ]
            })
        };
        for c in [&lambda, &kappa] {
            assert_eq!(
                sum(&c.items),
                [c.loc, c.functions, c.cyclomatic, c.cognitive]
            );
        }
        assert_eq!(
            sum(&shared.items),
            [
                shared.loc,
                shared.functions,
                shared.cyclomatic,
                shared.cognitive
            ]
        );
        Ok(())
    }

    #[test]
    fn lambda_reaches_its_layers_and_kappa_its_task_state_and_table() -> anyhow::Result<()> {
        let (lambda, kappa) = complexity_of(&[])?;
        let shared = lambda.shared.clone().unwrap_or_default();
        let has = |c: &[CodeItem], name: &str| c.iter().any(|i| i.name == name);
        let in_dir = |c: &[CodeItem], dir: &str| c.iter().any(|i| i.file.starts_with(dir));
        for dir in ["lambda/", "batch_layer/", "speed_layer/", "serving_layer/"] {
            assert!(
                in_dir(&lambda.items, dir),
                "Lambda reaches nothing in {dir}"
            );
            assert!(
                !in_dir(&kappa.items, dir) && !in_dir(&shared.items, dir),
                "{dir}"
            );
        }
        for name in [
            "batch_layer::recompute_at",
            "speed_layer::Inner::run_partition",
            "serving_layer::LambdaSnapshot::merged",
            "lambda::cycle::Cycle::run",
        ] {
            assert!(has(&lambda.items, name), "Lambda does not reach {name}");
        }
        for file in [
            "kappa/src/task.rs",
            "kappa/src/state.rs",
            "kappa/src/table.rs",
            "kappa/src/worker.rs",
        ] {
            assert!(
                kappa.items.iter().any(|i| i.file == file),
                "Kappa reaches nothing in {file}"
            );
        }
        for name in [
            "kappa::task::Task::process",
            "kappa::state::<RedbStore as StateStore>::commit",
            "kappa::table::write_part",
            "kappa::publish::Inner::table_of",
        ] {
            assert!(has(&kappa.items, name), "Kappa does not reach {name}");
        }
        assert!(!in_dir(&lambda.items, "kappa/") && !in_dir(&shared.items, "kappa/"));
        // The one stream decoder both use is shared.
        assert!(
            shared
                .items
                .iter()
                .any(|i| i.file == "datasets/src/stream.rs")
        );
        assert!(!in_dir(&lambda.items, "datasets/src/stream.rs"));
        Ok(())
    }

    /// A workspace of two pipelines over a common crate; `lam_extra` is put in the Lambda
    /// crate's source, `kap_call` in the body of the Kappa crate's entry point.
    fn mini(lam_extra: &str, kap_call: &str) -> Vec<(String, String)> {
        let manifest = |name: &str, deps: &str| {
            format!("[package]\nname = \"{name}\"\n[dependencies]\n{deps}")
        };
        vec![
            (
                "Cargo.toml".into(),
                "[workspace]\nmembers = [\"lam\", \"kap\", \"common\"]\n".into(),
            ),
            (
                "lam/Cargo.toml".into(),
                manifest("lam", "common.workspace = true\n"),
            ),
            (
                "kap/Cargo.toml".into(),
                manifest("kap", "common.workspace = true\n"),
            ),
            ("common/Cargo.toml".into(), manifest("common", "")),
            (
                "lam/src/lib.rs".into(),
                format!(
                    "//! Lambda.\n\npub struct Lam {{ n: u32 }}\n\nimpl Lam {{\n    pub fn run(&self) -> u32 {{\n        \
                     common::Table::new().get(self.n) + common::only_lam()\n    }}\n}}\n{lam_extra}\n"
                ),
            ),
            (
                "kap/src/lib.rs".into(),
                format!(
                    "//! Kappa.\n\npub fn job(n: u32) -> u32 {{\n    let t = common::Table::new();\n    t.get(n){kap_call}\n}}\n"
                ),
            ),
            (
                "common/src/lib.rs".into(),
                "pub struct Table;\nimpl Table {\n    pub fn new() -> Table { Table }\n    \
                 pub fn get(&self, n: u32) -> u32 { if n > 1 { n } else { 0 } }\n}\n\
                 pub fn only_lam() -> u32 { 1 }\n"
                    .into(),
            ),
        ]
    }

    fn split_of(files: &[(String, String)]) -> anyhow::Result<Split> {
        Ok(split(
            files.iter().map(|(p, t)| (p.as_str(), t.as_str())),
            "lam",
            "kap",
        )?)
    }

    fn names(items: &[CodeItem]) -> Vec<&str> {
        items.iter().map(|i| i.name.as_str()).collect()
    }

    fn figures(c: &Complexity) -> [u64; 4] {
        [c.loc, c.functions, c.cyclomatic, c.cognitive]
    }

    #[test]
    fn a_function_on_one_pipelines_call_path_changes_that_pipelines_figure_only()
    -> anyhow::Result<()> {
        let before = split_of(&mini("", ""))?;
        assert_eq!(
            names(&before.lambda.items),
            [
                "common::only_lam",
                "lam::Lam",
                "lam::impl Lam",
                "lam::Lam::run"
            ]
        );
        assert_eq!(names(&before.kappa.items), ["kap::job"]);
        assert_eq!(
            names(&before.shared.items),
            [
                "common::Table",
                "common::impl Table",
                "common::Table::new",
                "common::Table::get"
            ]
        );
        // A helper on Lambda's path: Lambda grows by its figures, nothing else moves.
        let extra = "fn helper(a: bool) -> u32 {\n    if a && true { 1 } else { 2 }\n}\npub fn more() -> u32 { helper(true) }";
        let after = split_of(&mini(extra, ""))?;
        let [loc, functions, cyclomatic, cognitive] = figures(&before.lambda);
        // helper: 3 lines, cyclomatic 1 + if + &&, cognitive if + else + &&; more: 1 line, 1.
        assert_eq!(
            figures(&after.lambda),
            [loc + 4, functions + 2, cyclomatic + 4, cognitive + 3]
        );
        assert_eq!(after.kappa, before.kappa);
        assert_eq!(after.shared, before.shared);
        // A private function nobody calls is charged to nobody.
        let dead = split_of(&mini("fn unused() -> u32 { if true { 1 } else { 2 } }", ""))?;
        assert_eq!(dead.lambda, before.lambda);
        // Kappa calling what only Lambda called makes it shared: it leaves Lambda's figure.
        let both = split_of(&mini("", " + common::only_lam()"))?;
        assert!(!names(&both.lambda.items).contains(&"common::only_lam"));
        assert!(names(&both.shared.items).contains(&"common::only_lam"));
        assert_eq!(both.lambda.loc + 1, before.lambda.loc);
        assert_eq!(
            both.kappa, before.kappa,
            "the shared function is not charged to Kappa"
        );
        Ok(())
    }

    #[test]
    fn the_split_is_the_same_on_every_measurement() -> anyhow::Result<()> {
        let again = split(embedded::SOURCES.iter().copied(), LAMBDA_CRATE, KAPPA_CRATE)?;
        assert_eq!(measured()?, again);
        Ok(())
    }

    #[test]
    fn every_workload_gets_the_pipelines_figures_without_items() -> anyhow::Result<()> {
        let (lambda, kappa) = complexity_of(&[])?;
        for b in workloads::BuiltIn::ALL {
            let (l, k) = complexity(&Workload::BuiltIn(b))?;
            assert_eq!(figures(&l), figures(&lambda));
            assert_eq!(figures(&k), figures(&kappa));
            assert!(
                l.items.is_empty()
                    && k.items.is_empty()
                    && l.shared.is_none()
                    && k.shared.is_none()
            );
        }
        Ok(())
    }

    #[test]
    fn the_embedded_sources_are_the_trees() -> anyhow::Result<()> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for (path, text) in embedded::SOURCES {
            assert_eq!(std::fs::read_to_string(root.join(path))?, *text, "{path}");
        }
        assert!(
            embedded::SOURCES
                .iter()
                .any(|(p, _)| *p == "kappa/src/task.rs")
        );
        assert!(!embedded::SOURCES.iter().any(|(p, _)| p.contains("/tests/")));
        Ok(())
    }
}
