ALTER TABLE agreements DROP COLUMN kind;
