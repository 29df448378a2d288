//! Records and the on-disk batch format.
//!
//! Records are appended and stored in *batches*. A batch is one unit of framing, CRC and
//! atomicity; every record in it shares the batch's append time (Kafka's
//! `LogAppendTime`). All integers are little-endian.
//!
//! ```text
//!  batch header (50 bytes)                         records (repeated record_count times)
//!  ┌──────────────┬─────────┬────────┐             ┌────────────────────────────────────┐
//!  │ base_offset  │ length  │ crc32c │ ◄─ crc over │ len        varint  bytes after it  │
//!  │ u64          │ u32     │ u32    │ base_offset │ offset Δ   varint  from base_offset │
//!  ├──────────────┴─────────┴────────┤ + the rest  │ time Δ     zigzag  from base event  │
//!  │ magic u8 · attributes u8        │             │ key len    zigzag  -1 = no key      │
//!  │ record_count u32                │             │ key        bytes                    │
//!  │ last_offset_delta u32           │             │ value len  zigzag  -1 = tombstone   │
//!  │ append_time i64 (ms)            │             │ value      bytes                    │
//!  │ base_event_time i64 (ms)        │             │ headers    varint count, then       │
//!  │ max_event_time i64 (ms)         │             │            (varint len, bytes) × 2  │
//!  └─────────────────────────────────┘             └────────────────────────────────────┘
//! ```
//!
//! `length` counts the bytes after the length field itself (CRC, rest of header, records),
//! so a reader can skip a batch without decoding it. Offsets inside a batch are stored as
//! deltas, which lets compaction drop records without renumbering the ones it keeps.
//!
//! The CRC32C covers the base offset too (unlike Kafka's, which leaves it out so that a
//! broker can renumber a batch without recomputing it): the base offset numbers every
//! record of the batch, and a damaged one must not go unnoticed. Only `length` is outside
//! the CRC, and a wrong length moves the range the CRC is computed over, so it fails too.
//!
//! Framing cost: 50 bytes per batch, plus 6 bytes per record for a record with a short
//! key, a value under 128 bytes, no headers, and event times within ±63 ms of the first
//! record's (up to 9 bytes when the event times spread over minutes). With batches of
//! 1,000 records that is under 10 bytes per record.

use std::ops::{ControlFlow, Range};

use bytes::{Buf, Bytes};

/// Size of the fixed batch header.
pub const BATCH_HEADER_LEN: usize = 50;
/// The format version written by this crate. Version 2 includes the base offset in the
/// CRC; version 1 (which did not) is not read.
pub const MAGIC: u8 = 2;
/// Where the CRC-covered bytes after the CRC field start (after base offset, length, crc).
const CRC_START: usize = 16;

/// The CRC32C of a batch's first `end` bytes: its base offset, then everything after the
/// CRC field.
fn batch_crc(batch: &[u8], end: usize) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(&batch[..8]), &batch[CRC_START..end])
}

/// One header of a record: a UTF-8 name and a byte value, as in Kafka.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The header's name.
    pub key: String,
    /// Its value.
    pub value: Bytes,
}

/// A record handed to the log for appending. The log assigns its offset and append time.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewRecord {
    /// Decides the partition (Kafka's murmur2) and the compaction identity.
    pub key: Option<Bytes>,
    /// The payload; `None` is a tombstone (deletes the key in a compacted topic).
    pub value: Option<Bytes>,
    /// When the event happened, in milliseconds since the Unix epoch.
    pub event_time: i64,
    /// Headers, in order (names may repeat).
    pub headers: Vec<Header>,
}

impl NewRecord {
    /// A record with a value and no key.
    pub fn value(value: impl Into<Bytes>, event_time: i64) -> Self {
        Self {
            key: None,
            value: Some(value.into()),
            event_time,
            headers: Vec::new(),
        }
    }

    /// A record with a key and a value.
    pub fn keyed(key: impl Into<Bytes>, value: impl Into<Bytes>, event_time: i64) -> Self {
        Self {
            key: Some(key.into()),
            value: Some(value.into()),
            event_time,
            headers: Vec::new(),
        }
    }

