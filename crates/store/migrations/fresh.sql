-- transfers.db at schema version 6, for a new file: written from a file the migrations built by
-- `cargo test -p floodgate-store a_new_file_gets` with FLOODGATE_BLESS=1; never edit by hand.
CREATE TABLE ingest_log (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    at     INTEGER NOT NULL,
    action TEXT    NOT NULL,
    chain  TEXT    NOT NULL,
    height INTEGER,
    hash   BLOB,
    detail TEXT    NOT NULL
, tenant TEXT NOT NULL DEFAULT '');
CREATE TABLE "meta" (
    tenant TEXT NOT NULL,
    key    TEXT NOT NULL,
    value  TEXT NOT NULL,
    PRIMARY KEY (tenant, key)
) WITHOUT ROWID;
CREATE TABLE "blocks" (
    tenant      TEXT    NOT NULL,
    chain       TEXT    NOT NULL,
    height      INTEGER NOT NULL,
    hash        BLOB    NOT NULL,
    parent      BLOB,
    time        INTEGER,
    ingested_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, chain, height)
) WITHOUT ROWID;
CREATE TABLE "utxo_outputs" (
    tenant      TEXT    NOT NULL,
    chain       TEXT    NOT NULL,
    txid        BLOB    NOT NULL,
    vout        INTEGER NOT NULL,
    height      INTEGER NOT NULL,
    tx_position INTEGER NOT NULL,
    time        INTEGER,
    address     TEXT    NOT NULL,
    value       INTEGER NOT NULL,
    PRIMARY KEY (tenant, chain, txid, vout)
) WITHOUT ROWID;
CREATE TABLE "utxo_inputs" (
    tenant      TEXT    NOT NULL,
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
    PRIMARY KEY (tenant, chain, txid, vin)
) WITHOUT ROWID;
CREATE TABLE "transfers" (
    tenant      TEXT    NOT NULL,
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
    PRIMARY KEY (tenant, chain, txid, idx)
) WITHOUT ROWID;
CREATE TABLE "ledger_entries" (
    tenant                TEXT    NOT NULL,
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
    ingested_at           INTEGER NOT NULL, counterparty_country TEXT, travel_rule TEXT, rail TEXT, counterparty_bank TEXT, counterparty_account TEXT,
    PRIMARY KEY (tenant, ledger, id)
) WITHOUT ROWID;
CREATE TABLE utxo_segments (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    chain          TEXT    NOT NULL,
    min_height     INTEGER NOT NULL,
    max_height     INTEGER NOT NULL,
    blocks         INTEGER NOT NULL,
    txs            INTEGER NOT NULL,
    outputs        INTEGER NOT NULL,
    inputs         INTEGER NOT NULL,
    unresolved     INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    txid_run       BLOB    NOT NULL,
    unresolved_run BLOB    NOT NULL,
    file           TEXT    NOT NULL
);
CREATE TABLE utxo_input_fills (
    segment        INTEGER NOT NULL,
    row            INTEGER NOT NULL,
    chain          TEXT    NOT NULL,
    address        BLOB    NOT NULL,
    value          INTEGER NOT NULL,
    funding_height INTEGER NOT NULL,
    PRIMARY KEY (segment, row)
) WITHOUT ROWID;
CREATE INDEX utxo_segments_height ON utxo_segments (chain, min_height);
CREATE INDEX utxo_input_fills_address ON utxo_input_fills (address);
CREATE INDEX blocks_hash ON blocks (hash);
CREATE INDEX utxo_outputs_address ON utxo_outputs (address);
CREATE INDEX utxo_outputs_height ON utxo_outputs (tenant, chain, height);
CREATE INDEX utxo_inputs_address ON utxo_inputs (address);
CREATE INDEX utxo_inputs_height ON utxo_inputs (tenant, chain, height);
CREATE INDEX utxo_inputs_unresolved ON utxo_inputs (prev_txid, prev_vout)
    WHERE address IS NULL AND prev_txid IS NOT NULL;
CREATE INDEX transfers_from ON transfers (from_addr);
CREATE INDEX transfers_to ON transfers (to_addr);
CREATE INDEX transfers_height ON transfers (tenant, chain, height);
CREATE INDEX ledger_customer ON ledger_entries (tenant, customer_id, time);
CREATE INDEX ledger_counterparty ON ledger_entries (tenant, counterparty_address);
CREATE TRIGGER ingest_log_append_only_delete BEFORE DELETE ON ingest_log
BEGIN SELECT RAISE(ABORT, 'ingest_log is append-only'); END;
CREATE TRIGGER ingest_log_append_only_update BEFORE UPDATE ON ingest_log
BEGIN SELECT RAISE(ABORT, 'ingest_log is append-only'); END;
