//! `lk generate`, `lk ingest csv` and `lk export`: data in and out of the log.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use datasets::{Phase, Progress};
use indicatif::{ProgressBar, ProgressStyle};
use master_log::Log;

use crate::topic::Format;

/// Where dataset sidecar files (summaries, schemas, the YSB campaign table) live.
pub fn sidecar_dir(data: &Path) -> PathBuf {
    data.join("datasets")
}

fn millis(d: Option<Duration>) -> Option<u64> {
    d.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A progress bar on stderr (hidden when stderr is not a terminal) fed by the datasets
/// crate's progress hook.
struct Bar {
    bar: ProgressBar,
    phase: Option<Phase>,
}

impl Bar {
    fn new() -> Self {
        Bar {
            bar: ProgressBar::hidden(),
            phase: None,
        }
    }

    fn update(&mut self, p: &Progress) {
        if self.phase != Some(p.phase) {
            self.bar.finish_and_clear();
            let (len, template) = match (p.total_items, p.total_bytes) {
                (Some(n), _) => (
                    n,
                    "{msg:>9} [{bar:30}] {human_pos}/{human_len} ({per_sec}, ETA {eta})",
                ),
                (None, Some(b)) => (
                    b,
                    "{msg:>9} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, ETA {eta})",
                ),
                (None, None) => (0, "{msg:>9} {human_pos} ({per_sec})"),
            };
            self.bar = ProgressBar::new(len);
            self.bar.set_style(
                ProgressStyle::with_template(template)
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            self.bar
                .set_message(format!("{:?}", p.phase).to_lowercase());
            self.bar.enable_steady_tick(Duration::from_millis(200));
            self.phase = Some(p.phase);
        }
        if p.total_items.is_none() && p.total_bytes.is_some() {
            self.bar.set_position(p.bytes);
        } else {
            self.bar.set_position(p.items);
        }
        if p.done {
            self.bar.finish_and_clear();
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// pageviews, ysb or nexmark.
    dataset: String,
    /// The topic to write (created when missing). Default: the dataset's name.
    #[arg(long)]
    topic: Option<String>,
    /// Distinct events to generate (duplicates come on top).
    #[arg(long)]
    events: u64,
    /// Partitions of the topic when it is created.
    #[arg(long, short = 'p', default_value_t = 4)]
    partitions: u32,
    /// The generator's seed (the same seed, the same records).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Pace the generator in real time at this many events per second.
    #[arg(long, value_name = "EVENTS_PER_S")]
    rate: Option<u64>,
    /// Events per second of event time (default: --rate, or 1000).
    #[arg(long, value_name = "EVENTS_PER_S")]
    event_rate: Option<u64>,
    /// Zipf exponent of the key distribution.
    #[arg(long, value_name = "ZIPF_S")]
    key_skew: Option<f64>,
    /// Distinct keys (pages, auctions in flight) where the dataset allows it.
    #[arg(long)]
    keys: Option<u64>,
    /// Fraction of events arriving out of order, up to --max-delay late.
    #[arg(long, default_value_t = 0.0, value_name = "FRACTION", value_parser = crate::text::fraction)]
    out_of_order: f64,
    /// The most an out-of-order event is delayed (default 5s).
    #[arg(long, value_name = "DURATION", value_parser = crate::text::duration)]
    max_delay: Option<Duration>,
    /// Fraction of events arriving after --late-delay (beyond a watermark's wait).
    #[arg(long, default_value_t = 0.0, value_name = "FRACTION", value_parser = crate::text::fraction)]
    late: f64,
    /// How late the late events are: this to twice this after their time (default 1m).
    #[arg(long, value_name = "DURATION", value_parser = crate::text::duration)]
    late_delay: Option<Duration>,
    /// Fraction of events sent twice (same event id).
    #[arg(long, default_value_t = 0.0, value_name = "FRACTION", value_parser = crate::text::fraction)]
    duplicates: f64,
    /// Value encoding: postcard (default) or json.
    #[arg(long, default_value = "postcard")]
    codec: String,
    /// Add to a topic that already holds records.
    #[arg(long)]
    append: bool,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

pub fn generate(
    args: GenerateArgs,
    data: &Path,
    log: std::sync::Arc<dyn Log>,
) -> anyhow::Result<ExitCode> {
    let defaults = datasets::GenerateOptions::default();
    let dataset: datasets::DatasetKind = args.dataset.parse()?;
    let opts = datasets::GenerateOptions {
        dataset,
        topic: args.topic.unwrap_or_else(|| dataset.name().to_owned()),
        events: args.events,
        partitions: args.partitions,
        seed: args.seed,
        rate: args.rate,
        event_rate: args.event_rate,
        key_skew: args.key_skew,
        keys: args.keys,
        out_of_order: args.out_of_order,
        max_delay_ms: millis(args.max_delay).unwrap_or(defaults.max_delay_ms),
        late: args.late,
        late_delay_ms: millis(args.late_delay).unwrap_or(defaults.late_delay_ms),
        duplicates: args.duplicates,
        codec: args.codec.parse()?,
        append: args.append,
        ..defaults
    };
    recover(log.as_ref(), data, &opts.topic)?;
    let mut bar = Bar::new();
    let summary = datasets::generate(log.as_ref(), &opts, Some(&sidecar_dir(data)), &mut |p| {
        bar.update(p)
    })?;
    drop(bar);
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&summary)?),
        Format::Text => {
            println!(
                "generated {} {} events as {} records into {} ({} partitions) in {:.2} s: {:.0} records/s",
                summary.events,
                opts.dataset,
                summary.records,
                opts.topic,
                summary.partitions,
                summary.elapsed_ms as f64 / 1000.0,
                summary.records_per_s
            );
            println!(
                "arrival: {} in order, {} out of order, {} late, {} duplicates",
                summary.in_order, summary.out_of_order, summary.late, summary.duplicates
            );
            let kinds: Vec<String> = summary
                .kinds
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            println!("kinds: {}", kinds.join(", "));
            if let (Some(a), Some(b)) = (summary.min_event_time, summary.max_event_time) {
                println!(
                    "event time: {} to {}",
                    crate::text::rfc3339_ms(a),
                    crate::text::rfc3339_ms(b)
                );
            }
            if let Some(f) = &summary.campaigns_file {
                println!("ad → campaign table: {}", f.display());
            }
            if let Some(f) = &summary.sidecar {
                println!("summary: {}", f.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Subcommand)]
pub enum IngestCommand {
    /// Import a CSV file into a topic, one record per row, every column typed.
    Csv(IngestCsvArgs),
}

#[derive(Debug, Args)]
pub struct IngestCsvArgs {
    file: PathBuf,
    #[arg(long)]
    topic: String,
    /// The column with each row's event time (default: the first column whose values are
    /// all timestamps).
    #[arg(long)]
    time_column: Option<String>,
    /// rfc3339, epoch-ms, epoch-s, or a strftime pattern such as '%Y-%m-%d %H:%M:%S'.
    #[arg(long, default_value = "rfc3339")]
    time_format: String,
    /// The column whose value is the record key (decides the partition).
    #[arg(long)]
    key_column: Option<String>,
    /// Force column types: NAME:TYPE,... with integer, float, string, bool, timestamp.
    #[arg(long, value_name = "COL:TYPE,...")]
    columns: Option<String>,
    /// Field texts that mean null, besides the empty field.
    #[arg(long, value_name = "NA,...", value_delimiter = ',')]
    null_values: Vec<String>,
    /// Field delimiter: one ASCII character, or 'tab'.
    #[arg(long, default_value = ",")]
    delimiter: String,
    /// fail: stop at the first bad row and write nothing; skip: write good rows, send bad
    /// ones to the rejects file.
    #[arg(long, default_value = "fail")]
    on_error: String,
    /// Where rejected rows go with --on-error skip.
    #[arg(long)]
    rejects: Option<PathBuf>,
    /// Partitions of the topic when it is created.
    #[arg(long, short = 'p', default_value_t = 4)]
    partitions: u32,
    /// The longest field accepted (bytes, or with a unit: 64KiB; default 1 MiB); a longer
    /// field makes its row bad.
    #[arg(long, value_name = "SIZE", value_parser = byte_size,
          default_value_t = datasets::DEFAULT_MAX_FIELD_BYTES)]
    max_field_bytes: u64,
    /// The longest row accepted (default 16 MiB), its line ending not counted (a quoted
    /// row spanning lines counts whole). No more of a row is held in memory: input without newlines stops
    /// here with the byte offset; with --on-error skip a longer data row is rejected.
    #[arg(long, value_name = "SIZE", value_parser = byte_size,
          default_value_t = datasets::DEFAULT_MAX_LINE_BYTES)]
    max_line_bytes: u64,
    /// Import the file even if the topic already took a file of the same bytes (by
    /// default refused: a rerun would duplicate its rows).
    #[arg(long)]
    again: bool,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Finish or clean up interrupted imports and generator runs into `topic`, saying what
/// was done on stderr.
fn recover(log: &dyn Log, data: &Path, topic: &str) -> anyhow::Result<()> {
    for done in datasets::recover(log, &sidecar_dir(data), topic)? {
        eprintln!("{done}");
    }
    Ok(())
}

/// A `--max-*-bytes` value: bytes, or a number with a unit.
fn byte_size(s: &str) -> Result<u64, String> {
    datasets::parse_byte_size(s).map_err(|e| e.to_string())
}

pub fn ingest(
    cmd: IngestCommand,
    data: &Path,
    log: std::sync::Arc<dyn Log>,
) -> anyhow::Result<ExitCode> {
    let IngestCommand::Csv(a) = cmd;
    let opts = datasets::ImportOptions {
        file: a.file,
        topic: a.topic,
        time_column: a.time_column.unwrap_or_default(),
        time_format: a.time_format.parse()?,
        key_column: a.key_column,
        columns: match &a.columns {
            Some(c) => datasets::parse_column_types(c)?,
            None => Vec::new(),
        },
        null_values: a.null_values,
        delimiter: datasets::parse_delimiter(&a.delimiter)?,
        on_error: a.on_error.parse()?,
        rejects: a.rejects,
        partitions: a.partitions,
        max_field_bytes: a.max_field_bytes,
        max_line_bytes: a.max_line_bytes,
        again: a.again,
        ..datasets::ImportOptions::default()
    };
    recover(log.as_ref(), data, &opts.topic)?;
    let mut bar = Bar::new();
    let s = datasets::import_csv(log.as_ref(), &opts, Some(&sidecar_dir(data)), &mut |p| {
        bar.update(p)
    })?;
    drop(bar);
    match a.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&s)?),
        Format::Text => {
            println!(
                "imported {} of {} rows of {} into {} ({} partitions) in {:.2} s: {:.0} rows/s",
                s.accepted,
                s.rows,
                s.file.display(),
                s.topic,
                s.partitions,
                s.elapsed_ms as f64 / 1000.0,
                s.rows_per_s
            );
            let cols: Vec<String> = s
                .schema
                .columns
                .iter()
                .map(|c| format!("{}:{}", c.name, c.ty))
                .collect();
            println!("columns: {}", cols.join(", "));
            if s.rejected > 0 {
                println!(
                    "rejected {} rows (all in {}); the first:",
                    s.rejected,
                    s.rejects_file
                        .as_deref()
                        .map_or("-".into(), |p| p.display().to_string())
                );
                for r in &s.first_rejects {
                    println!("  line {}: {}", r.line, r.reason);
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Remove the temporary file an interrupted export to `out` left beside it (the export
/// writes `durable::temp_path(out)` and renames it over `out` when done), so that none
/// is left behind whether this export succeeds or fails.
fn remove_stale_temporary(out: &Path) -> anyhow::Result<()> {
    let tmp = master_log::durable::temp_path(out);
    match std::fs::remove_file(&tmp) {
        Ok(()) => {
            eprintln!("removed {}, left by an interrupted export", tmp.display());
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(anyhow::Error::new(e).context(format!("remove {}", tmp.display()))),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Csv,
    Parquet,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    topic: String,
    /// The file's format (default: parquet for an --out ending in .parquet, else csv).
    #[arg(long, value_enum)]
    format: Option<ExportFormat>,
    /// Output file (`-` for standard output, CSV only).
    #[arg(long)]
    out: PathBuf,
    /// Only events with event time at or after this RFC 3339 time.
    #[arg(long, value_name = "RFC3339")]
    from_time: Option<String>,
    /// Only events with event time before this RFC 3339 time.
    #[arg(long, value_name = "RFC3339")]
    to_time: Option<String>,
}

pub fn export(
    a: ExportArgs,
    data: &Path,
    log: std::sync::Arc<dyn Log>,
) -> anyhow::Result<ExitCode> {
    let opts = datasets::ExportOptions {
        topic: a.topic,
        from_ms: a
            .from_time
            .as_deref()
            .map(crate::text::parse_rfc3339)
            .transpose()?,
        to_ms: a
            .to_time
            .as_deref()
            .map(crate::text::parse_rfc3339)
            .transpose()?,
        ..datasets::ExportOptions::default()
    };
    let side = sidecar_dir(data);
    if a.out.as_os_str() != "-" {
        remove_stale_temporary(&a.out)?;
    }
    let mut bar = Bar::new();
    let mut hook = |p: &Progress| bar.update(p);
    let format = a.format.unwrap_or(
        if a.out
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
        {
            ExportFormat::Parquet
        } else {
            ExportFormat::Csv
        },
    );
    let s = match (format, a.out.as_os_str() == "-") {
        (ExportFormat::Csv, true) => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            datasets::export_csv(log.as_ref(), &opts, Some(&side), &mut out, &mut hook)?
        }
        (ExportFormat::Csv, false) => {
            datasets::export_csv_file(log.as_ref(), &opts, Some(&side), &a.out, &mut hook)?
        }
        (ExportFormat::Parquet, true) => anyhow::bail!("Parquet needs a file: give --out PATH"),
        (ExportFormat::Parquet, false) => {
            datasets::export_parquet(log.as_ref(), &opts, Some(&side), &a.out, &mut hook)?
        }
    };
    drop(bar);
    if a.out.as_os_str() != "-" {
        eprintln!(
            "exported {} rows ({} columns) of {} to {} in {:.2} s",
            s.rows,
            s.columns.len(),
            s.topic,
            a.out.display(),
            s.elapsed_ms as f64 / 1000.0
        );
    }
    Ok(ExitCode::SUCCESS)
}
