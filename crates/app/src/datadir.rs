//! The data directory and where each component keeps its files in it.

use std::path::{Path, PathBuf};

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
        self.root.join(floodgate_store::STORE_FILE).exists()
    }

    /// The transfer store, or [`AppError::NoStore`] when nothing was ingested here.
    pub fn open_store(&self) -> Result<floodgate_store::Store, AppError> {
        if !self.has_store() {
            return Err(AppError::NoStore { dir: self.root.clone() });
        }
        Ok(floodgate_store::Store::open(&self.root)?)
    }
}
