//! What the complexity figures count: each pipeline's counted items, folded.

use std::fmt::Write as _;

use super::markup::esc;
use crate::format::count;
use crate::report::Pipelines;

/// `<section id="counted">`: a `<details>` list of counted items per pipeline.
pub(crate) fn section(out: &mut String, p: &Pipelines) {
    w!(
        out,
        "<section id=\"counted\">\n<h2>What the complexity counts</h2>\n"
    );
    for (name, c) in [
        ("Lambda", &p.lambda.complexity),
        ("Kappa", &p.kappa.complexity),
    ] {
        w!(
            out,
            "<details><summary>{name}: {} items</summary>\n<ul>\n",
            count(c.items.len() as u64)
        );
        for item in &c.items {
            w!(out, "<li>{}</li>\n", esc(item));
        }
        w!(out, "</ul>\n</details>\n");
    }
    w!(out, "</section>\n");
}
