-- Kept for the same schema on both backends; only PostgreSQL deployments count requests in the
-- database (a SQLite service is one process and counts in memory, see auth::rate_limit).
CREATE TABLE subject_rates (
    subject TEXT PRIMARY KEY,
    tat_us BIGINT NOT NULL
);
