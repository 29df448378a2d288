//! Read buffers a fetch hands out and takes back.
//!
//! A fetch reads its batches into large buffers (see `scan`) and returns records that
//! share them. Allocating a fresh megabyte per read made the allocator give the memory
//! back to the kernel when the caller dropped the records, and the next read fault it in
//! again, page by page: most of a sequential read's time. [`ReadBuffers`] keeps the
//! last few buffers a topic's reads handed out, and a read takes one back once no
//! record of it is alive any more (the caller dropped them all), without zeroing it:
//! the one let go of last, whose bytes are the likeliest to be still in the CPU's
//! caches (a consumer reading the partitions in turn gets back the buffer of its
//! previous fetch, whichever partition that was).

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;

/// How many buffers a pool keeps (reused or waiting for their records to be dropped),
/// at least; a topic's pool keeps [`PER_PARTITION`] per partition when that is more.
const KEEP: usize = 8;
/// Buffers kept per partition of a topic: a fetch's, and the one before whose records a
/// reader still holds, for each partition that readers read at the same time.
const PER_PARTITION: usize = 2;

/// The buffers of one topic's reads; see the module docs.
#[derive(Debug)]
pub(crate) struct ReadBuffers {
    /// Buffers handed out, newest last; one whose records were all dropped is unique.
    kept: Mutex<Vec<Bytes>>,
    /// How many it keeps.
    keep: usize,
}

impl Default for ReadBuffers {
    fn default() -> Self {
        Self::for_partitions(0)
    }
}

impl ReadBuffers {
    /// The pool of a topic of `partitions` partitions.
    pub fn for_partitions(partitions: u32) -> Self {
        Self {
            kept: Mutex::new(Vec::new()),
            keep: KEEP.max(PER_PARTITION.saturating_mul(partitions as usize)),
        }
    }

    /// A buffer of at least `len` bytes to read into: a kept one whose records are all
    /// gone (its old contents, whole: a longer one is not cut, so that a later longer read
    /// finds it long enough again), else a new, zeroed one. The reader reads into its first
    /// `len` bytes; only bytes beyond a reused buffer's old length are zeroed.
    pub fn take(&self, len: usize) -> BytesMut {
        let reused = {
            let mut kept = self.kept.lock();
            let free = |b: &Bytes| b.is_unique();
            // The newest one long enough if there is one, else the newest free one.
            kept.iter()
                .rposition(|b| free(b) && b.len() >= len)
                .or_else(|| kept.iter().rposition(free))
                .map(|i| kept.remove(i))
        };
        match reused.map(Bytes::try_into_mut) {
            Some(Ok(mut buf)) => {
                if buf.len() < len {
                    buf.resize(len, 0);
                }
                buf
            }
            // Unique a moment ago and kept by this pool alone: not expected; a new one.
            _ => BytesMut::zeroed(len),
        }
    }

    /// Keep `chunk` (a whole buffer from [`ReadBuffers::take`], filled and frozen) to reuse
    /// once its records are dropped; the oldest kept one is let go beyond the pool's size.
    pub fn keep(&self, chunk: &Bytes) {
        let mut kept = self.kept.lock();
        if kept.len() >= self.keep {
            kept.remove(0);
        }
        kept.push(chunk.clone());
    }

    /// The lengths of the buffers kept, oldest first.
    #[cfg(test)]
    pub fn kept_lens(&self) -> Vec<usize> {
        self.kept.lock().iter().map(Bytes::len).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_is_reused_once_its_slices_are_dropped_and_not_before() {
        let pool = ReadBuffers::default();
        let mut a = pool.take(1000);
        a[0] = 7;
        let a = a.freeze();
        pool.keep(&a);
        let slice = a.slice(10..20);
        let at = a.as_ptr();
        drop(a);
        // A record still holds a slice of it: a new buffer.
        let b = pool.take(1000);
        assert_ne!(b.as_ptr(), at);
        assert!(b.iter().all(|&x| x == 0));
        drop(slice);
        let c = pool.take(600);
        assert_eq!(c.as_ptr(), at, "the buffer is taken back");
        // Whole, and not zeroed again: the read overwrites what it needs.
        assert_eq!(c.len(), 1000);
        assert_eq!(c[0], 7);
        let c = c.freeze();
        pool.keep(&c);
        drop(c);
        // Longer than last time: the same buffer, grown, its old bytes kept.
        let d = pool.take(1500);
        assert_eq!(d.len(), 1500);
        assert_eq!(d[0], 7);
        assert!(d[1000..].iter().all(|&x| x == 0));
    }

    #[test]
    fn the_newest_long_enough_free_buffer_is_taken() {
        let pool = ReadBuffers::default();
        let [old, long, short] = [1000, 1000, 100].map(|n| {
            let b = pool.take(n).freeze();
            pool.keep(&b);
            b
        });
        let (old_at, long_at) = (old.as_ptr(), long.as_ptr());
        drop((old, long, short));
        // `short` is newer, but too short; of the two long ones, the newer.
        let got = pool.take(800);
        assert_eq!(got.as_ptr(), long_at);
        assert_eq!(got.len(), 1000);
        assert_eq!(pool.take(800).as_ptr(), old_at);
    }

    #[test]
    fn keeps_a_bounded_number() {
        for (partitions, keep) in [(1, KEEP), (4, KEEP), (10, 20)] {
            let pool = ReadBuffers::for_partitions(partitions);
            let held: Vec<Bytes> = (0..30)
                .map(|_| {
                    let b = pool.take(10).freeze();
                    pool.keep(&b);
                    b
                })
                .collect();
            assert_eq!(pool.kept_lens().len(), keep, "{partitions} partitions");
            drop(held);
        }
    }
}
