-- Audit records are append-only (等保 2.0 level 3, 网络安全法 第21条): no statement may change or remove
-- one, whoever sends it through the service's connection. The hash chain finds tampering after the fact;
-- these triggers refuse it before. Removing them takes DDL rights, which a deployment keeps away from
-- the service's role (docs/RELIABILITY.md, "Audit records").
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit records are append-only: % on audit_log refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_log_no_update_or_delete
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
