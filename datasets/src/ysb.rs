//! `ysb`: the Yahoo Streaming Benchmark's ad events.
//!
//! As in the benchmark's generator: 100 campaigns of 10 ads each (1,000 ads), 100 users
//! and 100 pages, all UUIDs; each event picks a user, a page and an ad uniformly (or the
//! ad by Zipf(`key_skew`)), an ad type among `banner, modal, sponsored-search, mail,
//! mobile` and an event type among `view, click, purchase`, uniformly. Identifiers are
//! 16-byte [`Uuid`]s, not strings, so a value decodes without allocating; the record key
//! is the ad id's 16 bytes.
//!
//! The benchmark's query joins each `view` with the static ad → campaign table, then
//! counts views per campaign per 10-second window. That table is a function of the seed
//! only ([`YsbCampaigns::new`]); the generator also writes it next to the topic's sidecar
//! as `<topic>.campaigns.csv` (`ad_id,campaign_id`), for both pipelines to load.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::codec::{self, Codec, Event, Ipv4, TAG_YSB, Uuid};
use crate::error::Result;
use crate::generate_options::GenerateOptions;
use crate::rng::{KeySampler, Rng, mix64};
use crate::source::{Source, streams};

/// Campaigns in the benchmark.
pub const CAMPAIGNS: usize = 100;
/// Ads per campaign.
pub const ADS_PER_CAMPAIGN: usize = 10;
/// Users and pages in the benchmark's pools.
pub const USERS: usize = 100;
/// Pages in the benchmark's pool.
pub const PAGES: usize = 100;

/// The kind of ad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AdType {
    /// A banner ad.
    Banner,
    /// A modal ad.
    Modal,
    /// A sponsored search result.
    SponsoredSearch,
    /// An ad by mail.
    Mail,
    /// A mobile ad.
    Mobile,
}

impl AdType {
    /// Every ad type.
    pub const ALL: [AdType; 5] = [
        Self::Banner,
        Self::Modal,
        Self::SponsoredSearch,
        Self::Mail,
        Self::Mobile,
    ];

    /// The ad type's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Banner => "banner",
            Self::Modal => "modal",
            Self::SponsoredSearch => "sponsored-search",
            Self::Mail => "mail",
            Self::Mobile => "mobile",
        }
    }
}

/// What the user did with the ad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum YsbEventType {
    /// The user saw the ad.
    View,
    /// The user clicked the ad.
    Click,
    /// The user bought.
    Purchase,
}

impl YsbEventType {
    /// Every event type.
    pub const ALL: [YsbEventType; 3] = [Self::View, Self::Click, Self::Purchase];

    /// The event type's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::View => "view",
            Self::Click => "click",
            Self::Purchase => "purchase",
        }
    }
}

/// One ad event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct YsbEvent {
    /// The event's id.
    pub event_id: u64,
    /// The user.
    pub user_id: Uuid,
    /// The page the ad was on.
    pub page_id: Uuid,
    /// The ad (the record key: its 16 bytes).
    pub ad_id: Uuid,
    /// The kind of ad.
    pub ad_type: AdType,
    /// What the user did.
    pub event_type: YsbEventType,
    /// ms since the Unix epoch; equal to the record's event time.
    pub event_time: i64,
    /// The user's IP address.
    pub ip_address: Ipv4,
}

impl Event for YsbEvent {
    const TAG: u8 = TAG_YSB;
    const NAME: &'static str = "ysb event";
    fn event_id(&self) -> u64 {
        self.event_id
    }
    fn event_time(&self) -> i64 {
        self.event_time
    }
}

impl YsbEvent {
    /// Decode a value written by [`codec::encode`] with either codec: the same answer as
    /// [`codec::decode`] (the same event, or an error for the same values), faster for the
    /// postcard codec, whose wire form of this struct is read here directly — varints and
    /// fixed-size byte strings, no serde visitor per field. The tests check the two
    /// agree on every generated event and on arbitrary bytes.
    #[inline]
    pub fn decode(value: &[u8]) -> Result<YsbEvent> {
        match value.split_first() {
            Some((&TAG_YSB, rest)) => PostcardReader(rest).ysb().ok_or_else(|| {
                // The fast path says only that the bytes are wrong; serde says how.
                match codec::decode::<YsbEvent>(value) {
                    Err(e) => e,
                    Ok(_) => crate::DatasetError::Decode {
                        what: Self::NAME,
                        reason: "malformed postcard value".into(),
                    },
                }
            }),
            _ => codec::decode(value),
        }
    }
}

