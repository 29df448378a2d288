//! The decoder of generated YSB topics: each record's value read where the log read it
//! ([`Log::fetch_each`]) and put straight into the partition's columns, with no
//! `RowSink` call through a pointer per field; the filter on an enum column (`event_type`
//! = `'view'`) is decided on the variant, not on its name.
//!
//! Values are read by [`YsbEvent::decode`] (its fast path reads postcard's wire format
//! directly; the JSON codec and bad bytes go through serde), so the rows, and the
//! errors, are those of the generic reader.

use std::ops::{ControlFlow, Range};

use datasets::{AdType, DatasetError, RowMeta, RowSink, YsbEvent, YsbEventType};
use master_log::{FetchLimits, Log, RecordView};

use super::FrameSink;
use crate::error::{BatchError, Result};

/// The index of `ad_type` in [`datasets::YSB_COLUMNS`]: the decoder writes to the columns
/// by their indices (a topic whose columns are others is read by the generic reader).
const AD_TYPE: usize = 4;
/// The index of `event_type` there.
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
    let e = YsbEvent::decode(value)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_enum_columns_are_where_the_decoder_looks_for_them() {
        assert_eq!(datasets::YSB_COLUMNS[AD_TYPE].0, "ad_type");
        assert_eq!(datasets::YSB_COLUMNS[EVENT_TYPE].0, "event_type");
    }
}
