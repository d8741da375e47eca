//! Failed-login counters kept in the database, so every replica sees the same lockouts, and the
//! lockouts of a key grow when they repeat (`domain::credentials::lockout_length`).

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::schema::login_throttle;
use super::{DbConnection, DbResult};
use crate::domain::credentials::{LOCKOUT_MEMORY_SECS, lockout_length};

/// When `key` is locked out at `now`, the instant the lockout ends.
pub fn locked_until(conn: &mut DbConnection, key: &str, now: NaiveDateTime) -> DbResult<Option<NaiveDateTime>> {
    let until: Option<Option<NaiveDateTime>> = login_throttle::table
        .find(key)
        .select(login_throttle::locked_until)
        .first(conn)
        .optional()?;
    Ok(until.flatten().filter(|u| *u > now))
}

/// A lockout a failure triggered: when it ends, and which one in a row it is (1 for the first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lockout {
    pub until: NaiveDateTime,
    pub number: i32,
}

/// Counts one failure for `key` inside a window of `window`; at `max_failures` the key is locked,
/// the first time for `window`, each further time longer (see `lockout_length`), the count
/// starting again a day after the last lockout ended. Returns the lockout this failure triggered.
/// A failure counted while the key is locked already (requests racing past the check) triggers
/// nothing more.
pub fn record_failure(
    conn: &mut DbConnection,
    key: &str,
    now: NaiveDateTime,
    window: Duration,
    max_failures: i32,
) -> DbResult<Option<Lockout>> {
    conn.transaction(|conn| {
        // Takes the row's lock first (PostgreSQL: until the commit), so two replicas counting
        // failures of one key at once cannot overwrite each other's count.
        diesel::update(login_throttle::table.find(key))
            .set(login_throttle::failures.eq(login_throttle::failures))
            .execute(conn)?;
        let row: Option<(i32, NaiveDateTime, Option<NaiveDateTime>, i32)> = login_throttle::table
            .find(key)
            .select((
                login_throttle::failures,
                login_throttle::window_started_at,
                login_throttle::locked_until,
                login_throttle::lockouts,
            ))
            .first(conn)
            .optional()?;
        let last_end = row.and_then(|(_, _, until, _)| until);
        if last_end.is_some_and(|end| end > now) {
            return Ok(None);
        }
        let (failures, started) = match row {
            Some((f, started, _, _)) if now - started < window => (f + 1, started),
            _ => (1, now),
        };
        let lockouts = match (row, last_end) {
            (Some(_), Some(end)) if now - end > Duration::seconds(LOCKOUT_MEMORY_SECS) => 0,
            (Some((_, _, _, n)), _) => n,
            (None, _) => 0,
        };
        let lockout = (failures >= max_failures).then(|| Lockout {
            until: now + lockout_length(window, lockouts + 1),
            number: lockouts + 1,
        });
        let (failures, lockouts, until) = match lockout {
            // A new window starts after the lockout.
            Some(l) => (0, l.number, Some(l.until)),
            None => (failures, lockouts, last_end),
        };
        if row.is_some() {
            diesel::update(login_throttle::table.find(key))
                .set((
                    login_throttle::failures.eq(failures),
                    login_throttle::window_started_at.eq(started),
                    login_throttle::locked_until.eq(until),
                    login_throttle::lockouts.eq(lockouts),
                ))
                .execute(conn)?;
        } else {
            diesel::insert_into(login_throttle::table)
                .values((
                    login_throttle::key.eq(key),
                    login_throttle::failures.eq(failures),
                    login_throttle::window_started_at.eq(started),
                    login_throttle::locked_until.eq(until),
                    login_throttle::lockouts.eq(lockouts),
                ))
                .execute(conn)?;
        }
        Ok(lockout)
    })
}

/// Forgets the failures and the lockouts of `key` (after a successful login).
pub fn clear(conn: &mut DbConnection, key: &str) -> DbResult<()> {
    diesel::delete(login_throttle::table.find(key)).execute(conn)?;
    Ok(())
}
