//! The registry: producer enterprises and licensed operators with their licence history.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::body;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{QueryParams, cut_page, next_cursor};
use crate::auth::authorize;
use crate::auth::permission::require_role;
use crate::auth::principal::{Binding, Principal, Role};
use crate::db::registry::{EnterpriseRow, LicenceRow, OperatorRow};
use crate::db::{self, DbError, db_now, new_id};
use crate::domain::ids::ProvinceCode;
use crate::domain::quantity::grams_to_kg_string;
use crate::service::commands::ReasonInput;
pub use crate::service::registry::{EnterpriseInput, LicenceInput, OperatorInput, RegistryAction};
use crate::service::{Ctx, registry};
use crate::state::AppState;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EnterpriseDto {
    pub id: String,
    pub name: String,
    /// 统一社会信用代码.
    pub uscc: String,
    pub province: String,
    pub division_code: String,
    pub address: String,
    pub contact_name: String,
    pub contact_phone: String,
    pub created_at: String,
}

impl From<EnterpriseRow> for EnterpriseDto {
    fn from(r: EnterpriseRow) -> Self {
        EnterpriseDto {
            id: r.id,
            name: r.name,
            uscc: r.uscc,
            province: r.province,
            division_code: r.division_code,
            address: r.address,
            contact_name: r.contact_name,
            contact_phone: r.contact_phone,
            created_at: r.created_at.and_utc().to_rfc3339(),
        }
    }
}

/// Register a producer enterprise (移出人). Regulators of its province or admins.
#[utoipa::path(
    tag = "registry",
    security(("bearer" = [])),
    request_body = EnterpriseInput,
    responses(
        (status = 201, body = EnterpriseDto),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "USCC already registered", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/enterprises")]
pub async fn create_enterprise(
    state: web::Data<AppState>,
    who: Principal,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    require_role(&who, &[Role::Admin, Role::Regulator])?;
    let input = body::read(&body, EnterpriseInput::problems)?;
    let (party, contact_name, contact_phone) = input.read().map_err(ApiError::Validation)?;
    if who.role == Role::Regulator && who.province() != Some(party.province) {
        return Err(ApiError::Forbidden(
            "a regulator registers enterprises of its own province only".into(),
        ));
    }
    let now = db_now();
    let row = EnterpriseRow {
        id: new_id(),
        name: party.name,
        uscc: party.uscc.as_str().to_string(),
        province: party.province.as_str(),
        division_code: party.division.as_str(),
        address: party.address,
        contact_name,
        contact_phone,
        created_by: who.name.clone(),
        created_at: now,
        updated_at: now,
    };
    let stored = row.clone();
    state
        .db
        .run(move |conn| db::registry::insert_enterprise(conn, &stored))
        .await
        .map_err(|e| match e {
            DbError::Conflict(_) => ApiError::Conflict("an enterprise with this USCC is already registered".into()),
            other => other.into(),
        })?;
    Ok(HttpResponse::Created().json(EnterpriseDto::from(row)))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EnterprisePage {
    pub items: Vec<EnterpriseDto>,
    pub next_cursor: Option<String>,
}

/// List enterprises in the caller's scope (an enterprise sees itself).
#[utoipa::path(
    tag = "registry",
    security(("bearer" = [])),
    params(
        ("province" = Option<String>, Query),
        ("limit" = Option<i64>, Query),
        ("cursor" = Option<String>, Query),
    ),
    responses((status = 200, body = EnterprisePage), (status = 403, body = Problem, content_type = "application/problem+json"))
)]
#[get("/enterprises")]
pub async fn list_enterprises(
    state: web::Data<AppState>,
    who: Principal,
    req: HttpRequest,
) -> ApiResult<web::Json<EnterprisePage>> {
    require_role(&who, &[Role::Admin, Role::Regulator, Role::Auditor, Role::Enterprise])?;
    let mut q = QueryParams::parse(&req, &["province", "limit", "cursor"])?;
    let mut province = q.parse_with("province", ProvinceCode::parse).map(|p| p.as_str());
    let limit = q.limit(50, super::extract::LIMIT_MAX);
    let after = q.cursor();
    q.finish()?;
    let only = match &who.binding {
        Binding::Enterprise(id) => Some(id.clone()),
        _ => None,
    };
    if let (Role::Auditor, Binding::Province(p)) = (who.role, &who.binding) {
        if province.as_deref().is_some_and(|x| *x != p.as_str()) {
            return Ok(web::Json(EnterprisePage {
                items: vec![],
                next_cursor: None,
            }));
        }
        province = Some(p.as_str());
    }
    let mut rows = state
        .db
        .run(move |conn| {
            db::registry::list_enterprises(conn, province.as_deref(), only.as_deref(), after.as_deref(), limit + 1)
        })
        .await?;
    let more = cut_page(&mut rows, limit);
    let next_cursor = next_cursor(&rows, more, |r| &r.id);
    Ok(web::Json(EnterprisePage {
        items: rows.into_iter().map(EnterpriseDto::from).collect(),
        next_cursor,
    }))
}

