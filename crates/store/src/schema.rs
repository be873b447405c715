//! Schema creation and versioning. The byte-level description is `docs/formats/store.md`.

use std::path::Path;

use rusqlite::Connection;

use crate::StoreError;

/// The schema version this build writes and reads.
pub(crate) const SCHEMA_VERSION: i64 = 6;

/// The numbered migrations of `transfers.db` (`floodgate-sqlite`: the version is in the file).
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_init.sql"),
    include_str!("../migrations/0002_tenant.sql"),
    include_str!("../migrations/0003_ledger_travel_rule.sql"),
    include_str!("../migrations/0004_ledger_fiat_rail.sql"),
    include_str!("../migrations/0005_chain_segments.sql"),
    include_str!("../migrations/0006_segment_runs_in_file.sql"),
];

/// Today's whole schema, for a new file: what the migrations and [`INDEXES`] build, in one
/// transaction (replaying five migrations re-parses the schema after every statement, which
/// was most of the cost of creating a store). Written from a migrated file by the test
/// `a_new_file_gets_the_schema_the_migrations_build` (`FLOODGATE_BLESS=1`), which also checks
/// the two stay the same.
const FRESH: &str = include_str!("../migrations/fresh.sql");

/// The indexes of today's schema, created after the migrations on every open (which also
/// re-creates those a bulk load dropped). Chain rows all carry the shared tenant, so the
/// chain indexes lead with the chain; ledger indexes lead with the tenant.
const INDEXES: &str = "
CREATE INDEX IF NOT EXISTS blocks_hash ON blocks (hash);
CREATE INDEX IF NOT EXISTS utxo_outputs_address ON utxo_outputs (address);
CREATE INDEX IF NOT EXISTS utxo_outputs_height ON utxo_outputs (tenant, chain, height);
CREATE INDEX IF NOT EXISTS utxo_inputs_address ON utxo_inputs (address);
CREATE INDEX IF NOT EXISTS utxo_inputs_height ON utxo_inputs (tenant, chain, height);
CREATE INDEX IF NOT EXISTS utxo_inputs_unresolved ON utxo_inputs (prev_txid, prev_vout)
    WHERE address IS NULL AND prev_txid IS NOT NULL;
CREATE INDEX IF NOT EXISTS transfers_from ON transfers (from_addr);
CREATE INDEX IF NOT EXISTS transfers_to ON transfers (to_addr);
CREATE INDEX IF NOT EXISTS transfers_height ON transfers (tenant, chain, height);
CREATE INDEX IF NOT EXISTS ledger_customer ON ledger_entries (tenant, customer_id, time);
CREATE INDEX IF NOT EXISTS ledger_counterparty ON ledger_entries (tenant, counterparty_address);
CREATE TRIGGER IF NOT EXISTS ingest_log_append_only_update BEFORE UPDATE ON ingest_log
BEGIN SELECT RAISE(ABORT, 'ingest_log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS ingest_log_append_only_delete BEFORE DELETE ON ingest_log
BEGIN SELECT RAISE(ABORT, 'ingest_log is append-only'); END;
";

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

/// Creates the indexes that are missing (a bulk load dropped them, or a migration rebuilt
/// their table).
pub(crate) fn ensure(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    conn.execute_batch(INDEXES).map_err(|e| StoreError::sqlite(path, e))
}

/// Checks, without writing, that the file is at the schema this build reads (for a read-only
/// open: an older file is brought up by the next writing command, never by a reader).
pub(crate) fn check_current(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(|e| StoreError::sqlite(path, e))?;
    let found = floodgate_sqlite::version(conn, path)?;
    let known = MIGRATIONS.len() as i64;
    if found > known {
        return Err(StoreError::SchemaTooNew { path: path.to_owned(), found, supported: known });
    }
    if found < known {
        return Err(StoreError::SchemaOld { path: path.to_owned(), found, current: known });
    }
    Ok(())
}

/// Creates today's schema in a new, empty file, in one transaction; false (nothing done) for
/// a file that has any schema (another process may have created it meanwhile: the check runs
/// under the write lock).
fn create_fresh(conn: &mut Connection, path: &Path) -> Result<bool, StoreError> {
    let sq = |e| StoreError::sqlite(path, e);
    let tx =
        conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(sq)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(sq)?;
    let objects: i64 =
        tx.query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| r.get(0)).map_err(sq)?;
    if version != 0 || objects != 0 {
        return Ok(false);
    }
    write_fresh(&tx).map_err(sq)?;
    tx.commit().map_err(sq)?;
    Ok(true)
}

