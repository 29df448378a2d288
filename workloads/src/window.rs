//! Event-time windows, aligned to the Unix epoch.

use serde::{Deserialize, Serialize};

/// A half-open interval of event time `[start, end)` in ms since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Window {
    /// First instant in the window, ms since the epoch.
    pub start: i64,
    /// First instant after the window, ms since the epoch.
    pub end: i64,
}

impl Window {
    /// Whether the window contains instant `t`.
    pub fn contains(&self, t: i64) -> bool {
        self.start <= t && t < self.end
    }
}

/// How events are grouped in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WindowSpec {
    /// Consecutive windows of `size_ms`: `[k·size, (k+1)·size)`.
    Tumbling {
        /// Length of a window, ms.
        size_ms: i64,
    },
    /// Windows of `size_ms` starting every `slide_ms`; an event is in `size/slide` of them.
    Hopping {
        /// Length of a window, ms.
        size_ms: i64,
        /// Time between the starts of two windows, ms.
        slide_ms: i64,
    },
    /// Per key, events closer than `gap_ms` share a window `[first, last + gap)`.
    Session {
        /// Events of one key closer than this share a session, ms.
        gap_ms: i64,
    },
}

impl WindowSpec {
    /// The fixed windows (tumbling or hopping) that contain `t`, earliest first. A session
    /// spec gives the single-event session `[t, t + gap)`, to be merged with its
    /// neighbours (see `PartialTable::coalesce_sessions`).
    pub fn windows_of(&self, t: i64) -> impl Iterator<Item = Window> + use<> {
        let (first, last, size, slide) = match *self {
            WindowSpec::Tumbling { size_ms } => {
                let s = t.div_euclid(size_ms) * size_ms;
                (s, s, size_ms, size_ms)
            }
            WindowSpec::Hopping { size_ms, slide_ms } => {
                let last = t.div_euclid(slide_ms) * slide_ms;
                // The earliest window start `s` with s + size > t, on the slide grid.
                let first = (t - size_ms).div_euclid(slide_ms) * slide_ms + slide_ms;
                (first, last, size_ms, slide_ms)
            }
            WindowSpec::Session { gap_ms } => (t, t, gap_ms, gap_ms),
        };
        (0..)
            .map(move |i| first + i * slide)
            .take_while(move |&s| s <= last)
            .map(move |start| Window {
                start,
                end: start + size,
            })
    }

    /// Whether these are session windows.
    pub fn is_session(&self) -> bool {
        matches!(self, WindowSpec::Session { .. })
    }

    /// The longest time between an event and the end of a window it is in: after
    /// `t + reach`, no window containing `t` is still open.
    pub fn reach_ms(&self) -> i64 {
        match *self {
            WindowSpec::Tumbling { size_ms } => size_ms,
            WindowSpec::Hopping { size_ms, .. } => size_ms,
            WindowSpec::Session { gap_ms } => gap_ms,
        }
    }

    /// Reject windows that cannot work: a size, slide or gap that is not positive, a slide
    /// longer than the size, more than 1000 overlapping hopping windows.
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            WindowSpec::Tumbling { size_ms } if size_ms <= 0 => {
                Err("a tumbling window needs a positive size".into())
            }
            WindowSpec::Hopping { size_ms, slide_ms } if size_ms <= 0 || slide_ms <= 0 => {
                Err("a hopping window needs a positive size and slide".into())
            }
            WindowSpec::Hopping { size_ms, slide_ms } if slide_ms > size_ms => Err(format!(
                "a hopping window's slide ({slide_ms} ms) cannot exceed its size ({size_ms} ms)"
            )),
            WindowSpec::Hopping { size_ms, slide_ms } if size_ms / slide_ms > 1000 => Err(
                "a hopping window may overlap at most 1000 windows (size / slide ≤ 1000)".into(),
            ),
            WindowSpec::Session { gap_ms } if gap_ms <= 0 => {
                Err("a session window needs a positive gap".into())
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn starts(spec: WindowSpec, t: i64) -> Vec<(i64, i64)> {
        spec.windows_of(t).map(|w| (w.start, w.end)).collect()
    }

    #[test]
    fn tumbling_aligns_to_epoch_including_negative_times() {
        let s = WindowSpec::Tumbling { size_ms: 60_000 };
        assert_eq!(starts(s, 0), vec![(0, 60_000)]);
        assert_eq!(starts(s, 59_999), vec![(0, 60_000)]);
        assert_eq!(starts(s, 60_000), vec![(60_000, 120_000)]);
        assert_eq!(starts(s, -1), vec![(-60_000, 0)]);
    }

    #[test]
    fn hopping_gives_every_window_containing_t() {
        let s = WindowSpec::Hopping {
            size_ms: 10,
            slide_ms: 5,
        };
        assert_eq!(starts(s, 7), vec![(0, 10), (5, 15)]);
        assert_eq!(starts(s, 10), vec![(5, 15), (10, 20)]);
        assert_eq!(starts(s, -3), vec![(-10, 0), (-5, 5)]);
        let s = WindowSpec::Hopping {
            size_ms: 10,
            slide_ms: 3,
        };
        for t in -50..50 {
            let ws: Vec<Window> = s.windows_of(t).collect();
            assert!(ws.iter().all(|w| w.contains(t)), "{t}: {ws:?}");
            // Exactly the windows on the grid that contain t.
            let expected = (-100..100)
                .filter(|k| {
                    let start = k * 3;
                    start <= t && t < start + 10
                })
                .count();
            assert_eq!(ws.len(), expected, "{t}");
        }
    }

    #[test]
    fn validation() {
        assert!(WindowSpec::Tumbling { size_ms: 0 }.validate().is_err());
        assert!(
            WindowSpec::Hopping {
                size_ms: 5,
                slide_ms: 10
            }
            .validate()
            .is_err()
        );
        assert!(WindowSpec::Session { gap_ms: 1 }.validate().is_ok());
    }
}
