ALTER TABLE whitelist_entry_versions DROP COLUMN letter_number;
