//! Reading the workspace: members from the root `Cargo.toml`, each library crate's
//! module tree from its root file through `mod name;` declarations, and every item a
//! default non-test build compiles (see [`crate::cfgs`]), with its lines and figures.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::ops::Range;

use proc_macro2::TokenStream;
use syn::{ImplItem, Item as SynItem, TraitItem, UseTree, Visibility};

use crate::cfgs::enabled;
use crate::error::{MetricsError, Result};
use crate::manifest::{self, Manifest};
use crate::metrics::{FnNode, Metrics, functions_of};
use crate::model::{
    Crate, CrateId, Def, Item, ItemId, ItemKind, ItemNode, ModId, Model, Module, Node, Use,
};
use crate::tokens::{Token, code_tokens, node_range, own_lines};

/// The items of one file being collected, for giving each its lines at the end.
struct FileCtx {
    path: String,
    tokens: Vec<Token>,
    /// Byte offset of the start of each line.
    line_starts: Vec<usize>,
    nodes: Vec<(ItemId, Range<usize>)>,
}

impl FileCtx {
    fn line_of(&self, byte: usize) -> usize {
        self.line_starts.partition_point(|&s| s <= byte)
    }
}

struct Collector<'f> {
    files: &'f HashMap<String, &'f str>,
    model: Model,
    features: BTreeSet<String>,
}

fn missing(file: &str, needed_by: &str) -> MetricsError {
    MetricsError::MissingFile {
        file: file.to_owned(),
        needed_by: needed_by.to_owned(),
    }
}

/// Parse `text` into its syntax tree and its code tokens.
pub(crate) fn parse(name: &str, text: &str) -> Result<(syn::File, Vec<Token>)> {
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
    Ok((ast, tokens))
}

/// The model of `roots` (library crate names) and the workspace crates they depend on.
pub(crate) fn collect(files: &HashMap<String, &str>, roots: &[&str]) -> Result<Model> {
    let root_manifest = *files
        .get("Cargo.toml")
        .ok_or_else(|| missing("Cargo.toml", "the workspace"))?;
    let mut packages: Vec<(String, Manifest)> = Vec::new();
    for member in manifest::members("Cargo.toml", root_manifest)? {
        let file = format!("{member}/Cargo.toml");
        let text = files
            .get(&file)
            .ok_or_else(|| missing(&file, "the workspace members"))?;
        let m = manifest::package(&file, text)?;
        if files.contains_key(&format!("{member}/{}", m.lib)) {
            packages.push((member, m));
        }
    }
    let lib_name = |m: &Manifest| m.name.replace('-', "_");
    // Breadth first from the roots: crate ids in that order.
    let mut order: Vec<usize> = Vec::new();
    let mut todo: VecDeque<usize> = VecDeque::new();
    for r in roots {
        let i = packages
            .iter()
            .position(|(_, m)| lib_name(m) == *r)
            .ok_or_else(|| MetricsError::UnknownCrate {
                name: (*r).to_owned(),
            })?;
        todo.push_back(i);
    }
    while let Some(i) = todo.pop_front() {
        if order.contains(&i) {
            continue;
        }
        order.push(i);
        for (_, package) in &packages[i].1.deps {
            if let Some(j) = packages.iter().position(|(_, m)| &m.name == package) {
                todo.push_back(j);
            }
        }
    }
    let mut c = Collector {
        files,
        model: Model::default(),
        features: BTreeSet::new(),
    };
    for &i in &order {
        let (_, m) = &packages[i];
        let deps = m
            .deps
            .iter()
            .filter_map(|(name, package)| {
                let j = packages.iter().position(|(_, p)| &p.name == package)?;
                Some((name.clone(), order.iter().position(|&o| o == j)?))
            })
            .collect();
        c.model.crates.push(Crate {
            name: lib_name(m),
            deps,
            root: 0,
        });
    }
    for (krate, &i) in order.iter().enumerate() {
        let (dir, m) = &packages[i];
        c.features = m.features.clone();
        let root_file = format!("{dir}/{}", m.lib);
        let children_dir = match root_file.rfind('/') {
            Some(at) => root_file[..at + 1].to_owned(),
            None => String::new(),
        };
        let root = c.file(krate, &root_file, children_dir, Vec::new(), None)?;
        c.model.crates[krate].root = root;
    }
    Ok(c.model)
}

