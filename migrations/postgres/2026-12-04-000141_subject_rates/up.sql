-- The per-subject request limit shared by every replica (auth::rate_limit): one row per
-- subject with its GCRA "theoretical arrival time" in microseconds of the database's clock.
-- UNLOGGED: the counters need no crash safety, so a request costs no WAL write.
CREATE UNLOGGED TABLE subject_rates (
    subject TEXT PRIMARY KEY,
    tat_us BIGINT NOT NULL
);
