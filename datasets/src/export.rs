//! Export of a topic's events to CSV, for any dataset (generated or imported).
//!
//! Columns: `partition, offset, event_time, append_time` (RFC 3339 UTC, ms), then the
//! event's own columns: a generated dataset's fields (the event time, equal to the
//! record's, is not repeated; NEXMark flattens persons, auctions and bids into one wide
//! row with a `kind` column), or an imported file's columns with their types. A data
//! column named like a metadata column pushes the metadata column to `_partition`,
//! `_offset`, and so on. Nulls are empty fields; timestamps are RFC 3339 UTC with as
//! many fractional digits as needed; floats are written in their shortest round-trip
//! form — so importing an export gives back the same values.
//!
//! Partitions are written one after the other, each in offset order, up to the end
//! offsets captured when the export starts.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use master_log::{FetchLimits, Log, Record};
use serde::{Deserialize, Serialize};

use crate::codec::{self, TAG_NEXMARK, TAG_PAGEVIEW, TAG_ROW, TAG_YSB};
use crate::error::{DatasetError, IoContext, Result};
use crate::generate::DatasetKind;
use crate::nexmark::NexmarkEvent;
use crate::pageviews::PageView;
use crate::progress::{Phase, Progress, ProgressFn, REPORT_EVERY};
use crate::row::{Schema, format_millis};
use crate::sidecar::{self, TopicContent};
use crate::ysb::YsbEvent;

/// Options of `lk export`, one field per flag.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExportOptions {
    pub topic: String,
    /// Keep records with `event_time >= from_ms` (ms since the epoch).
    pub from_ms: Option<i64>,
    /// Keep records with `event_time < to_ms`.
    pub to_ms: Option<i64>,
    /// Only these partitions (all when empty).
    pub partitions: Vec<u32>,
    /// Leave out the `partition, offset, event_time, append_time` columns.
    pub no_metadata: bool,
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportSummary {
    pub topic: String,
    /// `pageviews`, `ysb`, `nexmark` or `csv`.
    pub content: String,
    pub columns: Vec<String>,
    /// Records read from the log.
    pub records_read: u64,
    /// Rows written (records inside the time range).
    pub rows: u64,
    pub output: Option<PathBuf>,
    pub elapsed_ms: u64,
}

/// What the records of a topic are.
#[derive(Debug, Clone)]
enum Content {
    Generated(DatasetKind),
    Rows(Schema),
}

fn detect(log: &dyn Log, topic: &str, sidecar_dir: Option<&Path>) -> Result<Content> {
    if let Some(dir) = sidecar_dir
        && let Some(m) = sidecar::read_sidecar(dir, topic)?
    {
        return Ok(match m.content {
            TopicContent::Generated(g) => Content::Generated(g.options.dataset),
            TopicContent::Csv { schema, .. } => Content::Rows(schema),
        });
    }
    // No sidecar: look at the first record's tag byte.
    let unknown = |reason: &str| DatasetError::UnknownDataset {
        topic: topic.to_owned(),
        reason: reason.to_owned(),
    };
    for p in 0..log.partition_count(topic)? {
        let (earliest, latest) = log.offsets(topic, p)?;
        if earliest == latest {
            continue;
        }
        let recs = log.fetch(
            topic,
            p,
            earliest,
            FetchLimits {
                max_records: 1,
                max_bytes: 1,
            },
        )?;
        let Some(v) = recs.first().and_then(|r| r.value.as_deref()) else {
            continue;
        };
        return Ok(match v.first() {
            Some(&TAG_PAGEVIEW) => Content::Generated(DatasetKind::Pageviews),
            Some(&TAG_YSB) => Content::Generated(DatasetKind::Ysb),
            Some(&TAG_NEXMARK) => Content::Generated(DatasetKind::Nexmark),
            Some(&TAG_ROW) => {
                return Err(unknown("rows of an imported file, but no sidecar schema"));
            }
            Some(b'{') => {
                if codec::decode::<YsbEvent>(v).is_ok() {
                    Content::Generated(DatasetKind::Ysb)
                } else if codec::decode::<PageView>(v).is_ok() {
                    Content::Generated(DatasetKind::Pageviews)
                } else if codec::decode::<NexmarkEvent<'_>>(v).is_ok() {
                    Content::Generated(DatasetKind::Nexmark)
                } else {
                    return Err(unknown("JSON values of no known dataset"));
                }
            }
            _ => return Err(unknown("values of no known dataset")),
        });
    }
    Err(unknown("the topic is empty and has no sidecar"))
}

