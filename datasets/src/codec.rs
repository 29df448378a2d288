//! How events are stored in record values.
//!
//! A value is one **tag byte** naming the event type and its format version, then the
//! event in [postcard](https://docs.rs/postcard)'s wire format:
//!
//! ```text
//!  value = tag (1 byte) ++ postcard(event)        tag 0x01 pageview v1
//!                                                 tag 0x02 ysb v1
//!                                                 tag 0x03 nexmark v1
//!                                                 tag 0x04 csv row v1 (see `Schema`)
//!  value = JSON text of the event                 the optional JSON codec: starts with '{'
//! ```
//!
//! Tags are below `0x20`, so a value starting with `{` is unambiguously the JSON codec and
//! a reader can decode either without being told which one the producer used.
//!
//! Fixed-size identifiers (UUIDs, IPv4 addresses, country codes) are stored as byte
//! strings — a length byte and the raw bytes — and decoded by copying a borrowed slice,
//! not byte by byte; in JSON they are the usual text forms ([`Uuid`], [`Ipv4`],
//! [`Country`]).

use serde::{Deserialize, Serialize};

use crate::error::{DatasetError, Result};
pub use crate::ids::{Country, Ipv4, Uuid};

/// Tag byte of a [`crate::PageView`] value.
pub const TAG_PAGEVIEW: u8 = 0x01;
/// Tag byte of a [`crate::YsbEvent`] value.
pub const TAG_YSB: u8 = 0x02;
/// Tag byte of a [`crate::NexmarkEvent`] value.
pub const TAG_NEXMARK: u8 = 0x03;
/// Tag byte of a typed CSV row (see [`crate::Schema`]).
pub const TAG_ROW: u8 = 0x04;

/// How event values are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Codec {
    /// Tag byte + postcard (the default: compact and fast).
    #[default]
    Postcard,
    /// JSON text: readable, several times bigger and slower. For debugging and for
    /// consumers outside Rust.
    Json,
}

impl std::str::FromStr for Codec {
    type Err = DatasetError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "postcard" => Ok(Self::Postcard),
            "json" => Ok(Self::Json),
            other => Err(DatasetError::InvalidOptions(format!(
                "codec {other:?}: expected postcard or json"
            ))),
        }
    }
}

/// Append `value` in postcard's wire format to `out`, as `postcard::to_extend` would,
/// but a byte at a time with `push` and a run of bytes with one copy (`to_extend` goes
/// through `Extend`, which reserves again for every byte and every field).
pub fn append_postcard<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
) -> postcard::Result<()> {
    postcard::serialize_with_flavor(value, Append(out))
}

/// The output of [`append_postcard`]: the caller's vector.
struct Append<'a>(&'a mut Vec<u8>);

impl postcard::ser_flavors::Flavor for Append<'_> {
    type Output = ();

    #[inline(always)]
    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        self.0.push(byte);
        Ok(())
    }

    #[inline(always)]
    fn try_extend(&mut self, bytes: &[u8]) -> postcard::Result<()> {
        self.0.extend_from_slice(bytes);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// An event type stored in the log with its own tag byte.
pub trait Event: Serialize {
    /// The tag byte of its postcard values.
    const TAG: u8;
    /// A name for error messages.
    const NAME: &'static str;
    /// Its event id: the same for an event and its duplicates.
    fn event_id(&self) -> u64;
    /// Its event time, ms since the Unix epoch.
    fn event_time(&self) -> i64;
}

/// Append `event`'s value encoding to `out`.
pub fn encode_into<E: Event>(event: &E, codec: Codec, out: &mut Vec<u8>) -> Result<()> {
    match codec {
        Codec::Postcard => {
            out.push(E::TAG);
            append_postcard(event, out).map_err(|e| DatasetError::Decode {
                what: E::NAME,
                reason: format!("encode: {e}"),
            })?;
        }
        Codec::Json => {
            serde_json::to_writer(&mut *out, event).map_err(|e| DatasetError::Decode {
                what: E::NAME,
                reason: format!("encode: {e}"),
            })?;
        }
    }
    Ok(())
}

/// `event`'s value encoding.
pub fn encode<E: Event>(event: &E, codec: Codec) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(64);
    encode_into(event, codec, &mut out)?;
    Ok(out)
}

/// Decode a value written by [`encode`] with either codec. String fields borrow from
/// `value` where the event type allows it (postcard only).
#[inline]
pub fn decode<'a, E: Event + Deserialize<'a>>(value: &'a [u8]) -> Result<E> {
    match value.first() {
        Some(&t) if t == E::TAG => {
            postcard::from_bytes(&value[1..]).map_err(|e| DatasetError::Decode {
                what: E::NAME,
                reason: e.to_string(),
            })
        }
        Some(b'{') => serde_json::from_slice(value).map_err(|e| DatasetError::Decode {
            what: E::NAME,
            reason: e.to_string(),
        }),
        Some(&t) => Err(DatasetError::Decode {
            what: E::NAME,
            reason: format!("tag byte {t:#04x} is not {:#04x}", E::TAG),
        }),
        None => Err(DatasetError::Decode {
            what: E::NAME,
            reason: "empty value".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_postcard_writes_postcards_bytes_after_those_already_there() {
        let value = (7u64, -3i64, "campaign", vec![1u8, 2, 3], Some(300u32));
        let mut out = vec![0xAB, 0xCD];
        append_postcard(&value, &mut out).unwrap();
        let mut expected = vec![0xAB, 0xCD];
        expected.extend(postcard::to_stdvec(&value).unwrap());
        assert_eq!(out, expected);
    }
}