/// Read one enterprise.
#[utoipa::path(
    tag = "registry",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = EnterpriseDto), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
#[get("/enterprises/{id}")]
pub async fn get_enterprise(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
) -> ApiResult<web::Json<EnterpriseDto>> {
    let id = path.into_inner();
    let row = state
        .db
        .run(move |conn| db::registry::enterprise_by_id(conn, &id))
        .await?
        .ok_or(ApiError::NotFound)?;
    authorize(&who, &row, RegistryAction::Read)?;
    Ok(web::Json(row.into()))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LicenceDto {
    pub id: String,
    pub version: i32,
    pub licence_number: String,
    /// collect (收集), store (贮存), utilise (利用), dispose (处置).
    pub modes: Vec<String>,
    pub categories: Vec<String>,
    pub codes: Vec<String>,
    /// Licensed annual capacity in kg (3 decimals), over every category.
    pub annual_capacity_kg: String,
    /// Categories with a figure of their own (HWxx → kg a year); the others are bounded by the
    /// total alone.
    pub category_capacities_kg: std::collections::BTreeMap<String, String>,
    pub valid_from: String,
    pub valid_until: String,
    pub issuing_authority: String,
    /// valid, suspended or revoked.
    pub status: String,
    pub status_reason: Option<String>,
    pub recorded_at: String,
}

fn list(s: &str) -> Vec<String> {
    s.split(',').filter(|x| !x.is_empty()).map(str::to_string).collect()
}

impl From<LicenceRow> for LicenceDto {
    fn from(r: LicenceRow) -> Self {
        let category_capacities_kg = r
            .category_capacities()
            .unwrap_or_default()
            .into_iter()
            .map(|(c, q)| (c.as_str(), q.to_string()))
            .collect();
        LicenceDto {
            id: r.id,
            version: r.version,
            licence_number: r.licence_number,
            modes: list(&r.modes),
            categories: list(&r.categories),
            codes: list(&r.codes),
            annual_capacity_kg: grams_to_kg_string(r.annual_capacity_g),
            category_capacities_kg,
            valid_from: r.valid_from,
            valid_until: r.valid_until,
            issuing_authority: r.issuing_authority,
            status: r.status,
            status_reason: r.status_reason,
            recorded_at: r.recorded_at.and_utc().to_rfc3339(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OperatorDto {
    pub id: String,
    pub name: String,
    pub uscc: String,
    pub province: String,
    pub division_code: String,
    pub address: String,
    /// The current licence version.
    pub licence: Option<LicenceDto>,
    pub created_at: String,
}

fn operator_dto(r: OperatorRow, licence: Option<LicenceRow>) -> OperatorDto {
    OperatorDto {
        id: r.id,
        name: r.name,
        uscc: r.uscc,
        province: r.province,
        division_code: r.division_code,
        address: r.address,
        licence: licence.map(LicenceDto::from),
        created_at: r.created_at.and_utc().to_rfc3339(),
    }
}

/// Register a licensed operator (经营单位) with its licence. Regulators of its province or admins.
#[utoipa::path(
    tag = "registry",
    security(("bearer" = [])),
    request_body = OperatorInput,
    responses(
        (status = 201, body = OperatorDto),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/operators")]
pub async fn create_operator(
    state: web::Data<AppState>,
    who: Principal,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    require_role(&who, &[Role::Admin, Role::Regulator])?;
    let input = body::read(&body, OperatorInput::problems)?;
    let (party, licence) = input.read().map_err(ApiError::Validation)?;
    if who.role == Role::Regulator && who.province() != Some(party.province) {
        return Err(ApiError::Forbidden(
            "a regulator registers operators of its own province only".into(),
        ));
    }
    let now = db_now();
    let row = OperatorRow {
        id: new_id(),
        name: party.name,
        uscc: party.uscc.as_str().to_string(),
        province: party.province.as_str(),
        division_code: party.division.as_str(),
        address: party.address,
        created_by: who.name.clone(),
        created_at: now,
        updated_at: now,
    };
    let by = who.name.clone();
    let (row, lic) = state
        .db
        .run(move |conn| {
            db::write_tx(conn, |conn| {
                db::registry::insert_operator(conn, &row)?;
                let lic = db::registry::add_licence(conn, &row.id, &licence, &by)?;
                Ok((row, lic))
            })
        })
        .await
        .map_err(|e| match e {
            DbError::Conflict(_) => ApiError::Conflict("an operator with this USCC is already registered".into()),
            other => other.into(),
        })?;
    Ok(HttpResponse::Created().json(operator_dto(row, Some(lic))))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OperatorPage {
    pub items: Vec<OperatorDto>,
    pub next_cursor: Option<String>,
}

/// List licensed operators (public to every caller).
#[utoipa::path(
    tag = "registry",
    security(("bearer" = [])),
    params(("province" = Option<String>, Query), ("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = OperatorPage))
)]
#[get("/operators")]
pub async fn list_operators(
    state: web::Data<AppState>,
    _who: Principal,
    req: HttpRequest,
) -> ApiResult<web::Json<OperatorPage>> {
    let mut q = QueryParams::parse(&req, &["province", "limit", "cursor"])?;
    let province = q.parse_with("province", ProvinceCode::parse).map(|p| p.as_str());
    let limit = q.limit(50, super::extract::LIMIT_MAX);
    let after = q.cursor();
    q.finish()?;
    let (rows, more) = state
        .db
        .run(move |conn| {
            let mut rows = db::registry::list_operators(conn, province.as_deref(), after.as_deref(), limit + 1)?;
            let more = cut_page(&mut rows, limit);
            let mut out = Vec::new();
            for r in rows {
                let lic = db::registry::current_licence(conn, &r.id)?;
                out.push((r, lic));
            }
            Ok((out, more))
        })
        .await?;
    let next_cursor = next_cursor(&rows, more, |(r, _)| &r.id);
    Ok(web::Json(OperatorPage {
        items: rows.into_iter().map(|(r, l)| operator_dto(r, l)).collect(),
        next_cursor,
    }))
}

async fn load_operator(state: &AppState, id: String) -> ApiResult<(OperatorRow, Option<LicenceRow>)> {
    state
        .db
        .run(move |conn| {
            let Some(op) = db::registry::operator_by_id(conn, &id)? else {
                return Ok(None);
            };
            let lic = db::registry::current_licence(conn, &id)?;
            Ok(Some((op, lic)))
        })
        .await?
        .ok_or(ApiError::NotFound)
}

/// Read one operator with its current licence.
#[utoipa::path(
    tag = "registry",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = OperatorDto), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
#[get("/operators/{id}")]
pub async fn get_operator(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
) -> ApiResult<web::Json<OperatorDto>> {
    let (op, lic) = load_operator(&state, path.into_inner()).await?;
    authorize(&who, &op, RegistryAction::Read)?;
    Ok(web::Json(operator_dto(op, lic)))
}

/// Every licence version of an operator, oldest first.
#[utoipa::path(
    tag = "registry",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Vec<LicenceDto>), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
#[get("/operators/{id}/licences")]
pub async fn licence_history(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
) -> ApiResult<web::Json<Vec<LicenceDto>>> {
    let (op, _) = load_operator(&state, path.into_inner()).await?;
    authorize(&who, &op, RegistryAction::Read)?;
    let rows = state
        .db
        .run(move |conn| db::registry::licence_history(conn, &op.id))
        .await?;
    Ok(web::Json(rows.into_iter().map(LicenceDto::from).collect()))
}

/// Record a renewal or change of the licence: a new version; history is kept.
#[utoipa::path(
    tag = "registry",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    request_body = LicenceInput,
    responses(
        (status = 201, body = LicenceDto),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/operators/{id}/licences")]
pub async fn add_licence(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    let (op, _) = load_operator(&state, path.into_inner()).await?;
    authorize(&who, &op, RegistryAction::Write)?;
    let input = body::read(&body, LicenceInput::problems)?;
    let licence = input.read("").map_err(ApiError::Validation)?;
    let by = who.name.clone();
    let row = state
        .db
        .run(move |conn| db::registry::add_licence(conn, &op.id, &licence, &by))
        .await?;
    Ok(HttpResponse::Created().json(LicenceDto::from(row)))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LicenceReinstatement {
    pub licence: LicenceDto,
    /// Whitelist entries reinstated with it: those its suspension had stopped.
    pub reinstated_entries: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LicenceSuspension {
    pub licence: LicenceDto,
    /// Whitelist entries suspended with it (as a system action).
    pub suspended_entries: Vec<String>,
}

/// Suspend the operator's licence: its confirmed whitelist entries are suspended automatically.
#[utoipa::path(
    tag = "registry",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    request_body = ReasonInput,
    responses(
        (status = 200, body = LicenceSuspension),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/operators/{id}/licence/suspend")]
pub async fn suspend_licence(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> ApiResult<web::Json<LicenceSuspension>> {
    let reason = body::parse::<ReasonInput>(&body)?.text();
    let (lic, ids) = registry::suspend_licence(&state, &Ctx::new(who), path.into_inner(), reason).await?;
    Ok(web::Json(LicenceSuspension {
        licence: lic.into(),
        suspended_entries: ids,
    }))
}

/// Lift a licence suspension: the whitelist entries its suspension stopped are reinstated with
/// it (an entry a regulator suspended on its own stays suspended).
#[utoipa::path(
    tag = "registry",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, body = LicenceReinstatement),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/operators/{id}/licence/reinstate")]
pub async fn reinstate_licence(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
) -> ApiResult<web::Json<LicenceReinstatement>> {
    let (lic, ids) = registry::reinstate_licence(&state, &Ctx::new(who), path.into_inner()).await?;
    Ok(web::Json(LicenceReinstatement {
        licence: lic.into(),
        reinstated_entries: ids,
    }))
}
