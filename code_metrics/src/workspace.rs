//! The facade: a workspace loaded from its sources, its crates' public APIs and what
//! they reach.

use std::collections::{BTreeSet, HashMap};

use crate::collect::collect;
use crate::error::{MetricsError, Result};
use crate::index::{Index, index};
use crate::model::{Edge, Item, ItemId, Model};
use crate::reach::{public_api, reach};
use crate::refs::{CallStats, refs};
use crate::types::Types;

/// The library crates of a Cargo workspace, parsed, with the call graph of their items.
#[derive(Debug)]
pub struct Workspace {
    model: Model,
    index: Index,
    /// Per item, the edges leaving it.
    edges: Vec<Vec<Edge>>,
    /// Per item, how its method calls were resolved.
    calls: Vec<CallStats>,
}

impl Workspace {
    /// Load the crates `roots` (library names, `my_crate`) and every workspace crate they
    /// depend on from `files`: (path from the workspace root, text) pairs holding the root
    /// `Cargo.toml`, each member's `Cargo.toml` and its library's source files.
    pub fn load<'a>(
        files: impl IntoIterator<Item = (&'a str, &'a str)>,
        roots: &[&str],
    ) -> Result<Workspace> {
        let files: HashMap<String, &str> =
            files.into_iter().map(|(p, t)| (p.to_owned(), t)).collect();
        let model = collect(&files, roots)?;
        let index = index(&model);
        let types = Types {
            model: &model,
            index: &index,
        };
        let (edges, calls) = (0..model.items.len())
            .map(|i| refs(&types, ItemId(i)))
            .unzip();
        Ok(Workspace {
            model,
            index,
            edges,
            calls,
        })
    }

    /// Every item of the loaded crates.
    pub fn items(&self) -> impl Iterator<Item = (ItemId, &Item)> {
        self.model
            .items
            .iter()
            .enumerate()
            .map(|(i, n)| (ItemId(i), &n.item))
    }

    /// The item `id`.
    pub fn item(&self, id: ItemId) -> &Item {
        &self.model.node(id).item
    }

    /// The crate of item `id`.
    pub fn crate_of(&self, id: ItemId) -> &str {
        &self.model.crates[self.model.node(id).krate].name
    }

    fn krate(&self, name: &str) -> Result<usize> {
        self.model
            .crate_named(name)
            .ok_or_else(|| MetricsError::UnknownCrate {
                name: name.to_owned(),
            })
    }

    /// The public API of crate `name` (see [`crate`] docs: its entry points).
    pub fn public_api(&self, name: &str) -> Result<Vec<ItemId>> {
        Ok(public_api(&self.model, &self.index, self.krate(name)?))
    }

    /// Everything the public API of crate `name` reaches in it and the workspace crates it
    /// depends on (the entry points included).
    pub fn reach(&self, name: &str) -> Result<BTreeSet<ItemId>> {
        let krate = self.krate(name)?;
        let entries = public_api(&self.model, &self.index, krate);
        let scope = self.model.closure(krate);
        Ok(reach(
            &self.model,
            &self.index,
            &self.edges,
            &entries,
            &scope,
        ))
    }

    /// How the method calls of `items` were resolved.
    pub fn calls<'i>(&self, items: impl IntoIterator<Item = &'i ItemId>) -> CallStats {
        let mut s = CallStats::default();
        for id in items {
            s += self.calls[id.0];
        }
        s
    }
}

/// The one item `text` is: its kind and identifier (empty for an impl block); `None`
/// when it is not exactly one item. A method's text is a function: [`ItemKind::Fn`]. For
/// checking that a listed location ([`Item::lines`]) holds the item listed.
///
/// [`ItemKind::Fn`]: crate::ItemKind::Fn
pub fn item_in(text: &str) -> Option<(crate::ItemKind, String)> {
    use crate::ItemKind as K;
    let name = |i: &syn::Ident| i.to_string();
    Some(match syn::parse_str::<syn::Item>(text).ok()? {
        syn::Item::Fn(f) => (K::Fn, name(&f.sig.ident)),
        syn::Item::Struct(i) => (K::Struct, name(&i.ident)),
        syn::Item::Enum(i) => (K::Enum, name(&i.ident)),
        syn::Item::Union(i) => (K::Union, name(&i.ident)),
        syn::Item::Trait(i) => (K::Trait, name(&i.ident)),
        syn::Item::Type(i) => (K::TypeAlias, name(&i.ident)),
        syn::Item::Const(i) => (K::Const, name(&i.ident)),
        syn::Item::Static(i) => (K::Static, name(&i.ident)),
        syn::Item::Macro(i) => (K::Macro, name(i.ident.as_ref()?)),
        syn::Item::Impl(_) => (K::Impl, String::new()),
        _ => return None,
    })
}
