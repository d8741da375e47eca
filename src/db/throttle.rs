//! Failed-login counters kept in the database, so every replica sees the same lockouts.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::schema::login_throttle;
use super::{DbConnection, DbResult};

/// When `key` is locked out at `now`, the instant the lockout ends.
pub fn locked_until(conn: &mut DbConnection, key: &str, now: NaiveDateTime) -> DbResult<Option<NaiveDateTime>> {
    let until: Option<Option<NaiveDateTime>> = login_throttle::table
        .find(key)
        .select(login_throttle::locked_until)
        .first(conn)
        .optional()?;
    Ok(until.flatten().filter(|u| *u > now))
}

/// Counts one failure for `key` inside a window of `window`; at `max_failures` the key is locked
/// for `window`. Returns the lockout end when this failure triggered (or extended) one.
pub fn record_failure(
    conn: &mut DbConnection,
    key: &str,
    now: NaiveDateTime,
    window: Duration,
    max_failures: i32,
) -> DbResult<Option<NaiveDateTime>> {
    conn.transaction(|conn| {
        let row: Option<(i32, NaiveDateTime)> = login_throttle::table
            .find(key)
            .select((login_throttle::failures, login_throttle::window_started_at))
            .first(conn)
            .optional()?;
        let (failures, started) = match row {
            Some((f, started)) if now - started < window => (f + 1, started),
            _ => (1, now),
        };
        let locked = (failures >= max_failures).then_some(now + window);
        if row.is_some() {
            diesel::update(login_throttle::table.find(key))
                .set((
                    login_throttle::failures.eq(failures),
                    login_throttle::window_started_at.eq(started),
                    login_throttle::locked_until.eq(locked),
                ))
                .execute(conn)?;
        } else {
            diesel::insert_into(login_throttle::table)
                .values((
                    login_throttle::key.eq(key),
                    login_throttle::failures.eq(failures),
                    login_throttle::window_started_at.eq(started),
                    login_throttle::locked_until.eq(locked),
                ))
                .execute(conn)?;
        }
        Ok(locked)
    })
}

/// Forgets the failures of `key` (after a successful login).
pub fn clear(conn: &mut DbConnection, key: &str) -> DbResult<()> {
    diesel::delete(login_throttle::table.find(key)).execute(conn)?;
    Ok(())
}
