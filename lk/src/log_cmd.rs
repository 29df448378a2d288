//! `lk log ...`: check and maintain the log's files.

use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;
use master_log::EmbeddedLog;

use crate::topic::Format;

#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// Check every file of the log (every batch of every segment — framing, CRC32C,
    /// offsets —, the indexes, the partition manifests, the quarantine files, topic
    /// metadata), changing nothing. Lists each damage with its byte range and the
    /// offsets it lost, and the offsets lost to damage that recovery cut out earlier.
    /// Exits with status 1 when anything is damaged or lost.
    Verify {
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Apply retention and compaction to every topic now.
    Maintain,
}

/// One line for a problem: the file, where, how many bytes, and the offsets lost.
fn describe_problem(p: &master_log::Problem) -> String {
    let mut line = format!("DAMAGED {}", p.file.display());
    match (p.position, p.length) {
        (Some(pos), Some(len)) => line.push_str(&format!(" at byte {pos} ({len} bytes)")),
        (Some(pos), None) => line.push_str(&format!(" at byte {pos}")),
        _ => {}
    }
    line.push_str(&format!(": {}", p.reason));
    if let Some((first, end)) = p.lost {
        line.push_str(&format!(" [offsets {first}..{end} lost]"));
    }
    line
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
                        println!("{}", describe_problem(p));
                    }
                    let sidecars = crate::datasets_cmd::sidecar_dir(data);
                    for line in datasets::staging::interrupted(&data.join("topics"), &sidecars) {
                        println!("{line}");
                    }
                    if report.torn_tails_cut > 0 {
                        println!(
                            "{} cut by recovery earlier (writes a crash cut short; their \
                             bytes are in the quarantine files)",
                            crate::text::plural(
                                report.torn_tails_cut as u64,
                                "torn tail was",
                                "torn tails were"
                            )
                        );
                    }
                    use crate::text::count;
                    println!(
                        "checked {}, {}, {}, {}, {}, {} bytes: {}",
                        count(report.topics as u64, "topic"),
                        count(report.partitions as u64, "partition"),
                        count(report.segments as u64, "segment"),
                        crate::text::plural(report.batches as u64, "batch", "batches"),
                        count(report.records as u64, "record"),
                        report.bytes,
                        if report.is_clean() {
                            "no damage".to_string()
                        } else {
                            count(report.problems.len() as u64, "problem")
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
