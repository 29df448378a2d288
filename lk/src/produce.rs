//! `lk produce TOPIC`: standard input to a topic, one record per line.
//!
//! Each line is checked as it is read against what the log would refuse (a record larger
//! than the topic's `max_record_bytes`, a keyless record on a compacted topic), and a line
//! longer than the record limit is not even read whole: input without newlines stays in
//! bounded memory. A batch (up to `--batch` lines) is appended only once every line of it
//! passed, one append per partition, each all or nothing; keyless lines of one batch go
//! to one partition, rotating between batches (Kafka's sticky partitioner). When a line
//! is refused, the lines before it are committed and nothing from it on, and the error
//! says so, with the line's number; when an append fails, the error says which lines and
//! partitions were committed.

use std::io::{BufRead, Read, Write};
use std::process::ExitCode;

use clap::Args;
use std::sync::Arc;

use master_log::{Bytes, Log, NewRecord, now_ms, partition_for_key};

#[derive(Debug, Args)]
pub struct ProduceArgs {
    topic: String,
    /// Records per append when input arrives faster than it is written.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
}

/// Why `lk produce` stopped, with what it had committed: lines `1..=committed` of the
/// input (`committed` records), and `partial` records of a failed batch beyond them.
#[derive(Debug)]
struct ProduceError {
    reason: String,
    committed: u64,
    partial: Option<String>,
}

impl std::fmt::Display for ProduceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}; ", self.reason)?;
        match (self.committed, &self.partial) {
            (0, None) => write!(f, "nothing was committed"),
            (0, Some(p)) => write!(f, "nothing before was committed; {p}"),
            (n, None) => write!(
                f,
                "lines 1 to {n} were committed ({n} records), nothing after them"
            ),
            (n, Some(p)) => write!(f, "lines 1 to {n} were committed ({n} records); {p}"),
        }
    }
}

impl std::error::Error for ProduceError {}

/// What the log refuses of a record, known before anything is sent.
struct Limits {
    partitions: u32,
    max_record_bytes: usize,
    compacted: bool,
}

/// The lines read but not appended yet, and what was committed before them.
struct Producer<'a> {
    log: &'a dyn Log,
    topic: &'a str,
    limits: Limits,
    pending: Vec<NewRecord>,
    /// Lines committed so far: the input's lines `1..=committed`.
    committed: u64,
    /// The partition of the next batch's keyless records.
    sticky: u32,
}

impl Producer<'_> {
    /// Check line `number`'s record against the topic's limits.
    fn check(&self, number: u64, record: &NewRecord) -> Result<(), ProduceError> {
        let size = record.encoded_len();
        let reason = if size > self.limits.max_record_bytes {
            format!(
                "line {number}: its record takes {size} bytes, more than the topic's limit of {} \
                 bytes (max_record_bytes)",
                self.limits.max_record_bytes
            )
        } else if self.limits.compacted && record.key.is_none() {
            format!(
                "line {number}: topic {} is compacted and every record needs a key \
                 (KEY<TAB>VALUE)",
                self.topic
            )
        } else {
            return Ok(());
        };
        Err(ProduceError {
            reason,
            committed: self.committed,
            partial: None,
        })
    }

    /// Append the pending lines, one append per partition; on a failure, say which
    /// partitions' records were committed.
    fn flush(&mut self) -> Result<(), ProduceError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let sticky = self.sticky;
        self.sticky = (self.sticky + 1) % self.limits.partitions;
        let mut by_partition = std::collections::BTreeMap::<u32, Vec<NewRecord>>::new();
        let lines = self.pending.len() as u64;
        for r in self.pending.drain(..) {
            let p = match &r.key {
                Some(k) => partition_for_key(k, self.limits.partitions),
                None => sticky,
            };
            by_partition.entry(p).or_default().push(r);
        }
        let (first, last) = (self.committed + 1, self.committed + lines);
        let mut done: Vec<String> = Vec::new();
        for (p, records) in &by_partition {
            if let Err(e) = self.log.append(self.topic, *p, records) {
                let partial = if done.is_empty() {
                    format!("nothing of lines {first} to {last} was committed")
                } else {
                    format!(
                        "of lines {first} to {last}, only the records of partition(s) {} were \
                         committed",
                        done.join(", ")
                    )
                };
                return Err(ProduceError {
                    reason: format!("appending lines {first} to {last} to partition {p}: {e}"),
                    committed: self.committed,
                    partial: Some(partial),
                });
            }
            done.push(format!("{p} ({} records)", records.len()));
        }
        self.committed = last;
        Ok(())
    }
}

