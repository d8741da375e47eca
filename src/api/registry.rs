//! The registry's door: producer enterprises and licensed operators with their licence history.
//! Each handler reads its request and calls `service::registry`.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::body;
use super::error::{ApiResult, Problem};
use super::extract::{QueryParams, next_cursor};
use crate::auth::principal::Principal;
use crate::domain::ids::ProvinceCode;
use crate::service::commands::ReasonInput;
pub use crate::service::registry::{
    EnterpriseDto, EnterpriseInput, LicenceDto, LicenceInput, LicenceReinstatement, LicenceSuspension, OperatorDto,
    OperatorInput, RegistryAction,
};
use crate::service::{Ctx, registry};
use crate::state::AppState;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EnterprisePage {
    pub items: Vec<EnterpriseDto>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OperatorPage {
    pub items: Vec<OperatorDto>,
    pub next_cursor: Option<String>,
}

/// A list's query: `province`, `limit`, `cursor`.
fn page_query(req: &HttpRequest) -> ApiResult<(Option<ProvinceCode>, Option<String>, i64)> {
    let mut q = QueryParams::parse(req, &["province", "limit", "cursor"])?;
    let province = q.parse_with("province", ProvinceCode::parse);
    let limit = q.limit(50, super::extract::LIMIT_MAX);
    let after = q.cursor();
    q.finish()?;
    Ok((province, after, limit))
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
    let input = body::read(&body, EnterpriseInput::problems)?;
    let dto = registry::create_enterprise(&state, &Ctx::new(who), input).await?;
    Ok(HttpResponse::Created().json(dto))
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
    let (province, after, limit) = page_query(&req)?;
    let (items, more) = registry::list_enterprises(&state, &Ctx::new(who), province, after, limit).await?;
    let next_cursor = next_cursor(&items, more, |e| &e.id);
    Ok(web::Json(EnterprisePage { items, next_cursor }))
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
    Ok(web::Json(
        registry::enterprise(&state, &Ctx::new(who), path.into_inner()).await?,
    ))
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
    let input = body::read(&body, OperatorInput::problems)?;
    let dto = registry::create_operator(&state, &Ctx::new(who), input).await?;
    Ok(HttpResponse::Created().json(dto))
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
    who: Principal,
    req: HttpRequest,
) -> ApiResult<web::Json<OperatorPage>> {
    let (province, after, limit) = page_query(&req)?;
    let (items, more) = registry::list_operators(&state, &Ctx::new(who), province, after, limit).await?;
    let next_cursor = next_cursor(&items, more, |o| &o.id);
    Ok(web::Json(OperatorPage { items, next_cursor }))
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
    Ok(web::Json(
        registry::operator(&state, &Ctx::new(who), path.into_inner()).await?,
    ))
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
    Ok(web::Json(
        registry::licence_history(&state, &Ctx::new(who), path.into_inner()).await?,
    ))
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
    let input = body::read(&body, LicenceInput::problems)?;
    let dto = registry::add_licence(&state, &Ctx::new(who), path.into_inner(), input).await?;
    Ok(HttpResponse::Created().json(dto))
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
    Ok(web::Json(
        registry::suspend_licence(&state, &Ctx::new(who), path.into_inner(), reason).await?,
    ))
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
    Ok(web::Json(
        registry::reinstate_licence(&state, &Ctx::new(who), path.into_inner()).await?,
    ))
}
