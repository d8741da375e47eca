-- Where each caller's last write ended in the primary's log (bytes), so that a read replica
-- serves a caller only once it has replayed past that point (see db::replica).
CREATE TABLE write_marks (
    subject TEXT PRIMARY KEY,
    lsn BIGINT NOT NULL,
    marked_at TIMESTAMP NOT NULL
);