/// Reads postcard's wire format: what serde's derive writes for [`YsbEvent`].
struct PostcardReader<'a>(&'a [u8]);

impl PostcardReader<'_> {
    /// A varint of up to `max_bytes` bytes whose last byte is at most `max_last` (as
    /// postcard checks them).
    #[inline(always)]
    fn varint(&mut self, max_bytes: usize, max_last: u8) -> Option<u64> {
        // One byte: a small value, the common case.
        if let Some((&b, rest)) = self.0.split_first()
            && b & 0x80 == 0
        {
            self.0 = rest;
            return (max_bytes > 1 || b <= max_last).then_some(u64::from(b));
        }
        self.varint_long(max_bytes, max_last)
    }

    /// [`PostcardReader::varint`] of any length: one of up to 8 bytes read as a word
    /// when 8 bytes are there (its end found by the first clear high bit, its 7-bit groups
    /// packed with three shifts), else byte by byte.
    #[inline(always)]
    fn varint_long(&mut self, max_bytes: usize, max_last: u8) -> Option<u64> {
        if let Some(word) = self.0.first_chunk::<8>() {
            let x = u64::from_le_bytes(*word);
            let ends = !x & 0x8080_8080_8080_8080;
            let len = (ends.trailing_zeros() / 8 + 1) as usize;
            if ends != 0 && len <= max_bytes {
                if len == max_bytes && word[len - 1] > max_last {
                    return None;
                }
                self.0 = &self.0[len..];
                return Some(pack_varint(x, len));
            }
        }
        self.varint_bytes(max_bytes, max_last)
    }

    /// [`PostcardReader::varint`] of any length, byte by byte.
    #[inline(never)]
    fn varint_bytes(&mut self, max_bytes: usize, max_last: u8) -> Option<u64> {
        let mut out = 0u64;
        for i in 0..max_bytes {
            let (&b, rest) = self.0.split_first()?;
            self.0 = rest;
            out |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return (i < max_bytes - 1 || b <= max_last).then_some(out);
            }
        }
        None
    }

    #[inline(always)]
    fn u64(&mut self) -> Option<u64> {
        self.varint(10, 1)
    }

    #[inline(always)]
    fn i64(&mut self) -> Option<i64> {
        let v = self.u64()?;
        Some(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    /// An enum's variant index (a `u32` varint).
    #[inline(always)]
    fn variant(&mut self) -> Option<usize> {
        usize::try_from(self.varint(5, 15)?).ok()
    }

    /// A byte string of exactly `N` bytes (length varint, then the bytes).
    #[inline(always)]
    fn bytes<const N: usize>(&mut self) -> Option<[u8; N]> {
        // The length in one byte, as postcard writes it for short strings.
        if let Some((&len, rest)) = self.0.split_first()
            && usize::from(len) == N
            && let Some((b, rest)) = rest.split_first_chunk::<N>()
        {
            self.0 = rest;
            return Some(*b);
        }
        let len = self.u64()?;
        let n = usize::try_from(len).ok()?;
        if n > self.0.len() {
            return None;
        }
        let (b, rest) = self.0.split_at(n);
        self.0 = rest;
        <[u8; N]>::try_from(b).ok()
    }

    /// Fields in declaration order, as serde's derive visits them. Trailing bytes are
    /// left, as `postcard::from_bytes` leaves them.
    #[inline]
    fn ysb(&mut self) -> Option<YsbEvent> {
        Some(YsbEvent {
            event_id: self.u64()?,
            user_id: Uuid(self.bytes()?),
            page_id: Uuid(self.bytes()?),
            ad_id: Uuid(self.bytes()?),
            ad_type: *AdType::ALL.get(self.variant()?)?,
            event_type: *YsbEventType::ALL.get(self.variant()?)?,
            event_time: self.i64()?,
            ip_address: Ipv4(self.bytes()?),
        })
    }
}

/// The value of the varint of `len` bytes (1 to 8) that starts `word` (little-endian):
/// its bytes' low 7 bits, packed.
#[inline(always)]
fn pack_varint(word: u64, len: usize) -> u64 {
    let x = match len {
        8 => word,
        _ => word & ((1u64 << (8 * len)) - 1),
    } & 0x7f7f_7f7f_7f7f_7f7f;
    let x = (x & 0x007f_007f_007f_007f) | ((x & 0x7f00_7f00_7f00_7f00) >> 1);
    let x = (x & 0x0000_3fff_0000_3fff) | ((x & 0x3fff_0000_3fff_0000) >> 2);
    (x & 0x0000_0000_0fff_ffff) | ((x & 0x0fff_ffff_0000_0000) >> 4)
}

/// Kind names counted in a summary: event types.
pub const KINDS: &[&str] = &["view", "click", "purchase"];

/// One row of the ad → campaign table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AdCampaign {
    /// The ad.
    pub ad_id: Uuid,
    /// Its campaign.
    pub campaign_id: Uuid,
}

