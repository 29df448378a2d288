//! What an item's code refers to: the edges of the call graph leaving it.
//!
//! Paths (in calls, in expressions such as `map(Self::decode)`, in types, patterns,
//! struct literals, trait bounds and macro names) are resolved by [`crate::resolve`];
//! `Type::name` goes to the type's method or associated const, `Trait::name`,
//! `<T as Trait>::name` and `T::name` for a generic `T` to the trait's method. A method
//! call `x.name()` goes by the receiver's type as [`crate::types`] infers it: to the
//! method of that type (its inherent impls first, then its trait impls, then default
//! bodies of the workspace traits it implements, then through its `Deref` target), to
//! the trait's method for a trait object or a generic, to nothing for a type from
//! outside the workspace (`Vec::push`); when the receiver's type is not known, to every
//! method of that name in the calling crate and its dependencies. Macro arguments that
//! parse as expressions are walked as code; other macro bodies are read as tokens:
//! `a::b`, `name(` and `name!` as paths, `.name(` as a method call by name.

use std::collections::HashMap;

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use syn::visit::{self, Visit};
use syn::{Expr, FnArg, ImplItem, Pat, TraitItem};

use crate::cyclomatic::macro_args;
use crate::model::{CrateId, Edge, ItemId, ItemKind, Node};
use crate::resolve::resolve;
use crate::types::{Found, Ty, TyEnv, Types};

/// How the method calls of some code were resolved (call sites).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallStats {
    /// By the receiver's type, to that type's methods.
    pub by_type: u64,
    /// By the receiver's trait (a trait object, a generic bound), to every impl.
    pub by_trait: u64,
    /// The receiver's type unknown: by the method's name.
    pub by_name: u64,
    /// To a type from outside the workspace: no workspace code.
    pub external: u64,
}

impl std::ops::AddAssign for CallStats {
    fn add_assign(&mut self, o: CallStats) {
        self.by_type += o.by_type;
        self.by_trait += o.by_trait;
        self.by_name += o.by_name;
        self.external += o.external;
    }
}

/// Methods of the standard library that make an iterator.
const ITER_ADAPTORS: &[&str] = &[
    "iter",
    "iter_mut",
    "into_iter",
    "drain",
    "map",
    "filter",
    "filter_map",
    "flat_map",
    "flatten",
    "enumerate",
    "zip",
    "chain",
    "rev",
    "skip",
    "take",
    "skip_while",
    "take_while",
    "map_while",
    "cloned",
    "copied",
    "peekable",
    "inspect",
    "step_by",
    "scan",
    "fuse",
    "windows",
    "chunks",
    "chunks_exact",
    "split",
    "splitn",
    "rsplit",
    "lines",
    "chars",
    "bytes",
    "char_indices",
    "keys",
    "values",
    "values_mut",
    "split_whitespace",
];

struct Refs<'t, 'm> {
    types: &'t Types<'m>,
    env: TyEnv,
    krate: CrateId,
    locals: HashMap<String, Ty>,
    edges: Vec<Edge>,
    stats: CallStats,
}

