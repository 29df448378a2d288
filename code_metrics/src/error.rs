use thiserror::Error;

/// Everything measuring can fail with. Each names the source file it concerns.
#[derive(Debug, Error)]
pub enum MetricsError {
    /// The text is not valid Rust (it does not lex, or does not parse as a file).
    #[error("{file}:{line}:{column}: {message}")]
    Parse {
        /// The file's name.
        file: String,
        /// The line of the error (1-based).
        line: usize,
        /// The column of the error (1-based).
        column: usize,
        /// What the lexer or parser said.
        message: String,
    },
    /// A selector that is not of the forms the crate documents.
    #[error("bad selector {selector:?}: {reason}")]
    Selector {
        /// The selector's text.
        selector: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No item of the file answers to the selector (renamed, moved or removed).
    #[error("{file}: no item {selector}")]
    NotFound {
        /// The file's name.
        file: String,
        /// The selector.
        selector: String,
    },
    /// More than one item answers to the selector.
    #[error("{file}: {selector} names {count} items; make it unique")]
    Ambiguous {
        /// The file's name.
        file: String,
        /// The selector.
        selector: String,
        /// How many items it names.
        count: usize,
    },
    /// A match-arm filter (`[Enum::Variant]`) that kept no arm of any `match` in the item:
    /// the variant was renamed, or the item no longer matches on it.
    #[error("{file}: {selector}: no match arm in the item is for {filter}")]
    UnusedFilter {
        /// The file's name.
        file: String,
        /// The selector.
        selector: String,
        /// The filter that kept no arm, as `Enum::Variant`.
        filter: String,
    },
    /// One function selected twice (e.g. by its `impl` block and by its own name): its
    /// complexity would count twice.
    #[error("{file}: function {function} (line {line}) is selected by both {first} and {second}")]
    Overlap {
        /// The file's name.
        file: String,
        /// The function's name.
        function: String,
        /// The line of its name.
        line: usize,
        /// The selector that added it first.
        first: String,
        /// The selector that selected it again.
        second: String,
    },
}

/// The crate's result type.
pub type Result<T, E = MetricsError> = std::result::Result<T, E>;
