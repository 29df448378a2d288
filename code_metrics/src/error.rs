use thiserror::Error;

/// Everything measuring can fail with. Each names the source file it concerns.
#[derive(Debug, Error)]
pub enum MetricsError {
    /// The text is not valid Rust (it does not lex, or does not parse as a file).
    #[error("{file}:{line}:{column}: {message}")]
    Parse {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// A selector that is not of the forms the crate documents.
    #[error("bad selector {selector:?}: {reason}")]
    Selector { selector: String, reason: String },
    /// No item of the file answers to the selector (renamed, moved or removed).
    #[error("{file}: no item {selector}")]
    NotFound { file: String, selector: String },
    /// More than one item answers to the selector.
    #[error("{file}: {selector} names {count} items; make it unique")]
    Ambiguous {
        file: String,
        selector: String,
        count: usize,
    },
    /// A match-arm filter (`[Enum::Variant]`) that kept no arm of any `match` in the item:
    /// the variant was renamed, or the item no longer matches on it.
    #[error("{file}: {selector}: no match arm in the item is for {filter}")]
    UnusedFilter {
        file: String,
        selector: String,
        filter: String,
    },
    /// One function selected twice (e.g. by its `impl` block and by its own name): its
    /// complexity would count twice.
    #[error("{file}: function {function} (line {line}) is selected by both {first} and {second}")]
    Overlap {
        file: String,
        function: String,
        line: usize,
        first: String,
        second: String,
    },
}

/// The crate's result type.
pub type Result<T, E = MetricsError> = std::result::Result<T, E>;
