//! The file locks (`flock`) that let several processes share one data directory.
//!
//! ```text
//!  DATA/.lock          shared by every process that has the log open; an older version,
//!                      which takes it exclusive, is refused (and refuses) with the holder
//!  DATA/topics/        (the directory) exclusive while a topic is created or deleted,
//!                      and while an open clears what an interrupted create or delete left
//!  DATA/topics/T/P/    (the directory) the partition's writer lock: exclusive around
//!                      every write of any process — append, roll, retention, compaction,
//!                      recovery, the close that writes indexes and manifest — and while
//!                      `verify` checks the partition
//! ```
//!
//! `flock` locks belong to an open file: two logs opened in one process exclude each
//! other as two processes do, and a lock goes with its process when it dies.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{IoContext, LogError, Result};

/// How long a writer waits for a lock another process holds before giving up with
/// [`LogError::Locked`].
pub(crate) const WAIT: Duration = Duration::from_secs(30);

/// Take the data directory's lock, shared, or say who holds it exclusively.
pub(crate) fn lock_data_dir(dir: &Path) -> Result<File> {
    fs::create_dir_all(dir).ctx(|| format!("create data directory {}", dir.display()))?;
    let path = dir.join(".lock");
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .ctx(|| format!("open {}", path.display()))?;
    match file.try_lock_shared() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(LogError::Locked {
            path: dir.to_path_buf(),
            holder: holders(&file),
        }),
        Err(fs::TryLockError::Error(e)) => Err(LogError::Io {
            context: format!("lock {}", path.display()),
            source: e,
        }),
    }
}

/// Open a directory to lock it.
pub(crate) fn open_dir(dir: &Path) -> Result<File> {
    File::open(dir).ctx(|| format!("open {}", dir.display()))
}

/// Take `file`'s lock exclusively, waiting up to [`WAIT`] while another holds it;
/// [`LogError::Locked`] naming `path` and the holders after that.
pub(crate) fn lock_exclusive(file: &File, path: &Path) -> Result<()> {
    let deadline = Instant::now() + WAIT;
    let mut pause = Duration::from_micros(20);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(()),
            Err(fs::TryLockError::WouldBlock) => {}
            Err(fs::TryLockError::Error(e)) => {
                return Err(LogError::Io {
                    context: format!("lock {}", path.display()),
                    source: e,
                });
            }
        }
        if Instant::now() >= deadline {
            return Err(LogError::Locked {
                path: path.to_path_buf(),
                holder: holders(file),
            });
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(5));
    }
}

/// Take `file`'s lock exclusively if it is free; whether it was.
pub(crate) fn try_lock_exclusive(file: &File, path: &Path) -> Result<bool> {
    match file.try_lock() {
        Ok(()) => Ok(true),
        Err(fs::TryLockError::WouldBlock) => Ok(false),
        Err(fs::TryLockError::Error(e)) => Err(LogError::Io {
            context: format!("lock {}", path.display()),
            source: e,
        }),
    }
}

/// Release `file`'s lock (a failure is logged: the lock goes with the file anyway).
pub(crate) fn unlock(file: &File, path: &Path) {
    if let Err(e) = file.unlock() {
        tracing::warn!("unlocking {}: {e}", path.display());
    }
}

/// ` (pid N)` or ` (pids N, M)`: the processes holding a lock on `file`, from
/// `/proc/locks`; empty when they cannot be told.
pub(crate) fn holders(file: &File) -> String {
    let Ok(meta) = file.metadata() else {
        return String::new();
    };
    let dev = meta.dev();
    // Linux's encoding of a device number into major and minor.
    let major = ((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0x0000_0fff);
    let minor = ((dev >> 12) & 0xffff_ff00) | (dev & 0x0000_00ff);
    let id = FileKey {
        major,
        minor,
        ino: meta.ino(),
    };
    // The kernel lists the locks page by page: locks taken or given back by other
    // processes meanwhile can make one read skip a line, so an empty answer is read again.
    let mut pids: Vec<u32> = Vec::new();
    for _ in 0..3 {
        let Ok(locks) = fs::read_to_string("/proc/locks") else {
            return String::new();
        };
        pids = locks.lines().filter_map(|l| holder(l, id)).collect();
        if !pids.is_empty() {
            break;
        }
    }
    pids.sort_unstable();
    pids.dedup();
    match pids.as_slice() {
        [] => String::new(),
        [pid] => format!(" (pid {pid})"),
        _ => {
            let list: Vec<String> = pids.iter().map(u32::to_string).collect();
            format!(" (pids {})", list.join(", "))
        }
    }
}

/// A file as `/proc/locks` names it: device major and minor numbers, and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileKey {
    major: u64,
    minor: u64,
    ino: u64,
}

/// The pid of a granted `flock` on the file `id` in one line of `/proc/locks`
/// (`1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF`, major and minor in hex; waiters
/// have a `->`).
fn holder(line: &str, id: FileKey) -> Option<u32> {
    let words: Vec<&str> = line.split_whitespace().collect();
    if words.get(1) != Some(&"FLOCK") {
        return None;
    }
    let pid = words.get(4)?.parse().ok()?;
    let mut file = words.get(5)?.split(':');
    let (major, minor, ino) = (file.next()?, file.next()?, file.next()?);
    let key = FileKey {
        major: u64::from_str_radix(major, 16).ok()?,
        minor: u64::from_str_radix(minor, 16).ok()?,
        ino: ino.parse().ok()?,
    };
    (key == id).then_some(pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_holder_of_a_flock_and_not_its_waiters() {
        let id = |major, minor, ino| FileKey { major, minor, ino };
        let line = "3: FLOCK  ADVISORY  WRITE 4321 fd:01:77 0 EOF";
        assert_eq!(holder(line, id(0xfd, 1, 77)), Some(4321));
        assert_eq!(holder(line, id(0xfd, 1, 78)), None);
        // The same inode number on another device is another file.
        assert_eq!(holder(line, id(0xfe, 0, 77)), None);
        let waiter = "3: -> FLOCK  ADVISORY  WRITE 99 fd:01:77 0 EOF";
        assert_eq!(holder(waiter, id(0xfd, 1, 77)), None);
        let posix = "4: POSIX  ADVISORY  WRITE 5 fd:01:77 0 EOF";
        assert_eq!(holder(posix, id(0xfd, 1, 77)), None);
    }

    #[test]
    fn names_the_process_holding_a_lock() {
        let dir = tempfile::tempdir().unwrap();
        let a = open_dir(dir.path()).unwrap();
        let b = open_dir(dir.path()).unwrap();
        assert!(try_lock_exclusive(&a, dir.path()).unwrap());
        assert!(!try_lock_exclusive(&b, dir.path()).unwrap());
        assert_eq!(holders(&b), format!(" (pid {})", std::process::id()));
        unlock(&a, dir.path());
        assert!(try_lock_exclusive(&b, dir.path()).unwrap());
    }
}
