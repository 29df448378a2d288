//! Scales: a data range mapped onto the unit interval, with round ticks.

use crate::format::group_digits;

/// A data range mapped onto pixels.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scale {
    /// `lo..=hi` in steps of `step` (a round number).
    Linear {
        /// First tick.
        lo: f64,
        /// Last tick.
        hi: f64,
        /// Distance between ticks.
        step: f64,
    },
    /// Decades `10^lo ..= 10^hi`.
    Log {
        /// Exponent of the first decade.
        lo: i32,
        /// Exponent of the last decade.
        hi: i32,
    },
}

impl Scale {
    /// A linear scale over `lo..=hi` widened to round tick steps.
    pub(crate) fn linear(lo: f64, hi: f64) -> Scale {
        let (lo, hi) = if hi > lo {
            (lo, hi)
        } else if lo == 0.0 {
            (0.0, 1.0)
        } else {
            (lo - lo.abs() * 0.5, hi + hi.abs() * 0.5)
        };
        let step = nice_step(hi - lo, 5);
        Scale::Linear {
            lo: (lo / step).floor() * step,
            hi: (hi / step).ceil() * step,
            step,
        }
    }

    /// A log scale covering every positive value in `lo..=hi`.
    pub(crate) fn log(lo: f64, hi: f64) -> Scale {
        let lo_d = lo.log10().floor() as i32;
        let mut hi_d = hi.log10().ceil() as i32;
        if hi_d <= lo_d {
            hi_d = lo_d + 1;
        }
        Scale::Log { lo: lo_d, hi: hi_d }
    }

    /// The fraction `0..=1` of the way from the scale's start to `v` (clamped).
    pub(crate) fn position(&self, v: f64) -> f64 {
        let t = match *self {
            Scale::Linear { lo, hi, .. } => (v - lo) / (hi - lo),
            Scale::Log { lo, hi } => {
                if v <= 0.0 {
                    0.0
                } else {
                    (v.log10() - f64::from(lo)) / f64::from(hi - lo)
                }
            }
        };
        t.clamp(0.0, 1.0)
    }

    /// Labelled ticks, and unlabelled minor ticks (log scales' 2…9 × 10^k).
    pub(crate) fn ticks(&self) -> (Vec<(f64, String)>, Vec<f64>) {
        match *self {
            Scale::Linear { lo, hi, step } => {
                let decimals = (-step.log10().floor()).max(0.0) as usize;
                let first = (lo / step).round() as i64;
                let last = (hi / step).round() as i64;
                let major = (first..=last)
                    .map(|i| {
                        let v = i as f64 * step;
                        (v, tick_label(v, decimals))
                    })
                    .collect();
                (major, Vec::new())
            }
            Scale::Log { lo, hi } => {
                let mut major = Vec::new();
                let mut minor = Vec::new();
                for d in lo..=hi {
                    let v = 10f64.powi(d);
                    major.push((v, tick_label(v, (-d).max(0) as usize)));
                    if d < hi {
                        minor.extend((2..10).map(|m| f64::from(m) * v));
                    }
                }
                (major, minor)
            }
        }
    }
}

/// A round step (1, 2 or 5 × 10^k) that cuts `span` into about `parts` pieces.
fn nice_step(span: f64, parts: u32) -> f64 {
    let raw = span / f64::from(parts);
    let magnitude = 10f64.powf(raw.log10().floor());
    let n = raw / magnitude;
    let m = if n <= 1.0 {
        1.0
    } else if n <= 2.0 {
        2.0
    } else if n <= 5.0 {
        5.0
    } else {
        10.0
    };
    m * magnitude
}

/// A tick's label: `v` with `decimals` decimals, whole numbers grouped by three.
fn tick_label(v: f64, decimals: usize) -> String {
    if v == 0.0 {
        "0".into()
    } else if decimals == 0 {
        group_digits(&format!("{v:.0}"))
    } else {
        format!("{v:.decimals$}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales() {
        let Scale::Linear { lo, hi, step } = Scale::linear(0.0, 87.0) else {
            panic!("linear")
        };
        assert_eq!((lo, hi, step), (0.0, 100.0, 20.0));
        let (ticks, _) = Scale::linear(0.0, 0.37).ticks();
        let labels: Vec<&str> = ticks.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(labels, ["0", "0.1", "0.2", "0.3", "0.4"]);
        let log = Scale::log(3.25, 1503.0);
        let (ticks, minor) = log.ticks();
        let labels: Vec<&str> = ticks.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(labels, ["1", "10", "100", "1,000", "10,000"]);
        assert_eq!(minor.len(), 4 * 8);
        assert_eq!(log.position(100.0), 0.5);
        assert_eq!(log.position(0.0), 0.0);
        assert_eq!(Scale::log(0.5, 0.5).ticks().0[0].1, "0.1");
    }
}
