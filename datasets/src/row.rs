//! Typed rows: the value encoding of imported CSV files, and their schema.
//!
//! The schema (column names and types, time and key columns) is stored once, in the
//! topic's sidecar file; each record value holds only the row:
//!
//! ```text
//!  value = 0x04 · column count (varint) · null bitmap (⌈n/8⌉ bytes, bit i set = null)
//!          · each non-null column in schema order:
//!              integer    zigzag varint            bool       1 byte (0 or 1)
//!              float      8 bytes, little-endian   timestamp  zigzag varint, µs since epoch
//!              string     varint length · UTF-8 bytes
//! ```
//!
//! Decoding borrows strings from the value.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::codec::TAG_ROW;
use crate::error::{DatasetError, Result};

/// The type of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    /// 64-bit signed integer.
    Integer,
    /// 64-bit float.
    Float,
    /// UTF-8 text.
    String,
    /// `true` or `false` (any case).
    Bool,
    /// An instant, kept to the microsecond (in the file: RFC 3339, or `YYYY-MM-DD
    /// HH:MM:SS[.f]` read as UTC; the time column follows its own format).
    Timestamp,
}

impl ColumnType {
    /// The type's name in flags and sidecars.
    pub fn name(self) -> &'static str {
        match self {
            Self::Integer => "integer",
            Self::Float => "float",
            Self::String => "string",
            Self::Bool => "bool",
            Self::Timestamp => "timestamp",
        }
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for ColumnType {
    type Err = DatasetError;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "integer" | "int" | "i64" | "long" => Self::Integer,
            "float" | "f64" | "double" | "number" => Self::Float,
            "string" | "str" | "text" => Self::String,
            "bool" | "boolean" => Self::Bool,
            "timestamp" | "datetime" | "time" => Self::Timestamp,
            _ => {
                return Err(DatasetError::InvalidOptions(format!(
                    "column type {s:?}: expected integer, float, string, bool or timestamp"
                )));
            }
        })
    }
}

/// One column of a schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// The column's name (from the header).
    pub name: String,
    /// The column's type.
    #[serde(rename = "type")]
    pub ty: ColumnType,
}

/// The columns of imported rows, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    /// The columns, in file order.
    pub columns: Vec<Column>,
    /// The column giving each record's event time (a timestamp column).
    pub time_column: String,
    /// The column whose text is each record's key, if any.
    pub key_column: Option<String>,
}

