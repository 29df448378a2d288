//! `ViewStore`: immutable, versioned batch view artifacts, published atomically.
//!
//! ```text
//!   <dir>/CURRENT            "v7 <crc32c of "v7">\n" — replaced by rename, never edited
//!   <dir>/v5/ v6/ v7/        the last K versions (default 3)
//!   <dir>/v7/view.parquet    window_start, window_end, <key columns>, p0, p1, ...
//!   <dir>/v7/meta.json       version, workload, topic, horizon, counts, column encodings,
//!                            the Parquet file's size and CRC32C, and its own CRC32C
//! ```
//!
//! **Checksums** (format 2). `meta.json` holds the size and CRC32C of `view.parquet`,
//! and `checksum`: the CRC32C of its own pretty-printed JSON without that field (the
//! file is read, the field taken out, the rest printed again and checked). `CURRENT`
//! holds the version with the CRC32C of its name. Reading checks all three: a file
//! whose check fails, that is cut short, zero-filled or missing, is a
//! [`BatchError::Corrupt`] naming it — never another version served in its place. A
//! missing `CURRENT` while versions exist is damage too (the only other way to get there
//! is a crash between writing the very first version and pointing at it; then the view
//! is recomputed once for nothing). Format 1 (no checksums, a pointer `"v7\n"`), written
//! before, is still read, without those checks; the next publish writes format 2.

use std::fs::{self, File};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use master_log::durable::{self, Durability};
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use workloads::{Partial, PartialTable, Scalar, StoredCell, Window};

use crate::BatchView;
use crate::error::{BatchError, Result, io};

const CURRENT: &str = "CURRENT";
const PARQUET: &str = "view.parquet";
const META: &str = "meta.json";
/// 2: with the checksums (1, without them, is still read).
const FORMAT: u32 = 2;
const FORMAT_1: u32 = 1;

/// How a key or partial column is stored in the Parquet file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Encoding {
    /// Int64 (`Scalar::Int`).
    Int,
    /// Int64 µs (`Scalar::Timestamp`).
    Timestamp,
    /// Float64 (`Scalar::Float`).
    Float,
    /// Utf8 (`Scalar::Str`).
    Str,
    /// Boolean (`Scalar::Bool`).
    Bool,
    /// UInt64 (`Partial::Count`).
    Count,
    /// Binary: the postcard encoding of the `Scalar` or `Partial`.
    Postcard,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Meta {
    format: u32,
    version: u64,
    workload: String,
    topic: String,
    horizon: Vec<u64>,
    records_read: u64,
    events: u64,
    created_ms: u64,
    elapsed_ms: u64,
    cells: usize,
    key_columns: Vec<(String, Encoding)>,
    partial_columns: Vec<(String, Encoding)>,
    /// The size of `view.parquet` (format 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    parquet_bytes: Option<u64>,
    /// The CRC32C of `view.parquet` (format 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    parquet_crc32c: Option<u32>,
    /// The CRC32C of this metadata's pretty-printed JSON without this field (format 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    checksum: Option<u32>,
}

impl Meta {
    /// The CRC32C of the metadata as printed without its `checksum`.
    fn crc(&self) -> Result<u32> {
        let json = serde_json::to_vec_pretty(&Meta {
            checksum: None,
            ..self.clone()
        })
        .map_err(|e| BatchError::Type(format!("encode metadata: {e}")))?;
        Ok(crc32c::crc32c(&json))
    }

    /// Parse `meta.json` and check it: its own checksum (format 2), its format and
    /// version.
    fn read(bytes: &[u8], path: &Path, version: u64) -> Result<Meta> {
        let meta: Meta = serde_json::from_slice(bytes).map_err(|e| corrupt(path, e.to_string()))?;
        let checked = meta.checksum.is_some()
            || meta.parquet_crc32c.is_some()
            || meta.parquet_bytes.is_some();
        match (meta.format, checked) {
            (FORMAT, _) | (FORMAT_1, true) => {
                let crc = meta.crc()?;
                if meta.checksum != Some(crc)
                    || meta.parquet_crc32c.is_none()
                    || meta.parquet_bytes.is_none()
                {
                    return Err(corrupt(path, "fails its checksum (CRC32C)"));
                }
            }
            (FORMAT_1, false) => {}
            (format, _) => return Err(corrupt(path, format!("format {format}"))),
        }
        if meta.version != version {
            return Err(corrupt(
                path,
                format!(
                    "version {} in the directory of version {version}",
                    meta.version
                ),
            ));
        }
        Ok(meta)
    }
}

