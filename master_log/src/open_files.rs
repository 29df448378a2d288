//! The open-file limit: every segment of every partition keeps its log file open, so a
//! topic is refused before anything is written when its partitions would not fit under
//! the process's `RLIMIT_NOFILE`.

use crate::error::{LogError, Result};

/// Files kept free for everything else the process opens (sockets, the lock file,
/// indexes being written, files of the layers above the log).
const RESERVE: u64 = 64;

/// The soft `RLIMIT_NOFILE` of this process, `None` when unlimited or unknown.
fn soft_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one `rlimit` through a valid pointer to a local.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    // `rlim_t` is not `u64` on every platform.
    #[allow(clippy::unnecessary_cast)]
    let soft = lim.rlim_cur as u64;
    (rc == 0 && lim.rlim_cur != libc::RLIM_INFINITY).then_some(soft)
}

/// Files this process has open now (`/proc/self/fd`; 0 where that is not available).
fn open_now() -> u64 {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64)
}

/// Refuse a topic whose `needed` new files do not fit under the open-file limit.
pub(crate) fn check(topic: &str, needed: u64) -> Result<()> {
    let Some(limit) = soft_limit() else {
        return Ok(());
    };
    let available = limit.saturating_sub(open_now()).saturating_sub(RESERVE);
    if needed > available {
        return Err(LogError::TooManyOpenFiles {
            topic: topic.to_owned(),
            needed,
            available,
            limit,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_topic_fits_and_an_impossible_one_does_not() {
        check("t", 1).unwrap();
        match check("t", u64::MAX) {
            Err(LogError::TooManyOpenFiles { needed, limit, .. }) => {
                assert_eq!(needed, u64::MAX);
                assert!(limit > 0);
            }
            other => panic!("{other:?}"),
        }
    }
}
