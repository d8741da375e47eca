-- How many lockouts the key (an account or an address) has had in a row: each lasts longer than
-- the one before (domain::credentials::lockout_length). `locked_until` now keeps the end of the
-- last lockout after it passed, so that the ladder is forgotten a day later.
ALTER TABLE login_throttle ADD COLUMN lockouts INTEGER NOT NULL DEFAULT 0;
