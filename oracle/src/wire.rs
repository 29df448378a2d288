//! Record values as the oracle reads them, written from the formats' descriptions (the
//! `datasets` crate's `codec`, `row` and `export` documentation, and the layouts below,
//! which are what the oracle assumes where that documentation stops), not from the code
//! that writes or decodes them for the pipelines.
//!
//! ## Values
//! ```text
//!  value = tag (1 byte) ++ body       0x01 page view · 0x02 YSB event · 0x03 NEXMark event
//!                                     (body: postcard, layouts below)
//!                                     0x04 imported CSV row (body: the row format below)
//!  value = a JSON object              the JSON codec: the value's first byte is `{`
//! ```
//!
//! ## Postcard bodies
//! [Postcard](https://postcard.jamesmunns.com/wire-format) writes a struct as its fields
//! in order, with no names and no framing: an unsigned integer as a varint (LEB128), a
//! signed one as a zigzag varint, a string or a byte string as a varint length and the
//! bytes, an enum as the varint index of its variant (then the variant's fields). The
//! oracle assumes these layouts (field: type), each value exactly one body with no
//! trailing byte:
//!
//! ```text
//!  page view    event_id: u64 · viewer_id: u64 · page_id: u64
//!               · page_type: variant of profile, company, job, article, feed
//!               · country: 2 bytes (ASCII) · device: variant of desktop, mobile, tablet, app
//!               · event_time: i64 (ms)
//!  YSB event    event_id: u64 · user_id: 16 bytes · page_id: 16 bytes · ad_id: 16 bytes
//!               · ad_type: variant of banner, modal, sponsored-search, mail, mobile
//!               · event_type: variant of view, click, purchase
//!               · event_time: i64 (ms) · ip_address: 4 bytes
//!  NEXMark      variant of person (0), auction (1), bid (2), then:
//!   person      event_id: u64 · id: u64 · name, email_address, credit_card, city, state: text
//!               · date_time: i64 (ms)
//!   auction     event_id: u64 · id: u64 · item_name, description: text · initial_bid: u64
//!               · reserve: u64 · date_time: i64 (ms) · expires: i64 (ms) · seller: u64
//!               · category: u64
//!   bid         event_id: u64 · auction: u64 · bidder: u64 · price: u64 · channel, url: text
//!               · date_time: i64 (ms)
//! ```
//!
//! ## JSON objects
//! The same fields by name (others are ignored): integers as numbers, variants as their
//! names, identifiers in their text forms (a UUID as 32 hex digits, hyphens allowed; an
//! IPv4 address dotted; a country as its two letters); a NEXMark event as an object with
//! one member, `person`, `auction` or `bid`, holding the event's fields.
//!
//! ## Imported CSV rows
//! As `datasets`' row format documents it: the column count (varint), a null bitmap of
//! ⌈n/8⌉ bytes (bit `i % 8` of byte `i / 8` set: column `i` is null), then each non-null
//! column in schema order — an integer or a timestamp (µs) as a zigzag varint, a float as
//! 8 bytes little-endian, a bool as one byte 0 or 1, a string as a varint length and
//! UTF-8. Each of these is postcard's encoding of the same type, so the oracle reads them
//! with postcard too. The schema (names and types, in order) is in the topic's sidecar
//! (see `side`); a row's event time is its record's.
//!
//! ## Columns
//! An event becomes a row of named values, the names `lk export` gives its columns: a
//! page view `event_id, viewer_id, page_id, page_type, country, device`; a YSB event
//! `event_id, user_id, page_id, ad_id, ad_type, event_type, ip_address` (identifiers in
//! text, a UUID hyphenated in lower case); a NEXMark event one wide row `kind, event_id,
//! date_time, person_id, name, email_address, credit_card, city, state, auction_id,
//! item_name, description, initial_bid, reserve, expires, seller, category, auction,
//! bidder, price, channel, url`, null where its kind has no such field (times as
//! timestamps, µs); an imported row its schema's columns. Unsigned integers beyond
//! `i64::MAX` are an error, not wrapped.

use serde::Deserialize;
use serde_json::{Map, Value};
use workloads::Scalar;

use crate::{OracleError, Result};

