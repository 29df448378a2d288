//! CSV import of any user file into a topic, in constant memory.
//!
//! ```text
//!  file ──► header ──► schema: forced columns + types inferred from the first
//!   │                  `infer_rows` rows (integer ⊂ float, bool, timestamp, else string)
//!   │                  (or the schema the topic already has)
//!   ├─ on_error = fail: pass 1 checks every row, writes nothing; the first bad row
//!   │                   stops the import with its line number and reason
//!   └─ pass 2 (or the only pass with on_error = skip): each row ──► typed row value
//!         key = key column's text ──► Kafka's murmur2 partition, in file order
//!         bad rows (skip) ──► rejects CSV: line, reason, the row's fields
//! ```
//!
//! A row is bad when its field count differs from the header's, its time is empty or
//! unparsable, its key is empty, a field does not parse as its column's type or is out of
//! its range, a field is not UTF-8, a field is longer than `max_field_bytes`, the row is
//! longer than `max_line_bytes`, or its record would be larger than the topic's
//! `max_record_bytes`. Nulls are empty fields and the `null_values` markers.
//!
//! ## Bounded input
//! The file is read through [`CsvInput`]: never more than `max_line_bytes` of one row in
//! memory, so a file without newlines (or `/dev/zero`, or an endless pipe) stops at the
//! limit with the line and the byte offset, instead of filling memory. A header longer
//! than the limit stops the import; a longer data row is a bad row (in `skip` mode it is
//! read to its end without being kept, and rejected with its line and size). Batches
//! waiting for the log hold at most `batch_size` rows and about [`MAX_BATCH_BYTES`] per
//! partition.
//!
//! ## Numbers
//! Integers are 64-bit: a literal outside `i64` is out of range. Floats are 64-bit IEEE:
//! `inf`, `infinity` and `nan` (any case, with a sign for the infinities) are accepted as
//! the values they name, as DuckDB does; a finite literal too large for a float (`1e309`)
//! is out of range, not infinity; one too small rounds to zero or a subnormal, as IEEE
//! parsing does. An out-of-range value makes its row bad, with its line.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use master_log::{Log, LogError, NewRecord, TopicConfig, partition_for_key};

use crate::csv_input::{CsvInput, CsvRecord, Next};
use crate::error::{DatasetError, IoContext, Result};
use crate::file_identity::{FileIdentity, HashingReader};
use crate::import_options::{ImportOptions, ImportSummary, OnError};
use crate::progress::{Phase, Progress, ProgressFn, REPORT_EVERY};
use crate::rejects::Rejects;
use crate::row::{
    Column, ColumnType, RowEncoder, Schema, TimeFormat, parse_bool, parse_float, parse_integer,
    parse_timestamp_auto,
};
use crate::sidecar::{self, TopicContent};
use crate::staging;
use crate::topic::{ensure_topic, topic_records};

/// Bytes of record values a partition's batch holds before it is appended, even when it
/// has fewer than `batch_size` rows: big rows do not make big batches.
pub const MAX_BATCH_BYTES: usize = 4 << 20;

/// The CSV input of an import: the file, read in bounded memory and checksummed.
type Input = CsvInput<BufReader<HashingReader<File>>>;

/// What the parser needs of a schema, precomputed.
struct Plan {
    schema: Schema,
    types: Vec<ColumnType>,
    time_idx: usize,
    key_idx: Option<usize>,
    time_format: TimeFormat,
    nulls: HashSet<Vec<u8>>,
    max_field_bytes: u64,
    /// The largest record the topic takes (its `max_record_bytes`).
    max_record_bytes: usize,
}

impl Plan {
    fn new(schema: Schema, opts: &ImportOptions, max_record_bytes: usize) -> Self {
        Plan {
            max_field_bytes: opts.max_field_bytes,
            max_record_bytes,
            types: schema.columns.iter().map(|c| c.ty).collect(),
            time_idx: schema.index_of(&schema.time_column).unwrap_or(0),
            key_idx: schema.key_column.as_ref().and_then(|k| schema.index_of(k)),
            time_format: opts.time_format.clone(),
            nulls: opts
                .null_values
                .iter()
                .map(|s| s.as_bytes().to_vec())
                .collect(),
            schema,
        }
    }

