ALTER TABLE agreements DROP COLUMN completion_days;