impl Schema {
    /// Index of the column named `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// Decode a row value into `out` (cleared first). Strings borrow from `value`.
    pub fn decode_into<'a>(&self, value: &'a [u8], out: &mut Vec<Value<'a>>) -> Result<()> {
        out.clear();
        let bad = |reason: String| DatasetError::Decode {
            what: "csv row",
            reason,
        };
        let mut r = Reader { buf: value, pos: 0 };
        if r.byte() != Some(TAG_ROW) {
            return Err(bad("not a row value (tag byte)".into()));
        }
        let n = r.uvarint().ok_or_else(|| bad("truncated".into()))? as usize;
        if n != self.columns.len() {
            return Err(bad(format!(
                "row of {n} columns, schema of {}",
                self.columns.len()
            )));
        }
        let bitmap = r
            .take(n.div_ceil(8))
            .ok_or_else(|| bad("truncated null bitmap".into()))?;
        for (i, c) in self.columns.iter().enumerate() {
            if bitmap[i / 8] & (1 << (i % 8)) != 0 {
                out.push(Value::Null);
                continue;
            }
            let v = match c.ty {
                ColumnType::Integer => r.varint().map(Value::Integer),
                ColumnType::Timestamp => r.varint().map(Value::Timestamp),
                ColumnType::Float => r
                    .take(8)
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map(|b| Value::Float(f64::from_le_bytes(b))),
                ColumnType::Bool => r.byte().map(|b| Value::Bool(b != 0)),
                ColumnType::String => {
                    let len = r.uvarint();
                    len.and_then(|l| usize::try_from(l).ok())
                        .and_then(|l| r.take(l))
                        .and_then(|b| std::str::from_utf8(b).ok())
                        .map(|s| Value::String(Cow::Borrowed(s)))
                }
            };
            out.push(v.ok_or_else(|| bad(format!("column {:?} is truncated", c.name)))?);
        }
        if r.pos != value.len() {
            return Err(bad("trailing bytes".into()));
        }
        Ok(())
    }

    /// Decode a row value.
    pub fn decode<'a>(&self, value: &'a [u8]) -> Result<Vec<Value<'a>>> {
        let mut out = Vec::with_capacity(self.columns.len());
        self.decode_into(value, &mut out)?;
        Ok(out)
    }

    /// Encode a row of values (one per column, of the column's type or null).
    pub fn encode(&self, values: &[Value<'_>], out: &mut Vec<u8>) -> Result<()> {
        if values.len() != self.columns.len() {
            return Err(DatasetError::InvalidOptions(format!(
                "{} values for {} columns",
                values.len(),
                self.columns.len()
            )));
        }
        let mut enc = RowEncoder::begin(out, values.len(), |i| values[i].is_null());
        for (v, c) in values.iter().zip(&self.columns) {
            match (v, c.ty) {
                (Value::Null, _) => {}
                (Value::Integer(i), ColumnType::Integer) => enc.integer(*i),
                (Value::Timestamp(t), ColumnType::Timestamp) => enc.integer(*t),
                (Value::Float(f), ColumnType::Float) => enc.float(*f),
                (Value::Bool(b), ColumnType::Bool) => enc.bool(*b),
                (Value::String(s), ColumnType::String) => enc.string(s),
                (v, ty) => {
                    return Err(DatasetError::InvalidOptions(format!(
                        "value {v:?} in {ty} column {:?}",
                        c.name
                    )));
                }
            }
        }
        Ok(())
    }
}

/// Writes one row value.
pub(crate) struct RowEncoder<'o> {
    out: &'o mut Vec<u8>,
}

impl<'o> RowEncoder<'o> {
    /// Write the tag, the column count and the null bitmap.
    pub(crate) fn begin(out: &'o mut Vec<u8>, n: usize, is_null: impl Fn(usize) -> bool) -> Self {
        out.push(TAG_ROW);
        put_uvarint(out, n as u64);
        let start = out.len();
        out.resize(start + n.div_ceil(8), 0);
        for i in 0..n {
            if is_null(i) {
                out[start + i / 8] |= 1 << (i % 8);
            }
        }
        Self { out }
    }
    pub(crate) fn integer(&mut self, v: i64) {
        put_uvarint(self.out, ((v << 1) ^ (v >> 63)) as u64);
    }
    pub(crate) fn float(&mut self, v: f64) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn bool(&mut self, v: bool) {
        self.out.push(u8::from(v));
    }
    pub(crate) fn string(&mut self, s: &str) {
        put_uvarint(self.out, s.len() as u64);
        self.out.extend_from_slice(s.as_bytes());
    }
}

#[inline]
fn put_uvarint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.buf.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    fn uvarint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Some(v);
            }
        }
        None
    }
    fn varint(&mut self) -> Option<i64> {
        let v = self.uvarint()?;
        Some(((v >> 1) as i64) ^ -((v & 1) as i64))
    }
}

/// One typed value of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// An empty field, or a null marker.
    Null,
    /// An integer.
    Integer(i64),
    /// A float.
    Float(f64),
    /// Text.
    String(Cow<'a, str>),
    /// A bool.
    Bool(bool),
    /// Microseconds since the Unix epoch.
    Timestamp(i64),
}

