-- Nothing to undo: the backfilled steps are the ones the code since 2026-12-03-000020_procedure
-- keeps for every whitelist case under a `consent` agreement, and reverting that migration
-- leaves steps alone too.
SELECT 1;
