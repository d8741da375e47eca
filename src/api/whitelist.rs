//! Province-pair agreements and the yearly whitelist: entries, their lifecycle and versions,
//! quota usage, and which operators may take a code.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::body;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::QueryParams;
use crate::auth::principal::Principal;
use crate::domain::Invalid;
use crate::domain::calendar::shanghai_date;
use crate::domain::catalogue::{WasteCategory, WasteCode};
use crate::domain::ids::ProvinceCode;
use crate::domain::whitelist::{EntryAction, EntryStatus};
use crate::service::Ctx;
use crate::service::commands::ReasonInput;
use crate::service::whitelist::agreements;
pub use crate::service::whitelist::agreements::{AgreementDto, AgreementInput, TerminationInput};
use crate::service::whitelist::eligible;
pub use crate::service::whitelist::eligible::EligibleOperator;
use crate::service::whitelist::entries;
pub use crate::service::whitelist::entries::AmendmentInput;
use crate::service::whitelist::list::{self, EntryQuery, parse_year};
pub use crate::service::whitelist::list::{EntryDto, EntryPage, entry_dto};
pub use crate::service::whitelist::proposals::{self, EntryInput};
use crate::service::whitelist::versions;
pub use crate::service::whitelist::versions::{EntryVersionDto, MovementDto, UsageDto};
use crate::state::AppState;

fn today() -> NaiveDate {
    shanghai_date(Utc::now())
}

// ---------------------------------------------------------------------------------------------
// Agreements

/// Propose a province-pair agreement. It counts once the other province's regulator confirms.
#[utoipa::path(
    tag = "whitelist",
    security(("bearer" = [])),
    request_body = AgreementInput,
    responses(
        (status = 201, body = AgreementDto),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/agreements")]
pub async fn propose_agreement(
    state: web::Data<AppState>,
    who: Principal,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    let input = body::read(&body, AgreementInput::problems)?;
    let dto = agreements::propose(&state, &Ctx::new(who), input).await?;
    Ok(HttpResponse::Created().json(dto))
}

/// List agreements.
#[utoipa::path(tag = "whitelist", security(("bearer" = [])), params(("province" = Option<String>, Query)), responses((status = 200, body = Vec<AgreementDto>)))]
#[get("/agreements")]
pub async fn list_agreements(
    state: web::Data<AppState>,
    _who: Principal,
    req: HttpRequest,
) -> ApiResult<web::Json<Vec<AgreementDto>>> {
    let mut q = QueryParams::parse(&req, &["province"])?;
    let province = q.parse_with("province", ProvinceCode::parse);
    q.finish()?;
    Ok(web::Json(agreements::list(&state, province).await?))
}

/// Confirm an agreement proposed by the other province.
#[utoipa::path(
    tag = "whitelist",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, body = AgreementDto),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/agreements/{id}/confirm")]
pub async fn confirm_agreement(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
) -> ApiResult<web::Json<AgreementDto>> {
    Ok(web::Json(
        agreements::confirm(&state, &Ctx::new(who), path.into_inner()).await?,
    ))
}

/// Terminate a confirmed agreement (终止) from a day (today or later), with the reason; a
/// regulator of either province may. From that day filings between the two provinces take the
/// standard route and say why.
#[utoipa::path(
    tag = "whitelist",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    request_body = TerminationInput,
    responses(
        (status = 200, body = AgreementDto),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The agreement is not confirmed (proposed, or already terminated)", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/agreements/{id}/terminate")]
pub async fn terminate_agreement(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> ApiResult<web::Json<AgreementDto>> {
    let input: TerminationInput = body::parse(&body)?;
    Ok(web::Json(
        agreements::terminate(&state, &Ctx::new(who), path.into_inner(), input).await?,
    ))
}

// ---------------------------------------------------------------------------------------------
// Entries

/// Propose a whitelist entry (a regulator of the source or the receiving province).
///
/// Refused with 422 naming every reason when it does not fit: no confirmed agreement between
/// the provinces for the year, the operator's licence not covering the code or category or the
/// year, the quota above the licensed capacity, a code not in the catalogue. A duplicate (same
/// operator, source, code or category, year) is 409.
#[utoipa::path(
    tag = "whitelist",
    security(("bearer" = [])),
    request_body = EntryInput,
    responses(
        (status = 201, body = EntryDto),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/whitelist-entries")]
pub async fn propose_entry(
    state: web::Data<AppState>,
    who: Principal,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    let input = body::read(&body, EntryInput::problems)?;
    let row = proposals::propose(&state, &Ctx::new(who), input).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::ETAG, etag(row.version)))
        .json(entry_dto(row)))
}