impl Value<'_> {
    /// The value as a workload's scalar (strings copied).
    pub fn to_scalar(&self) -> workloads::Scalar {
        use workloads::Scalar;
        match self {
            Value::Null => Scalar::Null,
            Value::Integer(i) => Scalar::Int(*i),
            Value::Float(f) => Scalar::Float(*f),
            Value::String(s) => Scalar::Str(s.to_string()),
            Value::Bool(b) => Scalar::Bool(*b),
            Value::Timestamp(us) => Scalar::Timestamp(*us),
        }
    }

    /// Whether the value is null.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The value as CSV text: integers and floats in Rust's shortest round-trip form,
    /// timestamps in RFC 3339 UTC with as many fractional digits as needed, null empty.
    pub fn write_text(&self, out: &mut String) {
        use std::fmt::Write;
        match self {
            Value::Null => {}
            Value::Integer(i) => {
                let _ = write!(out, "{i}");
            }
            Value::Float(f) => {
                let _ = write!(out, "{f:?}");
            }
            Value::String(s) => out.push_str(s),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Timestamp(us) => out.push_str(&format_micros(*us)),
        }
    }
}

/// RFC 3339 UTC text of an instant in µs since the epoch (`AutoSi` fractional digits).
pub fn format_micros(us: i64) -> String {
    match DateTime::<Utc>::from_timestamp_micros(us) {
        Some(t) => t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        None => us.to_string(),
    }
}

/// RFC 3339 UTC text of an instant in ms since the epoch.
pub fn format_millis(ms: i64) -> String {
    match DateTime::<Utc>::from_timestamp_millis(ms) {
        Some(t) => t.to_rfc3339_opts(SecondsFormat::Millis, true),
        None => ms.to_string(),
    }
}

/// How the time column is written in a file.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeFormat {
    /// RFC 3339 (`2024-05-01T12:00:00.5+02:00`); also `YYYY-MM-DD[T ]HH:MM:SS[.f]`
    /// without an offset, read as UTC.
    #[default]
    Rfc3339,
    /// Integer milliseconds since the Unix epoch.
    EpochMs,
    /// Seconds since the Unix epoch, integer or decimal.
    EpochS,
    /// A chrono `strftime` pattern (`%d/%m/%Y %H:%M`); without `%z` the time is UTC,
    /// and a pattern with only a date gives midnight.
    Strftime(String),
}

impl std::str::FromStr for TimeFormat {
    type Err = DatasetError;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "rfc3339" => Self::Rfc3339,
            "epoch-ms" | "epoch_ms" => Self::EpochMs,
            "epoch-s" | "epoch_s" => Self::EpochS,
            f if f.contains('%') => Self::Strftime(f.to_owned()),
            other => {
                return Err(DatasetError::InvalidOptions(format!(
                    "time format {other:?}: expected rfc3339, epoch-ms, epoch-s or a \
                     strftime pattern such as '%Y-%m-%d %H:%M:%S'"
                )));
            }
        })
    }
}

/// The instants RFC 3339 can write, years 0000 to 9999 in UTC, in µs since the epoch:
/// what is imported must export as RFC 3339 text and import back.
const RFC3339_MICROS: std::ops::RangeInclusive<i64> =
    -62_167_219_200_000_000..=253_402_300_799_999_999;

/// `us` when RFC 3339 can write it ([`RFC3339_MICROS`]).
fn writable(us: i64) -> Option<i64> {
    RFC3339_MICROS.contains(&us).then_some(us)
}

impl TimeFormat {
    /// Parse `s` into µs since the epoch; `None` when it is not an instant of this
    /// format, or one outside the years 0000 to 9999 (UTC), which RFC 3339 cannot write.
    pub fn parse(&self, s: &str) -> Option<i64> {
        self.parse_any(s).and_then(writable)
    }

    /// [`TimeFormat::parse`] of any year.
    fn parse_any(&self, s: &str) -> Option<i64> {
        let s = s.trim();
        match self {
            Self::Rfc3339 => parse_timestamp_any(s),
            Self::EpochMs => s.parse::<i64>().ok()?.checked_mul(1000),
            Self::EpochS => match s.parse::<i64>() {
                Ok(v) => v.checked_mul(1_000_000),
                Err(_) => {
                    let f = s.parse::<f64>().ok()?;
                    let us = (f * 1e6).round();
                    (us.is_finite() && us.abs() < 9.2e18).then_some(us as i64)
                }
            },
            Self::Strftime(f) => {
                if let Ok(t) = DateTime::parse_from_str(s, f) {
                    return Some(t.timestamp_micros());
                }
                if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
                    return Some(t.and_utc().timestamp_micros());
                }
                let d = NaiveDate::parse_from_str(s, f).ok()?;
                Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_micros())
            }
        }
    }
}