    /// A tombstone for `key`.
    pub fn tombstone(key: impl Into<Bytes>, event_time: i64) -> Self {
        Self {
            key: Some(key.into()),
            value: None,
            event_time,
            headers: Vec::new(),
        }
    }

    /// The bytes this record takes in a batch, framing included.
    pub fn encoded_len(&self) -> usize {
        body_len(
            self.key.as_deref(),
            self.value.as_deref(),
            0,
            0,
            &self.headers,
        ) + 10
    }
}

/// A record read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The record's offset in its partition.
    pub offset: u64,
    /// The key it was appended with.
    pub key: Option<Bytes>,
    /// `None` for a tombstone.
    pub value: Option<Bytes>,
    /// Event time in ms since the epoch, as given by the producer.
    pub event_time: i64,
    /// Append time in ms since the epoch, set by the log; never decreases in a partition.
    pub append_time: i64,
    /// Headers, in the order they were appended.
    pub headers: Vec<Header>,
}

/// What an encoder needs to know of one record.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecordRef<'a> {
    pub offset: u64,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub event_time: i64,
    pub headers: &'a [Header],
}

impl<'a> From<&'a Record> for RecordRef<'a> {
    fn from(r: &'a Record) -> Self {
        RecordRef {
            offset: r.offset,
            key: r.key.as_deref(),
            value: r.value.as_deref(),
            event_time: r.event_time,
            headers: &r.headers,
        }
    }
}

// ---------------------------------------------------------------- varints

#[inline]
fn put_uvarint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

#[inline]
fn put_varint(buf: &mut Vec<u8>, v: i64) {
    put_uvarint(buf, ((v << 1) ^ (v >> 63)) as u64);
}

#[inline]
fn uvarint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

#[inline]
fn varint_len(v: i64) -> usize {
    uvarint_len(((v << 1) ^ (v >> 63)) as u64)
}

/// Read the unsigned varint at `pos` of `buf`, moving `pos` past it; `None` if it runs
/// past the end or overflows 64 bits. One- and two-byte varints (every length, offset
/// delta and most time deltas of a batch of small records) take the short path.
#[inline(always)]
fn get_uvarint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let p = *pos;
    let b0 = *buf.get(p)?;
    if b0 < 0x80 {
        *pos = p + 1;
        return Some(u64::from(b0));
    }
    if let Some(&b1) = buf.get(p + 1)
        && b1 < 0x80
    {
        *pos = p + 2;
        return Some(u64::from(b0 & 0x7f) | u64::from(b1) << 7);
    }
    get_uvarint_long(buf, pos)
}

