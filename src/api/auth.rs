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
    /// current six digits, or one of the recovery codes.
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
/// Failed attempts are counted per account and per client address; after the configured number
/// (default 5) within the window, further attempts answer 429 until the lockout (default 15
/// minutes) ends. Admins and regulators who enrolled a second factor send its code as `totp`
/// (without it: 401 naming the factor; a code counts once). Under `HWT_SECOND_FACTOR=required`
/// one without a factor gets a token with `scope: second_factor_enrolment`, good only for
/// enrolling one.
#[utoipa::path(
    tag = "auth",
    request_body = TokenRequest,
    responses(
        (status = 200, description = "Token issued", body = TokenResponse),
        (status = 401, description = "Wrong credentials", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid request", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Locked out after failed logins", body = Problem, content_type = "application/problem+json"),
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
