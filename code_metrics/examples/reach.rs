//! Prints what the public API of each crate named reaches in a workspace on disk, one item
//! a line (crate, kind, name, file:first-last, loc, functions, cyclomatic, cognitive), then the
//! crate's own items it does not reach, the totals and how method calls were resolved.
//!
//! `cargo run -p code_metrics --example reach -- WORKSPACE_DIR CRATE…`

use std::collections::BTreeSet;
use std::path::Path;

use code_metrics::{ItemId, Metrics, Workspace};

/// Every `Cargo.toml` and `src/**/*.rs` of the members (directories one level down).
fn sources(root: &Path) -> std::io::Result<Vec<(String, String)>> {
    fn rs(dir: &Path, rel: &str, out: &mut Vec<(String, String)>) -> std::io::Result<()> {
        for e in std::fs::read_dir(dir)? {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            let rel = format!("{rel}/{name}");
            if e.file_type()?.is_dir() {
                rs(&e.path(), &rel, out)?;
            } else if name.ends_with(".rs") {
                out.push((rel, std::fs::read_to_string(e.path())?));
            }
        }
        Ok(())
    }
    let mut out = vec![(
        "Cargo.toml".to_owned(),
        std::fs::read_to_string(root.join("Cargo.toml"))?,
    )];
    for e in std::fs::read_dir(root)? {
        let e = e?;
        let dir = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if dir.join("Cargo.toml").is_file() && dir.join("src").is_dir() {
            out.push((
                format!("{name}/Cargo.toml"),
                std::fs::read_to_string(dir.join("Cargo.toml"))?,
            ));
            rs(&dir.join("src"), &format!("{name}/src"), &mut out)?;
        }
    }
    Ok(out)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let root = args.next().ok_or("usage: reach WORKSPACE_DIR CRATE…")?;
    let crates: Vec<String> = args.collect();
    let files = sources(Path::new(&root))?;
    let names: Vec<&str> = crates.iter().map(String::as_str).collect();
    let ws = Workspace::load(files.iter().map(|(p, t)| (p.as_str(), t.as_str())), &names)?;
    for name in &names {
        let reached: BTreeSet<ItemId> = ws.reach(name)?;
        let mut total = Metrics::default();
        for id in &reached {
            let i = ws.item(*id);
            total += i.metrics;
            println!(
                "{name}\t{}\t{}\t{}:{}-{}\t{}\t{}\t{}\t{}",
                i.kind,
                i.name,
                i.file,
                i.lines.0,
                i.lines.1,
                i.metrics.loc,
                i.metrics.functions,
                i.metrics.cyclomatic,
                i.metrics.cognitive
            );
        }
        for (id, i) in ws.items() {
            if ws.crate_of(id) == *name && !reached.contains(&id) {
                println!(
                    "# {name}: not reached: {} {} ({}:{})",
                    i.kind, i.name, i.file, i.lines.0
                );
            }
        }
        let calls = ws.calls(&reached);
        println!(
            "# {name}: {} items, {total:?}, method calls {calls:?}",
            reached.len()
        );
    }
    Ok(())
}
