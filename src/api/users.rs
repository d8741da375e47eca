//! User accounts' door: admins manage them; everybody may read their own (`service::users`).

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::body;
use super::error::{ApiResult, Problem};
use super::extract::{QueryParams, next_cursor};
use crate::auth::principal::Principal;
pub use crate::service::users::{
    NewUser, NewUserInput, UserAction, UserDto, binding_for, create_user, validate_password, validate_username,
};
use crate::service::{Ctx, users};
use crate::state::AppState;

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
    let mut q = QueryParams::parse(&req, &["limit", "cursor"])?;
    let limit = q.limit(50, super::extract::LIMIT_MAX);
    let after = q.cursor();
    q.finish()?;
    let (items, more) = users::list(&state, &Ctx::new(who), after, limit).await?;
    let next_cursor = next_cursor(&items, more, |u| &u.username);
    Ok(web::Json(UserPage { items, next_cursor }))
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
    Ok(web::Json(users::get(&state, &Ctx::new(who), path.into_inner()).await?))
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
    Ok(web::Json(
        users::set_active(&state, &Ctx::new(who), path.into_inner(), false).await?,
    ))
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
    Ok(web::Json(
        users::set_active(&state, &Ctx::new(who), path.into_inner(), true).await?,
    ))
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
    let input = body::read(&body, NewUserInput::problems)?;
    let dto = users::add(&state, &Ctx::new(who), input).await?;
    Ok(HttpResponse::Created().json(dto))
}
