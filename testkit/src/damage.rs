//! Damaging files as the fault-injection suites do, and reading the warnings the code
//! under test logged about them.

use std::path::Path;
use std::sync::Mutex;

/// A kind of damage done to a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Damage {
    /// One bit flipped (in the middle of the file, or at given positions: [`damage_at`]).
    Flip,
    /// Cut to half its length.
    Cut,
    /// Every byte zero, the length kept.
    Zeros,
    /// Deleted (a directory with everything in it).
    Delete,
}

/// Damage `path` `how`; a flip changes the byte in the middle of the file.
pub fn damage(path: &Path, how: Damage) {
    let middle = std::fs::metadata(path).map_or(0, |m| m.len() as usize / 2);
    damage_at(path, how, &[middle]);
}

/// Damage `path` `how`; a flip changes one bit of each byte at `flips`.
pub fn damage_at(path: &Path, how: Damage, flips: &[usize]) {
    if path.is_dir() {
        assert_eq!(how, Damage::Delete, "only a deletion damages a directory");
        return std::fs::remove_dir_all(path).unwrap();
    }
    let bytes = std::fs::read(path).unwrap();
    match how {
        Damage::Flip => {
            let mut b = bytes.clone();
            for &i in flips {
                b[i] ^= 0x01;
            }
            std::fs::write(path, b).unwrap();
        }
        Damage::Cut => std::fs::write(path, &bytes[..bytes.len() / 2]).unwrap(),
        Damage::Zeros => std::fs::write(path, vec![0u8; bytes.len()]).unwrap(),
        Damage::Delete => std::fs::remove_file(path).unwrap(),
    }
}

/// Copy the directory `from` (recursively) to `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}

/// Everything logged in this test binary since [`warnings`] was first called.
static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// Where the test binary's log goes: [`LOGS`].
struct Sink;

impl std::io::Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// How many warnings logged so far name `needle` (the first call installs the capturing
/// subscriber for the whole test binary: call it once before the code under test runs).
pub fn warnings(needle: &str) -> usize {
    let _ = tracing_subscriber::fmt()
        .with_writer(|| Sink)
        .with_ansi(false)
        .try_init();
    let logs = LOGS.lock().unwrap();
    String::from_utf8_lossy(&logs)
        .lines()
        .filter(|l| l.contains("WARN") && l.contains(needle))
        .count()
}
