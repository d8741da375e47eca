-- Materials filed with an application (contract, the operator's licence copy, others the
-- province requires). The bytes live in the data directory; the row holds their SHA-256.
CREATE TABLE application_attachments (
    id TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES transfer_applications (id),
    kind TEXT NOT NULL CHECK (kind IN ('contract', 'licence_copy', 'other')),
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_at TIMESTAMP NOT NULL
);
CREATE INDEX application_attachments_app ON application_attachments (application_id, id);