/// The text of `CURRENT` pointing at `version`: its name and the CRC32C of the name.
fn pointer_text(version: u64) -> String {
    let name = format!("v{version}");
    format!("{name} {:08x}\n", crc32c::crc32c(name.as_bytes()))
}

/// The version a `CURRENT` text points at: `"vN CRC\n"`, or `"vN\n"` of format 1. A
/// failing CRC or a text cut short (no final newline) is `None`.
fn parse_pointer(text: &str) -> Option<u64> {
    let line = text.strip_suffix('\n')?;
    let (name, crc) = match line.split_once(' ') {
        Some((name, crc)) => (name, Some(crc)),
        None => (line, None),
    };
    let digits = name.strip_prefix('v')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if crc.is_some_and(|crc| crc != format!("{:08x}", crc32c::crc32c(name.as_bytes()))) {
        return None;
    }
    digits.parse().ok()
}

/// Read a file of a version, `Corrupt` when it is missing while its version directory is
/// there (a version is written whole, so a file missing from it is damage).
fn read_file(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).map_err(|e| {
        let in_version = path.parent().is_some_and(Path::is_dir);
        if e.kind() == std::io::ErrorKind::NotFound && in_version {
            corrupt(path, "missing")
        } else {
            io(format!("read {}", path.display()))(e)
        }
    })
}

/// The published batch views of one workload, under one directory (e.g.
/// `<data>/lambda/<workload>/batch`). One writer at a time; any number of readers.
#[derive(Debug, Clone)]
pub struct ViewStore {
    dir: PathBuf,
    keep: usize,
}

/// Fsync directory `dir` ([`durable::sync_dir`]), so that the names created or renamed
/// in it survive a power cut.
fn fsync_dir(dir: &Path) -> Result<()> {
    durable::sync_dir(dir).map_err(io(format!("fsync {}", dir.display())))
}

/// Replace `path` by `bytes` atomically and durably ([`durable::write_atomic`] with
/// `Durability::Synced`: the file and its directory are fsynced before this returns).
fn replace_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    durable::write_atomic(path, bytes, Durability::Synced)
        .map_err(io(format!("write {}", path.display())))
}

fn scalar_encoding(values: &mut dyn Iterator<Item = &Scalar>) -> Encoding {
    let mut enc: Option<Encoding> = None;
    for v in values {
        let e = match v {
            Scalar::Null => continue,
            Scalar::Int(_) => Encoding::Int,
            Scalar::Timestamp(_) => Encoding::Timestamp,
            Scalar::Float(_) => Encoding::Float,
            Scalar::Str(_) => Encoding::Str,
            Scalar::Bool(_) => Encoding::Bool,
        };
        match enc {
            None => enc = Some(e),
            Some(x) if x == e => {}
            Some(_) => return Encoding::Postcard,
        }
    }
    enc.unwrap_or(Encoding::Postcard)
}