/// Parse an RFC 3339 instant, or a date and time without offset as UTC, into µs;
/// `None` also for one outside the years 0000 to 9999 in UTC (`0000-01-01T00:30:00+01:00`),
/// which RFC 3339 cannot write.
pub fn parse_timestamp_auto(s: &str) -> Option<i64> {
    parse_timestamp_any(s).and_then(writable)
}

/// [`parse_timestamp_auto`] of any year.
fn parse_timestamp_any(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    // Cheap rejection first: inference tries every field of a sample.
    if b.len() < 19 || !b[0].is_ascii_digit() || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_micros());
    }
    let sep = b[10];
    let f = match sep {
        b'T' => "%Y-%m-%dT%H:%M:%S%.f",
        b' ' => "%Y-%m-%d %H:%M:%S%.f",
        _ => return None,
    };
    NaiveDateTime::parse_from_str(s, f)
        .ok()
        .map(|t| t.and_utc().timestamp_micros())
}

/// Parse a 64-bit integer. `Err(None)`: not an integer; `Err(Some(why))`: an integer
/// outside the 64-bit range.
pub(crate) fn parse_integer(s: &str) -> std::result::Result<i64, Option<&'static str>> {
    use std::num::IntErrorKind;
    s.parse::<i64>().map_err(|e| match e.kind() {
        IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => {
            Some("an integer is 64-bit, from -9223372036854775808 to 9223372036854775807")
        }
        _ => None,
    })
}

/// Parse a 64-bit float as DuckDB does: `inf`, `infinity` and `nan` (any case, signed or
/// not) are the values they name; a finite literal too large for a float (`1e309`) is out
/// of range, never infinity. `Err(None)`: not a float; `Err(Some(why))`: out of range.
pub(crate) fn parse_float(s: &str) -> std::result::Result<f64, Option<&'static str>> {
    let v = s.parse::<f64>().map_err(|_| None)?;
    if v.is_infinite() {
        let word = s.trim_start_matches(['+', '-']);
        if !(word.eq_ignore_ascii_case("inf") || word.eq_ignore_ascii_case("infinity")) {
            return Err(Some(
                "a float is 64-bit, at most ±1.7976931348623157e308 (write inf or -inf for \
                 an infinity)",
            ));
        }
    }
    Ok(v)
}

