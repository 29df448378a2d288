//! Impl blocks by the type and the trait they are for, and methods by name.

use std::collections::HashMap;

use syn::{GenericArgument, ImplItem, PathArguments};

use crate::model::{ItemId, ItemKind, Model, Node};
use crate::resolve::resolve;

/// What an `impl` block is for: a workspace type, or another type by its last name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Item(ItemId),
    Other(String),
}

/// One impl block.
pub(crate) struct ImplInfo {
    /// The impl's own item.
    pub item: ItemId,
    pub self_ty: Target,
    /// The trait it implements, if any.
    pub trait_: Option<Target>,
    /// Its methods: (name, item).
    pub methods: Vec<(String, ItemId)>,
    /// Its associated consts and types by name (`type Target = …` of `Deref`).
    pub assoc: Vec<String>,
    /// `Deref::Target`, for `impl Deref`.
    pub deref_target: Option<syn::Type>,
    /// The names of the self type's generic arguments, positionally (`impl<T> S<T>`:
    /// `["T"]`), to map a receiver's arguments onto the impl's parameters.
    pub self_args: Vec<String>,
}

impl std::fmt::Debug for ImplInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImplInfo")
            .field("item", &self.item)
            .field("self_ty", &self.self_ty)
            .field("trait_", &self.trait_)
            .field("methods", &self.methods)
            .finish_non_exhaustive()
    }
}

/// The impls and methods of a model.
#[derive(Debug, Default)]
pub(crate) struct Index {
    pub impls: Vec<ImplInfo>,
    /// Impl item → its index in `impls`.
    pub of_item: HashMap<ItemId, usize>,
    /// A workspace type → its impls (inherent and of traits).
    pub by_type: HashMap<ItemId, Vec<usize>>,
    /// A workspace trait → its impls.
    pub by_trait: HashMap<ItemId, Vec<usize>>,
    /// Another type's last name → the workspace's impls for it.
    pub by_other_type: HashMap<String, Vec<usize>>,
    /// Methods (of impls, and trait methods with a default body) by name.
    pub methods: HashMap<String, Vec<ItemId>>,
    /// `macro_rules!` definitions by crate and name.
    pub macros: HashMap<(usize, String), Vec<ItemId>>,
}

fn path_target(model: &Model, module: usize, path: &syn::Path) -> Target {
    let segs: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    match resolve(model, module, &segs, path.leading_colon.is_some()) {
        Some(r) if r.consumed == segs.len() => match r.items().next() {
            Some(id) => alias_target(model, id),
            None => Target::Other(segs.last().cloned().unwrap_or_default()),
        },
        _ => Target::Other(segs.last().cloned().unwrap_or_default()),
    }
}

/// A type alias stands for what it names, when that is a workspace type.
fn alias_target(model: &Model, id: ItemId) -> Target {
    if let Node::Type(t) = &model.node(id).node
        && let syn::Type::Path(p) = &*t.ty
    {
        let module = model.node(id).module;
        if let Target::Item(inner) = path_target(model, module, &p.path)
            && inner != id
        {
            return Target::Item(inner);
        }
    }
    Target::Item(id)
}

fn self_args(ty: &syn::Type) -> Vec<String> {
    let syn::Type::Path(p) = ty else {
        return Vec::new();
    };
    let Some(last) = p.path.segments.last() else {
        return Vec::new();
    };
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return Vec::new();
    };
    args.args
        .iter()
        .map(|a| match a {
            GenericArgument::Type(syn::Type::Path(t)) => t
                .path
                .get_ident()
                .map_or_else(String::new, |i| i.to_string()),
            _ => String::new(),
        })
        .collect()
}

