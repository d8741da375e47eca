-- Web UI sessions, one per sign-in (keyed by the session token's id), so that every replica
-- ends a session that was idle too long (HWT_UI_IDLE_MINUTES), lasted too long
-- (HWT_UI_ABSOLUTE_HOURS) or was signed out.
CREATE TABLE ui_sessions (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id),
    started_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    ended_at TIMESTAMP
);
CREATE INDEX ui_sessions_started ON ui_sessions (started_at);