/// [`get_uvarint`] for varints of any length.
#[inline(never)]
fn get_uvarint_long(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut result: u64 = 0;
    let mut shift = 0;
    loop {
        let b = *buf.get(*pos)?;
        *pos += 1;
        if shift == 63 && b > 1 {
            return None;
        }
        result |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(result);
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
}

#[inline(always)]
fn get_varint(buf: &[u8], pos: &mut usize) -> Option<i64> {
    let v = get_uvarint(buf, pos)?;
    Some(((v >> 1) as i64) ^ -((v & 1) as i64))
}

fn body_len(
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    offset_delta: u64,
    time_delta: i64,
    headers: &[Header],
) -> usize {
    let mut n = uvarint_len(offset_delta) + varint_len(time_delta);
    n += match key {
        Some(k) => varint_len(k.len() as i64) + k.len(),
        None => 1,
    };
    n += match value {
        Some(v) => varint_len(v.len() as i64) + v.len(),
        None => 1,
    };
    n += uvarint_len(headers.len() as u64);
    for h in headers {
        n += uvarint_len(h.key.len() as u64) + h.key.len();
        n += uvarint_len(h.value.len() as u64) + h.value.len();
    }
    n
}

// ---------------------------------------------------------------- encoding

/// Encode one batch of `records` (offsets ascending, all ≥ `base_offset`) into `buf`,
/// which is cleared first.
pub(crate) fn encode_batch<'a>(
    buf: &mut Vec<u8>,
    base_offset: u64,
    append_time: i64,
    records: impl ExactSizeIterator<Item = RecordRef<'a>> + Clone,
) {
    buf.clear();
    let count = records.len() as u32;
    let mut base_event_time = 0i64;
    let mut max_event_time = i64::MIN;
    let mut last_delta = 0u64;
    for (i, r) in records.clone().enumerate() {
        if i == 0 {
            base_event_time = r.event_time;
        }
        max_event_time = max_event_time.max(r.event_time);
        last_delta = r.offset - base_offset;
    }
    buf.extend_from_slice(&base_offset.to_le_bytes());
    buf.extend_from_slice(&0u32.to_le_bytes()); // length, patched below
    buf.extend_from_slice(&0u32.to_le_bytes()); // crc, patched below
    buf.push(MAGIC);
    buf.push(0);
    buf.extend_from_slice(&count.to_le_bytes());
    buf.extend_from_slice(&(last_delta as u32).to_le_bytes());
    buf.extend_from_slice(&append_time.to_le_bytes());
    buf.extend_from_slice(&base_event_time.to_le_bytes());
    buf.extend_from_slice(&max_event_time.to_le_bytes());
    debug_assert_eq!(buf.len(), BATCH_HEADER_LEN);
    for r in records {
        let offset_delta = r.offset - base_offset;
        let time_delta = r.event_time.wrapping_sub(base_event_time);
        let len = body_len(r.key, r.value, offset_delta, time_delta, r.headers);
        put_uvarint(buf, len as u64);
        put_uvarint(buf, offset_delta);
        put_varint(buf, time_delta);
        match r.key {
            Some(k) => {
                put_varint(buf, k.len() as i64);
                buf.extend_from_slice(k);
            }
            None => put_varint(buf, -1),
        }
        match r.value {
            Some(v) => {
                put_varint(buf, v.len() as i64);
                buf.extend_from_slice(v);
            }
            None => put_varint(buf, -1),
        }
        put_uvarint(buf, r.headers.len() as u64);
        for h in r.headers {
            put_uvarint(buf, h.key.len() as u64);
            buf.extend_from_slice(h.key.as_bytes());
            put_uvarint(buf, h.value.len() as u64);
            buf.extend_from_slice(&h.value);
        }
    }
    let length = (buf.len() - 12) as u32;
    buf[8..12].copy_from_slice(&length.to_le_bytes());
    let crc = batch_crc(buf, buf.len());
    buf[12..16].copy_from_slice(&crc.to_le_bytes());
}

// ---------------------------------------------------------------- decoding

/// The fixed header of a batch, readable without the records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchHeader {
    pub base_offset: u64,
    /// Total size of the batch on disk, header included.
    pub total_len: usize,
    pub crc: u32,
    pub magic: u8,
    pub record_count: u32,
    pub last_offset_delta: u32,
    pub append_time: i64,
    pub base_event_time: i64,
    pub max_event_time: i64,
}

impl BatchHeader {
    pub fn last_offset(&self) -> u64 {
        self.base_offset + u64::from(self.last_offset_delta)
    }

    /// Parse the header at the start of `buf`. `Err` carries the reason the bytes are not a
    /// plausible batch header; `Ok(None)` means `buf` is too short to tell.
    pub fn parse(buf: &[u8]) -> std::result::Result<Option<BatchHeader>, String> {
        if buf.len() < BATCH_HEADER_LEN {
            return Ok(None);
        }
        let mut b = buf;
        let base_offset = b.get_u64_le();
        let length = b.get_u32_le() as usize;
        let crc = b.get_u32_le();
        let magic = b.get_u8();
        let _attributes = b.get_u8();
        let record_count = b.get_u32_le();
        let last_offset_delta = b.get_u32_le();
        let append_time = b.get_i64_le();
        let base_event_time = b.get_i64_le();
        let max_event_time = b.get_i64_le();
        if magic != MAGIC {
            return Err(format!("unknown batch format version {magic}"));
        }
        if length + 12 < BATCH_HEADER_LEN {
            return Err(format!("batch length {length} is shorter than its header"));
        }
        if record_count == 0 || u64::from(last_offset_delta) + 1 < u64::from(record_count) {
            return Err(format!(
                "batch claims {record_count} records within {} offsets",
                u64::from(last_offset_delta) + 1
            ));
        }
        Ok(Some(BatchHeader {
            base_offset,
            total_len: length + 12,
            crc,
            magic,
            record_count,
            last_offset_delta,
            append_time,
            base_event_time,
            max_event_time,
        }))
    }
}

