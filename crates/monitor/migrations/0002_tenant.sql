-- monitor.db, schema version 2: a tenant in every key (docs/formats/monitor.md). A transfer id
-- is decided once per tenant; rows of version 1 belong to 'default' (the CLI's tenant). The
-- decision order (seq) is kept. `monitor_meta` describes the file, under the file-level
-- tenant '' (the empty id, which no real tenant can have).
CREATE TABLE decided_v2 (
    seq         INTEGER PRIMARY KEY,
    tenant      TEXT    NOT NULL,
    transfer_id TEXT    NOT NULL,
    event       TEXT    NOT NULL,
    fiat        TEXT,
    decision    TEXT    NOT NULL,
    UNIQUE (tenant, transfer_id)
);
INSERT INTO decided_v2 (seq, tenant, transfer_id, event, fiat, decision)
    SELECT seq, 'default', transfer_id, event, fiat, decision FROM decided ORDER BY seq;
DROP TABLE decided;
ALTER TABLE decided_v2 RENAME TO decided;

CREATE TABLE monitor_meta_v2 (
    tenant TEXT NOT NULL,
    key    TEXT NOT NULL,
    value  TEXT NOT NULL,
    PRIMARY KEY (tenant, key)
);
INSERT INTO monitor_meta_v2 (tenant, key, value) SELECT '', key, value FROM monitor_meta;
DROP TABLE monitor_meta;
ALTER TABLE monitor_meta_v2 RENAME TO monitor_meta;
UPDATE monitor_meta SET value = '2' WHERE tenant = '' AND key = 'format';
