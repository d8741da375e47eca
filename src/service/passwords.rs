//! People's passwords (等保 2.0 level 3): the rules every new one passes (`domain::credentials`:
//! length, three character classes, not the username), the history it may not repeat (the last
//! five, kept as argon2 hashes), a person's own change and an admin's reset, and expiry
//! (`HWT_PASSWORD_MAX_AGE_DAYS`, off by default). API clients' secrets are not passwords of
//! people and are not affected.

use chrono::{Duration, Utc};
use serde::Deserialize;
use utoipa::ToSchema;
use validator::Validate;

use crate::auth::authorize;
use crate::auth::password;
use crate::auth::principal::SubjectKind;
use crate::db;
use crate::domain::Invalid;
use crate::domain::credentials::{self, HISTORY};
use crate::service::sessions::{self, Grant};
use crate::service::users::UserAction;
use crate::service::{Ctx, Error, FieldProblem, Result};
use crate::state::AppState;

/// A person changes their own password: the current credentials, as at sign-in, and the new one.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChangeInput {
    pub username: String,
    pub current_password: String,
    /// The second factor of an admin or regulator who enrolled one (as at sign-in).
    #[serde(default)]
    #[schema(min_length = 6, max_length = 32)]
    pub totp: Option<String>,
    /// 12 to 1024 characters mixing at least three of: lower-case letters, upper-case letters,
    /// digits, other characters; not the username; none of the account's last five passwords.
    #[schema(min_length = 12, max_length = 1024)]
    pub new_password: String,
}

/// An admin sets another person's password (a forgotten one).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetInput {
    /// The same rules as a person's own new password.
    #[schema(min_length = 12, max_length = 1024)]
    pub password: String,
}

/// The problems of a new password of `username` at `pointer`: the rules, then (only when they
/// pass, to spare the hashing) whether it repeats one of `recent` (argon2 hashes).
fn problems(new: &str, username: &str, recent: &[String], pointer: &str) -> Vec<FieldProblem> {
    let mut found: Vec<Invalid> = credentials::password_problems(new, username);
    if found.is_empty() && recent.iter().any(|h| password::verify(new, h)) {
        found.push(credentials::reused());
    }
    found.iter().map(|i| FieldProblem::body(pointer, i)).collect()
}

/// Checks `new` for `user_id` (rules and history) and stores it; `action` names the change in
/// the audit trail.
async fn set(
    state: &AppState,
    user_id: String,
    username: String,
    new: String,
    pointer: &'static str,
    action: &'static str,
) -> Result<()> {
    let id = user_id.clone();
    let recent = state
        .db
        .run(move |conn| db::users::recent_password_hashes(conn, &id, HISTORY as i64))
        .await?;
    let checked = tokio::task::spawn_blocking(move || {
        let found = problems(&new, &username, &recent, pointer);
        if found.is_empty() {
            password::hash(&new).map(Ok).map_err(Error::internal)
        } else {
            Ok(Err(found))
        }
    })
    .await
    .map_err(Error::internal)??;
    let hash = checked.map_err(Error::Invalid)?;
    let now = db::db_now();
    let changed = state
        .db
        .run(move |conn| db::users::set_password(conn, &user_id, &hash, now, action, HISTORY as i64))
        .await?;
    if !changed {
        return Err(Error::Hidden);
    }
    Ok(())
}

/// A person changes their own password. The current credentials are checked exactly as a
/// sign-in checks them (throttle, second factor, one answer for every failure); then the new
/// password must pass the rules and not repeat the last five. Works with an expired password.
pub async fn change_own(state: &AppState, client: String, input: PasswordChangeInput) -> Result<()> {
    let grant = Grant::Password {
        username: input.username,
        password: input.current_password,
    };
    let checked = sessions::check_credentials(state, client, grant, input.totp).await?;
    crate::audit::set_request_actor(&checked.id, &checked.name, checked.role.as_str());
    set(
        state,
        checked.id.clone(),
        checked.name.clone(),
        input.new_password,
        "/new_password",
        "password_changed",
    )
    .await?;
    let key = checked.account_key;
    state.db.run(move |conn| db::throttle::clear(conn, &key)).await?;
    tracing::info!(user = %checked.name, "password changed");
    Ok(())
}

/// An admin sets another person's password, under the same rules and history.
pub async fn reset(state: &AppState, ctx: &Ctx, user_id: String, input: PasswordResetInput) -> Result<()> {
    let user = state
        .db
        .run(move |conn| db::users::user_by_id(conn, &user_id))
        .await?
        .ok_or(Error::Hidden)?;
    authorize(&ctx.who, &user, UserAction::Manage)?;
    if ctx.who.kind == SubjectKind::User && ctx.who.subject == user.id {
        return Err(Error::Forbidden(
            "change your own password with POST /api/v1/auth/password".into(),
        ));
    }
    set(
        state,
        user.id,
        user.username.clone(),
        input.password,
        "/password",
        "password_reset",
    )
    .await?;
    tracing::info!(user = %user.username, by = %ctx.who.name, "password reset");
    Ok(())
}

/// Refuses a sign-in whose password is older than `HWT_PASSWORD_MAX_AGE_DAYS` (when set).
pub async fn refuse_expired(state: &AppState, user_id: &str) -> Result<()> {
    let days = state.config.password_max_age_days;
    if days == 0 {
        return Ok(());
    }
    let id = user_id.to_string();
    let set_at = state.db.run(move |conn| db::users::password_set_at(conn, &id)).await?;
    let max_age = Duration::days(i64::try_from(days).unwrap_or(i64::MAX / 86_400_000));
    match set_at {
        Some(at) if Utc::now().naive_utc() - at <= max_age => Ok(()),
        _ => Err(Error::Refused(expired(days))),
    }
}

/// The refusal of an expired password, with its stable code.
pub fn expired(days: u64) -> Invalid {
    Invalid::new(
        "auth.password_expired",
        format!("the password is older than {days} days: set a new one with POST /api/v1/auth/password, then sign in"),
    )
}

/// Whether `e` is the refusal of an expired password.
pub fn is_expired(e: &Error) -> bool {
    matches!(e, Error::Refused(i) if i.code == "auth.password_expired")
}
