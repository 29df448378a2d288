//! Which `#[cfg(…)]` items a default, non-test build of a crate compiles.

use std::collections::BTreeSet;

use syn::punctuated::Punctuated;
use syn::{Attribute, Meta, Token};

/// Whether a default build (not `cfg(test)`) with `features` on compiles something with
/// these attributes: it is no `#[test]` and every `#[cfg(…)]` holds. `test` is false, `feature = "f"` is
/// whether `f` is on, `not`, `all` and `any` combine; every other predicate
/// (`unix`, `target_os = …`, `debug_assertions`) is taken as true.
pub(crate) fn enabled(attrs: &[Attribute], features: &BTreeSet<String>) -> bool {
    // A `#[test]` function is compiled for tests only.
    if attrs.iter().any(|a| a.path().is_ident("test")) {
        return false;
    }
    attrs
        .iter()
        .filter(|a| a.path().is_ident("cfg"))
        .all(|a| match a.parse_args::<Meta>() {
            Ok(meta) => holds(&meta, features),
            Err(_) => true,
        })
}

fn list(meta: &Meta) -> Vec<Meta> {
    match meta {
        Meta::List(l) => l
            .parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)
            .map(|p| p.into_iter().collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

fn holds(meta: &Meta, features: &BTreeSet<String>) -> bool {
    let path = meta.path();
    if path.is_ident("test") {
        return false;
    }
    if path.is_ident("not") {
        return list(meta).first().is_none_or(|m| !holds(m, features));
    }
    if path.is_ident("all") {
        return list(meta).iter().all(|m| holds(m, features));
    }
    if path.is_ident("any") {
        return list(meta).iter().any(|m| holds(m, features));
    }
    if path.is_ident("feature")
        && let Meta::NameValue(nv) = meta
        && let syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s),
            ..
        }) = &nv.value
    {
        return features.contains(&s.value());
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_code_and_features_off_are_left_out() {
        let on: BTreeSet<String> = ["kafka".to_owned()].into();
        let check = |src: &str| {
            let item: syn::ItemFn = syn::parse_str(&format!("{src} fn f() {{}}")).unwrap();
            enabled(&item.attrs, &on)
        };
        assert!(!check("#[cfg(test)]"));
        assert!(check("#[cfg(not(test))]"));
        assert!(check("#[cfg(feature = \"kafka\")]"));
        assert!(!check("#[cfg(feature = \"parquet\")]"));
        assert!(!check("#[cfg(all(unix, test))]"));
        assert!(check("#[cfg(any(test, feature = \"kafka\"))]"));
        assert!(check("#[cfg(unix)] #[inline]"));
        assert!(!check("#[cfg(unix)] #[cfg(test)]"));
        assert!(!check("#[test]"));
    }
}
