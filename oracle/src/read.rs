//! Reading a topic whole: every partition from its earliest offset up to the end offsets
//! taken when the read starts, each in offset order, through the log's public read API
//! (`end_offsets`, `offsets`, `fetch`); every value decoded by [`crate::wire`]; a
//! generated event kept once, however many times it was sent (by event id, the first
//! copy read); every imported row kept.

use std::collections::HashSet;
use std::path::Path;

use master_log::{FetchLimits, Log};
use workloads::Scalar;

use crate::wire::{self, Kind};
use crate::{OracleError, Result, side};

/// One event: its time and one value per column of its topic.
#[derive(Debug)]
pub(crate) struct Event {
    /// Event time, ms since the epoch.
    pub time: i64,
    /// The values, in the order of [`Events::columns`].
    pub values: Vec<Scalar>,
}

/// Every event of a topic, each counted once.
#[derive(Debug)]
pub(crate) struct Events {
    /// The names of the columns.
    pub columns: Vec<String>,
    /// The events, partition after partition, each in offset order.
    pub events: Vec<Event>,
}

impl Events {
    /// The position of column `name`.
    pub(crate) fn column(&self, name: &str) -> Result<usize> {
        self.columns
            .iter()
            .position(|c| c == name)
            .ok_or_else(|| OracleError::MissingColumn(name.to_owned()))
    }
}

/// Every event of `topic`; `sidecar_dir` holds the schema of an imported topic.
pub(crate) fn events(log: &dyn Log, topic: &str, sidecar_dir: &Path) -> Result<Events> {
    let schema = side::schema(sidecar_dir, topic)?;
    let ends = log.end_offsets(topic)?;
    let mut kind: Option<Kind> = None;
    let mut seen_ids = HashSet::new();
    let mut events = Vec::new();
    for (partition, &end) in (0u32..).zip(&ends) {
        let (mut at, _) = log.offsets(topic, partition)?;
        while at < end {
            let records = log.fetch(topic, partition, at, FetchLimits::default())?;
            let Some(last) = records.last() else { break };
            at = last.offset + 1;
            for r in records.iter().filter(|r| r.offset < end) {
                let at_record = |source| OracleError::Record {
                    topic: topic.to_owned(),
                    partition,
                    offset: r.offset,
                    source: Box::new(source),
                };
                let value = r
                    .value
                    .as_deref()
                    .ok_or_else(|| at_record(OracleError::Malformed("a tombstone".into())))?;
                let d = wire::decode(value, r.event_time, schema.as_deref()).map_err(at_record)?;
                if *kind.get_or_insert(d.kind) != d.kind {
                    return Err(at_record(OracleError::Malformed(format!(
                        "a {:?} value in a topic of {:?} values",
                        d.kind,
                        kind.unwrap_or(d.kind)
                    ))));
                }
                if let Some(id) = d.id
                    && !seen_ids.insert(id)
                {
                    continue;
                }
                events.push(Event {
                    time: d.time,
                    values: d.values,
                });
            }
        }
    }
    let columns = match (kind, schema) {
        (Some(Kind::Row) | None, Some(schema)) => schema.into_iter().map(|(n, _)| n).collect(),
        (Some(k), _) => wire::columns(k).iter().map(|c| (*c).to_owned()).collect(),
        (None, None) => Vec::new(),
    };
    Ok(Events { columns, events })
}

#[cfg(test)]
mod tests {
    //! The oracle's reading against `lk export`'s (the `datasets` crate's `TopicRows`, a
    //! dev-dependency): the same columns and values, event by event, for every dataset in
    //! both codecs and for an imported CSV.

    use std::collections::HashSet;
    use std::path::Path;

    use datasets::{Codec, DatasetKind, ExportOptions, GenerateOptions, ImportOptions, TopicRows};
    use master_log::EmbeddedLog;

    use super::*;

    fn scalar(v: &datasets::Value<'_>) -> Scalar {
        match v {
            datasets::Value::Null => Scalar::Null,
            datasets::Value::Integer(i) => Scalar::Int(*i),
            datasets::Value::Float(f) => Scalar::Float(*f),
            datasets::Value::String(s) => Scalar::Str(s.to_string()),
            datasets::Value::Bool(b) => Scalar::Bool(*b),
            datasets::Value::Timestamp(us) => Scalar::Timestamp(*us),
        }
    }

