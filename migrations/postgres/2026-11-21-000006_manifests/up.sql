-- Shipment manifests (电子转移联单): one per vehicle trip under an approval. The number is
-- year (4) + source province (2) + source city (2) + serial (6); the serial comes from
-- `manifest_counters`, one row per source city and year.
CREATE TABLE manifests (
    id TEXT PRIMARY KEY,
    number TEXT NOT NULL UNIQUE,
    application_id TEXT NOT NULL REFERENCES transfer_applications (id),
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
    operator_id TEXT NOT NULL REFERENCES operators (id),
    source_province TEXT NOT NULL,
    receiving_province TEXT NOT NULL,
    source_city TEXT NOT NULL,
    year INTEGER NOT NULL,
    serial INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('created', 'in_transit', 'received', 'rejected', 'cancelled')),
    carrier_name TEXT NOT NULL,
    carrier_permit TEXT NOT NULL,
    vehicle_plate TEXT NOT NULL,
    driver_name TEXT NOT NULL,
    route_from TEXT NOT NULL,
    route_to TEXT NOT NULL,
    departure_at TIMESTAMP NOT NULL,
    dispatched_at TIMESTAMP,
    receipt_due_on TEXT,
    receipt_due_at TIMESTAMP,
    receipt_due_provisional BOOLEAN NOT NULL DEFAULT FALSE,
    receipt_overdue_at TIMESTAMP,
    received_at TIMESTAMP,
    received_by TEXT,
    rejected_reason TEXT,
    discrepancy BOOLEAN NOT NULL DEFAULT FALSE,
    discrepancy_note TEXT,
    idempotency_key TEXT,
    request_hash TEXT NOT NULL,
    created_by TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (source_city, year, serial),
    UNIQUE (enterprise_id, idempotency_key)
);
CREATE INDEX manifests_application ON manifests (application_id, id);
CREATE INDEX manifests_operator ON manifests (operator_id, id);
CREATE INDEX manifests_enterprise ON manifests (enterprise_id, id);
CREATE INDEX manifests_receipt_due ON manifests (status, receipt_due_at);

CREATE TABLE manifest_items (
    manifest_id TEXT NOT NULL REFERENCES manifests (id),
    line INTEGER NOT NULL,
    application_line INTEGER NOT NULL,
    waste_code TEXT NOT NULL,
    quantity_g BIGINT NOT NULL CHECK (quantity_g > 0),
    accepted_g BIGINT CHECK (accepted_g >= 0),
    PRIMARY KEY (manifest_id, line)
);

CREATE TABLE manifest_counters (
    source_city TEXT NOT NULL,
    year INTEGER NOT NULL,
    last_serial INTEGER NOT NULL,
    PRIMARY KEY (source_city, year)
);

-- What manifests drew on each approved item (not rejected or cancelled) and what was accepted.
ALTER TABLE application_items ADD COLUMN shipped_g BIGINT NOT NULL DEFAULT 0;
ALTER TABLE application_items ADD COLUMN received_g BIGINT NOT NULL DEFAULT 0;

-- Totals per application, kept with the items so the history search needs no join to sum.
ALTER TABLE transfer_applications ADD COLUMN quantity_g BIGINT NOT NULL DEFAULT 0;
ALTER TABLE transfer_applications ADD COLUMN shipped_g BIGINT NOT NULL DEFAULT 0;
ALTER TABLE transfer_applications ADD COLUMN received_g BIGINT NOT NULL DEFAULT 0;
UPDATE transfer_applications SET quantity_g = (
    SELECT COALESCE(SUM(i.quantity_g), 0) FROM application_items i WHERE i.application_id = transfer_applications.id
);

-- The history search: newest first within each filter.
CREATE INDEX transfer_applications_created ON transfer_applications (created_at, id);
CREATE INDEX transfer_applications_status ON transfer_applications (status, id);
CREATE INDEX transfer_applications_source_id ON transfer_applications (source_province, id);
CREATE INDEX transfer_applications_receiving_id ON transfer_applications (receiving_province, id);
CREATE INDEX application_items_code ON application_items (waste_code, application_id);
CREATE INDEX application_items_category ON application_items (category, application_id);

-- A rejected or cancelled load is undone on the whitelist entry: the `return` movement.
ALTER TABLE quota_ledger DROP CONSTRAINT quota_ledger_movement_check;
ALTER TABLE quota_ledger ADD CONSTRAINT quota_ledger_movement_check
    CHECK (movement IN ('reserve', 'commit', 'release', 'release_approved', 'ship', 'return', 'receive'));