/// The edges leaving item `id`, and how its method calls were resolved.
pub(crate) fn refs(types: &Types<'_>, id: ItemId) -> (Vec<Edge>, CallStats) {
    let model = types.model;
    let node = model.node(id);
    let mut r = Refs {
        types,
        env: TyEnv {
            module: node.module,
            ..TyEnv::default()
        },
        krate: node.krate,
        locals: HashMap::new(),
        edges: Vec::new(),
        stats: CallStats::default(),
    };
    match &node.node {
        Node::Fn(f) => {
            r.env = types.fn_env(id, None);
            r.params(f.sig.inputs.iter());
            r.visit_item_fn(f);
        }
        Node::ImplFn(f) => {
            r.env = types.fn_env(id, None);
            r.params(f.sig.inputs.iter());
            r.visit_impl_item_fn(f);
        }
        Node::TraitFn(f) => {
            r.env = types.fn_env(id, None);
            r.params(f.sig.inputs.iter());
            r.visit_trait_item_fn(f);
        }
        Node::Struct(s) => {
            r.generics(&s.generics);
            r.visit_item_struct(s);
        }
        Node::Enum(e) => {
            r.generics(&e.generics);
            r.visit_item_enum(e);
        }
        Node::Union(u) => {
            r.generics(&u.generics);
            r.visit_item_union(u);
        }
        Node::Type(t) => {
            r.generics(&t.generics);
            r.visit_item_type(t);
        }
        Node::Const(c) => r.visit_item_const(c),
        Node::Static(s) => r.visit_item_static(s),
        Node::Macro(m) => r.scan(m.mac.tokens.clone()),
        Node::Trait(t) => {
            r.generics(&t.generics);
            r.env.self_ty = Some(Ty::Traits(vec![id]));
            r.visit_generics(&t.generics);
            for b in &t.supertraits {
                r.visit_type_param_bound(b);
            }
            for item in &t.items {
                match item {
                    TraitItem::Fn(f) if f.default.is_some() => {}
                    other => r.visit_trait_item(other),
                }
            }
        }
        Node::Impl(imp) => {
            r.generics(&imp.generics);
            r.env.self_ty = Some(types.ty(&r.env, &imp.self_ty));
            r.visit_generics(&imp.generics);
            if let Some((_, path, _)) = &imp.trait_ {
                r.path(path, false);
            }
            r.visit_type(&imp.self_ty);
            for item in &imp.items {
                match item {
                    ImplItem::Fn(_) => {}
                    other => r.visit_impl_item(other),
                }
            }
        }
    }
    r.edges.sort();
    r.edges.dedup();
    (r.edges, r.stats)
}

fn idents(path: &syn::Path) -> Vec<String> {
    path.segments.iter().map(|s| s.ident.to_string()).collect()
}

impl Refs<'_, '_> {
    fn generics(&mut self, g: &syn::Generics) {
        self.env.generics =
            self.types
                .with_generics(self.env.module, g, std::mem::take(&mut self.env.generics));
    }