/// Parse the bool spellings this crate accepts.
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Schema {
        let c = |n: &str, ty| Column { name: n.into(), ty };
        Schema {
            columns: vec![
                c("i", ColumnType::Integer),
                c("f", ColumnType::Float),
                c("s", ColumnType::String),
                c("b", ColumnType::Bool),
                c("t", ColumnType::Timestamp),
                c("n", ColumnType::String),
                c("i2", ColumnType::Integer),
                c("f2", ColumnType::Float),
                c("s2", ColumnType::String),
            ],
            time_column: "t".into(),
            key_column: None,
        }
    }

    #[test]
    fn row_roundtrip() {
        let s = schema();
        let row = vec![
            Value::Integer(-5),
            Value::Float(0.1),
            Value::String("héllo".into()),
            Value::Bool(true),
            Value::Timestamp(1_700_000_000_123_456),
            Value::Null,
            Value::Integer(i64::MIN),
            Value::Float(f64::INFINITY),
            Value::String("".into()),
        ];
        let mut out = Vec::new();
        s.encode(&row, &mut out).unwrap();
        assert_eq!(s.decode(&out).unwrap(), row);
        // Truncations are errors, never panics.
        for cut in 0..out.len() {
            assert!(s.decode(&out[..cut]).is_err());
        }
    }

    #[test]
    fn numbers_in_range_literals_and_overflow() {
        assert_eq!(parse_float("1.5"), Ok(1.5));
        assert_eq!(parse_float("1e308"), Ok(1e308));
        assert_eq!(parse_float("1e-400"), Ok(0.0));
        for inf in ["inf", "+Inf", "INFINITY", "infinity"] {
            assert_eq!(parse_float(inf), Ok(f64::INFINITY), "{inf}");
        }
        assert_eq!(parse_float("-inf"), Ok(f64::NEG_INFINITY));
        assert!(parse_float("NaN").unwrap().is_nan());
        for big in ["1e309", "-1e309", "2e308", &"9".repeat(400)] {
            assert!(matches!(parse_float(big), Err(Some(_))), "{big}");
        }
        assert_eq!(parse_float("abc"), Err(None));
        assert_eq!(parse_float("infinit"), Err(None));
        assert_eq!(parse_integer("-9223372036854775808"), Ok(i64::MIN));
        assert!(matches!(parse_integer("9223372036854775808"), Err(Some(_))));
        assert!(matches!(
            parse_integer("-99999999999999999999"),
            Err(Some(_))
        ));
        assert_eq!(parse_integer("1.0"), Err(None));
    }

    #[test]
    fn time_formats() {
        let base = 1_700_000_000_000_000i64; // 2023-11-14T22:13:20Z
        assert_eq!(
            TimeFormat::Rfc3339.parse("2023-11-14T22:13:20Z"),
            Some(base)
        );
        assert_eq!(
            TimeFormat::Rfc3339.parse("2023-11-14T23:13:20.5+01:00"),
            Some(base + 500_000)
        );
        assert_eq!(TimeFormat::Rfc3339.parse("2023-11-14 22:13:20"), Some(base));
        assert_eq!(TimeFormat::EpochMs.parse("1700000000000"), Some(base));
        assert_eq!(TimeFormat::EpochS.parse("1700000000"), Some(base));
        assert_eq!(
            TimeFormat::EpochS.parse("1700000000.25"),
            Some(base + 250_000)
        );
        let f: TimeFormat = "%d/%m/%Y %H:%M:%S".parse().unwrap();
        assert_eq!(f.parse("14/11/2023 22:13:20"), Some(base));
        let d: TimeFormat = "%Y%m%d".parse().unwrap();
        assert_eq!(
            d.parse("20231114"),
            Some(base - (22 * 3600 + 13 * 60 + 20) * 1_000_000)
        );
        assert_eq!(TimeFormat::Rfc3339.parse("yesterday"), None);
        assert_eq!(TimeFormat::EpochMs.parse("99999999999999999999"), None);
        assert!("nonsense".parse::<TimeFormat>().is_err());
        assert_eq!(format_micros(base + 500_000), "2023-11-14T22:13:20.500Z");
        assert_eq!(format_micros(base), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn only_instants_rfc3339_can_write_are_parsed_so_that_they_import_back() {
        // The first and last instants RFC 3339 writes, and one step beyond each.
        let first = TimeFormat::EpochMs.parse("-62167219200000").unwrap();
        assert_eq!(format_micros(first), "0000-01-01T00:00:00Z");
        assert_eq!(
            TimeFormat::Rfc3339.parse(&format_micros(first)),
            Some(first)
        );
        assert_eq!(TimeFormat::EpochMs.parse("-62167219200001"), None);
        let last = TimeFormat::EpochMs.parse("253402300799999").unwrap();
        assert_eq!(TimeFormat::Rfc3339.parse(&format_micros(last)), Some(last));
        assert_eq!(TimeFormat::EpochMs.parse("253402300800000"), None);
        // Year -2935, which an epoch-ms field can name and RFC 3339 cannot write.
        assert_eq!(TimeFormat::EpochMs.parse("-154714628462556"), None);
        assert_eq!(TimeFormat::EpochS.parse("-154714628462.556"), None);
        // An offset that moves year 0000 into year -1 in UTC.
        assert_eq!(parse_timestamp_auto("0000-01-01T00:30:00+01:00"), None);
        assert!(parse_timestamp_auto("0000-01-01T00:30:00-01:00").is_some());
    }
}