/// Check the CRC of a complete batch (`batch.len() == header.total_len`).
pub(crate) fn crc_ok(header: &BatchHeader, batch: &[u8]) -> bool {
    batch_crc(batch, header.total_len) == header.crc
}

/// A record as it lies in a batch the log read: its key, value and headers borrowed
/// from the read buffer (see [`crate::Log::fetch_each`]), nothing copied or counted.
#[derive(Debug, Clone, Copy)]
pub struct RecordView<'a> {
    /// The record's offset in its partition.
    pub offset: u64,
    /// The key it was appended with.
    pub key: Option<&'a [u8]>,
    /// `None` for a tombstone.
    pub value: Option<&'a [u8]>,
    /// Event time in ms since the epoch, as given by the producer.
    pub event_time: i64,
    /// Append time in ms since the epoch, set by the log.
    pub append_time: i64,
    /// Headers, in the order they were appended.
    pub headers: RecordHeaders<'a>,
}

impl RecordView<'_> {
    /// An owned copy.
    pub fn to_record(&self) -> Record {
        self.record_with(Bytes::copy_from_slice)
    }

    /// A `Record` whose key, value and header values are `bytes` of this view's slices
    /// (copies, or slices of the buffer the view borrows from).
    fn record_with(&self, bytes: impl Fn(&[u8]) -> Bytes) -> Record {
        Record {
            offset: self.offset,
            key: self.key.map(&bytes),
            value: self.value.map(&bytes),
            event_time: self.event_time,
            append_time: self.append_time,
            headers: self.headers.owned_with(&bytes),
        }
    }
}

impl Record {
    /// The record seen as a [`RecordView`].
    pub fn view(&self) -> RecordView<'_> {
        RecordView {
            offset: self.offset,
            key: self.key.as_deref(),
            value: self.value.as_deref(),
            event_time: self.event_time,
            append_time: self.append_time,
            headers: RecordHeaders(HeadersRepr::Decoded(&self.headers)),
        }
    }
}

/// The headers of a [`RecordView`]: `(name, value)` pairs, read from the batch as they
/// are iterated (a batch's headers are checked when it is read).
#[derive(Debug, Clone, Copy)]
pub struct RecordHeaders<'a>(HeadersRepr<'a>);

#[derive(Debug, Clone, Copy)]
enum HeadersRepr<'a> {
    /// `count` headers encoded in `bytes` (checked well-formed).
    Encoded {
        count: u64,
        bytes: &'a [u8],
    },
    Decoded(&'a [Header]),
}

