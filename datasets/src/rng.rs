//! A small, stable pseudo-random number generator and the samplers built on it.
//!
//! The generators promise byte-identical output for the same seed and options, across
//! releases of this crate's dependencies. So they do not use `rand`'s `StdRng` (whose
//! algorithm may change between versions) but this fixed SplitMix64 / xoshiro256++
//! pair, and integer arithmetic wherever it can (uniform integers by multiply-shift,
//! probabilities by comparing with a precomputed 64-bit threshold). Only the Zipf sampler
//! uses floating point (`ln`, `exp`), which is deterministic on one platform.

/// SplitMix64: used to seed [`Rng`] and to derive independent streams from one seed.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A 64-bit hash of a value (one SplitMix64 step): stable, for deriving attributes
/// of an entity from its id.
pub fn mix64(v: u64) -> u64 {
    let mut s = v;
    splitmix64(&mut s)
}

/// xoshiro256++, seeded through SplitMix64 from a seed and a stream number.
#[derive(Debug, Clone)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// The generator for `stream` of `seed`: different streams are independent, so that
    /// (for example) the disorder options do not change the events' contents.
    pub fn new(seed: u64, stream: u64) -> Self {
        let mut sm = seed ^ stream.wrapping_mul(0xd1b5_4a32_d192_ed03);
        let s = [
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
        ];
        Self { s }
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// A uniform integer in `0..n` (`0` when `n == 0`), by multiply-shift.
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A uniform integer in `lo..=hi`.
    #[inline]
    pub fn range_inclusive(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below(hi - lo + 1)
    }

    /// A uniform float in `[0, 1)` with 53 random bits.
    #[inline]
    pub fn unit_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Whether an event of probability `p` happens, `p` given as a [`Threshold`].
    #[inline]
    pub fn chance(&mut self, p: Threshold) -> bool {
        p.0 != 0 && (p.0 == u64::MAX || self.next_u64() < p.0)
    }

    /// 16 random bytes, as a version-4 UUID.
    pub fn uuid(&mut self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        b[8..].copy_from_slice(&self.next_u64().to_le_bytes());
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        b
    }
}

/// A probability as a 64-bit threshold, computed once from a float so that every draw is
/// an integer comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threshold(u64);

impl Threshold {
    /// The threshold of probability `p` (clamped to `[0, 1]`; NaN is 0).
    pub fn new(p: f64) -> Self {
        if p.is_nan() || p <= 0.0 {
            Self(0)
        } else if p >= 1.0 {
            Self(u64::MAX)
        } else {
            Self((p * 18_446_744_073_709_551_616.0) as u64)
        }
    }

    /// Draws below this value happen.
    pub fn raw(self) -> u64 {
        self.0
    }
}

/// Keys `0..n` drawn uniformly, or by a Zipf law of exponent `s` (key 0 the most
/// frequent), with Hörmann and Derflinger's rejection-inversion method: O(1) per draw and
/// no table, whatever `n`.
#[derive(Debug, Clone)]
pub struct KeySampler {
    n: u64,
    zipf: Option<Zipf>,
}

#[derive(Debug, Clone)]
struct Zipf {
    s: f64,
    h_integral_x1: f64,
    h_integral_n: f64,
    cut: f64,
}

impl KeySampler {
    /// Uniform over `0..n` when `skew` is `None` or not positive, Zipf otherwise.
    pub fn new(n: u64, skew: Option<f64>) -> Self {
        let n = n.max(1);
        let zipf = skew.filter(|s| *s > 0.0 && n > 1).map(|s| {
            let h_integral_x1 = h_integral(1.5, s) - 1.0;
            let h_integral_n = h_integral(n as f64 + 0.5, s);
            let cut = 2.0 - h_integral_inv(h_integral(2.5, s) - h(2.0, s), s);
            Zipf {
                s,
                h_integral_x1,
                h_integral_n,
                cut,
            }
        });
        Self { n, zipf }
    }

    /// The number of keys.
    pub fn n(&self) -> u64 {
        self.n
    }

    /// A key in `0..n`.
    #[inline]
    pub fn sample(&self, rng: &mut Rng) -> u64 {
        let Some(z) = &self.zipf else {
            return rng.below(self.n);
        };
        loop {
            let u = z.h_integral_n + rng.unit_f64() * (z.h_integral_x1 - z.h_integral_n);
            let x = h_integral_inv(u, z.s);
            let k = (x + 0.5).floor().clamp(1.0, self.n as f64);
            if k - x <= z.cut || u >= h_integral(k + 0.5, z.s) - h(k, z.s) {
                return k as u64 - 1;
            }
        }
    }
}

fn h(x: f64, s: f64) -> f64 {
    (-s * x.ln()).exp()
}

fn h_integral(x: f64, s: f64) -> f64 {
    let log_x = x.ln();
    helper2((1.0 - s) * log_x) * log_x
}

fn h_integral_inv(x: f64, s: f64) -> f64 {
    let t = (x * (1.0 - s)).max(-1.0);
    (helper1(t) * x).exp()
}

/// `ln(1 + x) / x`, continuous at 0.
fn helper1(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.ln_1p() / x
    } else {
        1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x))
    }
}

/// `(e^x - 1) / x`, continuous at 0.
fn helper2(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.exp_m1() / x
    } else {
        1.0 + x * 0.5 * (1.0 + x * (1.0 / 3.0) * (1.0 + 0.25 * x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..4).map(|_| Rng::new(7, 1).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(Rng::new(7, 1).next_u64(), Rng::new(7, 2).next_u64());
        assert_ne!(Rng::new(7, 1).next_u64(), Rng::new(8, 1).next_u64());
    }

    #[test]
    fn below_is_in_range() {
        let mut r = Rng::new(1, 0);
        for n in [1u64, 2, 3, 10, 1000] {
            for _ in 0..1000 {
                assert!(r.below(n) < n);
            }
        }
        assert_eq!(r.below(0), 0);
    }

    #[test]
    fn zipf_favours_small_keys_with_the_right_ratio() {
        let mut r = Rng::new(3, 0);
        let z = KeySampler::new(1000, Some(1.0));
        let mut counts = vec![0u64; 1000];
        for _ in 0..200_000 {
            counts[z.sample(&mut r) as usize] += 1;
        }
        // P(k) ∝ 1/k: key 0 (rank 1) about twice key 1 (rank 2).
        let ratio = counts[0] as f64 / counts[1] as f64;
        assert!((1.8..2.2).contains(&ratio), "{ratio}");
        assert!(counts[0] > counts[99] * 50);
    }

    #[test]
    fn uniform_without_skew() {
        let mut r = Rng::new(3, 0);
        let z = KeySampler::new(10, None);
        let mut counts = [0u64; 10];
        for _ in 0..100_000 {
            counts[z.sample(&mut r) as usize] += 1;
        }
        assert!(counts.iter().all(|&c| (9_000..11_000).contains(&c)));
    }

    #[test]
    fn thresholds() {
        let mut r = Rng::new(5, 0);
        let t = Threshold::new(0.25);
        let hits = (0..100_000).filter(|_| r.chance(t)).count();
        assert!((24_000..26_000).contains(&hits));
        assert!(!r.chance(Threshold::new(0.0)));
        assert!(r.chance(Threshold::new(1.0)));
    }
}
