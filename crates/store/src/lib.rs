//! The transfer store: every normalized block, transaction, transfer and ledger entry that
//! floodgate has accepted, in one SQLite file in the data directory.
//!
//! - **Crash-safe.** Each block (and each ledger file) is applied in one SQLite transaction
//!   with a write-ahead log, so a `kill -9` at any point leaves either all of a block or none
//!   of it, and the store opens cleanly.
//! - **Idempotent.** Records are keyed on chain + transaction id + index (ledger entries on
//!   ledger + entry id); applying the same input twice adds nothing. A ledger entry id that
//!   comes back with *different* content is refused rather than silently overwritten.
//! - **Reorg-aware.** A block whose hash differs from the stored block at its height, or
//!   whose parent differs from the stored block below it, unwinds the stale blocks first, at
//!   most [`DEFAULT_MAX_UNWIND`] blocks deep unless configured otherwise;
//!   [`Store::rollback_to`] does the same on request, at any depth.
//! - **Tenants.** Every key carries a tenant ([`TenantId`]). Public chain data is stored
//!   once, under the shared tenant [`SHARED_TENANT`], and every tenant reads it; ledger
//!   entries (an exchange's own customers) are stored and read under the store's tenant, so
//!   two tenants' entries with the same ledger and id never meet. [`Store::open`] acts for
//!   the default tenant, [`Store::open_tenant`] for another.
//! - **Behind a trait.** [`TransferStore`] is what ingest, the graph and the listings need;
//!   [`Store`] (SQLite) is the embedded default.
//! - **One network per chain.** [`Store::bind_network`] records the network of a chain's first
//!   input and refuses any other, and a different genesis block is never a reorganisation. Every apply and unwind is journalled
//!   in `ingest_log`, which is only ever appended to.
//!
//! Layout and schema: `docs/formats/store.md`.
//!
//! ```
//! use floodgate_store::{Store, TransferFilter};
//! let dir = std::env::temp_dir().join(format!("fg-doc-{}", std::process::id()));
//! let store = Store::open(&dir)?;
//! assert!(store.transfers(&TransferFilter::default())?.is_empty());
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), floodgate_store::StoreError>(())
//! ```

mod compact;
mod error;
pub mod export;
mod ledger_read;
mod pipeline;
mod query;
mod schema;
mod segment;
mod traits;
mod utxo;
mod utxo_read;
mod write;

use std::path::{Path, PathBuf};

#[doc(hidden)]
pub use compact::CompactStep;
pub use compact::Compaction;
pub use error::StoreError;
pub use floodgate_types::TenantId;
pub use pipeline::{pipelined, Pipeline};
pub use query::{ChainStats, StoreStats, TransferFilter, TransferRow};
pub use traits::TransferStore;
pub use write::{ApplyOutcome, LedgerOutcome, Unwound};

/// File name of the store inside the data directory.
pub const STORE_FILE: &str = "transfers.db";

/// The deepest reorganisation a block may cause unless a rollback is asked for: Bitcoin's
/// deepest accidental reorganisation was 53 blocks (2010), Ethereum finalizes after two epochs
/// (64 blocks).
pub const DEFAULT_MAX_UNWIND: u64 = 100;

/// The tenant column of public chain data (blocks, Bitcoin legs, account-chain transfers and
/// the network binding): the empty id, which [`TenantId::new`] refuses, so no real tenant can
/// write or shadow it. Stored once, read by every tenant.
pub const SHARED_TENANT: &str = "";

/// An open transfer store (SQLite), acting for one tenant.
pub struct Store {
    conn: rusqlite::Connection,
    path: PathBuf,
    max_unwind: u64,
    tenant: TenantId,
    /// What this handle keeps in memory about the chain segments (`utxo.rs`).
    utxo: utxo::UtxoCache,
    /// A test's hook inside compaction ([`Store::set_compact_pause`]).
    compact_pause: Option<Box<dyn FnMut(CompactStep) + Send>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).field("tenant", &self.tenant).finish()
    }
}