    fn params<'p>(&mut self, inputs: impl Iterator<Item = &'p FnArg>) {
        for arg in inputs {
            if let FnArg::Typed(pt) = arg {
                let ty = self.types.ty(&self.env, &pt.ty);
                self.bind(&pt.pat, ty);
            }
        }
    }

    fn edge(&mut self, e: Edge) {
        self.edges.push(e);
    }

    /// The type a workspace type or trait item stands for.
    fn def_ty(&self, id: ItemId) -> Ty {
        let node = self.types.model.node(id);
        match (&node.node, node.item.kind) {
            (_, ItemKind::Trait) => Ty::Traits(vec![id]),
            (Node::Type(t), _) => {
                let env = TyEnv {
                    module: node.module,
                    ..TyEnv::default()
                };
                self.types.ty(&env, &t.ty)
            }
            (_, k) if k.is_type() => Ty::Named(id, Vec::new()),
            _ => Ty::Unknown,
        }
    }

    /// `Type::name`: the associated function or const `name` of a type or trait.
    fn assoc(&mut self, on: &Ty, name: &str) {
        match on {
            Ty::Named(id, _) => {
                let ms = self.types.index.methods_of(self.types.model, *id, name);
                if ms.is_empty() {
                    for imp in self.types.index.assoc_of(*id, name) {
                        self.edge(Edge::Item(imp));
                    }
                }
                for m in ms {
                    self.edge(Edge::Item(m));
                }
            }
            Ty::Traits(ts) => {
                for t in self.types.traits_with(ts, name) {
                    self.edge(Edge::TraitMethod(t, name.to_owned()));
                }
            }
            _ => {}
        }
    }

    /// The edges of a path; `value` for a path in an expression or pattern.
    fn path(&mut self, path: &syn::Path, value: bool) {
        let segs = idents(path);
        let Some(first) = segs.first() else { return };
        if segs.len() == 1 && value && (self.locals.contains_key(first) || first == "self") {
            return;
        }
        if first == "Self" {
            let Some(ty) = self.env.self_ty.clone() else {
                return;
            };
            match (&ty, segs.get(1)) {
                (Ty::Named(id, _), None) => self.edge(Edge::Item(*id)),
                (_, Some(name)) => self.assoc(&ty, name),
                _ => {}
            }
            return;
        }
        if let Some(g) = self.env.generics.get(first).cloned() {
            if let Some(name) = segs.get(1) {
                self.assoc(&g, name);
            }
            return;
        }
        let Some(r) = resolve(
            self.types.model,
            self.env.module,
            &segs,
            path.leading_colon.is_some(),
        ) else {
            return;
        };
        let items: Vec<ItemId> = r.items().collect();
        for id in &items {
            self.edge(Edge::Item(*id));
        }
        if r.consumed < segs.len()
            && let Some(id) = items.first()
        {
            let ty = self.def_ty(*id);
            self.assoc(&ty, &segs[r.consumed]);
        }
    }

    /// A method call `.name(…)` on a receiver of type `on`.
    fn method_call(&mut self, on: &Ty, name: &str) {
        match self.types.method(on, name) {
            Found::Items(ms) => {
                self.stats.by_type += 1;
                for m in ms {
                    self.edge(Edge::Item(m));
                }
            }
            Found::Traits(ts) => {
                self.stats.by_trait += 1;
                for t in ts {
                    self.edge(Edge::TraitMethod(t, name.to_owned()));
                }
            }
            Found::External => self.stats.external += 1,
            Found::Unknown => {
                self.stats.by_name += 1;
                self.edge(Edge::ByName(name.to_owned(), self.krate));
            }
        }
    }

    /// Read a macro body as tokens (see the module docs).
    fn scan(&mut self, tokens: TokenStream) {
        let tts: Vec<TokenTree> = tokens.into_iter().collect();
        let punct =
            |i: usize, c: char| matches!(tts.get(i), Some(TokenTree::Punct(p)) if p.as_char() == c);
        let mut i = 0;
        while i < tts.len() {
            match &tts[i] {
                TokenTree::Group(g) => {
                    self.scan(g.stream());
                    i += 1;
                }
                TokenTree::Ident(id) => {
                    let mut segs = vec![id.to_string()];
                    let mut j = i + 1;
                    while punct(j, ':') && punct(j + 1, ':') {
                        match tts.get(j + 2) {
                            Some(TokenTree::Ident(next)) => {
                                segs.push(next.to_string());
                                j += 3;
                            }
                            _ => break,
                        }
                    }
                    let after_dot = i > 0 && punct(i - 1, '.');
                    let called = matches!(tts.get(j), Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis);
                    if after_dot && segs.len() == 1 && called {
                        self.method_call(&Ty::Unknown, &segs[0]);
                    } else if !after_dot && (segs.len() > 1 || called || punct(j, '!')) {
                        let path = syn::parse_str::<syn::Path>(&segs.join("::"));
                        if let Ok(path) = path {
                            self.path(&path, true);
                        }
                    }
                    i = j;
                }
                _ => i += 1,
            }
        }
    }

    /// Bind the names of `pat` to the parts of `ty`.
    fn bind(&mut self, pat: &Pat, ty: Ty) {
        match pat {
            Pat::Ident(p) => {
                if let Some((_, sub)) = &p.subpat {
                    self.bind(sub, ty.clone());
                }
                self.locals.insert(p.ident.to_string(), ty);
            }
            Pat::Reference(r) => self.bind(&r.pat, ty),
            Pat::Paren(p) => self.bind(&p.pat, ty),
            Pat::Type(t) => {
                let ty = self.types.ty(&self.env, &t.ty);
                self.bind(&t.pat, ty);
            }
            Pat::Or(o) => {
                for case in &o.cases {
                    self.bind(case, ty.clone());
                }
            }
            Pat::Tuple(t) => {
                for (i, p) in t.elems.iter().enumerate() {
                    let part = match &ty {
                        Ty::Tuple(ts) => ts.get(i).cloned().unwrap_or(Ty::Unknown),
                        _ => Ty::Unknown,
                    };
                    self.bind(p, part);
                }
            }
            Pat::TupleStruct(ts) => {
                let last = ts.path.segments.last().map(|s| s.ident.to_string());
                for (i, p) in ts.elems.iter().enumerate() {
                    let part = match (last.as_deref(), &ty) {
                        (Some("Some" | "Ok"), Ty::Other(..)) if i == 0 => self.types.tried(&ty),
                        (Some("Err"), Ty::Other(n, args)) if n == "Result" => {
                            args.get(1).cloned().unwrap_or(Ty::Unknown)
                        }
                        (_, Ty::Named(..)) => self.types.field(&ty, &i.to_string()),
                        _ => Ty::Unknown,
                    };
                    self.bind(p, part);
                }
            }
            Pat::Struct(s) => {
                for f in &s.fields {
                    let name = match &f.member {
                        syn::Member::Named(n) => n.to_string(),
                        syn::Member::Unnamed(i) => i.index.to_string(),
                    };
                    let part = self.types.field(&ty, &name);
                    self.bind(&f.pat, part);
                }
            }
            Pat::Slice(s) => {
                let elem = self.types.indexed(&ty);
                for p in &s.elems {
                    self.bind(p, elem.clone());
                }
            }
            _ => {}
        }
    }

    /// The type of `e`, as far as it is known.
    fn infer(&self, e: &Expr) -> Ty {
        let t = self.types;
        match e {
            Expr::Path(p) if p.qself.is_none() => self.path_value(&p.path),
            Expr::Call(c) => match &*c.func {
                Expr::Path(p) if p.qself.is_none() => self.call_ty(&p.path, c.args.first()),
                _ => Ty::Unknown,
            },
            Expr::MethodCall(m) => {
                let on = self.infer(&m.receiver);
                let name = m.method.to_string();
                let found = t.method(&on, &name);
                if found == Found::Unknown {
                    // One method of that name in the workspace: its return type.
                    if let Some([only]) = t.index.methods.get(&name).map(Vec::as_slice) {
                        return t.ret(*only, None);
                    }
                    // An adaptor of the standard library's iterators (no workspace
                    // method has the name): an iterator.
                    if ITER_ADAPTORS.contains(&name.as_str())
                        && !t.index.methods.contains_key(&name)
                    {
                        return Ty::Other("Iter".into(), vec![Ty::Unknown]);
                    }
                }
                t.method_ret(&on, &name, &found)
            }
            Expr::Field(f) => {
                let name = match &f.member {
                    syn::Member::Named(n) => n.to_string(),
                    syn::Member::Unnamed(i) => i.index.to_string(),
                };
                t.field(&self.infer(&f.base), &name)
            }
            Expr::Try(x) => t.tried(&self.infer(&x.expr)),
            Expr::Await(a) => self.infer(&a.base),
            Expr::Reference(r) => self.infer(&r.expr),
            Expr::Paren(p) => self.infer(&p.expr),
            Expr::Group(g) => self.infer(&g.expr),
            Expr::Unary(u) => match u.op {
                syn::UnOp::Deref(_) => match self.infer(&u.expr) {
                    Ty::Other(n, args) if n == "Arc" || n == "Rc" || n == "Box" => {
                        args.into_iter().next().unwrap_or(Ty::Unknown)
                    }
                    other => other,
                },
                _ => Ty::Unknown,
            },
            Expr::Struct(s) => self.path_value(&s.path),
            Expr::Index(i) => t.indexed(&self.infer(&i.expr)),
            Expr::Cast(c) => t.ty(&self.env, &c.ty),
            Expr::Tuple(x) => Ty::Tuple(x.elems.iter().map(|e| self.infer(e)).collect()),
            Expr::Block(b) => match b.block.stmts.last() {
                Some(syn::Stmt::Expr(e, None)) => self.infer(e),
                _ => Ty::Unknown,
            },
            _ => Ty::Unknown,
        }
    }

    /// The type of a path used as a value: a local, `self`, a const, a static, a unit
    /// struct or a variant.
    fn path_value(&self, path: &syn::Path) -> Ty {
        let segs = idents(path);
        if let [one] = segs.as_slice() {
            if one == "self" {
                return self.env.self_ty.clone().unwrap_or(Ty::Unknown);
            }
            if let Some(t) = self.locals.get(one) {
                return t.clone();
            }
            if one == "Self" {
                return self.env.self_ty.clone().unwrap_or(Ty::Unknown);
            }
        }
        let model = self.types.model;
        let Some(r) = resolve(model, self.env.module, &segs, path.leading_colon.is_some()) else {
            return Ty::Unknown;
        };
        let Some(id) = r.items().next() else {
            return Ty::Unknown;
        };
        let node = model.node(id);
        let env = TyEnv {
            module: node.module,
            ..TyEnv::default()
        };
        match &node.node {
            Node::Const(c) => self.types.ty(&env, &c.ty),
            Node::Static(s) => self.types.ty(&env, &s.ty),
            _ => self.def_ty(id),
        }
    }

    /// The type a call of `path(first, …)` returns.
    fn call_ty(&self, path: &syn::Path, first: Option<&Expr>) -> Ty {
        let t = self.types;
        let segs = idents(path);
        let arg = || first.map_or(Ty::Unknown, |e| self.infer(e));
        match segs
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice()
        {
            ["Some"] => return Ty::Other("Option".into(), vec![arg()]),
            ["Ok"] => return Ty::Other("Result".into(), vec![arg()]),
            [
                w @ ("Arc" | "Rc" | "Box" | "Mutex" | "RwLock" | "RefCell" | "Pin"),
                "new",
            ] => {
                return Ty::Other((*w).into(), vec![arg()]);
            }
            ["Self", name] => {
                let on = self.env.self_ty.clone().unwrap_or(Ty::Unknown);
                let found = t.method(&on, name);
                return t.method_ret(&on, name, &found);
            }
            [g, name] if self.env.generics.contains_key(*g) => {
                let on = self.env.generics[*g].clone();
                let found = t.method(&on, name);
                return t.method_ret(&on, name, &found);
            }
            _ => {}
        }
        let model = t.model;
        let Some(r) = resolve(model, self.env.module, &segs, path.leading_colon.is_some()) else {
            // `Vec::new()`, `String::from(…)`: the type named.
            return match segs.as_slice() {
                [ty, _] => Ty::Other(ty.clone(), Vec::new()),
                _ => Ty::Unknown,
            };
        };
        let Some(id) = r.items().next() else {
            return Ty::Unknown;
        };
        if r.consumed == segs.len() {
            return match model.node(id).item.kind {
                ItemKind::Fn => t.ret(id, None),
                _ => self.def_ty(id),
            };
        }
        let on = self.def_ty(id);
        let name = &segs[r.consumed];
        match t.method(&on, name) {
            // `Enum::Variant(…)`.
            Found::External if model.node(id).item.kind == ItemKind::Enum => on,
            found => t.method_ret(&on, name, &found),
        }
    }
}

