ALTER TABLE audit_head DROP COLUMN crypto;
