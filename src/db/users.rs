//! Users (people who log in) and API clients (enterprise systems using client credentials).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{api_clients, password_history, users};
use super::{DbConnection, DbResult, audit};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: String,
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub province: Option<String>,
    pub enterprise_id: Option<String>,
    pub operator_id: Option<String>,
    pub display_name: String,
    pub active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = api_clients)]
pub struct ApiClientRow {
    pub id: String,
    pub client_id: String,
    pub secret_hash: String,
    pub name: String,
    pub role: String,
    pub enterprise_id: Option<String>,
    pub operator_id: Option<String>,
    pub active: bool,
    pub created_at: NaiveDateTime,
}

pub fn insert_user(conn: &mut DbConnection, row: &UserRow) -> DbResult<()> {
    super::write_tx(conn, |conn| {
        diesel::insert_into(users::table).values(row.clone()).execute(conn)?;
        insert_history(conn, &row.id, &row.password_hash, row.created_at)?;
        audit::record_change(conn, "user", &row.id, "created", None, Some(row))
    })
}

fn insert_history(conn: &mut DbConnection, user_id: &str, hash: &str, at: NaiveDateTime) -> DbResult<()> {
    diesel::insert_into(password_history::table)
        .values((
            password_history::id.eq(super::new_id()),
            password_history::user_id.eq(user_id),
            password_history::password_hash.eq(hash),
            password_history::set_at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}

/// The hashes of `user_id`'s `n` most recent passwords, the current one first.
pub fn recent_password_hashes(conn: &mut DbConnection, user_id: &str, n: i64) -> DbResult<Vec<String>> {
    Ok(password_history::table
        .filter(password_history::user_id.eq(user_id))
        .order((password_history::set_at.desc(), password_history::id.desc()))
        .select(password_history::password_hash)
        .limit(n)
        .load(conn)?)
}

/// When `user_id`'s current password was set (None for an account without history).
pub fn password_set_at(conn: &mut DbConnection, user_id: &str) -> DbResult<Option<NaiveDateTime>> {
    Ok(password_history::table
        .filter(password_history::user_id.eq(user_id))
        .select(diesel::dsl::max(password_history::set_at))
        .first(conn)?)
}

/// Sets `user_id`'s password hash, keeps it in the history (only the `keep` newest stay) and
/// records `action` (`password_changed` by the person, `password_reset` by an admin) in the
/// audit trail, without the hash. False when there is no such user.
pub fn set_password(
    conn: &mut DbConnection,
    user_id: &str,
    hash: &str,
    now: NaiveDateTime,
    action: &str,
    keep: i64,
) -> DbResult<bool> {
    super::write_tx(conn, |conn| {
        let n = diesel::update(users::table.find(user_id))
            .set((users::password_hash.eq(hash), users::updated_at.eq(now)))
            .execute(conn)?;
        if n != 1 {
            return Ok(false);
        }
        insert_history(conn, user_id, hash, now)?;
        let old: Vec<String> = password_history::table
            .filter(password_history::user_id.eq(user_id))
            .order((password_history::set_at.desc(), password_history::id.desc()))
            .select(password_history::id)
            .offset(keep)
            .limit(1000)
            .load(conn)?;
        if !old.is_empty() {
            diesel::delete(password_history::table.filter(password_history::id.eq_any(&old))).execute(conn)?;
        }
        audit::record(conn, "user", user_id, action, serde_json::json!({"password": "set"}))?;
        Ok(true)
    })
}

pub fn user_by_username(conn: &mut DbConnection, username: &str) -> DbResult<Option<UserRow>> {
    Ok(users::table
        .filter(users::username.eq(username))
        .select(UserRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn user_by_id(conn: &mut DbConnection, id: &str) -> DbResult<Option<UserRow>> {
    Ok(users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)
        .optional()?)
}

/// Users ordered by username, after `after` (keyset pagination), at most `limit`.
pub fn list_users(conn: &mut DbConnection, after: Option<&str>, limit: i64) -> DbResult<Vec<UserRow>> {
    let mut q = users::table
        .select(UserRow::as_select())
        .order(users::username.asc())
        .into_boxed();
    if let Some(after) = after {
        q = q.filter(users::username.gt(after.to_string()));
    }
    Ok(q.limit(limit).load(conn)?)
}

/// Sets a user's active flag; false when no such user.
pub fn set_user_active(conn: &mut DbConnection, username: &str, active: bool) -> DbResult<bool> {
    super::write_tx(conn, |conn| {
        let Some(before) = user_by_username(conn, username)? else {
            return Ok(false);
        };
        diesel::update(users::table.find(&before.id))
            .set((users::active.eq(active), users::updated_at.eq(super::db_now())))
            .execute(conn)?;
        let after = user_by_id(conn, &before.id)?;
        let action = if active { "enabled" } else { "disabled" };
        audit::record_change(conn, "user", &before.id, action, Some(&before), after.as_ref())?;
        Ok(true)
    })
}

pub fn insert_client(conn: &mut DbConnection, row: &ApiClientRow) -> DbResult<()> {
    super::write_tx(conn, |conn| {
        diesel::insert_into(api_clients::table)
            .values(row.clone())
            .execute(conn)?;
        audit::record_change(conn, "api_client", &row.id, "created", None, Some(row))
    })
}

pub fn client_by_client_id(conn: &mut DbConnection, client_id: &str) -> DbResult<Option<ApiClientRow>> {
    Ok(api_clients::table
        .filter(api_clients::client_id.eq(client_id))
        .select(ApiClientRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn client_by_id(conn: &mut DbConnection, id: &str) -> DbResult<Option<ApiClientRow>> {
    Ok(api_clients::table
        .find(id)
        .select(ApiClientRow::as_select())
        .first(conn)
        .optional()?)
}