/// The type of an imported column (named so in the sidecar's schema: see `side`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ColumnType {
    /// A 64-bit signed integer.
    Integer,
    /// A 64-bit float.
    Float,
    /// UTF-8 text.
    String,
    /// A bool.
    Bool,
    /// µs since the epoch.
    Timestamp,
}

/// What a topic's values are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Generated page views.
    PageView,
    /// Generated YSB ad events.
    Ysb,
    /// Generated NEXMark events.
    Nexmark,
    /// Rows of an imported CSV file.
    Row,
}

/// One decoded record value.
#[derive(Debug)]
pub(crate) struct Decoded {
    /// What it is.
    pub kind: Kind,
    /// A generated event's id (its duplicates carry the same); `None` for a CSV row.
    pub id: Option<u64>,
    /// Event time, ms since the epoch.
    pub time: i64,
    /// One value per column of its kind ([`columns`]).
    pub values: Vec<Scalar>,
}

const PAGE_TYPES: &[&str] = &["profile", "company", "job", "article", "feed"];
const DEVICES: &[&str] = &["desktop", "mobile", "tablet", "app"];
const AD_TYPES: &[&str] = &["banner", "modal", "sponsored-search", "mail", "mobile"];
const YSB_EVENT_TYPES: &[&str] = &["view", "click", "purchase"];
const NEXMARK_KINDS: &[&str] = &["person", "auction", "bid"];

/// The type of a field of a generated event.
#[derive(Debug, Clone, Copy)]
enum Ty {
    /// An unsigned integer.
    U64,
    /// ms since the epoch (a signed integer).
    Millis,
    /// An enum without data: one of these names.
    Variant(&'static [&'static str]),
    /// Two ASCII letters.
    Country,
    /// 16 bytes, shown hyphenated.
    Uuid,
    /// 4 bytes, shown dotted.
    Ipv4,
    /// UTF-8 text.
    Text,
}

/// A field of a generated event, in wire order: its name, the column it fills (`None`:
/// the event time of a page view or a YSB event, which is no column) and its type.
type Field = (&'static str, Option<&'static str>, Ty);

const PAGE_VIEW: &[Field] = &[
    ("event_id", Some("event_id"), Ty::U64),
    ("viewer_id", Some("viewer_id"), Ty::U64),
    ("page_id", Some("page_id"), Ty::U64),
    ("page_type", Some("page_type"), Ty::Variant(PAGE_TYPES)),
    ("country", Some("country"), Ty::Country),
    ("device", Some("device"), Ty::Variant(DEVICES)),
    ("event_time", None, Ty::Millis),
];

const YSB: &[Field] = &[
    ("event_id", Some("event_id"), Ty::U64),
    ("user_id", Some("user_id"), Ty::Uuid),
    ("page_id", Some("page_id"), Ty::Uuid),
    ("ad_id", Some("ad_id"), Ty::Uuid),
    ("ad_type", Some("ad_type"), Ty::Variant(AD_TYPES)),
    (
        "event_type",
        Some("event_type"),
        Ty::Variant(YSB_EVENT_TYPES),
    ),
    ("event_time", None, Ty::Millis),
    ("ip_address", Some("ip_address"), Ty::Ipv4),
];

const PERSON: &[Field] = &[
    ("event_id", Some("event_id"), Ty::U64),
    ("id", Some("person_id"), Ty::U64),
    ("name", Some("name"), Ty::Text),
    ("email_address", Some("email_address"), Ty::Text),
    ("credit_card", Some("credit_card"), Ty::Text),
    ("city", Some("city"), Ty::Text),
    ("state", Some("state"), Ty::Text),
    ("date_time", Some("date_time"), Ty::Millis),
];

const AUCTION: &[Field] = &[
    ("event_id", Some("event_id"), Ty::U64),
    ("id", Some("auction_id"), Ty::U64),
    ("item_name", Some("item_name"), Ty::Text),
    ("description", Some("description"), Ty::Text),
    ("initial_bid", Some("initial_bid"), Ty::U64),
    ("reserve", Some("reserve"), Ty::U64),
    ("date_time", Some("date_time"), Ty::Millis),
    ("expires", Some("expires"), Ty::Millis),
    ("seller", Some("seller"), Ty::U64),
    ("category", Some("category"), Ty::U64),
];

