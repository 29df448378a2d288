//! How a record of the log maps to a Kafka message: the event time travels in the
//! header [`EVENT_TIME_HEADER`]; the Kafka timestamp is the append time.

use rdkafka::message::{Header as KHeader, Message, OwnedHeaders};

use crate::record::{NewRecord, Record};

/// The header that carries a record's event time (decimal milliseconds since the epoch).
pub const EVENT_TIME_HEADER: &str = "lk.event_time";

/// The Kafka headers of `r`: its own headers, then the event time.
pub(super) fn headers_of(r: &NewRecord) -> OwnedHeaders {
    let event_time = r.event_time.to_string();
    let mut headers = OwnedHeaders::new_with_capacity(r.headers.len() + 1);
    for h in &r.headers {
        headers = headers.insert(KHeader {
            key: &h.key,
            value: Some(&h.value[..]),
        });
    }
    headers.insert(KHeader {
        key: EVENT_TIME_HEADER,
        value: Some(event_time.as_bytes()),
    })
}

/// A record read from Kafka, with the event time taken out of its header.
pub(super) fn to_record<M: Message>(m: &M) -> Record {
    use rdkafka::message::Headers;
    let append_time = m.timestamp().to_millis().unwrap_or(0);
    let mut event_time = None;
    let mut headers = Vec::new();
    if let Some(hs) = m.headers() {
        for h in hs.iter() {
            if h.key == EVENT_TIME_HEADER
                && event_time.is_none()
                && let Some(t) = h
                    .value
                    .and_then(|v| std::str::from_utf8(v).ok())
                    .and_then(|s| s.parse::<i64>().ok())
            {
                event_time = Some(t);
                continue;
            }
            headers.push(crate::record::Header {
                key: h.key.to_owned(),
                value: bytes::Bytes::copy_from_slice(h.value.unwrap_or_default()),
            });
        }
    }
    Record {
        offset: m.offset().max(0) as u64,
        key: m.key().map(bytes::Bytes::copy_from_slice),
        value: m.payload().map(bytes::Bytes::copy_from_slice),
        event_time: event_time.unwrap_or(append_time),
        append_time,
        headers,
    }
}
