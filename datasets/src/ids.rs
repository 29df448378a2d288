//! Fixed-size identifiers: UUIDs, IPv4 addresses and country codes, stored as their raw
//! bytes (a length byte and the bytes in postcard, copied from a borrowed slice, not byte
//! by byte) and shown in their usual text forms (also their JSON form).

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

fn hex_nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// A 16-byte identifier (a UUID), stored as 16 raw bytes and shown in the canonical
/// hyphenated form.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    /// The canonical form `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, written into `out`.
    pub fn write_hyphenated(&self, out: &mut [u8; 36]) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut j = 0;
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                out[j] = b'-';
                j += 1;
            }
            out[j] = HEX[(b >> 4) as usize];
            out[j + 1] = HEX[(b & 15) as usize];
            j += 2;
        }
    }

    /// Parse the hyphenated or plain 32-digit hex form.
    pub fn parse(s: &str) -> Option<Self> {
        let digits: Vec<u8> = s.bytes().filter(|&c| c != b'-').collect();
        if digits.len() != 32 || s.len() > 36 {
            return None;
        }
        let mut b = [0u8; 16];
        for i in 0..16 {
            b[i] = hex_nibble(digits[2 * i])? << 4 | hex_nibble(digits[2 * i + 1])?;
        }
        Some(Self(b))
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 36];
        self.write_hyphenated(&mut buf);
        f.write_str(std::str::from_utf8(&buf).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// An IPv4 address, stored as 4 raw bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Ipv4(pub [u8; 4]);

impl fmt::Display for Ipv4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        std::net::Ipv4Addr::from(self.0).fmt(f)
    }
}

impl fmt::Debug for Ipv4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// An ISO 3166-1 alpha-2 country code, stored as 2 bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Country(pub [u8; 2]);

impl Country {
    /// The code as text (`??` if its bytes are not UTF-8).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Serde for a fixed-size byte identifier: raw bytes in binary formats, text in
/// human-readable ones.
macro_rules! fixed_bytes_serde {
    ($ty:ident, $n:literal, $expect:literal, $to_text:expr, $from_text:expr) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                if s.is_human_readable() {
                    let f: fn(&$ty) -> String = $to_text;
                    s.serialize_str(&f(self))
                } else {
                    s.serialize_bytes(&self.0)
                }
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expect)
                    }
                    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> std::result::Result<$ty, E> {
                        <[u8; $n]>::try_from(v)
                            .map($ty)
                            .map_err(|_| E::invalid_length(v.len(), &self))
                    }
                    fn visit_borrowed_bytes<E: de::Error>(
                        self,
                        v: &'de [u8],
                    ) -> std::result::Result<$ty, E> {
                        self.visit_bytes(v)
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<$ty, E> {
                        let f: fn(&str) -> Option<$ty> = $from_text;
                        f(v).ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
                    }
                }
                if d.is_human_readable() {
                    d.deserialize_str(V)
                } else {
                    d.deserialize_bytes(V)
                }
            }
        }
    };
}

fixed_bytes_serde!(Uuid, 16, "a UUID", |u| u.to_string(), Uuid::parse);
fixed_bytes_serde!(Ipv4, 4, "an IPv4 address", |ip| ip.to_string(), |s| s
    .parse::<std::net::Ipv4Addr>()
    .ok()
    .map(|a| Ipv4(a.octets())));
fixed_bytes_serde!(
    Country,
    2,
    "a two-letter country code",
    |c| c.as_str().to_owned(),
    |s| <[u8; 2]>::try_from(s.as_bytes()).ok().map(Country)
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_text_roundtrip() {
        let u = Uuid([
            0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0x4d, 0xef, 0x80, 0x01, 0x02, 0x03, 0x04, 0x05,
            0x06, 0x07,
        ]);
        let s = u.to_string();
        assert_eq!(s, "12345678-9abc-4def-8001-020304050607");
        assert_eq!(Uuid::parse(&s), Some(u));
        assert_eq!(Uuid::parse("xyz"), None);
        let json = serde_json::to_string(&u).unwrap();
        assert_eq!(serde_json::from_str::<Uuid>(&json).unwrap(), u);
        let bin = postcard::to_allocvec(&u).unwrap();
        assert_eq!(bin.len(), 17);
        assert_eq!(postcard::from_bytes::<Uuid>(&bin).unwrap(), u);
    }

    #[test]
    fn short_bytes_are_an_error_not_a_panic() {
        let bin = postcard::to_allocvec(&Ipv4([1, 2, 3, 4])).unwrap();
        assert!(postcard::from_bytes::<Uuid>(&bin).is_err());
        assert!(postcard::from_bytes::<Uuid>(&[]).is_err());
    }
}
