ALTER TABLE operator_licences DROP COLUMN category_capacities;
ALTER TABLE agreements DROP COLUMN terminated_by;
ALTER TABLE agreements DROP COLUMN termination_reason;
ALTER TABLE agreements DROP COLUMN terminated_on;
ALTER TABLE transfer_applications DROP COLUMN revocation_reasons;
ALTER TABLE transfer_applications DROP COLUMN revoked_at;