const PAGEVIEW_COLUMNS: &[&str] = &[
    "event_id",
    "viewer_id",
    "page_id",
    "page_type",
    "country",
    "device",
];
const YSB_COLUMNS: &[&str] = &[
    "event_id",
    "user_id",
    "page_id",
    "ad_id",
    "ad_type",
    "event_type",
    "ip_address",
];
const NEXMARK_COLUMNS: &[&str] = &[
    "kind",
    "event_id",
    "date_time",
    "person_id",
    "name",
    "email_address",
    "credit_card",
    "city",
    "state",
    "auction_id",
    "item_name",
    "description",
    "initial_bid",
    "reserve",
    "expires",
    "seller",
    "category",
    "auction",
    "bidder",
    "price",
    "channel",
    "url",
];

impl Content {
    fn name(&self) -> String {
        match self {
            Content::Generated(d) => d.name().to_owned(),
            Content::Rows(_) => "csv".into(),
        }
    }

    fn columns(&self) -> Vec<String> {
        match self {
            Content::Generated(DatasetKind::Pageviews) => {
                PAGEVIEW_COLUMNS.iter().map(|s| (*s).to_owned()).collect()
            }
            Content::Generated(DatasetKind::Ysb) => {
                YSB_COLUMNS.iter().map(|s| (*s).to_owned()).collect()
            }
            Content::Generated(DatasetKind::Nexmark) => {
                NEXMARK_COLUMNS.iter().map(|s| (*s).to_owned()).collect()
            }
            Content::Rows(s) => s.columns.iter().map(|c| c.name.clone()).collect(),
        }
    }

    /// Append the record's data fields to `fields` (cleared by the caller).
    fn fields(&self, rec: &Record, fields: &mut Vec<String>) -> Result<()> {
        let value = rec.value.as_deref().ok_or_else(|| DatasetError::Decode {
            what: "record",
            reason: format!("offset {} is a tombstone", rec.offset),
        })?;
        match self {
            Content::Generated(DatasetKind::Pageviews) => {
                let e: PageView = codec::decode(value)?;
                fields.extend([
                    e.event_id.to_string(),
                    e.viewer_id.to_string(),
                    e.page_id.to_string(),
                    e.page_type.name().to_owned(),
                    e.country.to_string(),
                    e.device.name().to_owned(),
                ]);
            }
            Content::Generated(DatasetKind::Ysb) => {
                let e: YsbEvent = codec::decode(value)?;
                fields.extend([
                    e.event_id.to_string(),
                    e.user_id.to_string(),
                    e.page_id.to_string(),
                    e.ad_id.to_string(),
                    e.ad_type.name().to_owned(),
                    e.event_type.name().to_owned(),
                    e.ip_address.to_string(),
                ]);
            }
            Content::Generated(DatasetKind::Nexmark) => {
                let e: NexmarkEvent<'_> = codec::decode(value)?;
                let mut row = vec![String::new(); NEXMARK_COLUMNS.len()];
                row[0] = e.kind().to_owned();
                row[1] = codec::Event::event_id(&e).to_string();
                row[2] = format_millis(codec::Event::event_time(&e));
                match e {
                    NexmarkEvent::Person(p) => {
                        row[3] = p.id.to_string();
                        row[4] = p.name.into_owned();
                        row[5] = p.email_address.into_owned();
                        row[6] = p.credit_card.into_owned();
                        row[7] = p.city.into_owned();
                        row[8] = p.state.into_owned();
                    }
                    NexmarkEvent::Auction(a) => {
                        row[9] = a.id.to_string();
                        row[10] = a.item_name.into_owned();
                        row[11] = a.description.into_owned();
                        row[12] = a.initial_bid.to_string();
                        row[13] = a.reserve.to_string();
                        row[14] = format_millis(a.expires);
                        row[15] = a.seller.to_string();
                        row[16] = a.category.to_string();
                    }
                    NexmarkEvent::Bid(b) => {
                        row[17] = b.auction.to_string();
                        row[18] = b.bidder.to_string();
                        row[19] = b.price.to_string();
                        row[20] = b.channel.into_owned();
                        row[21] = b.url.into_owned();
                    }
                }
                fields.extend(row);
            }
            Content::Rows(schema) => {
                let values = schema.decode(value)?;
                for v in &values {
                    let mut s = String::new();
                    v.write_text(&mut s);
                    fields.push(s);
                }
            }
        }
        Ok(())
    }
}

