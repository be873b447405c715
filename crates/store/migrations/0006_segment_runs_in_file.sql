-- Version 6: chain segments of layout 2 keep their sorted runs (transaction ids, unresolved
-- inputs) in the segment file, after its dictionary (docs/formats/chain-segment.md); their
-- manifest rows leave txid_run and unresolved_run empty. Segments of layout 1, written at
-- version 5, keep theirs in the manifest and are read as before. No table changes: the
-- version keeps a build that reads only layout 1 from opening the file.
UPDATE meta SET value = '6' WHERE tenant = '' AND key = 'schema_version';
