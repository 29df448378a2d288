//! What the complexity figures count: the items charged to each pipeline and the shared
//! ones, each with its file, lines and figures, so that anyone can check them.

use std::fmt::Write as _;

use super::markup::esc;
use crate::format::count;
use crate::report::{CodeItem, Pipelines};

/// One row of the totals table.
fn totals_row(out: &mut String, name: &str, items: usize, figures: [u64; 4]) {
    let [loc, functions, cyclomatic, cognitive] = figures;
    w!(
        out,
        "<tr><th>{name}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
        count(items as u64),
        count(loc),
        count(functions),
        count(cyclomatic),
        count(cognitive)
    );
}

/// A folded table of `items`.
fn item_table(out: &mut String, name: &str, key: &str, items: &[CodeItem]) {
    w!(
        out,
        "<details><summary>{name}: {} items</summary>\n<table class=\"counted\" data-counted=\"{key}\">\n\
         <tr><th>item</th><th>kind</th><th>file:lines</th><th>lines of code</th>\
         <th>cyclomatic</th><th>cognitive</th></tr>\n",
        count(items.len() as u64)
    );
    for i in items {
        w!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td><code>{}:{}–{}</code></td>\
             <td>{}</td><td>{}</td><td>{}</td></tr>\n",
            esc(&i.name),
            esc(&i.kind),
            esc(&i.file),
            i.first_line,
            i.last_line,
            count(i.loc),
            count(i.cyclomatic),
            count(i.cognitive)
        );
    }
    w!(out, "</table>\n</details>\n");
}

/// `<section id="counted">`: the rule, a totals table, and a folded table of items per
/// pipeline and for the shared code.
pub(crate) fn section(out: &mut String, p: &Pipelines) {
    w!(
        out,
        "<section id=\"counted\">\n<h2>What the complexity counts</h2>\n\
         <p>Every item the public API of the <code>lambda</code> and the <code>kappa</code> \
         crate reaches through the workspace's call graph; an item both reach is shared and \
         charged to neither.</p>\n\
         <table class=\"counted-totals\">\n<tr><th></th><th>items</th><th>lines of code</th>\
         <th>functions</th><th>cyclomatic</th><th>cognitive</th></tr>\n"
    );
    let (l, k) = (&p.lambda.complexity, &p.kappa.complexity);
    totals_row(
        out,
        "Lambda",
        l.items.len(),
        [l.loc, l.functions, l.cyclomatic, l.cognitive],
    );
    totals_row(
        out,
        "Kappa",
        k.items.len(),
        [k.loc, k.functions, k.cyclomatic, k.cognitive],
    );
    let shared = l.shared.as_ref().or(k.shared.as_ref());
    if let Some(s) = shared {
        totals_row(
            out,
            "shared",
            s.items.len(),
            [s.loc, s.functions, s.cyclomatic, s.cognitive],
        );
    }
    w!(out, "</table>\n");
    item_table(out, "Lambda", "lambda", &l.items);
    item_table(out, "Kappa", "kappa", &k.items);
    if let Some(s) = shared {
        item_table(out, "Shared (charged to neither)", "shared", &s.items);
    }
    w!(out, "</section>\n");
}
