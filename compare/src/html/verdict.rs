//! The verdict section: the report's plain-language sentences.

use std::fmt::Write as _;

use super::markup::esc;

/// `<section id="verdict">`: one list item per sentence.
pub(crate) fn section(out: &mut String, sentences: &[String]) {
    w!(out, "<section id=\"verdict\">\n<h2>Verdict</h2>\n");
    if sentences.is_empty() {
        w!(out, "<p class=\"note\">The run drew no conclusions.</p>\n");
    } else {
        w!(out, "<ul>\n");
        for s in sentences {
            w!(out, "<li>{}</li>\n", esc(s));
        }
        w!(out, "</ul>\n");
    }
    w!(out, "</section>\n");
}
