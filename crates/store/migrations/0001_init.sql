-- transfers.db, schema version 1 (docs/formats/store.md). Every statement is IF NOT EXISTS: a
-- file from before versioning (version 0) already has these tables. Version 2 (0002_tenant.sql)
-- rebuilds every table with a tenant in its key; the indexes of today's schema are in
-- src/schema.rs (INDEXES), re-created on every open.
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
