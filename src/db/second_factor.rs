//! People's second factors (TOTP secrets) and their one-time recovery codes.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::json;

use super::schema::{recovery_codes, second_factors};
use super::{DbConnection, DbResult, audit, write_tx};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = second_factors)]
pub struct SecondFactorRow {
    pub user_id: String,
    pub secret: String,
    pub confirmed_at: Option<NaiveDateTime>,
    pub last_step: Option<i64>,
    pub created_at: NaiveDateTime,
}

pub fn factor_of(conn: &mut DbConnection, user_id: &str) -> DbResult<Option<SecondFactorRow>> {
    Ok(second_factors::table
        .find(user_id)
        .select(SecondFactorRow::as_select())
        .first(conn)
        .optional()?)
}

/// Starts (or restarts) an enrolment: a new secret, not yet confirmed. Refused by the caller when a
/// confirmed factor exists.
pub fn start_enrolment(conn: &mut DbConnection, user_id: &str, secret: &str, now: NaiveDateTime) -> DbResult<()> {
    write_tx(conn, |conn| {
        diesel::delete(second_factors::table.find(user_id)).execute(conn)?;
        diesel::insert_into(second_factors::table)
            .values(SecondFactorRow {
                user_id: user_id.to_string(),
                secret: secret.to_string(),
                confirmed_at: None,
                last_step: None,
                created_at: now,
            })
            .execute(conn)?;
        Ok(())
    })
}

/// Marks `step` used for `user_id`'s factor when it is later than the last step used: true when
/// this call took it (one conditional update, so two replicas cannot both accept one code).
pub fn take_step(conn: &mut DbConnection, user_id: &str, step: i64) -> DbResult<bool> {
    let n = diesel::update(
        second_factors::table
            .filter(second_factors::user_id.eq(user_id))
            .filter(
                second_factors::last_step
                    .is_null()
                    .or(second_factors::last_step.lt(step)),
            ),
    )
    .set(second_factors::last_step.eq(step))
    .execute(conn)?;
    Ok(n == 1)
}

/// Confirms the pending enrolment with the step of its first code and stores the recovery codes'
/// hashes (replacing any earlier ones); audited without the secret or the codes.
pub fn confirm(
    conn: &mut DbConnection,
    user_id: &str,
    step: i64,
    code_hashes: &[String],
    now: NaiveDateTime,
) -> DbResult<bool> {
    write_tx(conn, |conn| {
        let n = diesel::update(
            second_factors::table
                .filter(second_factors::user_id.eq(user_id))
                .filter(second_factors::confirmed_at.is_null()),
        )
        .set((
            second_factors::confirmed_at.eq(Some(now)),
            second_factors::last_step.eq(Some(step)),
        ))
        .execute(conn)?;
        if n != 1 {
            return Ok(false);
        }
        diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id))).execute(conn)?;
        for h in code_hashes {
            diesel::insert_into(recovery_codes::table)
                .values((
                    recovery_codes::code_hash.eq(h),
                    recovery_codes::user_id.eq(user_id),
                    recovery_codes::used_at.eq(None::<NaiveDateTime>),
                ))
                .execute(conn)?;
        }
        audit::record(
            conn,
            "user",
            user_id,
            "second_factor_enrolled",
            json!({"method": "totp", "recovery_codes": code_hashes.len()}),
        )?;
        Ok(true)
    })
}

/// Uses one of `user_id`'s recovery codes: true when it existed unused (now used), audited.
pub fn use_recovery_code(
    conn: &mut DbConnection,
    user_id: &str,
    code_hash: &str,
    now: NaiveDateTime,
) -> DbResult<bool> {
    write_tx(conn, |conn| {
        let n = diesel::update(
            recovery_codes::table
                .filter(recovery_codes::code_hash.eq(code_hash))
                .filter(recovery_codes::user_id.eq(user_id))
                .filter(recovery_codes::used_at.is_null()),
        )
        .set(recovery_codes::used_at.eq(Some(now)))
        .execute(conn)?;
        if n == 1 {
            let left: i64 = recovery_codes::table
                .filter(recovery_codes::user_id.eq(user_id))
                .filter(recovery_codes::used_at.is_null())
                .count()
                .get_result(conn)?;
            audit::record(
                conn,
                "user",
                user_id,
                "recovery_code_used",
                json!({"recovery_codes_left": left}),
            )?;
        }
        Ok(n == 1)
    })
}

/// Unused recovery codes of `user_id`.
pub fn recovery_codes_left(conn: &mut DbConnection, user_id: &str) -> DbResult<i64> {
    Ok(recovery_codes::table
        .filter(recovery_codes::user_id.eq(user_id))
        .filter(recovery_codes::used_at.is_null())
        .count()
        .get_result(conn)?)
}

/// Removes `user_id`'s factor and recovery codes; `action` (`second_factor_disabled` by the person,
/// `second_factor_reset` by an admin) goes to the audit trail. False when there was none.
pub fn remove(conn: &mut DbConnection, user_id: &str, action: &str) -> DbResult<bool> {
    write_tx(conn, |conn| {
        let n = diesel::delete(second_factors::table.find(user_id)).execute(conn)?;
        diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id))).execute(conn)?;
        if n == 1 {
            audit::record(conn, "user", user_id, action, json!({"method": "totp"}))?;
        }
        Ok(n == 1)
    })
}