    #[inline]
    fn is_null(&self, f: &[u8]) -> bool {
        f.is_empty() || (!self.nulls.is_empty() && self.nulls.contains(f))
    }

    /// Check and encode one row into `value`; returns the event time in µs.
    fn encode(&self, rec: CsvRecord<'_>, value: &mut Vec<u8>) -> std::result::Result<i64, String> {
        let n = self.types.len();
        if rec.len() != n {
            return Err(format!("expected {n} fields, found {}", rec.len()));
        }
        for (i, field) in rec.iter().enumerate() {
            if field.len() as u64 > self.max_field_bytes {
                return Err(format!(
                    "column {:?}: a field of {} bytes, longer than the field limit of {} \
                     bytes (--max-field-bytes)",
                    self.schema.columns[i].name,
                    field.len(),
                    self.max_field_bytes
                ));
            }
        }
        let time = self.encode_fields(rec, value)?;
        self.check_record_size(rec, value)?;
        Ok(time)
    }

    /// Encode the checked fields of a row; returns the event time in µs.
    fn encode_fields(
        &self,
        rec: CsvRecord<'_>,
        value: &mut Vec<u8>,
    ) -> std::result::Result<i64, String> {
        let n = self.types.len();
        let mut time = None;
        let mut enc = RowEncoder::begin(value, n, |i| self.is_null(rec.get(i)));
        for (i, (field, ty)) in rec.iter().zip(&self.types).enumerate() {
            let name = || &self.schema.columns[i].name;
            if self.is_null(field) {
                if i == self.time_idx {
                    return Err(format!("time column {:?} is empty", name()));
                }
                if Some(i) == self.key_idx {
                    return Err(format!("key column {:?} is empty", name()));
                }
                continue;
            }
            let text = std::str::from_utf8(field)
                .map_err(|_| format!("column {:?} is not valid UTF-8", name()))?;
            if i == self.time_idx {
                let us = self.time_format.parse(text).ok_or_else(|| {
                    format!(
                        "time column {:?}: cannot parse {:?} as {} (an instant from the \
                         year 0000 to 9999)",
                        name(),
                        text,
                        time_format_name(&self.time_format)
                    )
                })?;
                enc.integer(us);
                time = Some(us);
                continue;
            }
            let t = text.trim();
            let not =
                |ty: ColumnType| format!("column {:?}: {:?} is not a valid {ty}", name(), text);
            let range = |why: &str| format!("column {:?}: {text:?} is out of range: {why}", name());
            match ty {
                ColumnType::Integer => enc.integer(parse_integer(t).map_err(|e| match e {
                    Some(why) => range(why),
                    None => not(*ty),
                })?),
                ColumnType::Float => enc.float(parse_float(t).map_err(|e| match e {
                    Some(why) => range(why),
                    None => not(*ty),
                })?),
                ColumnType::Bool => enc.bool(parse_bool(t).ok_or_else(|| not(*ty))?),
                ColumnType::Timestamp => {
                    enc.integer(parse_timestamp_auto(t).ok_or_else(|| not(*ty))?)
                }
                ColumnType::String => enc.string(text),
            }
        }
        time.ok_or_else(|| "no time".to_owned())
    }

    /// Check that the row's record fits the topic's `max_record_bytes`.
    fn check_record_size(
        &self,
        rec: CsvRecord<'_>,
        value: &[u8],
    ) -> std::result::Result<(), String> {
        let key = self.key_idx.map(|k| rec.get(k));
        // The framing of a record without headers is well under 64 bytes.
        if key.map_or(0, <[u8]>::len) + value.len() + 64 <= self.max_record_bytes {
            return Ok(());
        }
        let size = NewRecord {
            key: key.map(Bytes::copy_from_slice),
            value: Some(Bytes::copy_from_slice(value)),
            event_time: 0,
            headers: Vec::new(),
        }
        .encoded_len();
        if size > self.max_record_bytes {
            return Err(format!(
                "the row's record would take {size} bytes, more than the topic's limit of {} \
                 bytes (max_record_bytes)",
                self.max_record_bytes
            ));
        }
        Ok(())
    }
}

