//! Read buffers a fetch hands out and takes back.
//!
//! A fetch reads its batches into large buffers (see `scan`) and returns records that
//! share them. Allocating a fresh megabyte per read made the allocator give the memory
//! back to the kernel when the caller dropped the records, and the next read fault it in
//! again, page by page: most of a sequential read's time. [`ReadBuffers`] keeps the
//! last few buffers a partition's reads handed out, and a read takes one back once no
//! record of it is alive any more (the caller dropped them all), without zeroing it.

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;

/// How many buffers a pool keeps (reused or waiting for their records to be dropped).
const KEEP: usize = 4;

/// The buffers of one partition's reads; see the module docs.
#[derive(Debug, Default)]
pub(crate) struct ReadBuffers {
    /// Buffers handed out, newest last; one whose records were all dropped is unique.
    kept: Mutex<Vec<Bytes>>,
}

impl ReadBuffers {
    /// A buffer of `len` bytes to read into: a kept one whose records are all gone (its
    /// old contents, resized), else a new, zeroed one.
    pub fn take(&self, len: usize) -> BytesMut {
        let reused = {
            let mut kept = self.kept.lock();
            kept.iter()
                .position(Bytes::is_unique)
                .map(|i| kept.swap_remove(i))
        };
        match reused.map(Bytes::try_into_mut) {
            Some(Ok(mut buf)) => {
                // Only bytes beyond the old length are zeroed; the rest is overwritten
                // by the read.
                buf.resize(len, 0);
                buf
            }
            // Unique a moment ago and kept by this pool alone: not expected; a new one.
            _ => BytesMut::zeroed(len),
        }
    }

    /// Keep `chunk` (a buffer from [`ReadBuffers::take`], filled and frozen) to reuse
    /// once its records are dropped; the oldest kept one is let go beyond [`KEEP`].
    pub fn keep(&self, chunk: &Bytes) {
        let mut kept = self.kept.lock();
        if kept.len() >= KEEP {
            kept.remove(0);
        }
        kept.push(chunk.clone());
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
        assert_eq!(c.len(), 600);
        let c = c.freeze();
        pool.keep(&c);
        drop(c);
        // Longer than last time, within its capacity: the same buffer again.
        let d = pool.take(1000);
        assert_eq!(d.as_ptr(), at);
        assert_eq!(d.len(), 1000);
    }

    #[test]
    fn keeps_a_bounded_number() {
        let pool = ReadBuffers::default();
        let held: Vec<Bytes> = (0..10)
            .map(|_| {
                let b = pool.take(10).freeze();
                pool.keep(&b);
                b
            })
            .collect();
        assert_eq!(pool.kept.lock().len(), KEEP);
        drop(held);
    }
}
