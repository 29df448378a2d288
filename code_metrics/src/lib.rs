#![warn(missing_docs)]
//! # code_metrics — size and cyclomatic complexity of selected items of Rust sources
//!
//! A source file is lexed by `proc-macro2` (with span locations: every token knows its
//! lines) and parsed once by `syn`; items are then picked by path-like [`Selector`]s and
//! measured. What is counted, exactly:
//!
//! - **`loc`** — the lines that carry at least one token of the selected items: blank
//!   lines, `//` and `/* */` comments, and doc comments (`///`, `//!`, `/** */`, and
//!   `#[doc = "…"]` attributes, which is what the lexer makes of doc comments) carry none
//!   and are not counted. A token spanning several lines (a multi-line string literal)
//!   counts each of them. Other attributes (`#[derive(…)]`) are code. A line counts once
//!   however many selected items touch it ([`Tally`] keeps one set of lines per file).
//!   `use` declarations are items of their own and count only when selected.
//! - **`functions`** — `fn` items (nested ones too), methods of impl blocks, and trait
//!   methods *with a default body*. A required trait method (no body) is not a function
//!   (its declaration still counts for `loc`). **Closures are not functions**: their
//!   decision points count toward the function that contains them.
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
//!   Decisions of a nested `fn` count for that function, not the enclosing one. Macro
//!   arguments that parse as comma-separated expressions (`format!`, `vec![a, b]`,
//!   `assert!`, `write!`…) are walked like code; other macro bodies (`tokio::select!`,
//!   `vec![x; n]`…) count for `loc` only. Decisions outside any function (a `const`
//!   initializer) count for none.
//!
//! This is McCabe's definition as code-metrics tools apply it to Rust: one per branch of
//! control flow, short-circuit operators and `?` included. Tools differ in details (some
//! count `loop`, or every match arm rather than every arm beyond the first); the choices
//! made here are the ones listed above.
//!
//! ## Selecting
//! See [`Selector`]: `name`, `Type::method`, `impl Type`, `impl Trait for Type`,
//! `module::name`, and an optional match-arm filter `[Enum::Variant, …]` that measures
//! one case of a function written for several. A selector that finds no item, or more
//! than one, is an error — a renamed item breaks the measurement instead of counting
//! zero — and so is a filter that keeps no arm.
//!
//! ```
//! use code_metrics::{SourceFile, Tally};
//!
//! let file = SourceFile::parse("demo.rs", "/// Doc.\nfn f(a: bool) -> u8 {\n    if a { 1 } else { 0 }\n}\n")?;
//! let m = file.measure(&"f".parse()?)?.metrics();
//! assert_eq!((m.loc, m.functions, m.cyclomatic), (3, 1, 2));
//!
//! let mut tally = Tally::new();
//! tally.add(&file, "f")?;
//! assert_eq!(tally.items(), ["demo.rs::f"]);
//! # Ok::<(), code_metrics::MetricsError>(())
//! ```

mod error;
mod measure;
mod select;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use syn::visit::Visit;

pub use error::{MetricsError, Result};
pub use measure::FunctionMetrics;
pub use select::Selector;

use measure::{Walker, byte_range, range_of};
use select::Found;

/// Size and complexity figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Metrics {
    /// Lines carrying code (see the crate docs for what counts).
    pub loc: u64,
    /// Functions and methods with a body, nested ones included.
    pub functions: u64,
    /// McCabe's cyclomatic complexity, summed over the functions.
    pub cyclomatic: u64,
}

/// One code token of a file (doc comments excluded): where it is and its lines.
#[derive(Debug)]
struct Token {
    bytes: Range<usize>,
    lines: Range<usize>,
}

/// A parsed source file.
pub struct SourceFile {
    name: String,
    ast: syn::File,
    /// Every code token, in source order.
    tokens: Vec<Token>,
}

impl fmt::Debug for SourceFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceFile")
            .field("name", &self.name)
            .field("items", &self.ast.items.len())
            .field("tokens", &self.tokens.len())
            .finish()
    }
}

