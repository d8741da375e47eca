//! Users (people who log in) and API clients (enterprise systems using client credentials).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{api_clients, users};
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
        audit::record_change(conn, "user", &row.id, "created", None, Some(row))
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