impl<'a> RecordHeaders<'a> {
    /// How many headers there are.
    pub fn len(&self) -> usize {
        match self.0 {
            HeadersRepr::Encoded { count, .. } => usize::try_from(count).unwrap_or(usize::MAX),
            HeadersRepr::Decoded(h) => h.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Each header's name and value, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> + 'a {
        let (count, bytes, decoded) = match self.0 {
            HeadersRepr::Encoded { count, bytes } => (count, bytes, &[][..]),
            HeadersRepr::Decoded(h) => (0, &[][..], h),
        };
        let mut pos = 0;
        let encoded = (0..count).map_while(move |_| next_header(bytes, &mut pos, bytes.len()).ok());
        encoded.chain(decoded.iter().map(|h| (h.key.as_str(), &h.value[..])))
    }

    /// The headers as owned [`Header`]s, each value `bytes` of its slice (a copy, or a
    /// slice of the buffer the headers borrow from); no allocation when there are none.
    fn owned_with(&self, bytes: impl Fn(&[u8]) -> Bytes) -> Vec<Header> {
        if self.is_empty() {
            return Vec::new();
        }
        self.iter()
            .map(|(key, value)| Header {
                key: key.to_owned(),
                value: bytes(value),
            })
            .collect()
    }
}

/// The header at `pos` of `buf` (ending by `end`), `pos` moved past it; `Err` says what
/// is wrong, at which byte.
fn next_header<'a>(
    buf: &'a [u8],
    pos: &mut usize,
    end: usize,
) -> std::result::Result<(&'a str, &'a [u8]), String> {
    let bad = |what: &str, pos: usize| format!("malformed record ({what}) at batch byte {pos}");
    let klen = get_uvarint(buf, pos).ok_or_else(|| bad("header", *pos))? as usize;
    let kend = pos
        .checked_add(klen)
        .filter(|&e| e <= end)
        .ok_or_else(|| bad("header key", *pos))?;
    let key =
        std::str::from_utf8(&buf[*pos..kend]).map_err(|_| bad("header key is not UTF-8", *pos))?;
    *pos = kend;
    let vlen = get_uvarint(buf, pos).ok_or_else(|| bad("header", *pos))? as usize;
    let vend = pos
        .checked_add(vlen)
        .filter(|&e| e <= end)
        .ok_or_else(|| bad("header value", *pos))?;
    let value = &buf[*pos..vend];
    *pos = vend;
    Ok((key, value))
}

/// Where the fields of one record lie in its batch (byte ranges of the batch).
#[derive(Debug, Clone)]
struct Fields {
    offset: u64,
    event_time: i64,
    key: Option<Range<usize>>,
    value: Option<Range<usize>>,
    header_count: u64,
    headers: Range<usize>,
}

/// Walk the records of one complete, CRC-checked batch, showing those with
/// `offset >= min_offset` to `each` as byte ranges, until it breaks. Every record shown was
/// checked well-formed first (lengths, header names); a malformed one is an error (`Err`
/// says what, at which byte), and so is a batch whose records do not fill it exactly —
/// unless `each` broke before the end.
#[inline(always)]
fn walk_records(
    header: &BatchHeader,
    buf: &[u8],
    min_offset: u64,
    mut each: impl FnMut(Fields) -> ControlFlow<()>,
) -> std::result::Result<(), String> {
    let mut pos = BATCH_HEADER_LEN;
    let bad = |what: &str, pos: usize| format!("malformed record ({what}) at batch byte {pos}");
    for _ in 0..header.record_count {
        let len = get_uvarint(buf, &mut pos).ok_or_else(|| bad("length", pos))? as usize;
        let end = pos
            .checked_add(len)
            .filter(|&e| e <= buf.len())
            .ok_or_else(|| bad("length past batch end", pos))?;
        let offset_delta = get_uvarint(buf, &mut pos).ok_or_else(|| bad("offset", pos))?;
        if offset_delta > u64::from(header.last_offset_delta) {
            return Err(bad("offset delta past batch end", pos));
        }
        let time_delta = get_varint(buf, &mut pos).ok_or_else(|| bad("time", pos))?;
        let offset = header.base_offset + offset_delta;
        if offset < min_offset {
            pos = end;
            continue;
        }
        let key = take_range(buf, &mut pos, end).ok_or_else(|| bad("key", pos))?;
        let value = take_range(buf, &mut pos, end).ok_or_else(|| bad("value", pos))?;
        let header_count = get_uvarint(buf, &mut pos).ok_or_else(|| bad("headers", pos))?;
        let headers_start = pos;
        for _ in 0..header_count {
            next_header(buf, &mut pos, end)?;
        }
        if pos != end {
            return Err(bad("record length disagrees with its fields", pos));
        }
        let fields = Fields {
            offset,
            event_time: header.base_event_time.wrapping_add(time_delta),
            key,
            value,
            header_count,
            headers: headers_start..end,
        };
        if each(fields).is_break() {
            return Ok(());
        }
    }
    if pos != buf.len() {
        return Err(bad("trailing bytes after the last record", pos));
    }
    Ok(())
}

/// Show the records of one complete, CRC-checked batch with `offset >= min_offset` to
/// `each`, in offset order, until it breaks; returns how many it was shown. Every record
/// shown was checked well-formed first (lengths, header names); a malformed one is an
/// error (`Err` says what, at which byte), and so is a batch whose records do not fill
/// it exactly — unless `each` broke before the end.
pub(crate) fn visit_records<'a>(
    header: &BatchHeader,
    batch: &'a [u8],
    min_offset: u64,
    mut each: impl FnMut(RecordView<'a>) -> ControlFlow<()>,
) -> std::result::Result<usize, String> {
    let mut shown = 0;
    walk_records(header, batch, min_offset, |f| {
        shown += 1;
        each(RecordView {
            offset: f.offset,
            key: f.key.map(|r| &batch[r]),
            value: f.value.map(|r| &batch[r]),
            event_time: f.event_time,
            append_time: header.append_time,
            headers: RecordHeaders(HeadersRepr::Encoded {
                count: f.header_count,
                bytes: &batch[f.headers],
            }),
        })
    })?;
    Ok(shown)
}

/// Decode the records of one complete, CRC-checked batch, pushing those with
/// `offset >= min_offset` into `out` (keys and values share `batch`'s buffer). `batch`
/// must hold exactly the batch.
pub(crate) fn decode_records(
    header: &BatchHeader,
    batch: &Bytes,
    min_offset: u64,
    out: &mut Vec<Record>,
) -> std::result::Result<(), String> {
    decode_records_until(header, batch, min_offset, u64::MAX, usize::MAX, out).map(|_| ())
}

/// [`decode_records`] of the records in `[min_offset, until)` only, and only until `out`
/// holds `max` records. Returns whether it stopped there (at `until` or at `max`) before
/// the end of the batch; the records after that point are not decoded (nor checked).
pub(crate) fn decode_records_until(
    header: &BatchHeader,
    batch: &Bytes,
    min_offset: u64,
    until: u64,
    max: usize,
    out: &mut Vec<Record>,
) -> std::result::Result<bool, String> {
    let mut stopped = out.len() >= max;
    if stopped {
        return Ok(true);
    }
    // Each record's key and value are slices of the batch's buffer, made from byte
    // ranges: no pointer arithmetic back from borrowed slices (`Bytes::slice_ref`).
    let slice = |r: Range<usize>| {
        if r.is_empty() {
            Bytes::new()
        } else {
            batch.slice(r)
        }
    };
    walk_records(header, batch, min_offset, |f| {
        if f.offset >= until {
            stopped = true;
            return ControlFlow::Break(());
        }
        let headers = RecordHeaders(HeadersRepr::Encoded {
            count: f.header_count,
            bytes: &batch[f.headers],
        })
        .owned_with(|value| batch.slice_ref(value));
        out.push(Record {
            offset: f.offset,
            key: f.key.map(slice),
            value: f.value.map(slice),
            event_time: f.event_time,
            append_time: header.append_time,
            headers,
        });
        if out.len() >= max {
            stopped = true;
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })?;
    Ok(stopped)
}

/// The byte range of the length-prefixed field at `pos` (`None` for length -1: a null
/// key or a tombstone), `pos` moved past it; `None` when it is malformed or runs past
/// `end`.
#[inline(always)]
fn take_range(batch: &[u8], pos: &mut usize, end: usize) -> Option<Option<Range<usize>>> {
    let len = get_varint(batch, pos)?;
    if len == -1 {
        return Some(None);
    }
    let len = usize::try_from(len).ok()?;
    let start = *pos;
    let stop = start.checked_add(len).filter(|&e| e <= end)?;
    *pos = stop;
    Some(Some(start..stop))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(records: &[Record]) -> Vec<Record> {
        let mut buf = Vec::new();
        let base = records[0].offset;
        encode_batch(
            &mut buf,
            base,
            records[0].append_time,
            records.iter().map(RecordRef::from),
        );
        let header = BatchHeader::parse(&buf).unwrap().unwrap();
        assert_eq!(header.total_len, buf.len());
        assert!(crc_ok(&header, &buf));
        let bytes = Bytes::from(buf);
        let mut out = Vec::new();
        decode_records(&header, &bytes, 0, &mut out).unwrap();
        out
    }

    #[test]
    fn batch_roundtrip_with_nulls_headers_and_holes() {
        let records = vec![
            Record {
                offset: 10,
                key: Some(Bytes::from_static(b"k")),
                value: Some(Bytes::from_static(b"v")),
                event_time: 1_700_000_000_000,
                append_time: 5,
                headers: vec![Header {
                    key: "h".into(),
                    value: Bytes::from_static(b"x"),
                }],
            },
            Record {
                offset: 13,
                key: None,
                value: None,
                event_time: 1_600_000_000_000,
                append_time: 5,
                headers: vec![],
            },
            Record {
                offset: 14,
                key: Some(Bytes::new()),
                value: Some(Bytes::new()),
                event_time: i64::MIN,
                append_time: 5,
                headers: vec![],
            },
        ];
        assert_eq!(roundtrip(&records), records);
    }

    #[test]
    fn framing_overhead_is_small() {
        let recs: Vec<NewRecord> = (0..1000)
            .map(|i| NewRecord::keyed(format!("{i:08}"), vec![7u8; 100], 1_700_000_000_000 + i))
            .collect();
        let mut buf = Vec::new();
        encode_batch(
            &mut buf,
            0,
            0,
            recs.iter().enumerate().map(|(i, r)| RecordRef {
                offset: i as u64,
                key: r.key.as_deref(),
                value: r.value.as_deref(),
                event_time: r.event_time,
                headers: &r.headers,
            }),
        );
        let payload = 1000 * (8 + 100);
        let per_record = (buf.len() - payload) as f64 / 1000.0;
        assert!(
            per_record <= 16.0,
            "{per_record} bytes of framing per record"
        );
    }

    #[test]
    fn flipped_byte_fails_crc() {
        let mut buf = Vec::new();
        let r = NewRecord::value("hello", 1);
        encode_batch(
            &mut buf,
            0,
            0,
            std::iter::once(RecordRef {
                offset: 0,
                key: None,
                value: r.value.as_deref(),
                event_time: 1,
                headers: &[],
            }),
        );
        // Every byte, the base offset included: a batch must not be renumbered silently.
        for i in 0..buf.len() {
            let mut copy = buf.clone();
            copy[i] ^= 0x20;
            // A header that no longer parses, or a length that no longer matches, is a
            // detection too.
            if let Ok(Some(h)) = BatchHeader::parse(&copy) {
                assert!(h.total_len != copy.len() || !crc_ok(&h, &copy), "byte {i}");
            }
        }
    }

    #[test]
    fn varints_roundtrip() {
        for v in [
            0i64,
            1,
            -1,
            63,
            -64,
            64,
            8191,
            -8192,
            8192,
            i64::MAX,
            i64::MIN,
        ] {
            let mut buf = Vec::new();
            put_varint(&mut buf, v);
            assert_eq!(buf.len(), varint_len(v));
            let mut pos = 0;
            assert_eq!(get_varint(&buf, &mut pos), Some(v));
        }
    }

    #[test]
    fn uvarints_of_every_length_roundtrip_and_a_cut_one_is_none() {
        for v in [
            0u64,
            1,
            127,
            128,
            300,
            16_383,
            16_384,
            2_097_151,
            1 << 35,
            u64::MAX,
        ] {
            let mut buf = vec![0xAA];
            put_uvarint(&mut buf, v);
            buf.push(0x55);
            let mut pos = 1;
            assert_eq!(get_uvarint(&buf, &mut pos), Some(v), "{v}");
            assert_eq!(pos, 1 + uvarint_len(v), "{v}");
            // Cut before its last byte: no value, whatever its length.
            let cut = &buf[..pos - 1];
            let mut at = 1;
            assert_eq!(get_uvarint(cut, &mut at), None, "{v} cut");
        }
        // Eleven bytes, or a tenth byte above 1: more than 64 bits.
        let mut pos = 0;
        assert_eq!(get_uvarint(&[0xFF; 11], &mut pos), None);
        let mut pos = 0;
        let over = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02];
        assert_eq!(get_uvarint(&over, &mut pos), None);
    }

    #[test]
    fn decoding_stops_at_until_and_at_the_limit() {
        let bytes = Bytes::from(sample_batch(1000, 10, 5));
        let h = BatchHeader::parse(&bytes).unwrap().unwrap();
        let offsets = |until: u64, max: usize| {
            let mut out = Vec::new();
            let stopped = decode_records_until(&h, &bytes, 1002, until, max, &mut out).unwrap();
            (out.iter().map(|r| r.offset).collect::<Vec<_>>(), stopped)
        };
        assert_eq!(
            offsets(u64::MAX, usize::MAX),
            ((1002..1010).collect(), false)
        );
        assert_eq!(offsets(1006, usize::MAX), ((1002..1006).collect(), true));
        assert_eq!(offsets(u64::MAX, 3), ((1002..1005).collect(), true));
        assert_eq!(offsets(1010, 8), ((1002..1010).collect(), true));
        let mut all = Vec::new();
        decode_records(&h, &bytes, 0, &mut all).unwrap();
        let mut some = Vec::new();
        decode_records_until(&h, &bytes, 1002, 1006, usize::MAX, &mut some).unwrap();
        assert_eq!(some[..], all[2..6]);
        // Headers and empty keys come through as they were written.
        assert_eq!(all[3].headers.len(), 1);
        assert_eq!(all[4].headers.len(), 0);
    }

    /// A batch of `n` records (values of `len` bytes, headers on every third) at
    /// `base`, encoded.
    fn sample_batch(base: u64, n: u64, len: usize) -> Vec<u8> {
        let records: Vec<NewRecord> = (0..n)
            .map(|i| {
                let mut r = NewRecord::keyed(format!("k{i}"), vec![b'v'; len], i as i64 * 7);
                if i % 3 == 0 {
                    r.headers.push(Header {
                        key: "h".into(),
                        value: Bytes::from_static(b"x"),
                    });
                }
                r
            })
            .collect();
        let mut buf = Vec::new();
        encode_batch(
            &mut buf,
            base,
            42,
            records.iter().enumerate().map(|(i, r)| RecordRef {
                offset: base + i as u64,
                key: r.key.as_deref(),
                value: r.value.as_deref(),
                event_time: r.event_time,
                headers: &r.headers,
            }),
        );
        buf
    }

    /// Every way the decoder can be asked to read `bytes`: header, CRC, records.
    fn decode_all(bytes: &[u8]) -> Option<Vec<Record>> {
        let h = BatchHeader::parse(bytes).ok().flatten()?;
        let batch = bytes.get(..h.total_len)?;
        let crc = crc_ok(&h, batch);
        // The record decoder is never asked to read a batch whose CRC fails; it must not
        // panic on one anyway.
        let mut out = Vec::new();
        let decoded = decode_records(&h, &Bytes::copy_from_slice(batch), 0, &mut out);
        let _ = visit_records(&h, &bytes[..bytes.len().min(h.total_len)], 3, |_| {
            ControlFlow::Continue(())
        });
        (crc && decoded.is_ok()).then_some(out)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 2000,
            failure_persistence: None,
            ..Default::default()
        })]

        /// Arbitrary bytes never make the batch decoder panic.
        #[test]
        fn arbitrary_bytes_never_panic_the_decoder(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
            head in proptest::prelude::any::<bool>(),
        ) {
            let mut bytes = bytes;
            if head && bytes.len() > BATCH_HEADER_LEN {
                // A plausible header, so that the record decoder gets to run.
                bytes[16] = MAGIC;
                let length = (bytes.len() - 12) as u32;
                bytes[8..12].copy_from_slice(&length.to_le_bytes());
                bytes[18..22].copy_from_slice(&3u32.to_le_bytes());
                bytes[22..26].copy_from_slice(&5u32.to_le_bytes());
            }
            let _ = decode_all(&bytes);
        }

        /// A batch with bytes changed decodes to nothing (its CRC fails, or its framing)
        /// or, when the change left it whole, to exactly the original records.
        #[test]
        fn a_mutated_batch_fails_or_decodes_unchanged(
            n in 1..20u64,
            len in 0..40usize,
            flips in proptest::collection::vec((0.0..1.0f64, 1..=255u8), 1..4),
            cut in proptest::option::of(0.0..1.0f64),
        ) {
            let original = sample_batch(1000, n, len);
            let want = decode_all(&original).unwrap();
            let mut bytes = original.clone();
            for (at, mask) in &flips {
                let i = ((bytes.len() - 1) as f64 * at) as usize;
                bytes[i] ^= mask;
            }
            if let Some(c) = cut {
                bytes.truncate((bytes.len() as f64 * c) as usize);
            }
            if let Some(got) = decode_all(&bytes) {
                proptest::prop_assert_eq!(got, want.clone());
                proptest::prop_assert_eq!(&bytes[..], &original[..]);
            }
        }
    }
}
