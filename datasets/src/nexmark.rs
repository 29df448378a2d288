//! `nexmark`: NEXMark's online auction — persons, auctions and bids.
//!
//! Follows the NEXMark generator of Apache Beam and Flink: event number `i` is a person
//! when `i % 50 == 0`, an auction when `i % 50` is 1, 2 or 3, and a bid otherwise —
//! exactly the 1 : 3 : 46 proportions. Person ids and auction ids are dense from 1,000 in
//! creation order. A bid names an auction and a bidder that already exist: with
//! `key_skew` the auction is Zipf-distributed over the `keys` (default 100) most recent
//! auctions (rank 1 = newest), otherwise half of the bids go to the current "hot"
//! auction (hot-auction ratio 2) and the rest uniformly to recent ones. Sellers and
//! bidders are "hot" persons 3 times in 4 (ratio 4). Prices are in cents,
//! `round(10^(6u) · 100)` as in Beam; categories are 10..=14.
//!
//! Enough for Q1 (currency conversion of bid prices), Q2 (bids on selected auctions),
//! Q5 (hot items: bids per auction per sliding window) and Q7 (highest bid per window).
//! Record keys (decimal text): a person's id, an auction's id, and for a bid its auction's
//! id — so an auction and its bids share a partition. String fields are `Cow`s that borrow
//! from the record value when decoded from postcard. Beam's `extra` padding field is left
//! out.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::codec::{self, Codec, Event, TAG_NEXMARK};
use crate::error::Result;
use crate::generate_options::GenerateOptions;
use crate::pageviews::write_decimal;
use crate::rng::{KeySampler, Rng};
use crate::source::{Source, streams};

/// The first person id.
pub const FIRST_PERSON_ID: u64 = 1000;
/// The first auction id.
pub const FIRST_AUCTION_ID: u64 = 1000;
/// The first category id; there are [`NUM_CATEGORIES`].
pub const FIRST_CATEGORY_ID: u64 = 10;
/// Auction categories.
pub const NUM_CATEGORIES: u64 = 5;
/// Events per proportion block, and persons, auctions and bids in one.
pub const PROPORTION_DENOMINATOR: u64 = 50;
/// Persons in a proportion block.
pub const PERSON_PROPORTION: u64 = 1;
/// Auctions in a proportion block.
pub const AUCTION_PROPORTION: u64 = 3;
/// Bids in a proportion block.
pub const BID_PROPORTION: u64 = 46;

const HOT_AUCTION_RATIO: u64 = 2;
const HOT_PERSON_RATIO: u64 = 4;
const ACTIVE_PERSONS: u64 = 1000;

const FIRST_NAMES: &[&str] = &[
    "Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter",
];
const LAST_NAMES: &[&str] = &[
    "Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris",
];
const US_STATES: &[&str] = &["AZ", "CA", "ID", "OR", "WA", "WY"];
const US_CITIES: &[&str] = &[
    "Phoenix",
    "Los Angeles",
    "San Francisco",
    "Boise",
    "Portland",
    "Bend",
    "Redmond",
    "Seattle",
    "Kent",
    "Cheyenne",
];
const HOT_CHANNELS: &[(&str, &str)] = &[
    ("Google", "https://www.nexmark.com/googl/item.htm?query=1"),
    ("Facebook", "https://www.nexmark.com/faceb/item.htm?query=1"),
    ("Baidu", "https://www.nexmark.com/baidu/item.htm?query=1"),
    ("Apple", "https://www.nexmark.com/apple/item.htm?query=1"),
];

/// A person who sells or bids.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Person<'a> {
    /// The event's id.
    pub event_id: u64,
    /// The person's id.
    pub id: u64,
    /// Full name.
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    /// E-mail address.
    #[serde(borrow)]
    pub email_address: Cow<'a, str>,
    /// Credit card number.
    #[serde(borrow)]
    pub credit_card: Cow<'a, str>,
    /// City.
    #[serde(borrow)]
    pub city: Cow<'a, str>,
    /// US state.
    #[serde(borrow)]
    pub state: Cow<'a, str>,
    /// ms since the Unix epoch; the record's event time.
    pub date_time: i64,
}