/// Split a line into its record: `KEY<TAB>VALUE`, or a value alone.
fn record_of(line: &[u8]) -> NewRecord {
    let mut text = line;
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
    NewRecord {
        key,
        value: Some(Bytes::copy_from_slice(value)),
        event_time: now_ms(),
        headers: Vec::new(),
    }
}

/// The topic's limits, as the log reports them.
fn limits(log: &dyn Log, topic: &str) -> anyhow::Result<Limits> {
    let d = log.describe_topic(topic)?;
    Ok(Limits {
        partitions: d.info.config.partitions.max(1),
        max_record_bytes: usize::try_from(d.info.config.max_record_bytes).unwrap_or(usize::MAX),
        compacted: d.info.config.compact,
    })
}

pub fn run(
    args: ProduceArgs,
    open: impl Fn() -> anyhow::Result<Arc<dyn Log>>,
) -> anyhow::Result<ExitCode> {
    let log = open()?;
    // Fail early on an unknown topic, before reading any input.
    let limits = limits(log.as_ref(), &args.topic)?;
    // A line longer than the record limit (and its line ending) cannot fit: read no more
    // of it than that.
    let longest = limits.max_record_bytes as u64 + 2;
    let mut producer = Producer {
        log: log.as_ref(),
        topic: &args.topic,
        sticky: 0,
        limits,
        pending: Vec::with_capacity(args.batch.clamp(1, 1 << 16)),
        committed: 0,
    };
    let mut input = std::io::BufReader::with_capacity(1 << 16, std::io::stdin().lock());
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        let n = (&mut input).take(longest).read_until(b'\n', &mut line)?;
        if n > 0 {
            number += 1;
            if n as u64 == longest && !line.ends_with(b"\n") {
                producer.flush()?;
                return Err(ProduceError {
                    reason: format!(
                        "line {number}: longer than the topic's record limit of {} bytes \
                         (max_record_bytes); it was not read to its end",
                        producer.limits.max_record_bytes
                    ),
                    committed: producer.committed,
                    partial: None,
                }
                .into());
            }
            let record = record_of(&line);
            if let Err(e) = producer.check(number, &record) {
                producer.flush()?;
                return Err(ProduceError {
                    committed: producer.committed,
                    ..e
                }
                .into());
            }
            producer.pending.push(record);
        }
        // Write when the batch is full, at end of input, or when no more input is
        // buffered (so that an interactive producer's lines go out at once).
        let eof = n == 0;
        if eof || producer.pending.len() >= args.batch || input.buffer().is_empty() {
            producer.flush()?;
        }
        if eof {
            break;
        }
    }
    let mut err = std::io::stderr();
    writeln!(
        err,
        "produced {} records to {}",
        producer.committed, args.topic
    )?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_says_what_was_committed() {
        let e = |committed, partial: Option<&str>| {
            ProduceError {
                reason: "line 9: bad".into(),
                committed,
                partial: partial.map(str::to_owned),
            }
            .to_string()
        };
        assert_eq!(e(0, None), "line 9: bad; nothing was committed");
        assert_eq!(
            e(8, None),
            "line 9: bad; lines 1 to 8 were committed (8 records), nothing after them"
        );
        assert_eq!(
            e(8, Some("nothing of lines 9 to 12 was committed")),
            "line 9: bad; lines 1 to 8 were committed (8 records); nothing of lines 9 to 12 \
             was committed"
        );
        assert_eq!(
            e(0, Some("of lines 1 to 4, only …")),
            "line 9: bad; nothing before was committed; of lines 1 to 4, only …"
        );
    }
}