/// The benchmark's static table: 1,000 ads in 100 campaigns, a function of the seed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct YsbCampaigns {
    /// The seed the table was made from (0 when read from a file).
    pub seed: u64,
    /// The campaign ids, in order.
    pub campaigns: Vec<Uuid>,
    /// Ad `i` belongs to campaign `i / 10`.
    pub ads: Vec<AdCampaign>,
}

impl YsbCampaigns {
    /// The table of `seed`.
    pub fn new(seed: u64) -> Self {
        let mut rng = Rng::new(seed, streams::TABLES);
        let campaigns: Vec<Uuid> = (0..CAMPAIGNS).map(|_| Uuid(rng.uuid())).collect();
        let ads = (0..CAMPAIGNS * ADS_PER_CAMPAIGN)
            .map(|i| AdCampaign {
                ad_id: Uuid(rng.uuid()),
                campaign_id: campaigns[i / ADS_PER_CAMPAIGN],
            })
            .collect();
        Self {
            seed,
            campaigns,
            ads,
        }
    }

    /// The table as a map from ad to campaign.
    pub fn to_map(&self) -> HashMap<Uuid, Uuid> {
        self.ads.iter().map(|a| (a.ad_id, a.campaign_id)).collect()
    }

    /// Write the table as CSV with the header `ad_id,campaign_id`, atomically and
    /// unsynced (`master_log::durable::write_atomic` with `Durability::Unsynced`).
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        let mut text = String::with_capacity(self.ads.len() * 75 + 20);
        text.push_str("ad_id,campaign_id\n");
        for a in &self.ads {
            text.push_str(&format!("{},{}\n", a.ad_id, a.campaign_id));
        }
        crate::sidecar::write_atomic(path, text.as_bytes())
    }

    /// Read a table written by [`YsbCampaigns::write_csv`] (the seed is not in the file
    /// and is returned as 0).
    pub fn read_csv(path: &Path) -> Result<Self> {
        use crate::error::{DatasetError, IoContext};
        let text = std::fs::read_to_string(path).ctx(|| format!("read {}", path.display()))?;
        let bad = |line: usize| DatasetError::BadFile {
            file: path.to_owned(),
            reason: format!("line {line} is not `ad_id,campaign_id`"),
        };
        let mut ads = Vec::new();
        let mut campaigns = Vec::new();
        for (i, line) in text.lines().enumerate().skip(1) {
            let (a, c) = line.split_once(',').ok_or_else(|| bad(i + 1))?;
            let ad_id = Uuid::parse(a).ok_or_else(|| bad(i + 1))?;
            let campaign_id = Uuid::parse(c).ok_or_else(|| bad(i + 1))?;
            if !campaigns.contains(&campaign_id) {
                campaigns.push(campaign_id);
            }
            ads.push(AdCampaign { ad_id, campaign_id });
        }
        Ok(Self {
            seed: 0,
            campaigns,
            ads,
        })
    }
}

