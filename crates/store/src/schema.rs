//! Schema creation and versioning. The byte-level description is `docs/formats/store.md`.

use std::path::Path;

use rusqlite::Connection;

use crate::StoreError;

/// The schema version this build writes and reads.
pub(crate) const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS blocks (
    chain       TEXT    NOT NULL,
    height      INTEGER NOT NULL,
    hash        BLOB    NOT NULL,
    parent      BLOB,
    time        INTEGER,
    ingested_at INTEGER NOT NULL,
    PRIMARY KEY (chain, height)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS blocks_hash ON blocks (hash);

CREATE TABLE IF NOT EXISTS utxo_outputs (
    chain       TEXT    NOT NULL,
    txid        BLOB    NOT NULL,
    vout        INTEGER NOT NULL,
    height      INTEGER NOT NULL,
    tx_position INTEGER NOT NULL,
    time        INTEGER,
    address     TEXT    NOT NULL,
    value       INTEGER NOT NULL,
    PRIMARY KEY (chain, txid, vout)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS utxo_outputs_address ON utxo_outputs (address);
CREATE INDEX IF NOT EXISTS utxo_outputs_height ON utxo_outputs (chain, height);

CREATE TABLE IF NOT EXISTS utxo_inputs (
    chain       TEXT    NOT NULL,
    txid        BLOB    NOT NULL,
    vin         INTEGER NOT NULL,
    height      INTEGER NOT NULL,
    tx_position INTEGER NOT NULL,
    time        INTEGER,
    prev_txid   BLOB,
    prev_vout   INTEGER,
    address     TEXT,
    value       INTEGER,
    PRIMARY KEY (chain, txid, vin)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS utxo_inputs_address ON utxo_inputs (address);
CREATE INDEX IF NOT EXISTS utxo_inputs_height ON utxo_inputs (chain, height);
CREATE INDEX IF NOT EXISTS utxo_inputs_unresolved ON utxo_inputs (prev_txid, prev_vout)
    WHERE address IS NULL AND prev_txid IS NOT NULL;

CREATE TABLE IF NOT EXISTS transfers (
    chain       TEXT    NOT NULL,
    txid        BLOB    NOT NULL,
    idx         TEXT    NOT NULL,
    height      INTEGER NOT NULL,
    block_hash  BLOB,
    time        INTEGER,
    tx_position INTEGER,
    kind        TEXT    NOT NULL,
    from_addr   TEXT    NOT NULL,
    to_addr     TEXT    NOT NULL,
    asset       TEXT    NOT NULL,
    amount      BLOB    NOT NULL,
    PRIMARY KEY (chain, txid, idx)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS transfers_from ON transfers (from_addr);
CREATE INDEX IF NOT EXISTS transfers_to ON transfers (to_addr);
CREATE INDEX IF NOT EXISTS transfers_height ON transfers (chain, height);

CREATE TABLE IF NOT EXISTS ledger_entries (
    ledger                TEXT    NOT NULL,
    id                    TEXT    NOT NULL,
    time                  INTEGER NOT NULL,
    customer_id           TEXT    NOT NULL,
    direction             TEXT    NOT NULL,
    asset                 TEXT    NOT NULL,
    amount                BLOB    NOT NULL,
    counterparty_address  TEXT,
    counterparty_customer TEXT,
    counterparty_vasp     TEXT,
    txid                  TEXT,
    ip                    TEXT,
    device                TEXT,
    ingested_at           INTEGER NOT NULL,
    PRIMARY KEY (ledger, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ledger_customer ON ledger_entries (customer_id, time);
CREATE INDEX IF NOT EXISTS ledger_counterparty ON ledger_entries (counterparty_address);

CREATE TABLE IF NOT EXISTS ingest_log (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    at     INTEGER NOT NULL,
    action TEXT    NOT NULL,
    chain  TEXT    NOT NULL,
    height INTEGER,
    hash   BLOB,
    detail TEXT    NOT NULL
);
CREATE TRIGGER IF NOT EXISTS ingest_log_append_only_update BEFORE UPDATE ON ingest_log
BEGIN SELECT RAISE(ABORT, 'ingest_log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS ingest_log_append_only_delete BEFORE DELETE ON ingest_log
BEGIN SELECT RAISE(ABORT, 'ingest_log is append-only'); END;
"#;

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

pub(crate) fn init(conn: &Connection, path: &Path) -> Result<(), StoreError> {
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
    conn.execute_batch(SCHEMA).map_err(sq)?;
    conn.execute(
        "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?1)",
        [SCHEMA_VERSION.to_string()],
    )
    .map_err(sq)?;
    Ok(())
}
