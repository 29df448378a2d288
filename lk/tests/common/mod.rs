//! What every `lk` end-to-end test needs.

use assert_cmd::Command;
use tempfile::TempDir;

/// The `lk` binary with `--data` set to `dir` (and `$LK_DATA` cleared).
pub fn lk(dir: &TempDir) -> Command {
    let mut cmd = Command::cargo_bin("lk").unwrap();
    cmd.arg("--data").arg(dir.path()).env_remove("LK_DATA");
    cmd
}
