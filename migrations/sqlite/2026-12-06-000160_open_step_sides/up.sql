-- Which provinces have a step open on a case, kept beside next_due_at by the same code, so a
-- province's queue by side is a read of the case rows in the (province, next_due_at, id) index
-- instead of a join with every step ever taken (which the planner cannot estimate, and which
-- grows with the archive).
ALTER TABLE transfer_applications ADD COLUMN source_step_open BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE transfer_applications ADD COLUMN receiving_step_open BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE transfer_applications
SET source_step_open = EXISTS (
        SELECT 1 FROM application_steps s
        WHERE s.application_id = transfer_applications.id AND s.completed_at IS NULL AND s.side = 'source'),
    receiving_step_open = EXISTS (
        SELECT 1 FROM application_steps s
        WHERE s.application_id = transfer_applications.id AND s.completed_at IS NULL AND s.side = 'receiving')
WHERE next_due_at IS NOT NULL;