/// The text of a `#[path = "…"]` attribute.
fn path_attr(attrs: &[syn::Attribute]) -> Option<String> {
    attrs.iter().find_map(|a| match &a.meta {
        syn::Meta::NameValue(nv) if nv.path.is_ident("path") => match &nv.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) => Some(s.value()),
            _ => None,
        },
        _ => None,
    })
}

/// A type as a short name: the last segment of a path, or its tokens.
pub(crate) fn type_text(ty: &syn::Type) -> String {
    match ty {
        syn::Type::Path(p) => p
            .path
            .segments
            .last()
            .map_or_else(String::new, |s| s.ident.to_string()),
        syn::Type::Reference(r) => format!("&{}", type_text(&r.elem)),
        other => quote::ToTokens::to_token_stream(other)
            .to_string()
            .replace(' ', ""),
    }
}

fn is_public(vis: &Visibility) -> bool {
    matches!(vis, Visibility::Public(_))
}

/// Every name a use tree binds, with its path.
fn flatten_use(
    tree: &UseTree,
    prefix: &mut Vec<String>,
    public: bool,
    global: bool,
    out: &mut Vec<Use>,
) {
    match tree {
        UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            flatten_use(&p.tree, prefix, public, global, out);
            prefix.pop();
        }
        UseTree::Name(n) => {
            let name = n.ident.to_string();
            let (bind, path) = if name == "self" {
                (prefix.last().cloned().unwrap_or_default(), prefix.clone())
            } else {
                let mut path = prefix.clone();
                path.push(name.clone());
                (name, path)
            };
            out.push(Use {
                name: Some(bind),
                path,
                global,
                public,
            });
        }
        UseTree::Rename(r) => {
            let mut path = prefix.clone();
            if r.ident != "self" {
                path.push(r.ident.to_string());
            }
            out.push(Use {
                name: Some(r.rename.to_string()),
                path,
                global,
                public,
            });
        }
        UseTree::Glob(_) => out.push(Use {
            name: None,
            path: prefix.clone(),
            global,
            public,
        }),
        UseTree::Group(g) => {
            for t in &g.items {
                flatten_use(t, prefix, public, global, out);
            }
        }
    }
}