impl<'ast> Visit<'ast> for Refs<'_, '_> {
    fn visit_expr_path(&mut self, e: &'ast syn::ExprPath) {
        match &e.qself {
            Some(q) => {
                self.visit_type(&q.ty);
                let segs = idents(&e.path);
                if q.position > 0 {
                    // `<T as Trait>::name`.
                    let mut trait_path = e.path.clone();
                    while trait_path.segments.len() > q.position {
                        trait_path.segments.pop();
                    }
                    trait_path.segments.pop_punct();
                    if let Some(name) = segs.get(q.position) {
                        let traits = match self.types.ty(
                            &self.env,
                            &syn::Type::Path(syn::TypePath {
                                qself: None,
                                path: trait_path,
                            }),
                        ) {
                            Ty::Traits(ts) => ts,
                            _ => Vec::new(),
                        };
                        self.assoc(&Ty::Traits(traits), name);
                    }
                } else if let Some(name) = segs.first() {
                    let on = self.types.ty(&self.env, &q.ty);
                    self.assoc(&on, name);
                }
            }
            None => self.path(&e.path, true),
        }
        visit::visit_expr_path(self, e);
    }

    fn visit_type_path(&mut self, t: &'ast syn::TypePath) {
        if t.qself.is_none() {
            self.path(&t.path, false);
        }
        visit::visit_type_path(self, t);
    }

