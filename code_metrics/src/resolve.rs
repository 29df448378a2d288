//! Paths to the items they name, within the workspace: `crate::`, `self::`, `super::`,
//! the names a module defines, its `use` declarations (renames, groups and globs, `pub
//! use` re-exports followed), and the workspace crates the module's crate depends on. A
//! path into anything else (`std`, other crates) names nothing here.

use crate::model::{Def, ItemId, ModId, Model};

/// How deep use declarations may refer to one another (a cycle of globs ends here).
const MAX_DEPTH: usize = 24;

/// What a path names: the definitions of its longest resolved prefix, and how many of
/// its segments that prefix has. When fewer than all, the prefix is one type or trait
/// item and the rest are its associated items (`Type::method`, `Enum::Variant`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolution {
    pub defs: Vec<Def>,
    pub consumed: usize,
}

impl Resolution {
    /// The items it names (modules left out).
    pub fn items(&self) -> impl Iterator<Item = ItemId> + '_ {
        self.defs.iter().filter_map(|d| match d {
            Def::Item(i) => Some(*i),
            Def::Module(_) => None,
        })
    }
}

fn root_of(model: &Model, m: ModId) -> ModId {
    model.crates[model.modules[m].krate].root
}

/// The root module of the workspace crate `name` as the crate of `from` calls it.
fn extern_crate(model: &Model, from: ModId, name: &str) -> Option<ModId> {
    let krate = &model.crates[model.modules[from].krate];
    krate
        .deps
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, c)| model.crates[*c].root)
}

thread_local! {
    /// The (module, name) lookups under way on this thread: a use declaration that
    /// leads back to one of them (through globs, say) finds nothing there.
    static UNDER_WAY: std::cell::RefCell<Vec<(ModId, String)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The definitions `name` has in module `m`: its items, then its uses, then its globs.
pub(crate) fn lookup(model: &Model, m: ModId, name: &str, depth: usize) -> Vec<Def> {
    if depth > MAX_DEPTH {
        return Vec::new();
    }
    let module = &model.modules[m];
    if let Some(defs) = module.defs.get(name) {
        return defs.clone();
    }
    let key = (m, name.to_owned());
    if UNDER_WAY.with_borrow(|u| u.contains(&key)) {
        return Vec::new();
    }
    UNDER_WAY.with_borrow_mut(|u| u.push(key));
    let out = lookup_uses(model, m, name, depth);
    UNDER_WAY.with_borrow_mut(|u| u.pop());
    out
}

fn lookup_uses(model: &Model, m: ModId, name: &str, depth: usize) -> Vec<Def> {
    let module = &model.modules[m];
    let mut out = Vec::new();
    for u in module
        .uses
        .iter()
        .filter(|u| u.name.as_deref() == Some(name))
    {
        if let Some(r) = resolve_at(model, m, &u.path, u.global, depth + 1)
            && r.consumed == u.path.len()
        {
            out.extend(r.defs);
        }
    }
    if !out.is_empty() {
        return out;
    }
    for u in module.uses.iter().filter(|u| u.name.is_none()) {
        let Some(r) = resolve_at(model, m, &u.path, u.global, depth + 1) else {
            continue;
        };
        match r.defs.first() {
            Some(Def::Module(g)) if r.consumed == u.path.len() => {
                out.extend(lookup(model, *g, name, depth + 1));
            }
            // `use Enum::*`: the variant names the enum.
            Some(Def::Item(e)) if r.consumed == u.path.len() => {
                if let crate::model::Node::Enum(en) = &model.node(*e).node
                    && en.variants.iter().any(|v| v.ident == name)
                {
                    out.push(Def::Item(*e));
                }
            }
            _ => {}
        }
        if !out.is_empty() {
            return out;
        }
    }
    out
}

/// Resolve `segs` as written in module `from`.
pub(crate) fn resolve(
    model: &Model,
    from: ModId,
    segs: &[String],
    global: bool,
) -> Option<Resolution> {
    resolve_at(model, from, segs, global, 0)
}

fn resolve_at(
    model: &Model,
    from: ModId,
    segs: &[String],
    global: bool,
    depth: usize,
) -> Option<Resolution> {
    let first = segs.first()?;
    let (mut defs, mut i) = if global {
        (vec![Def::Module(extern_crate(model, from, first)?)], 1)
    } else {
        match first.as_str() {
            "crate" => (vec![Def::Module(root_of(model, from))], 1),
            "self" => (vec![Def::Module(from)], 1),
            "super" => {
                let mut m = from;
                let mut i = 0;
                while segs.get(i).is_some_and(|s| s == "super") {
                    m = model.modules[m].parent?;
                    i += 1;
                }
                (vec![Def::Module(m)], i)
            }
            _ => {
                let found = lookup(model, from, first, depth);
                if found.is_empty() {
                    (vec![Def::Module(extern_crate(model, from, first)?)], 1)
                } else {
                    (found, 1)
                }
            }
        }
    };
    while i < segs.len() {
        // Through a module; stop at a type (the rest is associated).
        let module = defs.iter().find_map(|d| match d {
            Def::Module(m) => Some(*m),
            Def::Item(_) => None,
        });
        match module {
            Some(m) => {
                let next = lookup(model, m, &segs[i], depth + 1);
                if next.is_empty() {
                    return None;
                }
                defs = next;
                i += 1;
            }
            None => {
                let ty = defs.iter().copied().find(|d| match d {
                    Def::Item(id) => {
                        let k = model.node(*id).item.kind;
                        k.is_type() || k == crate::model::ItemKind::Trait
                    }
                    Def::Module(_) => false,
                })?;
                return Some(Resolution {
                    defs: vec![ty],
                    consumed: i,
                });
            }
        }
    }
    Some(Resolution { defs, consumed: i })
}
