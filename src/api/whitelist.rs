//! Province-pair agreements and the yearly whitelist: entries, their lifecycle and versions,
//! quota usage, and which operators may take a code.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::body;
use super::calendar::parse_date;
use super::error::{ApiError, ApiResult, FieldProblem, Problem};
use super::extract::{BodyReader, QueryParams, cut_page, next_cursor};
use crate::auth::authorize;
use crate::auth::permission::require_role;
use crate::auth::principal::{Binding, Principal, Role};
use crate::auth::{Decision, Guarded};
use crate::db::whitelist::{AgreementRow, EntryFilter, EntryRow, EntryVersionRow, LedgerRow};
use crate::db::{self, DbConnection, DbError, DbResult, db_now, new_id};
use crate::domain::Invalid;
use crate::domain::calendar::shanghai_date;
use crate::domain::catalogue::{WasteCategory, WasteCode};
use crate::domain::ids::ProvinceCode;
use crate::domain::quantity::{Quantity, grams_to_kg_string};
use crate::domain::whitelist::{EntryAction, EntryParties, EntryScope, EntryStatus, licence_fit_problems};
use crate::service::Ctx;
use crate::service::commands::ReasonInput;
use crate::service::whitelist::entries::{self, enterprise_province};
use crate::state::AppState;

fn today() -> NaiveDate {
    shanghai_date(Utc::now())
}

// ---------------------------------------------------------------------------------------------
// Agreements

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AgreementDto {
    pub id: String,
    /// The two provinces (GB/T 2260), in code order.
    pub provinces: [String; 2],
    pub valid_from: String,
    pub valid_until: String,
    /// `consent`: the receiving province must actively agree on the whitelist route;
    /// `inform`: it is informed only (川渝 practice).
    pub receiving_consent: String,
    /// Optional cap on one application's quantity, kg.
    pub cap_per_application_kg: Option<String>,
    /// `proposed` until the other province confirms, then `confirmed`.
    pub status: String,
    pub proposed_by_province: String,
    pub confirmed_at: Option<String>,
}

