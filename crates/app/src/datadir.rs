//! The data directory and where each component keeps its files in it.

use std::path::{Path, PathBuf};

use floodgate_store::TransferStore;

use crate::AppError;

/// A floodgate data directory: the transfer store, the graph, the screening and monitor
/// databases, and the tag files. Layout: `docs/config.md` ("Data directory").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// The data directory at `root` (nothing is created or checked).
    pub fn new(root: impl Into<PathBuf>) -> DataDir {
        DataDir { root: root.into() }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The graph's directory (segments, manifest, `entities.fge`).
    pub fn graph_dir(&self) -> PathBuf {
        self.root.join(floodgate_graph::GRAPH_DIR)
    }

    /// Persistent attribution sources (`tags/tagpacks`, `tags/etherscan`, …).
    pub fn tags_dir(&self) -> PathBuf {
        self.root.join("tags")
    }

    /// TagPacks kept at the top level (the layout before `tags/`; still read).
    pub fn legacy_tagpacks_dir(&self) -> PathBuf {
        self.root.join("tagpacks")
    }

    /// Whether the transfer store exists.
    pub fn has_store(&self) -> bool {
        self.store_path().exists()
    }

    /// The transfer store's file (`transfers.db`).
    pub fn store_path(&self) -> PathBuf {
        self.root.join(floodgate_store::STORE_FILE)
    }

    /// The transfer store, or [`AppError::NoStore`] when nothing was ingested here.
    ///
    /// This and [`DataDir::create_store`] are where a data directory picks its
    /// [`TransferStore`] backend (the embedded SQLite [`floodgate_store::Store`]); the
    /// services work on any backend through the trait.
    pub fn open_store(&self) -> Result<impl TransferStore, AppError> {
        if !self.has_store() {
            return Err(AppError::NoStore { dir: self.root.clone() });
        }
        self.create_store()
    }

    /// The transfer store, created empty when the directory holds none (ingest; `status` of
    /// a fresh directory).
    pub fn create_store(&self) -> Result<impl TransferStore + Send, AppError> {
        Ok(floodgate_store::Store::open(&self.root)?)
    }
}
