//! Embeds the workspace's sources in the crate, so that a binary measures the code it was
//! built from (`compare::complexity`): the root `Cargo.toml`, and each member's
//! `Cargo.toml` and `src/**/*.rs` (tests, benches and examples are not code of the
//! pipelines). Writes `$OUT_DIR/sources.rs`: `SOURCES: &[(path from the workspace root,
//! text)]`, sorted by path.

use std::path::{Path, PathBuf};

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

fn main() -> std::io::Result<()> {
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