    /// The export's rows (time in ms, data columns), the first copy of each event id.
    fn exported(
        log: &EmbeddedLog,
        topic: &str,
        side: &Path,
    ) -> (Vec<String>, Vec<(i64, Vec<Scalar>)>) {
        let opts = ExportOptions {
            topic: topic.into(),
            ..ExportOptions::default()
        };
        let mut rows = TopicRows::new(log, &opts, Some(side)).unwrap();
        // The metadata columns (partition, offset, event_time, append_time) come first.
        let names: Vec<String> = rows.columns()[4..].iter().map(|c| c.name.clone()).collect();
        let id = names.iter().position(|n| n == "event_id");
        let (mut out, mut seen, mut v) = (Vec::new(), HashSet::new(), Vec::new());
        while rows.next_row(&mut v).unwrap() {
            let values: Vec<Scalar> = v[4..].iter().map(scalar).collect();
            if let Some(i) = id
                && !seen.insert(values[i].clone())
            {
                continue;
            }
            let datasets::Value::Timestamp(us) = v[2] else {
                panic!("{:?}", v[2])
            };
            out.push((us.div_euclid(1000), values));
        }
        (names, out)
    }

    fn same_as_the_export(log: &EmbeddedLog, topic: &str, side: &Path) {
        let ev = events(log, topic, side).unwrap();
        let (names, rows) = exported(log, topic, side);
        assert_eq!(ev.columns, names, "{topic}");
        assert_eq!(ev.events.len(), rows.len(), "{topic}");
        for (e, (time, values)) in ev.events.iter().zip(&rows) {
            assert_eq!((e.time, &e.values), (*time, values), "{topic}");
        }
    }

    #[test]
    fn every_dataset_in_both_codecs_reads_as_the_export_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        let log = EmbeddedLog::open(dir.path().join("log")).unwrap();
        let side = dir.path().join("side");
        for kind in [
            DatasetKind::Pageviews,
            DatasetKind::Ysb,
            DatasetKind::Nexmark,
        ] {
            for codec in [Codec::Postcard, Codec::Json] {
                let topic = format!("{}-{codec:?}", kind.name());
                let opts = GenerateOptions {
                    partitions: 3,
                    codec,
                    duplicates: 0.05,
                    out_of_order: 0.1,
                    ..GenerateOptions::new(kind, &topic, 2_000)
                };
                let s = datasets::generate(&log, &opts, Some(&side), &mut datasets::no_progress)
                    .unwrap();
                assert!(s.duplicates > 0);
                same_as_the_export(&log, &topic, &side);
                assert_eq!(
                    events(&log, &topic, &side).unwrap().events.len() as u64,
                    s.events
                );
            }
        }
    }

    #[test]
    fn an_imported_csv_reads_as_the_export_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("t.csv");
        std::fs::write(
            &csv,
            "ts,zone,fare,n,ok,at\n\
             2026-01-01T00:00:00Z,JFK,10.5,1,true,2026-01-01T00:00:00.5Z\n\
             2026-01-01T00:30:00Z,,NA,-2,false,\n\
             2025-12-31T23:59:59.999Z,LGA,-1,3,TRUE,1969-12-31T23:59:59Z\n",
        )
        .unwrap();
        let log = EmbeddedLog::open(dir.path().join("log")).unwrap();
        let side = dir.path().join("side");
        let opts = ImportOptions {
            null_values: vec!["NA".into()],
            partitions: 2,
            key_column: Some("n".into()),
            ..ImportOptions::new(&csv, "trips", "ts")
        };
        datasets::import_csv(&log, &opts, Some(&side), &mut datasets::no_progress).unwrap();
        same_as_the_export(&log, "trips", &side);
        let ev = events(&log, "trips", &side).unwrap();
        assert_eq!(ev.events.len(), 3);
        // The row keeps its nulls and types.
        let zone = ev.column("zone").unwrap();
        assert!(ev.events.iter().any(|e| e.values[zone].is_null()));
    }

    #[test]
    fn a_damaged_record_is_an_error_naming_where_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let log = EmbeddedLog::open(dir.path().join("log")).unwrap();
        log.create_topic("t", master_log::TopicConfig::with_partitions(1))
            .unwrap();
        let rec = |value: &[u8]| master_log::NewRecord {
            key: None,
            value: Some(value.to_vec().into()),
            event_time: 0,
            headers: Vec::new(),
        };
        log.append("t", 0, &[rec(&[0x09, 1, 2])]).unwrap();
        let e = events(&log, "t", dir.path()).unwrap_err();
        assert!(
            matches!(
                e,
                OracleError::Record {
                    partition: 0,
                    offset: 0,
                    ..
                }
            ),
            "{e}"
        );
        let cause = std::error::Error::source(&e).unwrap().to_string();
        assert!(cause.contains("0x09"), "{cause}");
    }
}
