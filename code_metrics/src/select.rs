//! Selectors: which item of a file to measure, and which arms of its `match`es to keep.

use std::fmt;
use std::str::FromStr;

use syn::{ImplItem, ImplItemFn, Item, TraitItem, TraitItemFn};

use crate::error::{MetricsError, Result};

/// What a selector names, before its match-arm filter.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// `name`, `Type::method`, `Trait::method`, each optionally behind inline module
    /// names (`outer::inner::name`).
    Path(Vec<String>),
    /// `impl Type` (the inherent impl block) or `impl Trait for Type`. The trait is
    /// matched by its last path segment.
    Impl { trait_: Option<String>, ty: String },
}

/// A path-like name of one item of a source file, with an optional filter of match arms.
///
/// | selector                 | selects                                                   |
/// |--------------------------|-----------------------------------------------------------|
/// | `name`                   | the free function, struct, enum, union, trait, type alias, const, static, module or `macro_rules!` named `name` |
/// | `Type::method`           | the method `method` of an impl block (inherent or of a trait) for `Type`, or the method `method` declared in `trait Type` |
/// | `impl Type`              | the inherent impl block of `Type` (all its methods)        |
/// | `impl Trait for Type`    | the impl of `Trait` (last path segment) for `Type`         |
/// | `module::…`              | any of the path forms above, inside an inline `mod module { … }` |
///
/// A suffix `[Enum::Variant, …]` keeps, in every `match` of the selected item whose arm
/// patterns name a variant of `Enum`, only the arms for the listed variants and the arms
/// that name no variant of `Enum` (wildcards, bindings): the other arms are not measured.
/// It measures one case of a function written for several (`Decoder::decode
/// [Decoder::Bids]`). Each listed variant must keep at least one arm.
///
/// Exactly one item must answer to a selector: none, or several, is an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    target: Target,
    /// `(Enum, Variant)` pairs: the last two segments of each filter path.
    only: Vec<(String, String)>,
}

