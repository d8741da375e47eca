//! `POST /api/v1/auth/token` (password and client-credentials grants), the JWKS, and `auth/me`.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use validator::Validate;

use super::error::{ApiError, ApiResult, Problem};
use super::extract::Enrolling;
use crate::auth::principal::{Principal, Role, SubjectKind};
use crate::service::Ctx;
use crate::service::passwords::{self, PasswordChangeInput, PasswordResetInput};
use crate::service::second_factor::{self, ConfirmInput, DisableInput, Enrolment, RecoveryCodes};
use crate::service::sessions::{self, Grant};
use crate::state::AppState;

/// Either a person's password grant or an API client's credentials. `grant_type` tells them
/// apart and defaults to `password`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // the schema of the two grants; each is parsed as its own type (`read_grant`)
pub enum TokenRequest {
    Password(PasswordGrant),
    Client(ClientGrant),
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PasswordGrantType {
    Password,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClientGrantType {
    ClientCredentials,
}

/// A person signs in.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordGrant {
    #[allow(dead_code)]
    pub grant_type: Option<PasswordGrantType>,
    pub username: String,
    pub password: String,
    /// The second factor of an admin or regulator who enrolled one: the authenticator app's
    /// current six digits, or one of the recovery codes. Required for them: without it the answer
    /// is the 401 of a wrong password. Clients that do not know whether the person enrolled may
    /// always send the field when the person typed a code (it is ignored for others).
    #[serde(default)]
    #[schema(min_length = 6, max_length = 32)]
    pub totp: Option<String>,
}

/// An API client (an enterprise's ERP) signs in.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientGrant {
    #[allow(dead_code)]
    pub grant_type: ClientGrantType,
    pub client_id: String,
    pub client_secret: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: u64,
    /// `second_factor_enrolment` when the token may only enrol a second factor (an admin or
    /// regulator without one, while one is required); absent for a full token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// The grant a token request makes: its `grant_type` chooses the type the body is read as.
fn read_grant(body: &Value) -> Result<(Grant, Option<String>), ApiError> {
    match body
        .get("grant_type")
        .map(|g| if g.is_null() { Some("password") } else { g.as_str() })
    {
        None | Some(Some("password")) => {
            let g: PasswordGrant = super::body::parse(body)?;
            Ok((
                Grant::Password {
                    username: g.username,
                    password: g.password,
                },
                g.totp,
            ))
        }
        Some(Some("client_credentials")) => {
            let g: ClientGrant = super::body::parse(body)?;
            Ok((
                Grant::Client {
                    client_id: g.client_id,
                    secret: g.client_secret,
                },
                None,
            ))
        }
        Some(_) => Err(ApiError::Validation(vec![super::error::FieldProblem::new(
            super::error::Location::Body,
            "/grant_type",
            "auth.unsupported_grant_type",
            "grant_type must be password or client_credentials",
        )])),
    }
}

/// The caller's address: the peer, or behind a trusted proxy the nearest address in
/// `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_address(req: &HttpRequest, trusted: &[std::net::IpAddr]) -> String {
    let forwarded = req.headers().get_all("x-forwarded-for").filter_map(|v| v.to_str().ok());
    crate::auth::session::client_address(req.peer_addr().map(|a| a.ip()), forwarded, trusted)
}

/// Issue an access token.
///
/// Failed attempts are counted per account name and per client address; after the configured
/// number (default 5) within the window, further attempts answer 429 until the lockout ends. The
/// first lockout lasts the configured time (default 15 minutes), each further one of the same
/// name or address four times longer, at most a day; a successful sign-in starts the account
/// afresh. Admins and regulators who enrolled a second factor must send its code as `totp` with
/// every password sign-in (a code counts once). Every failure — unknown account, wrong password,
/// disabled account, missing or wrong code — answers the same 401 `invalid credentials`, and an
/// unknown name is locked out like a known one, so the answer never tells whether an account
/// exists or its password was right. Under `HWT_SECOND_FACTOR=required` one without a factor gets
/// a token with `scope: second_factor_enrolment`, good only for enrolling one. With
/// `HWT_PASSWORD_MAX_AGE_DAYS` set, a person whose password is older gets 409
/// `auth.password_expired` instead of a token.
#[utoipa::path(
    tag = "auth",
    request_body = TokenRequest,
    responses(
        (status = 200, description = "Token issued", body = TokenResponse),
        (status = 401, description = "Invalid credentials: unknown or disabled account, wrong password, missing or wrong second factor (one answer for all)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Every credential was right but the password has expired (`code`: `auth.password_expired`): set a new one with POST /api/v1/auth/password", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid request", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Locked out after failed logins (the account name or the address)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/token")]
