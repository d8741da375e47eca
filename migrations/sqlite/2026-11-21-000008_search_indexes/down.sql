DROP INDEX transfer_applications_receiving_status;
DROP INDEX transfer_applications_source_status;
CREATE INDEX audit_log_object ON audit_log (object_type, object_id, seq);
DROP INDEX audit_log_object_id;