/// Whether `group` is the bracket of a doc attribute: `[doc = …]`.
fn is_doc_attribute(group: &proc_macro2::Group) -> bool {
    if group.delimiter() != Delimiter::Bracket {
        return false;
    }
    let mut inner = group.stream().into_iter();
    matches!(
        (inner.next(), inner.next()),
        (Some(TokenTree::Ident(i)), Some(TokenTree::Punct(p))) if i == "doc" && p.as_char() == '='
    )
}

/// The code tokens of a stream, doc attributes (`#[doc = …]`, `#![doc = …]`) left out.
fn code_tokens(stream: TokenStream, out: &mut Vec<Token>) {
    let push = |span: proc_macro2::Span, out: &mut Vec<Token>| {
        if let Some(bytes) = byte_range(span) {
            out.push(Token {
                bytes,
                lines: span.start().line..span.end().line + 1,
            });
        }
    };
    let tts: Vec<TokenTree> = stream.into_iter().collect();
    let mut i = 0;
    while i < tts.len() {
        // `#` [`!`] `[doc = …]`: skip all of it.
        if let TokenTree::Punct(p) = &tts[i]
            && p.as_char() == '#'
        {
            let bang = matches!(tts.get(i + 1), Some(TokenTree::Punct(b)) if b.as_char() == '!');
            let at = i + 1 + usize::from(bang);
            if let Some(TokenTree::Group(g)) = tts.get(at)
                && is_doc_attribute(g)
            {
                i = at + 1;
                continue;
            }
        }
        match &tts[i] {
            TokenTree::Group(g) => {
                push(g.span_open(), out);
                code_tokens(g.stream(), out);
                push(g.span_close(), out);
            }
            TokenTree::Ident(t) => push(t.span(), out),
            TokenTree::Punct(t) => push(t.span(), out),
            TokenTree::Literal(t) => push(t.span(), out),
        }
        i += 1;
    }
}

/// What a selector measured in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measurement {
    /// The lines (1-based) carrying code of the item.
    pub lines: BTreeSet<usize>,
    /// Its functions, in source order of their end (nested ones before their parent).
    pub functions: Vec<FunctionMetrics>,
}

impl Measurement {
    /// The item's figures: its lines, its function count, its summed complexity.
    pub fn metrics(&self) -> Metrics {
        Metrics {
            loc: self.lines.len() as u64,
            functions: self.functions.len() as u64,
            cyclomatic: self.functions.iter().map(|f| f.cyclomatic).sum(),
        }
    }
}

impl SourceFile {
    /// Lex and parse `text`; `name` is how errors and [`Tally::items`] refer to it.
    pub fn parse(name: &str, text: &str) -> Result<SourceFile> {
        let parse_error = |span: proc_macro2::Span, message: String| {
            let at = span.start();
            MetricsError::Parse {
                file: name.to_owned(),
                line: at.line,
                column: at.column + 1,
                message,
            }
        };
        let stream: TokenStream = text
            .parse()
            .map_err(|e: proc_macro2::LexError| parse_error(e.span(), e.to_string()))?;
        let ast: syn::File =
            syn::parse2(stream.clone()).map_err(|e| parse_error(e.span(), e.to_string()))?;
        let mut tokens = Vec::new();
        code_tokens(stream, &mut tokens);
        Ok(SourceFile {
            name: name.to_owned(),
            ast,
            tokens,
        })
    }

    /// The name the file was parsed with.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Measure the one item `selector` names.
    pub fn measure(&self, selector: &Selector) -> Result<Measurement> {
        let found = select::find(&self.ast.items, selector);
        let item = match found.as_slice() {
            [one] => *one,
            [] => {
                return Err(MetricsError::NotFound {
                    file: self.name.clone(),
                    selector: selector.to_string(),
                });
            }
            many => {
                return Err(MetricsError::Ambiguous {
                    file: self.name.clone(),
                    selector: selector.to_string(),
                    count: many.len(),
                });
            }
        };
        let mut walker = Walker::new(selector.only());
        let mut tokens = TokenStream::new();
        match item {
            Found::Item(i) => {
                walker.visit_item(i);
                quote::ToTokens::to_tokens(i, &mut tokens);
            }
            Found::ImplFn(f) => {
                walker.visit_impl_item_fn(f);
                quote::ToTokens::to_tokens(f, &mut tokens);
            }
            Found::TraitFn(f) => {
                walker.visit_trait_item_fn(f);
                quote::ToTokens::to_tokens(f, &mut tokens);
            }
        }
        if let Some(i) = walker.used.iter().position(|u| !u) {
            let (e, v) = &selector.only()[i];
            return Err(MetricsError::UnusedFilter {
                file: self.name.clone(),
                selector: selector.to_string(),
                filter: format!("{e}::{v}"),
            });
        }
        let within = |outer: &Range<usize>, t: &Token| {
            outer.start <= t.bytes.start && t.bytes.end <= outer.end
        };
        let lines = match range_of(tokens) {
            Some(range) => self
                .tokens
                .iter()
                .filter(|t| within(&range, t) && !walker.dropped.iter().any(|d| within(d, t)))
                .flat_map(|t| t.lines.clone())
                .collect(),
            None => BTreeSet::new(),
        };
        Ok(Measurement {
            lines,
            functions: walker.functions,
        })
    }
}

