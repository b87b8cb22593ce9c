//! Why a scenario could not be loaded.

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The text does not follow the scenario grammar.
    #[error("{path}:{line}:{column}: expected {expected}, found {found}")]
    Syntax {
        /// The file (or `<inline>`).
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser expected there.
        expected: String,
        /// What it found, quoted.
        found: String,
    },
    /// The scenario is well-formed but cannot be played.
    #[error("{path}:{line}: {message}")]
    Invalid {
        /// The file (or `<inline>`).
        path: String,
        /// 1-based line.
        line: usize,
        /// What is wrong and how to mend it.
        message: String,
    },
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}
