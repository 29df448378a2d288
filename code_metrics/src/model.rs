//! The workspace as collected from its sources: crates, modules, items.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use crate::metrics::{FunctionMetrics, Metrics};

/// A crate of the workspace (index into [`Model::crates`]).
pub(crate) type CrateId = usize;
/// A module (index into [`Model::modules`]).
pub(crate) type ModId = usize;

/// One item of the workspace: an index into its list of items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ItemId(pub(crate) usize);

/// What a name in a module stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Def {
    Item(ItemId),
    Module(ModId),
}

/// A library crate of the workspace.
#[derive(Debug)]
pub(crate) struct Crate {
    /// Its name in paths (`-` made `_`).
    pub name: String,
    /// The workspace crates it depends on (normal dependencies), by the name its code
    /// uses for them.
    pub deps: Vec<(String, CrateId)>,
    /// Its root module.
    pub root: ModId,
}

/// A `use` declaration, one per name it binds (or per glob).
#[derive(Debug, Clone)]
pub(crate) struct Use {
    /// The name it binds; `None` for a glob (`use a::*`).
    pub name: Option<String>,
    /// The path it names (the glob's module for a glob).
    pub path: Vec<String>,
    /// `::a::b`.
    pub global: bool,
    /// `pub use`.
    pub public: bool,
}

/// A module: a file, or an inline `mod name { … }`.
#[derive(Debug)]
pub(crate) struct Module {
    pub krate: CrateId,
    pub parent: Option<ModId>,
    /// Its path from the crate root (empty for the root).
    pub path: Vec<String>,
    /// The names its items define.
    pub defs: HashMap<String, Vec<Def>>,
    /// Its `pub` items and modules (for the crate's public API).
    pub public: Vec<Def>,
    pub uses: Vec<Use>,
}

/// Which kind of item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ItemKind {
    /// A free function.
    Fn,
    /// A method or associated function of an `impl` block, or a trait method with a
    /// default body.
    Method,
    /// A struct.
    Struct,
    /// An enum.
    Enum,
    /// A union.
    Union,
    /// A trait (with its required methods; its default methods are items of their own).
    Trait,
    /// A type alias.
    TypeAlias,
    /// A `const`.
    Const,
    /// A `static`.
    Static,
    /// A `macro_rules!` definition.
    Macro,
    /// An `impl` block's own lines (its header, associated types and consts); its
    /// methods are items of their own.
    Impl,
}

impl ItemKind {
    /// The kind as a word: `fn`, `method`, `struct`, `enum`, `union`, `trait`, `type`,
    /// `const`, `static`, `macro`, `impl`.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Fn => "fn",
            ItemKind::Method => "method",
            ItemKind::Struct => "struct",
            ItemKind::Enum => "enum",
            ItemKind::Union => "union",
            ItemKind::Trait => "trait",
            ItemKind::TypeAlias => "type",
            ItemKind::Const => "const",
            ItemKind::Static => "static",
            ItemKind::Macro => "macro",
            ItemKind::Impl => "impl",
        }
    }

    /// Whether it names a type (what a method can be called on).
    pub(crate) fn is_type(self) -> bool {
        matches!(
            self,
            ItemKind::Struct | ItemKind::Enum | ItemKind::Union | ItemKind::TypeAlias
        )
    }
}

impl fmt::Display for ItemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An item's syntax.
pub(crate) enum Node {
    Fn(syn::ItemFn),
    ImplFn(syn::ImplItemFn),
    TraitFn(syn::TraitItemFn),
    Struct(syn::ItemStruct),
    Enum(syn::ItemEnum),
    Union(syn::ItemUnion),
    Trait(syn::ItemTrait),
    Type(syn::ItemType),
    Const(syn::ItemConst),
    Static(syn::ItemStatic),
    Macro(syn::ItemMacro),
    Impl(syn::ItemImpl),
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Node::Fn(_) => "Fn",
            Node::ImplFn(_) => "ImplFn",
            Node::TraitFn(_) => "TraitFn",
            Node::Struct(_) => "Struct",
            Node::Enum(_) => "Enum",
            Node::Union(_) => "Union",
            Node::Trait(_) => "Trait",
            Node::Type(_) => "Type",
            Node::Const(_) => "Const",
            Node::Static(_) => "Static",
            Node::Macro(_) => "Macro",
            Node::Impl(_) => "Impl",
        })
    }
}

/// What anyone can check of an item: where it is and its figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// Its path: `crate::module::name`, `crate::module::Type::method`,
    /// `crate::module::<Type as Trait>::method`, `crate::module::impl Trait for Type`.
    pub name: String,
    /// Which kind of item.
    pub kind: ItemKind,
    /// Its file, from the workspace root (`kappa/src/task.rs`).
    pub file: String,
    /// Its first and last line (1-based, inclusive; doc comments and attributes
    /// included).
    pub lines: (usize, usize),
    /// Its figures: the lines of code it owns (a method's lines are the method's, not its
    /// `impl` block's), its functions and their complexity.
    pub metrics: Metrics,
    /// Its functions (the item's own, and the ones nested in it).
    pub functions: Vec<FunctionMetrics>,
}

/// An item with what the analysis needs of it.
#[derive(Debug)]
pub(crate) struct ItemNode {
    pub item: Item,
    /// Its identifier (the method's name for a method; empty for an impl block).
    pub ident: String,
    pub krate: CrateId,
    pub module: ModId,
    pub node: Node,
    /// Declared `pub`.
    pub public: bool,
    /// A method's impl block or trait.
    pub owner: Option<ItemId>,
}

/// The collected workspace.
#[derive(Debug, Default)]
pub(crate) struct Model {
    pub crates: Vec<Crate>,
    pub modules: Vec<Module>,
    pub items: Vec<ItemNode>,
}

impl Model {
    /// The item `id`.
    pub fn node(&self, id: ItemId) -> &ItemNode {
        &self.items[id.0]
    }

    /// The crate named `name`.
    pub fn crate_named(&self, name: &str) -> Option<CrateId> {
        self.crates.iter().position(|c| c.name == name)
    }

    /// `krate` and every workspace crate it depends on, directly or not.
    pub fn closure(&self, krate: CrateId) -> BTreeSet<CrateId> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![krate];
        while let Some(c) = todo.pop() {
            if seen.insert(c) {
                todo.extend(self.crates[c].deps.iter().map(|(_, d)| *d));
            }
        }
        seen
    }
}

/// A reference from one item's code to others, before the scope of a pipeline narrows it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Edge {
    /// That item.
    Item(ItemId),
    /// A method of a trait called through the trait (a trait object, a generic bound,
    /// `Trait::method`, `<T as Trait>::method`): the trait's default body and every
    /// impl's method of that name.
    TraitMethod(ItemId, String),
    /// A method call whose receiver's type is not known: every method of that name in
    /// the calling crate and its dependencies.
    ByName(String, CrateId),
}
