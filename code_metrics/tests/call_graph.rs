//! The call graph on small workspaces: what a crate's public API reaches, and why.

use std::collections::BTreeSet;

use code_metrics::{ItemKind, MetricsError, Workspace};

/// A workspace of `crates`: (name, its dependencies, its `src/lib.rs`), plus extra files.
fn workspace(crates: &[(&str, &[&str], &str)], extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let members: Vec<String> = crates.iter().map(|(n, _, _)| format!("\"{n}\"")).collect();
    let mut files = vec![(
        "Cargo.toml".to_owned(),
        format!("[workspace]\nmembers = [{}]\n", members.join(", ")),
    )];
    for (name, deps, lib) in crates {
        let deps: String = deps
            .iter()
            .map(|d| format!("{d}.workspace = true\n"))
            .collect();
        files.push((
            format!("{name}/Cargo.toml"),
            format!("[package]\nname = \"{name}\"\n[dependencies]\n{deps}"),
        ));
        files.push((format!("{name}/src/lib.rs"), (*lib).to_owned()));
    }
    for (path, text) in extra {
        files.push(((*path).to_owned(), (*text).to_owned()));
    }
    files
}

fn load(files: &[(String, String)], roots: &[&str]) -> anyhow::Result<Workspace> {
    Ok(Workspace::load(
        files.iter().map(|(p, t)| (p.as_str(), t.as_str())),
        roots,
    )?)
}

