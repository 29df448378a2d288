//! `pageviews`: LinkedIn-style page and profile views.
//!
//! One event per view: who viewed (a member), what (a page: a profile, a company page, a
//! job, an article or the feed), from where (country) and on what (device). The record
//! key is the viewed page id (decimal text), so each page's views are in one partition.
//!
//! Model: `keys` pages (default 10,000) chosen uniformly or by Zipf(`key_skew`); a page's
//! type is a fixed function of its id and the seed (half of pages are profiles);
//! 10 × `keys` members chosen uniformly, each with a fixed country; the device is drawn
//! per view. Supports "views per page per minute", "distinct viewers per profile per
//! hour" (`page_type == profile`) and "top pages per hour".

use serde::{Deserialize, Serialize};

use crate::codec::{self, Codec, Country, Event, TAG_PAGEVIEW};
use crate::error::Result;
use crate::generate_options::GenerateOptions;
use crate::rng::{KeySampler, Rng, mix64};
use crate::source::{Source, streams};

/// What kind of page was viewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageType {
    /// A member's profile.
    Profile,
    /// A company page.
    Company,
    /// A job posting.
    Job,
    /// An article.
    Article,
    /// The feed.
    Feed,
}

impl PageType {
    /// Every page type.
    pub const ALL: [PageType; 5] = [
        Self::Profile,
        Self::Company,
        Self::Job,
        Self::Article,
        Self::Feed,
    ];

    /// The page type's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Profile => "profile",
            Self::Company => "company",
            Self::Job => "job",
            Self::Article => "article",
            Self::Feed => "feed",
        }
    }
}

/// The viewer's device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Device {
    /// A desktop computer.
    Desktop,
    /// A phone.
    Mobile,
    /// A tablet.
    Tablet,
    /// The app.
    App,
}

impl Device {
    /// The device's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Desktop => "desktop",
            Self::Mobile => "mobile",
            Self::Tablet => "tablet",
            Self::App => "app",
        }
    }
}

/// One page or profile view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PageView {
    /// The event's id.
    pub event_id: u64,
    /// The member who viewed.
    pub viewer_id: u64,
    /// The page or profile viewed (the record key).
    pub page_id: u64,
    /// What kind of page it is.
    pub page_type: PageType,
    /// The viewer's country.
    pub country: Country,
    /// The viewer's device.
    pub device: Device,
    /// ms since the Unix epoch; equal to the record's event time.
    pub event_time: i64,
}

impl Event for PageView {
    const TAG: u8 = TAG_PAGEVIEW;
    const NAME: &'static str = "pageview";
    fn event_id(&self) -> u64 {
        self.event_id
    }
    fn event_time(&self) -> i64 {
        self.event_time
    }
}

/// Kind names counted in a summary: page types, in [`PageType::ALL`] order.
pub const KINDS: &[&str] = &["profile", "company", "job", "article", "feed"];

/// Countries of members, with weights in percent.
const COUNTRIES: &[(&[u8; 2], u64)] = &[
    (b"US", 30),
    (b"IN", 14),
    (b"BR", 7),
    (b"GB", 6),
    (b"FR", 5),
    (b"DE", 5),
    (b"CA", 4),
    (b"CN", 4),
    (b"MX", 3),
    (b"ES", 3),
    (b"IT", 3),
    (b"AU", 3),
    (b"NL", 2),
    (b"ID", 2),
    (b"TR", 2),
    (b"NG", 2),
    (b"JP", 2),
    (b"SE", 1),
];

fn weighted<T: Copy>(table: &[(T, u64)], r: u64) -> T {
    let total: u64 = table.iter().map(|(_, w)| w).sum();
    let mut x = r % total;
    for &(v, w) in table {
        if x < w {
            return v;
        }
        x -= w;
    }
    table[table.len() - 1].0
}

/// The type of page `page_id` under `seed`: a fixed attribute of the page.
pub fn page_type_of(seed: u64, page_id: u64) -> PageType {
    weighted(
        &[
            (PageType::Profile, 50),
            (PageType::Company, 15),
            (PageType::Job, 15),
            (PageType::Article, 15),
            (PageType::Feed, 5),
        ],
        mix64(page_id ^ seed.rotate_left(17)),
    )
}

/// The country of member `viewer_id` under `seed`.
pub fn country_of(seed: u64, viewer_id: u64) -> Country {
    Country(*weighted(
        COUNTRIES,
        mix64(viewer_id ^ seed.rotate_left(31)),
    ))
}

pub(crate) struct PageviewSource {
    seed: u64,
    rng: Rng,
    pages: KeySampler,
    members: u64,
}

impl PageviewSource {
    pub(crate) fn new(opts: &GenerateOptions) -> Self {
        let pages = opts.keys.unwrap_or(10_000);
        Self {
            seed: opts.seed,
            rng: Rng::new(opts.seed, streams::CONTENT),
            pages: KeySampler::new(pages, opts.key_skew),
            members: pages.saturating_mul(10),
        }
    }

    fn event(&mut self, event_id: u64, event_time: i64) -> PageView {
        let page_id = self.pages.sample(&mut self.rng) + 1;
        let viewer_id = self.rng.below(self.members) + 1;
        let device = weighted(
            &[
                (Device::Desktop, 40),
                (Device::Mobile, 45),
                (Device::Tablet, 5),
                (Device::App, 10),
            ],
            self.rng.next_u64(),
        );
        PageView {
            event_id,
            viewer_id,
            page_id,
            page_type: page_type_of(self.seed, page_id),
            country: country_of(self.seed, viewer_id),
            device,
            event_time,
        }
    }
}

impl Source for PageviewSource {
    fn make(
        &mut self,
        event_id: u64,
        event_time: i64,
        codec: Codec,
        key: &mut Vec<u8>,
        value: &mut Vec<u8>,
    ) -> Result<usize> {
        let ev = self.event(event_id, event_time);
        write_decimal(key, ev.page_id);
        codec::encode_into(&ev, codec, value)?;
        Ok(ev.page_type as usize)
    }
}

/// Append the decimal digits of `v` (the text form of numeric keys).
pub(crate) fn write_decimal(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_keys() {
        for v in [0u64, 7, 10, 12345, u64::MAX] {
            let mut out = Vec::new();
            write_decimal(&mut out, v);
            assert_eq!(out, v.to_string().as_bytes());
        }
    }

    #[test]
    fn pageview_roundtrip_both_codecs() {
        let mut s = PageviewSource::new(&GenerateOptions::default());
        let ev = s.event(3, 1_700_000_000_123);
        for c in [Codec::Postcard, Codec::Json] {
            let bytes = codec::encode(&ev, c).unwrap();
            assert_eq!(codec::decode::<PageView>(&bytes).unwrap(), ev);
        }
    }
}
