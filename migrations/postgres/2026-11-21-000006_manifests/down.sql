ALTER TABLE quota_ledger DROP CONSTRAINT quota_ledger_movement_check;
ALTER TABLE quota_ledger ADD CONSTRAINT quota_ledger_movement_check
    CHECK (movement IN ('reserve', 'commit', 'release', 'release_approved', 'ship', 'receive'));
DROP INDEX application_items_category;
DROP INDEX application_items_code;
DROP INDEX transfer_applications_receiving_id;
DROP INDEX transfer_applications_source_id;
DROP INDEX transfer_applications_status;
DROP INDEX transfer_applications_created;
ALTER TABLE transfer_applications DROP COLUMN received_g;
ALTER TABLE transfer_applications DROP COLUMN shipped_g;
ALTER TABLE transfer_applications DROP COLUMN quantity_g;
ALTER TABLE application_items DROP COLUMN received_g;
ALTER TABLE application_items DROP COLUMN shipped_g;
DROP TABLE manifest_counters;
DROP TABLE manifest_items;
DROP TABLE manifests;
