ALTER TABLE enterprises DROP COLUMN collector_operator_id;
ALTER TABLE enterprises DROP COLUMN kind;
