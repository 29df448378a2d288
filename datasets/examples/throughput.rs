//! Measures the crate's throughput figures on this machine:
//!
//! ```text
//! cargo run --release -p datasets --example throughput [EVENTS [CSV_ROWS]]
//! ```
//!
//! Defaults: 2,000,000 events per dataset, 1,000,000 CSV rows; `EVENTS = 0` skips the
//! generators (to time a large CSV import alone).
//!
//! - generation of each dataset into an embedded log (no rate limit);
//! - decoding of YSB values (postcard, one core);
//! - CSV import of a 10-column file (fail mode: validation pass + write pass), and export.

use std::io::Write;
use std::time::Instant;

use datasets::{
    DatasetKind, ExportOptions, GenerateOptions, ImportOptions, NexmarkEvent, PageView, YsbEvent,
    no_progress,
};
use master_log::{EmbeddedLog, FetchLimits, Log};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = |i: usize, default: u64| -> Result<u64, std::num::ParseIntError> {
        std::env::args().nth(i).map_or(Ok(default), |s| s.parse())
    };
    let events = arg(1, 2_000_000)?;
    let rows = arg(2, 1_000_000)?;
    let dir = tempfile::tempdir()?;
    let log = EmbeddedLog::open(dir.path().join("log"))?;
    let sidecars = dir.path().join("datasets");

    let generated = if events > 0 {
        &DatasetKind::ALL[..]
    } else {
        &[]
    };
    for &dataset in generated {
        let opts = GenerateOptions {
            partitions: 4,
            out_of_order: 0.05,
            late: 0.01,
            duplicates: 0.01,
            ..GenerateOptions::new(dataset, dataset.name(), events)
        };
        let s = datasets::generate(&log, &opts, Some(&sidecars), &mut no_progress)?;
        println!(
            "generate {:<9} {:>9} records in {:>6} ms: {:>6.2} M records/s, {:.1} value bytes/record",
            dataset.name(),
            s.records,
            s.elapsed_ms,
            s.records_per_s / 1e6,
            s.value_bytes as f64 / s.records as f64
        );
    }

    // Decoding: fetch every value first, then time decoding alone.
    for &dataset in generated {
        let mut values = Vec::new();
        for p in 0..log.partition_count(dataset.name())? {
            let (mut off, end) = log.offsets(dataset.name(), p)?;
            while off < end {
                for r in log.fetch(dataset.name(), p, off, FetchLimits::default())? {
                    off = r.offset + 1;
                    values.push(r.value.unwrap());
                }
            }
        }
        let t = Instant::now();
        let mut check = 0u64;
        for v in &values {
            check = check.wrapping_add(match dataset {
                DatasetKind::Ysb => datasets::decode::<YsbEvent>(v)?.event_id,
                DatasetKind::Pageviews => datasets::decode::<PageView>(v)?.page_id,
                DatasetKind::Nexmark => {
                    datasets::Event::event_id(&datasets::decode::<NexmarkEvent<'_>>(v)?)
                }
            });
        }
        let secs = t.elapsed().as_secs_f64();
        println!(
            "decode   {:<9} {:>9} values in {:>6.0} ms: {:>6.2} M events/s (one core; checksum {check})",
            dataset.name(),
            values.len(),
            secs * 1e3,
            values.len() as f64 / secs / 1e6
        );
    }

    // CSV import of a 10-column file.
    let csv_path = dir.path().join("ten.csv");
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&csv_path)?);
        writeln!(w, "ts,user,page,country,amount,price,flag,note,seen,count")?;
        for i in 0..rows {
            writeln!(
                w,
                "2024-01-01T00:{:02}:{:02}.{:03}Z,u{},p{},FR,{},{}.25,{},note {},2024-01-02 03:04:05,{}",
                (i / 60_000) % 60,
                (i / 1000) % 60,
                i % 1000,
                i % 10_007,
                i % 503,
                i % 1000,
                i % 7,
                i % 2 == 0,
                i % 97,
                i
            )?;
        }
    }
    let bytes = std::fs::metadata(&csv_path)?.len();
    for on_error in [datasets::OnError::Fail, datasets::OnError::Skip] {
        let topic = format!("csv-{on_error:?}").to_lowercase();
        let opts = ImportOptions {
            key_column: Some("user".into()),
            on_error,
            ..ImportOptions::new(&csv_path, &topic, "ts")
        };
        let s = datasets::import_csv(&log, &opts, Some(&sidecars), &mut no_progress)?;
        println!(
            "import   10 columns, {on_error:?} mode: {} rows ({:.0} MB) in {} ms: {:.0} k rows/s",
            s.accepted,
            bytes as f64 / 1e6,
            s.elapsed_ms,
            s.rows_per_s / 1e3
        );
    }
    let t = Instant::now();
    let out = dir.path().join("out.csv");
    let e = datasets::export_csv_file(
        &log,
        &ExportOptions {
            topic: "csv-fail".into(),
            ..Default::default()
        },
        Some(&sidecars),
        &out,
        &mut no_progress,
    )?;
    println!(
        "export   {} rows in {:.0} ms: {:.0} k rows/s",
        e.rows,
        t.elapsed().as_secs_f64() * 1e3,
        e.rows as f64 / t.elapsed().as_secs_f64() / 1e3
    );
    Ok(())
}
