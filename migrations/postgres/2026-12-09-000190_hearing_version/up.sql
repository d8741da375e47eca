-- Which webhook subscriptions hear the events a write emits is decided under the audit head's
-- lock, so that a subscription committed before the events are numbered hears them. Instead of
-- reading the subscriptions there on every write, the head carries a token that changes with
-- every change that can alter who hears what (a subscription added or removed, its status,
-- owner or event types changed); a server keeps the subscriptions it read under a token and
-- reads them again only when the head shows another one (db::outbox::hearers). The token is
-- random, not a counter, so that two databases never share one.
ALTER TABLE audit_head ADD COLUMN subscriptions_version TEXT NOT NULL DEFAULT replace(gen_random_uuid()::text, '-', '');

CREATE FUNCTION webhook_subscriptions_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE audit_head SET subscriptions_version = replace(gen_random_uuid()::text, '-', '') WHERE id = 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER webhook_subscriptions_added_or_removed
    AFTER INSERT OR DELETE ON webhook_subscriptions
    FOR EACH STATEMENT EXECUTE FUNCTION webhook_subscriptions_changed();

CREATE TRIGGER webhook_subscriptions_hearing_changed
    AFTER UPDATE ON webhook_subscriptions
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status
          OR OLD.owner_kind IS DISTINCT FROM NEW.owner_kind
          OR OLD.owner_id IS DISTINCT FROM NEW.owner_id
          OR OLD.event_types IS DISTINCT FROM NEW.event_types)
    EXECUTE FUNCTION webhook_subscriptions_changed();