/// Today's schema and version, written into an empty file (inside the caller's transaction).
pub(crate) fn write_fresh(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(FRESH)?;
    conn.pragma_update(None, "user_version", MIGRATIONS.len() as i64)?;
    schema_version_row(conn)
}

/// The version row binaries from before `floodgate-sqlite` check (they read only this row).
fn schema_version_row(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT OR IGNORE INTO meta (tenant, key, value) VALUES ('', 'schema_version', ?1)",
        [SCHEMA_VERSION.to_string()],
    )
    .map(drop)
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
    // A new file gets today's schema, indexes and all: nothing to migrate or create then.
    let fresh = create_fresh(conn, path)?;
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
    if !fresh {
        floodgate_sqlite::migrate(conn, path, MIGRATIONS)?;
        ensure(conn, path)?;
        // Kept for binaries from before `floodgate-sqlite`, which check only this row (a new
        // file got it with its schema).
        schema_version_row(conn).map_err(sq)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Every schema object but SQLite's own, by type and name.
    fn objects(c: &Connection) -> Vec<(String, String, String, Option<String>)> {
        let mut st = c
            .prepare(
                "SELECT type, name, tbl_name, sql FROM sqlite_master \
                 WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name",
            )
            .unwrap();
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    }

    #[test]
    fn a_new_file_gets_the_schema_the_migrations_build() {
        let d = tempfile::tempdir().unwrap();
        let old = d.path().join("migrated.db");
        let mut m = Connection::open(&old).unwrap();
        floodgate_sqlite::migrate(&mut m, &old, MIGRATIONS).unwrap();
        ensure(&m, &old).unwrap();
        if std::env::var_os("FLOODGATE_BLESS").is_some() {
            let mut st = m
                .prepare(
                    "SELECT sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' \
                     AND sql IS NOT NULL \
                     ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 ELSE 2 END, rowid",
                )
                .unwrap();
            let sql: Vec<String> =
                st.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap();
            let text = format!(
                "-- transfers.db at schema version {SCHEMA_VERSION}, for a new file: written from a \
                 file the migrations built by\n-- `cargo test -p floodgate-store a_new_file_gets` with \
                 FLOODGATE_BLESS=1; never edit by hand.\n{};\n",
                sql.join(";\n")
            );
            std::fs::write(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/fresh.sql"), text)
                .unwrap();
        }
        let new = d.path().join("new.db");
        let mut n = Connection::open(&new).unwrap();
        init(&mut n, &new).unwrap();
        assert_eq!(objects(&n), objects(&m));
        let v: i64 = n.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(v, SCHEMA_VERSION);
    }

    #[test]
    fn a_new_store_is_linked_in_whole_with_the_schema_in_wal_mode() {
        let d = tempfile::tempdir().unwrap();
        let store = crate::Store::open(d.path()).unwrap();
        drop(store);
        let names: Vec<String> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(crate::STORE_FILE))
            .collect();
        assert_eq!(names, [crate::STORE_FILE], "no temporary file or journal stays");
        let path = d.path().join(crate::STORE_FILE);
        let n = Connection::open(&path).unwrap();
        let old = d.path().join("migrated.db");
        let mut m = Connection::open(&old).unwrap();
        floodgate_sqlite::migrate(&mut m, &old, MIGRATIONS).unwrap();
        ensure(&m, &old).unwrap();
        assert_eq!(objects(&n), objects(&m));
        let mode: String = n.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        let v: i64 = n.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        let row: String = n
            .query_row("SELECT value FROM meta WHERE key = 'schema_version'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(row, SCHEMA_VERSION.to_string());
    }
}
