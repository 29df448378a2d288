//! The decoder of generated YSB topics: each record's value read where the log read it
//! ([`Log::fetch_each`]) and put straight into the partition's columns, with no
//! `RowSink` call through a pointer per field; the filter on an enum column (`event_type`
//! = `'view'`) is decided on the variant, not on its name.
//!
//! Values in postcard's wire format are parsed here ([`parse`]); any value the parse does
//! not take (the JSON codec, or bytes that are not a YSB event) goes to
//! [`YsbEvent::decode`], so the rows, and the errors, are those of the generic reader.

use std::ops::{ControlFlow, Range};

use datasets::codec::TAG_YSB;
use datasets::{AdType, DatasetError, Ipv4, RowMeta, RowSink, Uuid, YsbEvent, YsbEventType};
use master_log::{FetchLimits, Log, RecordView};

use super::FrameSink;
use crate::error::{BatchError, Result};

/// The event columns of a YSB topic, in the order `datasets` gives them (the indices the
/// decoder writes to); a topic whose columns are others is read by the generic reader.
pub(super) const COLUMNS: [&str; 7] = [
    "event_id",
    "user_id",
    "page_id",
    "ad_id",
    "ad_type",
    "event_type",
    "ip_address",
];

const AD_TYPE: usize = 4;
const EVENT_TYPE: usize = 5;