/// Why the row at the reader's position is longer than the line limit. When `length` is
/// known (the row was read to its end), it is said.
fn too_long_reason(input: &Input, length: Option<u64>) -> String {
    let max = input.max_line_bytes();
    match length {
        Some(n) => format!(
            "a row of {n} bytes from byte offset {}, longer than the line limit of {max} bytes \
             (--max-line-bytes)",
            input.start()
        ),
        None => format!(
            "a row longer than the line limit of {max} bytes (--max-line-bytes): it starts at \
             byte offset {} and passes the limit at byte offset {}",
            input.start(),
            input.start() + max
        ),
    }
}

fn time_format_name(f: &TimeFormat) -> String {
    match f {
        TimeFormat::Rfc3339 => "rfc3339".into(),
        TimeFormat::EpochMs => "epoch-ms".into(),
        TimeFormat::EpochS => "epoch-s".into(),
        TimeFormat::Strftime(p) => format!("{p:?}"),
    }
}

/// Open the file and read its header: the reader, at the first data row, and the column
/// names.
fn open_input(opts: &ImportOptions) -> Result<(Input, Vec<String>)> {
    let f = File::open(&opts.file).ctx(|| format!("open {}", opts.file.display()))?;
    let mut input = CsvInput::new(
        BufReader::with_capacity(1 << 20, HashingReader::new(f)),
        opts.delimiter,
        opts.max_line_bytes,
    );
    let names = header_names(opts, &mut input)?;
    Ok((input, names))
}

/// Read the next row, with the error of a failed read.
fn next_row(opts: &ImportOptions, input: &mut Input) -> Result<Next> {
    input.next().ctx(|| format!("read {}", opts.file.display()))
}

/// The error of a bad row in `fail` mode.
fn bad_row(opts: &ImportOptions, line: u64, reason: String) -> DatasetError {
    DatasetError::BadRow {
        file: opts.file.clone(),
        line,
        reason,
    }
}

fn bad_file(opts: &ImportOptions, reason: String) -> DatasetError {
    DatasetError::BadFile {
        file: opts.file.clone(),
        reason,
    }
}

/// Infer column types of the file from its first `infer_rows` rows (all when 0). In
/// `fail` mode a row longer than the line limit ends the sample (the import stops there).
pub fn infer_schema(
    opts: &ImportOptions,
    progress: &mut ProgressFn<'_>,
) -> Result<(Schema, Vec<String>)> {
    let (mut input, names) = open_input(opts)?;
    let nulls: HashSet<Vec<u8>> = opts
        .null_values
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
    let forced: BTreeMap<&str, ColumnType> =
        opts.columns.iter().map(|(n, t)| (n.as_str(), *t)).collect();
    for name in forced.keys() {
        if !names.iter().any(|n| n == name) {
            return Err(bad_file(
                opts,
                format!("--columns names {name:?}, which is not a column of the header"),
            ));
        }
    }
    // Per column: (seen a value, could be integer, float, bool, timestamp).
    let mut could = vec![(false, true, true, true, true); names.len()];
    let mut report = Progress::new(Phase::Infer);
    report.total_items = (opts.infer_rows > 0).then_some(opts.infer_rows);
    let mut rows = 0u64;
    let mut too_long = None;
    while opts.infer_rows == 0 || rows < opts.infer_rows {
        match next_row(opts, &mut input)? {
            Next::End => break,
            Next::TooLong if opts.on_error == OnError::Fail => {
                // The sample ends here: the checking pass stops at this row (or an earlier
                // bad one) without reading it whole.
                too_long = Some(bad_row(opts, input.line(), too_long_reason(&input, None)));
                break;
            }
            Next::TooLong => {
                // Rejected by the writing pass; nothing to learn from it here.
                input
                    .skip_rest()
                    .ctx(|| format!("read {}", opts.file.display()))?;
                rows += 1;
                continue;
            }
            Next::Row => {}
        }
        rows += 1;
        let rec = input.record();
        for (i, f) in rec.iter().enumerate().take(names.len()) {
            if f.is_empty() || nulls.contains(f) {
                continue;
            }
            let Ok(s) = std::str::from_utf8(f) else {
                could[i] = (true, false, false, false, false);
                continue;
            };
            let s = s.trim();
            let c = &mut could[i];
            c.0 = true;
            if c.1 && s.parse::<i64>().is_err() {
                c.1 = false;
            }
            if c.2 && s.parse::<f64>().is_err() {
                c.2 = false;
            }
            if c.3 && parse_bool(s).is_none() {
                c.3 = false;
            }
            if c.4 && parse_timestamp_auto(s).is_none() {
                c.4 = false;
            }
        }
        if rows.is_multiple_of(REPORT_EVERY) {
            report.items = rows;
            report.bytes = input.position();
            progress(&report);
        }
    }
    report.items = rows;
    report.done = true;
    progress(&report);
    let time_column = if opts.time_column.is_empty() {
        // Not named: the first column whose values all read as timestamps.
        names
            .iter()
            .zip(&could)
            .find(|(name, c)| {
                forced
                    .get(name.as_str())
                    .map_or(c.0 && c.4 && !c.1 && !c.2, |t| *t == ColumnType::Timestamp)
            })
            .map(|(name, _)| name.clone())
            .ok_or_else(|| {
                // A row past the line limit cut the sample short: that is the error.
                too_long.take().unwrap_or_else(|| {
                    bad_file(
                        opts,
                        "no column holds timestamps in the rows read to infer the types: name \
                         the event-time column (--time-column)"
                            .into(),
                    )
                })
            })?
    } else {
        opts.time_column.clone()
    };
    let columns = names
        .iter()
        .zip(&could)
        .map(|(name, &(seen, int, float, boolean, ts))| {
            let ty = if let Some(t) = forced.get(name.as_str()) {
                *t
            } else if name == &time_column {
                ColumnType::Timestamp
            } else if !seen {
                ColumnType::String
            } else if int {
                ColumnType::Integer
            } else if float {
                ColumnType::Float
            } else if boolean {
                ColumnType::Bool
            } else if ts {
                ColumnType::Timestamp
            } else {
                ColumnType::String
            };
            Column {
                name: name.clone(),
                ty,
            }
        })
        .collect();
    let schema = Schema {
        columns,
        time_column,
        key_column: opts.key_column.clone(),
    };
    check_schema(opts, &schema)?;
    Ok((schema, forced.keys().map(|s| (*s).to_owned()).collect()))
}