/// Write the events of `opts.topic` as CSV to `out`. The dataset comes from the topic's
/// sidecar in `sidecar_dir`, or (for generated datasets) from the values' tag bytes.
pub fn export_csv(
    log: &dyn Log,
    opts: &ExportOptions,
    sidecar_dir: Option<&Path>,
    out: &mut dyn Write,
    progress: &mut ProgressFn<'_>,
) -> Result<ExportSummary> {
    let started = Instant::now();
    let content = detect(log, &opts.topic, sidecar_dir)?;
    let data_columns = content.columns();
    let mut header: Vec<String> = Vec::new();
    if !opts.no_metadata {
        for m in ["partition", "offset", "event_time", "append_time"] {
            let mut name = m.to_owned();
            while data_columns.contains(&name) {
                name.insert(0, '_');
            }
            header.push(name);
        }
    }
    header.extend(data_columns.iter().cloned());

    let partitions: Vec<u32> = if opts.partitions.is_empty() {
        (0..log.partition_count(&opts.topic)?).collect()
    } else {
        opts.partitions.clone()
    };
    let mut ends = Vec::with_capacity(partitions.len());
    let mut total = 0u64;
    for &p in &partitions {
        let (earliest, latest) = log.offsets(&opts.topic, p)?;
        total += latest - earliest;
        ends.push((p, earliest, latest));
    }

    let mut w = csv::WriterBuilder::new().from_writer(out);
    w.write_record(&header)
        .ctx(|| "write the CSV header".into())?;
    let mut summary = ExportSummary {
        topic: opts.topic.clone(),
        content: content.name(),
        columns: header,
        records_read: 0,
        rows: 0,
        output: None,
        elapsed_ms: 0,
    };
    let mut report = Progress::new(Phase::Export);
    report.total_items = Some(total);
    let mut fields: Vec<String> = Vec::with_capacity(32);
    for (p, earliest, latest) in ends {
        let mut offset = earliest;
        while offset < latest {
            let recs = log.fetch(&opts.topic, p, offset, FetchLimits::default())?;
            if recs.is_empty() {
                break;
            }
            for rec in &recs {
                offset = rec.offset + 1;
                if rec.offset >= latest {
                    break;
                }
                summary.records_read += 1;
                if opts.from_ms.is_some_and(|f| rec.event_time < f)
                    || opts.to_ms.is_some_and(|t| rec.event_time >= t)
                {
                    continue;
                }
                fields.clear();
                if !opts.no_metadata {
                    fields.extend([
                        p.to_string(),
                        rec.offset.to_string(),
                        format_millis(rec.event_time),
                        format_millis(rec.append_time),
                    ]);
                }
                content.fields(rec, &mut fields)?;
                w.write_record(&fields).ctx(|| "write a CSV row".into())?;
                summary.rows += 1;
                if summary.records_read.is_multiple_of(REPORT_EVERY) {
                    report.items = summary.records_read;
                    progress(&report);
                }
            }
        }
    }
    w.flush().ctx(|| "write the CSV".into())?;
    report.items = summary.records_read;
    report.done = true;
    progress(&report);
    summary.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(summary)
}

/// [`export_csv`] into a file, written to a temporary name and renamed when complete.
pub fn export_csv_file(
    log: &dyn Log,
    opts: &ExportOptions,
    sidecar_dir: Option<&Path>,
    path: &Path,
    progress: &mut ProgressFn<'_>,
) -> Result<ExportSummary> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let f = File::create(&tmp).ctx(|| format!("create {}", tmp.display()))?;
    let mut bw = BufWriter::with_capacity(1 << 20, f);
    let result = export_csv(log, opts, sidecar_dir, &mut bw, progress);
    let mut summary = match result {
        Ok(s) => s,
        Err(e) => {
            drop(bw);
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    let f = bw.into_inner().map_err(|e| DatasetError::Io {
        context: format!("write {}", tmp.display()),
        source: e.into_error(),
    })?;
    f.sync_all().ctx(|| format!("sync {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .ctx(|| format!("rename {} to {}", tmp.display(), path.display()))?;
    summary.output = Some(path.to_owned());
    Ok(summary)
}
