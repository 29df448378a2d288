//! Embeds the workspace's sources in the crate, so that a binary measures the code it was
//! built from (`compare::complexity`): the root `Cargo.toml`, and each member's
//! `Cargo.toml` and `src/**/*.rs` (tests, benches and examples are not code of the
//! pipelines). Writes `$OUT_DIR/sources.rs`: `SOURCES: &[(path from the workspace root,
//! text)]`, sorted by path.

//!
//! Also embeds the git commit the crate is built from as `LK_GIT_COMMIT`, for the reports'
//! provenance. Outside a git checkout (a source tarball) or without `git`, nothing is
//! embedded and the report says the commit is unknown. (A crate such as `vergen` or
//! `built` would bring a dependency tree for the one `git rev-parse` this needs.)

use std::path::{Path, PathBuf};
use std::process::Command;

/// Every `.rs` file under `dir`, as (path from `root` with `/`, absolute path).
fn rust_files(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            rust_files(root, &path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push((relative(root, &path), path));
        }
    }
    Ok(())
}

fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

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

/// Rebuild when `path` (from `git rev-parse --git-path`) changes. A path that does not
/// exist is not watched: cargo would rerun the script on every build.
fn watch(path: &str) {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let full = Path::new(&dir).join(path);
    if full.exists() {
        println!("cargo:rerun-if-changed={}", full.display());
    }
}

/// Embeds `LK_GIT_COMMIT` when the crate is built in a git checkout.
fn embed_commit() {
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

fn main() -> std::io::Result<()> {
    embed_commit();
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest_dir
        .parent()
        .expect("compare lives in the workspace")
        .to_path_buf();
    let mut files = vec![("Cargo.toml".to_owned(), root.join("Cargo.toml"))];
    println!(
        "cargo:rerun-if-changed={}",
        root.join("Cargo.toml").display()
    );
    let mut members: Vec<PathBuf> = std::fs::read_dir(&root)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("Cargo.toml").is_file() && p.join("src").is_dir())
        .collect();
    members.sort();
    for dir in members {
        let manifest = dir.join("Cargo.toml");
        println!("cargo:rerun-if-changed={}", manifest.display());
        println!("cargo:rerun-if-changed={}", dir.join("src").display());
        files.push((relative(&root, &manifest), manifest));
        rust_files(&root, &dir.join("src"), &mut files)?;
    }
    files.sort();
    let mut out =
        String::from("/// The workspace's sources: (path from the workspace root, text).\n");
    out.push_str("pub(crate) const SOURCES: &[(&str, &str)] = &[\n");
    for (rel, path) in &files {
        out.push_str(&format!(
            "    ({rel:?}, include_str!({:?})),\n",
            path.display().to_string()
        ));
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("sources.rs");
    std::fs::write(dest, out)
}
