//! The little type inference the call graph needs: the type of a receiver, so that
//! `x.method()` goes to the method of `x`'s type rather than to every method of that
//! name. Types come from signatures, `let` annotations, struct fields, struct literals,
//! constructor and method return types, `?`, `.await`, references and the smart pointers
//! and locks that dereference to their content (`Arc`, `Rc`, `Box`, `Mutex`, `RwLock`…),
//! and the elements of `Vec`, slices, maps and their iterators in `for` loops. Generic
//! parameters are their workspace trait bounds; type aliases are expanded.

use std::collections::HashMap;

use syn::{GenericArgument, PathArguments, ReturnType, TraitItem, TypeParamBound, WherePredicate};

use crate::index::Index;
use crate::model::{ItemId, ItemKind, ModId, Model, Node};
use crate::resolve::resolve;

/// How deep type aliases and dereferences are followed.
const MAX_DEPTH: usize = 8;

/// A type as far as it is known.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ty {
    /// A workspace struct, enum or union with its generic arguments.
    Named(ItemId, Vec<Ty>),
    /// Something known only by the workspace traits it implements (`dyn Trait`, `impl
    /// Trait`, a generic parameter's bounds).
    Traits(Vec<ItemId>),
    /// Any other type, by the last segment of its path (`Vec`, `Option`, `u64`), with its
    /// generic arguments; `[]` for slices and arrays, `Iter` for iterators.
    Other(String, Vec<Ty>),
    Tuple(Vec<Ty>),
    Unknown,
}

impl Ty {
    fn other(name: &str, args: Vec<Ty>) -> Ty {
        Ty::Other(name.to_owned(), args)
    }

    fn arg(&self, i: usize) -> Ty {
        match self {
            Ty::Named(_, a) | Ty::Other(_, a) => a.get(i).cloned().unwrap_or(Ty::Unknown),
            _ => Ty::Unknown,
        }
    }
}

/// Where a type is written: its module, the generic parameters in scope, `Self`.
#[derive(Debug, Clone, Default)]
pub(crate) struct TyEnv {
    pub module: ModId,
    pub generics: HashMap<String, Ty>,
    pub self_ty: Option<Ty>,
}

/// What a method call on a type goes to.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Found {
    /// These methods.
    Items(Vec<ItemId>),
    /// The method of these workspace traits (to every impl).
    Traits(Vec<ItemId>),
    /// A method of a type from outside the workspace (`Vec::push`): no workspace code.
    External,
    /// The receiver's type is not known.
    Unknown,
}

/// Types that dereference to their first argument.
const DEREF: &[&str] = &[
    "Arc",
    "Rc",
    "Box",
    "Pin",
    "Cow",
    "MutexGuard",
    "RwLockReadGuard",
    "RwLockWriteGuard",
    "Ref",
    "RefMut",
    "ManuallyDrop",
    "ArcSwap",
];
/// Types whose lock-like methods give their first argument.
const LOCKS: &[&str] = &["Mutex", "RwLock", "RefCell", "Cell", "OnceLock", "OnceCell"];
/// Sequences of their first argument.
const SEQS: &[&str] = &[
    "Vec",
    "VecDeque",
    "[]",
    "HashSet",
    "BTreeSet",
    "BinaryHeap",
    "SmallVec",
    "Iter",
];
/// Maps from their first argument to their second.
const MAPS: &[&str] = &["HashMap", "BTreeMap", "FxHashMap", "IndexMap"];

/// The type machinery over one model.
pub(crate) struct Types<'a> {
    pub model: &'a Model,
    pub index: &'a Index,
}

