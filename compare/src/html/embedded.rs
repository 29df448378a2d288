//! The whole report as JSON inside the page, for scripts and downloads.

use std::fmt::Write as _;

use crate::report::Report;

/// `<script type="application/json" id="lk-report">` holding `r`.
pub(crate) fn section(out: &mut String, r: &Report) {
    let json = serde_json::to_string(r).expect("a Report always serialises");
    w!(
        out,
        "<script type=\"application/json\" id=\"lk-report\">{}</script>\n",
        json_for_script(&json)
    );
}

/// JSON text that is safe inside `<script>`: `<`, `>` and `&` only occur inside JSON
/// strings, where `\u003c`, `\u003e` and `\u0026` mean the same characters.
fn json_for_script(json: &str) -> String {
    let mut s = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        match c {
            '<' => s.push_str("\\u003c"),
            '>' => s.push_str("\\u003e"),
            '&' => s.push_str("\\u0026"),
            c => s.push(c),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_characters_become_json_escapes() {
        assert_eq!(
            json_for_script(r#"{"a":"</script>&"}"#),
            r#"{"a":"\u003c/script\u003e\u0026"}"#
        );
    }
}
