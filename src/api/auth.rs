//! `POST /api/v1/auth/token` (password and client-credentials grants), the JWKS, and `auth/me`.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::error::{ApiError, ApiResult, Problem};
use super::extract::BodyReader;
use crate::app::AppState;
use crate::auth::principal::{Binding, Principal, Role, SubjectKind};
use crate::auth::{password, token::TokenIssuer};
use crate::db::{self, DbConnection, DbResult, to_db_time};

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

/// The subject a credential names, as stored.
struct Credential {
    id: String,
    name: String,
    secret_hash: String,
    active: bool,
    role: String,
    binding: Option<Binding>,
}

pub(crate) enum Grant {
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

/// The caller's address: the peer, or behind a trusted proxy the nearest address in
/// `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_address(req: &HttpRequest, trusted: &[std::net::IpAddr]) -> String {
    let Some(peer) = req.peer_addr().map(|a| a.ip()) else {
        return "unknown".into();
    };
    if !trusted.contains(&peer) {
        return peer.to_string();
    }
    let forwarded: Vec<std::net::IpAddr> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    forwarded
        .into_iter()
        .rev()
        .find(|a| !trusted.contains(a))
        .unwrap_or(peer)
        .to_string()
}

fn too_many(until: chrono::NaiveDateTime) -> ApiError {
    let secs = (until - Utc::now().naive_utc()).num_seconds().max(1) as u64;
    ApiError::TooManyRequests {
        retry_after_secs: secs,
        detail: format!("too many failed logins; try again in {} minute(s)", secs.div_ceil(60)),
    }
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
    let token = authenticate(&state, &req, grant).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(TokenResponse {
            access_token: token,
            token_type: "Bearer".into(),
            expires_in: state.config.access_token_ttl_secs,
        }))
}

/// Checks a credential under the login throttle and issues an access token: shared by the
/// token endpoint and the web UI's login form.
pub(crate) async fn authenticate(state: &AppState, req: &HttpRequest, grant: Grant) -> ApiResult<String> {
    let account_key = grant.account_key();
    let ip_key = format!("ip:{}", client_address(req, &state.config.trusted_proxies));
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
    let matches = web::block(move || password::verify(&secret, &hash))
        .await
        .map_err(ApiError::internal)?;
    let usable = credential.filter(|c| matches && c.active);

    // 3. Count the failure or clear the account's counter.
    let window = Duration::seconds(i64::try_from(state.config.login_lockout_secs).unwrap_or(900));
    let max = i32::try_from(state.config.login_max_failures).unwrap_or(5);
    let Some(cred) = usable else {
        state
            .db
            .run(move |conn| {
                for key in [&account_key, &ip_key] {
                    // Two failures racing on a new key may collide on insert; one retry settles it.
                    match db::throttle::record_failure(conn, key, now, window, max) {
                        Err(db::DbError::Conflict(_)) => {
                            db::throttle::record_failure(conn, key, now, window, max)?;
                        }
                        other => {
                            other?;
                        }
                    }
                }
                Ok(())
            })
            .await?;
        tracing::info!(kind = ?grant.kind(), "login failed");
        return Err(ApiError::Unauthorized("invalid credentials"));
    };
    state
        .db
        .run(move |conn| db::throttle::clear(conn, &account_key))
        .await?;

    let role = Role::parse(&cred.role)
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("stored role {} unknown", cred.role)))?;
    let binding = cred
        .binding
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("account {} has no valid binding for its role", cred.id)))?;
    let issuer = TokenIssuer {
        keys: &state.keys,
        issuer: &state.config.jwt_issuer,
        audience: &state.config.jwt_audience,
        ttl_secs: state.config.access_token_ttl_secs,
    };
    issuer
        .issue(&cred.id, grant.kind(), &cred.name, role, &binding.to_claim())
        .map_err(ApiError::internal)
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
