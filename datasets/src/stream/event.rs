//! What a record adds to a workload's cells, as the stream decoder gives it.

use std::borrow::Cow;

use workloads::Scalar;

/// What one event adds to each of its cells.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    /// `Count += 1` (views per page, views per campaign, bids per auction).
    Count,
    /// Insert a value into a `Distinct` set (the viewers of a profile page).
    Distinct(Scalar),
    /// Offer `(order, payload)` to a `MaxBy` (a bid's price, `[auction, bidder]`).
    MaxBy(Scalar, Vec<Scalar>),
    /// One value per spec aggregate (`Null` for `count`), through `Aggregate::update`.
    Row(Vec<Scalar>),
    /// The arguments of every aggregate of a SQL workload, in order (`AggCall::update`).
    Sql(Vec<Scalar>),
}

/// What an event adds: the cells' group key and the update.
#[derive(Debug, Clone, PartialEq)]
pub struct Contribution<'a> {
    /// The values of the group-by columns: borrowed from the decoder where it keeps them
    /// (a YSB campaign, the empty key of NEXMark Q7), else owned.
    pub key: Cow<'a, [Scalar]>,
    /// The key's number, when the decoder numbers its keys (a YSB campaign's place in
    /// the campaign table): the same number for the same key, from 0 up and dense, for
    /// the life of the decoder. A stream task finds a numbered key's cell by its number
    /// instead of hashing and comparing the key.
    pub number: Option<u32>,
    /// What the event adds to each of its cells.
    pub update: Update,
}

/// One decoded event.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamEvent<'a> {
    /// The event id of a generated event (a duplicate carries the same); `None` for an
    /// imported CSV row, each its own event.
    pub id: Option<u64>,
    /// Event time, ms since the epoch.
    pub time: i64,
    /// What the event adds; `None` when the workload leaves it out (another event type,
    /// the spec's filter).
    pub contribution: Option<Contribution<'a>>,
}
