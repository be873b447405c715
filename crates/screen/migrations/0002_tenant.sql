-- screening.db, schema version 2: a tenant in every key (docs/formats/screening.md). Each
-- tenant loads its own list versions, registers its own subjects and suppresses its own hits;
-- rows of version 1 belong to 'default' (the CLI's tenant). Entities keep their rowids (the
-- matcher is rebuilt in list and rowid order); the load and suppression logs keep their ids.
CREATE TABLE lists_v2 (tenant TEXT NOT NULL, list TEXT NOT NULL, version TEXT NOT NULL, source TEXT NOT NULL, loaded_at TEXT NOT NULL, entities INTEGER NOT NULL, load_id INTEGER, PRIMARY KEY (tenant, list));
INSERT INTO lists_v2 (tenant, list, version, source, loaded_at, entities, load_id)
    SELECT 'default', list, version, source, loaded_at, entities, load_id FROM lists;
DROP TABLE lists;
ALTER TABLE lists_v2 RENAME TO lists;

CREATE TABLE entities_v2 (tenant TEXT NOT NULL, list TEXT NOT NULL, entity_id TEXT NOT NULL, hash TEXT NOT NULL, json TEXT NOT NULL, PRIMARY KEY (tenant, list, entity_id));
INSERT INTO entities_v2 (rowid, tenant, list, entity_id, hash, json)
    SELECT rowid, 'default', list, entity_id, hash, json FROM entities ORDER BY rowid;
DROP TABLE entities;
ALTER TABLE entities_v2 RENAME TO entities;

CREATE TABLE subjects_v2 (tenant TEXT NOT NULL, subject TEXT NOT NULL, json TEXT NOT NULL, PRIMARY KEY (tenant, subject));
INSERT INTO subjects_v2 (tenant, subject, json) SELECT 'default', subject, json FROM subjects;
DROP TABLE subjects;
ALTER TABLE subjects_v2 RENAME TO subjects;

CREATE TABLE results_v2 (tenant TEXT NOT NULL, subject TEXT NOT NULL, list TEXT NOT NULL, entity_id TEXT NOT NULL, entity_hash TEXT NOT NULL, score REAL NOT NULL, screened_at TEXT NOT NULL, PRIMARY KEY (tenant, subject, list, entity_id));
INSERT INTO results_v2 (tenant, subject, list, entity_id, entity_hash, score, screened_at)
    SELECT 'default', subject, list, entity_id, entity_hash, score, screened_at FROM results;
DROP TABLE results;
ALTER TABLE results_v2 RENAME TO results;

CREATE TABLE suppressions_v2 (tenant TEXT NOT NULL, subject TEXT NOT NULL, list TEXT NOT NULL, entity_id TEXT NOT NULL, entity_hash TEXT NOT NULL, reason TEXT NOT NULL, created_at TEXT NOT NULL, created_by TEXT NOT NULL DEFAULT '', PRIMARY KEY (tenant, subject, list, entity_id));
INSERT INTO suppressions_v2 (tenant, subject, list, entity_id, entity_hash, reason, created_at, created_by)
    SELECT 'default', subject, list, entity_id, entity_hash, reason, created_at, created_by FROM suppressions;
DROP TABLE suppressions;
ALTER TABLE suppressions_v2 RENAME TO suppressions;

ALTER TABLE suppression_log ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';
ALTER TABLE list_loads ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';
CREATE INDEX list_loads_tenant ON list_loads (tenant, list);
