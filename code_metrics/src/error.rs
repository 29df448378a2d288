use thiserror::Error;

/// Everything measuring can fail with. Each names the file or crate it concerns.
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
    /// A `Cargo.toml` that does not say what the analysis needs.
    #[error("{file}: {message}")]
    Manifest {
        /// The manifest's path.
        file: String,
        /// What is wrong with it.
        message: String,
    },
    /// A file the workspace needs is not among the sources given (a member's manifest, a
    /// crate's root, the file of a `mod name;`).
    #[error("{file}: not among the sources (needed by {needed_by})")]
    MissingFile {
        /// The path looked for (the first of the candidates for a module).
        file: String,
        /// What needs it.
        needed_by: String,
    },
    /// A crate that is not a library member of the workspace.
    #[error("no library crate {name} in the workspace")]
    UnknownCrate {
        /// The name asked for.
        name: String,
    },
}

/// The crate's result type.
pub type Result<T, E = MetricsError> = std::result::Result<T, E>;
