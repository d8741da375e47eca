//! Signing in: checking a credential under the login throttle and issuing an access token, and
//! turning a presented token back into the principal it speaks for. Both doors use these: the
//! API's token endpoint and bearer extractor, the web UI's login form and session cookie.

use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use serde_json::json;

use crate::auth::principal::{Binding, Principal, Role, SubjectKind};
use crate::auth::{password, session, token, token::TokenIssuer};
use crate::config::SecondFactorMode;
use crate::db::{self, DbConnection, DbResult, to_db_time};
use crate::service::{Ctx, Error, Result, second_factor};
use crate::state::AppState;

/// The subject a credential names, as stored.
struct Credential {
    id: String,
    name: String,
    secret_hash: String,
    active: bool,
    role: String,
    binding: Option<Binding>,
}

pub enum Grant {
    Password { username: String, password: String },
    Client { client_id: String, secret: String },
}

impl Grant {
    fn kind(&self) -> SubjectKind {
        match self {
            Grant::Password { .. } => SubjectKind::User,
            Grant::Client { .. } => SubjectKind::Client,
        }
    }

    /// The throttle key of the account.
    fn account_key(&self) -> String {
        match self {
            Grant::Password { username, .. } => format!("user:{}", username.to_lowercase()),
            Grant::Client { client_id, .. } => format!("client:{client_id}"),
        }
    }

    fn secret(&self) -> &str {
        match self {
            Grant::Password { password, .. } => password,
            Grant::Client { secret, .. } => secret,
        }
    }
}

fn find_credential(conn: &mut DbConnection, grant: &Grant) -> DbResult<Option<Credential>> {
    Ok(match grant {
        Grant::Password { username, .. } => db::users::user_by_username(conn, username)?.map(|u| Credential {
            binding: Role::parse(&u.role).and_then(|role| {
                Binding::for_role(
                    role,
                    u.province.as_deref(),
                    u.enterprise_id.as_deref(),
                    u.operator_id.as_deref(),
                )
            }),
            id: u.id,
            name: u.username,
            secret_hash: u.password_hash,
            active: u.active,
            role: u.role,
        }),
        Grant::Client { client_id, .. } => db::users::client_by_client_id(conn, client_id)?.map(|c| Credential {
            binding: Role::parse(&c.role)
                .and_then(|role| Binding::for_role(role, None, c.enterprise_id.as_deref(), c.operator_id.as_deref())),
            id: c.id,
            name: c.client_id,
            secret_hash: c.secret_hash,
            active: c.active,
            role: c.role,
        }),
    })
}

/// The one answer to every failed sign-in: unknown account, wrong password, disabled account,
/// missing or wrong second factor alike.
pub const INVALID_CREDENTIALS: &str = "invalid credentials";

pub(crate) fn too_many(until: chrono::NaiveDateTime) -> Error {
    let secs = (until - Utc::now().naive_utc()).num_seconds().max(1) as u64;
    Error::TooManyRequests {
        retry_after_secs: secs,
        detail: format!("too many failed logins; try again in {} minute(s)", secs.div_ceil(60)),
    }
}

/// Checks a credential under the login throttle and issues an access token: shared by the
/// token endpoint and the web UI's login form. `client` is the caller's address (the throttle counts
/// failures per account and per address).
pub async fn authenticate(state: &AppState, client: String, grant: Grant) -> Result<String> {
    authenticate_with(state, client, grant, None).await.map(|i| i.token)
}

/// An issued access token; `scope` is [`token::ENROLMENT_SCOPE`] when the token may only enrol a
/// second factor.
pub struct Issued {
    pub token: String,
    pub scope: Option<&'static str>,
}

/// Counts one failed attempt for the account and the address, and puts it (and a lockout it
/// triggers) into the audit trail: the account tried, the address and why, never the secret.
pub(crate) async fn count_failure(
    state: &AppState,
    account_key: String,
    ip_key: String,
    now: chrono::NaiveDateTime,
    reason: &'static str,
) -> Result<()> {
    let window = Duration::seconds(i64::try_from(state.config.login_lockout_secs).unwrap_or(900));
    let max = i32::try_from(state.config.login_max_failures).unwrap_or(5);
    state
        .db
        .run(move |conn| {
            let mut locked = Vec::new();
            for key in [&account_key, &ip_key] {
                // Two failures racing on a new key may collide on insert; one retry settles it.
                let until = match db::throttle::record_failure(conn, key, now, window, max) {
                    Err(db::DbError::Conflict(_)) => db::throttle::record_failure(conn, key, now, window, max)?,
                    other => other?,
                };
                if let Some(lockout) = until {
                    locked.push((key.clone(), lockout));
                }
            }
            db::audit::record(
                conn,
                "login",
                &account_key,
                "login_failed",
                json!({"address": ip_key, "reason": reason}),
            )?;
            for (key, lockout) in locked {
                db::audit::record(
                    conn,
                    "login",
                    &key,
                    "login_locked_out",
                    json!({
                        "until": lockout.until.and_utc().to_rfc3339(),
                        "lockout": lockout.number,
                        "minutes": (lockout.until - now).num_minutes(),
                    }),
                )?;
            }
            Ok(())
        })
        .await?;
    Ok(())
}

