-- Version 5: Bitcoin outputs and inputs move from the utxo_outputs / utxo_inputs tables into
-- chain segments (ADR 0004, docs/formats/chain-segment.md): one immutable, checksummed file
-- per commit group under <data dir>/chain/, listed here with what the readers need without
-- opening it. A segment is referenced only once this table says so (ids are never reused). The rows a
-- version-4 store holds are moved into segments by the first writing open (src/utxo.rs,
-- `migrate_legacy_rows`); the two tables stay, empty, for that move. Chain data is shared
-- (tenant ''), so neither table has a tenant column.
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
CREATE INDEX utxo_segments_height ON utxo_segments (chain, min_height);

-- Inputs stored unresolved whose funding output arrived later: the segment is never
-- rewritten for them, the resolution is recorded here (segment, input row).
CREATE TABLE utxo_input_fills (
    segment        INTEGER NOT NULL,
    row            INTEGER NOT NULL,
    chain          TEXT    NOT NULL,
    address        BLOB    NOT NULL,
    value          INTEGER NOT NULL,
    funding_height INTEGER NOT NULL,
    PRIMARY KEY (segment, row)
) WITHOUT ROWID;
CREATE INDEX utxo_input_fills_address ON utxo_input_fills (address);
UPDATE meta SET value = '5' WHERE tenant = '' AND key = 'schema_version';