fn etag(version: i32) -> String {
    format!("\"v{version}\"")
}

/// The entry version an `If-Match` names (`"v3"` → 3).
fn entry_if_match(req: &HttpRequest) -> ApiResult<Option<i32>> {
    super::extract::if_match_version(req, "v", "\"v3\"")
}

/// List whitelist entries in the caller's scope.
#[utoipa::path(
    tag = "whitelist",
    security(("bearer" = [])),
    params(
        ("year" = Option<i32>, Query), ("operator" = Option<String>, Query), ("source_province" = Option<String>, Query),
        ("code" = Option<String>, Query, description = "entries covering this code (itself or its category)"),
        ("category" = Option<String>, Query), ("status" = Option<String>, Query),
        ("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query),
    ),
    responses((status = 200, body = EntryPage), (status = 422, body = Problem, content_type = "application/problem+json"))
)]
#[get("/whitelist-entries")]
pub async fn list_entries(
    state: web::Data<AppState>,
    who: Principal,
    req: HttpRequest,
) -> ApiResult<web::Json<EntryPage>> {
    let mut q = QueryParams::parse(
        &req,
        &[
            "year",
            "operator",
            "source_province",
            "code",
            "category",
            "status",
            "limit",
            "cursor",
        ],
    )?;
    let query = EntryQuery {
        year: q.parse_with("year", parse_year),
        operator_id: q.raw("operator").map(str::to_string),
        source_province: q.parse_with("source_province", ProvinceCode::parse),
        code: q.parse_with("code", WasteCode::parse),
        category: q.parse_with("category", WasteCategory::parse),
        status: q.parse_with("status", EntryStatus::parse),
        limit: q.limit(50, super::extract::LIMIT_MAX),
        after: q.cursor(),
    };
    q.finish()?;
    Ok(web::Json(list::list(&state, &Ctx::new(who), query).await?))
}

/// What reading an entry answers: the entry now, or with `as_of` the version then.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum EntryAnswer {
    Entry(EntryDto),
    Version(EntryVersionDto),
}

/// Read an entry; with `as_of` (RFC 3339 instant) the version in force at that instant.
#[utoipa::path(
    tag = "whitelist",
    security(("bearer" = [])),
    params(("id" = String, Path), ("as_of" = Option<String>, Query, description = "RFC 3339 instant")),
    responses(
        (status = 200, description = "The entry; with as_of, the version in force then", body = EntryAnswer),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/whitelist-entries/{id}")]
pub async fn get_entry(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let mut q = QueryParams::parse(&req, &["as_of"])?;
    let as_of = q.parse_with("as_of", |s| {
        DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .map_err(|_| {
                Invalid::new(
                    "query.as_of",
                    "as_of must be an RFC 3339 instant such as 2026-03-01T00:00:00+08:00",
                )
            })
    });
    q.finish()?;
    let entry = entries::load(&state, &who, path.into_inner(), None).await?;
    match as_of {
        None => Ok(HttpResponse::Ok()
            .insert_header((header::ETAG, etag(entry.version)))
            .json(entry_dto(entry))),
        Some(instant) => Ok(HttpResponse::Ok().json(versions::as_of(&state, &entry, instant).await?)),
    }
}

/// Every version of an entry, oldest first.
#[utoipa::path(tag = "whitelist", security(("bearer" = [])), params(("id" = String, Path)), responses((status = 200, body = Vec<EntryVersionDto>)))]
#[get("/whitelist-entries/{id}/versions")]
pub async fn entry_versions(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
) -> ApiResult<web::Json<Vec<EntryVersionDto>>> {
    let entry = entries::load(&state, &who, path.into_inner(), None).await?;
    Ok(web::Json(versions::all(&state, &entry).await?))
}

async fn transition(
    state: web::Data<AppState>,
    who: Principal,
    id: String,
    req: &HttpRequest,
    body: Option<&Value>,
    action: EntryAction,
) -> ApiResult<HttpResponse> {
    // Confirming takes no body; suspending and reinstating take the reason.
    let reason = match body {
        Some(b) => Some(body::parse::<ReasonInput>(b)?.text()),
        None => None,
    };
    if let Some(problem) = entries::reason_problem(action, reason.as_deref()) {
        return Err(ApiError::Validation(vec![problem]));
    }
    let version = entry_if_match(req)?;
    let ctx = Ctx::new(who);
    let updated = entries::change(&state, &ctx, id, version, action, reason).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag(updated.version)))
        .json(entry_dto(updated)))
}