/// A credential that passed every check of a sign-in: the subject, and the scope its token gets.
pub(crate) struct Checked {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub binding: Binding,
    pub scope: Option<&'static str>,
    pub account_key: String,
    pub ip_key: String,
}

/// [`authenticate`] with the person's second factor (`totp`: a current TOTP code or a recovery
/// code). Admins and regulators with a confirmed factor must send it; without one, under
/// `HWT_SECOND_FACTOR=required`, they get a token that may only enrol one. A person whose
/// password is older than `HWT_PASSWORD_MAX_AGE_DAYS` gets no token but is told to change it
/// (only after every credential was right, so that answer reveals nothing to a guesser).
pub async fn authenticate_with(state: &AppState, client: String, grant: Grant, totp: Option<String>) -> Result<Issued> {
    let kind = grant.kind();
    let c = check_credentials(state, client, grant, totp).await?;
    if kind == SubjectKind::User {
        crate::service::passwords::refuse_expired(state, &c.id).await?;
    }
    let (id, name, role, binding, scope) = (c.id.clone(), c.name.clone(), c.role, c.binding.clone(), c.scope);
    signed_in(state, c, kind, json!({})).await?;
    let token = issue(state, &id, kind, &name, role, &binding, scope)?;
    Ok(Issued { token, scope })
}

fn issue(
    state: &AppState,
    id: &str,
    kind: SubjectKind,
    name: &str,
    role: Role,
    binding: &Binding,
    scope: Option<&str>,
) -> Result<String> {
    let issuer = TokenIssuer {
        keys: &state.keys,
        issuer: &state.config.jwt_issuer,
        audience: &state.config.jwt_audience,
        ttl_secs: state.config.access_token_ttl_secs,
    };
    issuer
        .issue_scoped(id, kind, name, role, &binding.to_claim(), scope)
        .map_err(Error::internal)
}

/// Clears the account's failures and puts the sign-in (a person's) or the token issued (an API
/// client's) into the audit trail as the subject's own act.
pub(crate) async fn signed_in(state: &AppState, c: Checked, kind: SubjectKind, extra: serde_json::Value) -> Result<()> {
    crate::audit::set_request_actor(&c.id, &c.name, c.role.as_str());
    let Checked {
        id,
        account_key,
        ip_key,
        scope,
        ..
    } = c;
    state
        .db
        .run(move |conn| {
            db::throttle::clear(conn, &account_key)?;
            let (object_type, action) = match kind {
                SubjectKind::User => ("user", "login"),
                SubjectKind::Client => ("api_client", "token_issued"),
            };
            let mut diff = json!({"address": ip_key, "scope": scope});
            if let (Some(d), Some(e)) = (diff.as_object_mut(), extra.as_object()) {
                d.extend(e.clone());
            }
            db::audit::record(conn, object_type, &id, action, diff)
        })
        .await?;
    Ok(())
}

