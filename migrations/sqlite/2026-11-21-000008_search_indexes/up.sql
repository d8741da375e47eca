-- Auditors search the trail by object id alone (`GET /audit/events?object=`); the index led by
-- object_type could not serve that and the search scanned the whole trail.
CREATE INDEX audit_log_object_id ON audit_log (object_id, seq);
DROP INDEX audit_log_object;

-- A province's history by status ("what did we refuse"). (PostgreSQL also carries the tonnage
-- columns in these indexes for the totals; SQLite has no INCLUDE.)
CREATE INDEX transfer_applications_source_status ON transfer_applications (source_province, status, id);
CREATE INDEX transfer_applications_receiving_status ON transfer_applications (receiving_province, status, id);
