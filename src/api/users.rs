//! User accounts. Admins manage them; everybody may read their own.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::body;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{QueryParams, cut_page, next_cursor};
use crate::auth::permission::require_role;
use crate::auth::principal::{Principal, Role, SubjectKind};
use crate::auth::{Decision, Guarded, authorize};
use crate::db::{self, users::UserRow};
pub use crate::service::users::{
    NewUser, NewUserInput, binding_for, create_user, validate_password, validate_username,
};
use crate::state::AppState;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserDto {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub province: Option<String>,
    pub enterprise_id: Option<String>,
    pub operator_id: Option<String>,
    pub active: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl From<UserRow> for UserDto {
    fn from(u: UserRow) -> Self {
        UserDto {
            role: Role::parse(&u.role).unwrap_or(Role::Enterprise),
            id: u.id,
            username: u.username,
            display_name: u.display_name,
            province: u.province,
            enterprise_id: u.enterprise_id,
            operator_id: u.operator_id,
            active: u.active,
            created_at: u.created_at.and_utc().to_rfc3339(),
            updated_at: u.updated_at.and_utc().to_rfc3339(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub enum UserAction {
    Read,
    Manage,
}

impl Guarded for UserRow {
    type Action = UserAction;

    fn decide(&self, who: &Principal, action: UserAction) -> Decision {
        let own = who.kind == SubjectKind::User && who.subject == self.id;
        match (who.role, action) {
            (Role::Admin, _) => Decision::Allow,
            (_, UserAction::Read) if own => Decision::Allow,
            (_, UserAction::Manage) if own => Decision::Forbidden("only an admin may change accounts".into()),
            _ => Decision::Hidden,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserPage {
    pub items: Vec<UserDto>,
    pub next_cursor: Option<String>,
}

/// List users (admin).
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    params(
        ("limit" = Option<i64>, Query, description = "1–200, default 50"),
        ("cursor" = Option<String>, Query),
    ),
    responses(
        (status = 200, body = UserPage),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/users")]
pub async fn list_users(
    state: web::Data<AppState>,
    who: Principal,
    req: HttpRequest,
) -> ApiResult<web::Json<UserPage>> {
    require_role(&who, &[Role::Admin])?;
    let mut q = QueryParams::parse(&req, &["limit", "cursor"])?;
    let limit = q.limit(50, super::extract::LIMIT_MAX);
    let after = q.cursor();
    q.finish()?;
    let mut rows = state
        .db
        .run(move |conn| db::users::list_users(conn, after.as_deref(), limit + 1))
        .await?;
    let more = cut_page(&mut rows, limit);
    let next_cursor = next_cursor(&rows, more, |u| &u.username);
    Ok(web::Json(UserPage {
        items: rows.into_iter().map(UserDto::from).collect(),
        next_cursor,
    }))
}

async fn load_user(state: &AppState, id: String) -> ApiResult<UserRow> {
    state
        .db
        .run(move |conn| db::users::user_by_id(conn, &id))
        .await?
        .ok_or(ApiError::NotFound)
}

/// Read a user: admins any, everybody else only themselves.
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, body = UserDto),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/users/{id}")]
pub async fn get_user(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
) -> ApiResult<web::Json<UserDto>> {
    let user = load_user(&state, path.into_inner()).await?;
    authorize(&who, &user, UserAction::Read)?;
    Ok(web::Json(user.into()))
}

async fn set_active(
    state: web::Data<AppState>,
    who: Principal,
    id: String,
    active: bool,
) -> ApiResult<web::Json<UserDto>> {
    let user = load_user(&state, id).await?;
    authorize(&who, &user, UserAction::Manage)?;
    let username = user.username.clone();
    state
        .db
        .run(move |conn| db::users::set_user_active(conn, &username, active))
        .await?;
    state.subject_cache.forget(SubjectKind::User, &user.id);
    tracing::info!(user = %user.username, active, by = %who.name, "user active state changed");
    let user = load_user(&state, user.id).await?;
    Ok(web::Json(user.into()))
}

/// Disable a user (admin): their tokens stop working within the subject-cache time.
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, body = UserDto),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/users/{id}/disable")]
pub async fn disable_user(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
) -> ApiResult<web::Json<UserDto>> {
    set_active(state, who, path.into_inner(), false).await
}

/// Enable a user again (admin).
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, body = UserDto),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/users/{id}/enable")]
pub async fn enable_user(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
) -> ApiResult<web::Json<UserDto>> {
    set_active(state, who, path.into_inner(), true).await
}

/// Create a user (admin).
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    request_body = NewUserInput,
    responses(
        (status = 201, body = UserDto),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Username taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/users")]
pub async fn create_user_handler(
    state: web::Data<AppState>,
    who: Principal,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    require_role(&who, &[Role::Admin])?;
    let input = body::read(&body, NewUserInput::problems)?;
    let new = input.read().map_err(ApiError::Validation)?;
    let row = state
        .db
        .run(move |conn| match create_user(conn, &new) {
            Err(db::DbError::Conflict(_)) => Ok(None),
            other => other.map(Some),
        })
        .await?
        .ok_or_else(|| ApiError::Conflict("the username is taken".into()))?;
    tracing::info!(user = %row.username, role = %row.role, by = %who.name, "user created");
    Ok(HttpResponse::Created().json(UserDto::from(row)))
}
