//! Schema creation and versioning. The byte-level description is `docs/formats/store.md`.

use std::path::Path;

use rusqlite::Connection;

use crate::StoreError;

/// The schema version this build writes and reads.
pub(crate) const SCHEMA_VERSION: i64 = 1;

/// The numbered migrations of `transfers.db` (`floodgate-sqlite`: the version is in the file).
/// Version 1 is also run on every open: it re-creates indexes a bulk load dropped.
const MIGRATIONS: &[&str] = &[SCHEMA];
const SCHEMA: &str = include_str!("../migrations/0001_init.sql");

/// Secondary indexes a bulk load drops and rebuilds (SQLite builds an index over existing rows
/// by sorting them: sort-then-append). The unresolved-input index and the block hash index
/// stay: ingest itself reads them.
pub(crate) const BULK_INDEXES: [&str; 8] = [
    "utxo_outputs_address",
    "utxo_outputs_height",
    "utxo_inputs_address",
    "utxo_inputs_height",
    "transfers_from",
    "transfers_to",
    "transfers_height",
    "ledger_counterparty",
];

/// Creates whatever of the schema is missing (tables, and indexes a bulk load dropped).
pub(crate) fn ensure(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    conn.execute_batch(SCHEMA).map_err(|e| StoreError::sqlite(path, e))
}

pub(crate) fn init(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let sq = |e| StoreError::sqlite(path, e);
    // WAL: a commit is one append to the log, readers never block the writer, and a killed
    // process leaves the last committed transaction intact. synchronous=NORMAL keeps every
    // commit that returned across a process crash; only an OS crash or power loss can drop
    // the last few, never corrupt the file (https://www.sqlite.org/wal.html).
    conn.pragma_update(None, "journal_mode", "WAL").map_err(sq)?;
    conn.pragma_update(None, "synchronous", "NORMAL").map_err(sq)?;
    conn.pragma_update(None, "foreign_keys", "ON").map_err(sq)?;
    // Index pages for random txid keys stay hot across a long ingest (64 MiB; SQLite's
    // default is 2 MiB), and fewer, larger WAL checkpoints.
    conn.pragma_update(None, "cache_size", -65_536).map_err(sq)?;
    conn.pragma_update(None, "wal_autocheckpoint", 10_000).map_err(sq)?;
    conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(sq)?;
    let found: Option<i64> = conn
        .query_row(
            "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .ok();
    if let Some(v) = found {
        if v > SCHEMA_VERSION {
            return Err(StoreError::SchemaTooNew {
                path: path.to_owned(),
                found: v,
                supported: SCHEMA_VERSION,
            });
        }
    }
    floodgate_sqlite::migrate(conn, path, MIGRATIONS)?;
    conn.execute_batch(SCHEMA).map_err(sq)?;
    // Kept for binaries from before `floodgate-sqlite`, which check only this row.
    conn.execute(
        "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?1)",
        [SCHEMA_VERSION.to_string()],
    )
    .map_err(sq)?;
    Ok(())
}