fn bad(selector: &str, reason: impl Into<String>) -> MetricsError {
    MetricsError::Selector {
        selector: selector.to_owned(),
        reason: reason.into(),
    }
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

/// `a::b::c` into its segments; each must be an identifier.
fn segments(selector: &str, path: &str) -> Result<Vec<String>> {
    let segs: Vec<String> = path.split("::").map(|s| s.trim().to_owned()).collect();
    if segs.iter().all(|s| is_ident(s)) {
        Ok(segs)
    } else {
        Err(bad(
            selector,
            format!("{path:?} is not a path of identifiers"),
        ))
    }
}

impl FromStr for Selector {
    type Err = MetricsError;

    fn from_str(s: &str) -> Result<Selector> {
        let (head, only) = match s.split_once('[') {
            Some((head, rest)) => {
                let list = rest
                    .trim_end()
                    .strip_suffix(']')
                    .ok_or_else(|| bad(s, "the filter list does not end with `]`"))?;
                let mut only = Vec::new();
                for filter in list.split(',') {
                    let segs = segments(s, filter.trim())?;
                    let [.., e, v] = segs.as_slice() else {
                        return Err(bad(s, format!("filter {filter:?} is not `Enum::Variant`")));
                    };
                    only.push((e.clone(), v.clone()));
                }
                (head.trim(), only)
            }
            None => (s.trim(), Vec::new()),
        };
        if head == "impl" {
            return Err(bad(s, "`impl` needs a type"));
        }
        let target = match head.strip_prefix("impl ") {
            Some(rest) => match rest.split_once(" for ") {
                Some((t, ty)) => {
                    let t = segments(s, t.trim())?;
                    let ty = segments(s, ty.trim())?;
                    Target::Impl {
                        trait_: t.last().cloned(),
                        ty: ty.last().cloned().unwrap_or_default(),
                    }
                }
                None => Target::Impl {
                    trait_: None,
                    ty: segments(s, rest.trim())?
                        .last()
                        .cloned()
                        .unwrap_or_default(),
                },
            },
            None => Target::Path(segments(s, head)?),
        };
        Ok(Selector { target, only })
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.target {
            Target::Path(segs) => f.write_str(&segs.join("::"))?,
            Target::Impl { trait_: None, ty } => write!(f, "impl {ty}")?,
            Target::Impl {
                trait_: Some(t),
                ty,
            } => write!(f, "impl {t} for {ty}")?,
        }
        if !self.only.is_empty() {
            let list: Vec<String> = self.only.iter().map(|(e, v)| format!("{e}::{v}")).collect();
            write!(f, " [{}]", list.join(", "))?;
        }
        Ok(())
    }
}

impl Selector {
    /// The `(Enum, Variant)` pairs of its match-arm filter.
    pub(crate) fn only(&self) -> &[(String, String)] {
        &self.only
    }
}

/// An item a selector found.
#[derive(Clone, Copy)]
pub(crate) enum Found<'a> {
    Item(&'a Item),
    ImplFn(&'a ImplItemFn),
    TraitFn(&'a TraitItemFn),
}

fn item_name(item: &Item) -> Option<&syn::Ident> {
    match item {
        Item::Const(i) => Some(&i.ident),
        Item::Enum(i) => Some(&i.ident),
        Item::Fn(i) => Some(&i.sig.ident),
        Item::Macro(i) => i.ident.as_ref(),
        Item::Mod(i) => Some(&i.ident),
        Item::Static(i) => Some(&i.ident),
        Item::Struct(i) => Some(&i.ident),
        Item::Trait(i) => Some(&i.ident),
        Item::TraitAlias(i) => Some(&i.ident),
        Item::Type(i) => Some(&i.ident),
        Item::Union(i) => Some(&i.ident),
        _ => None,
    }
}

/// The name of the type an impl block is for (its last path segment), if it is a path.
fn self_type(imp: &syn::ItemImpl) -> Option<&syn::Ident> {
    match &*imp.self_ty {
        syn::Type::Path(p) => p.path.segments.last().map(|s| &s.ident),
        _ => None,
    }
}

fn trait_name(imp: &syn::ItemImpl) -> Option<&syn::Ident> {
    imp.trait_
        .as_ref()
        .and_then(|(_, path, _)| path.segments.last().map(|s| &s.ident))
}

fn find_path<'a>(items: &'a [Item], segs: &[String], out: &mut Vec<Found<'a>>) {
    let Some(first) = segs.first() else { return };
    if segs.len() == 1 {
        out.extend(
            items
                .iter()
                .filter(|i| item_name(i).is_some_and(|n| n == first))
                .map(Found::Item),
        );
        return;
    }
    for item in items {
        if let Item::Mod(m) = item
            && m.ident == first
            && let Some((_, inner)) = &m.content
        {
            find_path(inner, &segs[1..], out);
        }
    }
    if let [ty, method] = segs {
        for item in items {
            match item {
                Item::Impl(imp) if self_type(imp).is_some_and(|t| t == ty) => {
                    out.extend(imp.items.iter().filter_map(|i| match i {
                        ImplItem::Fn(f) if f.sig.ident == method => Some(Found::ImplFn(f)),
                        _ => None,
                    }));
                }
                Item::Trait(t) if t.ident == ty => {
                    out.extend(t.items.iter().filter_map(|i| match i {
                        TraitItem::Fn(f) if f.sig.ident == method => Some(Found::TraitFn(f)),
                        _ => None,
                    }));
                }
                _ => {}
            }
        }
    }
}

/// Every item of `items` that answers to `selector`.
pub(crate) fn find<'a>(items: &'a [Item], selector: &Selector) -> Vec<Found<'a>> {
    let mut out = Vec::new();
    match &selector.target {
        Target::Path(segs) => find_path(items, segs, &mut out),
        Target::Impl { trait_, ty } => out.extend(
            items
                .iter()
                .filter(|i| match i {
                    Item::Impl(imp) => {
                        self_type(imp).is_some_and(|t| t == ty)
                            && match (trait_, trait_name(imp)) {
                                (None, None) => true,
                                (Some(want), Some(got)) => got == want,
                                _ => false,
                            }
                    }
                    _ => false,
                })
                .map(Found::Item),
        ),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_parse_and_print_back() -> anyhow::Result<()> {
        for (text, shown) in [
            ("run", "run"),
            ("Type::method", "Type::method"),
            ("outer :: inner::f", "outer::inner::f"),
            ("impl Context", "impl Context"),
            (
                "impl std::hash::Hasher for IdHasher",
                "impl Hasher for IdHasher",
            ),
            (
                "Op::decode [Kind::A,Update::Count ]",
                "Op::decode [Kind::A, Update::Count]",
            ),
            ("f [crate::K::A]", "f [K::A]"),
        ] {
            assert_eq!(text.parse::<Selector>()?.to_string(), shown, "{text}");
        }
        for wrong in ["", "a::", "f [K::A", "f [A]", "impl ", "a b", "f [K::A, ]"] {
            let err = wrong.parse::<Selector>().unwrap_err();
            assert!(
                matches!(err, MetricsError::Selector { .. }),
                "{wrong}: {err}"
            );
        }
        Ok(())
    }
}