/// Figures of many items of many files together: each line counted once per file, each
/// function once (selecting one function twice is a [`MetricsError::Overlap`]).
#[derive(Debug, Default, Clone)]
pub struct Tally {
    lines: BTreeMap<String, BTreeSet<usize>>,
    /// (file, byte offset of the function) → (its name, line, cyclomatic, the selector).
    functions: BTreeMap<(String, usize), (String, usize, u64, String)>,
    items: Vec<String>,
}

impl Tally {
    /// An empty tally.
    pub fn new() -> Tally {
        Tally::default()
    }

    /// Measure `selector` (see [`Selector`]) in `file` and add it.
    pub fn add(&mut self, file: &SourceFile, selector: &str) -> Result<()> {
        let selector: Selector = selector.parse()?;
        let m = file.measure(&selector)?;
        let item = format!("{}::{selector}", file.name);
        for f in &m.functions {
            let id = (file.name.clone(), f.offset);
            if let Some((_, _, _, first)) = self.functions.get(&id) {
                return Err(MetricsError::Overlap {
                    file: file.name.clone(),
                    function: f.name.clone(),
                    line: f.line,
                    first: first.clone(),
                    second: selector.to_string(),
                });
            }
        }
        for f in m.functions {
            self.functions.insert(
                (file.name.clone(), f.offset),
                (f.name, f.line, f.cyclomatic, selector.to_string()),
            );
        }
        self.lines
            .entry(file.name.clone())
            .or_default()
            .extend(m.lines);
        self.items.push(item);
        Ok(())
    }

    /// The figures of everything added: lines once per file, functions once each.
    pub fn metrics(&self) -> Metrics {
        Metrics {
            loc: self.lines.values().map(|l| l.len() as u64).sum(),
            functions: self.functions.len() as u64,
            cyclomatic: self.functions.values().map(|f| f.2).sum(),
        }
    }