/// Every check of a sign-in, under the login throttle: neither key locked out, the secret right,
/// the account active, and the second factor of admins and regulators who enrolled one. Every
/// failure is counted and answers the same `invalid credentials`. Shared by the token endpoint,
/// the web UI's login and a person's own password change.
pub(crate) async fn check_credentials(
    state: &AppState,
    client: String,
    grant: Grant,
    totp: Option<String>,
) -> Result<Checked> {
    let account_key = grant.account_key();
    let ip_key = format!("ip:{client}");
    let now = to_db_time(Utc::now());

    // 1. Refuse at once while either key is locked out.
    let lookup = {
        let (account_key, ip_key) = (account_key.clone(), ip_key.clone());
        let grant = match &grant {
            Grant::Password { username, .. } => Grant::Password {
                username: username.clone(),
                password: String::new(),
            },
            Grant::Client { client_id, .. } => Grant::Client {
                client_id: client_id.clone(),
                secret: String::new(),
            },
        };
        state
            .db
            .run(move |conn| {
                for key in [&account_key, &ip_key] {
                    if let Some(until) = db::throttle::locked_until(conn, key, now)? {
                        return Ok(Err(until));
                    }
                }
                Ok(Ok(find_credential(conn, &grant)?))
            })
            .await?
    };
    let credential = lookup.map_err(too_many)?;

    // 2. Verify the secret off the async workers; an unknown account costs the same time.
    let secret = grant.secret().to_string();
    let hash = credential
        .as_ref()
        .map(|c| c.secret_hash.clone())
        .unwrap_or_else(|| password::dummy_hash().to_string());
    let matches = tokio::task::spawn_blocking(move || password::verify(&secret, &hash))
        .await
        .map_err(Error::internal)?;
    let usable = credential.filter(|c| matches && c.active);

    // 3. Count the failure.
    let Some(cred) = usable else {
        count_failure(state, account_key, ip_key, now, "credentials").await?;
        tracing::info!(kind = ?grant.kind(), "login failed");
        return Err(Error::Unauthenticated(INVALID_CREDENTIALS));
    };

    let role =
        Role::parse(&cred.role).ok_or_else(|| Error::internal(anyhow::anyhow!("stored role {} unknown", cred.role)))?;
    let binding = cred
        .binding
        .ok_or_else(|| Error::internal(anyhow::anyhow!("account {} has no valid binding for its role", cred.id)))?;

    // 4. The second factor of admins and regulators.
    let mut scope = None;
    if grant.kind() == SubjectKind::User && second_factor::required_for(role) {
        let (id, unix) = (cred.id.clone(), u64::try_from(Utc::now().timestamp()).unwrap_or(0));
        let enrolled = state
            .db
            .run({
                let id = id.clone();
                move |conn| Ok(db::second_factor::factor_of(conn, &id)?.is_some_and(|f| f.confirmed_at.is_some()))
            })
            .await?;
        if enrolled {
            // A missing code answers exactly like a wrong password and counts like one: the
            // answer must not tell a caller without the code that the password was right.
            let ok = match totp {
                Some(code) => {
                    state
                        .db
                        .run(move |conn| second_factor::check_code(conn, &id, &code, unix))
                        .await?
                }
                None => false,
            };
            if !ok {
                count_failure(state, account_key, ip_key, now, "second_factor").await?;
                tracing::info!(kind = ?grant.kind(), "login failed: second factor");
                return Err(Error::Unauthenticated(INVALID_CREDENTIALS));
            }
        } else if state.config.second_factor == SecondFactorMode::Required {
            scope = Some(token::ENROLMENT_SCOPE);
        }
    }
    Ok(Checked {
        id: cred.id,
        name: cred.name,
        role,
        binding,
        scope,
        account_key,
        ip_key,
    })
}

/// A full token for a person whose session could only enrol a second factor and who has just
/// confirmed one (the web UI signs them in at once): the password was checked at sign-in, the
/// factor's first code now. Refused unless the factor was confirmed within the last minutes.
pub async fn sign_in_after_enrolment(state: &AppState, ctx: &Ctx) -> Result<String> {
    let id = ctx.who.subject.clone();
    let fresh = state
        .db
        .run(move |conn| {
            Ok(db::second_factor::factor_of(conn, &id)?
                .and_then(|f| f.confirmed_at)
                .is_some_and(|at| db::db_now() - at < Duration::minutes(5)))
        })
        .await?;
    if ctx.who.kind != SubjectKind::User || !fresh {
        return Err(Error::Unauthenticated("sign in again with the one-time code"));
    }
    let who = &ctx.who;
    let checked = Checked {
        id: who.subject.clone(),
        name: who.name.clone(),
        role: who.role,
        binding: who.binding.clone(),
        scope: None,
        account_key: format!("user:{}", who.name.to_lowercase()),
        ip_key: String::new(),
    };
    signed_in(
        state,
        checked,
        SubjectKind::User,
        json!({"after": "second_factor_enrolment"}),
    )
    .await?;
    issue(
        state,
        &who.subject,
        SubjectKind::User,
        &who.name,
        who.role,
        &who.binding,
        None,
    )
}

// ---------------------------------------------------------------------------------------------
// Web UI sessions (等保 2.0: idle and absolute timeouts), kept in the database for every replica.

/// Why a web UI session did not go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// Unused longer than `HWT_UI_IDLE_MINUTES`.
    Idle,
    /// Older than `HWT_UI_ABSOLUTE_HOURS`.
    Absolute,
    /// Signed out, or not a session the UI began.
    Ended,
}

