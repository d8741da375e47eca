DROP TABLE manifest_discrepancies;
ALTER TABLE manifests DROP COLUMN backfill_overdue_at;
ALTER TABLE manifests DROP COLUMN backfill_due_at;
ALTER TABLE manifests DROP COLUMN backfill_due_on;
ALTER TABLE manifests DROP COLUMN paper_number;
ALTER TABLE manifests DROP COLUMN back_filled;
ALTER TABLE manifests DROP COLUMN arrival_recorded_by;
ALTER TABLE manifests DROP COLUMN arrival_reported_by;
ALTER TABLE manifests DROP COLUMN arrived_at;
