//! Figures of items and functions.

use std::ops::{Add, AddAssign};

use syn::visit::Visit;

use crate::cognitive::Cognitive;
use crate::cyclomatic::Cyclomatic;

/// Size and complexity figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Metrics {
    /// Lines carrying code (see the crate docs for what counts).
    pub loc: u64,
    /// Functions and methods with a body, nested ones included.
    pub functions: u64,
    /// McCabe's cyclomatic complexity, summed over the functions.
    pub cyclomatic: u64,
    /// Cognitive complexity (SonarSource's definition), summed over the functions.
    pub cognitive: u64,
}

impl AddAssign for Metrics {
    fn add_assign(&mut self, o: Metrics) {
        self.loc += o.loc;
        self.functions += o.functions;
        self.cyclomatic += o.cyclomatic;
        self.cognitive += o.cognitive;
    }
}

impl Add for Metrics {
    type Output = Metrics;

    fn add(mut self, o: Metrics) -> Metrics {
        self += o;
        self
    }
}

impl std::iter::Sum for Metrics {
    fn sum<I: Iterator<Item = Metrics>>(iter: I) -> Metrics {
        iter.fold(Metrics::default(), Add::add)
    }
}

/// One function of an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionMetrics {
    /// Its name (the identifier alone, without its type or module).
    pub name: String,
    /// Line of its name.
    pub line: usize,
    /// McCabe: 1 + its decision points.
    pub cyclomatic: u64,
    /// Its cognitive complexity.
    pub cognitive: u64,
}

/// A syntax node that is a function with a body.
#[derive(Clone, Copy)]
pub(crate) enum FnNode<'a> {
    Item(&'a syn::ItemFn),
    Impl(&'a syn::ImplItemFn),
    Trait(&'a syn::TraitItemFn),
}

impl FnNode<'_> {
    fn walk<'v, V: Visit<'v>>(self, v: &mut V)
    where
        Self: 'v,
    {
        match self {
            FnNode::Item(f) => v.visit_item_fn(f),
            FnNode::Impl(f) => v.visit_impl_item_fn(f),
            FnNode::Trait(f) => v.visit_trait_item_fn(f),
        }
    }
}

/// The function `node` is and the ones nested in it, in the order they end.
pub(crate) fn functions_of(node: FnNode<'_>) -> Vec<FunctionMetrics> {
    let mut cyclomatic = Cyclomatic::default();
    node.walk(&mut cyclomatic);
    let mut cognitive = Cognitive::default();
    node.walk(&mut cognitive);
    cyclomatic
        .functions
        .into_iter()
        .zip(cognitive.functions)
        .map(|((id, cyclomatic), (_, cognitive))| FunctionMetrics {
            name: id.0,
            line: id.1,
            cyclomatic,
            cognitive,
        })
        .collect()
}
