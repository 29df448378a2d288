//! The walk over a selected item: functions, their decision points, and the match arms a
//! filter leaves out.

use std::collections::BTreeSet;
use std::ops::Range;

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::punctuated::Punctuated;
use syn::visit::{self, Visit};
use syn::{Arm, BinOp, Expr, Token};

/// One function of a measurement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionMetrics {
    /// Its name (the identifier alone, without its type or module).
    pub name: String,
    /// Line of its name.
    pub line: usize,
    /// Byte offset of its `fn` keyword in the file (identifies it within the file).
    pub offset: usize,
    /// McCabe: 1 + its decision points.
    pub cyclomatic: u64,
}

/// The byte range a token covers in its file; `None` for tokens made up rather than read
/// from the source (they have the empty call-site range).
pub(crate) fn byte_range(span: Span) -> Option<Range<usize>> {
    let r = span.byte_range();
    (!r.is_empty()).then_some(r)
}

/// The byte range from the first to the last source token of `tokens`.
pub(crate) fn range_of(tokens: TokenStream) -> Option<Range<usize>> {
    fn add(span: Span, acc: &mut Option<Range<usize>>) {
        if let Some(r) = byte_range(span) {
            *acc = Some(match acc.take() {
                Some(a) => a.start.min(r.start)..a.end.max(r.end),
                None => r,
            });
        }
    }
    fn walk(tokens: TokenStream, acc: &mut Option<Range<usize>>) {
        for tt in tokens {
            match tt {
                TokenTree::Group(g) => {
                    add(g.span_open(), acc);
                    add(g.span_close(), acc);
                    walk(g.stream(), acc);
                }
                TokenTree::Ident(i) => add(i.span(), acc),
                TokenTree::Punct(p) => add(p.span(), acc),
                TokenTree::Literal(l) => add(l.span(), acc),
            }
        }
    }
    let mut acc = None;
    walk(tokens, &mut acc);
    acc
}

/// The last two segments of every path in a pattern (`Decoder::Bids(b)` → `(Decoder,
/// Bids)`).
fn pattern_paths(pat: &syn::Pat) -> BTreeSet<(String, String)> {
    struct Paths(BTreeSet<(String, String)>);
    impl<'ast> Visit<'ast> for Paths {
        fn visit_path(&mut self, p: &'ast syn::Path) {
            let segs: Vec<&syn::PathSegment> = p.segments.iter().collect();
            if let [.., e, v] = segs.as_slice() {
                self.0.insert((e.ident.to_string(), v.ident.to_string()));
            }
            visit::visit_path(self, p);
        }
    }
    let mut paths = Paths(BTreeSet::new());
    paths.visit_pat(pat);
    paths.0
}

/// Walks one selected item (see the crate docs for what counts).
pub(crate) struct Walker<'f> {
    only: &'f [(String, String)],
    /// Whether each filter kept at least one arm.
    pub used: Vec<bool>,
    /// Byte ranges of the arms the filter left out.
    pub dropped: Vec<Range<usize>>,
    /// The functions being walked, innermost last: (name, line, offset, decisions).
    open: Vec<(String, usize, usize, u64)>,
    pub functions: Vec<FunctionMetrics>,
}

impl<'f> Walker<'f> {
    pub fn new(only: &'f [(String, String)]) -> Self {
        Walker {
            only,
            used: vec![false; only.len()],
            dropped: Vec::new(),
            open: Vec::new(),
            functions: Vec::new(),
        }
    }

    fn decide(&mut self, n: u64) {
        // Decisions outside of any function (a const initializer) belong to none.
        if let Some(f) = self.open.last_mut() {
            f.3 += n;
        }
    }

    fn function(&mut self, sig: &syn::Signature, walk: impl FnOnce(&mut Self)) {
        let offset = byte_range(sig.fn_token.span).map_or(0, |r| r.start);
        let line = sig.ident.span().start().line;
        self.open.push((sig.ident.to_string(), line, offset, 0));
        walk(self);
        if let Some((name, line, offset, decisions)) = self.open.pop() {
            self.functions.push(FunctionMetrics {
                name,
                line,
                offset,
                cyclomatic: 1 + decisions,
            });
        }
    }

    /// Which arms of a `match` the filter keeps (all of them without a filter).
    fn keep(&mut self, arms: &[Arm]) -> Vec<bool> {
        let paths: Vec<BTreeSet<(String, String)>> =
            arms.iter().map(|a| pattern_paths(&a.pat)).collect();
        // The filtered enums this match is on: some arm names one of their variants.
        let enums: BTreeSet<&str> = self
            .only
            .iter()
            .map(|(e, _)| e.as_str())
            .filter(|e| paths.iter().flatten().any(|(pe, _)| pe == e))
            .collect();
        let mut keep = Vec::with_capacity(arms.len());
        for arm_paths in &paths {
            let kept = enums.iter().all(|e| {
                let mut variants = arm_paths.iter().filter(|(pe, _)| pe == e).peekable();
                // An arm naming no variant of the enum is generic: kept.
                variants.peek().is_none()
                    || variants.any(|p| self.only.iter().any(|(fe, fv)| fe == &p.0 && fv == &p.1))
            });
            if kept {
                for (i, f) in self.only.iter().enumerate() {
                    if arm_paths.contains(f) {
                        self.used[i] = true;
                    }
                }
            }
            keep.push(kept);
        }
        keep
    }
}

impl<'ast> Visit<'ast> for Walker<'_> {
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
        for a in &m.attrs {
            self.visit_attribute(a);
        }
        self.visit_expr(&m.expr);
        let keep = self.keep(&m.arms);
        let kept = keep.iter().filter(|k| **k).count() as u64;
        self.decide(kept.saturating_sub(1));
        for (arm, keep) in m.arms.iter().zip(keep) {
            if keep {
                if arm.guard.is_some() {
                    self.decide(1);
                }
                self.visit_arm(arm);
            } else if let Some(r) = range_of(quote_arm(arm)) {
                self.dropped.push(r);
            }
        }
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        // Arguments that parse as expressions (format!, vec!, assert!, write!, …) are
        // walked; other macro bodies count for lines only.
        if let Ok(args) = m.parse_body_with(Punctuated::<Expr, Token![,]>::parse_terminated) {
            for e in &args {
                self.visit_expr(e);
            }
        }
    }
}

fn quote_arm(arm: &Arm) -> TokenStream {
    let mut ts = TokenStream::new();
    quote::ToTokens::to_tokens(arm, &mut ts);
    ts
}
