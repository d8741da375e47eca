ALTER TABLE transfer_applications DROP COLUMN receiving_step_open;
ALTER TABLE transfer_applications DROP COLUMN source_step_open;
