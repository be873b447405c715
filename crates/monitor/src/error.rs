//! The monitor's error type.

use std::path::PathBuf;

/// A monitor failure. Every variant names the file (and line, rule or field) at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MonitorError {
    /// A state file written by a newer floodgate, or a failed schema migration.
    #[error(transparent)]
    Schema(#[from] floodgate_sqlite::MigrateError),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A rules or pack file is invalid; nothing of it is used.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Rules {
        /// The rules file (`<built-in vn>` for the embedded pack).
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// A data file (customers, fiat rates, address lists) has a bad line.
    #[error("{}: line {line}: {message}", path.display())]
    Data {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// What is wrong, naming the field.
        message: String,
    },
    /// The monitor state database failed.
    #[error("{}: {source}", path.display())]
    State {
        /// The database file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: floodgate_sqlite::SqliteError,
    },
    /// The monitor state database holds something this build cannot read.
    #[error("{}: corrupt monitor state: {message}", path.display())]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl MonitorError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        MonitorError::Io { path: path.into(), source }
    }
    pub(crate) fn state(path: &std::path::Path, source: rusqlite::Error) -> Self {
        MonitorError::State { path: path.to_path_buf(), source: source.into() }
    }
    pub(crate) fn data(path: impl Into<PathBuf>, line: u64, message: impl Into<String>) -> Self {
        MonitorError::Data { path: path.into(), line, message: message.into() }
    }
}