fn scalar_column(name: &str, enc: Encoding, values: &[&Scalar]) -> Result<Column> {
    let name = PlSmallStr::from(name);
    let ints = || -> Vec<Option<i64>> {
        values
            .iter()
            .map(|v| match v {
                Scalar::Int(i) | Scalar::Timestamp(i) => Some(*i),
                _ => None,
            })
            .collect()
    };
    Ok(match enc {
        Encoding::Int | Encoding::Timestamp => Column::new(name, ints()),
        Encoding::Float => Column::new(
            name,
            values
                .iter()
                .map(|v| match v {
                    Scalar::Float(f) => Some(*f),
                    _ => None,
                })
                .collect::<Vec<_>>(),
        ),
        Encoding::Str => Column::new(
            name,
            values
                .iter()
                .map(|v| match v {
                    Scalar::Str(s) => Some(s.as_str()),
                    _ => None,
                })
                .collect::<Vec<_>>(),
        ),
        Encoding::Bool => Column::new(
            name,
            values
                .iter()
                .map(|v| match v {
                    Scalar::Bool(b) => Some(*b),
                    _ => None,
                })
                .collect::<Vec<_>>(),
        ),
        Encoding::Postcard | Encoding::Count => {
            let bytes = values
                .iter()
                .map(postcard::to_allocvec)
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| BatchError::Type(format!("encode {name}: {e}")))?;
            binary_column(name, bytes)
        }
    })
}

fn binary_column(name: PlSmallStr, bytes: Vec<Vec<u8>>) -> Column {
    let refs: Vec<&[u8]> = bytes.iter().map(Vec::as_slice).collect();
    BinaryChunked::from_slice(name, &refs).into_column()
}

