-- 撤销: a regulator of the source province revokes an approval, with reasons and the moment.
ALTER TABLE transfer_applications ADD COLUMN revoked_at TIMESTAMP;
ALTER TABLE transfer_applications ADD COLUMN revocation_reasons TEXT;
-- A province-pair agreement may be terminated from a date, with a reason; it counts only before.
ALTER TABLE agreements ADD COLUMN terminated_on TEXT;
ALTER TABLE agreements ADD COLUMN termination_reason TEXT;
ALTER TABLE agreements ADD COLUMN terminated_by TEXT;
-- A licence may state its annual capacity per category (JSON object: category -> grams); a
-- category without its own figure is bounded by the licence's total.
ALTER TABLE operator_licences ADD COLUMN category_capacities TEXT NOT NULL DEFAULT '{}';