const BID: &[Field] = &[
    ("event_id", Some("event_id"), Ty::U64),
    ("auction", Some("auction"), Ty::U64),
    ("bidder", Some("bidder"), Ty::U64),
    ("price", Some("price"), Ty::U64),
    ("channel", Some("channel"), Ty::Text),
    ("url", Some("url"), Ty::Text),
    ("date_time", Some("date_time"), Ty::Millis),
];

const PAGE_VIEW_COLUMNS: &[&str] = &[
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

/// The columns of a generated kind (a CSV row's are its schema's).
pub(crate) fn columns(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::PageView => PAGE_VIEW_COLUMNS,
        Kind::Ysb => YSB_COLUMNS,
        Kind::Nexmark => NEXMARK_COLUMNS,
        Kind::Row => &[],
    }
}

/// Decode one record value. `record_time` is the record's event time (a CSV row's);
/// `schema` the topic's CSV schema, when it has one.
pub(crate) fn decode(
    value: &[u8],
    record_time: i64,
    schema: Option<&[(String, ColumnType)]>,
) -> Result<Decoded> {
    match value.split_first() {
        Some((0x01, body)) => generated(Kind::PageView, PAGE_VIEW, &mut Postcard(body)),
        Some((0x02, body)) => generated(Kind::Ysb, YSB, &mut Postcard(body)),
        Some((0x03, body)) => {
            let mut p = Postcard(body);
            let variant: u32 = p.take("the NEXMark event's kind")?;
            let (kind, layout) = nexmark_layout(variant as usize)?;
            let mut d = generated(Kind::Nexmark, layout, &mut p)?;
            d.values[0] = Scalar::Str(kind.to_owned());
            Ok(d)
        }
        Some((0x04, body)) => {
            let schema = schema.ok_or(OracleError::NoSchema)?;
            row(body, record_time, schema)
        }
        Some((b'{', _)) => json(value),
        Some((tag, _)) => Err(malformed(format!("tag byte {tag:#04x} names no format"))),
        None => Err(malformed("an empty value".into())),
    }
}

fn malformed(what: String) -> OracleError {
    OracleError::Malformed(what)
}

/// The kind name and the layout of the NEXMark variant `i`.
fn nexmark_layout(i: usize) -> Result<(&'static str, &'static [Field])> {
    let layout = [PERSON, AUCTION, BID]
        .get(i)
        .ok_or_else(|| malformed(format!("NEXMark variant {i} is not person, auction or bid")))?;
    Ok((NEXMARK_KINDS[i], layout))
}

/// A field's value as read, before it becomes a column value.
enum Got {
    Unsigned(u64),
    Millis(i64),
    Text(String),
}

/// Where a generated event's fields come from: a postcard body or a JSON object.
trait Source {
    /// The next field of the layout (postcard) or the field of that name (JSON).
    fn field(&mut self, name: &'static str, ty: Ty) -> Result<Got>;
    /// Every field was read: nothing may follow (postcard).
    fn end(&self) -> Result<()>;
}

/// Read a generated event of `layout` from `src` into the columns of `kind`.
fn generated(kind: Kind, layout: &[Field], src: &mut dyn Source) -> Result<Decoded> {
    let cols = columns(kind);
    let mut values = vec![Scalar::Null; cols.len()];
    let (mut id, mut time) = (None, None);
    for &(name, column, ty) in layout {
        let got = src.field(name, ty)?;
        let value = match got {
            Got::Unsigned(u) => {
                if name == "event_id" {
                    id = Some(u);
                }
                Scalar::Int(i64::try_from(u).map_err(|_| {
                    malformed(format!("{name} = {u} is beyond the largest integer"))
                })?)
            }
            Got::Millis(ms) => {
                if matches!(name, "event_time" | "date_time") {
                    time = Some(ms);
                }
                let us = ms
                    .checked_mul(1000)
                    .ok_or_else(|| malformed(format!("{name} = {ms} ms is out of range")))?;
                Scalar::Timestamp(us)
            }
            Got::Text(s) => Scalar::Str(s),
        };
        if let Some(at) = column.and_then(|c| cols.iter().position(|n| *n == c)) {
            values[at] = value;
        }
    }
    src.end()?;
    Ok(Decoded {
        kind,
        id: Some(id.ok_or_else(|| malformed("no event_id".into()))?),
        time: time.ok_or_else(|| malformed("no event time".into()))?,
        values,
    })
}

/// A postcard body being read field by field.
struct Postcard<'a>(&'a [u8]);

