-- A quota amended during the year by letter between the provinces (e.g. 川环函〔2026〕12号) is a
-- new version of the entry citing the letter.
ALTER TABLE whitelist_entry_versions ADD COLUMN letter_number TEXT;
