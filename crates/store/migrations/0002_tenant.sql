-- transfers.db, schema version 2: a tenant in every key (docs/formats/store.md).
--
-- Public chain data (blocks, Bitcoin inputs and outputs, account-chain transfers, and the
-- `meta` rows that bind a chain to its network) is stored once, under the shared tenant ''
-- (the empty id, which no real tenant can have), and every tenant reads it. Ledger entries,
-- an exchange's own customers' transfers, are stored under their tenant. Rows of version 1
-- get the shared tenant, except ledger entries and their journal rows, which get 'default'
-- (the CLI's tenant). Indexes are (re)created after every migration by the store itself.

CREATE TABLE meta_v2 (
    tenant TEXT NOT NULL,
    key    TEXT NOT NULL,
    value  TEXT NOT NULL,
    PRIMARY KEY (tenant, key)
) WITHOUT ROWID;
INSERT INTO meta_v2 (tenant, key, value) SELECT '', key, value FROM meta;
DROP TABLE meta;
ALTER TABLE meta_v2 RENAME TO meta;
-- Binaries from before floodgate-sqlite read only this row: they refuse the file.
UPDATE meta SET value = '2' WHERE tenant = '' AND key = 'schema_version';

CREATE TABLE blocks_v2 (
    tenant      TEXT    NOT NULL,
    chain       TEXT    NOT NULL,
    height      INTEGER NOT NULL,
    hash        BLOB    NOT NULL,
    parent      BLOB,
    time        INTEGER,
    ingested_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, chain, height)
) WITHOUT ROWID;
INSERT INTO blocks_v2 SELECT '', chain, height, hash, parent, time, ingested_at FROM blocks;
DROP TABLE blocks;
ALTER TABLE blocks_v2 RENAME TO blocks;

CREATE TABLE utxo_outputs_v2 (
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
INSERT INTO utxo_outputs_v2
    SELECT '', chain, txid, vout, height, tx_position, time, address, value FROM utxo_outputs;
DROP TABLE utxo_outputs;
ALTER TABLE utxo_outputs_v2 RENAME TO utxo_outputs;

CREATE TABLE utxo_inputs_v2 (
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
INSERT INTO utxo_inputs_v2
    SELECT '', chain, txid, vin, height, tx_position, time, prev_txid, prev_vout, address, value
    FROM utxo_inputs;
DROP TABLE utxo_inputs;
ALTER TABLE utxo_inputs_v2 RENAME TO utxo_inputs;

CREATE TABLE transfers_v2 (
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
INSERT INTO transfers_v2
    SELECT '', chain, txid, idx, height, block_hash, time, tx_position, kind, from_addr, to_addr,
           asset, amount
    FROM transfers;
DROP TABLE transfers;
ALTER TABLE transfers_v2 RENAME TO transfers;

CREATE TABLE ledger_entries_v2 (
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
    ingested_at           INTEGER NOT NULL,
    PRIMARY KEY (tenant, ledger, id)
) WITHOUT ROWID;
INSERT INTO ledger_entries_v2
    SELECT 'default', ledger, id, time, customer_id, direction, asset, amount,
           counterparty_address, counterparty_customer, counterparty_vasp, txid, ip, device,
           ingested_at
    FROM ledger_entries;
DROP TABLE ledger_entries;
ALTER TABLE ledger_entries_v2 RENAME TO ledger_entries;

-- The journal keeps its sequence numbers: a tenant column is added (append-only triggers
-- lifted for the one update that fills it, then restored).
ALTER TABLE ingest_log ADD COLUMN tenant TEXT NOT NULL DEFAULT '';
DROP TRIGGER IF EXISTS ingest_log_append_only_update;
UPDATE ingest_log SET tenant = 'default' WHERE action = 'ledger';
CREATE TRIGGER ingest_log_append_only_update BEFORE UPDATE ON ingest_log
BEGIN SELECT RAISE(ABORT, 'ingest_log is append-only'); END;
