-- Audit records are append-only (等保 2.0 level 3, 网络安全法 第21条): no statement may change or remove
-- one. The hash chain finds tampering after the fact; these triggers refuse it before. (SQLite has no
-- TRUNCATE: a DELETE without WHERE fires the delete trigger for every row.)
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit records are append-only: UPDATE on audit_log refused');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit records are append-only: DELETE on audit_log refused');
END;