impl<'a> Postcard<'a> {
    /// The next value of type `T` in postcard's encoding.
    fn take<T: Deserialize<'a>>(&mut self, field: &'static str) -> Result<T> {
        let (v, rest) = postcard::take_from_bytes(self.0)
            .map_err(|source| OracleError::Postcard { field, source })?;
        self.0 = rest;
        Ok(v)
    }

    /// A byte string of exactly `n` bytes.
    fn fixed(&mut self, field: &'static str, n: usize) -> Result<&'a [u8]> {
        let b: &'a [u8] = self.take(field)?;
        if b.len() != n {
            return Err(malformed(format!("{field} has {} bytes, not {n}", b.len())));
        }
        Ok(b)
    }

    /// `n` raw bytes (no length before them).
    fn raw(&mut self, field: &'static str, n: usize) -> Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(malformed(format!("{field} is cut short")));
        }
        let (b, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(b)
    }
}

impl Source for Postcard<'_> {
    fn field(&mut self, name: &'static str, ty: Ty) -> Result<Got> {
        Ok(match ty {
            Ty::U64 => Got::Unsigned(self.take(name)?),
            Ty::Millis => Got::Millis(self.take(name)?),
            Ty::Variant(names) => {
                let i: u32 = self.take(name)?;
                Got::Text(variant_name(name, names, i as usize)?.to_owned())
            }
            Ty::Country => Got::Text(country(name, self.fixed(name, 2)?)?),
            Ty::Uuid => Got::Text(uuid_text(self.fixed(name, 16)?)),
            Ty::Ipv4 => {
                let b = self.fixed(name, 4)?;
                Got::Text(std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string())
            }
            Ty::Text => Got::Text(self.take::<&str>(name)?.to_owned()),
        })
    }

    fn end(&self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(malformed(format!("{} bytes after the event", self.0.len())))
        }
    }
}

fn variant_name(field: &str, names: &[&'static str], i: usize) -> Result<&'static str> {
    names
        .get(i)
        .copied()
        .ok_or_else(|| malformed(format!("{field}: variant {i} is not one of {names:?}")))
}

fn country(field: &str, b: &[u8]) -> Result<String> {
    match std::str::from_utf8(b) {
        Ok(s) if s.is_ascii() => Ok(s.to_owned()),
        _ => Err(malformed(format!("{field} is not two ASCII letters"))),
    }
}

/// 16 bytes as `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, lower case.
pub(crate) fn uuid_text(b: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        let _ = write!(s, "{byte:02x}");
    }
    s
}

/// The 16 bytes of a UUID written as 32 hex digits, hyphens allowed anywhere.
pub(crate) fn uuid_bytes(text: &str) -> Option<[u8; 16]> {
    let mut out = [0u8; 16];
    let mut digits = 0;
    for c in text.chars().filter(|c| *c != '-') {
        let d = c.to_digit(16)? as u8;
        let byte = out.get_mut(digits / 2)?;
        *byte = *byte << 4 | d;
        digits += 1;
    }
    (digits == 32).then_some(out)
}

/// A JSON object's fields, by name.
struct Json<'a>(&'a Map<String, Value>);

impl Source for Json<'_> {
    fn field(&mut self, name: &'static str, ty: Ty) -> Result<Got> {
        let v = self
            .0
            .get(name)
            .ok_or_else(|| malformed(format!("no field {name}")))?;
        let wrong = || malformed(format!("field {name} is not {ty:?}: {v}"));
        let text = || v.as_str().ok_or_else(wrong);
        Ok(match ty {
            Ty::U64 => Got::Unsigned(v.as_u64().ok_or_else(wrong)?),
            Ty::Millis => Got::Millis(v.as_i64().ok_or_else(wrong)?),
            Ty::Variant(names) => {
                let s = text()?;
                let i = names.iter().position(|n| *n == s).ok_or_else(wrong)?;
                Got::Text(names[i].to_owned())
            }
            Ty::Country => match text()? {
                c if c.len() == 2 && c.is_ascii() => Got::Text(c.to_owned()),
                _ => return Err(wrong()),
            },
            Ty::Uuid => Got::Text(uuid_text(&uuid_bytes(text()?).ok_or_else(wrong)?)),
            Ty::Ipv4 => {
                let ip: std::net::Ipv4Addr = text()?.parse().map_err(|_| wrong())?;
                Got::Text(ip.to_string())
            }
            Ty::Text => Got::Text(text()?.to_owned()),
        })
    }

    fn end(&self) -> Result<()> {
        Ok(())
    }
}

