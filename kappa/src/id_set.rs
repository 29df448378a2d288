//! The event ids a task's de-duplication set holds: a bitmap where the ids are dense, a
//! hash set for the others.
//!
//! Generated events are numbered densely over the whole topic, in about the order they
//! happened, so the ids within one de-duplication window lie in a narrow range: there a
//! bit test replaces a hash-table insert that misses the cache (as the batch layer's
//! reader does). The bitmap spans at most [`MAX_WORDS`] × 64 ids from `base`; an id below
//! it, or too far above, goes to the hash set (FxHash: ids come from the log's own
//! producers, and the set is bounded by the de-duplication window, so HashDoS resistance
//! buys nothing here). Every id is in one place only.

use std::collections::VecDeque;

use rustc_hash::FxHashSet;

/// The bitmap's largest span, in 64-bit words: 4 Mi ids, 512 KiB.
const MAX_WORDS: u64 = 1 << 16;

#[derive(Debug, Default)]
pub(crate) struct IdSet {
    /// The id of the first bit of `words[0]` (a multiple of 64).
    base: u64,
    words: VecDeque<u64>,
    /// Ids outside the bitmap's span when they came.
    others: FxHashSet<u64>,
}

impl IdSet {
    /// The word and bit of `id` in the bitmap, growing it to reach `id` when `grow`;
    /// `None` when `id` lies outside the span it may have.
    #[inline]
    fn slot(&mut self, id: u64, grow: bool) -> Option<(usize, u64)> {
        if self.words.is_empty() {
            if !grow {
                return None;
            }
            self.base = id & !63;
        }
        let word = id.checked_sub(self.base)? / 64;
        if word >= MAX_WORDS {
            return None;
        }
        let word = word as usize;
        if word >= self.words.len() {
            if !grow {
                return None;
            }
            self.words.resize(word + 1, 0);
        }
        Some((word, 1 << (id % 64)))
    }

    /// Add `id`; `false` when it was there already.
    #[inline]
    pub fn insert(&mut self, id: u64) -> bool {
        if !self.others.is_empty() && self.others.contains(&id) {
            return false;
        }
        match self.slot(id, true) {
            Some((word, bit)) => {
                let w = &mut self.words[word];
                let new = *w & bit == 0;
                *w |= bit;
                new
            }
            None => self.others.insert(id),
        }
    }

    /// Forget `id`.
    pub fn remove(&mut self, id: u64) {
        match self.slot(id, false) {
            Some((word, bit)) if self.words[word] & bit != 0 => self.words[word] &= !bit,
            _ => {
                self.others.remove(&id);
            }
        }
    }

    /// Drop the bitmap's leading empty words (after removals), so that its span follows
    /// the ids.
    pub fn trim(&mut self) {
        while self.words.front() == Some(&0) {
            self.words.pop_front();
            self.base += 64;
        }
    }

    /// Every id, in order (tests).
    #[cfg(test)]
    pub fn sorted(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self.others.iter().copied().collect();
        for (i, w) in self.words.iter().enumerate() {
            for b in 0..64 {
                if w & (1 << b) != 0 {
                    ids.push(self.base + 64 * i as u64 + b);
                }
            }
        }
        ids.sort_unstable();
        ids
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn holds_exactly_the_ids_a_set_would_dense_or_not() {
        // Dense ids in disorder, ids below and far above the bitmap, repeats, removals
        // and trims, against a BTreeSet.
        let mut s = IdSet::default();
        let mut want = BTreeSet::new();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for step in 0..200_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let id = match x % 10 {
                0 => x,                                    // anywhere in u64
                1 => (step / 2).saturating_sub(x % 5_000), // below the span, now and then
                _ => step / 2 + x % 3_000,                 // dense, a little out of order
            };
            assert_eq!(s.insert(id), want.insert(id), "insert {id} at step {step}");
            if step % 1_000 == 0 {
                // Expire what lies 4,000 ids behind (as buckets expire), then trim.
                let gone: Vec<u64> = want
                    .range(..(step / 2).saturating_sub(4_000))
                    .copied()
                    .collect();
                for id in gone {
                    s.remove(id);
                    want.remove(&id);
                }
                s.trim();
            }
        }
        assert_eq!(s.sorted(), want.into_iter().collect::<Vec<_>>());
        assert!(
            s.words.len() < 300,
            "the span follows the ids: {}",
            s.words.len()
        );
        assert!(
            s.others.len() < 25_000,
            "dense ids stay in the bitmap: {}",
            s.others.len()
        );
    }

    #[test]
    fn an_id_kept_in_the_hash_set_is_found_once_the_bitmap_spans_it() {
        let mut s = IdSet::default();
        assert!(s.insert(0));
        assert!(s.insert(5_000_000), "beyond the span: the hash set");
        s.remove(0);
        s.trim();
        assert!(s.insert(4_000_000), "the bitmap starts again here");
        assert!(!s.insert(5_000_000), "still seen");
        s.remove(5_000_000);
        assert!(s.insert(5_000_000));
    }
}