pub(crate) struct YsbSource {
    rng: Rng,
    ads: Vec<Uuid>,
    users: Vec<(Uuid, Ipv4)>,
    pages: Vec<Uuid>,
    ad_sampler: KeySampler,
}

impl YsbSource {
    pub(crate) fn new(opts: &GenerateOptions) -> Self {
        let table = YsbCampaigns::new(opts.seed);
        let mut pools = Rng::new(opts.seed, streams::TABLES ^ 0x5eed);
        let users = (0..USERS)
            .map(|i| {
                let ip = (mix64(opts.seed ^ i as u64) as u32).to_be_bytes();
                (Uuid(pools.uuid()), Ipv4(ip))
            })
            .collect();
        let pages = (0..PAGES).map(|_| Uuid(pools.uuid())).collect();
        let ads: Vec<Uuid> = table.ads.iter().map(|a| a.ad_id).collect();
        Self {
            rng: Rng::new(opts.seed, streams::CONTENT),
            ad_sampler: KeySampler::new(ads.len() as u64, opts.key_skew),
            ads,
            users,
            pages,
        }
    }

    fn event(&mut self, event_id: u64, event_time: i64) -> YsbEvent {
        let r = &mut self.rng;
        let (user_id, ip_address) = self.users[r.below(USERS as u64) as usize];
        let page_id = self.pages[r.below(PAGES as u64) as usize];
        let ad_id = self.ads[self.ad_sampler.sample(r) as usize];
        let ad_type = AdType::ALL[r.below(5) as usize];
        let event_type = YsbEventType::ALL[r.below(3) as usize];
        YsbEvent {
            event_id,
            user_id,
            page_id,
            ad_id,
            ad_type,
            event_type,
            event_time,
            ip_address,
        }
    }
}

