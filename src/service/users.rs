//! Accounts of people: the command that creates one, its rules (username, password, a binding
//! that fits the role), and the store. The API and the CLI both create users through it.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::schema::Schema;
use validator::{Validate, ValidationError};

use crate::auth::password;
use crate::auth::permission::require_role;
use crate::auth::principal::{Binding, Principal, Role, SubjectKind};
use crate::auth::{Decision, Guarded, authorize};
use crate::db::{self, db_now, new_id, users::UserRow};
use crate::domain::Invalid;
use crate::domain::credentials::password_problems;
use crate::domain::ids::ProvinceCode;
use crate::service::commands::{enum_schema, province_schema, text_schema, valid_text, validation_problems};
use crate::service::error::validation_error;
use crate::service::{Ctx, Error, FieldProblem, Result as ServiceResult, cut_page};
use crate::state::AppState;

/// A new account: who, with which role, bound to which party.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserInput {
    /// 3 to 64 of a–z, A–Z, 0–9, `.`, `_`, `-`, `@`.
    #[validate(custom(function = "valid_username"))]
    #[schema(pattern = "^[A-Za-z0-9._@-]{3,64}$")]
    pub username: String,
    /// 12 to 1024 characters mixing at least three of: lower-case letters, upper-case letters,
    /// digits, other characters; not the username.
    #[schema(min_length = 12, max_length = 1024)]
    pub password: String,
    /// enterprise, operator, regulator, auditor or admin.
    #[validate(custom(function = "valid_role"))]
    #[schema(schema_with = role_schema)]
    pub role: String,
    /// Shown in the UI and the audit trail; the username when left out.
    #[serde(default, deserialize_with = "crate::service::commands::present")]
    #[validate(custom(function = "valid_text::<100>"))]
    #[schema(schema_with = text_schema::<100>)]
    pub display_name: Option<String>,
    /// Required for regulators; optional for auditors (absent = nationwide).
    #[serde(default, deserialize_with = "crate::service::commands::present")]
    #[schema(schema_with = province_schema)]
    pub province: Option<String>,
    /// Required for enterprise users.
    #[serde(default, deserialize_with = "crate::service::commands::present")]
    #[validate(custom(function = "valid_text::<64>"))]
    #[schema(schema_with = text_schema::<64>)]
    pub enterprise_id: Option<String>,
    /// Required for operator users.
    #[serde(default, deserialize_with = "crate::service::commands::present")]
    #[validate(custom(function = "valid_text::<64>"))]
    #[schema(schema_with = text_schema::<64>)]
    pub operator_id: Option<String>,
}

fn valid_username(s: &str) -> Result<(), ValidationError> {
    validate_username(s).map(|_| ()).map_err(validation_error)
}

fn valid_role(s: &str) -> Result<(), ValidationError> {
    role_of(s).map(|_| ()).map_err(validation_error)
}

fn role_of(s: &str) -> Result<Role, Invalid> {
    Role::parse(s).ok_or_else(|| {
        Invalid::new(
            "user.role",
            "role must be enterprise, operator, regulator, auditor or admin",
        )
    })
}

fn role_schema() -> Schema {
    enum_schema(
        &["enterprise", "operator", "regulator", "auditor", "admin"],
        "the role (DESIGN §3)",
    )
}

impl NewUserInput {
    /// Every problem at once, the binding's fit to the role included.
    pub fn problems(&self) -> Vec<FieldProblem> {
        let mut problems = self
            .validate()
            .err()
            .map(|e| validation_problems(&e))
            .unwrap_or_default();
        // Every rule the password breaks (domain::credentials), the username's included.
        for invalid in password_problems(&self.password, &self.username) {
            problems.push(FieldProblem::body("/password", &invalid));
        }
        if let Ok(role) = role_of(&self.role)
            && let Err(misfits) = binding_for(
                role,
                self.province.as_deref(),
                self.enterprise_id.as_deref().map(str::trim),
                self.operator_id.as_deref().map(str::trim),
            )
        {
            for (field, invalid) in misfits {
                let pointer = format!("/{field}");
                if !problems.iter().any(|p| p.pointer == pointer) {
                    problems.push(FieldProblem::body(pointer, &invalid));
                }
            }
        }
        problems.sort_by(|a, b| a.pointer.cmp(&b.pointer));
        problems
    }