/// Begins the web UI session of `token`, which the UI's login has just been issued.
pub async fn start_ui_session(state: &AppState, token: &str) -> Result<()> {
    let claims = token::verify(&state.keys, &state.config.jwt_issuer, &state.config.jwt_audience, token)
        .map_err(|e| Error::internal(anyhow::anyhow!("a token just issued does not verify: {e}")))?;
    state
        .db
        .run(move |conn| db::ui_sessions::start(conn, &claims.jti, &claims.sub, db::db_now()))
        .await?;
    Ok(())
}

/// Whether the web UI session of the token `jti` goes on (`None`) or why it ended. `active` marks
/// it used (a person's request; not a page's background refresh).
pub async fn keep_ui_session(state: &AppState, jti: &str, active: bool) -> Result<Option<SessionEnd>> {
    let idle = Duration::minutes(i64::try_from(state.config.ui_idle_minutes).unwrap_or(15));
    let absolute = Duration::hours(i64::try_from(state.config.ui_absolute_hours).unwrap_or(8));
    let jti = jti.to_string();
    let standing = state
        .db
        .run(move |conn| db::ui_sessions::keep(conn, &jti, db::db_now(), idle, absolute, active))
        .await?;
    Ok(match standing {
        db::ui_sessions::Standing::Alive => None,
        db::ui_sessions::Standing::Idle => Some(SessionEnd::Idle),
        db::ui_sessions::Standing::Absolute => Some(SessionEnd::Absolute),
        db::ui_sessions::Standing::Ended => Some(SessionEnd::Ended),
    })
}

/// Ends the web UI session of the token `jti` (signing out): its cookie opens no page any more.
pub async fn end_ui_session(state: &AppState, jti: &str) -> Result<()> {
    let jti = jti.to_string();
    state
        .db
        .run(move |conn| db::ui_sessions::end(conn, &jti, db::db_now()))
        .await?;
    Ok(())
}

/// Verifies an access token and checks its subject is still active with the same role and
/// binding; returns the principal and the token's claims. Used for bearer tokens and for the web
/// UI's session cookie, which carries the same token.
pub async fn principal_from_token(state: &AppState, token: &str) -> Result<(Principal, token::Claims)> {
    resolve(state, token, false).await
}

/// [`principal_from_token`], accepting also a token that may only enrol a second factor: for the
/// enrolment's own operations.
pub async fn principal_for_enrolment(state: &AppState, token: &str) -> Result<(Principal, token::Claims)> {
    resolve(state, token, true).await
}

async fn resolve(state: &AppState, token: &str, enrolling: bool) -> Result<(Principal, token::Claims)> {
    {
        {
            let claims = token::verify(&state.keys, &state.config.jwt_issuer, &state.config.jwt_audience, token)
                .map_err(|e| {
                    tracing::info!(reason = %e, "token refused");
                    Error::Unauthenticated("the token is invalid or expired")
                })?;
            if claims.scope.as_deref() == Some(token::ENROLMENT_SCOPE) && !enrolling {
                return Err(Error::Unauthenticated(
                    "this token may only enrol a second factor: enrol one, then sign in again with it",
                ));
            }
            // Counted before the subject is looked up, so a flood costs no database work.
            state
                .rate_limit
                .check(&format!("{:?}:{}", claims.kind, claims.sub))
                .await
                .map_err(|secs| Error::TooManyRequests {
                    retry_after_secs: secs,
                    detail: format!("too many requests from this account; retry in {secs} s"),
                })?;
            let key = (claims.kind, claims.sub.clone());
            let ttl = StdDuration::from_secs(state.config.user_cache_secs);
            let subject = match state.subject_cache.get(&key, ttl) {
                Some(s) => s,
                None => {
                    let (kind, id) = key.clone();
                    let s = state.db.run(move |conn| session::load_subject(conn, kind, &id)).await?;
                    state.subject_cache.put(key, s.clone());
                    s
                }
            };
            let subject = subject.ok_or(Error::Unauthenticated("the token's subject is unknown"))?;
            if !subject.active {
                return Err(Error::Unauthenticated("the account is disabled"));
            }
            // A token minted before a change of role or binding no longer speaks for the subject.
            if subject.role != claims.role || subject.binding.to_claim() != claims.binding {
                return Err(Error::Unauthenticated("the token no longer matches the account"));
            }
            crate::audit::set_request_actor(&claims.sub, &claims.name, subject.role.as_str());
            Ok((
                Principal {
                    subject: claims.sub.clone(),
                    kind: claims.kind,
                    name: claims.name.clone(),
                    role: subject.role,
                    binding: subject.binding,
                },
                claims,
            ))
        }
    }
}