    fn visit_expr_struct(&mut self, e: &'ast syn::ExprStruct) {
        self.path(&e.path, false);
        visit::visit_expr_struct(self, e);
    }

    fn visit_pat_struct(&mut self, p: &'ast syn::PatStruct) {
        self.path(&p.path, false);
        visit::visit_pat_struct(self, p);
    }

    fn visit_pat_tuple_struct(&mut self, p: &'ast syn::PatTupleStruct) {
        self.path(&p.path, false);
        visit::visit_pat_tuple_struct(self, p);
    }

    fn visit_trait_bound(&mut self, b: &'ast syn::TraitBound) {
        self.path(&b.path, false);
        visit::visit_trait_bound(self, b);
    }

    fn visit_expr_method_call(&mut self, m: &'ast syn::ExprMethodCall) {
        let on = self.infer(&m.receiver);
        self.method_call(&on, &m.method.to_string());
        visit::visit_expr_method_call(self, m);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        let segs = idents(&m.path);
        match segs.as_slice() {
            [name] => {
                // `macro_rules!` macros are in scope by text order: any of the crate's.
                let key = (self.krate, name.clone());
                let found = self
                    .types
                    .index
                    .macros
                    .get(&key)
                    .cloned()
                    .unwrap_or_default();
                for id in found {
                    self.edge(Edge::Item(id));
                }
            }
            _ => self.path(&m.path, false),
        }
        let args = macro_args(m);
        if args.is_empty() {
            self.scan(m.tokens.clone());
        } else {
            for e in &args {
                self.visit_expr(e);
            }
        }
    }

