//! `lk log ...`: check and maintain the log's files.

use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;
use master_log::EmbeddedLog;

use crate::topic::Format;

#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// Check every batch of every segment (framing, CRC32C, offsets) and every index,
    /// changing nothing. Exits with status 1 when anything is damaged.
    Verify {
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Apply retention and compaction to every topic now.
    Maintain,
}

pub fn run(
    cmd: LogCommand,
    data: &Path,
    open: impl Fn() -> anyhow::Result<EmbeddedLog>,
) -> anyhow::Result<ExitCode> {
    match cmd {
        LogCommand::Verify { format } => {
            if !data.exists() {
                anyhow::bail!("data directory {} does not exist", data.display());
            }
            let report = master_log::verify(data)?;
            match format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
                Format::Text => {
                    for p in &report.problems {
                        match p.position {
                            Some(pos) => {
                                println!("DAMAGED {} at byte {pos}: {}", p.file.display(), p.reason)
                            }
                            None => println!("DAMAGED {}: {}", p.file.display(), p.reason),
                        }
                    }
                    println!(
                        "checked {} topics, {} partitions, {} segments, {} batches, {} records, {} bytes: {}",
                        report.topics,
                        report.partitions,
                        report.segments,
                        report.batches,
                        report.records,
                        report.bytes,
                        if report.is_clean() {
                            "no damage".to_string()
                        } else {
                            format!("{} problems", report.problems.len())
                        }
                    );
                }
            }
            Ok(if report.is_clean() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        LogCommand::Maintain => {
            let log = open()?;
            let (r, c) = log.run_maintenance()?;
            println!(
                "retention deleted {} segments ({} bytes); compaction kept {} of {} records ({} of {} bytes)",
                r.segments_deleted,
                r.bytes_deleted,
                c.records_after,
                c.records_before,
                c.bytes_after,
                c.bytes_before
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
