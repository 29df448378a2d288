//! `lk consume TOPIC`: print records.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use master_log::{AssignmentStrategy, Consumer, Log, Record, StartFrom};

use crate::text::{escape_field, json_bytes, rfc3339_ms};

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("start").args(["from_beginning", "from_time", "offset"])))]
pub struct ConsumeArgs {
    topic: String,
    /// Start at the earliest offset of every partition (default: only new records).
    #[arg(long)]
    from_beginning: bool,
    /// Start at the first record appended at or after this RFC 3339 time.
    #[arg(long, value_name = "RFC3339")]
    from_time: Option<String>,
    /// Read partition P from offset O (repeatable; only the partitions named are read).
    #[arg(long, value_name = "P:O")]
    offset: Vec<String>,
    /// Consume as a member of this group: start from its committed offsets and commit
    /// what was printed.
    #[arg(long)]
    group: Option<String>,
    /// Stop after this many records.
    #[arg(long)]
    max: Option<u64>,
    /// Stop when no record arrives for this long (e.g. 500ms, 10s); default: follow
    /// until interrupted.
    #[arg(long, value_name = "DURATION", value_parser = crate::text::duration)]
    idle_timeout: Option<Duration>,
    /// `text`: partition, offset, key, value separated by tabs; `json`: one object a line.
    #[arg(long, value_enum, default_value_t = crate::topic::Format::Text)]
    format: crate::topic::Format,
}

fn parse_offsets(specs: &[String]) -> anyhow::Result<BTreeMap<u32, u64>> {
    let mut map = BTreeMap::new();
    for s in specs {
        let (p, o) = s
            .split_once(':')
            .with_context(|| format!("--offset {s:?}: expected PARTITION:OFFSET, like 0:42"))?;
        let p: u32 = p
            .parse()
            .with_context(|| format!("--offset {s:?}: partition {p:?} is not a number"))?;
        let o: u64 = o
            .parse()
            .with_context(|| format!("--offset {s:?}: offset {o:?} is not a number"))?;
        map.insert(p, o);
    }
    Ok(map)
}

pub fn run(
    args: ConsumeArgs,
    open: impl Fn() -> anyhow::Result<Arc<dyn Log>>,
) -> anyhow::Result<ExitCode> {
    let idle = args.idle_timeout;
    let offsets = parse_offsets(&args.offset)?;
    let start = if args.from_beginning {
        StartFrom::Earliest
    } else if let Some(t) = &args.from_time {
        StartFrom::Time(crate::text::parse_rfc3339(t)?)
    } else if !offsets.is_empty() {
        StartFrom::Offsets(offsets.clone())
    } else {
        StartFrom::Latest
    };
    if args.group.is_some() && !offsets.is_empty() {
        anyhow::bail!("--offset and --group do not go together: a group reads what it is assigned");
    }
    let log = open()?;
    let mut consumer = match &args.group {
        Some(g) => Consumer::join(log, g, &args.topic, AssignmentStrategy::Range, start)?,
        None => {
            let parts = (!offsets.is_empty()).then(|| offsets.keys().copied().collect());
            Consumer::assign(log, &args.topic, parts, start)?
        }
    };

    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst))
            .context("install the Ctrl-C handler")?;
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut printed = 0u64;
    let mut last_record = Instant::now();
    let max = args.max.unwrap_or(u64::MAX);
    let mut line = String::new();
    'outer: while printed < max && !stop.load(Ordering::SeqCst) {
        let wait = match idle {
            Some(d) => d
                .saturating_sub(last_record.elapsed())
                .min(Duration::from_millis(200)),
            None => Duration::from_millis(200),
        };
        let batches = consumer.poll(wait)?;
        if batches.is_empty() {
            if idle.is_some_and(|d| last_record.elapsed() >= d) {
                break;
            }
            continue;
        }
        last_record = Instant::now();
        let mut unprinted: Vec<(u32, u64)> = Vec::new();
        for b in &batches {
            for r in &b.records {
                if printed >= max {
                    unprinted.push((b.partition, r.offset));
                    break;
                }
                line.clear();
                format_record(&mut line, b.partition, r, args.format);
                out.write_all(line.as_bytes())?;
                printed += 1;
            }
        }
        out.flush()?;
        // Give back what was fetched but not printed, so a group commits only what it
        // printed.
        for (p, o) in unprinted {
            consumer.seek(p, o)?;
        }
        if args.group.is_some() {
            consumer.commit()?;
        }
        if printed >= max {
            break 'outer;
        }
    }
    out.flush()?;
    if args.group.is_some() {
        consumer.commit()?;
    }
    Ok(ExitCode::SUCCESS)
}

fn format_record(line: &mut String, partition: u32, r: &Record, format: crate::topic::Format) {
    match format {
        crate::topic::Format::Text => {
            line.push_str(&partition.to_string());
            line.push('\t');
            line.push_str(&r.offset.to_string());
            line.push('\t');
            escape_field(r.key.as_deref().unwrap_or_default(), line);
            line.push('\t');
            escape_field(r.value.as_deref().unwrap_or_default(), line);
            line.push('\n');
        }
        crate::topic::Format::Json => {
            let headers: serde_json::Map<String, serde_json::Value> = r
                .headers
                .iter()
                .map(|h| (h.key.clone(), json_bytes(Some(&h.value))))
                .collect();
            let v = serde_json::json!({
                "partition": partition,
                "offset": r.offset,
                "key": json_bytes(r.key.as_deref()),
                "value": json_bytes(r.value.as_deref()),
                "event_time": rfc3339_ms(r.event_time),
                "append_time": rfc3339_ms(r.append_time),
                "headers": headers,
            });
            line.push_str(&v.to_string());
            line.push('\n');
        }
    }
}