impl Source for YsbSource {
    fn make(
        &mut self,
        event_id: u64,
        event_time: i64,
        codec: Codec,
        key: &mut Vec<u8>,
        value: &mut Vec<u8>,
    ) -> Result<usize> {
        let ev = self.event(event_id, event_time);
        key.extend_from_slice(&ev.ad_id.0);
        codec::encode_into(&ev, codec, value)?;
        Ok(ev.event_type as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn campaign_table_is_a_function_of_the_seed() {
        let a = YsbCampaigns::new(1);
        assert_eq!(a, YsbCampaigns::new(1));
        assert_ne!(a, YsbCampaigns::new(2));
        assert_eq!(a.ads.len(), 1000);
        assert_eq!(a.campaigns.len(), 100);
        assert_eq!(a.to_map().len(), 1000);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.csv");
        a.write_csv(&p).unwrap();
        let b = YsbCampaigns::read_csv(&p).unwrap();
        assert_eq!(b.ads, a.ads);
        assert_eq!(b.campaigns, a.campaigns);
    }

    #[test]
    fn ysb_roundtrip_both_codecs() {
        let mut s = YsbSource::new(&GenerateOptions::default());
        let ev = s.event(9, 1_700_000_000_000);
        for c in [Codec::Postcard, Codec::Json] {
            let bytes = codec::encode(&ev, c).unwrap();
            assert_eq!(codec::decode::<YsbEvent>(&bytes).unwrap(), ev);
        }
        assert!(
            codec::decode::<crate::PageView>(&codec::encode(&ev, Codec::Postcard).unwrap())
                .is_err()
        );
    }

    /// The hand-read postcard path and serde's agree: the same event or both an error.
    fn agree(value: &[u8]) {
        let fast = YsbEvent::decode(value).ok();
        let serde = codec::decode::<YsbEvent>(value).ok();
        assert_eq!(fast, serde, "value {value:02x?}");
    }

    #[test]
    fn fast_decode_agrees_with_serde_on_events_and_damaged_values() {
        let mut s = YsbSource::new(&GenerateOptions::default());
        for i in 0..200u64 {
            // Ids and times of every varint length, negative times too.
            let id = if i % 2 == 0 { i } else { u64::MAX >> (i % 64) };
            let t = 1_700_000_000_000i64 * if i % 3 == 0 { -1 } else { 1 } + i as i64;
            let ev = s.event(id, t);
            for c in [Codec::Postcard, Codec::Json] {
                let value = codec::encode(&ev, c).unwrap();
                assert_eq!(YsbEvent::decode(&value).unwrap(), ev);
                agree(&value);
                if i % 20 == 0 {
                    for cut in 0..value.len() {
                        assert!(YsbEvent::decode(&value[..cut]).is_err());
                        agree(&value[..cut]);
                    }
                    for at in 0..value.len() {
                        for flip in [0x01, 0x80, 0xff] {
                            let mut bad = value.clone();
                            bad[at] ^= flip;
                            agree(&bad);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn a_varint_read_as_a_word_is_the_varint_read_byte_by_byte() {
        // Every length, with 8 bytes or more there (a word) and without; a varint longer
        // than allowed; a last byte above the limit.
        let mut values = vec![0u64, 1, 127, 128, 300, u64::MAX, 1 << 63, (1 << 56) - 1];
        values.extend((0..64).map(|b| 1u64 << b));
        values.extend((1..64).map(|b| (1u64 << b) - 1));
        for v in values {
            let encoded = postcard::to_stdvec(&v).unwrap();
            for tail in [0, 3, 9] {
                let mut bytes = encoded.clone();
                bytes.extend(std::iter::repeat_n(0xffu8, tail));
                for (max_bytes, max_last) in [(10, 1), (5, 15), (3, 0x7f)] {
                    let (mut word, mut one) = (PostcardReader(&bytes), PostcardReader(&bytes));
                    let read = word.varint_long(max_bytes, max_last);
                    assert_eq!(
                        read,
                        one.varint_bytes(max_bytes, max_last),
                        "{v} {max_bytes}"
                    );
                    if read.is_some() {
                        assert_eq!(word.0.len(), one.0.len(), "{v} {max_bytes}");
                    }
                    if max_bytes == 10 {
                        assert_eq!(read, Some(v));
                    }
                }
            }
        }
    }

    #[test]
    fn fast_decode_reports_serdes_reason() {
        let mut value = codec::encode(
            &YsbSource::new(&GenerateOptions::default()).event(1, 5),
            Codec::Postcard,
        )
        .unwrap();
        // The user id's length byte says 15 instead of 16.
        value[2] = 15;
        let fast = YsbEvent::decode(&value).unwrap_err().to_string();
        let serde = codec::decode::<YsbEvent>(&value).unwrap_err().to_string();
        assert_eq!(fast, serde);
    }

    proptest::proptest! {
        #[test]
        fn fast_decode_agrees_with_serde_on_any_bytes(
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..90),
            tagged in proptest::bool::ANY,
        ) {
            let mut value = if tagged { vec![TAG_YSB] } else { Vec::new() };
            value.extend(body);
            agree(&value);
        }

        #[test]
        fn fast_decode_agrees_with_serde_on_damaged_events(
            event_id in proptest::num::u64::ANY,
            event_time in proptest::num::i64::ANY,
            seed in proptest::num::u64::ANY,
            damage in proptest::collection::vec((proptest::num::usize::ANY, 1u8..), 0..4),
            cut in proptest::option::of(proptest::num::usize::ANY),
        ) {
            let ev = YsbSource::new(&GenerateOptions { seed, ..GenerateOptions::default() })
                .event(event_id, event_time);
            let mut value = codec::encode(&ev, Codec::Postcard).unwrap();
            if damage.is_empty() && cut.is_none() {
                proptest::prop_assert_eq!(YsbEvent::decode(&value).unwrap(), ev);
            }
            for (at, x) in damage {
                let n = value.len();
                value[at % n] ^= x;
            }
            if let Some(c) = cut {
                value.truncate(c % (value.len() + 1));
            }
            agree(&value);
        }
    }
}