/// Read the header line: the column names, checked.
fn header_names(opts: &ImportOptions, input: &mut Input) -> Result<Vec<String>> {
    match input
        .next()
        .ctx(|| format!("read the header of {}", opts.file.display()))?
    {
        Next::Row => {}
        Next::End => return Err(bad_file(opts, "the file is empty: no header line".into())),
        Next::TooLong => {
            return Err(bad_file(
                opts,
                format!(
                    "line {}: the header is {}",
                    input.line(),
                    too_long_reason(input, None)
                ),
            ));
        }
    }
    let header = input.record();
    let mut names = Vec::with_capacity(header.len());
    for (i, f) in header.iter().enumerate() {
        let name = std::str::from_utf8(f)
            .map_err(|_| bad_file(opts, format!("header field {} is not UTF-8", i + 1)))?
            .trim_start_matches('\u{feff}')
            .trim()
            .to_owned();
        if name.is_empty() {
            return Err(bad_file(opts, format!("header field {} is empty", i + 1)));
        }
        if names.contains(&name) {
            return Err(bad_file(
                opts,
                format!("column {name:?} appears twice in the header"),
            ));
        }
        names.push(name);
    }
    Ok(names)
}

fn check_schema(opts: &ImportOptions, schema: &Schema) -> Result<()> {
    let Some(t) = schema.index_of(&schema.time_column) else {
        return Err(bad_file(
            opts,
            format!("no time column {:?} in the header", schema.time_column),
        ));
    };
    if schema.columns[t].ty != ColumnType::Timestamp {
        return Err(bad_file(
            opts,
            format!(
                "the time column {:?} must be a timestamp, not {}",
                schema.time_column, schema.columns[t].ty
            ),
        ));
    }
    if let Some(k) = &schema.key_column
        && schema.index_of(k).is_none()
    {
        return Err(bad_file(opts, format!("no key column {k:?} in the header")));
    }
    Ok(())
}

