-- Which webhook subscriptions hear the events a write emits is decided under the audit head's
-- lock, so that a subscription committed before the events are numbered hears them. Instead of
-- reading the subscriptions there on every write, the head carries a token that changes with
-- every change that can alter who hears what (a subscription added or removed, its status,
-- owner or event types changed); a server keeps the subscriptions it read under a token and
-- reads them again only when the head shows another one (db::outbox::hearers). The token is
-- random, not a counter, so that two databases never share one.
ALTER TABLE audit_head ADD COLUMN subscriptions_version TEXT NOT NULL DEFAULT '';
UPDATE audit_head SET subscriptions_version = lower(hex(randomblob(16)));

CREATE TRIGGER webhook_subscriptions_added
    AFTER INSERT ON webhook_subscriptions
BEGIN
    UPDATE audit_head SET subscriptions_version = lower(hex(randomblob(16))) WHERE id = 1;
END;

CREATE TRIGGER webhook_subscriptions_removed
    AFTER DELETE ON webhook_subscriptions
BEGIN
    UPDATE audit_head SET subscriptions_version = lower(hex(randomblob(16))) WHERE id = 1;
END;

CREATE TRIGGER webhook_subscriptions_hearing_changed
    AFTER UPDATE ON webhook_subscriptions
    WHEN OLD.status IS NOT NEW.status
      OR OLD.owner_kind IS NOT NEW.owner_kind
      OR OLD.owner_id IS NOT NEW.owner_id
      OR OLD.event_types IS NOT NEW.event_types
BEGIN
    UPDATE audit_head SET subscriptions_version = lower(hex(randomblob(16))) WHERE id = 1;
END;