    fn visit_local(&mut self, l: &'ast syn::Local) {
        let ty = l.init.as_ref().map_or(Ty::Unknown, |i| self.infer(&i.expr));
        if let Some(init) = &l.init {
            self.visit_expr(&init.expr);
            if let Some((_, d)) = &init.diverge {
                self.visit_expr(d);
            }
        }
        self.bind(&l.pat, ty);
        self.visit_pat(&l.pat);
    }

    fn visit_expr_closure(&mut self, c: &'ast syn::ExprClosure) {
        for p in &c.inputs {
            self.bind(p, Ty::Unknown);
        }
        visit::visit_expr_closure(self, c);
    }

    fn visit_expr_for_loop(&mut self, f: &'ast syn::ExprForLoop) {
        let elem = self.types.element(&self.infer(&f.expr));
        self.visit_expr(&f.expr);
        self.bind(&f.pat, elem);
        self.visit_pat(&f.pat);
        self.visit_block(&f.body);
    }

    fn visit_expr_let(&mut self, l: &'ast syn::ExprLet) {
        let ty = self.infer(&l.expr);
        self.visit_expr(&l.expr);
        self.bind(&l.pat, ty);
        self.visit_pat(&l.pat);
    }

    fn visit_expr_match(&mut self, m: &'ast syn::ExprMatch) {
        let ty = self.infer(&m.expr);
        self.visit_expr(&m.expr);
        for arm in &m.arms {
            self.bind(&arm.pat, ty.clone());
            self.visit_arm(arm);
        }
    }
}
