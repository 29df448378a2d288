//! `lk`: the lambda-kappa command line.
//!
//! Every command opens the master log — the embedded engine in the data directory
//! (`--data`, default `./lk-data`), or a Kafka-protocol cluster with `--log kafka://…`
//! (see [`backend`]) — does its work and closes it. Errors print as one line on stderr and exit
//! with status 1 (2 for a command line that does not parse).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod answers;
mod api;
mod backend;
#[cfg(test)]
mod cli_rules;
mod compare_cmd;
mod compare_scratch;
mod consume;
mod datasets_cmd;
mod demo;
mod kappa_cmd;
mod lambda_cmd;
mod live;
mod log_cmd;
mod produce;
mod query;
mod serve;
mod text;
mod topic;
mod tour;
mod workloads_cmd;

/// lambda-kappa: a Lambda and a Kappa pipeline over one shared, partitioned log.
#[derive(Debug, Parser)]
#[command(name = "lk", version, about, propagate_version = true)]
struct Cli {
    /// Working directory: batch views, realtime views, Kappa state and tables, dataset
    /// descriptions; and the embedded log itself unless --log names a cluster.
    #[arg(long, global = true, default_value = "lk-data", env = "LK_DATA")]
    data: PathBuf,

    #[command(flatten)]
    log: backend::LogArgs,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the Lambda and the Kappa pipeline side by side on one log and compare their
    /// latency, freshness, throughput, resources, correctness, reprocessing and code.
    Compare(Box<compare_cmd::CompareArgs>),
    /// Create, list, describe and delete topics.
    #[command(subcommand)]
    Topic(topic::TopicCommand),
    /// Append lines from standard input to a topic (`key<TAB>value`, or a value alone).
    Produce(produce::ProduceArgs),
    /// Print a topic's records.
    Consume(consume::ConsumeArgs),
    /// Generate a dataset (pageviews, ysb, nexmark) into a topic, deterministically.
    Generate(datasets_cmd::GenerateArgs),
    /// Import a file into a topic.
    #[command(subcommand)]
    Ingest(datasets_cmd::IngestCommand),
    /// Write a topic's events with their columns to CSV or Parquet.
    Export(datasets_cmd::ExportArgs),
    /// Run a layer of the Lambda pipeline.
    #[command(subcommand)]
    Lambda(lambda_cmd::LambdaCommand),
    /// The Kappa pipeline: stream jobs and reprocessing.
    #[command(subcommand)]
    Kappa(kappa_cmd::KappaCommand),
    /// Answer a workload from a pipeline's views, with their freshness.
    Query(query::QueryArgs),
    /// Serve the views over HTTP (JSON): GET /health, /workloads, /workloads/{name}/rows.
    Serve(serve::ServeArgs),
    /// Append a million keyed records, read them back as a consumer group, verify.
    Demo(demo::DemoArgs),
    /// Check or maintain the log's files.
    #[command(subcommand)]
    Log(log_cmd::LogCommand),
    /// List the workloads both pipelines can run (built-ins and registered specs) with
    /// their definitions: topic, window, key columns, aggregates, filter.
    Workloads(workloads_cmd::WorkloadsArgs),
    /// A guided, runnable tour of message queues and stream processing on this project:
    /// each step runs real operations and prints what it measured (`--list` shows them).
    Tour(tour::TourArgs),
}

// Heap accounting by pipeline for `lk compare` (see `compare::alloc`): it counts only in
// a process started with `compare::alloc::ENV`, which `lk compare` sets by starting itself
// again; every other command allocates straight from the system allocator.
#[global_allocator]
static ALLOC: compare::alloc::CountingAlloc = compare::alloc::CountingAlloc;

