//! The side files a topic's records need, read by the oracle on its own: the CSV schema
//! in the topic's sidecar, and the YSB ad → campaign table.
//!
//! What the oracle assumes of them (the `datasets` crate writes both):
//! - `<dir>/<topic>.json`, the sidecar: a JSON object with `"format": 1`; when
//!   `"content": "csv"` the topic holds imported rows and `"schema": {"columns": [{"name":
//!   …, "type": …}, …]}` lists their columns in row order, each type one of `integer`,
//!   `float`, `string`, `bool`, `timestamp`. Other members are ignored; a topic of
//!   generated events needs no sidecar (its values name their dataset).
//! - `<dir>/<topic>.campaigns.csv`: CSV with the header `ad_id,campaign_id` and one ad per
//!   line, both UUIDs as 32 hex digits (hyphens allowed). A campaign is named by its UUID
//!   in the canonical form, hyphenated and in lower case.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use workloads::Scalar;
use workloads::sql::SqlType;

use crate::wire::{ColumnType, uuid_bytes, uuid_text};
use crate::{OracleError, Result};

#[derive(Deserialize)]
struct Sidecar {
    format: u32,
    content: String,
    schema: Option<Schema>,
}

#[derive(Deserialize)]
struct Schema {
    columns: Vec<Column>,
    time_column: Option<String>,
}

#[derive(Deserialize)]
struct Column {
    name: String,
    #[serde(rename = "type")]
    ty: ColumnType,
}

/// The sidecar of `topic` in `dir`, parsed; `None` when there is none.
fn sidecar(dir: &Path, topic: &str) -> Result<Option<(PathBuf, Sidecar)>> {
    let path = sidecar_path(dir, topic);
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(OracleError::Io { path, source }),
    };
    let sidecar: Sidecar =
        serde_json::from_slice(&text).map_err(|source| OracleError::Sidecar {
            path: path.clone(),
            source,
        })?;
    Ok(Some((path, sidecar)))
}

/// The time column of an imported topic's rows (its schema's `time_column`), if any.
pub(crate) fn time_column(dir: &Path, topic: &str) -> Result<Option<String>> {
    Ok(sidecar(dir, topic)?
        .filter(|(_, s)| s.content == "csv")
        .and_then(|(_, s)| s.schema)
        .and_then(|s| s.time_column))
}

/// A CSV column type as SQL's.
pub(crate) fn sql_type(t: ColumnType) -> SqlType {
    match t {
        ColumnType::Integer => SqlType::Bigint,
        ColumnType::Float => SqlType::Double,
        ColumnType::String => SqlType::Varchar,
        ColumnType::Bool => SqlType::Boolean,
        ColumnType::Timestamp => SqlType::Timestamp,
    }
}

/// A side table of a SQL workload, read by the oracle: `<dir>/<topic>.<name>.csv`, else
/// `<dir>/<name>.csv`; CSV with a header, an empty field null; a column BIGINT when every
/// non-empty field is an integer, DOUBLE when every one is a number, BOOLEAN when every
/// one is `true` or `false` (any case), else VARCHAR.
pub(crate) struct Table {
    /// The columns and their types.
    pub columns: Vec<(String, SqlType)>,
    /// The rows.
    pub rows: Vec<Vec<Scalar>>,
}

impl Table {
    /// The position of column `name` (exactly, else ignoring ASCII case).
    pub(crate) fn column(&self, name: &str) -> Result<usize> {
        self.columns
            .iter()
            .position(|(n, _)| n == name)
            .or_else(|| {
                self.columns
                    .iter()
                    .position(|(n, _)| n.eq_ignore_ascii_case(name))
            })
            .ok_or_else(|| OracleError::MissingColumn(name.to_owned()))
    }
}

/// Side table `name` of `topic` in `dir`.
pub(crate) fn table(dir: &Path, topic: &str, name: &str) -> Result<Table> {
    let path = [
        dir.join(format!("{topic}.{name}.csv")),
        dir.join(format!("{name}.csv")),
    ]
    .into_iter()
    .find(|p| p.is_file())
    .unwrap_or_else(|| dir.join(format!("{name}.csv")));
    let bad_csv = |source| OracleError::Campaigns {
        path: path.clone(),
        source,
    };
    let mut reader = csv::Reader::from_path(&path).map_err(bad_csv)?;
    let header: Vec<String> = reader
        .headers()
        .map_err(bad_csv)?
        .iter()
        .map(str::to_owned)
        .collect();
    let mut fields: Vec<Vec<Option<String>>> = Vec::new();
    for r in reader.records() {
        let r = r.map_err(bad_csv)?;
        fields.push(
            r.iter()
                .map(|f| (!f.is_empty()).then(|| f.to_owned()))
                .collect(),
        );
    }
    let mut columns = Vec::new();
    for (i, name) in header.iter().enumerate() {
        let present: Vec<&str> = fields.iter().filter_map(|r| r.get(i)?.as_deref()).collect();
        let ty = if present.is_empty() {
            SqlType::Varchar
        } else if present.iter().all(|f| f.parse::<i64>().is_ok()) {
            SqlType::Bigint
        } else if present.iter().all(|f| f.parse::<f64>().is_ok()) {
            SqlType::Double
        } else if present
            .iter()
            .all(|f| matches!(f.to_ascii_lowercase().as_str(), "true" | "false"))
        {
            SqlType::Boolean
        } else {
            SqlType::Varchar
        };
        columns.push((name.clone(), ty));
    }
    let rows = fields
        .into_iter()
        .map(|r| {
            columns
                .iter()
                .enumerate()
                .map(|(i, (_, ty))| match (r.get(i).cloned().flatten(), ty) {
                    (None, _) => Scalar::Null,
                    (Some(f), SqlType::Bigint) => f.parse().map_or(Scalar::Null, Scalar::Int),
                    (Some(f), SqlType::Double) => f.parse().map_or(Scalar::Null, Scalar::Float),
                    (Some(f), SqlType::Boolean) => Scalar::Bool(f.eq_ignore_ascii_case("true")),
                    (Some(f), _) => Scalar::Str(f),
                })
                .collect()
        })
        .collect();
    Ok(Table { columns, rows })
}

