//! Web UI sessions: when each began and was last used, so that every replica ends one that was
//! idle too long, lasted too long or was signed out (等保 2.0: 登录连接超时自动退出).

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde_json::json;

use super::schema::ui_sessions;
use super::{DbConnection, DbResult, audit, write_tx};

/// Sessions are kept this long after they began (longer than any absolute limit), then deleted.
const KEEP_HOURS: i64 = 48;

/// Whether a session may go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Alive,
    /// Unused longer than the idle limit: ended now.
    Idle,
    /// Older than the absolute limit: ended now.
    Absolute,
    /// Signed out or ended before, or never begun here.
    Ended,
}

/// Begins session `id` (the session token's id) of `user_id`; forgets sessions long past.
pub fn start(conn: &mut DbConnection, id: &str, user_id: &str, now: NaiveDateTime) -> DbResult<()> {
    diesel::delete(ui_sessions::table.filter(ui_sessions::started_at.lt(now - Duration::hours(KEEP_HOURS))))
        .execute(conn)?;
    diesel::insert_into(ui_sessions::table)
        .values((
            ui_sessions::id.eq(id),
            ui_sessions::user_id.eq(user_id),
            ui_sessions::started_at.eq(now),
            ui_sessions::last_seen_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Checks session `id` at `now` against the limits and, when it goes on and `active` (a person's
/// request, not a page's background refresh), marks it used. A session past a limit is ended
/// and that goes into the audit trail.
pub fn keep(
    conn: &mut DbConnection,
    id: &str,
    now: NaiveDateTime,
    idle: Duration,
    absolute: Duration,
    active: bool,
) -> DbResult<Standing> {
    let row: Option<(String, NaiveDateTime, NaiveDateTime, Option<NaiveDateTime>)> = ui_sessions::table
        .find(id)
        .select((
            ui_sessions::user_id,
            ui_sessions::started_at,
            ui_sessions::last_seen_at,
            ui_sessions::ended_at,
        ))
        .first(conn)
        .optional()?;
    let Some((user_id, started, last_seen, None)) = row else {
        return Ok(Standing::Ended);
    };
    let standing = if now - started >= absolute {
        Standing::Absolute
    } else if now - last_seen >= idle {
        Standing::Idle
    } else {
        // Written at most every few seconds: a page with many requests costs one write.
        if active && now - last_seen >= Duration::seconds(5) {
            diesel::update(ui_sessions::table.find(id).filter(ui_sessions::ended_at.is_null()))
                .set(ui_sessions::last_seen_at.eq(now))
                .execute(conn)?;
        }
        return Ok(Standing::Alive);
    };
    let reason = if standing == Standing::Idle { "idle" } else { "absolute" };
    end_as(conn, id, &user_id, now, reason)?;
    Ok(standing)
}

/// Ends session `id` (signing out); false when it had ended already.
pub fn end(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> DbResult<bool> {
    let user: Option<String> = ui_sessions::table
        .find(id)
        .filter(ui_sessions::ended_at.is_null())
        .select(ui_sessions::user_id)
        .first(conn)
        .optional()?;
    match user {
        Some(user_id) => end_as(conn, id, &user_id, now, "signed_out"),
        None => Ok(false),
    }
}

fn end_as(conn: &mut DbConnection, id: &str, user_id: &str, now: NaiveDateTime, reason: &str) -> DbResult<bool> {
    write_tx(conn, |conn| {
        let n = diesel::update(ui_sessions::table.find(id).filter(ui_sessions::ended_at.is_null()))
            .set(ui_sessions::ended_at.eq(Some(now)))
            .execute(conn)?;
        if n == 1 {
            audit::record(conn, "user", user_id, "ui_session_ended", json!({"reason": reason}))?;
        }
        Ok(n == 1)
    })
}
