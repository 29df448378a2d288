//! `lk produce TOPIC`: standard input to a topic, one record per line.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use clap::Args;
use std::sync::Arc;

use master_log::{Bytes, Log, NewRecord, now_ms};

#[derive(Debug, Args)]
pub struct ProduceArgs {
    topic: String,
    /// Records per append when input arrives faster than it is written.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
}

pub fn run(
    args: ProduceArgs,
    open: impl Fn() -> anyhow::Result<Arc<dyn Log>>,
) -> anyhow::Result<ExitCode> {
    let log = open()?;
    // Fail early on an unknown topic, before reading any input.
    log.partition_count(&args.topic)?;
    let mut input = std::io::BufReader::with_capacity(1 << 16, std::io::stdin().lock());
    let mut pending = Vec::with_capacity(args.batch.max(1));
    let mut line = Vec::new();
    let mut total = 0u64;
    loop {
        line.clear();
        let n = input.read_until(b'\n', &mut line)?;
        if n > 0 {
            let mut text: &[u8] = &line;
            if let Some(stripped) = text.strip_suffix(b"\n") {
                text = stripped;
            }
            if let Some(stripped) = text.strip_suffix(b"\r") {
                text = stripped;
            }
            let (key, value) = match text.iter().position(|&b| b == b'\t') {
                Some(i) => (Some(Bytes::copy_from_slice(&text[..i])), &text[i + 1..]),
                None => (None, text),
            };
            pending.push(NewRecord {
                key,
                value: Some(Bytes::copy_from_slice(value)),
                event_time: now_ms(),
                headers: Vec::new(),
            });
        }
        // Write when the batch is full, at end of input, or when no more input is
        // buffered (so that an interactive producer's lines go out at once).
        let eof = n == 0;
        if !pending.is_empty() && (eof || pending.len() >= args.batch || input.buffer().is_empty())
        {
            total += pending.len() as u64;
            log.produce(&args.topic, std::mem::take(&mut pending))?;
        }
        if eof {
            break;
        }
    }
    let mut err = std::io::stderr();
    writeln!(err, "produced {total} records to {}", args.topic)?;
    Ok(ExitCode::SUCCESS)
}