/// A value of the JSON codec: which dataset it is follows from its fields.
fn json(value: &[u8]) -> Result<Decoded> {
    let v: Value = serde_json::from_slice(value).map_err(OracleError::Json)?;
    let o = v
        .as_object()
        .ok_or_else(|| malformed("a JSON value that is not an object".into()))?;
    if o.contains_key("viewer_id") {
        return generated(Kind::PageView, PAGE_VIEW, &mut Json(o));
    }
    if o.contains_key("ad_id") {
        return generated(Kind::Ysb, YSB, &mut Json(o));
    }
    let nexmark = match o.iter().next() {
        Some((k, Value::Object(inner))) if o.len() == 1 => NEXMARK_KINDS
            .iter()
            .position(|n| n == k)
            .map(|i| (i, inner)),
        _ => None,
    };
    let (i, inner) =
        nexmark.ok_or_else(|| malformed("a JSON object of no known dataset".into()))?;
    let (kind, layout) = nexmark_layout(i)?;
    let mut d = generated(Kind::Nexmark, layout, &mut Json(inner))?;
    d.values[0] = Scalar::Str(kind.to_owned());
    Ok(d)
}

/// An imported CSV row (the body after the tag byte) of `schema`.
fn row(body: &[u8], record_time: i64, schema: &[(String, ColumnType)]) -> Result<Decoded> {
    let mut p = Postcard(body);
    let n: u64 = p.take("the column count")?;
    if n != schema.len() as u64 {
        return Err(malformed(format!(
            "a row of {n} columns; the schema has {}",
            schema.len()
        )));
    }
    let bitmap = p.raw("the null bitmap", schema.len().div_ceil(8))?;
    let mut values = Vec::with_capacity(schema.len());
    for (i, (_, ty)) in schema.iter().enumerate() {
        if bitmap[i / 8] & (1 << (i % 8)) != 0 {
            values.push(Scalar::Null);
            continue;
        }
        let field = "a column";
        values.push(match ty {
            ColumnType::Integer => Scalar::Int(p.take(field)?),
            ColumnType::Timestamp => Scalar::Timestamp(p.take(field)?),
            ColumnType::Float => Scalar::Float(p.take(field)?),
            ColumnType::Bool => Scalar::Bool(p.take(field)?),
            ColumnType::String => Scalar::Str(p.take::<&str>(field)?.to_owned()),
        });
    }
    p.end()?;
    Ok(Decoded {
        kind: Kind::Row,
        id: None,
        time: record_time,
        values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A postcard varint.
    fn varint(mut v: u64, out: &mut Vec<u8>) {
        while v >= 0x80 {
            out.push(v as u8 | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    fn zigzag(v: i64, out: &mut Vec<u8>) {
        varint(((v << 1) ^ (v >> 63)) as u64, out);
    }

    /// A page view's value written by hand from the layout in the module docs.
    fn page_view(id: u64, page: u64, page_type: u64, time: i64) -> Vec<u8> {
        let mut v = vec![0x01];
        varint(id, &mut v);
        varint(77, &mut v); // viewer
        varint(page, &mut v);
        varint(page_type, &mut v);
        v.extend_from_slice(&[2, b'U', b'S']);
        varint(3, &mut v); // app
        zigzag(time, &mut v);
        v
    }

    #[test]
    fn a_hand_written_page_view_decodes_to_its_columns() {
        let d = decode(&page_view(300, 5, 0, 1_700_000_000_123), 0, None).unwrap();
        assert_eq!(
            (d.kind, d.id, d.time),
            (Kind::PageView, Some(300), 1_700_000_000_123)
        );
        let s = |x: &str| Scalar::Str(x.into());
        assert_eq!(
            d.values,
            vec![
                Scalar::Int(300),
                Scalar::Int(77),
                Scalar::Int(5),
                s("profile"),
                s("US"),
                s("app")
            ]
        );
    }

    #[test]
    fn damaged_values_are_errors() {
        let good = page_view(1, 2, 1, 3);
        // Cut anywhere, a value does not decode; nor with a byte more, an unknown
        // variant, an unknown tag or no value at all.
        for n in 1..good.len() {
            assert!(decode(&good[..n], 0, None).is_err(), "cut at {n}");
        }
        let mut longer = good.clone();
        longer.push(0);
        assert!(decode(&longer, 0, None).is_err());
        assert!(decode(&page_view(1, 2, 9, 3), 0, None).is_err());
        assert!(decode(&[0x09, 1], 0, None).is_err());
        assert!(decode(&[], 0, None).is_err());
        assert!(
            decode(&[0x04, 0], 0, None).is_err(),
            "a row without a schema"
        );
        assert!(decode(b"{\"x\": 1}", 0, None).is_err());
        let huge = decode(&page_view(u64::MAX, 2, 1, 3), 0, None).unwrap_err();
        assert!(huge.to_string().contains("beyond"), "{huge}");
    }

    #[test]
    fn json_values_decode_like_postcard_ones() {
        let pv = br#"{"event_id":300,"viewer_id":77,"page_id":5,"page_type":"profile","country":"US","device":"app","event_time":1700000000123}"#;
        let a = decode(pv, 0, None).unwrap();
        let b = decode(&page_view(300, 5, 0, 1_700_000_000_123), 0, None).unwrap();
        assert_eq!(
            (a.kind, a.id, a.time, &a.values),
            (b.kind, b.id, b.time, &b.values)
        );
        let bid = br#"{"bid":{"event_id":9,"auction":1001,"bidder":1002,"price":150,"channel":"Google","url":"u","date_time":5}}"#;
        let d = decode(bid, 0, None).unwrap();
        assert_eq!((d.kind, d.id, d.time), (Kind::Nexmark, Some(9), 5));
        let col = |n: &str| &d.values[NEXMARK_COLUMNS.iter().position(|c| *c == n).unwrap()];
        assert_eq!(col("kind"), &Scalar::Str("bid".into()));
        assert_eq!(col("price"), &Scalar::Int(150));
        assert_eq!(col("date_time"), &Scalar::Timestamp(5000));
        assert_eq!(col("person_id"), &Scalar::Null);
    }

    #[test]
    fn uuids_read_and_write_in_the_canonical_form() {
        let text = "12345678-9abc-4def-8001-020304050607";
        let b = uuid_bytes(text).unwrap();
        assert_eq!(uuid_text(&b), text);
        assert_eq!(uuid_bytes(&text.to_uppercase().replace('-', "")), Some(b));
        assert_eq!(uuid_bytes("12"), None);
        assert_eq!(uuid_bytes(&"g".repeat(32)), None);
        assert_eq!(uuid_bytes(&"0".repeat(34)), None);
    }

    #[test]
    fn a_row_reads_its_schema_with_nulls() {
        let schema = vec![
            ("a".to_owned(), ColumnType::Integer),
            ("b".to_owned(), ColumnType::String),
            ("c".to_owned(), ColumnType::Float),
            ("d".to_owned(), ColumnType::Bool),
            ("e".to_owned(), ColumnType::Timestamp),
        ];
        // Column b is null (bit 1).
        let mut v = vec![0x04, 5, 0b0000_0010];
        zigzag(-3, &mut v);
        v.extend_from_slice(&2.5f64.to_le_bytes());
        v.push(1);
        zigzag(-1_000_000, &mut v);
        let d = decode(&v, 42, Some(&schema)).unwrap();
        assert_eq!((d.kind, d.id, d.time), (Kind::Row, None, 42));
        assert_eq!(
            d.values,
            vec![
                Scalar::Int(-3),
                Scalar::Null,
                Scalar::Float(2.5),
                Scalar::Bool(true),
                Scalar::Timestamp(-1_000_000)
            ]
        );
        // A row of another width is an error.
        assert!(decode(&v, 42, Some(&schema[..4])).is_err());
    }
}
