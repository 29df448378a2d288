//! What each generated dataset provides to the generator framework
//! ([`crate::generate`]): a [`Source`] of encoded events, and the random streams it
//! draws from.

use crate::codec::Codec;
use crate::error::Result;

/// What a dataset provides to the framework.
pub(crate) trait Source: Send {
    /// Encode event `event_id` with event time `event_time`: its key into `key`, its
    /// value into `value`. Returns its kind index.
    fn make(
        &mut self,
        event_id: u64,
        event_time: i64,
        codec: Codec,
        key: &mut Vec<u8>,
        value: &mut Vec<u8>,
    ) -> Result<usize>;
}

/// Stream numbers of the generator's random draws.
pub(crate) mod streams {
    pub const CONTENT: u64 = 1;
    pub const DISORDER: u64 = 2;
    pub const DUPLICATES: u64 = 3;
    pub const TABLES: u64 = 4;
}
