//! `lk tour`: a guided, runnable walk through message queues and stream processing.
//!
//! Each step runs real operations on real data — through the project's crates, or by
//! running this binary's own subcommands as child processes (printed as `$ lk …`, so a
//! reader can run them again) — and prints what happened with the figures it measured.
//! Every step works in a data directory of its own (`NN-slug`) inside a scratch directory
//! the tour creates and removes (or inside `--data DIR`, kept for inspection); the steps
//! use the embedded log, except the one on replication, which needs a Kafka broker
//! (`--log kafka://…` or `LK_KAFKA_BROKERS`) and is skipped with a note without one.
//!
//! ```text
//!   lk tour [--step N]… [--quick] [--markdown]
//!     step 1  the log            master_log in-process, `lk topic describe`
//!     …
//!     step 10 LinkedIn's case   `lk generate`, `lk lambda run`, `lk kappa run`, `lk query --pipeline both`
//! ```
//!
//! `--markdown` prints the same run as Markdown: `docs/tour.md` is that output.

mod faults;
mod kafka;
mod log_steps;
mod out;
mod proc;
mod step;
mod stream_steps;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;

use crate::backend::LogArgs;
use out::Out;
use step::{Ctx, Step};

/// The flags of `lk tour`.
#[derive(Debug, Args)]
pub struct TourArgs {
    /// Run only this step (repeatable); `--list` shows the numbers.
    #[arg(long, value_name = "N")]
    step: Vec<usize>,
    /// List the steps and exit.
    #[arg(long)]
    list: bool,
    /// Small sizes, so that every step takes a few seconds even in a debug build (what
    /// CI runs); the figures are then less telling.
    #[arg(long)]
    quick: bool,
    /// Print Markdown: each step's explanation, then its output in a code block (how
    /// docs/tour.md is made).
    #[arg(long)]
    markdown: bool,
    /// Keep the scratch directory (without --data) instead of removing it at the end.
    #[arg(long)]
    keep: bool,
}

/// Every step, in order.
fn steps() -> Vec<Step> {
    vec![
        log_steps::LOG,
        log_steps::GROUPS,
        log_steps::KEYS,
        log_steps::SCALING,
        faults::FAULTS,
        kafka::REPLICATION,
        stream_steps::REQUIREMENTS,
        stream_steps::SAMZA,
        stream_steps::LAMBDA_KAPPA,
        stream_steps::LINKEDIN,
    ]
}

/// The marker of a directory the tour made (and may therefore empty again).
const MARKER: &str = ".lk-tour";

/// Whether `--data` was given on the command line (the global flag has a default, so
/// its value alone cannot tell).
fn data_given() -> bool {
    std::env::args_os().any(|a| {
        let a = a.to_string_lossy();
        a == "--data" || a.starts_with("--data=")
    })
}

/// An empty directory for step `n`, `NN-slug` under `root`: made anew, or emptied if a
/// previous tour made it; refused if it holds something else.
fn step_dir(root: &Path, n: usize, step: &Step) -> anyhow::Result<PathBuf> {
    let dir = root.join(format!("{n:02}-{}", step.slug));
    if dir.exists() {
        anyhow::ensure!(
            dir.join(MARKER).exists(),
            "{} exists and was not made by `lk tour`: pick another --data",
            dir.display()
        );
        std::fs::remove_dir_all(&dir)
            .map_err(|e| anyhow::anyhow!("empty {}: {e}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).map_err(|e| anyhow::anyhow!("create {}: {e}", dir.display()))?;
    std::fs::write(dir.join(MARKER), "made by lk tour\n")
        .map_err(|e| anyhow::anyhow!("write {}: {e}", dir.display()))?;
    Ok(dir)
}

/// The Kafka cluster of `--log`, else of `LK_KAFKA_BROKERS` (`HOST:PORT[,…]`), if any.
fn kafka_args(log: &LogArgs) -> anyhow::Result<Option<LogArgs>> {
    if let crate::backend::Backend::Kafka(_) = log.backend()? {
        return Ok(Some(log.clone()));
    }
    match std::env::var("LK_KAFKA_BROKERS") {
        Ok(b) if !b.trim().is_empty() => {
            let mut args = log.clone();
            args.uri = format!("kafka://{}", b.trim());
            args.backend()?;
            Ok(Some(args))
        }
        _ => Ok(None),
    }
}

/// `lk tour --list`.
fn list(steps: &[Step]) {
    for (i, s) in steps.iter().enumerate() {
        println!("{:>2}. {:<20} {}", i + 1, s.slug, s.title);
    }
}

/// `lk tour`.
pub fn run(a: TourArgs, data: &Path, log: &LogArgs) -> anyhow::Result<ExitCode> {
    let steps = steps();
    if a.list {
        list(&steps);
        return Ok(ExitCode::SUCCESS);
    }
    for &n in &a.step {
        anyhow::ensure!(
            (1..=steps.len()).contains(&n),
            "--step {n}: the tour has steps 1 to {} (see `lk tour --list`)",
            steps.len()
        );
    }
    let chosen: Vec<usize> = if a.step.is_empty() {
        (1..=steps.len()).collect()
    } else {
        a.step.clone()
    };
    let scratch = !data_given();
    let root = if scratch {
        std::env::temp_dir().join(format!("lk-tour-{}", std::process::id()))
    } else {
        data.to_path_buf()
    };
    let mut ctx = Ctx {
        dir: root.clone(),
        exe: std::env::current_exe()
            .map_err(|e| anyhow::anyhow!("find the lk binary to run: {e}"))?,
        quick: a.quick,
        kafka: kafka_args(log)?,
        out: Out::new(a.markdown),
    };
    ctx.out
        .preamble(&root, scratch && !a.keep, a.quick, steps.len());
    let started = Instant::now();
    let result = run_steps(&mut ctx, &steps, &chosen, &root);
    if scratch && !a.keep {
        // Best effort: a failed step's error matters more than the scratch directory.
        let _ = std::fs::remove_dir_all(&root);
    }
    result?;
    ctx.out.closing(
        started.elapsed().as_secs_f64(),
        chosen.len(),
        scratch && !a.keep,
        &root,
    );
    Ok(ExitCode::SUCCESS)
}

/// Run the chosen steps in order, each in its own directory.
fn run_steps(ctx: &mut Ctx, steps: &[Step], chosen: &[usize], root: &Path) -> anyhow::Result<()> {
    for &n in chosen {
        let step = &steps[n - 1];
        ctx.dir = step_dir(root, n, step)?;
        ctx.out.begin(n, steps.len(), step.title, step.about);
        let t = Instant::now();
        (step.run)(ctx).map_err(|e| e.context(format!("tour step {n} ({})", step.slug)))?;
        ctx.out.end(t.elapsed().as_secs_f64());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_names_are_unique_and_explained() {
        let steps = steps();
        let mut slugs: Vec<&str> = steps.iter().map(|s| s.slug).collect();
        slugs.sort_unstable();
        slugs.dedup();
        assert_eq!(slugs.len(), steps.len());
        for s in &steps {
            assert!(s.about.len() > 100, "{} needs an explanation", s.slug);
            master_log::validate_name(s.slug).unwrap();
        }
    }
}
