-- Foundation (SQLite twin of the PostgreSQL migration of the same name).
-- Only column types both backends share; dates are TEXT YYYY-MM-DD.

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('enterprise', 'operator', 'regulator', 'auditor', 'admin')),
    province TEXT,
    enterprise_id TEXT,
    operator_id TEXT,
    display_name TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE api_clients (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('enterprise', 'operator')),
    enterprise_id TEXT,
    operator_id TEXT,
    active BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL
);

-- Failed-login counters, shared by every replica. key = 'user:NAME' or 'ip:ADDRESS'.
CREATE TABLE login_throttle (
    key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    window_started_at TIMESTAMP NOT NULL,
    locked_until TIMESTAMP
);

CREATE TABLE catalogue_editions (
    edition INTEGER PRIMARY KEY,
    in_force_from TEXT NOT NULL,
    source TEXT NOT NULL,
    imported_at TIMESTAMP NOT NULL
);

CREATE TABLE waste_codes (
    edition INTEGER NOT NULL REFERENCES catalogue_editions (edition),
    code TEXT NOT NULL,
    category TEXT NOT NULL,
    category_name TEXT NOT NULL,
    industry_source TEXT NOT NULL,
    description TEXT NOT NULL,
    hazards TEXT NOT NULL,
    PRIMARY KEY (edition, code)
);
CREATE INDEX waste_codes_category ON waste_codes (edition, category);

-- One row per year whose State Council notice is loaded; a year without a row is 'provisional'.
CREATE TABLE calendar_years (
    year INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    imported_at TIMESTAMP NOT NULL
);

CREATE TABLE calendar_days (
    day TEXT PRIMARY KEY,
    year INTEGER NOT NULL REFERENCES calendar_years (year) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('holiday', 'workday')),
    name_zh TEXT NOT NULL,
    name_en TEXT NOT NULL
);
CREATE INDEX calendar_days_year ON calendar_days (year);