/// Let a closed pipe (`lk consume … | head`) end the process quietly, as it does for
/// other Unix tools, instead of making every later `println!` panic.
#[allow(unsafe_code)]
fn restore_sigpipe() {
    // SAFETY: setting a signal's disposition to its default before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> ExitCode {
    restore_sigpipe();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LK_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if matches!(cli.command, Command::Compare(_))
        && let Some(e) = compare::alloc::reexec_with_accounting()
    {
        eprintln!("lk: warning: heap not measured (could not restart with accounting: {e})");
    }
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("lk: error: {}", master_log::error_chain(e.as_ref()));
            // A query that does not parse, is not supported or does not fit its topic is
            // the user's input, like a bad flag: exit 2, as clap does for usage errors.
            if answers::is_usage_error(&e) {
                ExitCode::from(2)
            } else if e
                .chain()
                .any(|c| matches!(c.downcast_ref(), Some(compare::CompareError::Interrupted)))
            {
                // Ctrl-C, as a comparison interrupted after feeding exits too.
                ExitCode::from(130)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    cli.log.validate()?;
    let open = || cli.log.open(&cli.data);
    let embedded = cli.log.backend()? == backend::Backend::Embedded;
    match cli.command {
        Command::Compare(args) => compare_cmd::run(*args, &cli.data, &cli.log),
        Command::Topic(cmd) => topic::run(cmd, open),
        Command::Produce(args) => produce::run(args, open),
        Command::Consume(args) => consume::run(args, open),
        Command::Demo(args) => demo::run(args, embedded.then_some(cli.data.as_path()), open),
        Command::Generate(args) => datasets_cmd::generate(args, &cli.data, open()?),
        Command::Ingest(cmd) => datasets_cmd::ingest(cmd, &cli.data, open()?),
        Command::Export(args) => datasets_cmd::export(args, &cli.data, open()?),
        Command::Lambda(cmd) => lambda_cmd::lambda(cmd, &cli.data, open()?),
        Command::Kappa(cmd) => kappa_cmd::kappa(cmd, &cli.data, open()?),
        Command::Query(args) => query::query(args, &cli.data, open()?),
        Command::Serve(args) => serve::run(args, &cli.data, open()?),
        Command::Workloads(args) => workloads_cmd::run(args, &cli.data),
        Command::Tour(args) => tour::run(args, &cli.data, &cli.log),
        Command::Log(cmd) => {
            anyhow::ensure!(
                embedded,
                "`lk log` checks and maintains the embedded log's files; on Kafka, \
                 retention, compaction and checks are the brokers' (drop --log)"
            );
            log_cmd::run(cmd, &cli.data, || cli.log.open_embedded(&cli.data))
        }
    }
}

/// A flag set when the user presses Ctrl-C (installed once per process).
fn stop_flag() -> anyhow::Result<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, std::sync::atomic::Ordering::SeqCst))
        .map_err(|e| anyhow::anyhow!("install the Ctrl-C handler: {e}"))?;
    Ok(stop)
}

static SHUTDOWN: std::sync::OnceLock<tokio::sync::watch::Sender<bool>> = std::sync::OnceLock::new();

/// A signal that becomes `true` on Ctrl-C (or [`request_shutdown`]), for async work.
fn shutdown_signal() -> anyhow::Result<tokio::sync::watch::Receiver<bool>> {
    if let Some(tx) = SHUTDOWN.get() {
        return Ok(tx.subscribe());
    }
    let tx = SHUTDOWN.get_or_init(|| tokio::sync::watch::channel(false).0);
    ctrlc::set_handler(request_shutdown)
        .map_err(|e| anyhow::anyhow!("install the Ctrl-C handler: {e}"))?;
    Ok(tx.subscribe())
}

/// Ask everything waiting on [`shutdown_signal`] to stop.
fn request_shutdown() {
    if let Some(tx) = SHUTDOWN.get() {
        tx.send_replace(true);
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        // clap's own checks (unique names, valid defaults) for every subcommand.
        super::Cli::command().debug_assert();
    }

    #[test]
    fn older_spellings_still_parse() {
        use clap::Parser;
        for args in [
            &["lambda", "batch", "--workload", "w", "--every", "1s"][..],
            &[
                "query",
                "--workload",
                "w",
                "--from",
                "2024-01-01T00:00:00Z",
                "--to",
                "x",
            ],
            &["query", "--workload", "w", "--format", "table"],
            &["workloads", "--format", "table"],
            &["compare", "--kappa-workers", "3"],
        ] {
            let cli = super::Cli::try_parse_from(std::iter::once("lk").chain(args.iter().copied()));
            assert!(cli.is_ok(), "{args:?}: {:?}", cli.err());
        }
    }
}
