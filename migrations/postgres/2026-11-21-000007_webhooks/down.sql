ALTER TABLE transfer_applications DROP COLUMN expiry_notice_at;
ALTER TABLE application_steps DROP COLUMN reminded_at;
DROP TABLE job_leases;
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_subscriptions;
DROP TABLE outbox_events;
ALTER TABLE audit_head DROP COLUMN event_seq;