/// Import `opts.file` into `opts.topic` of `log` (created with `opts.partitions`
/// partitions if it does not exist).
///
/// With `sidecar_dir`, the schema and this import's summary go to
/// `<sidecar_dir>/<topic>.json`; a topic that already has a schema there only takes files
/// with the same columns, whose types it keeps. The import is then atomic (see
/// [`crate::staging`]): interrupted imports into the topic are recovered first, the rows
/// are staged and published after a commit marker, and a file whose bytes the topic
/// already took completely is refused ([`DatasetError::AlreadyImported`]) unless
/// `opts.again`. Without `sidecar_dir` (no place for the marker) the rows go straight to
/// the topic, and an interrupted import leaves what it wrote.
pub fn import_csv(
    log: &dyn Log,
    opts: &ImportOptions,
    sidecar_dir: Option<&Path>,
    progress: &mut ProgressFn<'_>,
) -> Result<ImportSummary> {
    let started = Instant::now();
    let total_bytes = check_options(opts)?;
    if let Some(dir) = sidecar_dir {
        staging::recover(log, dir, &opts.topic)?;
    }
    let (schema, forced, previous_imports) = import_schema(log, opts, sidecar_dir, progress)?;
    let plan = Plan::new(schema, opts, max_record_bytes(log, opts)?);
    if opts.on_error == OnError::Fail {
        validate_rows(opts, &plan, total_bytes, progress)?;
    }
    let mut summary = ImportSummary {
        file: opts.file.clone(),
        topic: opts.topic.clone(),
        partitions: 0,
        schema: plan.schema.clone(),
        forced,
        rows: 0,
        accepted: 0,
        rejected: 0,
        first_rejects: Vec::new(),
        rejects_file: None,
        bytes: total_bytes,
        records_per_partition: Vec::new(),
        min_event_time: None,
        max_event_time: None,
        elapsed_ms: 0,
        rows_per_s: 0.0,
        source: None,
    };
    let Some(dir) = sidecar_dir else {
        summary.partitions = ensure_topic(log, &opts.topic, opts.partitions)?;
        summary.records_per_partition = vec![0; summary.partitions as usize];
        let path = rejects_path(opts, None);
        let rejects = Rejects::new(path.clone(), path);
        let identity = write_rows(
            log,
            &opts.topic,
            opts,
            &plan,
            rejects,
            &mut summary,
            progress,
        )?;
        summary.source = Some(identity);
        set_elapsed(&mut summary, started);
        return Ok(summary);
    };
    let staged = Staged {
        plan: &plan,
        previous_imports,
        started,
    };
    import_staged(log, opts, dir, staged, summary, progress)
}

/// What a staged import carries from the checks to the commit.
struct Staged<'a> {
    plan: &'a Plan,
    previous_imports: Vec<ImportSummary>,
    started: Instant,
}

/// Write the rows into a staging topic, refuse a file imported before, then commit and
/// publish them with the sidecar (see [`crate::staging`]).
fn import_staged(
    log: &dyn Log,
    opts: &ImportOptions,
    dir: &Path,
    mut staged: Staged<'_>,
    mut summary: ImportSummary,
    progress: &mut ProgressFn<'_>,
) -> Result<ImportSummary> {
    // A file of the size of one imported before is checked before anything is staged
    // (one read); the check after staging is the one that counts (the file may change).
    if !opts.again
        && staged
            .previous_imports
            .iter()
            .any(|s| s.source.as_ref().is_some_and(|p| p.bytes == summary.bytes))
    {
        let identity = crate::file_identity::identify(&opts.file)
            .ctx(|| format!("read {}", opts.file.display()))?;
        check_not_imported(opts, &identity, &staged.previous_imports)?;
    }
    let stage = staging::begin(log, &opts.topic, opts.partitions)?;
    summary.partitions = stage.partitions();
    summary.records_per_partition = vec![0; summary.partitions as usize];
    let final_rejects = rejects_path(opts, Some(dir));
    let staged_rejects = master_log::durable::temp_path(&final_rejects);
    let rejects = Rejects::new(staged_rejects.clone(), final_rejects);
    let written = write_rows(
        log,
        &stage.topic,
        opts,
        staged.plan,
        rejects,
        &mut summary,
        progress,
    )
    .and_then(|identity| {
        check_not_imported(opts, &identity, &staged.previous_imports)?;
        Ok(identity)
    });
    let identity = match written {
        Ok(identity) => identity,
        Err(e) => {
            // Nothing was committed: drop what was staged. Should that fail, the next
            // import into the topic deletes the staging topic.
            let _ = stage.abort(log);
            let _ = std::fs::remove_file(&staged_rejects);
            return Err(e);
        }
    };
    summary.source = Some(identity);
    set_elapsed(&mut summary, staged.started);
    staged.previous_imports.push(summary.clone());
    let content = TopicContent::Csv {
        schema: staged.plan.schema.clone(),
        imports: staged.previous_imports,
    };
    staging::commit(log, dir, stage, content, summary.rejects_file.clone())?;
    Ok(summary)
}