/// The sidecar of `topic` in `dir`.
pub(crate) fn sidecar_path(dir: &Path, topic: &str) -> PathBuf {
    dir.join(format!("{topic}.json"))
}

/// The columns (name, type) of an imported topic's rows; `None` when the topic has no
/// sidecar or holds generated events.
pub(crate) fn schema(dir: &Path, topic: &str) -> Result<Option<Vec<(String, ColumnType)>>> {
    let path = sidecar_path(dir, topic);
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(OracleError::Io { path, source }),
    };
    let sidecar: Sidecar =
        serde_json::from_slice(&text).map_err(|source| OracleError::Sidecar {
            path: path.clone(),
            source,
        })?;
    if sidecar.format != 1 {
        return Err(OracleError::SidecarFormat {
            path,
            what: format!("format {}, not 1", sidecar.format),
        });
    }
    if sidecar.content != "csv" {
        return Ok(None);
    }
    let schema = sidecar.schema.ok_or_else(|| OracleError::SidecarFormat {
        path,
        what: "CSV content without a schema".into(),
    })?;
    Ok(Some(
        schema.columns.into_iter().map(|c| (c.name, c.ty)).collect(),
    ))
}

/// The campaign of each ad (its 16 bytes) of `topic`'s table in `dir`, by name.
pub(crate) fn campaigns(dir: &Path, topic: &str) -> Result<HashMap<[u8; 16], String>> {
    let path = dir.join(format!("{topic}.campaigns.csv"));
    let bad_csv = |source| OracleError::Campaigns {
        path: path.clone(),
        source,
    };
    let mut reader = csv::Reader::from_path(&path).map_err(bad_csv)?;
    let header = reader.headers().map_err(bad_csv)?;
    if header.iter().ne(["ad_id", "campaign_id"]) {
        return Err(OracleError::CampaignLine {
            path: path.clone(),
            line: 1,
        });
    }
    let mut out = HashMap::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(bad_csv)?;
        let bad = || OracleError::CampaignLine {
            path: path.clone(),
            line: i + 2,
        };
        if record.len() != 2 {
            return Err(bad());
        }
        let ad = uuid_bytes(&record[0]).ok_or_else(bad)?;
        let campaign = uuid_bytes(&record[1]).ok_or_else(bad)?;
        out.insert(ad, uuid_text(&campaign));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csv_sidecar_gives_its_columns_and_others_none() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert!(schema(d, "absent").unwrap().is_none());
        std::fs::write(
            d.join("trips.json"),
            r#"{"format": 1, "topic": "trips", "content": "csv", "imports": [],
                "schema": {"columns": [{"name": "ts", "type": "timestamp"},
                                       {"name": "fare", "type": "float"}],
                           "time_column": "ts", "key_column": null}}"#,
        )
        .unwrap();
        assert_eq!(
            schema(d, "trips").unwrap().unwrap(),
            vec![
                ("ts".to_owned(), ColumnType::Timestamp),
                ("fare".to_owned(), ColumnType::Float)
            ]
        );
        std::fs::write(
            d.join("gen.json"),
            r#"{"format": 1, "topic": "gen", "content": "generated", "seed": 1}"#,
        )
        .unwrap();
        assert!(schema(d, "gen").unwrap().is_none());
        std::fs::write(d.join("new.json"), r#"{"format": 2, "content": "csv"}"#).unwrap();
        assert!(matches!(
            schema(d, "new"),
            Err(OracleError::SidecarFormat { .. })
        ));
        std::fs::write(d.join("bad.json"), "{").unwrap();
        assert!(matches!(schema(d, "bad"), Err(OracleError::Sidecar { .. })));
    }

    #[test]
    fn the_campaign_table_maps_ads_to_canonical_campaign_ids() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(
            d.join("ads.campaigns.csv"),
            "ad_id,campaign_id\n\
             00000000-0000-0000-0000-000000000001,ABCDEF00-0000-0000-0000-000000000000\n\
             00000000000000000000000000000002,abcdef00-0000-0000-0000-000000000000\n",
        )
        .unwrap();
        let m = campaigns(d, "ads").unwrap();
        let mut ad = [0u8; 16];
        ad[15] = 2;
        assert_eq!(m[&ad], "abcdef00-0000-0000-0000-000000000000");
        assert_eq!(m.len(), 2);
        std::fs::write(d.join("x.campaigns.csv"), "ad_id,campaign_id\nnope,nope\n").unwrap();
        let e = campaigns(d, "x").unwrap_err();
        assert!(
            matches!(e, OracleError::CampaignLine { line: 2, .. }),
            "{e}"
        );
        assert!(matches!(
            campaigns(d, "missing"),
            Err(OracleError::Campaigns { .. })
        ));
    }
}
