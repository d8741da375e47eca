-- Whitelist registry (SQLite twin of the PostgreSQL migration of the same name).
-- yearly whitelist entries with their versions, and the quota ledger. Quantities are grams (BIGINT).

CREATE TABLE enterprises (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    uscc TEXT NOT NULL UNIQUE,
    province TEXT NOT NULL,
    division_code TEXT NOT NULL,
    address TEXT NOT NULL,
    contact_name TEXT NOT NULL,
    contact_phone TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX enterprises_province ON enterprises (province, id);

CREATE TABLE operators (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    uscc TEXT NOT NULL UNIQUE,
    province TEXT NOT NULL,
    division_code TEXT NOT NULL,
    address TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX operators_province ON operators (province, id);

-- Every renewal or change of a 危险废物经营许可证 is a new version; the highest version is current.
CREATE TABLE operator_licences (
    id TEXT PRIMARY KEY,
    operator_id TEXT NOT NULL REFERENCES operators (id),
    version INTEGER NOT NULL,
    licence_number TEXT NOT NULL,
    modes TEXT NOT NULL,
    categories TEXT NOT NULL,
    codes TEXT NOT NULL,
    annual_capacity_g BIGINT NOT NULL CHECK (annual_capacity_g > 0),
    valid_from TEXT NOT NULL,
    valid_until TEXT NOT NULL,
    issuing_authority TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('valid', 'suspended', 'revoked')),
    status_reason TEXT,
    recorded_by TEXT NOT NULL,
    recorded_at TIMESTAMP NOT NULL,
    UNIQUE (operator_id, version)
);

-- The two provinces are stored in code order (province_a < province_b).
CREATE TABLE agreements (
    id TEXT PRIMARY KEY,
    province_a TEXT NOT NULL,
    province_b TEXT NOT NULL,
    valid_from TEXT NOT NULL,
    valid_until TEXT NOT NULL,
    receiving_consent TEXT NOT NULL CHECK (receiving_consent IN ('consent', 'inform')),
    cap_per_application_g BIGINT,
    status TEXT NOT NULL CHECK (status IN ('proposed', 'confirmed')),
    proposed_by TEXT NOT NULL,
    proposed_by_province TEXT NOT NULL,
    confirmed_by TEXT,
    confirmed_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    CHECK (province_a < province_b)
);
CREATE INDEX agreements_pair ON agreements (province_a, province_b);

CREATE TABLE whitelist_entries (
    id TEXT PRIMARY KEY,
    year INTEGER NOT NULL,
    operator_id TEXT NOT NULL REFERENCES operators (id),
    receiving_province TEXT NOT NULL,
    source_province TEXT NOT NULL,
    -- A waste code NNN-NNN-NN or a whole category HWxx; scope_kind says which.
    scope_kind TEXT NOT NULL CHECK (scope_kind IN ('code', 'category')),
    scope TEXT NOT NULL,
    category TEXT NOT NULL,
    quota_g BIGINT NOT NULL CHECK (quota_g > 0),
    reserved_g BIGINT NOT NULL DEFAULT 0 CHECK (reserved_g >= 0),
    approved_g BIGINT NOT NULL DEFAULT 0 CHECK (approved_g >= 0),
    shipped_g BIGINT NOT NULL DEFAULT 0 CHECK (shipped_g >= 0),
    received_g BIGINT NOT NULL DEFAULT 0 CHECK (received_g >= 0),
    facility TEXT,
    note TEXT,
    status TEXT NOT NULL CHECK (status IN ('proposed', 'confirmed', 'suspended', 'expired')),
    status_reason TEXT,
    proposed_by TEXT NOT NULL,
    proposed_by_province TEXT NOT NULL,
    confirmed_by TEXT,
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    -- The quota invariant, enforced by the database as a last line of defence.
    CHECK (reserved_g + approved_g <= quota_g),
    UNIQUE (year, operator_id, source_province, scope)
);
CREATE INDEX whitelist_entries_year ON whitelist_entries (year, source_province, receiving_province, id);
CREATE INDEX whitelist_entries_operator ON whitelist_entries (operator_id, year);

-- Every change of an entry: valid time (when it holds in the world) and record time (when we knew).
CREATE TABLE whitelist_entry_versions (
    entry_id TEXT NOT NULL REFERENCES whitelist_entries (id),
    version INTEGER NOT NULL,
    valid_from TIMESTAMP NOT NULL,
    recorded_at TIMESTAMP NOT NULL,
    status TEXT NOT NULL,
    quota_g BIGINT NOT NULL,
    change TEXT NOT NULL,
    reason TEXT,
    changed_by TEXT NOT NULL,
    snapshot TEXT NOT NULL,
    PRIMARY KEY (entry_id, version)
);

-- One row per quota movement: reserve, commit, release, release_approved, ship, receive.
CREATE TABLE quota_ledger (
    id TEXT PRIMARY KEY,
    entry_id TEXT NOT NULL REFERENCES whitelist_entries (id),
    movement TEXT NOT NULL CHECK (movement IN ('reserve', 'commit', 'release', 'release_approved', 'ship', 'receive')),
    amount_g BIGINT NOT NULL CHECK (amount_g > 0),
    application_id TEXT,
    actor TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX quota_ledger_entry ON quota_ledger (entry_id, id);