    /// The account to create, once [`NewUserInput::problems`] found nothing.
    pub fn read(&self) -> Result<NewUser, Vec<FieldProblem>> {
        let problems = self.problems();
        if !problems.is_empty() {
            return Err(problems);
        }
        let bad = |e: Invalid| vec![FieldProblem::body("", &e)];
        let role = role_of(&self.role).map_err(bad)?;
        let binding = binding_for(
            role,
            self.province.as_deref(),
            self.enterprise_id.as_deref().map(str::trim),
            self.operator_id.as_deref().map(str::trim),
        )
        .map_err(|misfits| {
            misfits
                .into_iter()
                .map(|(f, i)| FieldProblem::body(format!("/{f}"), &i))
                .collect::<Vec<_>>()
        })?;
        Ok(NewUser {
            display_name: self
                .display_name
                .as_deref()
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .unwrap_or(&self.username)
                .to_string(),
            username: self.username.clone(),
            password: self.password.clone(),
            role,
            binding,
        })
    }
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

/// A new password of `username` by the rules of `domain::credentials` (the first rule it breaks);
/// whether it repeats an earlier one is `service::passwords`' check.
pub fn validate_password(s: &str, username: &str) -> Result<String, Invalid> {
    match password_problems(s, username).into_iter().next() {
        Some(invalid) => Err(invalid),
        None => Ok(s.to_string()),
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

// ---------------------------------------------------------------------------------------------
// The accounts' use cases: admins manage them; everybody may read their own.

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

/// Accounts by username after `after` (admins); and whether more follow.
pub async fn list(
    state: &AppState,
    ctx: &Ctx,
    after: Option<String>,
    limit: i64,
) -> ServiceResult<(Vec<UserDto>, bool)> {
    require_role(&ctx.who, &[Role::Admin])?;
    let mut rows = state
        .db
        .run(move |conn| db::users::list_users(conn, after.as_deref(), limit + 1))
        .await?;
    let more = cut_page(&mut rows, limit);
    Ok((rows.into_iter().map(UserDto::from).collect(), more))
}

async fn load(state: &AppState, id: String) -> ServiceResult<UserRow> {
    state
        .db
        .run(move |conn| db::users::user_by_id(conn, &id))
        .await?
        .ok_or(Error::Hidden)
}

/// One account: admins any, everybody else only their own.
pub async fn get(state: &AppState, ctx: &Ctx, id: String) -> ServiceResult<UserDto> {
    let user = load(state, id).await?;
    authorize(&ctx.who, &user, UserAction::Read)?;
    Ok(user.into())
}

/// Disables or enables an account (admins); a disabled account's tokens stop working within the
/// subject cache's time.
pub async fn set_active(state: &AppState, ctx: &Ctx, id: String, active: bool) -> ServiceResult<UserDto> {
    let user = load(state, id).await?;
    authorize(&ctx.who, &user, UserAction::Manage)?;
    let username = user.username.clone();
    state
        .db
        .run(move |conn| db::users::set_user_active(conn, &username, active))
        .await?;
    state.subject_cache.forget(SubjectKind::User, &user.id);
    tracing::info!(user = %user.username, active, by = %ctx.who.name, "user active state changed");
    Ok(load(state, user.id).await?.into())
}

/// Creates an account (admins); a taken username is a conflict.
pub async fn add(state: &AppState, ctx: &Ctx, input: NewUserInput) -> ServiceResult<UserDto> {
    require_role(&ctx.who, &[Role::Admin])?;
    let new = input.read().map_err(Error::Invalid)?;
    let row = state
        .db
        .run(move |conn| match create_user(conn, &new) {
            Err(db::DbError::Conflict(_)) => Ok(None),
            other => other.map(Some),
        })
        .await?
        .ok_or_else(|| Error::Conflict("the username is taken".into()))?;
    tracing::info!(user = %row.username, role = %row.role, by = %ctx.who.name, "user created");
    Ok(row.into())
}
