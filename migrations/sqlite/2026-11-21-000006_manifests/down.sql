CREATE TABLE quota_ledger_new (
    id TEXT PRIMARY KEY,
    entry_id TEXT NOT NULL REFERENCES whitelist_entries (id),
    movement TEXT NOT NULL CHECK (movement IN ('reserve', 'commit', 'release', 'release_approved', 'ship', 'receive')),
    amount_g BIGINT NOT NULL CHECK (amount_g > 0),
    application_id TEXT,
    actor TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
INSERT INTO quota_ledger_new SELECT id, entry_id, movement, amount_g, application_id, actor, created_at FROM quota_ledger WHERE movement <> 'return';
DROP TABLE quota_ledger;
ALTER TABLE quota_ledger_new RENAME TO quota_ledger;
CREATE INDEX quota_ledger_entry ON quota_ledger (entry_id, id);
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
