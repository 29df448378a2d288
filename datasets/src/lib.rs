//! # datasets — the data both pipelines are compared on
//!
//! Deterministic generators for three benchmark datasets, and import/export of any
//! user CSV file, all writing to (and reading from) the shared [`master_log::Log`]:
//!
//! ```text
//!  GenerateOptions ──► Generator ──────────────┐            sidecar dir (e.g. <data>/datasets)
//!   pageviews · ysb ·  event_time(i) from a    │            ├ <topic>.json   summary: seed,
//!   nexmark            fixed base clock; delay │ keyed      │                options, counts
//!                      → arrival order; dups   │ records    │                (or CSV schema +
//!                                              ▼ (murmur2)  │                imports)
//!  ImportOptions ──► csv (streamed) ──► typed ──► Log ◄──── ├ <topic>.campaigns.csv (YSB)
//!   any file          infer/force types   rows    │         └ <topic>.rejects.csv  (bad rows)
//!                     bad rows: fail | skip       │
//!                                                 ▼
//!                   ExportOptions ──► export_csv: partition, offset, event_time,
//!                                     append_time + the event's columns
//! ```
//!
//! ## Contract
//! - **Determinism.** [`generate`] with the same seed and options into a new topic gives
//!   byte-identical keys, values, event times, headers, partitions and offsets (append
//!   times, set by the log, differ). Event times come from a fixed start epoch plus
//!   `i · 1000 / event_rate` ms — never the wall clock; randomness is this crate's own
//!   SplitMix64/xoshiro256++ ([`rng`]), not a dependency whose algorithm may change.
//!   Draws are integer arithmetic except the Zipf sampler and NEXMark's prices, which
//!   use `ln`/`exp`/`powf`: identical for one platform and math library; another
//!   platform whose library rounds these differently may differ in rare draws.
//! - **Every event has an event id** (`u64`, `0..events`); a duplicate carries the same
//!   id, key, value and event time as the original, so consumers can de-duplicate.
//! - **Arrival model.** Events are made in event-time order; each gets a delay (0; out of
//!   order: 1..=`max_delay`; late: `late_delay`..=2·`late_delay`) and is emitted in
//!   arrival order through a reordering heap that holds only events in flight, so memory
//!   is bounded by rate × longest delay, not by the number of events. The fractions are
//!   met in expectation (the tests check them within ±0.5 percentage point on 200,000
//!   events); [`GenerateSummary`] reports the exact counts.
//! - **Partitioning** is Kafka's: the record key's murmur2 ([`master_log::partition_for_key`]).
//!   pageviews is keyed by page id, ysb by ad id, nexmark by person id / auction id (a
//!   bid by its auction's id), imported files by their key column.
//! - **CSV import** streams the file in bounded memory (two passes in `fail` mode, so
//!   that a bad row means nothing of the file is written); rows keep file order within a
//!   partition; every column keeps its type ([`Schema`], stored once in the sidecar);
//!   bad input is a [`DatasetError`], never a panic. Fields and rows have limits
//!   ([`DEFAULT_MAX_FIELD_BYTES`], [`DEFAULT_MAX_LINE_BYTES`]): a longer one is a bad row
//!   with its line (and, past the line limit, the byte offset), so input without
//!   newlines never fills memory. Out-of-range numbers (`1e309`) are bad rows; `inf` and
//!   `nan` are accepted only when written as such (DuckDB's rule).
//! - **Crash semantics of import and generate** ([`staging`]): with a sidecar directory,
//!   [`import_csv`] and [`generate`] (unless paced by `rate`) write their records into a
//!   staging topic `<topic>.staging-<id>` (names with [`staging::STAGING_INFIX`] are
//!   reserved), then commit with a marker `<dir>/<topic>.commit.json` (CRC-32C
//!   checked, written synced) naming the staging topic, the target's end offsets and
//!   the sidecar, then copy the records into the target partition by partition, write
//!   the sidecar and delete the staging topic and the marker. Each import or generate
//!   into a topic first runs [`recover`]: staging without a marker is deleted (the
//!   target never saw it), a marker is rolled forward, copying exactly what the target
//!   lacks. So a process killed at any point leaves, after the next run into the topic,
//!   either nothing of its import or all of it, each record once, in order. Imports
//!   record the file's [`FileIdentity`] (path, size, mtime, CRC-32C of the bytes read)
//!   and refuse a file whose bytes the topic already took
//!   ([`DatasetError::AlreadyImported`]) unless [`ImportOptions::again`]; a generator
//!   run into a topic with records is refused unless `append`. Without a sidecar
//!   directory, and for a paced generator run (a live stream), records go straight to
//!   the topic and an interrupted run leaves what it wrote. Durability against power
//!   cuts is the log's fsync policy for the records, synced for the marker.
//! - **Export** writes any topic of this crate to CSV; importing the export gives back
//!   the same values, nulls and timestamps included. Export files, sidecars and
//!   campaign tables are replaced atomically (`master_log::durable`'s temporary file and
//!   rename): a CSV export synced, the others not.
//! - **Stream decoding** ([`stream`]): one [`StreamDecoder`] per (workload, topic) turns
//!   a record into an event id, an event time and what the event adds to its cells (a
//!   group key and an [`Update`]), and folds updates into partial aggregates; the speed
//!   layer and the Kappa job both use it, so they cannot decode a dataset differently.
//!   Built on the `workloads` crate's types (which does not depend on this one).
//!
//! ## Event encoding and why postcard
//! A value is a tag byte naming the event type and version, then the event in
//! [postcard](https://docs.rs/postcard)'s format ([`codec`]). Postcard's wire format is
//! documented and frozen for 1.x (a specification, not an implementation detail),
//! compact (varints, no field names), serde-based (one derive serves postcard and the
//! optional JSON codec), and decodes borrowed `&str`/`&[u8]` without copying. bincode 2
//! is as fast but its format is a configuration of the library rather than a stable
//! specification; JSON is 3–5× bigger and much slower to decode, so it is an option
//! ([`Codec::Json`]) only. Identifiers that are fixed-size in the benchmarks' semantics
//! are fixed-size here: YSB's UUIDs are 16-byte [`Uuid`]s (not 36-character strings),
//! IPv4 addresses 4 bytes, countries 2 bytes — so a YSB event decodes with no
//! allocation at all (see `examples/throughput.rs` for the measured rate).
//!
//! ## Measured
//! On the project's 2-core machine, shared with other builds (ranges over runs), release
//! build: `cargo run --release -p datasets --example throughput`.
//!
//! | what | figure | target |
//! | --- | --- | --- |
//! | generate into the embedded log (4 partitions, 5 % out of order, 1 % late, 1 % duplicates) | pageviews 4.0–4.8 M, ysb 4.0–4.9 M, nexmark 3.3–3.6 M records/s | ≥ 2 M/s |
//! | decode one value (postcard, one core) | ysb 21–23 M/s, pageviews 31–46 M/s, nexmark 13–14 M/s | ≥ 10 M/s (ysb) |
//! | CSV import, 10 columns | 670–740 k rows/s with `fail` (two passes), 1.3–1.4 M rows/s with `skip`; a 2.2 GB file at 610 k rows/s in 12.6 MB of memory | ≥ 500 k rows/s |
//! | CSV export | 0.9–1 M rows/s | |
//!
//! ## For the `lk` command line
//! Each command has an options struct with one field per flag ([`GenerateOptions`],
//! [`ImportOptions`], [`ExportOptions`]), returns a summary struct that serializes with
//! serde, and takes a progress hook (`&mut |p: &Progress| ...`, or [`no_progress`]).
//! Parse durations with [`master_log::parse_duration`], `--columns` with
//! [`parse_column_types`], `--delimiter` with [`parse_delimiter`]; the enums implement
//! `FromStr` with the flag spellings. Parquet export (`export_parquet`) is behind the
//! `parquet` feature, because polars takes long to compile.
//!
//! ```
//! use datasets::{DatasetKind, ExportOptions, GenerateOptions, YsbEvent, YsbEventType};
//! use master_log::{EmbeddedLog, FetchLimits, Log};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! let log = EmbeddedLog::open(dir.path().join("log"))?;
//! let sidecars = dir.path().join("datasets"); // <data>/datasets
//!
//! // `lk generate ysb --topic ads --events 10000 --out-of-order 0.1 --max-delay 2s`
//! let opts = GenerateOptions {
//!     out_of_order: 0.1,
//!     max_delay_ms: master_log::parse_duration("2s")?.as_millis() as u64,
//!     ..GenerateOptions::new(DatasetKind::Ysb, "ads", 10_000)
//! };
//! let summary = datasets::generate(&log, &opts, Some(&sidecars), &mut |p| {
//!     eprint!("\r{} events", p.items); // the CLI would drive a progress bar here
//! })?;
//! assert_eq!(summary.events, 10_000);
//! println!("{}", serde_json::to_string_pretty(&summary)?);
//!
//! // A pipeline reads records and decodes values; the campaign table is a function
//! // of the seed.
//! let campaigns = datasets::YsbCampaigns::new(opts.seed).to_map();
//! let records = log.fetch("ads", 0, 0, FetchLimits::default())?;
//! for r in &records {
//!     let ev: YsbEvent = datasets::decode(r.value.as_deref().unwrap())?;
//!     if ev.event_type == YsbEventType::View {
//!         let _campaign = campaigns[&ev.ad_id];
//!     }
//! }
//!
//! // `lk export ads --out ads.csv`
//! let export = ExportOptions { topic: "ads".into(), ..Default::default() };
//! let out = dir.path().join("ads.csv");
//! let e = datasets::export_csv_file(&log, &export, Some(&sidecars), &out, &mut datasets::no_progress)?;
//! assert_eq!(e.rows, summary.records);
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

