//! `lk topic ...`

use std::process::ExitCode;

use clap::{Args, Subcommand};
use std::sync::Arc;

use master_log::{Log, TopicConfig};

#[derive(Debug, Subcommand)]
pub enum TopicCommand {
    /// Create a topic.
    Create(CreateArgs),
    /// List topics.
    List {
        /// Show the log's internal topics too.
        #[arg(long)]
        internal: bool,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Show a topic's configuration and, per partition, its offsets, bytes and segments.
    Describe {
        name: String,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Delete a topic and all its records.
    Delete { name: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    name: String,
    /// Partitions of the topic (the same default as wherever lk creates a topic).
    #[arg(long, short = 'p', default_value_t = 4)]
    partitions: u32,
    /// Keep only the latest record per key (cleanup.policy=compact).
    #[arg(long)]
    compact: bool,
    /// Delete closed segments older than this many milliseconds.
    #[arg(long)]
    retention_ms: Option<u64>,
    /// Delete old closed segments while the partition stays at least this many bytes.
    #[arg(long)]
    retention_bytes: Option<u64>,
    /// Roll to a new segment file at this size.
    #[arg(long)]
    segment_bytes: Option<u64>,
}

pub fn run(
    cmd: TopicCommand,
    open: impl Fn() -> anyhow::Result<Arc<dyn Log>>,
) -> anyhow::Result<ExitCode> {
    let log = open()?;
    match cmd {
        TopicCommand::Create(a) => {
            let mut config = TopicConfig {
                partitions: a.partitions,
                compact: a.compact,
                retention_ms: a.retention_ms,
                retention_bytes: a.retention_bytes,
                ..TopicConfig::default()
            };
            if let Some(b) = a.segment_bytes {
                config.segment_bytes = b;
            }
            log.create_topic(&a.name, config)?;
            println!("created topic {} with {} partitions", a.name, a.partitions);
        }
        TopicCommand::List { internal, format } => {
            let topics: Vec<_> = log
                .list_topics()?
                .into_iter()
                .filter(|t| internal || !t.internal)
                .collect();
            match format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&topics)?),
                Format::Text => {
                    for t in topics {
                        let mut flags = String::new();
                        if t.config.compact {
                            flags.push_str(" compact");
                        }
                        if t.internal {
                            flags.push_str(" internal");
                        }
                        println!("{}\t{} partitions{flags}", t.name, t.config.partitions);
                    }
                }
            }
        }
        TopicCommand::Describe { name, format } => {
            let d = log.describe_topic(&name)?;
            let mut lost = Vec::new();
            for p in &d.partitions {
                for l in log.lost_ranges(&name, p.partition)? {
                    lost.push((p.partition, l));
                }
            }
            match format {
                Format::Json => {
                    // A partition with offsets lost to damage gets a `lost` list.
                    let mut v = serde_json::to_value(&d)?;
                    for (p, l) in &lost {
                        if let Some(obj) = v["partitions"][*p as usize].as_object_mut() {
                            let list = obj.entry("lost").or_insert_with(|| serde_json::json!([]));
                            if let Some(list) = list.as_array_mut() {
                                list.push(serde_json::to_value(l)?);
                            }
                        }
                    }
                    println!("{}", serde_json::to_string_pretty(&v)?);
                }
                Format::Text => {
                    let c = &d.info.config;
                    println!(
                        "topic {}: {}, {}, segment {} bytes, retention {}, {}",
                        d.info.name,
                        crate::text::count(c.partitions, "partition"),
                        if c.compact {
                            "compacted"
                        } else {
                            "not compacted"
                        },
                        c.segment_bytes,
                        match c.retention_ms {
                            Some(ms) => format!("{ms} ms"),
                            None => "unlimited in time".into(),
                        },
                        match c.retention_bytes {
                            Some(b) => format!("{b} bytes per partition"),
                            None => "unlimited in size".into(),
                        },
                    );
                    println!("partition\tearliest\tlatest\tbytes\tsegments");
                    for p in d.partitions {
                        println!(
                            "{}\t{}\t{}\t{}\t{}",
                            p.partition, p.earliest, p.latest, p.bytes, p.segments
                        );
                    }
                    for (p, l) in &lost {
                        println!("DAMAGED partition {p}: {l}");
                    }
                }
            }
        }
        TopicCommand::Delete { name } => {
            log.delete_topic(&name)?;
            println!("deleted topic {name}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
