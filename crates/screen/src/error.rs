//! Errors of the screening crate.

use std::path::PathBuf;

/// Everything that can go wrong while loading lists or screening.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScreenError {
    /// A list file could not be opened or read.
    #[error("cannot read list file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A list file is malformed. `location` names the line, record or XML element.
    #[error("malformed list file {path} at {location}: {reason}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// Line number, record number or XML element path (with byte offset) of the problem.
        location: String,
        /// What is wrong.
        reason: String,
    },
    /// The format of a file could not be told from its name or content.
    #[error("cannot tell the list format of {path}: {reason}")]
    UnknownFormat {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A generic-CSV mapping is invalid (missing column, unknown field).
    #[error("invalid CSV mapping for {path}: {reason}")]
    Mapping {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A database written by a newer floodgate, or a failed schema migration.
    #[error(transparent)]
    Schema(#[from] floodgate_sqlite::MigrateError),
    /// The screening database failed.
    #[error("screening database {path}: {source}")]
    Db {
        /// The database file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: floodgate_sqlite::SqliteError,
    },
    /// Stored data in the screening database is corrupt.
    #[error("corrupt record in screening database {path}: {reason}")]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A list load was refused because the new version has no entries.
    #[error("refusing to load list {list} from {source_path}: it has no entries (before: {before}, after: 0); the loaded version stays in force")]
    EmptyList {
        /// The list.
        list: String,
        /// Where the new version came from.
        source_path: String,
        /// Entries of the version in force.
        before: usize,
    },
    /// A list load was refused because it would drop more than the allowed share of entries.
    #[error("refusing to load list {list} from {source_path}: it would shrink from {before} to {after} entries (-{dropped_percent}%, more than the {max_percent}% allowed); the loaded version stays in force")]
    Shrink {
        /// The list.
        list: String,
        /// Where the new version came from.
        source_path: String,
        /// Entries of the version in force.
        before: usize,
        /// Entries of the new version.
        after: usize,
        /// The share dropped, in percent (rounded up).
        dropped_percent: u64,
        /// The largest share allowed, in percent.
        max_percent: u32,
    },
    /// A query was invalid (empty name, bad address).
    #[error("invalid query: {0}")]
    Query(String),
    /// No such list or entity.
    #[error("not found: {0}")]
    NotFound(String),
}

impl ScreenError {
    pub(crate) fn malformed(
        path: &std::path::Path,
        location: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        ScreenError::Malformed {
            path: path.to_path_buf(),
            location: location.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        ScreenError::Io { path: path.to_path_buf(), source }
    }
}

/// Result alias of this crate.
pub type Result<T, E = ScreenError> = std::result::Result<T, E>;
