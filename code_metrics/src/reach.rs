//! Entry points and what they reach.

use std::collections::BTreeSet;

use crate::index::Index;
use crate::model::{CrateId, Def, Edge, ItemId, ItemKind, ModId, Model};
use crate::resolve::resolve;

/// The public API of crate `krate`: every `pub` item of its root module, of its `pub
/// mod`s (recursively) and of what their `pub use`s re-export; for a type among them,
/// its `pub` inherent methods; for a trait, its default methods.
pub(crate) fn public_api(model: &Model, index: &Index, krate: CrateId) -> Vec<ItemId> {
    let mut out = BTreeSet::new();
    let mut seen = BTreeSet::new();
    module_api(model, index, model.crates[krate].root, &mut seen, &mut out);
    out.into_iter().collect()
}

fn module_api(
    model: &Model,
    index: &Index,
    m: ModId,
    seen: &mut BTreeSet<ModId>,
    out: &mut BTreeSet<ItemId>,
) {
    if !seen.insert(m) {
        return;
    }
    let mut defs: Vec<Def> = model.modules[m].public.clone();
    for u in model.modules[m].uses.iter().filter(|u| u.public) {
        if let Some(r) = resolve(model, m, &u.path, u.global)
            && r.consumed == u.path.len()
        {
            defs.extend(r.defs);
        }
    }
    for def in defs {
        match def {
            Def::Module(child) => module_api(model, index, child, seen, out),
            Def::Item(id) => item_api(model, index, id, out),
        }
    }
}

fn item_api(model: &Model, index: &Index, id: ItemId, out: &mut BTreeSet<ItemId>) {
    out.insert(id);
    let kind = model.node(id).item.kind;
    if kind.is_type() {
        for &i in index.by_type.get(&id).into_iter().flatten() {
            let imp = &index.impls[i];
            if imp.trait_.is_none() {
                out.extend(
                    imp.methods
                        .iter()
                        .map(|(_, m)| *m)
                        .filter(|m| model.node(*m).public),
                );
            }
        }
    }
    if kind == ItemKind::Trait {
        out.extend(
            index
                .methods
                .values()
                .flatten()
                .copied()
                .filter(|m| model.node(*m).owner == Some(id)),
        );
    }
}

/// Everything `entries` reach within the crates of `scope`: the items their edges name
/// (see [`Edge`]), a method's impl block or trait, and a type's trait impls with all
/// their methods (they run when the type is used: `Drop`, `Display`, `From` through
/// `?`, `Iterator` in a `for`, a trait's methods called through `dyn Trait`).
pub(crate) fn reach(
    model: &Model,
    index: &Index,
    edges: &[Vec<Edge>],
    entries: &[ItemId],
    scope: &BTreeSet<CrateId>,
) -> BTreeSet<ItemId> {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<ItemId> = Vec::new();
    let push = |id: ItemId, seen: &mut BTreeSet<ItemId>, todo: &mut Vec<ItemId>| {
        if scope.contains(&model.node(id).krate) && seen.insert(id) {
            todo.push(id);
        }
    };
    for &e in entries {
        push(e, &mut seen, &mut todo);
    }
    while let Some(id) = todo.pop() {
        let node = model.node(id);
        if let Some(owner) = node.owner {
            push(owner, &mut seen, &mut todo);
        }
        if node.item.kind.is_type() {
            for &i in index.by_type.get(&id).into_iter().flatten() {
                let imp = &index.impls[i];
                if imp.trait_.is_some() {
                    push(imp.item, &mut seen, &mut todo);
                    for (_, m) in &imp.methods {
                        push(*m, &mut seen, &mut todo);
                    }
                }
            }
        }
        for edge in &edges[id.0] {
            match edge {
                Edge::Item(x) => push(*x, &mut seen, &mut todo),
                Edge::TraitMethod(t, name) => {
                    push(*t, &mut seen, &mut todo);
                    if let Some(d) = index.trait_default(model, *t, name) {
                        push(d, &mut seen, &mut todo);
                    }
                    for &i in index.by_trait.get(t).into_iter().flatten() {
                        for (n, m) in &index.impls[i].methods {
                            if n == name {
                                push(*m, &mut seen, &mut todo);
                            }
                        }
                    }
                }
                Edge::ByName(name, from) => {
                    let visible = model.closure(*from);
                    for &m in index.methods.get(name).into_iter().flatten() {
                        if visible.contains(&model.node(m).krate) {
                            push(m, &mut seen, &mut todo);
                        }
                    }
                }
            }
        }
    }
    seen
}
