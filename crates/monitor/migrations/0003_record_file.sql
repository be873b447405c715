-- monitor.db, schema version 3: the payload of a decided transfer (event, fiat value and
-- decision JSON) moves to the append-only record file `monitor.log` beside this file
-- (docs/formats/monitor.md, docs/adr/0008-monitor-record-file.md). A row written from now on
-- keeps `event` and `decision` empty, `fiat` NULL, and names its record's offset in `rec`;
-- a row written before keeps its JSON inline and `rec` NULL, and is read as it was.
-- `log_end`: the end of the last committed record (the next group is written there; bytes
-- past it are a group whose transaction never committed). `synced_seq`: every record of a
-- row up to this position was synced to disk (`fdatasync`) before this value was committed;
-- a start checks the records after it, so it starts at the last row written before this
-- migration (which has none): a start after millions of old rows does not scan them.
ALTER TABLE decided ADD COLUMN rec INTEGER;
INSERT OR REPLACE INTO monitor_meta (tenant, key, value) VALUES ('', 'log_end', '0');
INSERT OR REPLACE INTO monitor_meta (tenant, key, value)
    VALUES ('', 'synced_seq', CAST((SELECT COALESCE(MAX(seq), 0) FROM decided) AS TEXT));
UPDATE monitor_meta SET value = '3' WHERE tenant = '' AND key = 'format';