/// An item put up for auction.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Auction<'a> {
    /// The event's id.
    pub event_id: u64,
    /// The auction's id.
    pub id: u64,
    /// Name of the item sold.
    #[serde(borrow)]
    pub item_name: Cow<'a, str>,
    /// Description of the item.
    #[serde(borrow)]
    pub description: Cow<'a, str>,
    /// Cents.
    pub initial_bid: u64,
    /// Cents.
    pub reserve: u64,
    /// ms since the Unix epoch; the record's event time.
    pub date_time: i64,
    /// When the auction closes, ms since the Unix epoch.
    pub expires: i64,
    /// A person id.
    pub seller: u64,
    /// A category id.
    pub category: u64,
}

/// A bid on an auction.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Bid<'a> {
    /// The event's id.
    pub event_id: u64,
    /// An auction id.
    pub auction: u64,
    /// A person id.
    pub bidder: u64,
    /// Cents.
    pub price: u64,
    /// Where the bid came from.
    #[serde(borrow)]
    pub channel: Cow<'a, str>,
    /// The page the bid was made on.
    #[serde(borrow)]
    pub url: Cow<'a, str>,
    /// ms since the Unix epoch; the record's event time.
    pub date_time: i64,
}

/// One NEXMark event.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NexmarkEvent<'a> {
    /// A new person.
    Person(#[serde(borrow)] Person<'a>),
    /// A new auction.
    Auction(#[serde(borrow)] Auction<'a>),
    /// A bid.
    Bid(#[serde(borrow)] Bid<'a>),
}

impl NexmarkEvent<'_> {
    /// `person`, `auction` or `bid`.
    pub fn kind(&self) -> &'static str {
        KINDS[self.kind_index()]
    }

    fn kind_index(&self) -> usize {
        match self {
            Self::Person(_) => 0,
            Self::Auction(_) => 1,
            Self::Bid(_) => 2,
        }
    }

    /// The same event owning its strings.
    pub fn into_owned(self) -> NexmarkEvent<'static> {
        fn own(c: Cow<'_, str>) -> Cow<'static, str> {
            Cow::Owned(c.into_owned())
        }
        match self {
            Self::Person(p) => NexmarkEvent::Person(Person {
                event_id: p.event_id,
                id: p.id,
                name: own(p.name),
                email_address: own(p.email_address),
                credit_card: own(p.credit_card),
                city: own(p.city),
                state: own(p.state),
                date_time: p.date_time,
            }),
            Self::Auction(a) => NexmarkEvent::Auction(Auction {
                item_name: own(a.item_name),
                description: own(a.description),
                ..a
            }),
            Self::Bid(b) => NexmarkEvent::Bid(Bid {
                channel: own(b.channel),
                url: own(b.url),
                ..b
            }),
        }
    }
}

impl Event for NexmarkEvent<'_> {
    const TAG: u8 = TAG_NEXMARK;
    const NAME: &'static str = "nexmark event";
    fn event_id(&self) -> u64 {
        match self {
            Self::Person(p) => p.event_id,
            Self::Auction(a) => a.event_id,
            Self::Bid(b) => b.event_id,
        }
    }
    fn event_time(&self) -> i64 {
        match self {
            Self::Person(p) => p.date_time,
            Self::Auction(a) => a.date_time,
            Self::Bid(b) => b.date_time,
        }
    }
}

/// Kind names counted in a summary.
pub const KINDS: &[&str] = &["person", "auction", "bid"];

/// What event number `event_id` is: 0 person, 1 auction, 2 bid.
pub fn kind_of(event_id: u64) -> usize {
    match event_id % PROPORTION_DENOMINATOR {
        0 => 0,
        1..=3 => 1,
        _ => 2,
    }
}

