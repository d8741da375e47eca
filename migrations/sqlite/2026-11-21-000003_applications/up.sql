-- Transfer applications (SQLite twin of the PostgreSQL migration of the same name).
-- clock suspensions, decisions, the case timeline, and gap-free approval numbers.

CREATE TABLE transfer_applications (
    id TEXT PRIMARY KEY,
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
    source_province TEXT NOT NULL,
    source_division TEXT NOT NULL,
    operator_id TEXT NOT NULL REFERENCES operators (id),
    receiving_province TEXT NOT NULL,
    route TEXT NOT NULL CHECK (route IN ('whitelist', 'standard')),
    -- JSON array of the reasons for the route (why not the whitelist).
    route_reasons TEXT NOT NULL,
    -- Whitelist route: 'consent' when the receiving province must approve too, else 'inform'.
    receiving_consent TEXT NOT NULL,
    status TEXT NOT NULL,
    method TEXT NOT NULL CHECK (method IN ('utilise', 'dispose', 'store')),
    period_start TEXT NOT NULL,
    period_end TEXT NOT NULL,
    -- JSON array of carriers {name, permit_number, plate}.
    carriers TEXT NOT NULL,
    catalogue_edition INTEGER NOT NULL,
    received_at TIMESTAMP NOT NULL,
    received_on TEXT NOT NULL,
    accepted_on TEXT,
    deemed_accepted BOOLEAN NOT NULL,
    -- JSON array of every problem named in the one-time correction notice.
    correction_notice TEXT,
    approval_number TEXT UNIQUE,
    approved_at TIMESTAMP,
    valid_until TEXT,
    idempotency_key TEXT,
    request_hash TEXT NOT NULL,
    filed_by TEXT NOT NULL,
    -- The open step's due instant and acting side, kept here so queues sort on one index.
    next_due_at TIMESTAMP,
    next_side TEXT,
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (enterprise_id, idempotency_key)
);
CREATE INDEX transfer_applications_source ON transfer_applications (source_province, next_due_at, id);
CREATE INDEX transfer_applications_receiving ON transfer_applications (receiving_province, next_due_at, id);
CREATE INDEX transfer_applications_enterprise ON transfer_applications (enterprise_id, id);
CREATE INDEX transfer_applications_operator ON transfer_applications (operator_id, id);

CREATE TABLE application_items (
    application_id TEXT NOT NULL REFERENCES transfer_applications (id),
    line INTEGER NOT NULL,
    waste_code TEXT NOT NULL,
    category TEXT NOT NULL,
    waste_name TEXT NOT NULL,
    physical_form TEXT NOT NULL,
    hazards TEXT NOT NULL,
    packaging TEXT NOT NULL,
    quantity_g BIGINT NOT NULL CHECK (quantity_g > 0),
    -- The whitelist entry (and its version) the item reserved against, on the whitelist route.
    entry_id TEXT REFERENCES whitelist_entries (id),
    entry_version INTEGER,
    PRIMARY KEY (application_id, line)
);

CREATE TABLE application_steps (
    id TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES transfer_applications (id),
    kind TEXT NOT NULL,
    side TEXT NOT NULL,
    started_on TEXT NOT NULL,
    working_days INTEGER NOT NULL,
    due_on TEXT NOT NULL,
    due_at TIMESTAMP NOT NULL,
    provisional BOOLEAN NOT NULL,
    completed_at TIMESTAMP,
    outcome TEXT,
    overdue_at TIMESTAMP,
    UNIQUE (application_id, kind)
);
CREATE INDEX application_steps_open ON application_steps (completed_at, due_at);

CREATE TABLE clock_suspensions (
    id TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES transfer_applications (id),
    step_id TEXT NOT NULL REFERENCES application_steps (id),
    reason TEXT NOT NULL,
    suspended_on TEXT NOT NULL,
    resumed_on TEXT,
    suspended_by TEXT NOT NULL,
    resumed_by TEXT,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE decisions (
    id TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES transfer_applications (id),
    side TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reasons TEXT NOT NULL,
    conditions TEXT NOT NULL,
    decided_by TEXT NOT NULL,
    decided_at TIMESTAMP NOT NULL
);
CREATE INDEX decisions_app ON decisions (application_id, id);

-- The case timeline shown to every party of the case.
CREATE TABLE application_events (
    id TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES transfer_applications (id),
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    role TEXT NOT NULL,
    detail TEXT NOT NULL,
    at TIMESTAMP NOT NULL
);
CREATE INDEX application_events_app ON application_events (application_id, id);

-- Approval numbers run without gaps per source province and year (渝危转〔2026〕0001号).
CREATE TABLE approval_counters (
    source_province TEXT NOT NULL,
    year INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    PRIMARY KEY (source_province, year)
);
