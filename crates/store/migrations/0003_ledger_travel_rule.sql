-- Version 3: a ledger entry keeps its counterparty's country and the travel-rule data that
-- came with it (issue 14 item 4), so the monitor reading the store sees what a JSON Lines
-- stream would have given it. Rows from version 2 have neither (NULL).
ALTER TABLE ledger_entries ADD COLUMN counterparty_country TEXT;
-- The travel-rule object as compact JSON: keys in the order of docs/formats/ledger.md,
-- absent fields left out.
ALTER TABLE ledger_entries ADD COLUMN travel_rule TEXT;
UPDATE meta SET value = '3' WHERE tenant = '' AND key = 'schema_version';
