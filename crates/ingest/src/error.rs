//! The ingest error type.

use std::fmt;
use std::path::PathBuf;

use crate::SinkError;

/// Where in a file a problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Location {
    /// A byte offset (binary formats).
    Offset(u64),
    /// A 1-based line (CSV, JSON Lines).
    Line(u64),
    /// A 1-based line and a field or column name.
    LineField(u64, String),
    /// A path inside a JSON document, such as `transactions[3].value`.
    Field(String),
    /// The whole file.
    File,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Offset(o) => write!(f, "byte offset {o}"),
            Location::Line(l) => write!(f, "line {l}"),
            Location::LineField(l, field) => write!(f, "line {l}, field '{field}'"),
            Location::Field(p) => write!(f, "field '{p}'"),
            Location::File => f.write_str("file"),
        }
    }
}

/// An ingestion failure. Every variant names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// The file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The content is not what the format requires.
    #[error("{}: {at}: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Where.
        at: Location,
        /// What is wrong, in words a user can act on.
        reason: String,
    },
    /// The content matches no format this reader knows.
    #[error("{}: unrecognized format: {reason}", path.display())]
    UnknownFormat {
        /// The file.
        path: PathBuf,
        /// What was seen.
        reason: String,
    },
    /// The sink (usually the store) refused a block.
    #[error("{}: {at}: {source}", path.display())]
    Sink {
        /// The file.
        path: PathBuf,
        /// Where the block came from.
        at: Location,
        /// The sink's error.
        #[source]
        source: SinkError,
    },
}

impl IngestError {
    /// Shorthand for [`IngestError::Invalid`].
    pub fn invalid(path: impl Into<PathBuf>, at: Location, reason: impl Into<String>) -> Self {
        IngestError::Invalid { path: path.into(), at, reason: reason.into() }
    }
}
