-- An entry that serves several source provinces from one shared quota: the sources besides
-- `source_province`, each between commas (",520000,530000,"), empty when it serves one. The
-- quota guard is the entry's row, so reserved + approved <= quota holds across all of them.
ALTER TABLE whitelist_entries ADD COLUMN shared_sources TEXT NOT NULL DEFAULT '';