    /// What was added, as `file::selector`, in order.
    pub fn items(&self) -> &[String] {
        &self.items
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measure(src: &str, selector: &str) -> anyhow::Result<Metrics> {
        let file = SourceFile::parse("t.rs", src)?;
        Ok(file.measure(&selector.parse()?)?.metrics())
    }

    fn m(loc: u64, functions: u64, cyclomatic: u64) -> Metrics {
        Metrics {
            loc,
            functions,
            cyclomatic,
        }
    }

    #[test]
    fn comments_docs_and_blank_lines_are_not_code() -> anyhow::Result<()> {
        let src = r#"//! Crate doc.

/// Adds.
/// Two lines of doc.
pub fn add(a: i32, b: i32) -> i32 {
    // a comment

    /* block
       comment */
    /** doc block */
    #[doc = "explicit doc"]
    a + b /* trailing */
}
"#;
        assert_eq!(measure(src, "add")?, m(3, 1, 1));
        let file = SourceFile::parse("t.rs", src)?;
        let lines: Vec<usize> = file.measure(&"add".parse()?)?.lines.into_iter().collect();
        assert_eq!(lines, [5, 12, 13]);
        Ok(())
    }

    #[test]
    fn a_multi_line_literal_counts_every_line_and_attributes_are_code() -> anyhow::Result<()> {
        let src = "#[inline]\nfn s() -> &'static str {\n    \"one\n\nthree\"\n}\n";
        assert_eq!(measure(src, "s")?, m(6, 1, 1));
        Ok(())
    }

    #[test]
    fn decision_points() -> anyhow::Result<()> {
        let src = r#"
fn f(x: Option<i32>, y: bool) -> Result<i32, String> {
    let v = x.ok_or("none")?;
    if v > 0 && y {
        return Ok(1);
    } else if v < -5 || !y {
        return Ok(2);
    }
    for i in 0..3 {
        let _ = i;
    }
    while false {}
    loop {
        break;
    }
    let Some(w) = x else { return Ok(0) };
    match w {
        0 => Ok(0),
        n if n > 10 => Ok(n),
        _ => Ok(w),
    }
}
"#;
        // 1 + ? + if + && + else-if + || + for + while + let-else + 2 arms + guard
        assert_eq!(measure(src, "f")?, m(21, 1, 12));
        Ok(())
    }

    #[test]
    fn closures_count_toward_their_function_nested_fns_for_themselves() -> anyhow::Result<()> {
        let src = r#"
fn outer(v: &[i32]) -> i32 {
    let sign = |x: &i32| if *x > 0 { 1 } else { 0 };
    fn helper(a: i32) -> bool {
        a > 1 || a < -1
    }
    let nested = |x: &&i32| (|y: i32| y != 3 && helper(y))(**x);
    v.iter().filter(nested).map(sign).sum()
}
"#;
        let file = SourceFile::parse("t.rs", src)?;
        let mm = file.measure(&"outer".parse()?)?;
        let by_name: Vec<(&str, u64)> = mm
            .functions
            .iter()
            .map(|f| (f.name.as_str(), f.cyclomatic))
            .collect();
        // outer: 1 + if (closure) + && (closure in a closure); helper: 1 + ||.
        assert_eq!(by_name, [("helper", 2), ("outer", 3)]);
        assert_eq!(mm.metrics(), m(8, 2, 5));
        Ok(())
    }

    #[test]
    fn macro_arguments_are_walked_when_they_are_expressions() -> anyhow::Result<()> {
        let src = r#"
fn m(a: bool, b: bool) -> String {
    assert!(a && b, "both");
    let v = vec![0u8; if a { 1 } else { 2 }];
    format!("{}", if a { v.len() } else { 0 })
}
"#;
        // 1 + && (assert!) + if (format!); `vec![x; n]` is not a list of expressions.
        assert_eq!(measure(src, "m")?, m(5, 1, 3));
        Ok(())
    }

    const TYPES: &str = r#"
struct S {
    n: u32,
}
impl S {
    fn a(&self) -> u32 {
        self.n
    }
    fn b(&self) -> bool { self.n > 1 && self.n < 9 }
}
trait T {
    /// Required.
    fn req(&self);
    fn dflt(&self) -> u32 {
        if true { 1 } else { 2 }
    }
}
impl T for S {
    fn req(&self) {}
}
mod inner {
    pub enum E { A, B }
    pub fn g() {}
}
struct A; struct B;
"#;

    #[test]
    fn items_methods_impls_traits_and_modules() -> anyhow::Result<()> {
        assert_eq!(measure(TYPES, "S")?, m(3, 0, 0));
        assert_eq!(measure(TYPES, "impl S")?, m(6, 2, 3));
        assert_eq!(measure(TYPES, "S::b")?, m(1, 1, 2));
        assert_eq!(measure(TYPES, "S::req")?, m(1, 1, 1));
        assert_eq!(measure(TYPES, "T")?, m(6, 1, 2));
        assert_eq!(measure(TYPES, "T::req")?, m(1, 0, 0));
        assert_eq!(measure(TYPES, "T::dflt")?, m(3, 1, 2));
        assert_eq!(measure(TYPES, "impl T for S")?, m(3, 1, 1));
        assert_eq!(measure(TYPES, "inner")?, m(4, 1, 1));
        assert_eq!(measure(TYPES, "inner::E")?, m(1, 0, 0));
        assert_eq!(measure(TYPES, "inner::g")?, m(1, 1, 1));
        Ok(())
    }

    #[test]
    fn missing_and_ambiguous_items_are_errors() -> anyhow::Result<()> {
        let file = SourceFile::parse("t.rs", TYPES)?;
        for (selector, want) in [
            ("s", "no item s"),
            ("S::c", "no item S::c"),
            ("impl T for A", "no item impl T for A"),
            ("impl E", "no item impl E"),
            ("inner::S", "no item inner::S"),
        ] {
            let err = file.measure(&selector.parse()?).unwrap_err();
            assert!(matches!(err, MetricsError::NotFound { .. }), "{err}");
            assert_eq!(err.to_string(), format!("t.rs: {want}"));
        }
        let twice = SourceFile::parse("u.rs", "fn f() {}\nmod f {}\n")?;
        let err = twice.measure(&"f".parse()?).unwrap_err();
        assert!(
            matches!(err, MetricsError::Ambiguous { count: 2, .. }),
            "{err}"
        );
        Ok(())
    }

    const ARMS: &str = r#"
enum K { A, B, C }
fn f(k: K, x: Option<u8>) -> u8 {
    match k {
        K::A => 1,
        K::B | K::C => {
            if x.is_some() { 2 } else { 3 }
        }
    }
}
fn g(k: K) -> u8 {
    match (k, 1) {
        (K::A, _) => 1,
        (_, n) if n > 0 => 2,
        _ => 0,
    }
}
"#;

    #[test]
    fn a_filter_keeps_the_arms_of_its_variants_and_generic_ones() -> anyhow::Result<()> {
        assert_eq!(measure(ARMS, "f")?, m(8, 1, 3));
        // fn, match, the A arm, and the two closing braces.
        assert_eq!(measure(ARMS, "f [K::A]")?, m(5, 1, 1));
        // The B | C arm (4 lines with its if) and no second arm.
        assert_eq!(measure(ARMS, "f [K::C]")?, m(7, 1, 2));
        assert_eq!(measure(ARMS, "f [K::A, K::B]")?, m(8, 1, 3));
        // g [K::A]: the A arm, and the two arms that name no K (one has a guard).
        assert_eq!(measure(ARMS, "g [K::A]")?, m(7, 1, 4));
        for selector in ["f [K::D]", "f [Q::A]", "g [K::B]"] {
            let err = SourceFile::parse("t.rs", ARMS)?
                .measure(&selector.parse()?)
                .unwrap_err();
            assert!(matches!(err, MetricsError::UnusedFilter { .. }), "{err}");
        }
        Ok(())
    }

    #[test]
    fn parse_errors_carry_the_file_and_line() -> anyhow::Result<()> {
        let err = SourceFile::parse("bad.rs", "fn ok() {}\n\nfn bad() -> { 1 }\n").unwrap_err();
        match &err {
            MetricsError::Parse { file, line, .. } => {
                assert_eq!((file.as_str(), *line), ("bad.rs", 3), "{err}");
            }
            other => anyhow::bail!("not a parse error: {other}"),
        }
        assert!(err.to_string().starts_with("bad.rs:3:"), "{err}");
        let err = SourceFile::parse("lex.rs", "fn a() {}\nfn b() { \"open\n").unwrap_err();
        assert!(
            matches!(err, MetricsError::Parse { line: 2.., .. }),
            "{err}"
        );
        Ok(())
    }

    #[test]
    fn a_tally_counts_each_line_once_and_refuses_a_function_twice() -> anyhow::Result<()> {
        let file = SourceFile::parse("t.rs", TYPES)?;
        let mut tally = Tally::new();
        tally.add(&file, "A")?;
        tally.add(&file, "B")?;
        assert_eq!(tally.metrics(), m(1, 0, 0), "A and B share their line");
        tally.add(&file, "S")?;
        tally.add(&file, "impl S")?;
        assert_eq!(tally.metrics(), m(10, 2, 3));
        let other = SourceFile::parse("o.rs", "fn a() {}\n")?;
        tally.add(&other, "a")?;
        assert_eq!(tally.metrics(), m(11, 3, 4));
        let err = tally.add(&file, "S::a").unwrap_err();
        assert!(matches!(err, MetricsError::Overlap { .. }), "{err}");
        assert_eq!(
            tally.items(),
            ["t.rs::A", "t.rs::B", "t.rs::S", "t.rs::impl S", "o.rs::a"]
        );
        Ok(())
    }
}
