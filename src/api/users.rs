//! User accounts. Admins manage them; everybody may read their own.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::error::{ApiError, ApiResult, Problem};
use super::extract::{BodyReader, QueryParams, cut_page, next_cursor};
use crate::auth::permission::require_role;
use crate::auth::principal::{Binding, Principal, Role, SubjectKind};
use crate::auth::{Decision, Guarded, authorize, password};
use crate::db::{self, db_now, new_id, users::UserRow};
use crate::domain::Invalid;
use crate::domain::ids::ProvinceCode;
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

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewUserInput {
    pub username: String,
    /// At least 12 characters.
    pub password: String,
    pub role: Role,
    pub display_name: Option<String>,
    /// Required for regulators; optional for auditors (absent = nationwide).
    pub province: Option<String>,
    /// Required for enterprise users.
    pub enterprise_id: Option<String>,
    /// Required for operator users.
    pub operator_id: Option<String>,
}

/// A validated new account, shared by the API and the CLI.
pub struct NewUser {
    pub username: String,
    pub password: String,
    pub role: Role,
    pub display_name: String,
    pub binding: Binding,
}

pub fn validate_username(s: &str) -> Result<String, Invalid> {
    let ok = (3..=64).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(s.to_string())
    } else {
        Err(Invalid::new(
            "user.username",
            "username must be 3–64 characters of a–z, 0–9, . _ - @",
        ))
    }
}

pub fn validate_password(s: &str) -> Result<String, Invalid> {
    if s.chars().count() < 12 || s.len() > 1024 {
        Err(Invalid::new("user.password", "password must be 12 to 1024 characters"))
    } else {
        Ok(s.to_string())
    }
}

/// Checks that the binding fields fit the role, reporting each misfit.
pub fn binding_for(
    role: Role,
    province: Option<&str>,
    enterprise_id: Option<&str>,
    operator_id: Option<&str>,
) -> Result<Binding, Vec<(&'static str, Invalid)>> {
    let mut problems = Vec::new();
    let province = match province.map(ProvinceCode::parse) {
        Some(Ok(p)) => Some(p),
        Some(Err(e)) => {
            problems.push(("province", e));
            None
        }
        None => None,
    };
    let need = |field: &'static str, present: bool, wanted: bool, problems: &mut Vec<(&'static str, Invalid)>| {
        if wanted && !present {
            problems.push((
                field,
                Invalid::new(
                    "user.binding_required",
                    format!("a {} user needs {field}", role.as_str()),
                ),
            ));
        } else if !wanted && present {
            problems.push((
                field,
                Invalid::new(
                    "user.binding_not_allowed",
                    format!("a {} user has no {field}", role.as_str()),
                ),
            ));
        }
    };
    let p = province.is_some() || problems.iter().any(|(f, _)| *f == "province");
    match role {
        Role::Enterprise => {
            need("enterprise_id", enterprise_id.is_some(), true, &mut problems);
            need("operator_id", operator_id.is_some(), false, &mut problems);
            need("province", p, false, &mut problems);
        }
        Role::Operator => {
            need("operator_id", operator_id.is_some(), true, &mut problems);
            need("enterprise_id", enterprise_id.is_some(), false, &mut problems);
            need("province", p, false, &mut problems);
        }
        Role::Regulator => {
            need("province", p, true, &mut problems);
            need("enterprise_id", enterprise_id.is_some(), false, &mut problems);
            need("operator_id", operator_id.is_some(), false, &mut problems);
        }
        Role::Auditor | Role::Admin => {
            if role == Role::Admin {
                need("province", p, false, &mut problems);
            }
            need("enterprise_id", enterprise_id.is_some(), false, &mut problems);
            need("operator_id", operator_id.is_some(), false, &mut problems);
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Binding::for_role(
        role,
        province.map(|p| p.as_str()).as_deref(),
        enterprise_id,
        operator_id,
    )
    .ok_or_else(|| {
        vec![(
            "role",
            Invalid::new("user.binding", "the binding does not fit the role"),
        )]
    })
}

/// Stores a new user; the username must be free.
pub fn create_user(conn: &mut db::DbConnection, new: &NewUser) -> Result<UserRow, db::DbError> {
    let now = db_now();
    let (province, enterprise_id, operator_id) = match &new.binding {
        Binding::Nationwide => (None, None, None),
        Binding::Province(p) => (Some(p.as_str()), None, None),
        Binding::Enterprise(e) => (None, Some(e.clone()), None),
        Binding::Operator(o) => (None, None, Some(o.clone())),
    };
    let row = UserRow {
        id: new_id(),
        username: new.username.clone(),
        password_hash: password::hash(&new.password)?,
        role: new.role.as_str().to_string(),
        province,
        enterprise_id,
        operator_id,
        display_name: new.display_name.clone(),
        active: true,
        created_at: now,
        updated_at: now,
    };
    db::users::insert_user(conn, &row)?;
    Ok(row)
}

fn read_new_user(body: &Value) -> Result<NewUser, ApiError> {
    let mut r = BodyReader::new(body, "");
    r.deny_unknown(&[
        "username",
        "password",
        "role",
        "display_name",
        "province",
        "enterprise_id",
        "operator_id",
    ]);
    let username = r.parse("username", validate_username);
    let password = r.parse("password", validate_password);
    let role = r.parse("role", |s| {
        Role::parse(s).ok_or_else(|| {
            Invalid::new(
                "user.role",
                "role must be enterprise, operator, regulator, auditor or admin",
            )
        })
    });
    let display_name = r.opt_str("display_name").map(|s| s.trim().to_string());
    let province = r.opt_str("province");
    let enterprise_id = r.opt_str("enterprise_id");
    let operator_id = r.opt_str("operator_id");
    let binding = role.and_then(|role| match binding_for(role, province, enterprise_id, operator_id) {
        Ok(b) => Some(b),
        Err(problems) => {
            for (field, invalid) in problems {
                r.check::<()>(field, Err(invalid));
            }
            None
        }
    });
    match (username, password, role, binding) {
        (Some(username), Some(password), Some(role), Some(binding)) if r.problems.is_empty() => Ok(NewUser {
            display_name: display_name
                .filter(|d| !d.is_empty())
                .unwrap_or_else(|| username.clone()),
            username,
            password,
            role,
            binding,
        }),
        _ => Err(ApiError::Validation(r.problems)),
    }
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
    let new = read_new_user(&body)?;
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
