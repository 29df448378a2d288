//! McCabe's cyclomatic complexity of each function of a syntax node (see the crate docs
//! for the decision points).

use proc_macro2::Span;
use syn::punctuated::Punctuated;
use syn::visit::{self, Visit};
use syn::{BinOp, Expr, Token};

use crate::tokens::byte_range;

/// A function a walk found: (name, line of its name, byte offset of its `fn`).
pub(crate) type FnId = (String, usize, usize);

/// The identity of the function `sig` declares.
pub(crate) fn fn_id(sig: &syn::Signature) -> FnId {
    let offset = byte_range(sig.fn_token.span).map_or(0, |r| r.start);
    (sig.ident.to_string(), line_of(sig.ident.span()), offset)
}

fn line_of(span: Span) -> usize {
    span.start().line
}

/// Walks one node: each function's `1 + decision points`.
#[derive(Default)]
pub(crate) struct Cyclomatic {
    /// The functions being walked, innermost last: (id, decisions).
    open: Vec<(FnId, u64)>,
    /// The functions walked, in the order they end (nested ones before their parent).
    pub functions: Vec<(FnId, u64)>,
}

impl Cyclomatic {
    fn decide(&mut self, n: u64) {
        // Decisions outside of any function (a const initializer) belong to none.
        if let Some(f) = self.open.last_mut() {
            f.1 += n;
        }
    }

    fn function(&mut self, sig: &syn::Signature, walk: impl FnOnce(&mut Self)) {
        self.open.push((fn_id(sig), 0));
        walk(self);
        if let Some((id, decisions)) = self.open.pop() {
            self.functions.push((id, 1 + decisions));
        }
    }
}

impl<'ast> Visit<'ast> for Cyclomatic {
    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        self.function(&f.sig, |w| visit::visit_item_fn(w, f));
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        self.function(&f.sig, |w| visit::visit_impl_item_fn(w, f));
    }

    fn visit_trait_item_fn(&mut self, f: &'ast syn::TraitItemFn) {
        if f.default.is_some() {
            self.function(&f.sig, |w| visit::visit_trait_item_fn(w, f));
        } else {
            visit::visit_trait_item_fn(self, f);
        }
    }

    fn visit_expr_if(&mut self, e: &'ast syn::ExprIf) {
        self.decide(1);
        visit::visit_expr_if(self, e);
    }

    fn visit_expr_while(&mut self, e: &'ast syn::ExprWhile) {
        self.decide(1);
        visit::visit_expr_while(self, e);
    }

    fn visit_expr_for_loop(&mut self, e: &'ast syn::ExprForLoop) {
        self.decide(1);
        visit::visit_expr_for_loop(self, e);
    }

    fn visit_expr_binary(&mut self, e: &'ast syn::ExprBinary) {
        if matches!(e.op, BinOp::And(_) | BinOp::Or(_)) {
            self.decide(1);
        }
        visit::visit_expr_binary(self, e);
    }

    fn visit_expr_try(&mut self, e: &'ast syn::ExprTry) {
        self.decide(1);
        visit::visit_expr_try(self, e);
    }

    fn visit_local(&mut self, l: &'ast syn::Local) {
        if l.init.as_ref().is_some_and(|i| i.diverge.is_some()) {
            self.decide(1);
        }
        visit::visit_local(self, l);
    }

    fn visit_expr_match(&mut self, m: &'ast syn::ExprMatch) {
        self.decide((m.arms.len() as u64).saturating_sub(1));
        let guards = m.arms.iter().filter(|a| a.guard.is_some()).count();
        self.decide(guards as u64);
        visit::visit_expr_match(self, m);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        for e in &macro_args(m) {
            self.visit_expr(e);
        }
    }
}

/// A macro's arguments when they parse as comma-separated expressions (`format!`,
/// `vec![a, b]`, `assert!`, `write!`…); nothing for other bodies (`tokio::select!`,
/// `vec![x; n]`).
pub(crate) fn macro_args(m: &syn::Macro) -> Punctuated<Expr, Token![,]> {
    m.parse_body_with(Punctuated::<Expr, Token![,]>::parse_terminated)
        .unwrap_or_default()
}
