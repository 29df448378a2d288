//! Cognitive complexity of each function of a syntax node: G. Ann Campbell's definition
//! (SonarSource, "Cognitive Complexity — a new way of measuring understandability",
//! 2016–2023), applied to Rust as follows.
//!
//! - **Structural increments, +1 plus the nesting level**: `if` and `if let`, `match`
//!   (once for the whole `match`, as a `switch`), `for`, `while`, `while let` and `loop`,
//!   and `let … else` (a refutable pattern whose failure leaves the flow: a branch the
//!   reader follows, unlike `?`).
//! - **Hybrid increments, +1 without nesting**: `else if` and `else`.
//! - **Fundamental increments, +1**: each sequence of like binary logical operators
//!   (`a && b && c` is one, `a && b || c` two; a parenthesised or negated group starts its
//!   own sequences, so `a && !(b && c)` is two), each `break 'label` and `continue
//!   'label`, and a function that calls itself (direct recursion: `name(…)` in a free
//!   function, `Self::name(…)` or `self.name(…)` in a method), once per function.
//! - **Nesting**: the bodies of the structures above (a branch, an arm, a loop body, the
//!   `else` of a `let … else`) and of closures are one level deeper. Closures add no
//!   increment of their own; their increments count for the function that holds them.
//! - **Free**: `?`, `return`, early exits in general, and the function's own body.
//!
//! The paper counts a method nested in another toward the outer one; here a nested
//! `fn` is a function of its own (as for cyclomatic complexity), starting at nesting 0.
//! Macro arguments that parse as expressions are walked like code, as for cyclomatic
//! complexity.

use syn::visit::{self, Visit};
use syn::{BinOp, Expr, ExprBinary};

use crate::cyclomatic::{FnId, fn_id, macro_args};

/// One function being walked.
struct Open {
    id: FnId,
    score: u64,
    nesting: u64,
    /// Whether it is a method (`Self::name` and `self.name` recurse).
    method: bool,
    recursive: bool,
}

/// Walks one node: each function's cognitive complexity.
#[derive(Default)]
pub(crate) struct Cognitive {
    open: Vec<Open>,
    /// The functions walked, in the order they end (nested ones before their parent).
    pub functions: Vec<(FnId, u64)>,
}

fn is_logical(op: &BinOp) -> bool {
    matches!(op, BinOp::And(_) | BinOp::Or(_))
}

/// The operators (true for `&&`) and operands of a chain of logical operators, left to
/// right; parentheses and negations end the chain (their inside is an operand).
fn flatten<'a>(e: &'a ExprBinary, ops: &mut Vec<bool>, operands: &mut Vec<&'a Expr>) {
    let side = |x: &'a Expr, ops: &mut Vec<bool>, operands: &mut Vec<&'a Expr>| match x {
        Expr::Binary(b) if is_logical(&b.op) && b.attrs.is_empty() => flatten(b, ops, operands),
        other => operands.push(other),
    };
    side(&e.left, ops, operands);
    ops.push(matches!(e.op, BinOp::And(_)));
    side(&e.right, ops, operands);
}

impl Cognitive {
    fn add(&mut self, n: u64) {
        if let Some(f) = self.open.last_mut() {
            f.score += n;
        }
    }

    /// +1 plus the nesting level.
    fn structural(&mut self) {
        let nesting = self.open.last().map_or(0, |f| f.nesting);
        self.add(1 + nesting);
    }

    /// Walk something one nesting level deeper.
    fn nested(&mut self, walk: impl FnOnce(&mut Self)) {
        if let Some(f) = self.open.last_mut() {
            f.nesting += 1;
        }
        walk(self);
        if let Some(f) = self.open.last_mut() {
            f.nesting -= 1;
        }
    }

    fn function(&mut self, sig: &syn::Signature, method: bool, walk: impl FnOnce(&mut Self)) {
        self.open.push(Open {
            id: fn_id(sig),
            score: 0,
            nesting: 0,
            method,
            recursive: false,
        });
        walk(self);
        if let Some(f) = self.open.pop() {
            self.functions
                .push((f.id, f.score + u64::from(f.recursive)));
        }
    }

    /// Marks the current function recursive when `path` names it.
    fn call_path(&mut self, path: &syn::Path) {
        let Some(f) = self.open.last_mut() else {
            return;
        };
        let segs: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        let itself = match segs.as_slice() {
            [name] => !f.method && *name == f.id.0,
            [ty, name] => f.method && ty == "Self" && *name == f.id.0,
            _ => false,
        };
        f.recursive |= itself;
    }
}

