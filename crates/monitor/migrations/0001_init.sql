-- monitor.db, schema version 1: decided transfers (the window state is rebuilt from them).
CREATE TABLE IF NOT EXISTS decided (
    seq         INTEGER PRIMARY KEY,
    transfer_id TEXT    NOT NULL UNIQUE,
    event       TEXT    NOT NULL,
    fiat        TEXT,
    decision    TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS monitor_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO monitor_meta (key, value) VALUES ('format', '1');