impl From<AgreementRow> for AgreementDto {
    fn from(r: AgreementRow) -> Self {
        AgreementDto {
            id: r.id,
            provinces: [r.province_a, r.province_b],
            valid_from: r.valid_from,
            valid_until: r.valid_until,
            receiving_consent: r.receiving_consent,
            cap_per_application_kg: r.cap_per_application_g.map(grams_to_kg_string),
            status: r.status,
            proposed_by_province: r.proposed_by_province,
            confirmed_at: r.confirmed_at.map(|t| t.and_utc().to_rfc3339()),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AgreementInput {
    /// The two provinces; the caller's must be one of them.
    pub provinces: Vec<String>,
    pub valid_from: String,
    pub valid_until: String,
    pub receiving_consent: String,
    pub cap_per_application_kg: Option<String>,
}

impl Guarded for AgreementRow {
    type Action = EntryAction;
    fn decide(&self, who: &Principal, _action: EntryAction) -> Decision {
        let Some(p) = who.province().filter(|_| who.role == Role::Regulator) else {
            return Decision::Forbidden("only a regulator of the other province may confirm".into());
        };
        let mine = p.as_str();
        if mine != self.province_a && mine != self.province_b {
            Decision::Forbidden("the agreement is between two other provinces".into())
        } else if mine == self.proposed_by_province {
            Decision::Forbidden("the other province must confirm what this province proposed".into())
        } else {
            Decision::Allow
        }
    }
}

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
    require_role(&who, &[Role::Regulator])?;
    let mut r = BodyReader::new(&body, "");
    r.deny_unknown(&[
        "provinces",
        "valid_from",
        "valid_until",
        "receiving_consent",
        "cap_per_application_kg",
    ]);
    let provinces = r.parse_list("provinces", true, ProvinceCode::parse);
    if let Some(p) = &provinces
        && (p.len() != 2 || p[0] == p[1])
    {
        r.problem("provinces", "agreement.provinces", "exactly two different provinces");
    }
    let from = r.parse("valid_from", parse_date);
    let until = r.parse("valid_until", parse_date);
    if let (Some(f), Some(u)) = (from, until)
        && u < f
    {
        r.problem("valid_until", "agreement.period", "valid_until is before valid_from");
    }
    let consent = r.parse("receiving_consent", |s| match s {
        "consent" | "inform" => Ok(s.to_string()),
        _ => Err(Invalid::new(
            "agreement.receiving_consent",
            "receiving_consent must be consent or inform",
        )),
    });
    let cap = r.parse_opt("cap_per_application_kg", Quantity::parse_kg);
    let value = match (provinces, from, until, consent) {
        (Some(p), Some(f), Some(u), Some(c)) if p.len() == 2 => Some((p, f, u, c)),
        _ => None,
    };
    let (mut provinces, from, until, consent) = r.into_result(value)?;
    let mine = who
        .province()
        .ok_or_else(|| ApiError::Forbidden("no province".into()))?;
    if !provinces.contains(&mine) {
        return Err(ApiError::Forbidden(
            "a regulator proposes agreements of its own province only".into(),
        ));
    }
    provinces.sort();
    let row = AgreementRow {
        id: new_id(),
        province_a: provinces[0].as_str(),
        province_b: provinces[1].as_str(),
        valid_from: from.to_string(),
        valid_until: until.to_string(),
        receiving_consent: consent,
        cap_per_application_g: cap.map(Quantity::grams),
        status: "proposed".into(),
        proposed_by: who.name.clone(),
        proposed_by_province: mine.as_str(),
        confirmed_by: None,
        confirmed_at: None,
        created_at: db_now(),
    };
    let stored = row.clone();
    state
        .db
        .run(move |conn| db::whitelist::insert_agreement(conn, &stored))
        .await?;
    Ok(HttpResponse::Created().json(AgreementDto::from(row)))
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
    let province = q.parse_with("province", ProvinceCode::parse).map(|p| p.as_str());
    q.finish()?;
    let rows = state
        .db
        .run(move |conn| db::whitelist::list_agreements(conn, province.as_deref()))
        .await?;
    Ok(web::Json(rows.into_iter().map(AgreementDto::from).collect()))
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
    let id = path.into_inner();
    let row = {
        let id = id.clone();
        state
            .db
            .run(move |c| db::whitelist::agreement_by_id(c, &id))
            .await?
            .ok_or(ApiError::NotFound)?
    };
    authorize(&who, &row, EntryAction::Confirm)?;
    let by = who.name.clone();
    let row = state
        .db
        .run(move |c| {
            let ok = db::whitelist::confirm_agreement(c, &id, &by)?;
            Ok(ok.then_some(db::whitelist::agreement_by_id(c, &id)?).flatten())
        })
        .await?
        .ok_or_else(|| ApiError::Conflict("the agreement is already confirmed".into()))?;
    Ok(web::Json(row.into()))
}

// ---------------------------------------------------------------------------------------------
// Entries

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EntryDto {
    pub id: String,
    pub year: i32,
    pub operator_id: String,
    pub receiving_province: String,
    pub source_province: String,
    /// `code` or `category`.
    pub scope_kind: String,
    /// A waste code NNN-NNN-NN or a category HWxx.
    pub scope: String,
    pub category: String,
    pub quota_kg: String,
    pub reserved_kg: String,
    pub approved_kg: String,
    pub shipped_kg: String,
    pub received_kg: String,
    /// quota − reserved − approved.
    pub remaining_kg: String,
    pub facility: Option<String>,
    pub note: Option<String>,
    /// proposed, confirmed, suspended or expired (an entry of a past year).
    pub status: String,
    pub status_reason: Option<String>,
    pub proposed_by_province: String,
    pub version: i32,
    pub updated_at: String,
}

pub fn entry_dto(r: EntryRow) -> EntryDto {
    let status = EntryStatus::parse(&r.status)
        .map(|s| s.effective(r.year, today()).as_str().to_string())
        .unwrap_or(r.status);
    EntryDto {
        remaining_kg: grams_to_kg_string(r.quota_g - r.reserved_g - r.approved_g),
        id: r.id,
        year: r.year,
        operator_id: r.operator_id,
        receiving_province: r.receiving_province,
        source_province: r.source_province,
        scope_kind: r.scope_kind,
        scope: r.scope,
        category: r.category,
        quota_kg: grams_to_kg_string(r.quota_g),
        reserved_kg: grams_to_kg_string(r.reserved_g),
        approved_kg: grams_to_kg_string(r.approved_g),
        shipped_kg: grams_to_kg_string(r.shipped_g),
        received_kg: grams_to_kg_string(r.received_g),
        facility: r.facility,
        note: r.note,
        status,
        status_reason: r.status_reason,
        proposed_by_province: r.proposed_by_province,
        version: r.version,
        updated_at: r.updated_at.and_utc().to_rfc3339(),
    }
}

/// The fields of a proposed entry before the database checks (shared by the API and the import).
#[derive(Debug, Clone)]
pub struct EntryProposal {
    pub year: i32,
    pub operator_id: String,
    pub source_province: ProvinceCode,
    pub scope: EntryScope,
    pub quota: Quantity,
    pub facility: Option<String>,
    pub note: Option<String>,
}

/// Every reason a proposal cannot become an entry, as (field, problem); or the row to insert.
pub fn check_proposal(
    conn: &mut DbConnection,
    who: &Principal,
    p: &EntryProposal,
    today: NaiveDate,
) -> DbResult<Result<EntryRow, Vec<(&'static str, Invalid)>>> {
    let mut problems: Vec<(&'static str, Invalid)> = Vec::new();
    if p.year < today.year() || p.year > today.year() + 1 {
        problems.push((
            "year",
            Invalid::new(
                "entry.year",
                format!("entries are for {} or {}", today.year(), today.year() + 1),
            ),
        ));
    }
    let Some(operator) = db::registry::operator_by_id(conn, &p.operator_id)? else {
        problems.push((
            "operator_id",
            Invalid::new("entry.unknown_operator", "no such operator"),
        ));
        return Ok(Err(problems));
    };
    let receiving = ProvinceCode::parse(&operator.province).map_err(|e| DbError::Other(anyhow::anyhow!("{e}")))?;
    let parties = EntryParties {
        source: p.source_province,
        receiving,
    };
    if p.source_province == receiving {
        problems.push((
            "source_province",
            Invalid::new(
                "entry.same_province",
                "the whitelist is for transfers between provinces",
            ),
        ));
    }
    if !who.province().is_some_and(|mine| parties.involves(mine)) {
        problems.push((
            "source_province",
            Invalid::new(
                "entry.not_your_province",
                "a regulator proposes entries involving its own province only",
            ),
        ));
    }
    if p.source_province != receiving
        && db::whitelist::confirmed_agreement_in_year(conn, &p.source_province.as_str(), &operator.province, p.year)?
            .is_none()
    {
        problems.push((
            "source_province",
            Invalid::new(
                "entry.no_agreement",
                format!(
                    "no confirmed agreement between {} and {} for {}",
                    p.source_province, receiving, p.year
                ),
            ),
        ));
    }
    if let EntryScope::Code(code) = &p.scope {
        let jan1 = NaiveDate::from_ymd_opt(p.year, 1, 1).unwrap_or(today);
        let known = match db::catalogue::edition_on(conn, jan1)? {
            Some(ed) => db::catalogue::contains(conn, ed, code.as_str())?,
            None => false,
        };
        if !known {
            problems.push((
                "scope",
                Invalid::new(
                    "entry.unknown_code",
                    format!("{code} is not in the catalogue edition in force in {}", p.year),
                ),
            ));
        }
    }
    let licence = db::registry::current_licence(conn, &operator.id)?
        .map(|l| l.to_domain())
        .transpose()?;
    for invalid in licence_fit_problems(licence.as_ref(), &p.scope, p.quota, p.year) {
        let field = if invalid.code == "entry.over_capacity" {
            "quota_kg"
        } else if invalid.code == "entry.not_licensed" {
            "scope"
        } else {
            "operator_id"
        };
        problems.push((field, invalid));
    }
    if !problems.is_empty() {
        return Ok(Err(problems));
    }
    let now = db_now();
    let mine = who.province().map(|p| p.as_str()).unwrap_or_default();
    Ok(Ok(EntryRow {
        id: new_id(),
        year: p.year,
        operator_id: operator.id,
        receiving_province: operator.province,
        source_province: p.source_province.as_str(),
        scope_kind: p.scope.kind().to_string(),
        scope: p.scope.key(),
        category: p.scope.category().as_str(),
        quota_g: p.quota.grams(),
        reserved_g: 0,
        approved_g: 0,
        shipped_g: 0,
        received_g: 0,
        facility: p.facility.clone(),
        note: p.note.clone(),
        status: EntryStatus::Proposed.as_str().to_string(),
        status_reason: None,
        proposed_by: who.name.clone(),
        proposed_by_province: mine,
        confirmed_by: None,
        version: 1,
        created_at: now,
        updated_at: now,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct EntryInput {
    pub year: i32,
    pub operator_id: String,
    pub source_province: String,
    /// A waste code NNN-NNN-NN or a whole category HWxx.
    pub scope: String,
    /// Annual quantity in kg, a decimal string with at most 3 decimals.
    pub quota_kg: String,
    pub facility: Option<String>,
    pub note: Option<String>,
}

fn read_proposal(r: &mut BodyReader<'_>) -> Option<EntryProposal> {
    r.deny_unknown(&[
        "year",
        "operator_id",
        "source_province",
        "scope",
        "quota_kg",
        "facility",
        "note",
    ]);
    let year = match r.get("year") {
        Some(Value::Number(n)) => n
            .as_i64()
            .and_then(|y| i32::try_from(y).ok())
            .filter(|y| (2000..=2100).contains(y)),
        _ => None,
    };
    if year.is_none() {
        r.problem("year", "entry.year", "year must be an integer such as 2026");
    }
    let operator_id = r.text("operator_id", true, 64);
    let source = r.parse("source_province", ProvinceCode::parse);
    let scope = r.parse("scope", EntryScope::parse);
    let quota = r.parse("quota_kg", Quantity::parse_kg);
    let facility = r.text("facility", false, 200);
    let note = r.text("note", false, 1000);
    Some(EntryProposal {
        year: year?,
        operator_id: operator_id?,
        source_province: source?,
        scope: scope?,
        quota: quota?,
        facility,
        note,
    })
}

fn problems_to_api(problems: Vec<(&'static str, Invalid)>, base: &str) -> Vec<FieldProblem> {
    problems
        .into_iter()
        .map(|(f, i)| FieldProblem::body(format!("{base}/{f}"), &i))
        .collect()
}

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
    let row = propose(&state, &who, &body).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::ETAG, etag(row.version)))
        .json(entry_dto(row)))
}

/// Proposes an entry from a request body (the API's JSON or the UI's form, read into the same
/// shape): every problem in one 422, a duplicate as 409.
pub(crate) async fn propose(state: &AppState, who: &Principal, body: &Value) -> ApiResult<EntryRow> {
    require_role(who, &[Role::Regulator])?;
    let mut r = BodyReader::new(body, "");
    let proposal = read_proposal(&mut r);
    let proposal = r.into_result(proposal)?;
    let principal = who.clone();
    let outcome = state
        .db
        .run(move |conn| {
            let row = match check_proposal(conn, &principal, &proposal, today())? {
                Ok(row) => row,
                Err(p) => return Ok(Err(Some(p))),
            };
            match db::whitelist::insert_entries(conn, std::slice::from_ref(&row))? {
                Ok(()) => Ok(Ok(row)),
                Err(_) => Ok(Err(None)),
            }
        })
        .await?;
    match outcome {
        Ok(row) => Ok(row),
        Err(Some(problems)) => Err(ApiError::Validation(problems_to_api(problems, ""))),
        Err(None) => Err(ApiError::Conflict(
            "an entry for this operator, source province, code or category and year already exists".into(),
        )),
    }
}

fn etag(version: i32) -> String {
    format!("\"v{version}\"")
}

/// The entry version an `If-Match` names (`"v3"` → 3).
fn entry_if_match(req: &HttpRequest) -> ApiResult<Option<i32>> {
    super::extract::if_match_version(req, "v", "\"v3\"")
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EntryPage {
    pub items: Vec<EntryDto>,
    pub next_cursor: Option<String>,
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
    entries_page(&state, &who, req.query_string()).await.map(web::Json)
}

/// A page of entries in the caller's scope, filtered by the request's query string (the API's
/// parameters); shared by the API and the web UI.
pub(crate) async fn entries_page(state: &AppState, who: &Principal, query: &str) -> ApiResult<EntryPage> {
    let mut q = QueryParams::parse_str(
        query,
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
    let mut f = EntryFilter {
        year: q.parse_with("year", |s| {
            s.parse::<i32>()
                .ok()
                .filter(|y| (2000..=2100).contains(y))
                .ok_or_else(|| Invalid::new("query.year", "year must be like 2026"))
        }),
        operator_id: q.raw("operator").map(str::to_string),
        source_province: q.parse_with("source_province", ProvinceCode::parse).map(|p| p.as_str()),
        code: q
            .parse_with("code", WasteCode::parse)
            .map(|c| (c.as_str().to_string(), c.category().as_str())),
        category: q.parse_with("category", WasteCategory::parse).map(|c| c.as_str()),
        status: q
            .parse_with("status", EntryStatus::parse)
            .map(|s| s.as_str().to_string()),
        ..Default::default()
    };
    let limit = q.limit(50, super::extract::LIMIT_MAX);
    let after = q.cursor();
    q.finish()?;
    let principal = who.clone();
    let (rows, more) = state
        .db
        .run(move |conn| {
            match (&principal.role, &principal.binding) {
                (Role::Admin, _) | (Role::Auditor, Binding::Nationwide) => {}
                (Role::Auditor | Role::Regulator, Binding::Province(p)) => f.involving_province = Some(p.as_str()),
                (Role::Operator, Binding::Operator(id)) => f.operator_id = Some(id.clone()),
                (Role::Enterprise, _) => {
                    f.visible_source = Some(enterprise_province(conn, &principal)?.unwrap_or_else(|| "-".into()))
                }
                _ => return Ok((Vec::new(), false)),
            }
            let mut rows = db::whitelist::list_entries(conn, &f, after.as_deref(), limit + 1)?;
            let more = cut_page(&mut rows, limit);
            Ok((rows, more))
        })
        .await?;
    let next_cursor = next_cursor(&rows, more, |r| &r.id);
    Ok(EntryPage {
        items: rows.into_iter().map(entry_dto).collect(),
        next_cursor,
    })
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
    /// proposed, confirm, suspend, reinstate.
    pub change: String,
    pub reason: Option<String>,
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
                let licence = db::registry::current_licence(conn, &op.id)?
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