impl Collector<'_> {
    /// Collect the module of file `path` and its children.
    fn file(
        &mut self,
        krate: CrateId,
        path: &str,
        children_dir: String,
        mod_path: Vec<String>,
        parent: Option<ModId>,
    ) -> Result<ModId> {
        let text = *self
            .files
            .get(path)
            .ok_or_else(|| missing(path, "its crate's module tree"))?;
        let (ast, tokens) = parse(path, text)?;
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        let mut ctx = FileCtx {
            path: path.to_owned(),
            tokens,
            line_starts,
            nodes: Vec::new(),
        };
        let id = self.module(krate, parent, mod_path);
        self.items(id, ast.items, &children_dir, &mut ctx)?;
        self.finish_file(&ctx);
        Ok(id)
    }

    fn module(&mut self, krate: CrateId, parent: Option<ModId>, path: Vec<String>) -> ModId {
        self.model.modules.push(Module {
            krate,
            parent,
            path,
            defs: HashMap::new(),
            public: Vec::new(),
            uses: Vec::new(),
        });
        self.model.modules.len() - 1
    }

    /// Give every item of the file its lines and figures.
    fn finish_file(&mut self, ctx: &FileCtx) {
        let ranges: Vec<Range<usize>> = ctx.nodes.iter().map(|(_, r)| r.clone()).collect();
        let owned = own_lines(&ctx.tokens, &ranges);
        for ((id, range), lines) in ctx.nodes.iter().zip(owned) {
            let first = ctx.line_of(range.start);
            let last = ctx.line_of(range.end.saturating_sub(1));
            let node = &mut self.model.items[id.0];
            let functions = match &node.node {
                Node::Fn(f) => functions_of(FnNode::Item(f)),
                Node::ImplFn(f) => functions_of(FnNode::Impl(f)),
                Node::TraitFn(f) => functions_of(FnNode::Trait(f)),
                _ => Vec::new(),
            };
            node.item.lines = (first, last);
            node.item.metrics = Metrics {
                loc: lines.len() as u64,
                functions: functions.len() as u64,
                cyclomatic: functions.iter().map(|f| f.cyclomatic).sum(),
                cognitive: functions.iter().map(|f| f.cognitive).sum(),
            };
            node.item.functions = functions;
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        module: ModId,
        ctx: &mut FileCtx,
        kind: ItemKind,
        ident: String,
        name: String,
        node: Node,
        public: bool,
        owner: Option<ItemId>,
    ) -> ItemId {
        let range = match &node {
            Node::Fn(n) => node_range(n),
            Node::ImplFn(n) => node_range(n),
            Node::TraitFn(n) => node_range(n),
            Node::Struct(n) => node_range(n),
            Node::Enum(n) => node_range(n),
            Node::Union(n) => node_range(n),
            Node::Trait(n) => node_range(n),
            Node::Type(n) => node_range(n),
            Node::Const(n) => node_range(n),
            Node::Static(n) => node_range(n),
            Node::Macro(n) => node_range(n),
            Node::Impl(n) => node_range(n),
        }
        .unwrap_or(0..0);
        let id = ItemId(self.model.items.len());
        self.model.items.push(ItemNode {
            item: Item {
                name,
                kind,
                file: ctx.path.clone(),
                lines: (0, 0),
                metrics: Metrics::default(),
                functions: Vec::new(),
            },
            ident,
            krate: self.model.modules[module].krate,
            module,
            node,
            public,
            owner,
        });
        ctx.nodes.push((id, range));
        id
    }

    fn qualified(&self, module: ModId, name: &str) -> String {
        let m = &self.model.modules[module];
        let mut parts = vec![self.model.crates[m.krate].name.clone()];
        parts.extend(m.path.iter().cloned());
        parts.push(name.to_owned());
        parts.join("::")
    }

    fn define(&mut self, module: ModId, name: String, def: Def, public: bool) {
        if public {
            self.model.modules[module].public.push(def);
        }
        self.model.modules[module]
            .defs
            .entry(name)
            .or_default()
            .push(def);
    }

    /// Collect `items` into `module`.
    fn items(
        &mut self,
        module: ModId,
        items: Vec<SynItem>,
        dir: &str,
        ctx: &mut FileCtx,
    ) -> Result<()> {
        for item in items {
            let attrs: &[syn::Attribute] = match &item {
                SynItem::Const(i) => &i.attrs,
                SynItem::Enum(i) => &i.attrs,
                SynItem::Fn(i) => &i.attrs,
                SynItem::Impl(i) => &i.attrs,
                SynItem::Macro(i) => &i.attrs,
                SynItem::Mod(i) => &i.attrs,
                SynItem::Static(i) => &i.attrs,
                SynItem::Struct(i) => &i.attrs,
                SynItem::Trait(i) => &i.attrs,
                SynItem::Type(i) => &i.attrs,
                SynItem::Union(i) => &i.attrs,
                SynItem::Use(i) => &i.attrs,
                _ => continue,
            };
            if !enabled(attrs, &self.features) {
                continue;
            }
            self.item(module, item, dir, ctx)?;
        }
        Ok(())
    }

    fn item(&mut self, module: ModId, item: SynItem, dir: &str, ctx: &mut FileCtx) -> Result<()> {
        let simple =
            |kind, ident: &syn::Ident, vis: &Visibility| (kind, ident.to_string(), is_public(vis));
        let (kind, ident, public) = match &item {
            SynItem::Mod(m) => return self.module_item(module, m.clone(), dir, ctx),
            SynItem::Use(u) => {
                let mut out = Vec::new();
                flatten_use(
                    &u.tree,
                    &mut Vec::new(),
                    is_public(&u.vis),
                    u.leading_colon.is_some(),
                    &mut out,
                );
                self.model.modules[module].uses.extend(out);
                return Ok(());
            }
            SynItem::Impl(i) => return self.impl_item(module, i.clone(), ctx),
            SynItem::Fn(f) => simple(ItemKind::Fn, &f.sig.ident, &f.vis),
            SynItem::Struct(s) => simple(ItemKind::Struct, &s.ident, &s.vis),
            SynItem::Enum(e) => simple(ItemKind::Enum, &e.ident, &e.vis),
            SynItem::Union(u) => simple(ItemKind::Union, &u.ident, &u.vis),
            SynItem::Trait(t) => simple(ItemKind::Trait, &t.ident, &t.vis),
            SynItem::Type(t) => simple(ItemKind::TypeAlias, &t.ident, &t.vis),
            SynItem::Const(c) => simple(ItemKind::Const, &c.ident, &c.vis),
            SynItem::Static(s) => simple(ItemKind::Static, &s.ident, &s.vis),
            SynItem::Macro(m) => match &m.ident {
                // An invocation at item level (its expansion is not seen) is no item.
                None => return Ok(()),
                Some(i) => (ItemKind::Macro, i.to_string(), true),
            },
            _ => return Ok(()),
        };
        let name = self.qualified(module, &ident);
        let trait_fns: Vec<syn::TraitItemFn> = match &item {
            SynItem::Trait(t) => t
                .items
                .iter()
                .filter_map(|i| match i {
                    TraitItem::Fn(f)
                        if f.default.is_some() && enabled(&f.attrs, &self.features) =>
                    {
                        Some(f.clone())
                    }
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        let node = match item {
            SynItem::Fn(f) => Node::Fn(f),
            SynItem::Struct(s) => Node::Struct(s),
            SynItem::Enum(e) => Node::Enum(e),
            SynItem::Union(u) => Node::Union(u),
            SynItem::Trait(t) => Node::Trait(t),
            SynItem::Type(t) => Node::Type(t),
            SynItem::Const(c) => Node::Const(c),
            SynItem::Static(s) => Node::Static(s),
            SynItem::Macro(m) => Node::Macro(m),
            _ => return Ok(()),
        };
        let id = self.push(
            module,
            ctx,
            kind,
            ident.clone(),
            name.clone(),
            node,
            public,
            None,
        );
        self.define(module, ident, Def::Item(id), public);
        for f in trait_fns {
            let ident = f.sig.ident.to_string();
            let method = format!("{name}::{ident}");
            self.push(
                module,
                ctx,
                ItemKind::Method,
                ident,
                method,
                Node::TraitFn(f),
                true,
                Some(id),
            );
        }
        Ok(())
    }

    fn module_item(
        &mut self,
        module: ModId,
        m: syn::ItemMod,
        dir: &str,
        ctx: &mut FileCtx,
    ) -> Result<()> {
        let name = m.ident.to_string();
        let public = is_public(&m.vis);
        let mut path = self.model.modules[module].path.clone();
        path.push(name.clone());
        let krate = self.model.modules[module].krate;
        let child = match m.content {
            Some((_, items)) => {
                let id = self.module(krate, Some(module), path);
                self.items(id, items, &format!("{dir}{name}/"), ctx)?;
                id
            }
            None => {
                let file_dir = match ctx.path.rfind('/') {
                    Some(at) => &ctx.path[..at + 1],
                    None => "",
                };
                let candidates = match path_attr(&m.attrs) {
                    Some(p) => vec![format!("{file_dir}{p}")],
                    None => vec![format!("{dir}{name}.rs"), format!("{dir}{name}/mod.rs")],
                };
                let file = candidates
                    .iter()
                    .find(|c| self.files.contains_key(c.as_str()))
                    .ok_or_else(|| {
                        missing(&candidates[0], &format!("`mod {name};` in {}", ctx.path))
                    })?
                    .clone();
                let children_dir = if file.ends_with("/mod.rs") {
                    file.trim_end_matches("mod.rs").to_owned()
                } else {
                    format!("{}/", file.trim_end_matches(".rs"))
                };
                self.file(krate, &file, children_dir, path, Some(module))?
            }
        };
        self.define(module, name, Def::Module(child), public);
        Ok(())
    }

    fn impl_item(&mut self, module: ModId, imp: syn::ItemImpl, ctx: &mut FileCtx) -> Result<()> {
        let ty = type_text(&imp.self_ty);
        let trait_ = imp
            .trait_
            .as_ref()
            .and_then(|(_, p, _)| p.segments.last().map(|s| s.ident.to_string()));
        let (header, prefix) = match &trait_ {
            Some(t) => (format!("impl {t} for {ty}"), format!("<{ty} as {t}>")),
            None => (format!("impl {ty}"), ty.clone()),
        };
        let fns: Vec<syn::ImplItemFn> = imp
            .items
            .iter()
            .filter_map(|i| match i {
                ImplItem::Fn(f) if enabled(&f.attrs, &self.features) => Some(f.clone()),
                _ => None,
            })
            .collect();
        let name = self.qualified(module, &header);
        let id = self.push(
            module,
            ctx,
            ItemKind::Impl,
            String::new(),
            name,
            Node::Impl(imp),
            false,
            None,
        );
        for f in fns {
            let ident = f.sig.ident.to_string();
            let public = is_public(&f.vis) || trait_.is_some();
            let name = self.qualified(module, &format!("{prefix}::{ident}"));
            self.push(
                module,
                ctx,
                ItemKind::Method,
                ident,
                name,
                Node::ImplFn(f),
                public,
                Some(id),
            );
        }
        Ok(())
    }
}
