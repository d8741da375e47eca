-- The argon2 hashes of a person's recent passwords, the current one included, so that a new
-- password repeats none of the last five (domain::credentials::HISTORY) and its age is known
-- (HWT_PASSWORD_MAX_AGE_DAYS). Existing accounts start with their current password, dated by the
-- account's last change.
CREATE TABLE password_history (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id),
    password_hash TEXT NOT NULL,
    set_at TIMESTAMP NOT NULL
);
CREATE INDEX password_history_user ON password_history (user_id, set_at);
INSERT INTO password_history (id, user_id, password_hash, set_at)
    SELECT 'initial-' || id, id, password_hash, updated_at FROM users;
