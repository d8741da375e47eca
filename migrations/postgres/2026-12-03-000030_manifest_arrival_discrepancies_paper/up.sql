-- 部令第23号 第18-20条. The receipt clock runs from arrival, which the operator (or the carrier,
-- through the producer) records; a receipt without a recorded arrival sets both.
ALTER TABLE manifests ADD COLUMN arrived_at TIMESTAMP;
ALTER TABLE manifests ADD COLUMN arrival_reported_by TEXT;
ALTER TABLE manifests ADD COLUMN arrival_recorded_by TEXT;
-- 第20条: a trip made on a paper manifest is back-filled within 10 working days of its end.
ALTER TABLE manifests ADD COLUMN back_filled BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE manifests ADD COLUMN paper_number TEXT;
ALTER TABLE manifests ADD COLUMN backfill_due_on TEXT;
ALTER TABLE manifests ADD COLUMN backfill_due_at TIMESTAMP;
ALTER TABLE manifests ADD COLUMN backfill_overdue_at TIMESTAMP;

-- 第18条: what the operator found different from the manifest (name, quantity, characteristics,
-- form, packaging), line by line, with its decision to accept or refuse, and when the receiving
-- area's department was told.
CREATE TABLE manifest_discrepancies (
    manifest_id TEXT NOT NULL REFERENCES manifests (id),
    seq INTEGER NOT NULL,
    line INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('name', 'quantity', 'characteristics', 'form', 'packaging')),
    description TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('accept', 'refuse')),
    recorded_by TEXT NOT NULL,
    reported_to TEXT NOT NULL,
    reported_at TIMESTAMP NOT NULL,
    PRIMARY KEY (manifest_id, seq)
);