/// Confirm an entry proposed by the other province.
#[utoipa::path(
    tag = "whitelist", security(("bearer" = [])), params(("id" = String, Path)),
    responses(
        (status = 200, body = EntryDto),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match does not match the entry's ETag", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/whitelist-entries/{id}/confirm")]
pub async fn confirm_entry(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    transition(state, who, path.into_inner(), &req, None, EntryAction::Confirm).await
}

/// Suspend a confirmed entry (violation, lost capacity, …) with a reason.
#[utoipa::path(
    tag = "whitelist", security(("bearer" = [])), params(("id" = String, Path)), request_body = ReasonInput,
    responses((status = 200, body = EntryDto), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"))
)]
#[post("/whitelist-entries/{id}/suspend")]
pub async fn suspend_entry(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
    req: HttpRequest,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    transition(state, who, path.into_inner(), &req, Some(&body), EntryAction::Suspend).await
}

/// Amend an entry's quota during the year by letter between the provinces (a regulator of either
/// province of the entry): a new version citing the letter. The new quota may not fall below what
/// the entry's filings hold, and must fit the operator's licence with its other entries.
#[utoipa::path(
    tag = "whitelist", security(("bearer" = [])),
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)), request_body = AmendmentInput,
    responses((status = 200, body = EntryDto), (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 412, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json"))
)]
#[post("/whitelist-entries/{id}/amend")]
pub async fn amend_entry(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
    req: HttpRequest,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    let input = body::parse::<AmendmentInput>(&body)?;
    let version = entry_if_match(&req)?;
    let updated = entries::amend(&state, &Ctx::new(who), path.into_inner(), version, input).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag(updated.version)))
        .json(entry_dto(updated)))
}

/// Reinstate a suspended entry with a reason.
#[utoipa::path(
    tag = "whitelist", security(("bearer" = [])), params(("id" = String, Path)), request_body = ReasonInput,
    responses((status = 200, body = EntryDto), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"))
)]
#[post("/whitelist-entries/{id}/reinstate")]
pub async fn reinstate_entry(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
    req: HttpRequest,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    transition(state, who, path.into_inner(), &req, Some(&body), EntryAction::Reinstate).await
}

/// Quota usage of an entry and its ledger of movements.
#[utoipa::path(tag = "whitelist", security(("bearer" = [])), params(("id" = String, Path)), responses((status = 200, body = UsageDto), (status = 404, body = Problem, content_type = "application/problem+json")))]
#[get("/whitelist-entries/{id}/usage")]
pub async fn entry_usage(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
) -> ApiResult<web::Json<UsageDto>> {
    let entry = entries::load(&state, &who, path.into_inner(), None).await?;
    Ok(web::Json(versions::usage(&state, entry).await?))
}

/// Which operators may take a waste code from a source province this year (confirmed entries,
/// licence in force today), with the quota left. An enterprise asks for its own province.
#[utoipa::path(
    tag = "whitelist", security(("bearer" = [])),
    params(("code" = String, Query), ("year" = Option<i32>, Query), ("source_province" = Option<String>, Query, description = "regulators, auditors, admins; an enterprise's own province otherwise")),
    responses((status = 200, body = Vec<EligibleOperator>), (status = 422, body = Problem, content_type = "application/problem+json"))
)]
#[get("/whitelist-entries/eligible-operators")]
pub async fn eligible_operators(
    state: web::Data<AppState>,
    who: Principal,
    req: HttpRequest,
) -> ApiResult<web::Json<Vec<EligibleOperator>>> {
    let mut q = QueryParams::parse(&req, &["code", "year", "source_province"])?;
    q.required("code");
    let code = q.parse_with("code", WasteCode::parse);
    let year = q
        .parse_with("year", |s| {
            s.parse::<i32>()
                .ok()
                .filter(|y| (2000..=2100).contains(y))
                .ok_or_else(|| Invalid::new("query.year", "year must be like 2026"))
        })
        .unwrap_or_else(|| today().year());
    let source = q.parse_with("source_province", ProvinceCode::parse);
    let Some(code) = code else {
        return Err(ApiError::Validation(q.problems));
    };
    q.finish()?;
    Ok(web::Json(
        eligible::operators(&state, &who, code, year, source, today()).await?,
    ))
}