/// Index the impls and methods of `model`.
pub(crate) fn index(model: &Model) -> Index {
    let mut ix = Index::default();
    let mut owned: HashMap<ItemId, Vec<(String, ItemId)>> = HashMap::new();
    for (j, n) in model.items.iter().enumerate() {
        if let Some(owner) = n.owner {
            owned
                .entry(owner)
                .or_default()
                .push((n.ident.clone(), ItemId(j)));
        }
    }
    for (i, node) in model.items.iter().enumerate() {
        let id = ItemId(i);
        if node.item.kind == ItemKind::Method {
            ix.methods.entry(node.ident.clone()).or_default().push(id);
        }
        if node.item.kind == ItemKind::Macro {
            ix.macros
                .entry((node.krate, node.ident.clone()))
                .or_default()
                .push(id);
        }
        let Node::Impl(imp) = &node.node else {
            continue;
        };
        let self_ty = match &*imp.self_ty {
            syn::Type::Path(p) if p.qself.is_none() => path_target(model, node.module, &p.path),
            other => Target::Other(crate::collect::type_text(other)),
        };
        let trait_ = imp
            .trait_
            .as_ref()
            .map(|(_, p, _)| path_target(model, node.module, p));
        let methods = owned.remove(&id).unwrap_or_default();
        let mut assoc = Vec::new();
        let mut deref_target = None;
        for item in &imp.items {
            match item {
                ImplItem::Const(c) => assoc.push(c.ident.to_string()),
                ImplItem::Type(t) => {
                    assoc.push(t.ident.to_string());
                    let is_deref = matches!(&trait_, Some(Target::Other(n)) if n == "Deref");
                    if is_deref && t.ident == "Target" {
                        deref_target = Some(t.ty.clone());
                    }
                }
                _ => {}
            }
        }
        let at = ix.impls.len();
        ix.of_item.insert(id, at);
        match &self_ty {
            Target::Item(t) => ix.by_type.entry(*t).or_default().push(at),
            Target::Other(n) => ix.by_other_type.entry(n.clone()).or_default().push(at),
        }
        if let Some(Target::Item(t)) = &trait_ {
            ix.by_trait.entry(*t).or_default().push(at);
        }
        ix.impls.push(ImplInfo {
            item: id,
            self_ty,
            trait_,
            methods,
            assoc,
            deref_target,
            self_args: self_args(&imp.self_ty),
        });
    }
    ix
}

impl Index {
    /// The methods named `name` of the impls of workspace type `ty`: the inherent ones if
    /// any, else those of its trait impls, else the default bodies of the workspace
    /// traits it implements.
    pub fn methods_of(&self, model: &Model, ty: ItemId, name: &str) -> Vec<ItemId> {
        let impls = self.by_type.get(&ty).map(Vec::as_slice).unwrap_or(&[]);
        let named = |inherent: bool| -> Vec<ItemId> {
            impls
                .iter()
                .map(|&i| &self.impls[i])
                .filter(|i| i.trait_.is_none() == inherent)
                .flat_map(|i| i.methods.iter().filter(|(n, _)| n == name).map(|(_, m)| *m))
                .collect()
        };
        let inherent = named(true);
        if !inherent.is_empty() {
            return inherent;
        }
        let of_traits = named(false);
        if !of_traits.is_empty() {
            return of_traits;
        }
        impls
            .iter()
            .filter_map(|&i| match &self.impls[i].trait_ {
                Some(Target::Item(t)) => Some(*t),
                _ => None,
            })
            .flat_map(|t| self.trait_default(model, t, name))
            .collect()
    }

    /// The default body of method `name` of trait `t`, if it has one.
    pub fn trait_default(&self, model: &Model, t: ItemId, name: &str) -> Option<ItemId> {
        self.methods
            .get(name)?
            .iter()
            .copied()
            .find(|m| model.node(*m).owner == Some(t))
    }

    /// The impls of `ty` that carry associated item `name` (a const or a type).
    pub fn assoc_of(&self, ty: ItemId, name: &str) -> Vec<ItemId> {
        self.by_type
            .get(&ty)
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .map(|&i| &self.impls[i])
            .filter(|i| i.assoc.iter().any(|a| a == name))
            .map(|i| i.item)
            .collect()
    }
}