/// The last person id created up to and including event `event_id`.
fn last_person(event_id: u64) -> u64 {
    FIRST_PERSON_ID + event_id / PROPORTION_DENOMINATOR
}

/// The last auction id created up to and including event `event_id` (`None` before
/// the first).
fn last_auction(event_id: u64) -> Option<u64> {
    let epoch = event_id / PROPORTION_DENOMINATOR;
    let offset = event_id % PROPORTION_DENOMINATOR;
    let made = epoch * AUCTION_PROPORTION + offset.min(AUCTION_PROPORTION);
    made.checked_sub(1).map(|n| FIRST_AUCTION_ID + n)
}

pub(crate) struct NexmarkSource {
    rng: Rng,
    in_flight: u64,
    skew: Option<KeySampler>,
    text: String,
}

impl NexmarkSource {
    pub(crate) fn new(opts: &GenerateOptions) -> Self {
        let in_flight = opts.keys.unwrap_or(100);
        Self {
            rng: Rng::new(opts.seed, streams::CONTENT),
            in_flight,
            skew: opts
                .key_skew
                .filter(|s| *s > 0.0)
                .map(|s| KeySampler::new(in_flight, Some(s))),
            text: String::new(),
        }
    }

    fn price(&mut self) -> u64 {
        (10f64.powf(self.rng.unit_f64() * 6.0) * 100.0).round() as u64
    }

    fn letters(&mut self, n: usize) -> String {
        self.text.clear();
        for _ in 0..n {
            self.text.push((b'a' + self.rng.below(26) as u8) as char);
        }
        self.text.clone()
    }

    fn person_ref(&mut self, last: u64) -> u64 {
        if self.rng.below(HOT_PERSON_RATIO) > 0 {
            FIRST_PERSON_ID + (last - FIRST_PERSON_ID) / HOT_PERSON_RATIO * HOT_PERSON_RATIO
        } else {
            let lo = last.saturating_sub(ACTIVE_PERSONS - 1).max(FIRST_PERSON_ID);
            self.rng.range_inclusive(lo, last)
        }
    }

    fn auction_ref(&mut self, last: u64) -> u64 {
        if let Some(z) = &self.skew {
            let rank = z.sample(&mut self.rng);
            return last.saturating_sub(rank).max(FIRST_AUCTION_ID);
        }
        if self.rng.below(HOT_AUCTION_RATIO) > 0 {
            FIRST_AUCTION_ID + (last - FIRST_AUCTION_ID) / HOT_AUCTION_RATIO * HOT_AUCTION_RATIO
        } else {
            let lo = last
                .saturating_sub(self.in_flight.saturating_sub(1))
                .max(FIRST_AUCTION_ID);
            self.rng.range_inclusive(lo, last)
        }
    }