impl<'ast> Visit<'ast> for Cognitive {
    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        self.function(&f.sig, false, |w| visit::visit_item_fn(w, f));
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        self.function(&f.sig, true, |w| visit::visit_impl_item_fn(w, f));
    }

    fn visit_trait_item_fn(&mut self, f: &'ast syn::TraitItemFn) {
        if f.default.is_some() {
            self.function(&f.sig, true, |w| visit::visit_trait_item_fn(w, f));
        } else {
            visit::visit_trait_item_fn(self, f);
        }
    }

    fn visit_expr_if(&mut self, e: &'ast syn::ExprIf) {
        self.structural();
        self.visit_expr(&e.cond);
        self.nested(|w| w.visit_block(&e.then_branch));
        let mut next = &e.else_branch;
        while let Some((_, branch)) = next {
            // `else if` and `else`: +1, no nesting increment.
            self.add(1);
            match &**branch {
                Expr::If(inner) => {
                    self.visit_expr(&inner.cond);
                    self.nested(|w| w.visit_block(&inner.then_branch));
                    next = &inner.else_branch;
                }
                other => {
                    self.nested(|w| w.visit_expr(other));
                    break;
                }
            }
        }
    }

    fn visit_expr_match(&mut self, m: &'ast syn::ExprMatch) {
        self.structural();
        self.visit_expr(&m.expr);
        self.nested(|w| {
            for arm in &m.arms {
                w.visit_arm(arm);
            }
        });
    }

    fn visit_expr_for_loop(&mut self, e: &'ast syn::ExprForLoop) {
        self.structural();
        self.visit_pat(&e.pat);
        self.visit_expr(&e.expr);
        self.nested(|w| w.visit_block(&e.body));
    }

    fn visit_expr_while(&mut self, e: &'ast syn::ExprWhile) {
        self.structural();
        self.visit_expr(&e.cond);
        self.nested(|w| w.visit_block(&e.body));
    }

    fn visit_expr_loop(&mut self, e: &'ast syn::ExprLoop) {
        self.structural();
        self.nested(|w| w.visit_block(&e.body));
    }

    fn visit_local(&mut self, l: &'ast syn::Local) {
        self.visit_pat(&l.pat);
        if let Some(init) = &l.init {
            self.visit_expr(&init.expr);
            if let Some((_, diverge)) = &init.diverge {
                self.structural();
                self.nested(|w| w.visit_expr(diverge));
            }
        }
    }

    fn visit_expr_closure(&mut self, c: &'ast syn::ExprClosure) {
        self.nested(|w| visit::visit_expr_closure(w, c));
    }

    fn visit_expr_break(&mut self, e: &'ast syn::ExprBreak) {
        if e.label.is_some() {
            self.add(1);
        }
        visit::visit_expr_break(self, e);
    }

    fn visit_expr_continue(&mut self, e: &'ast syn::ExprContinue) {
        if e.label.is_some() {
            self.add(1);
        }
        visit::visit_expr_continue(self, e);
    }

    fn visit_expr_binary(&mut self, e: &'ast ExprBinary) {
        if !is_logical(&e.op) {
            return visit::visit_expr_binary(self, e);
        }
        let (mut ops, mut operands) = (Vec::new(), Vec::new());
        flatten(e, &mut ops, &mut operands);
        let sequences = 1 + ops.windows(2).filter(|w| w[0] != w[1]).count();
        self.add(sequences as u64);
        for x in operands {
            self.visit_expr(x);
        }
    }

    fn visit_expr_call(&mut self, e: &'ast syn::ExprCall) {
        if let Expr::Path(p) = &*e.func {
            self.call_path(&p.path);
        }
        visit::visit_expr_call(self, e);
    }

    fn visit_expr_method_call(&mut self, e: &'ast syn::ExprMethodCall) {
        if let Expr::Path(p) = &*e.receiver
            && p.path.is_ident("self")
            && let Some(f) = self.open.last_mut()
            && f.method
            && e.method == f.id.0
        {
            f.recursive = true;
        }
        visit::visit_expr_method_call(self, e);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        for e in &macro_args(m) {
            self.visit_expr(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each function of `src` with its cognitive complexity, in the order they end.
    fn cognitive(src: &str) -> Vec<(String, u64)> {
        let file = syn::parse_file(src).unwrap();
        let mut w = Cognitive::default();
        w.visit_file(&file);
        w.functions.into_iter().map(|(id, c)| (id.0, c)).collect()
    }

    fn one(src: &str) -> u64 {
        match cognitive(src).as_slice() {
            [(_, c)] => *c,
            other => panic!("not one function: {other:?}"),
        }
    }

    #[test]
    fn the_papers_sum_of_primes_is_7() {
        // The paper's `sumOfPrimes`: loops nest, the labelled continue is +1.
        let src = r#"
fn sum_of_primes(max: u64) -> u64 {
    let mut total = 0;
    'out: for i in 1..=max {   // +1
        for j in 2..i {        // +2 (nesting 1)
            if i % j == 0 {    // +3 (nesting 2)
                continue 'out; // +1
            }
        }
        total += i;
    }
    total
}"#;
        assert_eq!(one(src), 7);
    }

    #[test]
    fn the_papers_get_words_switch_is_1() {
        let src = r#"
fn get_words(number: u32) -> &'static str {
    match number {             // +1, however many arms
        1 => "one",
        2 => "a couple",
        3 => "a few",
        _ => "lots",
    }
}"#;
        assert_eq!(one(src), 1);
    }

    #[test]
    fn sequences_of_like_logical_operators_count_once() {
        // The paper: `a && b && c || d || e && f` is +3 beside the `if`'s +1 …
        assert_eq!(
            one(
                "fn f(a: bool, b: bool, c: bool, d: bool, e: bool, g: bool) { if a && b && c || d || e && g {} }"
            ),
            4
        );
        // … and `a && !(b && c)` is +2.
        assert_eq!(
            one("fn f(a: bool, b: bool, c: bool) { if a && !(b && c) {} }"),
            3
        );
        assert_eq!(one("fn f(a: bool, b: bool) -> bool { a && b }"), 1);
        assert_eq!(
            one("fn f(a: bool, b: bool, c: bool) -> bool { a || b || c }"),
            1
        );
    }

    #[test]
    fn nesting_adds_its_level_to_each_structure() {
        // The paper's `myMethod` without its try/catch: if +1, for +2, while +3.
        let src = r#"
fn my_method(c1: bool, c2: bool) {
    if c1 {
        for _ in 0..10 {
            while c2 {}
        }
    }
}"#;
        assert_eq!(one(src), 6);
        // `loop`, `while let`, `if let` are structures too.
        let src = "fn f(mut v: Vec<u8>) { loop { while let Some(x) = v.pop() { if let 1 = x { break; } } } }";
        assert_eq!(one(src), 1 + 2 + 3);
    }

    #[test]
    fn else_if_and_else_are_plus_one_without_nesting() {
        assert_eq!(
            one("fn f(a: bool, b: bool) { if a {} else if b {} else {} }"),
            3
        );
        // Inside a loop: the `if` carries the nesting, `else if` and `else` do not.
        assert_eq!(
            one("fn f(a: bool, b: bool) { for _ in 0..2 { if a {} else if b {} else {} } }"),
            1 + 2 + 1 + 1
        );
        // A structure inside an `else` is nested.
        assert_eq!(
            one("fn f(a: bool, b: bool) { if a {} else { if b {} } }"),
            1 + 1 + 2
        );
    }

    #[test]
    fn closures_nest_without_an_increment_of_their_own() {
        // The paper's `myMethod2`: a lambda raises the nesting of what it holds.
        assert_eq!(one("fn f(c1: bool) { let r = || { if c1 {} }; r(); }"), 2);
    }

    #[test]
    fn shorthand_and_early_exits_are_free_let_else_is_a_branch() {
        let src =
            "fn f(x: Option<u8>) -> Option<u8> { let y = x?; if y == 0 { return None; } Some(y) }";
        assert_eq!(one(src), 1);
        let src = "fn f(x: Option<u8>) -> u8 { let Some(y) = x else { return 0 }; y }";
        assert_eq!(one(src), 1);
        let src = "fn f(x: Option<u8>) -> u8 { for _ in 0..1 { let Some(_) = x else { if true { return 1 } return 0 }; } 2 }";
        // for +1, let-else +2 (nesting 1), the if in its else +3 (nesting 2).
        assert_eq!(one(src), 6);
    }

    #[test]
    fn recursion_is_plus_one_per_function_and_nested_fns_count_for_themselves() {
        let src = "fn fact(n: u64) -> u64 { if n == 0 { 1 } else { n * fact(n - 1) } }";
        assert_eq!(one(src), 3);
        let src = r#"
struct S;
impl S {
    fn walk(&self, n: u32) -> u32 { if n > 0 { self.walk(n - 1) + Self::walk(self, 0) } else { 0 } }
}"#;
        assert_eq!(one(src), 3);
        let src = r#"
fn outer(v: &[u8]) -> usize {
    fn inner(x: u8) -> bool { if x > 1 { true } else { false } }
    v.iter().filter(|x| inner(**x)).count()
}"#;
        assert_eq!(
            cognitive(src),
            [("inner".to_owned(), 2), ("outer".to_owned(), 0)]
        );
    }

    #[test]
    fn labelled_jumps_count_plain_ones_do_not() {
        assert_eq!(one("fn f() { 'a: loop { loop { break 'a; } } }"), 1 + 2 + 1);
        assert_eq!(one("fn f() { loop { break; } }"), 1);
    }

    #[test]
    fn macro_arguments_are_code() {
        assert_eq!(
            one(r#"fn f(a: bool) -> String { format!("{}", if a { 1 } else { 2 }) }"#),
            2
        );
    }
}
