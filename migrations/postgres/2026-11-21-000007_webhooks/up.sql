-- Webhooks: a transactional outbox of domain events, subscriptions, and one delivery per event
-- and subscription with every attempt recorded (see src/webhooks, src/db/outbox.rs).

-- Events get their `seq` under the audit head lock, so `seq` grows in commit order.
ALTER TABLE audit_head ADD COLUMN event_seq BIGINT NOT NULL DEFAULT 0;

CREATE TABLE outbox_events (
    seq BIGINT PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    -- ',kind:id,kind:id,': the parties that hear it.
    audience TEXT NOT NULL,
    -- The exact JSON body that is delivered and signed.
    payload TEXT NOT NULL,
    occurred_at TIMESTAMP NOT NULL
);
CREATE INDEX outbox_events_object ON outbox_events (object_type, object_id, seq);

CREATE TABLE webhook_subscriptions (
    id TEXT PRIMARY KEY,
    owner_kind TEXT NOT NULL CHECK (owner_kind IN ('enterprise', 'operator', 'province')),
    owner_id TEXT NOT NULL,
    url TEXT NOT NULL,
    -- JSON array of event type names.
    event_types TEXT NOT NULL,
    -- The HMAC key. It must be kept to sign; it is shown to the owner once, never returned again.
    secret TEXT NOT NULL,
    description TEXT,
    status TEXT NOT NULL CHECK (status IN ('active', 'disabled', 'deleted')),
    failing_since TIMESTAMP,
    last_success_at TIMESTAMP,
    last_failure_at TIMESTAMP,
    disabled_at TIMESTAMP,
    disabled_reason TEXT,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version INTEGER NOT NULL
);
CREATE INDEX webhook_subscriptions_owner ON webhook_subscriptions (owner_id, owner_kind);

CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    subscription_id TEXT NOT NULL REFERENCES webhook_subscriptions (id),
    event_seq BIGINT NOT NULL REFERENCES outbox_events (seq),
    object_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    give_up_at TIMESTAMP NOT NULL,
    last_status INTEGER,
    last_error TEXT,
    delivered_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (subscription_id, event_seq)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_order ON webhook_deliveries (subscription_id, object_id, event_seq);

CREATE TABLE webhook_attempts (
    id TEXT PRIMARY KEY,
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries (id),
    attempt INTEGER NOT NULL,
    at TIMESTAMP NOT NULL,
    status_code INTEGER,
    error TEXT,
    duration_ms INTEGER NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, attempt);

-- Leases of background jobs that must run on one replica at a time and hold no connection
-- while they wait on the network.
CREATE TABLE job_leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
INSERT INTO job_leases (name, holder, expires_at) VALUES ('webhook_delivery', '', '1970-01-01 00:00:00');

-- Reminders are sent once.
ALTER TABLE application_steps ADD COLUMN reminded_at TIMESTAMP;
ALTER TABLE transfer_applications ADD COLUMN expiry_notice_at TIMESTAMP;