/// Refuse (unless `opts.again`) a file with the same bytes as one the topic took before.
fn check_not_imported(
    opts: &ImportOptions,
    identity: &FileIdentity,
    previous: &[ImportSummary],
) -> Result<()> {
    if opts.again {
        return Ok(());
    }
    let earlier = previous
        .iter()
        .find(|s| s.source.as_ref().is_some_and(|p| p.same_content(identity)));
    match earlier {
        Some(s) => Err(DatasetError::AlreadyImported {
            file: opts.file.clone(),
            topic: opts.topic.clone(),
            earlier: s.file.clone(),
            rows: s.rows,
            bytes: identity.bytes,
            crc32c: identity.crc32c,
        }),
        None => Ok(()),
    }
}

/// Set the summary's time taken and rate.
fn set_elapsed(summary: &mut ImportSummary, started: Instant) {
    let elapsed = started.elapsed();
    summary.elapsed_ms = elapsed.as_millis() as u64;
    summary.rows_per_s = summary.rows as f64 / elapsed.as_secs_f64().max(1e-9);
}

/// The largest record the topic takes: its own limit, or (not created yet) the limit it
/// will be created with.
fn max_record_bytes(log: &dyn Log, opts: &ImportOptions) -> Result<usize> {
    let max = match log.describe_topic(&opts.topic) {
        Ok(d) => d.info.config.max_record_bytes,
        Err(LogError::UnknownTopic(_)) => {
            TopicConfig::with_partitions(opts.partitions).max_record_bytes
        }
        Err(e) => return Err(e.into()),
    };
    Ok(usize::try_from(max).unwrap_or(usize::MAX))
}

/// Reject options an import cannot run with; returns the size of the file in bytes.
fn check_options(opts: &ImportOptions) -> Result<u64> {
    master_log::validate_name(&opts.topic)?;
    staging::check_target_name(&opts.topic)?;
    if opts.partitions == 0 || opts.batch_size == 0 {
        return Err(DatasetError::InvalidOptions(
            "partitions and batch_size must be positive".into(),
        ));
    }
    if opts.max_field_bytes == 0 || opts.max_line_bytes < crate::import_options::MIN_LINE_BYTES {
        return Err(DatasetError::InvalidOptions(format!(
            "max_field_bytes must be positive and max_line_bytes at least {} bytes",
            crate::import_options::MIN_LINE_BYTES
        )));
    }
    Ok(std::fs::metadata(&opts.file)
        .ctx(|| format!("read {}", opts.file.display()))?
        .len())
}

/// The schema of an import — the topic's own, or inferred from the file — with the
/// columns whose type the options forced, and the topic's earlier imports.
fn import_schema(
    log: &dyn Log,
    opts: &ImportOptions,
    sidecar_dir: Option<&Path>,
    progress: &mut ProgressFn<'_>,
) -> Result<(Schema, Vec<String>, Vec<ImportSummary>)> {
    let existing = match sidecar_dir {
        Some(dir) => sidecar::read_sidecar(dir, &opts.topic)?,
        None => None,
    };
    match existing.map(|m| m.content) {
        Some(TopicContent::Csv { schema, imports }) => {
            check_topic_schema(opts, &schema)?;
            Ok((schema, Vec::new(), imports))
        }
        Some(TopicContent::Generated(g)) => Err(DatasetError::SchemaMismatch {
            topic: opts.topic.clone(),
            reason: format!("it holds generated {} events", g.options.dataset),
        }),
        None => {
            if sidecar_dir.is_some() && topic_records(log, &opts.topic)? > 0 {
                return Err(DatasetError::SchemaMismatch {
                    topic: opts.topic.clone(),
                    reason: "it holds records but has no sidecar schema".into(),
                });
            }
            let (schema, forced) = infer_schema(opts, progress)?;
            Ok((schema, forced, Vec::new()))
        }
    }
}

