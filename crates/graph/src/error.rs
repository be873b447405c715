//! The graph error type.

use std::path::PathBuf;

/// A graph failure. Every variant names the file, node or input at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GraphError {
    /// A file or directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A segment or manifest file is damaged: wrong magic, checksum, size or structure.
    #[error("{}: corrupt graph file at byte offset {offset}: {detail}", path.display())]
    Corrupt {
        /// The damaged file.
        path: PathBuf,
        /// Byte offset of the damaged field or section (0 when the whole file is at fault).
        offset: u64,
        /// What is wrong.
        detail: String,
    },
    /// The file's format version is one this build does not read: written by a newer
    /// floodgate, or too old.
    #[error("{}", unsupported(path, what, *found, *supported))]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// What the file is ("graph segment", "exposure index", …), for the message.
        what: &'static str,
        /// Version in the file.
        found: u32,
        /// Version this build reads.
        supported: u32,
    },
    /// No graph has been built in this directory yet.
    #[error("{}: no graph here (run `floodgate trace build` first)", path.display())]
    NotBuilt {
        /// The graph directory.
        path: PathBuf,
    },
    /// The transfer store changed below the graph's tip while the graph was being built
    /// (a build unwinds the graph to what the store holds first, so only a concurrent
    /// reorganisation meets this).
    #[error("{chain} block {height} in the graph is no longer in the transfer store (it changed during the build); run `floodgate trace build` again")]
    Reorganised {
        /// The chain.
        chain: String,
        /// The graph's tip height for that chain.
        height: u64,
    },
    /// An address, entity or transaction that the graph does not hold.
    #[error("'{key}' is not in the graph")]
    NotInGraph {
        /// What was asked for.
        key: String,
    },
    /// Input the graph cannot represent (the value and the limit it breaks).
    #[error("cannot add to the graph: {detail}")]
    Limit {
        /// What limit was hit.
        detail: String,
    },
    /// An account transfer's transaction id could not be resolved from the transfer store
    /// (graph format 3 keeps ids in the store): the store is absent, or no longer holds the
    /// block the graph was built from.
    #[error("{chain} block {height}: cannot resolve a transaction id from the transfer store: {detail} (run `floodgate trace build` to bring the graph up to the store)")]
    Unresolved {
        /// The chain.
        chain: String,
        /// The block height.
        height: u64,
        /// What is wrong.
        detail: String,
    },
    /// The transfer store failed.
    #[error(transparent)]
    Store(#[from] floodgate_store::StoreError),
}

/// The message of [`GraphError::UnsupportedVersion`]: what to do depends on which side is newer.
fn unsupported(path: &std::path::Path, what: &str, found: u32, supported: u32) -> String {
    let path = path.display();
    if found > supported {
        format!(
            "{path}: {what} format version {found} was written by a newer floodgate (this build \
             reads up to {supported}); upgrade floodgate, or rebuild it with `floodgate trace \
             build --rebuild`"
        )
    } else {
        format!(
            "{path}: {what} format version {found} is not supported (this build reads \
             {supported}); rebuild it with `floodgate trace build --rebuild`"
        )
    }
}
