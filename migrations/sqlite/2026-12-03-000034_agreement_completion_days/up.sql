-- 一事一批 (Anhui's practice): an agreement may require each whitelist transfer to be completed
-- within this many days of its approval; the approval's validity ends then at the latest.
ALTER TABLE agreements ADD COLUMN completion_days INTEGER;
