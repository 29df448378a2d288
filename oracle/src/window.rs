//! Event-time windows, assigned by the oracle itself from a workload's window spec (not
//! through `WindowSpec::windows_of`): half-open `[start, end)`, in ms since the epoch.
//!
//! - Tumbling and hopping windows sit on a grid aligned to the epoch: a window starts at
//!   every multiple of the slide (of the size, for tumbling ones) and lasts the size. An
//!   instant is in every window of the grid that contains it.
//! - Sessions are per key: a key's events sorted by time, a new session starting at an
//!   event at least `gap` after the previous one; a session is `[first, last + gap)`.

use workloads::Window;

/// Every window of the grid (`slide` apart, `size` long, a start at 0) containing `t`,
/// earliest first: walk back from the latest start at or before `t` while the window
/// still reaches `t`.
pub(crate) fn grid_windows(size: i64, slide: i64, t: i64) -> Vec<Window> {
    let mut out = Vec::new();
    let mut start = t.div_euclid(slide) * slide;
    while start + size > t {
        out.push(Window {
            start,
            end: start + size,
        });
        start -= slide;
    }
    out.reverse();
    out
}

/// The sessions of one key's event times (in any order), each as its window and the
/// indexes (into `times`) of its events.
pub(crate) fn sessions(times: &[i64], gap: i64) -> Vec<(Window, Vec<usize>)> {
    let mut order: Vec<usize> = (0..times.len()).collect();
    order.sort_by_key(|&i| times[i]);
    let mut out: Vec<(Window, Vec<usize>)> = Vec::new();
    for i in order {
        let t = times[i];
        match out.last_mut() {
            // Closer than the gap to the session's last event: the session grows.
            Some((w, members)) if t < w.end => {
                w.end = t + gap;
                members.push(i);
            }
            _ => out.push((
                Window {
                    start: t,
                    end: t + gap,
                },
                vec![i],
            )),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(ws: Vec<Window>) -> Vec<(i64, i64)> {
        ws.into_iter().map(|w| (w.start, w.end)).collect()
    }

    #[test]
    fn tumbling_windows_align_to_the_epoch() {
        assert_eq!(spans(grid_windows(60, 60, 0)), vec![(0, 60)]);
        assert_eq!(spans(grid_windows(60, 60, 59)), vec![(0, 60)]);
        assert_eq!(spans(grid_windows(60, 60, 60)), vec![(60, 120)]);
        assert_eq!(spans(grid_windows(60, 60, -1)), vec![(-60, 0)]);
    }

    #[test]
    fn hopping_windows_are_every_grid_window_containing_the_instant() {
        assert_eq!(spans(grid_windows(10, 5, 7)), vec![(0, 10), (5, 15)]);
        assert_eq!(spans(grid_windows(10, 5, 10)), vec![(5, 15), (10, 20)]);
        // A slide that does not divide the size, and negative times: against a scan of
        // the whole grid.
        for t in -40..40 {
            let scan: Vec<(i64, i64)> = (-30..30)
                .map(|k| (k * 3, k * 3 + 10))
                .filter(|&(s, e)| s <= t && t < e)
                .collect();
            assert_eq!(spans(grid_windows(10, 3, t)), scan, "{t}");
        }
    }

    #[test]
    fn sessions_split_at_the_gap() {
        // Unsorted times; 13 is exactly one gap after 8: a new session.
        let got = sessions(&[8, 0, 4, 13, 30, 15], 5);
        let spans: Vec<(i64, i64, Vec<usize>)> =
            got.into_iter().map(|(w, m)| (w.start, w.end, m)).collect();
        assert_eq!(
            spans,
            vec![
                (0, 13, vec![1, 2, 0]),
                (13, 20, vec![3, 5]),
                (30, 35, vec![4])
            ]
        );
        assert!(sessions(&[], 5).is_empty());
    }
}