fn corrupt(path: &Path, reason: impl Into<String>) -> BatchError {
    BatchError::Corrupt {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn decode_scalar(av: AnyValue<'_>, enc: Encoding, path: &Path) -> Result<Scalar> {
    Ok(match (enc, av) {
        (_, AnyValue::Null) => Scalar::Null,
        (Encoding::Int, AnyValue::Int64(i)) => Scalar::Int(i),
        (Encoding::Timestamp, AnyValue::Int64(i)) => Scalar::Timestamp(i),
        (Encoding::Float, AnyValue::Float64(f)) => Scalar::Float(f),
        (Encoding::Str, AnyValue::String(s)) => Scalar::Str(s.to_owned()),
        (Encoding::Str, AnyValue::StringOwned(s)) => Scalar::Str(s.to_string()),
        (Encoding::Bool, AnyValue::Boolean(b)) => Scalar::Bool(b),
        (Encoding::Postcard, AnyValue::Binary(b)) => {
            postcard::from_bytes(b).map_err(|e| corrupt(path, format!("key value: {e}")))?
        }
        (Encoding::Postcard, AnyValue::BinaryOwned(b)) => {
            postcard::from_bytes(&b).map_err(|e| corrupt(path, format!("key value: {e}")))?
        }
        (enc, other) => {
            return Err(corrupt(
                path,
                format!("{other:?} in a column encoded as {enc:?}"),
            ));
        }
    })
}

impl ViewStore {
    /// The store under `dir` (created if missing), keeping the last 3 versions.
    pub fn open(dir: impl Into<PathBuf>) -> Result<ViewStore> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(io(format!("create {}", dir.display())))?;
        Ok(ViewStore { dir, keep: 3 })
    }

    /// Keep the last `k` versions (at least 1) when publishing.
    pub fn with_keep(mut self, k: usize) -> ViewStore {
        self.keep = k.max(1);
        self
    }

    /// The directory the store lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn version_dir(&self, version: u64) -> PathBuf {
        self.dir.join(format!("v{version}"))
    }

    /// Every complete version directory present, ascending (published or not).
    pub fn versions(&self) -> Result<Vec<u64>> {
        let mut out = Vec::new();
        let entries =
            fs::read_dir(&self.dir).map_err(io(format!("list {}", self.dir.display())))?;
        for entry in entries.flatten() {
            let name = entry.file_name();
            if let Some(n) = name.to_str().and_then(|n| n.strip_prefix('v'))
                && let Ok(v) = n.parse::<u64>()
                && entry.path().is_dir()
            {
                out.push(v);
            }
        }
        out.sort_unstable();
        Ok(out)
    }

    /// The version `CURRENT` points to, if any has been published. A damaged pointer is
    /// [`BatchError::Corrupt`].
    pub fn current_version(&self) -> Result<Option<u64>> {
        let path = self.dir.join(CURRENT);
        let bytes = match fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(format!("read {}", path.display()))(e)),
        };
        std::str::from_utf8(&bytes)
            .ok()
            .and_then(parse_pointer)
            .map(Some)
            .ok_or_else(|| {
                corrupt(
                    &path,
                    format!("pointer {:?}", String::from_utf8_lossy(&bytes)),
                )
            })
    }

    /// The published view, read back exactly and checked; `None` before the first
    /// publish. Damage — to `CURRENT`, `meta.json` or `view.parquet` of the version it
    /// names, a file of it missing, or `CURRENT` missing while versions exist — is
    /// [`BatchError::Corrupt`]: never an older version in its place.
    pub fn current(&self) -> Result<Option<BatchView>> {
        // A reader racing a publisher that prunes the version it just read the pointer
        // of retries with the new pointer.
        let mut attempts = 0;
        loop {
            let Some(v) = self.current_version()? else {
                let versions = self.versions()?;
                if !versions.is_empty() {
                    return Err(corrupt(
                        &self.dir.join(CURRENT),
                        format!("missing, while versions {versions:?} are there"),
                    ));
                }
                return Ok(None);
            };
            match self.read_version(v) {
                Err(BatchError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound =>
                {
                    if self.current_version()? == Some(v) || attempts >= 3 {
                        return Err(corrupt(
                            &self.version_dir(v),
                            "the version CURRENT names is missing",
                        ));
                    }
                    attempts += 1;
                }
                other => return other.map(Some),
            }
        }
    }

    /// Write `view` fully as the next version `v<N>/` without publishing it; returns N.
    /// [`ViewStore::publish`] is this followed by [`ViewStore::switch_to`].
    ///
    /// Durability: synced. The version is written in a temporary directory `.v<N>.tmp/`
    /// (`view.parquet` fsynced, `meta.json` through `write_atomic` with
    /// `Durability::Synced`, the directory fsynced), renamed to `v<N>/`, and the store's
    /// directory fsynced: once this returns, the whole version survives a power cut, and
    /// a crash before the rename leaves no `v<N>/` at all.
    pub fn prepare(&self, view: &BatchView) -> Result<u64> {
        let last = self.versions()?.last().copied().unwrap_or(0);
        // A damaged pointer is replaced by this publish (rebuilding a damaged view).
        let current = match self.current_version() {
            Ok(v) => v.unwrap_or(0),
            Err(BatchError::Corrupt { .. }) => 0,
            Err(e) => return Err(e),
        };
        let version = last.max(current) + 1;
        let tmp = self.dir.join(format!(".v{version}.tmp"));
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(io(format!("remove {}", tmp.display())))?;
        }
        fs::create_dir_all(&tmp).map_err(io(format!("create {}", tmp.display())))?;
        self.write_artifact(&tmp, view, version)?;
        fsync_dir(&tmp)?;
        let dst = self.version_dir(version);
        fs::rename(&tmp, &dst).map_err(io(format!("rename to {}", dst.display())))?;
        fsync_dir(&self.dir)?;
        Ok(version)
    }

    /// Atomically point `CURRENT` at version `version` (which must be complete).
    ///
    /// Durability: synced. `CURRENT` is replaced through
    /// `master_log::durable::write_atomic` with `Durability::Synced` (the pointer
    /// fsynced, renamed over the old one, the directory fsynced): once this returns, the
    /// switch survives a power cut; readers see the old pointer or the new one, never a
    /// mix.
    pub fn switch_to(&self, version: u64) -> Result<()> {
        let dir = self.version_dir(version);
        if !dir.join(META).is_file() || !dir.join(PARQUET).is_file() {
            return Err(corrupt(&dir, "not a complete version"));
        }
        replace_synced(&self.dir.join(CURRENT), pointer_text(version).as_bytes())
    }

    /// Write, publish atomically, and prune to the last K versions. Returns the version.
    ///
    /// Durability: synced, as [`ViewStore::prepare`] and [`ViewStore::switch_to`]: once
    /// this returns, the new view is the one served after a power cut. (The pruning of
    /// old versions is not fsynced: a crash may leave an old version behind, which the
    /// next publish removes.)
    pub fn publish(&self, view: &BatchView) -> Result<u64> {
        let version = self.prepare(view)?;
        self.switch_to(version)?;
        self.prune(version)?;
        Ok(version)
    }

    /// Delete every version but the `keep` newest up to `current` (and anything newer,
    /// which can only be a write that never got published).
    fn prune(&self, current: u64) -> Result<()> {
        let versions = self.versions()?;
        let kept: Vec<u64> = versions
            .iter()
            .copied()
            .filter(|v| *v <= current)
            .rev()
            .take(self.keep)
            .collect();
        for v in versions {
            if !kept.contains(&v) {
                let d = self.version_dir(v);
                fs::remove_dir_all(&d).map_err(io(format!("remove {}", d.display())))?;
            }
        }
        Ok(())
    }

    fn write_artifact(&self, dir: &Path, view: &BatchView, version: u64) -> Result<()> {
        let cells: Vec<StoredCell> = view.table.clone().into();
        let n = cells.len();
        let mut columns = vec![
            Column::new(
                "window_start".into(),
                cells.iter().map(|c| c.window.start).collect::<Vec<_>>(),
            ),
            Column::new(
                "window_end".into(),
                cells.iter().map(|c| c.window.end).collect::<Vec<_>>(),
            ),
        ];
        let key_names = view.key_columns.clone();
        let width = cells.first().map_or(key_names.len(), |c| c.key.len());
        let mut key_columns = Vec::new();
        for i in 0..width {
            let name = key_names
                .get(i)
                .cloned()
                .unwrap_or_else(|| format!("key{i}"));
            let vals: Vec<&Scalar> = cells
                .iter()
                .map(|c| c.key.get(i).unwrap_or(&Scalar::Null))
                .collect();
            if cells.iter().any(|c| c.key.len() != width) {
                return Err(BatchError::Type(
                    "cells with keys of different widths".into(),
                ));
            }
            let enc = scalar_encoding(&mut vals.iter().copied());
            columns.push(scalar_column(&format!("key_{name}"), enc, &vals)?);
            key_columns.push((name, enc));
        }
        let pwidth = cells.first().map_or(0, |c| c.partials.len());
        let mut partial_columns = Vec::new();
        for i in 0..pwidth {
            let name = format!("p{i}");
            let ps: Vec<&Partial> = cells.iter().filter_map(|c| c.partials.get(i)).collect();
            if ps.len() != n {
                return Err(BatchError::Type(
                    "cells with different partial counts".into(),
                ));
            }
            if ps.iter().all(|p| matches!(p, Partial::Count(_))) {
                let counts: Vec<u64> = ps
                    .iter()
                    .map(|p| match p {
                        Partial::Count(c) => *c,
                        _ => 0,
                    })
                    .collect();
                columns.push(Column::new(name.as_str().into(), counts));
                partial_columns.push((name, Encoding::Count));
            } else {
                let bytes = ps
                    .iter()
                    .map(postcard::to_allocvec)
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|e| BatchError::Type(format!("encode partial: {e}")))?;
                columns.push(binary_column(name.as_str().into(), bytes));
                partial_columns.push((name, Encoding::Postcard));
            }
        }
        let mut df = DataFrame::new(n, columns)?;
        let path = dir.join(PARQUET);
        let mut parquet = Vec::new();
        ParquetWriter::new(&mut parquet).finish(&mut df)?;
        let mut file = File::create(&path).map_err(io(format!("create {}", path.display())))?;
        file.write_all(&parquet)
            .and_then(|()| file.sync_all())
            .map_err(io(format!("write {}", path.display())))?;
        let mut meta = Meta {
            format: FORMAT,
            version,
            workload: view.workload.clone(),
            topic: view.topic.clone(),
            horizon: view.horizon.clone(),
            records_read: view.records_read,
            events: view.events,
            created_ms: view.created_ms,
            elapsed_ms: view.elapsed_ms,
            cells: n,
            key_columns,
            partial_columns,
            parquet_bytes: Some(parquet.len() as u64),
            parquet_crc32c: Some(crc32c::crc32c(&parquet)),
            checksum: None,
        };
        meta.checksum = Some(meta.crc()?);
        let json = serde_json::to_vec_pretty(&meta)
            .map_err(|e| BatchError::Type(format!("encode metadata: {e}")))?;
        replace_synced(&dir.join(META), &json)
    }

    /// Read version `version` back exactly, checked (see the module's documentation): a
    /// damaged or missing file of it is [`BatchError::Corrupt`]; a version whose
    /// directory is not there is [`BatchError::Io`] (not found).
    pub fn read_version(&self, version: u64) -> Result<BatchView> {
        let dir = self.version_dir(version);
        let meta_path = dir.join(META);
        let meta = Meta::read(&read_file(&meta_path)?, &meta_path, version)?;
        let path = dir.join(PARQUET);
        let parquet = read_file(&path)?;
        if let (Some(size), Some(crc)) = (meta.parquet_bytes, meta.parquet_crc32c) {
            if parquet.len() as u64 != size {
                return Err(corrupt(
                    &path,
                    format!("{} bytes, its metadata says {size}", parquet.len()),
                ));
            }
            if crc32c::crc32c(&parquet) != crc {
                return Err(corrupt(&path, "fails its checksum (CRC32C)"));
            }
        }
        let df = ParquetReader::new(std::io::Cursor::new(parquet))
            .finish()
            .map_err(|e| corrupt(&path, e.to_string()))?;
        if df.height() != meta.cells {
            return Err(corrupt(
                &path,
                format!("{} rows, metadata says {}", df.height(), meta.cells),
            ));
        }
        let col = |name: &str| df.column(name).map_err(|e| corrupt(&path, e.to_string()));
        let int = |av: AnyValue<'_>| match av {
            AnyValue::Int64(i) => Ok(i),
            other => Err(corrupt(&path, format!("window bound {other:?}"))),
        };
        let ws = col("window_start")?;
        let we = col("window_end")?;
        let keys: Vec<(&Column, Encoding)> = meta
            .key_columns
            .iter()
            .map(|(n, e)| Ok((col(&format!("key_{n}"))?, *e)))
            .collect::<Result<_>>()?;
        let parts: Vec<(&Column, Encoding)> = meta
            .partial_columns
            .iter()
            .map(|(n, e)| Ok((col(n)?, *e)))
            .collect::<Result<_>>()?;
        let mut cells = Vec::with_capacity(df.height());
        for i in 0..df.height() {
            let window = Window {
                start: int(ws.get(i)?)?,
                end: int(we.get(i)?)?,
            };
            let key = keys
                .iter()
                .map(|(c, e)| decode_scalar(c.get(i)?, *e, &path))
                .collect::<Result<Vec<_>>>()?;
            let mut partials = Vec::with_capacity(parts.len());
            for (c, e) in &parts {
                partials.push(match (e, c.get(i)?) {
                    (Encoding::Count, AnyValue::UInt64(n)) => Partial::Count(n),
                    (Encoding::Postcard, AnyValue::Binary(b)) => postcard::from_bytes(b)
                        .map_err(|e| corrupt(&path, format!("partial: {e}")))?,
                    (Encoding::Postcard, AnyValue::BinaryOwned(b)) => postcard::from_bytes(&b)
                        .map_err(|e| corrupt(&path, format!("partial: {e}")))?,
                    (e, other) => {
                        return Err(corrupt(&path, format!("partial {other:?} as {e:?}")));
                    }
                });
            }
            cells.push(StoredCell {
                window,
                key,
                partials,
            });
        }
        Ok(BatchView {
            version,
            workload: meta.workload,
            topic: meta.topic,
            key_columns: meta.key_columns.into_iter().map(|(n, _)| n).collect(),
            horizon: meta.horizon,
            records_read: meta.records_read,
            events: meta.events,
            created_ms: meta.created_ms,
            elapsed_ms: meta.elapsed_ms,
            table: PartialTable::from(cells),
        })
    }
}
