-- Version 4: fiat ledger entries (issue 14 item 1). A VND or USD deposit or withdrawal moved
-- through a bank or in cash ('bank' | 'cash'; NULL for on-chain assets and internal transfers),
-- and a bank transfer names the counterparty's bank (name or SWIFT BIC) and account number.
-- Rows from version 3 have none of them (NULL).
ALTER TABLE ledger_entries ADD COLUMN rail TEXT;
ALTER TABLE ledger_entries ADD COLUMN counterparty_bank TEXT;
ALTER TABLE ledger_entries ADD COLUMN counterparty_account TEXT;
UPDATE meta SET value = '4' WHERE tenant = '' AND key = 'schema_version';