/// The names of what crate `root`'s public API reaches.
fn reached(ws: &Workspace, root: &str) -> anyhow::Result<BTreeSet<String>> {
    Ok(ws
        .reach(root)?
        .iter()
        .map(|id| ws.item(*id).name.clone())
        .collect())
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn methods_go_by_the_receivers_type_and_traits_to_every_impl() -> anyhow::Result<()> {
    let lib = r#"
pub struct A;
pub struct B;
impl A { pub fn go(&self) -> B { B } fn unused(&self) {} }
impl B { fn go(&self) {} fn step(&self) {} }
pub trait Op { fn run(&self); fn twice(&self) { self.run(); self.run(); } }
struct X;
struct Y;
impl Op for X { fn run(&self) {} }
impl Op for Y { fn run(&self) {} }
fn make() -> Box<dyn Op> { Box::new(X) }
pub fn entry(a: &A) {
    let b = a.go();
    b.step();
    let op = make();
    op.run();
}
"#;
    let ws = load(&workspace(&[("app", &[], lib)], &[]), &["app"])?;
    let got = reached(&ws, "app")?;
    // `a.go()` is A's, `b.step()` B's (through the return type), not B::go or A::unused.
    assert!(
        got.contains("app::A::go") && got.contains("app::B::step"),
        "{got:?}"
    );
    assert!(
        !got.contains("app::B::go") && !got.contains("app::A::unused"),
        "{got:?}"
    );
    // A call through `dyn Op` reaches every impl's method and the trait.
    for name in [
        "app::<X as Op>::run",
        "app::<Y as Op>::run",
        "app::Op",
        "app::make",
    ] {
        assert!(got.contains(name), "{name}: {got:?}");
    }
    // The trait is public: its default method is an entry point.
    assert!(got.contains("app::Op::twice"));
    Ok(())
}

#[test]
fn an_unknown_receiver_goes_by_name_within_the_crate_and_its_dependencies() -> anyhow::Result<()> {
    let base = "pub struct T;\nimpl T { pub fn tick(&self) {} fn tock(&self) {} }\n";
    let other = "pub struct U;\nimpl U { pub fn tock(&self) {} }\n";
    // The closure's parameter has no known type: `.tock()` goes to every `tock` the
    // crate and its dependency define, and not to a crate it does not depend on.
    let app = "pub fn entry(v: Vec<base::T>) { v.iter().for_each(|t| t.tock()); }\n";
    let files = workspace(
        &[
            ("app", &["base"], app),
            ("base", &[], base),
            ("other", &[], other),
        ],
        &[],
    );
    let ws = load(&files, &["app", "other"])?;
    let got = reached(&ws, "app")?;
    assert!(got.contains("base::T::tock"), "{got:?}");
    assert!(!got.contains("other::U::tock"), "{got:?}");
    let stats = ws.calls(&ws.reach("app")?);
    assert_eq!(stats.by_name, 1, "{stats:?}");
    Ok(())
}

#[test]
fn paths_follow_modules_uses_globs_and_reexports() -> anyhow::Result<()> {
    let lib = r#"
mod inner;
pub use inner::api::{run as start};
pub mod open { pub fn visible() {} }
"#;
    let inner = "pub mod api {\n    use super::helpers::*;\n    pub fn run() { help(); crate::inner::deep::f(); }\n}\nmod helpers { pub fn help() {} pub fn not_called() {} }\npub(crate) mod deep { pub fn f() {} }\n";
    let files = workspace(&[("app", &[], lib)], &[("app/src/inner.rs", inner)]);
    let ws = load(&files, &["app"])?;
    assert_eq!(
        reached(&ws, "app")?,
        set(&[
            "app::inner::api::run",
            "app::inner::helpers::help",
            "app::inner::deep::f",
            "app::open::visible",
        ])
    );
    // A `mod` whose file is missing is an error, not a smaller figure.
    let files = workspace(&[("app", &[], lib)], &[]);
    let err = load(&files, &["app"]).unwrap_err();
    assert!(
        matches!(err.downcast_ref(), Some(MetricsError::MissingFile { file, .. }) if file == "app/src/inner.rs"),
        "{err}"
    );
    Ok(())
}

#[test]
fn a_type_brings_its_trait_impls_and_test_code_is_never_read() -> anyhow::Result<()> {
    let lib = r#"
pub struct S;
impl Drop for S { fn drop(&mut self) { cleanup(); } }
impl std::fmt::Display for S {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("s") }
}
fn cleanup() {}
#[cfg(test)]
pub fn only_in_tests() {}
#[cfg(feature = "extra")]
pub fn off_by_default() {}
#[cfg(test)]
mod tests { #[test] fn t() { super::cleanup(); } }
"#;
    let ws = load(&workspace(&[("app", &[], lib)], &[]), &["app"])?;
    let got = reached(&ws, "app")?;
    for name in [
        "app::S",
        "app::impl Drop for S",
        "app::<S as Drop>::drop",
        "app::cleanup",
        "app::<S as Display>::fmt",
    ] {
        assert!(got.contains(name), "{name}: {got:?}");
    }
    let all: Vec<String> = ws.items().map(|(_, i)| i.name.clone()).collect();
    assert!(
        !all.iter().any(|n| n.contains("only_in_tests")
            || n.contains("off_by_default")
            || n.contains("::t")),
        "{all:?}"
    );
    Ok(())
}

#[test]
fn lines_belong_to_one_item_and_carry_code_only() -> anyhow::Result<()> {
    let lib = r#"//! Crate doc.

/// A type.
#[derive(Debug)]
pub struct S {
    n: u32, // a comment
}

impl S {
    /// Doubles.
    pub fn double(&self) -> u32 {

        /* block */
        self.n * 2
    }
}
"#;
    let ws = load(&workspace(&[("app", &[], lib)], &[]), &["app"])?;
    let by_name = |name: &str| {
        ws.items()
            .map(|(_, i)| i)
            .find(|i| i.name == name)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("no {name}"))
    };
    let s = by_name("app::S")?;
    assert_eq!(
        (s.lines, s.metrics.loc, s.kind),
        ((3, 7), 4, ItemKind::Struct)
    );
    let imp = by_name("app::impl S")?;
    // `impl S {` and its closing brace; the method's lines are the method's.
    assert_eq!((imp.lines, imp.metrics.loc), ((9, 16), 2));
    let m = by_name("app::S::double")?;
    assert_eq!(
        (m.lines, m.metrics.loc, m.metrics.functions),
        ((10, 15), 3, 1)
    );
    Ok(())
}