pub async fn issue_token(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    let (grant, totp) = read_grant(&body)?;
    let client = client_address(&req, &state.config.trusted_proxies);
    let issued = sessions::authenticate_with(&state, client, grant, totp).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(TokenResponse {
            access_token: issued.token,
            token_type: "Bearer".into(),
            expires_in: state.config.access_token_ttl_secs,
            scope: issued.scope.map(str::to_string),
        }))
}

/// The caller as the service sees it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Me {
    pub subject: String,
    pub kind: SubjectKind,
    pub name: String,
    pub role: Role,
    /// `nationwide`, `province:500000`, `enterprise:ID` or `operator:ID`.
    pub binding: String,
}

/// Who am I.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Me),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/auth/me")]
pub async fn me(who: Principal) -> web::Json<Me> {
    web::Json(Me {
        binding: who.binding.to_claim(),
        subject: who.subject,
        kind: who.kind,
        name: who.name,
        role: who.role,
    })
}

/// The public key that verifies access tokens (RFC 7517 JWK set).
#[utoipa::path(tag = "auth", responses((status = 200, description = "JWK set", body = Object)))]
#[get("/.well-known/jwks.json")]
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=300"))
        .json(state.keys.jwks())
}

/// Start enrolling a second factor (admins and regulators): a new TOTP secret, as base32 and as an
/// `otpauth://` URI, pending until `confirm` gets a first code. Accepts the enrolment-only token.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 201, body = Enrolment),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A factor is enrolled already", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/second-factor")]
pub async fn enrol_second_factor(state: web::Data<AppState>, who: Enrolling) -> ApiResult<HttpResponse> {
    let enrolment = second_factor::enrol(&state, &Ctx::new(who.0)).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(enrolment))
}

/// Confirm the pending enrolment with the app's first code; answers ten one-time recovery codes,
/// shown only now. Sign in again (with a code) for a full token.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    request_body = ConfirmInput,
    responses(
        (status = 200, body = RecoveryCodes),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No enrolment pending", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Wrong code", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/second-factor/confirm")]
pub async fn confirm_second_factor(
    state: web::Data<AppState>,
    who: Enrolling,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    let input: ConfirmInput = super::body::parse(&body)?;
    let codes = second_factor::confirm(&state, &Ctx::new(who.0), input).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(codes))
}

/// Turn the caller's own second factor off, proven with a current or recovery code.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    request_body = DisableInput,
    responses(
        (status = 204, description = "Disabled"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "None enrolled", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Wrong code", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/second-factor/disable")]
pub async fn disable_second_factor(
    state: web::Data<AppState>,
    who: Principal,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    let input: DisableInput = super::body::parse(&body)?;
    second_factor::disable(&state, &Ctx::new(who), input).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Reset another person's second factor (admin), e.g. after a lost phone: they enrol anew.
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 204, description = "Reset"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The user has no second factor", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/users/{id}/second-factor/reset")]
pub async fn reset_second_factor(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    second_factor::reset(&state, &Ctx::new(who), path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Change one's own password (people, not API clients).
///
/// Authenticates like a sign-in: `username`, `current_password` and, for an admin or regulator who
/// enrolled a second factor, its code as `totp`; every failure answers the same 401 and counts
/// towards the lockout. Works when the password has expired (`HWT_PASSWORD_MAX_AGE_DAYS`). The new
/// password is 12 to 1024 characters mixing at least three of lower-case letters, upper-case
/// letters, digits and other characters, is not the username and none of the last five
/// passwords; a 422 lists every rule it breaks. Existing tokens stay valid until they expire.
#[utoipa::path(
    tag = "auth",
    request_body = PasswordChangeInput,
    responses(
        (status = 204, description = "Changed"),
        (status = 401, description = "Invalid credentials (one answer for every failure, as at sign-in)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid request, or the new password breaks the rules", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Locked out after failed logins", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/password")]
pub async fn change_password(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    let input: PasswordChangeInput = super::body::parse(&body)?;
    let client = client_address(&req, &state.config.trusted_proxies);
    passwords::change_own(&state, client, input).await?;
    Ok(HttpResponse::NoContent()
        .insert_header(("Cache-Control", "no-store"))
        .finish())
}

/// Set another person's password (admin), e.g. a forgotten one: the same rules and history as a
/// person's own change.
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    request_body = PasswordResetInput,
    responses(
        (status = 204, description = "Set"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid request, or the password breaks the rules", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/users/{id}/password")]
pub async fn reset_password(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    let input: PasswordResetInput = super::body::parse(&body)?;
    passwords::reset(&state, &Ctx::new(who), path.into_inner(), input).await?;
    Ok(HttpResponse::NoContent().finish())
}
