//! The second factor of admins and regulators (等保 2.0 level 3): enrolling a TOTP secret,
//! confirming it with a first code (which hands out the recovery codes), disabling it, an admin's
//! reset of another person's, and checking a code at sign-in.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::{Validate, ValidationError};

use crate::auth::authorize;
use crate::auth::principal::{Principal, Role, SubjectKind};
use crate::auth::totp;
use crate::db::{self, DbConnection, DbResult, db_now};
use crate::domain::Invalid;
use crate::service::error::validation_error;
use crate::service::users::UserAction;
use crate::service::{Ctx, Error, Result};
use crate::state::AppState;

/// The issuer an authenticator app shows next to the account.
pub const ISSUER: &str = "hwtransfer";

/// Roles that must have a second factor.
pub fn required_for(role: Role) -> bool {
    matches!(role, Role::Admin | Role::Regulator)
}

/// A started enrolment: the secret to put into an authenticator app, typed in or as the URI's QR code.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Enrolment {
    /// The shared secret, base32 (RFC 4648) without padding.
    pub secret: String,
    /// `otpauth://totp/…` with the secret, 6 digits, 30 s, SHA1.
    pub otpauth_uri: String,
    pub digits: u32,
    pub period: u64,
    /// Always `SHA1`.
    pub algorithm: String,
}

/// The one-time recovery codes, shown once.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RecoveryCodes {
    pub recovery_codes: Vec<String>,
}

/// A current code of the authenticator app.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmInput {
    /// Six digits.
    #[validate(custom(function = "valid_totp"))]
    #[schema(pattern = "^[0-9]{6}$")]
    pub code: String,
}

/// A current code of the authenticator app, or one of the recovery codes.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisableInput {
    /// Six digits, or a recovery code (`XXXXX-XXXXX`).
    #[validate(length(min = 6, max = 32, code = "second_factor.code"))]
    #[schema(min_length = 6, max_length = 32)]
    pub code: String,
}

fn valid_totp(s: &str) -> std::result::Result<(), ValidationError> {
    if s.len() == totp::DIGITS && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(validation_error(Invalid::new(
            "second_factor.code",
            "the code is six digits",
        )))
    }
}

fn wrong_code() -> Error {
    Error::invalid_field(
        "/code",
        &Invalid::new(
            "second_factor.wrong_code",
            "the code is not valid now (or was used already)",
        ),
    )
}

fn unix(ctx: &Ctx) -> u64 {
    u64::try_from(ctx.now.timestamp()).unwrap_or(0)
}

fn own(who: &Principal) -> Result<()> {
    if who.kind != SubjectKind::User || !required_for(who.role) {
        return Err(Error::Forbidden(
            "only admins and regulators enrol a second factor".into(),
        ));
    }
    Ok(())
}

/// Checks `code` (a TOTP code or a recovery code) for `user_id`'s confirmed factor at `unix_secs`
/// and uses it up: a TOTP step once, a recovery code once.
pub fn check_code(conn: &mut DbConnection, user_id: &str, code: &str, unix_secs: u64) -> DbResult<bool> {
    let Some(factor) = db::second_factor::factor_of(conn, user_id)? else {
        return Ok(false);
    };
    if factor.confirmed_at.is_none() {
        return Ok(false);
    }
    let code = code.trim();
    if code.len() == totp::DIGITS && code.bytes().all(|b| b.is_ascii_digit()) {
        match totp::matching_step(&factor.secret, code, unix_secs) {
            Some(step) => db::second_factor::take_step(conn, user_id, i64::try_from(step).unwrap_or(i64::MAX)),
            None => Ok(false),
        }
    } else {
        db::second_factor::use_recovery_code(conn, user_id, &totp::hash_recovery_code(code), db_now())
    }
}

/// Whether the caller has a confirmed second factor.
pub async fn enrolled(state: &AppState, ctx: &Ctx) -> Result<bool> {
    let id = ctx.who.subject.clone();
    Ok(state
        .db
        .run(move |conn| Ok(db::second_factor::factor_of(conn, &id)?.is_some_and(|f| f.confirmed_at.is_some())))
        .await?)
}

