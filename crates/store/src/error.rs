//! The store error type.

use std::path::{Path, PathBuf};

use floodgate_types::{Chain, Hash32};

/// A store failure. Every variant names the store file or the record at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The data directory could not be used.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// SQLite refused an operation.
    #[error("{}: {source}", path.display())]
    Sqlite {
        /// The store file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: floodgate_sqlite::SqliteError,
    },
    /// The file fails SQLite's integrity check.
    #[error("{}: store is corrupt: {detail}", path.display())]
    Corrupt {
        /// The store file.
        path: PathBuf,
        /// SQLite's findings.
        detail: String,
    },
    /// The store's file version is newer than this build, or a schema migration failed.
    #[error(transparent)]
    Schema(#[from] floodgate_sqlite::MigrateError),
    /// The store was written by a newer floodgate.
    #[error("{}: store schema version {found} is newer than this build understands ({supported})", path.display())]
    SchemaTooNew {
        /// The store file.
        path: PathBuf,
        /// Version in the file.
        found: i64,
        /// Newest version this build reads.
        supported: i64,
    },
    /// A read-only open found a store at an older schema, which only a writing command may
    /// migrate.
    #[error("{}: store schema version {found} is older than this build reads ({current}); run a command that writes to the data directory (floodgate status, floodgate ingest) to bring it up", path.display())]
    SchemaOld {
        /// The store file.
        path: PathBuf,
        /// Version in the file.
        found: i64,
        /// The version this build reads.
        current: i64,
    },
    /// A value read back from the store does not parse (a sign of corruption or tampering).
    #[error("{}: stored {what} '{value}' is unreadable", path.display())]
    BadValue {
        /// The store file.
        path: PathBuf,
        /// What column.
        what: &'static str,
        /// The value.
        value: String,
    },
    /// A ledger entry id already stored with different content.
    #[error("ledger '{ledger}': entry '{id}' is already stored with different content ({field} was '{stored}', now '{given}'); entry ids must be unique and immutable, nothing from this input was stored")]
    LedgerConflict {
        /// Ledger name.
        ledger: String,
        /// Entry id.
        id: String,
        /// First differing field.
        field: &'static str,
        /// Stored value.
        stored: String,
        /// New value.
        given: String,
    },
    /// A rollback target above the stored tip, or on an empty chain.
    #[error(
        "{chain}: nothing to roll back: the stored tip is {tip:?}, at or below height {height}"
    )]
    NothingToRollBack {
        /// The chain.
        chain: Chain,
        /// Requested height.
        height: u64,
        /// Stored tip height.
        tip: Option<u64>,
    },
    /// Input of another network than the one the data directory is bound to.
    #[error("{chain}: this data directory holds {bound}, the input is {given}; a data directory holds one network per chain, use another --data-dir; nothing was stored")]
    WrongNetwork {
        /// The chain.
        chain: Chain,
        /// The network the store holds.
        bound: String,
        /// The input's network.
        given: String,
    },
    /// A block whose parent is stored at another height than one below it.
    #[error("{chain} block {hash} claims height {height}, but its parent {parent} is stored at height {parent_height}; nothing was stored")]
    BadParentLink {
        /// The chain.
        chain: Chain,
        /// The block.
        hash: Hash32,
        /// Its claimed height.
        height: u64,
        /// Its parent.
        parent: Hash32,
        /// Where the parent is stored.
        parent_height: u64,
    },
    /// A block that would unwind more stored blocks than allowed.
    #[error("{chain} block {hash} at height {height} would unwind {blocks} stored blocks (heights {from} to {tip}), more than the limit of {max}; nothing was stored. If this reorganisation is real, run `floodgate ingest {chain} --rollback-to {below}` first, or raise ingest.max_unwind", below = from.saturating_sub(1))]
    UnwindTooDeep {
        /// The chain.
        chain: Chain,
        /// The incoming block.
        hash: Hash32,
        /// Its height.
        height: u64,
        /// Lowest height that would be removed.
        from: u64,
        /// Stored tip.
        tip: u64,
        /// Blocks that would be removed.
        blocks: u64,
        /// The limit.
        max: u64,
    },
    /// A block hash or height outside what SQLite can hold.
    #[error("{chain} block {hash}: height {height} does not fit the store")]
    HeightOverflow {
        /// The chain.
        chain: Chain,
        /// The block.
        hash: Hash32,
        /// Its height.
        height: u64,
    },
    /// A job given to a [`Pipeline`](crate::Pipeline) after its store thread stopped on an
    /// earlier error (which was returned before this one).
    #[error("the store stopped after an earlier error; nothing more was stored")]
    Stopped,
}

impl StoreError {
    pub(crate) fn sqlite(path: &Path, source: rusqlite::Error) -> Self {
        StoreError::Sqlite { path: path.to_owned(), source: source.into() }
    }
}
