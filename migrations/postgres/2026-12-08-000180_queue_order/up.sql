-- The order of the application list, `(next_due_at IS NULL), next_due_at, id` (cases with an open
-- step by due instant, then the rest by id), per province side and per province side and status:
-- a regulator's list without `side` reads the source side and the receiving side apart, each
-- walked in this order and stopped at the page, instead of sorting every case of the province
-- (db::applications::list).
CREATE INDEX transfer_applications_source_order
    ON transfer_applications (source_province, (next_due_at IS NULL), next_due_at, id);
CREATE INDEX transfer_applications_receiving_order
    ON transfer_applications (receiving_province, (next_due_at IS NULL), next_due_at, id);
CREATE INDEX transfer_applications_source_status_order
    ON transfer_applications (source_province, status, (next_due_at IS NULL), next_due_at, id);
CREATE INDEX transfer_applications_receiving_status_order
    ON transfer_applications (receiving_province, status, (next_due_at IS NULL), next_due_at, id);
