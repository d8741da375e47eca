//! `POST /api/v1/auth/token` (password and client-credentials grants), the JWKS, and `auth/me`.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::error::{ApiError, ApiResult, Problem};
use super::extract::BodyReader;
use crate::auth::principal::{Principal, Role, SubjectKind};
use crate::service::sessions::{self, Grant};
use crate::state::AppState;

/// Either `{"username","password"}` or `{"grant_type":"client_credentials","client_id","client_secret"}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenRequest {
    /// `password` (default) or `client_credentials`.
    pub grant_type: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: u64,
}

fn read_grant(body: &Value) -> Result<Grant, ApiError> {
    let mut r = BodyReader::new(body, "");
    r.deny_unknown(&["grant_type", "username", "password", "client_id", "client_secret"]);
    let grant_type = r.opt_str("grant_type").unwrap_or("password");
    let grant = match grant_type {
        "password" => {
            let username = r.str("username");
            let password = r.str("password");
            username.zip(password).map(|(u, p)| Grant::Password {
                username: u.to_string(),
                password: p.to_string(),
            })
        }
        "client_credentials" => {
            let id = r.str("client_id");
            let secret = r.str("client_secret");
            id.zip(secret).map(|(c, s)| Grant::Client {
                client_id: c.to_string(),
                secret: s.to_string(),
            })
        }
        _ => {
            r.problem(
                "grant_type",
                "auth.unsupported_grant_type",
                "grant_type must be password or client_credentials",
            );
            None
        }
    };
    match grant {
        Some(g) if r.problems.is_empty() => Ok(g),
        _ => Err(ApiError::Validation(r.problems)),
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
/// minutes) ends.
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
    let grant = read_grant(&body)?;
    let client = client_address(&req, &state.config.trusted_proxies);
    let token = sessions::authenticate(&state, client, grant).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(TokenResponse {
            access_token: token,
            token_type: "Bearer".into(),
            expires_in: state.config.access_token_ttl_secs,
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
