-- Auditors search the trail by object id alone (`GET /audit/events?object=`); the index led by
-- object_type could not serve that and the search scanned the whole trail.
CREATE INDEX audit_log_object_id ON audit_log (object_id, seq);
DROP INDEX audit_log_object;

-- A province's history by status ("what did we refuse"): the page walks one index, and the
-- tonnage totals are read from the index alone (INCLUDE) instead of the table.
CREATE INDEX transfer_applications_source_status ON transfer_applications (source_province, status, id)
    INCLUDE (quantity_g, shipped_g, received_g);
CREATE INDEX transfer_applications_receiving_status ON transfer_applications (receiving_province, status, id)
    INCLUDE (quantity_g, shipped_g, received_g);