/// Starts an enrolment for the caller (an admin or regulator): a new secret, pending until a
/// first code confirms it. Refused while a confirmed factor exists.
pub async fn enrol(state: &AppState, ctx: &Ctx) -> Result<Enrolment> {
    own(&ctx.who)?;
    let secret = totp::new_secret().map_err(Error::internal)?;
    let uri = totp::otpauth_uri(&secret, ISSUER, &ctx.who.name).map_err(Error::internal)?;
    let (id, s) = (ctx.who.subject.clone(), secret.clone());
    let started = state
        .db
        .run(move |conn| {
            if db::second_factor::factor_of(conn, &id)?.is_some_and(|f| f.confirmed_at.is_some()) {
                return Ok(false);
            }
            db::second_factor::start_enrolment(conn, &id, &s, db_now())?;
            Ok(true)
        })
        .await?;
    if !started {
        return Err(Error::Conflict(
            "a second factor is enrolled already; disable it first".into(),
        ));
    }
    Ok(Enrolment {
        secret,
        otpauth_uri: uri,
        digits: totp::DIGITS as u32,
        period: totp::STEP_SECS,
        algorithm: "SHA1".into(),
    })
}

/// Confirms the caller's pending enrolment with a first code; answers the recovery codes.
pub async fn confirm(state: &AppState, ctx: &Ctx, input: ConfirmInput) -> Result<RecoveryCodes> {
    own(&ctx.who)?;
    let mut codes = Vec::with_capacity(totp::RECOVERY_CODES);
    for _ in 0..totp::RECOVERY_CODES {
        codes.push(totp::new_recovery_code().map_err(Error::internal)?);
    }
    let hashes: Vec<String> = codes.iter().map(|c| totp::hash_recovery_code(c)).collect();
    let (id, now) = (ctx.who.subject.clone(), unix(ctx));
    let outcome = state
        .db
        .run(move |conn| {
            let Some(factor) = db::second_factor::factor_of(conn, &id)? else {
                return Ok(None);
            };
            if factor.confirmed_at.is_some() {
                return Ok(None);
            }
            let Some(step) = totp::matching_step(&factor.secret, &input.code, now) else {
                return Ok(Some(false));
            };
            db::second_factor::confirm(conn, &id, i64::try_from(step).unwrap_or(i64::MAX), &hashes, db_now()).map(Some)
        })
        .await?;
    match outcome {
        None => Err(Error::Conflict("no enrolment is pending; start one first".into())),
        Some(false) => Err(wrong_code()),
        Some(true) => {
            tracing::info!(user = %ctx.who.name, "second factor enrolled");
            Ok(RecoveryCodes { recovery_codes: codes })
        }
    }
}

/// The caller turns their own second factor off, proving it with a current or recovery code.
pub async fn disable(state: &AppState, ctx: &Ctx, input: DisableInput) -> Result<()> {
    if ctx.who.kind != SubjectKind::User {
        return Err(Error::Forbidden("API clients have no second factor".into()));
    }
    let (id, now) = (ctx.who.subject.clone(), unix(ctx));
    let outcome = state
        .db
        .run(move |conn| {
            if db::second_factor::factor_of(conn, &id)?.is_none_or(|f| f.confirmed_at.is_none()) {
                return Ok(None);
            }
            if !check_code(conn, &id, &input.code, now)? {
                return Ok(Some(false));
            }
            db::second_factor::remove(conn, &id, "second_factor_disabled").map(Some)
        })
        .await?;
    match outcome {
        None => Err(Error::Conflict("no second factor is enrolled".into())),
        Some(false) => Err(wrong_code()),
        Some(true) => Ok(()),
    }
}

/// An admin removes another person's second factor (a lost phone): they enrol anew at their next
/// sign-in. Others' accounts are hidden from non-admins, one's own is not managed this way.
pub async fn reset(state: &AppState, ctx: &Ctx, user_id: String) -> Result<()> {
    let user = state
        .db
        .run(move |conn| db::users::user_by_id(conn, &user_id))
        .await?
        .ok_or(Error::Hidden)?;
    authorize(&ctx.who, &user, UserAction::Manage)?;
    let removed = state
        .db
        .run(move |conn| db::second_factor::remove(conn, &user.id, "second_factor_reset"))
        .await?;
    if !removed {
        return Err(Error::Conflict("the user has no second factor".into()));
    }
    Ok(())
}
