-- The tamper-evident audit trail: one append-only table, each record chained to the one before
-- by SHA-256 (see src/audit). `seq` has no gaps; `audit_head` holds the last seq and hash, and its
-- single row is the lock that orders concurrent appends.
CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    at TIMESTAMP NOT NULL,
    actor TEXT NOT NULL,
    actor_name TEXT NOT NULL,
    role TEXT NOT NULL,
    request_id TEXT,
    object_type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    action TEXT NOT NULL,
    diff TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_log_object ON audit_log (object_type, object_id, seq);
CREATE INDEX audit_log_actor ON audit_log (actor, seq);
CREATE INDEX audit_log_at ON audit_log (at, seq);

CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
