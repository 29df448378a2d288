//! The code tokens of a source file: where each is and the lines it covers. Doc comments
//! (`///`, `//!`, `/** */` and `#[doc = …]`, which is what the lexer makes of them) are
//! not code; comments and blank lines carry no token at all.

use std::ops::Range;

use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};

/// One code token of a file: its byte range and its lines (1-based, end exclusive).
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub bytes: Range<usize>,
    pub lines: Range<usize>,
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

/// The byte range of a syntax node (attributes and doc comments included).
pub(crate) fn node_range(node: &impl quote::ToTokens) -> Option<Range<usize>> {
    let mut tokens = TokenStream::new();
    node.to_tokens(&mut tokens);
    range_of(tokens)
}

/// Whether `group` is the bracket of a doc attribute: `[doc = …]`.
fn is_doc_attribute(group: &proc_macro2::Group) -> bool {
    if group.delimiter() != Delimiter::Bracket {
        return false;
    }
    let mut inner = group.stream().into_iter();
    matches!(
        (inner.next(), inner.next()),
        (Some(TokenTree::Ident(i)), Some(TokenTree::Punct(p))) if i == "doc" && p.as_char() == '='
    )
}

/// The code tokens of a stream, in source order, doc attributes (`#[doc = …]`,
/// `#![doc = …]`) left out.
pub(crate) fn code_tokens(stream: TokenStream, out: &mut Vec<Token>) {
    let push = |span: Span, out: &mut Vec<Token>| {
        if let Some(bytes) = byte_range(span) {
            out.push(Token {
                bytes,
                lines: span.start().line..span.end().line + 1,
            });
        }
    };
    let tts: Vec<TokenTree> = stream.into_iter().collect();
    let mut i = 0;
    while i < tts.len() {
        // `#` [`!`] `[doc = …]`: skip all of it.
        if let TokenTree::Punct(p) = &tts[i]
            && p.as_char() == '#'
        {
            let bang = matches!(tts.get(i + 1), Some(TokenTree::Punct(b)) if b.as_char() == '!');
            let at = i + 1 + usize::from(bang);
            if let Some(TokenTree::Group(g)) = tts.get(at)
                && is_doc_attribute(g)
            {
                i = at + 1;
                continue;
            }
        }
        match &tts[i] {
            TokenTree::Group(g) => {
                push(g.span_open(), out);
                code_tokens(g.stream(), out);
                push(g.span_close(), out);
            }
            TokenTree::Ident(t) => push(t.span(), out),
            TokenTree::Punct(t) => push(t.span(), out),
            TokenTree::Literal(t) => push(t.span(), out),
        }
        i += 1;
    }
}

/// Gives each code line of a file to one owner: the innermost of `ranges` (byte ranges,
/// properly nested or disjoint) that holds the first token on the line (a token spanning
/// several lines gives each of them). Returns, per range, its lines in order; lines whose
/// first token is in no range belong to none.
pub(crate) fn own_lines(tokens: &[Token], ranges: &[Range<usize>]) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..ranges.len()).collect();
    // Outer before inner: by start, then the longer first.
    order.sort_by_key(|&i| (ranges[i].start, std::cmp::Reverse(ranges[i].end)));
    let mut owned = vec![Vec::new(); ranges.len()];
    let mut taken = std::collections::BTreeSet::new();
    let mut open: Vec<usize> = Vec::new();
    let mut next = 0;
    for t in tokens {
        while open.last().is_some_and(|&i| ranges[i].end <= t.bytes.start) {
            open.pop();
        }
        while next < order.len() && ranges[order[next]].start <= t.bytes.start {
            let i = order[next];
            next += 1;
            if ranges[i].end > t.bytes.start {
                while open
                    .last()
                    .is_some_and(|&o| ranges[o].end <= ranges[i].start)
                {
                    open.pop();
                }
                open.push(i);
            }
        }
        for line in t.lines.clone() {
            if taken.insert(line)
                && let Some(&owner) = open.last()
            {
                owned[owner].push(line);
            }
        }
    }
    owned
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(src: &str) -> Vec<Token> {
        let mut out = Vec::new();
        code_tokens(src.parse().unwrap(), &mut out);
        out
    }

    #[test]
    fn lines_go_to_the_innermost_range_of_their_first_token() {
        let src = "impl A {\n    fn f() {}\n\n    fn g() {\n        1\n    }\n}\nstruct B;\n";
        let t = tokens(src);
        let at = |s: &str| src.find(s).unwrap();
        let ranges = [
            0..src.find("}\nstruct").unwrap() + 1,
            at("fn f")..at("fn f") + 9,
            at("fn g")..at("    }\n}") + 5,
            at("struct B")..src.len() - 1,
        ];
        let owned = own_lines(&t, &ranges);
        assert_eq!(owned, [vec![1, 7], vec![2], vec![4, 5, 6], vec![8]]);
    }
}
