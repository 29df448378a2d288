#![warn(missing_docs)]
//! # code_metrics — size, complexity and call graph of a Rust workspace
//!
//! [`Workspace::load`] reads a Cargo workspace from its sources (given as text, so a
//! binary can measure the sources it was built from): the members of the root
//! `Cargo.toml`, each library crate's module tree from its root file, and every item a
//! default non-test build compiles (`#[cfg(test)]` and `#[test]` code is left out,
//! `#[cfg(feature = …)]` follows the default features, other predicates count as true).
//! Files are lexed by `proc-macro2` (with span locations: every token knows its lines)
//! and parsed by `syn`.
//!
//! ## Items
//! An [`Item`] is a free function, a method (of an `impl` block, or a trait's default
//! body), a struct, enum, union, trait, type alias, const, static, `macro_rules!`, or an
//! `impl` block's own lines. Items inside a function body belong to that function.
//! `use` and `mod` declarations, and macro invocations at item level (whose expansion is
//! not seen), are no items. Each item has its file, its line range, and:
//!
//! - **`loc`** — the code lines it owns: a line belongs to the innermost item that holds
//!   the first token on it (a method's lines are the method's, the rest of its `impl`
//!   block the block's), so every line counts for at most one item. Blank lines,
//!   comments and doc comments (`///`, `//!`, `/** */`, and `#[doc = "…"]`) carry no
//!   token; other attributes (`#[derive(…)]`) are code; a token spanning several lines
//!   (a multi-line string) counts each.
//! - **`functions`** — `fn` items (nested ones too), methods, and trait methods *with a
//!   default body*. A required trait method is part of its trait's lines, not a
//!   function. **Closures are not functions**: their decision points count toward the
//!   function that contains them.
//! - **`cyclomatic`** — McCabe's number of each function, `1 + decision points`, summed
//!   over the functions. A decision point is each
//!   - `if` (so an `else if` adds one; `if let` too),
//!   - `while` (and `while let`) and `for` loop; an unconditional `loop` adds none (its
//!     exits are `break`s under conditions counted where they are),
//!   - `match` arm beyond the first (a `match` of *n* arms adds *n − 1*), and each arm
//!     guard (`pat if cond =>`),
//!   - `&&` and `||` (short-circuit: each is a branch, as in `if let … && …` chains),
//!   - `?` operator (an early return),
//!   - `let … else` (a refutable pattern that diverges).
//!
//!   Decisions of a nested `fn` count for that function. Macro arguments that parse as
//!   comma-separated expressions (`format!`, `vec![a, b]`, `assert!`, `write!`…) are
//!   walked like code; other macro bodies (`tokio::select!`, `vec![x; n]`…) count for
//!   `loc` only. Decisions outside any function (a `const` initializer) count for none.
//! - **`cognitive`** — SonarSource's cognitive complexity of each function, summed; the
//!   `cognitive` module's docs say how its rules apply to Rust.
//!
//! ## Entry points and the call graph
//! A crate's entry points are its **public API** ([`Workspace::public_api`]): every
//! `pub` item of its root module and of its `pub mod`s, and what their `pub use`s
//! re-export; for such a type, its `pub` inherent methods; for such a trait, its default
//! methods. [`Workspace::reach`] follows, from there, within the crate and the workspace
//! crates it depends on (normal dependencies):
//! - every path the code names, resolved through modules, `use` declarations (globs,
//!   renames, re-exports) and crate dependencies: functions called or passed by name,
//!   types in signatures, fields, `let`s, patterns and struct literals, consts, statics,
//!   macros; `Type::name` to the type's method or associated const; `Trait::name`,
//!   `<T as Trait>::name` and `T::name` for a generic `T` to the trait's method;
//! - method calls by the receiver's type where a small inference knows it (parameters,
//!   `self` and its fields, annotated and initialised `let`s, return types, `?`,
//!   `.await`, smart pointers and locks, elements of sequences and maps); to the trait's
//!   method, in every impl in scope, for a trait object or a generic bound; to nothing
//!   for a type from outside the workspace; otherwise **by name**, to every method of
//!   that name in the calling crate and its dependencies ([`CallStats`] counts how many
//!   calls each way took);
//! - a method's `impl` block (or trait), and a type's **trait impls, whole** (their
//!   methods run when the type is used, often without a call in sight: `Drop`,
//!   `Display`, `From` through `?`, `Iterator` in a `for`).
//!
//! What it does not do: resolve by full type inference (closure parameters, most
//! iterator adaptors, `match` results, generic return types are unknown, so such calls
//! go by name and may reach more than runs); see blanket impls (`impl<T: A> B for T`)
//! other than through the trait; expand macros (bodies that are not expressions are read
//! as tokens for paths and `.name(` calls; code a macro generates is not seen); follow
//! function pointers stored in data beyond the path that names them. Over-reaching is
//! the direction of its errors: code that runs is not left out unless only a macro
//! expansion calls it.
//!
//! ```
//! use code_metrics::Workspace;
//!
//! let files = [
//!     ("Cargo.toml", "[workspace]\nmembers = [\"app\", \"util\"]\n"),
//!     ("app/Cargo.toml", "[package]\nname = \"app\"\n[dependencies]\nutil = { path = \"../util\" }\n"),
//!     ("app/src/lib.rs", "/// Run.\npub fn run(a: bool) -> u8 {\n    if a { util::one() } else { 0 }\n}\n"),
//!     ("util/Cargo.toml", "[package]\nname = \"util\"\n"),
//!     ("util/src/lib.rs", "pub fn one() -> u8 { 1 }\npub fn two() -> u8 { 2 }\n"),
//! ];
//! let ws = Workspace::load(files, &["app"])?;
//! let reached: Vec<&str> = ws.reach("app")?.iter().map(|id| ws.item(*id).name.as_str()).collect();
//! assert_eq!(reached, ["app::run", "util::one"]);
//! let run = ws.item(ws.public_api("app")?[0]);
//! assert_eq!((run.lines, run.metrics.loc, run.metrics.cyclomatic), ((1, 4), 3, 2));
//! # Ok::<(), code_metrics::MetricsError>(())
//! ```

mod cfgs;
mod cognitive;
mod collect;
mod cyclomatic;
mod error;
mod index;
mod manifest;
mod metrics;
mod model;
mod reach;
mod refs;
mod resolve;
mod tokens;
mod types;
mod workspace;

pub use error::{MetricsError, Result};
pub use metrics::{FunctionMetrics, Metrics};
pub use model::{Item, ItemId, ItemKind};
pub use refs::CallStats;
pub use workspace::{Workspace, item_in};
