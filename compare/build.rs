//! Embeds the git commit the crate is built from as `LK_GIT_COMMIT`, for the reports'
//! provenance. Outside a git checkout (a source tarball) or without `git`, nothing is
//! embedded and the report says the commit is unknown. (A crate such as `vergen` or
//! `built` would bring a dependency tree for the one `git rev-parse` this needs.)

use std::path::Path;
use std::process::Command;

/// `git ARGS` in this crate's directory, trimmed; `None` when git fails or is missing.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// Rebuild when `path` (from `git rev-parse --git-path`) changes.
fn watch(path: &str) {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let full = Path::new(&dir).join(path);
    println!("cargo:rerun-if-changed={}", full.display());
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let Some(commit) = git(&["rev-parse", "HEAD"]) else {
        return;
    };
    // HEAD moves when the branch's ref does (or HEAD is switched).
    for p in ["HEAD", "packed-refs"] {
        if let Some(path) = git(&["rev-parse", "--git-path", p]) {
            watch(&path);
        }
    }
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"])
        && let Some(path) = git(&["rev-parse", "--git-path", &branch])
    {
        watch(&path);
    }
    println!("cargo:rustc-env=LK_GIT_COMMIT={commit}");
}