/// Reads `range` of `partition` into `sink`: per record, the event's `fields` (column
/// indices, in the order the sink wants them; the filter column first), as
/// `TopicRows::read_into` would give them.
pub(super) fn read_into(
    log: &dyn Log,
    topic: &str,
    partition: u32,
    range: Range<u64>,
    fields: &[usize],
    sink: &mut FrameSink<'_>,
) -> Result<()> {
    // A filter on an enum column is decided by a table of its variants.
    let filter = sink.filter.and_then(|(col, equals)| {
        let mut takes = [false; 8];
        match col {
            AD_TYPE => AdType::ALL
                .iter()
                .for_each(|&v| takes[v as usize] = v.name() == equals),
            EVENT_TYPE => YsbEventType::ALL
                .iter()
                .for_each(|&v| takes[v as usize] = v.name() == equals),
            _ => return None,
        }
        Some((col, takes))
    });
    let mut next = range.start;
    while next < range.end {
        let mut failed = None;
        let mut last = None;
        log.fetch_each(topic, partition, next, FetchLimits::default(), &mut |rec| {
            if rec.offset >= range.end {
                last = Some(range.end - 1);
                return ControlFlow::Break(());
            }
            last = Some(rec.offset);
            match visit(partition, &rec, fields, filter, sink) {
                Ok(()) => ControlFlow::Continue(()),
                Err(e) => {
                    failed = Some(e);
                    ControlFlow::Break(())
                }
            }
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        // Nothing shown: the partition ends before the range does.
        next = last.map_or(range.end, |o| o + 1);
    }
    Ok(())
}

/// One record into the sink.
#[inline]
fn visit(
    partition: u32,
    rec: &RecordView<'_>,
    fields: &[usize],
    filter: Option<(usize, [bool; 8])>,
    sink: &mut FrameSink<'_>,
) -> Result<()> {
    let value = rec.value.ok_or_else(|| {
        BatchError::Dataset(DatasetError::Decode {
            what: "record",
            reason: format!("offset {} is a tombstone", rec.offset),
        })
    })?;
    let e = match parse(value) {
        Some(e) => e,
        None => YsbEvent::decode(value)?,
    };
    let meta = RowMeta {
        partition,
        offset: rec.offset,
        event_time: rec.event_time,
        append_time: rec.append_time,
        event_id: Some(e.event_id),
    };
    if !sink.begin(&meta) {
        return Ok(());
    }
    for &i in fields {
        if let Some((col, takes)) = filter
            && col == i
        {
            let variant = if i == AD_TYPE {
                e.ad_type as usize
            } else {
                e.event_type as usize
            };
            sink.take_if(takes[variant]);
            continue;
        }
        match i {
            0 => sink.int(i, i64::try_from(e.event_id).unwrap_or(i64::MAX)),
            1 => sink.uuid(i, &e.user_id),
            2 => sink.uuid(i, &e.page_id),
            3 => sink.uuid(i, &e.ad_id),
            AD_TYPE => sink.static_text(i, e.ad_type.name()),
            EVENT_TYPE => sink.static_text(i, e.event_type.name()),
            _ => sink.text(i, &e.ip_address.to_string()),
        }
    }
    Ok(())
}

/// A varint of at most `max_bytes` bytes whose last byte is at most `max_last`, as
/// postcard reads them.
#[inline(always)]
fn varint(v: &mut &[u8], max_bytes: usize, max_last: u8) -> Option<u64> {
    let mut out = 0u64;
    for (i, &b) in v.iter().take(max_bytes).enumerate() {
        out |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            if i == max_bytes - 1 && b > max_last {
                return None;
            }
            *v = &v[i + 1..];
            return Some(out);
        }
    }
    None
}

/// `N` bytes after a length byte equal to `N`.
#[inline(always)]
fn fixed<const N: usize>(v: &mut &[u8]) -> Option<[u8; N]> {
    let (&len, rest) = v.split_first()?;
    if usize::from(len) != N || rest.len() < N {
        return None;
    }
    let (b, rest) = rest.split_at(N);
    *v = rest;
    <[u8; N]>::try_from(b).ok()
}

/// A variant index in one byte (below 128).
#[inline(always)]
fn variant<T: Copy>(v: &mut &[u8], all: &[T]) -> Option<T> {
    let (&b, rest) = v.split_first()?;
    *v = rest;
    all.get(usize::from(b)).copied()
}

/// The event in postcard's wire format, when its lengths and variant indices take one
/// byte each (as postcard writes them); `None` for anything else (another encoding, or
/// bytes that are not an event), which [`YsbEvent::decode`] then reads. Where this
/// parse gives an event, it is the one `YsbEvent::decode` gives.
#[inline]
pub(super) fn parse(value: &[u8]) -> Option<YsbEvent> {
    let (&TAG_YSB, mut v) = value.split_first()? else {
        return None;
    };
    let event_id = varint(&mut v, 10, 1)?;
    let user_id = Uuid(fixed(&mut v)?);
    let page_id = Uuid(fixed(&mut v)?);
    let ad_id = Uuid(fixed(&mut v)?);
    let ad_type = variant(&mut v, &AdType::ALL)?;
    let event_type = variant(&mut v, &YsbEventType::ALL)?;
    let t = varint(&mut v, 10, 1)?;
    let event_time = ((t >> 1) as i64) ^ -((t & 1) as i64);
    let ip_address = Ipv4(fixed(&mut v)?);
    Some(YsbEvent {
        event_id,
        user_id,
        page_id,
        ad_id,
        ad_type,
        event_type,
        event_time,
        ip_address,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(i: u64) -> YsbEvent {
        YsbEvent {
            event_id: i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (i % 64),
            user_id: Uuid([i as u8; 16]),
            page_id: Uuid([(i >> 8) as u8; 16]),
            ad_id: Uuid([0xab; 16]),
            ad_type: AdType::ALL[(i % 5) as usize],
            event_type: YsbEventType::ALL[(i % 3) as usize],
            event_time: (i as i64).wrapping_mul(1_000_003) - (1 << 40),
            ip_address: Ipv4([1, 2, 3, (i % 251) as u8]),
        }
    }

    #[test]
    fn the_parse_reads_every_encoded_event_as_the_datasets_decoder_does() {
        for i in 0..5_000 {
            let e = event(i);
            let value = datasets::encode(&e, datasets::Codec::Postcard).unwrap();
            assert_eq!(parse(&value), Some(e));
            assert_eq!(YsbEvent::decode(&value).unwrap(), e);
            // The JSON codec is not its to read.
            let json = datasets::encode(&e, datasets::Codec::Json).unwrap();
            assert_eq!(parse(&json), None);
        }
    }

    #[test]
    fn where_the_parse_gives_an_event_on_damaged_bytes_the_datasets_decoder_gives_it_too() {
        let mut given = 0;
        let mut refused = 0;
        for i in 0..2_000u64 {
            let value = datasets::encode(&event(i), datasets::Codec::Postcard).unwrap();
            // Every byte changed to a few other values, and every truncation.
            for at in 0..value.len() {
                for x in [0x00, 0x01, 0x05, 0x10, 0x7f, 0x80, 0xff] {
                    let mut bad = value.clone();
                    bad[at] = x;
                    match parse(&bad) {
                        Some(e) => {
                            given += 1;
                            assert_eq!(YsbEvent::decode(&bad).ok(), Some(e), "{bad:?}");
                        }
                        None => refused += 1,
                    }
                }
                assert_eq!(parse(&value[..at]), None, "truncated at {at}");
            }
        }
        assert!(given > 0 && refused > 0, "{given} given, {refused} refused");
    }
}
