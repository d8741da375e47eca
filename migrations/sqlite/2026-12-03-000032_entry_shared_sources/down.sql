ALTER TABLE whitelist_entries DROP COLUMN shared_sources;