pub mod codec;
mod csv_import;
mod csv_input;
mod error;
mod export;
mod file_identity;
mod generate;
mod generate_options;
mod ids;
mod import_options;
pub mod nexmark;
pub mod pageviews;
#[cfg(feature = "parquet")]
mod parquet;
mod progress;
mod rejects;
pub mod rng;
mod row;
mod sidecar;
mod source;
pub mod staging;
pub mod stream;
mod topic;
pub mod ysb;

pub use codec::{Codec, Country, Event, Ipv4, Uuid, append_postcard, decode, encode, encode_into};
pub use csv_import::MAX_BATCH_BYTES;
pub use csv_import::{import_csv, infer_schema};
pub use error::{DatasetError, Result};
pub use export::{
    ExportOptions, ExportSummary, RowMeta, RowSink, TopicRows, YSB_COLUMNS, export_csv,
    export_csv_file,
};
pub use generate::{Arrival, GeneratedRecord, Generator, generate, kind_names};
pub use generate_options::{DatasetKind, GenerateOptions, GenerateSummary};
pub use import_options::{
    DEFAULT_MAX_FIELD_BYTES, DEFAULT_MAX_LINE_BYTES, FileIdentity, ImportOptions, ImportSummary,
    MIN_LINE_BYTES, OnError, RejectedRow, parse_byte_size, parse_column_types, parse_delimiter,
};
pub use nexmark::{Auction, Bid, NexmarkEvent, Person};
pub use pageviews::{Device, PageType, PageView};
#[cfg(feature = "parquet")]
pub use parquet::export_parquet;
pub use progress::{Phase, Progress, ProgressFn, no_progress};
pub use row::{
    Column, ColumnType, Schema, TimeFormat, Value, format_micros, format_millis,
    parse_timestamp_auto,
};
pub use sidecar::{
    SIDECAR_FORMAT, TopicContent, TopicManifest, campaigns_path, read_sidecar, sidecar_path,
};
pub use staging::{Recovery, recover};
pub use stream::{Contribution, StreamDecoder, StreamEvent, Update};
pub use ysb::{AdCampaign, AdType, YsbCampaigns, YsbEvent, YsbEventType};