/// Check that the file and the options fit the schema the topic already has: the same
/// columns, time and key columns, and forced types.
fn check_topic_schema(opts: &ImportOptions, schema: &Schema) -> Result<()> {
    let mismatch = |reason: String| DatasetError::SchemaMismatch {
        topic: opts.topic.clone(),
        reason,
    };
    let (_, names) = open_input(opts)?;
    let theirs: Vec<&str> = schema.columns.iter().map(|c| c.name.as_str()).collect();
    if names != theirs {
        return Err(mismatch(format!(
            "its columns are {theirs:?}, this file's are {names:?}"
        )));
    }
    let time_differs = !opts.time_column.is_empty() && schema.time_column != opts.time_column;
    if time_differs || schema.key_column != opts.key_column {
        return Err(mismatch(format!(
            "its time column is {:?} and key column {:?}",
            schema.time_column, schema.key_column
        )));
    }
    for (name, ty) in &opts.columns {
        if schema.index_of(name).map(|i| schema.columns[i].ty) != Some(*ty) {
            return Err(mismatch(format!("column {name:?} is not {ty} there")));
        }
    }
    Ok(())
}

/// Pass 1 in `fail` mode: check every row, write nothing; the first bad row is the error.
fn validate_rows(
    opts: &ImportOptions,
    plan: &Plan,
    total_bytes: u64,
    progress: &mut ProgressFn<'_>,
) -> Result<()> {
    let (mut input, _) = open_input(opts)?;
    let mut value = Vec::with_capacity(256);
    let mut report = Progress::new(Phase::Validate);
    report.total_bytes = Some(total_bytes);
    let mut rows = 0u64;
    loop {
        match next_row(opts, &mut input)? {
            Next::End => break,
            Next::TooLong => {
                return Err(bad_row(opts, input.line(), too_long_reason(&input, None)));
            }
            Next::Row => {}
        }
        rows += 1;
        value.clear();
        if let Err(reason) = plan.encode(input.record(), &mut value) {
            return Err(bad_row(opts, input.line(), reason));
        }
        if rows.is_multiple_of(REPORT_EVERY) {
            report.items = rows;
            report.bytes = input.position();
            progress(&report);
        }
    }
    report.items = rows;
    report.bytes = total_bytes;
    report.done = true;
    progress(&report);
    Ok(())
}

/// Where the rejected rows of an import go: the option, else beside the sidecar, else
/// beside the file.
fn rejects_path(opts: &ImportOptions, sidecar_dir: Option<&Path>) -> PathBuf {
    opts.rejects.clone().unwrap_or_else(|| match sidecar_dir {
        Some(dir) => dir.join(format!("{}.rejects.csv", opts.topic)),
        None => {
            let mut p = opts.file.as_os_str().to_owned();
            p.push(".rejects.csv");
            PathBuf::from(p)
        }
    })
}