    pub(crate) fn event(&mut self, event_id: u64, t: i64) -> NexmarkEvent<'static> {
        let epoch = event_id / PROPORTION_DENOMINATOR;
        let offset = event_id % PROPORTION_DENOMINATOR;
        match kind_of(event_id) {
            0 => {
                let r = &mut self.rng;
                let name = format!(
                    "{} {}",
                    FIRST_NAMES[r.below(FIRST_NAMES.len() as u64) as usize],
                    LAST_NAMES[r.below(LAST_NAMES.len() as u64) as usize]
                );
                let card = format!(
                    "{:04} {:04} {:04} {:04}",
                    r.below(10_000),
                    r.below(10_000),
                    r.below(10_000),
                    r.below(10_000)
                );
                let city = US_CITIES[r.below(US_CITIES.len() as u64) as usize];
                let state = US_STATES[r.below(US_STATES.len() as u64) as usize];
                let email = format!("{}@{}.com", self.letters(7), self.letters(5));
                NexmarkEvent::Person(Person {
                    event_id,
                    id: FIRST_PERSON_ID + epoch,
                    name: Cow::Owned(name),
                    email_address: Cow::Owned(email),
                    credit_card: Cow::Owned(card),
                    city: Cow::Borrowed(city),
                    state: Cow::Borrowed(state),
                    date_time: t,
                })
            }
            1 => {
                let id = FIRST_AUCTION_ID + epoch * AUCTION_PROPORTION + offset - 1;
                let seller = self.person_ref(last_person(event_id));
                let initial_bid = self.price();
                let reserve = initial_bid + self.price();
                let category = FIRST_CATEGORY_ID + self.rng.below(NUM_CATEGORIES);
                let length = self.rng.range_inclusive(60_000, 600_000) as i64;
                let item_name = self.letters(20);
                let description = self.letters(50);
                NexmarkEvent::Auction(Auction {
                    event_id,
                    id,
                    item_name: Cow::Owned(item_name),
                    description: Cow::Owned(description),
                    initial_bid,
                    reserve,
                    date_time: t,
                    expires: t.saturating_add(length),
                    seller,
                    category,
                })
            }
            _ => {
                // Bids come after the block's auctions, so one exists.
                let last = last_auction(event_id).unwrap_or(FIRST_AUCTION_ID);
                let auction = self.auction_ref(last);
                let bidder = self.person_ref(last_person(event_id));
                let price = self.price();
                let (channel, url) = if self.rng.below(10) == 0 {
                    let n = self.rng.below(10_000);
                    (
                        Cow::Owned(format!("channel-{n}")),
                        Cow::Owned(format!(
                            "https://www.nexmark.com/item.htm?query=1&channel_id={n}"
                        )),
                    )
                } else {
                    let (c, u) = HOT_CHANNELS[self.rng.below(HOT_CHANNELS.len() as u64) as usize];
                    (Cow::Borrowed(c), Cow::Borrowed(u))
                };
                NexmarkEvent::Bid(Bid {
                    event_id,
                    auction,
                    bidder,
                    price,
                    channel,
                    url,
                    date_time: t,
                })
            }
        }
    }
}

impl Source for NexmarkSource {
    fn make(
        &mut self,
        event_id: u64,
        event_time: i64,
        codec: Codec,
        key: &mut Vec<u8>,
        value: &mut Vec<u8>,
    ) -> Result<usize> {
        let ev = self.event(event_id, event_time);
        let k = match &ev {
            NexmarkEvent::Person(p) => p.id,
            NexmarkEvent::Auction(a) => a.id,
            NexmarkEvent::Bid(b) => b.auction,
        };
        write_decimal(key, k);
        codec::encode_into(&ev, codec, value)?;
        Ok(ev.kind_index())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_proportions() {
        let mut s = NexmarkSource::new(&GenerateOptions::default());
        let mut counts = [0u64; 3];
        let mut last_auction_seen = None;
        for i in 0..5_000 {
            let ev = s.event(i, 0);
            counts[ev.kind_index()] += 1;
            match &ev {
                NexmarkEvent::Auction(a) => {
                    assert_eq!(Some(a.id), last_auction(i));
                    last_auction_seen = Some(a.id);
                }
                NexmarkEvent::Bid(b) => {
                    assert!(b.auction <= last_auction_seen.unwrap());
                    assert!(b.bidder <= last_person(i));
                }
                NexmarkEvent::Person(p) => assert_eq!(p.id, last_person(i)),
            }
        }
        assert_eq!(counts, [100, 300, 4600]);
    }

    #[test]
    fn borrowed_decoding() {
        let mut s = NexmarkSource::new(&GenerateOptions::default());
        for i in 0..60 {
            let ev = s.event(i, 5);
            let bytes = codec::encode(&ev, Codec::Postcard).unwrap();
            let back: NexmarkEvent<'_> = codec::decode(&bytes).unwrap();
            assert_eq!(back, ev);
            if let NexmarkEvent::Bid(b) = &back {
                assert!(matches!(b.url, Cow::Borrowed(_)));
            }
            let json = codec::encode(&ev, Codec::Json).unwrap();
            let back: NexmarkEvent<'_> = codec::decode(&json).unwrap();
            assert_eq!(back.into_owned(), ev);
        }
    }
}