impl Store {
    /// Opens (creating if needed) the store in `data_dir`, for the default tenant
    /// ([`TenantId::DEFAULT`]).
    ///
    /// # Errors
    /// [`StoreError`] when the directory cannot be created, the file is not a floodgate
    /// store, or its schema is newer than this build understands.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        Store::open_tenant(data_dir, TenantId::default_tenant())
    }

    /// Opens (creating if needed) the store in `data_dir`, acting for `tenant`: its ledger
    /// entries are written and read under that tenant; chain data is shared.
    ///
    /// # Errors
    /// As [`Store::open`].
    pub fn open_tenant(data_dir: &Path, tenant: TenantId) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir)
            .map_err(|source| StoreError::Io { path: data_dir.to_owned(), source })?;
        let path = data_dir.join(STORE_FILE);
        // A new store is written beside its name and linked in whole (two syncs, not the four
        // and a journal file of a file that converts itself to WAL); where links are not
        // supported it is created in place by `schema::init`.
        floodgate_sqlite::create_whole(&path, schema::write_fresh)?;
        let mut conn =
            rusqlite::Connection::open(&path).map_err(|e| StoreError::sqlite(&path, e))?;
        schema::init(&mut conn, &path)?;
        utxo::migrate_legacy_rows(&mut conn, &path)?;
        utxo::sweep_orphans(&mut conn, &path)?;
        Ok(Store {
            conn,
            path,
            max_unwind: DEFAULT_MAX_UNWIND,
            tenant,
            utxo: Default::default(),
            compact_pause: None,
        })
    }

    /// Opens the store in `data_dir` for reading only, for the default tenant: nothing in the
    /// file is created, migrated or rebuilt (a missing index dropped by a bulk load that is
    /// still running stays missing; queries are slower meanwhile, never wrong). Readers that
    /// merely look rows up (the graph resolving a transfer's id when shown) use it, so reading
    /// never writes beside a running ingest.
    ///
    /// # Errors
    /// [`StoreError::Io`] when `data_dir` holds no store, [`StoreError::Sqlite`] when the file
    /// cannot be opened, [`StoreError::SchemaTooNew`] or [`StoreError::SchemaOld`] when its
    /// schema is not the one this build reads (any writing command brings an older one up).
    pub fn open_read_only(data_dir: &Path) -> Result<Self, StoreError> {
        use rusqlite::OpenFlags;
        let path = data_dir.join(STORE_FILE);
        if !path.is_file() {
            return Err(StoreError::Io {
                path,
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no transfer store"),
            });
        }
        let conn = rusqlite::Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| StoreError::sqlite(&path, e))?;
        schema::check_current(&conn, &path)?;
        if utxo::has_legacy_rows(&conn, &path)? {
            // Version 5 whose version-4 rows were not moved yet (a writing open was killed
            // while moving them): readers would miss them.
            return Err(StoreError::SchemaOld {
                path,
                found: schema::SCHEMA_VERSION - 1,
                current: schema::SCHEMA_VERSION,
            });
        }
        Ok(Store {
            conn,
            path,
            max_unwind: DEFAULT_MAX_UNWIND,
            tenant: TenantId::default_tenant(),
            utxo: Default::default(),
            compact_pause: None,
        })
    }

    /// The store's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The tenant this store acts for.
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    /// Drops the secondary indexes (address, height) before a bulk load, so that rows are
    /// appended without a B-tree insert into each index; [`Store::restore_indexes`] rebuilds
    /// them by sorting (ADR 0002). Queries stay correct meanwhile, only slower. If the process
    /// dies first, the next [`Store::open`] rebuilds them.
    ///
    /// # Errors
    /// [`StoreError::Sqlite`].
    pub fn suspend_indexes(&mut self) -> Result<(), StoreError> {
        for name in schema::BULK_INDEXES {
            self.conn
                .execute_batch(&format!("DROP INDEX IF EXISTS {name}"))
                .map_err(|e| StoreError::sqlite(&self.path, e))?;
        }
        Ok(())
    }

    /// Bytes the store's file holds, its log included (tables and indexes; Bitcoin's chain
    /// segments are files of their own): about what rebuilding the indexes a bulk load drops
    /// re-sorts.
    ///
    /// # Errors
    /// [`StoreError::Sqlite`].
    pub fn stored_bytes(&self) -> Result<u64, StoreError> {
        let pragma = |name: &str| -> Result<u64, StoreError> {
            self.conn
                .query_row(&format!("PRAGMA {name}"), [], |r| r.get::<_, i64>(0))
                .map(|v| u64::try_from(v).unwrap_or(0))
                .map_err(|e| StoreError::sqlite(&self.path, e))
        };
        Ok(pragma("page_count")?.saturating_mul(pragma("page_size")?))
    }

    /// Rebuilds indexes dropped by [`Store::suspend_indexes`] (a no-op when none is missing).
    ///
    /// # Errors
    /// [`StoreError::Sqlite`].
    pub fn restore_indexes(&mut self) -> Result<(), StoreError> {
        schema::ensure(&self.conn, &self.path)
    }

    /// Runs SQLite's integrity check, then checks every chain segment (checksum, the
    /// references inside, its runs and the counts its manifest row records); `Ok(())` when
    /// the file is sound.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] with SQLite's findings.
    pub fn check_integrity(&self) -> Result<(), StoreError> {
        let res: String = self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(|e| StoreError::sqlite(&self.path, e))?;
        if res == "ok" {
            self.check_segments()
        } else {
            Err(StoreError::Corrupt { path: self.path.clone(), detail: res })
        }
    }
}
