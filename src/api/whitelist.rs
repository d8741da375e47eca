//! Province-pair agreements and the yearly whitelist: entries, their lifecycle and versions,
//! quota usage, and which operators may take a code.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::body;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::QueryParams;
use crate::auth::principal::{Principal, Role};
use crate::db::whitelist::{EntryRow, EntryVersionRow, LedgerRow};
use crate::db::{self};
use crate::domain::Invalid;
use crate::domain::calendar::shanghai_date;
use crate::domain::catalogue::{WasteCategory, WasteCode};
use crate::domain::ids::ProvinceCode;
use crate::domain::quantity::grams_to_kg_string;
use crate::domain::whitelist::{EntryAction, EntryStatus};
use crate::service::Ctx;
use crate::service::commands::ReasonInput;
use crate::service::whitelist::agreements;
pub use crate::service::whitelist::agreements::{AgreementDto, AgreementInput, TerminationInput};
pub use crate::service::whitelist::entries::AmendmentInput;
use crate::service::whitelist::entries::{self, enterprise_province};
use crate::service::whitelist::list::{self, EntryQuery, parse_year};
pub use crate::service::whitelist::list::{EntryDto, EntryPage, entry_dto};
pub use crate::service::whitelist::proposals::{self, EntryInput};
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

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EntryVersionDto {
    pub version: i32,
    /// When this version came into force (valid time).
    pub valid_from: String,
    /// When it was recorded (record time).
    pub recorded_at: String,
    pub status: String,
    pub quota_kg: String,
    /// proposed, confirm, suspend, reinstate, amend.
    pub change: String,
    pub reason: Option<String>,
    /// The letter that amended the quota (an `amend` version), e.g. 川环函〔2026〕12号.
    pub letter_number: Option<String>,
    pub changed_by: String,
    /// The entry as it stood in this version.
    pub entry: EntryDto,
}

fn version_dto(v: EntryVersionRow) -> ApiResult<EntryVersionDto> {
    let row: EntryRow = serde_json::from_str(&v.snapshot).map_err(ApiError::internal)?;
    Ok(EntryVersionDto {
        version: v.version,
        valid_from: v.valid_from.and_utc().to_rfc3339(),
        recorded_at: v.recorded_at.and_utc().to_rfc3339(),
        status: v.status,
        quota_kg: grams_to_kg_string(v.quota_g),
        change: v.change,
        reason: v.reason,
        letter_number: v.letter_number,
        changed_by: v.changed_by,
        entry: entry_dto(row),
    })
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
        Some(instant) => {
            let id = entry.id.clone();
            let v = state
                .db
                .run(move |conn| db::whitelist::version_as_of(conn, &id, db::to_db_time(instant)))
                .await?
                .ok_or(ApiError::NotFound)?;
            Ok(HttpResponse::Ok().json(version_dto(v)?))
        }
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
    let rows = state
        .db
        .run(move |conn| db::whitelist::versions(conn, &entry.id))
        .await?;
    Ok(web::Json(rows.into_iter().map(version_dto).collect::<ApiResult<_>>()?))
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

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MovementDto {
    pub id: String,
    /// reserve, commit, release, release_approved, ship, receive.
    pub movement: String,
    pub amount_kg: String,
    pub application_id: Option<String>,
    pub actor: String,
    pub at: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UsageDto {
    pub entry_id: String,
    pub quota_kg: String,
    pub reserved_kg: String,
    pub approved_kg: String,
    pub shipped_kg: String,
    pub received_kg: String,
    /// quota − reserved − approved.
    pub remaining_kg: String,
    pub movements: Vec<MovementDto>,
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
    let id = entry.id.clone();
    let ledger: Vec<LedgerRow> = state.db.run(move |conn| db::whitelist::ledger(conn, &id)).await?;
    Ok(web::Json(UsageDto {
        entry_id: entry.id,
        quota_kg: grams_to_kg_string(entry.quota_g),
        reserved_kg: grams_to_kg_string(entry.reserved_g),
        approved_kg: grams_to_kg_string(entry.approved_g),
        shipped_kg: grams_to_kg_string(entry.shipped_g),
        received_kg: grams_to_kg_string(entry.received_g),
        remaining_kg: grams_to_kg_string(entry.quota_g - entry.reserved_g - entry.approved_g),
        movements: ledger
            .into_iter()
            .map(|l| MovementDto {
                id: l.id,
                movement: l.movement,
                amount_kg: grams_to_kg_string(l.amount_g),
                application_id: l.application_id,
                actor: l.actor,
                at: l.created_at.and_utc().to_rfc3339(),
            })
            .collect(),
    }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EligibleOperator {
    pub operator_id: String,
    pub operator_name: String,
    pub receiving_province: String,
    pub entry_id: String,
    pub entry_version: i32,
    pub scope: String,
    pub quota_kg: String,
    pub remaining_kg: String,
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
    let principal = who.clone();
    let out = state
        .db
        .run(move |conn| {
            let source = match principal.role {
                Role::Enterprise => enterprise_province(conn, &principal)?,
                Role::Operator => return Ok(Err(())),
                _ => source
                    .map(|p| p.as_str())
                    .or_else(|| principal.province().map(|p| p.as_str())),
            };
            let Some(source) = source else {
                return Ok(Ok(Vec::new()));
            };
            let today = today();
            let mut out = Vec::new();
            for e in db::whitelist::entries_for_code(conn, &source, code.as_str(), &code.category().as_str(), year)? {
                if e.status != "confirmed" {
                    continue;
                }
                let Some(op) = db::registry::operator_by_id(conn, &e.operator_id)? else {
                    continue;
                };
                let licence = db::registry::licence_on(conn, &op.id, today)?
                    .map(|l| l.to_domain())
                    .transpose()?;
                if !licence.is_some_and(|l| l.in_force_on(today) && l.covers_code(&code)) {
                    continue;
                }
                out.push(EligibleOperator {
                    operator_id: op.id,
                    operator_name: op.name,
                    receiving_province: e.receiving_province,
                    entry_id: e.id,
                    entry_version: e.version,
                    scope: e.scope,
                    quota_kg: grams_to_kg_string(e.quota_g),
                    remaining_kg: grams_to_kg_string(e.quota_g - e.reserved_g - e.approved_g),
                });
            }
            Ok(Ok(out))
        })
        .await?
        .map_err(|_| ApiError::Forbidden("operators do not file transfers".into()))?;
    Ok(web::Json(out))
}