/// The writing pass: every good row into its partition's batch of `topic`, every bad row
/// into the rejects file (`skip`) or the error (`fail`: the file changed since pass 1).
/// Returns the identity of the file as read.
fn write_rows(
    log: &dyn Log,
    topic: &str,
    opts: &ImportOptions,
    plan: &Plan,
    mut rejects: Rejects,
    summary: &mut ImportSummary,
    progress: &mut ProgressFn<'_>,
) -> Result<FileIdentity> {
    let (mut input, _) = open_input(opts)?;
    let mut value = Vec::with_capacity(256);
    let mut batches = Batches::new(summary.partitions, opts.batch_size);
    let mut report = Progress::new(Phase::Write);
    report.total_bytes = Some(summary.bytes);
    loop {
        let outcome = match next_row(opts, &mut input)? {
            Next::End => break,
            Next::TooLong if opts.on_error == OnError::Fail => Err(too_long_reason(&input, None)),
            Next::TooLong => {
                let length = input
                    .skip_rest()
                    .ctx(|| format!("read {}", opts.file.display()))?;
                Err(too_long_reason(&input, Some(length)))
            }
            Next::Row => {
                value.clear();
                plan.encode(input.record(), &mut value)
            }
        };
        summary.rows += 1;
        let line = input.line();
        match outcome {
            Ok(us) => {
                let ms = us.div_euclid(1000);
                summary.min_event_time = Some(summary.min_event_time.map_or(ms, |m| m.min(ms)));
                summary.max_event_time = Some(summary.max_event_time.map_or(ms, |m| m.max(ms)));
                let key = plan.key_idx.map(|k| input.record().get(k));
                let p = batches.push(log, topic, key, &value, ms)?;
                summary.accepted += 1;
                summary.records_per_partition[p] += 1;
            }
            Err(reason) if opts.on_error == OnError::Fail => {
                // The file changed since pass 1 (what is written stays written unless
                // it was staged).
                return Err(bad_row(
                    opts,
                    line,
                    format!("{reason} (the file changed during the import)"),
                ));
            }
            Err(reason) => rejects.push(line, reason, input.record(), summary)?,
        }
        if summary.rows.is_multiple_of(REPORT_EVERY) {
            report.items = summary.rows;
            report.bytes = input.position();
            progress(&report);
        }
    }
    batches.flush(log, topic)?;
    rejects.finish()?;
    report.items = summary.rows;
    report.bytes = summary.bytes;
    report.done = true;
    progress(&report);
    Ok(input.source().get_ref().identity(&opts.file))
}

/// Records waiting to be appended, one batch per partition, their bytes in one arena.
struct Batches {
    buffers: Vec<Vec<NewRecord>>,
    /// Bytes of keys and values in each partition's batch.
    bytes: Vec<usize>,
    arena: BytesMut,
    batch_size: usize,
    /// Where keyless rows go: the next partition each time a batch of them is appended.
    keyless_partition: u32,
}

impl Batches {
    fn new(partitions: u32, batch_size: usize) -> Self {
        Batches {
            buffers: (0..partitions)
                .map(|_| Vec::with_capacity(batch_size.min(4096)))
                .collect(),
            bytes: vec![0; partitions as usize],
            arena: BytesMut::with_capacity(1 << 20),
            batch_size,
            keyless_partition: 0,
        }
    }

    fn freeze(&mut self, b: &[u8]) -> Bytes {
        if self.arena.capacity() - self.arena.len() < b.len() {
            self.arena.reserve(b.len().max(1 << 20));
        }
        self.arena.extend_from_slice(b);
        self.arena.split().freeze()
    }

    /// Add one row to its partition's batch (by its key, or the keyless rotation) and
    /// append the batch when full (`batch_size` rows or [`MAX_BATCH_BYTES`]); returns the
    /// partition.
    fn push(
        &mut self,
        log: &dyn Log,
        topic: &str,
        key: Option<&[u8]>,
        value: &[u8],
        event_time: i64,
    ) -> Result<usize> {
        let partitions = self.buffers.len() as u32;
        let key = key.map(|k| self.freeze(k));
        let p = match &key {
            Some(k) => partition_for_key(k, partitions),
            None => self.keyless_partition,
        } as usize;
        let keyless = key.is_none();
        self.bytes[p] += key.as_ref().map_or(0, Bytes::len) + value.len();
        let value = self.freeze(value);
        self.buffers[p].push(NewRecord {
            key,
            value: Some(value),
            event_time,
            headers: Vec::new(),
        });
        if self.buffers[p].len() >= self.batch_size || self.bytes[p] >= MAX_BATCH_BYTES {
            log.append(topic, p as u32, &self.buffers[p])?;
            self.buffers[p].clear();
            self.bytes[p] = 0;
            if keyless {
                self.keyless_partition = (self.keyless_partition + 1) % partitions;
            }
        }
        Ok(p)
    }

    /// Append what is left in every batch.
    fn flush(&mut self, log: &dyn Log, topic: &str) -> Result<()> {
        for (p, buf) in self.buffers.iter_mut().enumerate() {
            if !buf.is_empty() {
                log.append(topic, p as u32, buf)?;
                buf.clear();
                self.bytes[p] = 0;
            }
        }
        Ok(())
    }
}
