-- Kept for the same schema on both backends; only a PostgreSQL deployment with a read
-- replica writes it (see db::replica).
CREATE TABLE write_marks (
    subject TEXT PRIMARY KEY,
    lsn BIGINT NOT NULL,
    marked_at TIMESTAMP NOT NULL
);
