//! What the analysis reads of `Cargo.toml` files.

use std::collections::BTreeSet;

use crate::error::{MetricsError, Result};

/// A package manifest.
#[derive(Debug)]
pub(crate) struct Manifest {
    /// The package's name.
    pub name: String,
    /// The library's root file, relative to the package (`src/lib.rs` unless `[lib] path`
    /// says otherwise).
    pub lib: String,
    /// Normal dependencies (not dev or build ones): (name in code, package name),
    /// optional ones only when a default feature enables them.
    pub deps: Vec<(String, String)>,
    /// The features a default build enables (the `default` list, closed over the
    /// features each enables).
    pub features: BTreeSet<String>,
}

fn bad(file: &str, message: impl Into<String>) -> MetricsError {
    MetricsError::Manifest {
        file: file.to_owned(),
        message: message.into(),
    }
}

fn parse_toml(file: &str, text: &str) -> Result<toml::Table> {
    text.parse::<toml::Table>()
        .map_err(|e| bad(file, e.to_string()))
}

/// The `[workspace] members` of the root manifest.
pub(crate) fn members(file: &str, text: &str) -> Result<Vec<String>> {
    let table = parse_toml(file, text)?;
    let members = table
        .get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(|m| m.as_array())
        .ok_or_else(|| bad(file, "no [workspace] members"))?;
    members
        .iter()
        .map(|m| {
            m.as_str()
                .map(str::to_owned)
                .ok_or_else(|| bad(file, "a member is not a string"))
        })
        .collect()
}

/// A member's manifest.
pub(crate) fn package(file: &str, text: &str) -> Result<Manifest> {
    let table = parse_toml(file, text)?;
    let name = table
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .ok_or_else(|| bad(file, "no [package] name"))?
        .to_owned();
    let lib = table
        .get("lib")
        .and_then(|l| l.get("path"))
        .and_then(|p| p.as_str())
        .unwrap_or("src/lib.rs")
        .to_owned();
    let features = default_features(&table);
    let mut deps = Vec::new();
    if let Some(d) = table.get("dependencies").and_then(|d| d.as_table()) {
        for (key, spec) in d {
            let optional = spec
                .get("optional")
                .and_then(|o| o.as_bool())
                .unwrap_or(false);
            let enabled = features.contains(&format!("dep:{key}")) || features.contains(key);
            if optional && !enabled {
                continue;
            }
            let package = spec.get("package").and_then(|p| p.as_str()).unwrap_or(key);
            deps.push((key.replace('-', "_"), package.to_owned()));
        }
    }
    Ok(Manifest {
        name,
        lib,
        deps,
        features,
    })
}

/// The `default` feature list closed over what each feature enables.
fn default_features(table: &toml::Table) -> BTreeSet<String> {
    let Some(features) = table.get("features").and_then(|f| f.as_table()) else {
        return BTreeSet::new();
    };
    let mut on = BTreeSet::new();
    let mut todo = vec!["default".to_owned()];
    while let Some(f) = todo.pop() {
        if let Some(list) = features.get(&f).and_then(|l| l.as_array()) {
            for x in list.iter().filter_map(|x| x.as_str()) {
                if on.insert(x.to_owned()) {
                    todo.push(x.to_owned());
                }
            }
        }
    }
    on
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependencies_features_and_members() {
        let text = r#"
[package]
name = "my-crate"
[dependencies]
a.workspace = true
b = { workspace = true, optional = true }
c = { path = "../c", optional = true }
renamed = { package = "d", path = "../d" }
[dev-dependencies]
e.workspace = true
[features]
default = ["x"]
x = ["dep:c"]
"#;
        let m = package("m/Cargo.toml", text).unwrap();
        assert_eq!(m.name, "my-crate");
        assert_eq!(m.lib, "src/lib.rs");
        assert_eq!(
            m.deps,
            [
                ("a".to_owned(), "a".to_owned()),
                ("c".to_owned(), "c".to_owned()),
                ("renamed".to_owned(), "d".to_owned())
            ]
        );
        assert!(m.features.contains("x") && m.features.contains("dep:c"));
        let root = "[workspace]\nmembers = [\"a\", \"b\"]\n";
        assert_eq!(members("Cargo.toml", root).unwrap(), ["a", "b"]);
        assert!(members("Cargo.toml", "[package]\nname = \"x\"\n").is_err());
    }
}