impl Types<'_> {
    /// The workspace traits among `bounds`, as resolved in `module`.
    pub fn bounds<'b>(
        &self,
        module: ModId,
        bounds: impl IntoIterator<Item = &'b TypeParamBound>,
    ) -> Vec<ItemId> {
        bounds
            .into_iter()
            .filter_map(|b| match b {
                TypeParamBound::Trait(t) => self.trait_of(module, &t.path),
                _ => None,
            })
            .collect()
    }

    fn trait_of(&self, module: ModId, path: &syn::Path) -> Option<ItemId> {
        let segs: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        let r = resolve(self.model, module, &segs, path.leading_colon.is_some())?;
        if r.consumed != segs.len() {
            return None;
        }
        r.items()
            .find(|i| self.model.node(*i).item.kind == ItemKind::Trait)
    }

    /// `base` with the generic parameters of `g` (as their workspace trait bounds).
    pub fn with_generics(
        &self,
        module: ModId,
        g: &syn::Generics,
        mut base: HashMap<String, Ty>,
    ) -> HashMap<String, Ty> {
        for p in g.type_params() {
            let traits = self.bounds(module, &p.bounds);
            base.insert(p.ident.to_string(), Ty::Traits(traits));
        }
        if let Some(w) = &g.where_clause {
            for pred in &w.predicates {
                if let WherePredicate::Type(t) = pred
                    && let syn::Type::Path(p) = &t.bounded_ty
                    && let Some(ident) = p.path.get_ident()
                    && let Some(Ty::Traits(ts)) = base.get_mut(&ident.to_string())
                {
                    ts.extend(self.bounds(module, &t.bounds));
                }
            }
        }
        base
    }

    /// The type `t` written in `env`.
    pub fn ty(&self, env: &TyEnv, t: &syn::Type) -> Ty {
        self.ty_at(env, t, 0)
    }

    fn ty_at(&self, env: &TyEnv, t: &syn::Type, depth: usize) -> Ty {
        if depth > MAX_DEPTH {
            return Ty::Unknown;
        }
        match t {
            syn::Type::Reference(r) => self.ty_at(env, &r.elem, depth + 1),
            syn::Type::Paren(p) => self.ty_at(env, &p.elem, depth + 1),
            syn::Type::Group(g) => self.ty_at(env, &g.elem, depth + 1),
            syn::Type::Slice(s) => Ty::other("[]", vec![self.ty_at(env, &s.elem, depth + 1)]),
            syn::Type::Array(a) => Ty::other("[]", vec![self.ty_at(env, &a.elem, depth + 1)]),
            syn::Type::Tuple(t) => Ty::Tuple(
                t.elems
                    .iter()
                    .map(|e| self.ty_at(env, e, depth + 1))
                    .collect(),
            ),
            syn::Type::TraitObject(o) => Ty::Traits(self.bounds(env.module, &o.bounds)),
            syn::Type::ImplTrait(i) => Ty::Traits(self.bounds(env.module, &i.bounds)),
            syn::Type::Path(p) if p.qself.is_none() => self.path_ty(env, &p.path, depth),
            _ => Ty::Unknown,
        }
    }

    fn args(&self, env: &TyEnv, seg: &syn::PathSegment, depth: usize) -> Vec<Ty> {
        match &seg.arguments {
            PathArguments::AngleBracketed(a) => a
                .args
                .iter()
                .filter_map(|a| match a {
                    GenericArgument::Type(t) => Some(self.ty_at(env, t, depth + 1)),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    fn path_ty(&self, env: &TyEnv, path: &syn::Path, depth: usize) -> Ty {
        let Some(last) = path.segments.last() else {
            return Ty::Unknown;
        };
        let args = self.args(env, last, depth);
        if let Some(ident) = path.get_ident() {
            let name = ident.to_string();
            if name == "Self" {
                return env.self_ty.clone().unwrap_or(Ty::Unknown);
            }
            if let Some(g) = env.generics.get(&name) {
                return g.clone();
            }
        }
        let segs: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        let found = resolve(self.model, env.module, &segs, path.leading_colon.is_some())
            .filter(|r| r.consumed == segs.len())
            .and_then(|r| r.items().next());
        let Some(id) = found else {
            return Ty::Other(last.ident.to_string(), args);
        };
        let node = self.model.node(id);
        match (&node.node, node.item.kind) {
            (Node::Type(alias), _) => {
                // The alias's parameters take the arguments given (or their defaults).
                let mut generics = HashMap::new();
                for (i, p) in alias.generics.type_params().enumerate() {
                    let given = args.get(i).cloned();
                    let default = p.default.as_ref().map(|d| {
                        let inner = TyEnv {
                            module: node.module,
                            ..TyEnv::default()
                        };
                        self.ty_at(&inner, d, depth + 1)
                    });
                    generics.insert(
                        p.ident.to_string(),
                        given.or(default).unwrap_or(Ty::Unknown),
                    );
                }
                let inner = TyEnv {
                    module: node.module,
                    generics,
                    self_ty: None,
                };
                self.ty_at(&inner, &alias.ty, depth + 1)
            }
            (_, ItemKind::Trait) => Ty::Traits(vec![id]),
            (_, k) if k.is_type() => Ty::Named(id, args),
            _ => Ty::Unknown,
        }
    }

    /// The type of field `name` (or tuple index) of a value of type `of`.
    pub fn field(&self, of: &Ty, name: &str) -> Ty {
        match of {
            Ty::Tuple(ts) => name
                .parse::<usize>()
                .ok()
                .and_then(|i| ts.get(i).cloned())
                .unwrap_or(Ty::Unknown),
            Ty::Named(id, args) => {
                let node = self.model.node(*id);
                let Node::Struct(s) = &node.node else {
                    return Ty::Unknown;
                };
                let generics = s
                    .generics
                    .type_params()
                    .zip(args.iter().cloned().chain(std::iter::repeat(Ty::Unknown)))
                    .map(|(p, a)| (p.ident.to_string(), a))
                    .collect();
                let env = TyEnv {
                    module: node.module,
                    generics,
                    self_ty: Some(of.clone()),
                };
                let field = s.fields.iter().enumerate().find(|(i, f)| match &f.ident {
                    Some(ident) => ident == name,
                    None => i.to_string() == name,
                });
                field.map_or(Ty::Unknown, |(_, f)| self.ty(&env, &f.ty))
            }
            Ty::Other(n, _) if DEREF.contains(&n.as_str()) => self.field(&of.arg(0), name),
            _ => Ty::Unknown,
        }
    }

    /// Where a function item's types are written: its module, its generics and its
    /// impl's, `Self` (the receiver's type when known, else the impl's self type).
    pub fn fn_env(&self, id: ItemId, receiver: Option<&Ty>) -> TyEnv {
        let node = self.model.node(id);
        let module = node.module;
        let mut generics = HashMap::new();
        let mut self_ty = None;
        if let Some(owner) = node.owner {
            match &self.model.node(owner).node {
                Node::Impl(imp) => {
                    generics = self.with_generics(module, &imp.generics, generics);
                    // The receiver's arguments for the impl's parameters.
                    if let (Some(info), Some(Ty::Named(_, args))) =
                        (self.index.of_item.get(&owner), receiver)
                    {
                        for (name, a) in self.index.impls[*info].self_args.iter().zip(args) {
                            if generics.contains_key(name) {
                                generics.insert(name.clone(), a.clone());
                            }
                        }
                    }
                    let env = TyEnv {
                        module,
                        generics: generics.clone(),
                        self_ty: None,
                    };
                    self_ty = Some(match receiver {
                        Some(r @ Ty::Named(..)) => r.clone(),
                        _ => self.ty(&env, &imp.self_ty),
                    });
                }
                Node::Trait(_) => {
                    self_ty = Some(receiver.cloned().unwrap_or(Ty::Traits(vec![owner])));
                }
                _ => {}
            }
        }
        let sig = match &node.node {
            Node::Fn(f) => Some(&f.sig),
            Node::ImplFn(f) => Some(&f.sig),
            Node::TraitFn(f) => Some(&f.sig),
            _ => None,
        };
        if let Some(sig) = sig {
            generics = self.with_generics(module, &sig.generics, generics);
        }
        TyEnv {
            module,
            generics,
            self_ty,
        }
    }

    /// What a function item returns.
    pub fn ret(&self, id: ItemId, receiver: Option<&Ty>) -> Ty {
        let sig = match &self.model.node(id).node {
            Node::Fn(f) => &f.sig,
            Node::ImplFn(f) => &f.sig,
            Node::TraitFn(f) => &f.sig,
            _ => return Ty::Unknown,
        };
        match &sig.output {
            ReturnType::Default => Ty::other("()", Vec::new()),
            ReturnType::Type(_, t) => self.ty(&self.fn_env(id, receiver), t),
        }
    }

    /// What method `name` of trait `t` returns, called on `receiver`.
    pub fn trait_ret(&self, t: ItemId, name: &str, receiver: &Ty) -> Ty {
        let node = self.model.node(t);
        let Node::Trait(tr) = &node.node else {
            return Ty::Unknown;
        };
        let Some(sig) = tr.items.iter().find_map(|i| match i {
            TraitItem::Fn(f) if f.sig.ident == name => Some(&f.sig),
            _ => None,
        }) else {
            return Ty::Unknown;
        };
        let env = TyEnv {
            module: node.module,
            generics: self.with_generics(node.module, &sig.generics, HashMap::new()),
            self_ty: Some(receiver.clone()),
        };
        match &sig.output {
            ReturnType::Default => Ty::other("()", Vec::new()),
            ReturnType::Type(_, ty) => self.ty(&env, ty),
        }
    }

    /// The workspace traits among `ts` and their supertraits that declare method `name`.
    pub fn traits_with(&self, ts: &[ItemId], name: &str) -> Vec<ItemId> {
        let mut out = Vec::new();
        let mut seen = Vec::new();
        let mut todo: Vec<ItemId> = ts.to_vec();
        while let Some(t) = todo.pop() {
            if seen.contains(&t) {
                continue;
            }
            seen.push(t);
            let node = self.model.node(t);
            let Node::Trait(tr) = &node.node else {
                continue;
            };
            if tr
                .items
                .iter()
                .any(|i| matches!(i, TraitItem::Fn(f) if f.sig.ident == name))
            {
                out.push(t);
            }
            todo.extend(self.bounds(node.module, &tr.supertraits));
        }
        out
    }

    /// What calling method `name` on a value of type `on` goes to.
    pub fn method(&self, on: &Ty, name: &str) -> Found {
        self.method_at(on, name, 0)
    }

    fn method_at(&self, on: &Ty, name: &str, depth: usize) -> Found {
        if depth > MAX_DEPTH {
            return Found::Unknown;
        }
        match on {
            Ty::Unknown => Found::Unknown,
            Ty::Tuple(_) => Found::External,
            Ty::Traits(ts) => {
                let ts = self.traits_with(ts, name);
                if ts.is_empty() {
                    Found::External
                } else {
                    Found::Traits(ts)
                }
            }
            Ty::Named(id, _) => {
                let ms = self.index.methods_of(self.model, *id, name);
                if !ms.is_empty() {
                    return Found::Items(ms);
                }
                // Through `impl Deref for T { type Target = U; }`.
                let target = self
                    .index
                    .by_type
                    .get(id)
                    .into_iter()
                    .flatten()
                    .find_map(|&i| {
                        let info = &self.index.impls[i];
                        info.deref_target.as_ref().map(|t| (info.item, t))
                    });
                match target {
                    Some((imp, t)) => {
                        let env = TyEnv {
                            module: self.model.node(imp).module,
                            ..TyEnv::default()
                        };
                        self.method_at(&self.ty(&env, t), name, depth + 1)
                    }
                    None => Found::External,
                }
            }
            Ty::Other(n, args) => {
                if DEREF.contains(&n.as_str()) && !matches!(name, "clone" | "as_ref") {
                    let inner = self.method_at(&on.arg(0), name, depth + 1);
                    if !matches!(inner, Found::External) || args.is_empty() {
                        return inner;
                    }
                }
                let ms: Vec<ItemId> = self
                    .index
                    .by_other_type
                    .get(n)
                    .into_iter()
                    .flatten()
                    .flat_map(|&i| self.index.impls[i].methods.iter())
                    .filter(|(m, _)| m == name)
                    .map(|(_, id)| *id)
                    .collect();
                if ms.is_empty() {
                    Found::External
                } else {
                    Found::Items(ms)
                }
            }
        }
    }

    /// The type a method call returns: from the method found, or, for types from
    /// outside the workspace, from what the common methods of `Option`, `Result`,
    /// pointers, locks, sequences, maps and iterators return.
    pub fn method_ret(&self, on: &Ty, name: &str, found: &Found) -> Ty {
        match found {
            Found::Items(ms) => ms.first().map_or(Ty::Unknown, |m| self.ret(*m, Some(on))),
            Found::Traits(ts) => ts
                .first()
                .map_or(Ty::Unknown, |t| self.trait_ret(*t, name, on)),
            Found::Unknown => Ty::Unknown,
            Found::External => external_ret(on, name),
        }
    }

    /// The element a `for` loop over a value of type `t` binds.
    pub fn element(&self, t: &Ty) -> Ty {
        match t {
            Ty::Other(n, _) if SEQS.contains(&n.as_str()) => t.arg(0),
            Ty::Other(n, _) if MAPS.contains(&n.as_str()) => Ty::Tuple(vec![t.arg(0), t.arg(1)]),
            Ty::Other(n, _) if n == "Option" => t.arg(0),
            _ => Ty::Unknown,
        }
    }

    /// The type `t[i]` has.
    pub fn indexed(&self, t: &Ty) -> Ty {
        match t {
            Ty::Other(n, _) if SEQS.contains(&n.as_str()) => t.arg(0),
            Ty::Other(n, _) if MAPS.contains(&n.as_str()) => t.arg(1),
            Ty::Other(n, _) if DEREF.contains(&n.as_str()) => self.indexed(&t.arg(0)),
            _ => Ty::Unknown,
        }
    }

    /// `t?`: the success type of a `Result` or `Option`.
    pub fn tried(&self, t: &Ty) -> Ty {
        match t {
            Ty::Other(n, _) if n == "Result" || n == "Option" || n == "Poll" => t.arg(0),
            _ => Ty::Unknown,
        }
    }
}

fn external_ret(on: &Ty, name: &str) -> Ty {
    let Ty::Other(n, _) = on else {
        // A workspace type's derived or foreign-trait method: `clone` gives the type.
        return match name {
            "clone" | "to_owned" | "unwrap" | "expect" => on.clone(),
            _ => Ty::Unknown,
        };
    };
    let n = n.as_str();
    let same = || on.clone();
    let first = || on.arg(0);
    match name {
        "clone" | "to_owned" | "as_ref" | "as_mut" | "as_deref" | "take" | "cloned" | "copied"
        | "rev" | "skip" | "filter" | "peekable" | "by_ref" | "skip_while" | "take_while"
        | "chain" | "step_by"
            if !DEREF.contains(&n) || name == "clone" =>
        {
            same()
        }
        "unwrap" | "expect" | "unwrap_or" | "unwrap_or_default" | "unwrap_or_else"
        | "unwrap_unchecked"
            if n == "Option" || n == "Result" =>
        {
            first()
        }
        "ok_or" | "ok_or_else" if n == "Option" => Ty::other("Result", vec![first()]),
        "ok" if n == "Result" => Ty::other("Option", vec![first()]),
        "lock" | "read" | "write" | "borrow" | "borrow_mut" | "get_mut" | "into_inner" | "get"
        | "load"
            if LOCKS.contains(&n) || n == "ArcSwap" =>
        {
            first()
        }
        "as_ref" | "deref" if DEREF.contains(&n) => first(),
        "get" | "first" | "last" | "get_mut" | "first_mut" | "last_mut" | "pop" | "pop_front"
        | "pop_back" | "next" | "next_back" | "peek" | "min" | "max" | "find"
            if SEQS.contains(&n) =>
        {
            Ty::other("Option", vec![first()])
        }
        "iter" | "iter_mut" | "into_iter" | "drain" if SEQS.contains(&n) => {
            Ty::other("Iter", vec![first()])
        }
        "get" | "get_mut" | "remove" if MAPS.contains(&n) => Ty::other("Option", vec![on.arg(1)]),
        "values" | "values_mut" | "into_values" if MAPS.contains(&n) => {
            Ty::other("Iter", vec![on.arg(1)])
        }
        "keys" | "into_keys" if MAPS.contains(&n) => Ty::other("Iter", vec![first()]),
        "iter" | "iter_mut" | "into_iter" if MAPS.contains(&n) => {
            Ty::other("Iter", vec![Ty::Tuple(vec![first(), on.arg(1)])])
        }
        "enumerate" if n == "Iter" => Ty::other(
            "Iter",
            vec![Ty::Tuple(vec![Ty::other("usize", Vec::new()), first()])],
        ),
        _ => Ty::Unknown,
    }
}
