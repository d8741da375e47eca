//! Transfer applications (转移申请): filing with `Idempotency-Key`, the dry-run check, the
//! regulators' queue, the case view with its clocks, and every workflow step.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::body;
use super::error::{ApiError, ApiResult, FieldProblem, Location, Problem};
use super::extract::QueryParams;
use crate::auth::principal::Principal;
use crate::domain::Invalid;
use crate::domain::catalogue::WasteCode;
use crate::domain::workflow::{Act, Route, Side, Status};
use crate::service::Ctx;
pub use crate::service::applications::attachments::AttachmentDto;
use crate::service::applications::attachments::{self, Upload};
pub use crate::service::applications::case::{
    ApplicationDto, ApprovalDto, CarrierDto, DecisionDto, ItemDto, StepDto, SuspensionDto, case_dto, load_dto,
    load_visible, regulator_side,
};
use crate::service::applications::events;
pub use crate::service::applications::events::EventDto;
use crate::service::applications::filing;
pub use crate::service::applications::filing::{
    ApplicationInput, CheckResult, FilingCarrierInput, ItemCheck, ItemInput,
};
use crate::service::applications::queue::{self, AppFilter, QueueCursor, to_db_time};
use crate::service::applications::workflow::{
    self, CorrectionInput, DecisionInput, RefuseAcceptanceInput, RerouteInput, ResubmitInput, RevokeInput,
    SuspendClockInput, WithdrawInput,
};
use crate::state::AppState;

pub(crate) fn etag(version: i32) -> String {
    format!("\"{version}\"")
}

/// The fingerprint of a create request, kept with its `Idempotency-Key` so a reused key with a
/// different body is told apart from a retry.
pub(crate) fn request_hash(body: &Value) -> String {
    Sha256::digest(serde_json::to_string(body).unwrap_or_default().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(crate) fn idempotency_key(req: &HttpRequest) -> ApiResult<Option<String>> {
    match req.headers().get("idempotency-key") {
        None => Ok(None),
        Some(v) => {
            let s = v.to_str().unwrap_or_default().trim().to_string();
            if s.is_empty() || s.len() > 128 || !s.chars().all(|c| c.is_ascii_graphic()) {
                Err(ApiError::Validation(vec![FieldProblem::new(
                    Location::Header,
                    "/Idempotency-Key",
                    "idempotency.key",
                    "Idempotency-Key must be 1 to 128 visible ASCII characters",
                )]))
            } else {
                Ok(Some(s))
            }
        }
    }
}

/// The confirmation a client sends back to file on the standard route (`X-Confirm-Warnings`):
/// 43 characters of base64url, or a problem.
pub(crate) fn confirmation(req: &HttpRequest) -> ApiResult<Option<String>> {
    match req.headers().get(filing::CONFIRM_HEADER) {
        None => Ok(None),
        Some(v) => {
            let s = v.to_str().unwrap_or_default().trim();
            if s.len() == 43 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                Ok(Some(s.to_string()))
            } else {
                Err(ApiError::Validation(vec![FieldProblem::new(
                    Location::Header,
                    format!("/{}", filing::CONFIRM_HEADER),
                    "filing.confirmation_format",
                    "X-Confirm-Warnings must be the confirmation_token of a 422 answer or of the check: \
                     43 characters A-Z a-z 0-9 - _",
                )]))
            }
        }
    }
}

/// File a transfer application (enterprise user or API client).
///
/// Routed to the whitelist when every item matches a confirmed entry with quota left (the
/// quantities are reserved in the same transaction). A filing that would take the standard route
/// instead (no entry, entry suspended, over quota, no agreement, …) is **not filed by surprise**:
/// it is answered 422 `/problems/confirmation-required` with `filing.standard_route` and every
/// reason (`route.*` codes, pointers at the fields) and a `confirmation_token`; the same body
/// sent again with `X-Confirm-Warnings: <confirmation_token>` is filed on the standard route with
/// the reasons kept. A token that no longer matches (the body or the reasons changed) is answered
/// 422 again with `filing.confirmation_stale` and a fresh token. The header is ignored when the
/// filing takes the whitelist route. Waste the operator may not take is refused (422). With
/// `Idempotency-Key`, a retry returns the first answer (header `Idempotent-Replayed: true`) and
/// creates nothing.
#[utoipa::path(
    tag = "applications",
    security(("bearer" = [])),
    params(
        ("Idempotency-Key" = Option<String>, Header),
        ("X-Confirm-Warnings" = Option<String>, Header, description = "the confirmation_token of a 422 confirmation-required answer (or of the check) for this very body: files it on the standard route"),
    ),
    request_body = ApplicationInput,
    responses(
        (status = 201, body = ApplicationDto),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/transfer-applications")]
pub async fn file_application(
    state: web::Data<AppState>,
    who: Principal,
    req: HttpRequest,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    let key = idempotency_key(&req)?;
    let confirmed = confirmation(&req)?;
    let input = body::read(&body, ApplicationInput::problems_today)?;
    let filed = filing::file(&state, &Ctx::new(who), input, key, request_hash(&body), confirmed).await?;
    let mut answer = HttpResponse::Created();
    answer.insert_header((header::ETAG, etag(filed.version)));
    if filed.replayed {
        answer.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(answer.json(filed.application))
}

/// Dry run of a filing: the route and why, the matched entries with the quota left, the
/// deadlines, and every reason it would fail. On the standard route it also shows what the
/// filing of this very body would be answered (`confirmation_required`) and the
/// `confirmation_token` that files it (`X-Confirm-Warnings`). Nothing is stored.
#[utoipa::path(
    tag = "applications",
    security(("bearer" = [])),
    request_body = ApplicationInput,
    responses((status = 200, body = CheckResult), (status = 422, body = Problem, content_type = "application/problem+json"))
)]
#[post("/transfer-applications/check")]
pub async fn check_application(
    state: web::Data<AppState>,
    who: Principal,
    body: web::Json<Value>,
) -> ApiResult<web::Json<CheckResult>> {
    let input = body::read(&body, ApplicationInput::problems_today)?;
    Ok(web::Json(
        filing::check(&state, &Ctx::new(who), input, request_hash(&body)).await?,
    ))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApplicationPage {
    pub items: Vec<ApplicationDto>,
    pub next_cursor: Option<String>,
}

pub(crate) use crate::domain::calendar::parse_instant;

/// The queue: applications in the caller's scope sorted by the open step's due instant.
///
/// Regulators see cases of their province; `side=source|receiving` narrows to those where their
/// province must act now. Enterprises and operators see only their own.
#[utoipa::path(
    tag = "applications",
    security(("bearer" = [])),
    params(
        ("side" = Option<String>, Query, description = "source or receiving (regulators)"),
        ("status" = Option<String>, Query), ("route" = Option<String>, Query),
        ("overdue" = Option<bool>, Query), ("due_before" = Option<String>, Query, description = "RFC 3339"),
        ("operator" = Option<String>, Query), ("code" = Option<String>, Query),
        ("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query),
    ),
    responses((status = 200, body = ApplicationPage), (status = 422, body = Problem, content_type = "application/problem+json"))
)]
#[get("/transfer-applications")]
pub async fn list_applications(
    state: web::Data<AppState>,
    who: Principal,
    req: HttpRequest,
) -> ApiResult<web::Json<ApplicationPage>> {
    let mut q = QueryParams::parse(
        &req,
        &[
            "side",
            "status",
            "route",
            "overdue",
            "due_before",
            "operator",
            "code",
            "limit",
            "cursor",
        ],
    )?;
    let now = Utc::now();
    let f = AppFilter {
        side: q.parse_with("side", Side::parse),
        status: q.parse_with("status", Status::parse).map(|s| s.as_str().to_string()),
        route: q.parse_with("route", Route::parse).map(|r| r.as_str().to_string()),
        overdue_at: q
            .parse_with("overdue", |s| match s {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(Invalid::new("query.overdue", "overdue must be true or false")),
            })
            .filter(|o| *o)
            .map(|_| to_db_time(now)),
        due_before: q.parse_with("due_before", parse_instant).map(to_db_time),
        operator_id: q.raw("operator").map(str::to_string),
        code: q.parse_with("code", WasteCode::parse).map(|c| c.as_str().to_string()),
        ..Default::default()
    };
    let limit = q.limit(50, super::extract::LIMIT_MAX);
    let after = q.parse_with("cursor", QueueCursor::parse);
    q.finish()?;
    let (items, next_cursor) = queue::page(&state, &who, f, after, limit).await?;
    Ok(web::Json(ApplicationPage { items, next_cursor }))
}

/// One application with its items, steps (due instants, working days left, overdue), decisions
/// and approval. The ETag is its version, for If-Match.
#[utoipa::path(
    tag = "applications",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = ApplicationDto), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
#[get("/transfer-applications/{id}")]
pub async fn get_application(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let dto = case_dto(&state, &who, path.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag(dto.version)))
        .json(dto))
}

/// The case's timeline.
#[utoipa::path(
    tag = "applications",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Vec<EventDto>), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
#[get("/transfer-applications/{id}/events")]
pub async fn application_events(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
) -> ApiResult<web::Json<Vec<EventDto>>> {
    Ok(web::Json(events::timeline(&state, &who, path.into_inner()).await?))
}

pub(crate) fn if_match(req: &HttpRequest) -> ApiResult<Option<i32>> {
    super::extract::if_match_version(req, "", "\"7\"")
}

async fn perform(
    state: web::Data<AppState>,
    who: Principal,
    id: String,
    req: &HttpRequest,
    act: Act,
) -> ApiResult<HttpResponse> {
    let expected = if_match(req)?;
    let (version, dto) = workflow::take_step(&state, &Ctx::new(who), id, expected, act).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag(version)))
        .json(dto))
}

/// 受理: accept the application (source province). Starts the decision clock.
#[utoipa::path(tag = "applications", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = ApplicationDto), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"), (status = 412, body = Problem, content_type = "application/problem+json")))]
#[post("/transfer-applications/{id}/accept")]
pub async fn accept(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    perform(state, who, path.into_inner(), &req, Act::Accept).await
}

/// 补正: the one-time correction notice listing every problem (source province).
#[utoipa::path(tag = "applications", security(("bearer" = [])), params(("id" = String, Path)), request_body = CorrectionInput,
    responses((status = 200, body = ApplicationDto), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json")))]
#[post("/transfer-applications/{id}/request-correction")]
pub async fn request_correction(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
    req: HttpRequest,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    let command: CorrectionInput = body::parse(&body)?;
    perform(state, who, path.into_inner(), &req, command.into()).await
}

/// 不予受理: refuse to accept the application, with reasons (source province; `If-Match`
/// required). Unlike a correction notice it ends the case: the reservation is released and the
/// refusal is the source province's numbered decision document (`refusal`, with the applicant's
/// rights of review and suit and their time limits).
#[utoipa::path(tag = "applications", security(("bearer" = [])), params(("id" = String, Path), ("If-Match" = String, Header)), request_body = RefuseAcceptanceInput,
    responses(
        (status = 200, body = ApplicationDto),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not an application waiting for acceptance", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Someone acted first", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/transfer-applications/{id}/refuse-acceptance")]
pub async fn refuse_acceptance(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
    req: HttpRequest,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    let command: RefuseAcceptanceInput = body::parse(&body)?;
    perform(state, who, path.into_inner(), &req, command.into()).await
}

/// Resubmit after a correction notice (the enterprise). The acceptance clock starts again.
#[utoipa::path(tag = "applications", security(("bearer" = [])), params(("id" = String, Path)), request_body = ResubmitInput,
    responses((status = 200, body = ApplicationDto), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json")))]
#[post("/transfer-applications/{id}/resubmit")]
pub async fn resubmit(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
    req: HttpRequest,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    let command: ResubmitInput = body::parse(&body)?;
    perform(state, who, path.into_inner(), &req, command.into()).await
}

/// Decide a step: `If-Match` with the application's ETag is required. A refusal by either side
/// ends the case and releases the reservation; the final approval commits the quantity and
/// issues the approval number.
#[utoipa::path(tag = "applications", security(("bearer" = [])), params(("id" = String, Path), ("If-Match" = String, Header)), request_body = DecisionInput,
    responses(
        (status = 200, body = ApplicationDto),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Someone decided first", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/transfer-applications/{id}/decisions")]
pub async fn decide(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
    req: HttpRequest,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    let command: DecisionInput = body::parse(&body)?;
    perform(state, who, path.into_inner(), &req, command.into()).await
}

/// Withdraw before a decision (the enterprise). Releases the reservation.
#[utoipa::path(tag = "applications", security(("bearer" = [])), params(("id" = String, Path)), request_body = WithdrawInput,
    responses((status = 200, body = ApplicationDto), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json")))]
#[post("/transfer-applications/{id}/withdraw")]
pub async fn withdraw(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
    req: HttpRequest,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    let command: WithdrawInput = body::parse(&body)?;
    perform(state, who, path.into_inner(), &req, command.into()).await
}

/// Suspend the running step's clock (expert review, testing, hearing — 行政许可法 第45条), with
/// the reason shown to the applicant. Only the province whose step is running.
#[utoipa::path(tag = "applications", security(("bearer" = [])), params(("id" = String, Path)), request_body = SuspendClockInput,
    responses((status = 200, body = ApplicationDto), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json")))]
#[post("/transfer-applications/{id}/suspend-clock")]
pub async fn suspend_clock(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
    req: HttpRequest,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    let command: SuspendClockInput = body::parse(&body)?;
    perform(state, who, path.into_inner(), &req, command.into()).await
}

/// Resume the clock; the step's due day moves by the working days it stood still.
#[utoipa::path(tag = "applications", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = ApplicationDto), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json")))]
#[post("/transfer-applications/{id}/resume-clock")]
pub async fn resume_clock(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    perform(state, who, path.into_inner(), &req, Act::ResumeClock).await
}

/// Move a whitelist case to the standard route (source province; `If-Match` required): allowed
/// only while an entry it draws on is suspended. The reservation is released; an accepted case
/// starts the standard clock with the source's review today. The enterprise is told (event
/// `application.rerouted`).
#[utoipa::path(tag = "applications", security(("bearer" = [])), params(("id" = String, Path), ("If-Match" = String, Header)), request_body = RerouteInput,
    responses(
        (status = 200, body = ApplicationDto),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not a whitelist case still open, or nothing stops its whitelist route; `code` says which", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Someone acted first", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/transfer-applications/{id}/reroute")]
pub async fn reroute(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
    req: HttpRequest,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    let command: RerouteInput = body::parse(&body)?;
    perform(state, who, path.into_inner(), &req, command.into()).await
}

/// 撤销: revoke an approval (source province; `If-Match` required), with reasons. Manifests not
/// yet dispatched are cancelled, the unshipped quantity goes back to the whitelist entries, no
/// new manifest may draw on it; loads on the road may still be received. The certificate and
/// the public verification page say "revoked" with the date.
#[utoipa::path(tag = "applications", security(("bearer" = [])), params(("id" = String, Path), ("If-Match" = String, Header)), request_body = RevokeInput,
    responses(
        (status = 200, body = ApplicationDto),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not an approval in force", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Someone acted first", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/transfer-applications/{id}/revoke")]
pub async fn revoke(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
    req: HttpRequest,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    let command: RevokeInput = body::parse(&body)?;
    perform(state, who, path.into_inner(), &req, command.into()).await
}

/// The file types accepted, recognised by their first bytes as well as the declared type.
fn sniff(content_type: &str, bytes: &[u8]) -> bool {
    match content_type {
        "application/pdf" => bytes.starts_with(b"%PDF-"),
        "image/jpeg" => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
        "image/png" => bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]),
        _ => false,
    }
}

/// Attach a material to an open application (the filing enterprise): the body is the file itself,
/// `Content-Type` application/pdf, image/jpeg or image/png (checked against the file's first
/// bytes), at most `HWT_MAX_ATTACHMENT_BYTES` (10 MiB by default).
#[utoipa::path(
    tag = "applications",
    security(("bearer" = [])),
    params(
        ("id" = String, Path),
        ("kind" = String, Query, description = "contract, licence_copy or other"),
        ("filename" = String, Query, description = "the original file name"),
    ),
    request_body(content = Vec<u8>, content_type = "application/pdf"),
    responses(
        (status = 201, body = AttachmentDto),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/transfer-applications/{id}/attachments")]
pub async fn add_attachment(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
    req: HttpRequest,
    mut payload: web::Payload,
) -> ApiResult<HttpResponse> {
    use futures_util::StreamExt;
    let mut q = QueryParams::parse(&req, &["kind", "filename"])?;
    q.required("kind");
    q.required("filename");
    let kind = q.parse_with("kind", |s| match s {
        "contract" | "licence_copy" | "other" => Ok(s.to_string()),
        _ => Err(Invalid::new(
            "attachment.kind",
            "kind must be contract, licence_copy or other",
        )),
    });
    let filename = q.parse_with("filename", |s| {
        let t = s.trim();
        if t.is_empty() || t.chars().count() > 200 || t.chars().any(|c| c.is_control() || c == '/' || c == '\\') {
            Err(Invalid::new(
                "attachment.filename",
                "filename must be 1 to 200 characters without / \\ or control characters",
            ))
        } else {
            Ok(t.to_string())
        }
    });
    let (Some(kind), Some(filename)) = (kind, filename) else {
        return Err(ApiError::Validation(q.problems));
    };
    q.finish()?;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
        .unwrap_or_default();
    if !["application/pdf", "image/jpeg", "image/png"].contains(&content_type.as_str()) {
        return Err(ApiError::UnsupportedMediaType(
            "attachments are application/pdf, image/jpeg or image/png".into(),
        ));
    }
    let case = attachments::open_for_materials(&state, &who, path.into_inner()).await?;
    let max = state.config.max_attachment_bytes;
    let too_large = || ApiError::PayloadTooLarge(format!("an attachment is at most {max} bytes"));
    let mut bytes = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| ApiError::Malformed {
            detail: "the body could not be read".into(),
            errors: vec![],
        })?;
        if bytes.len() + chunk.len() > max {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    if bytes.is_empty() || !sniff(&content_type, &bytes) {
        return Err(ApiError::UnsupportedMediaType(format!(
            "the file is not a valid {content_type}"
        )));
    }
    let upload = Upload {
        kind,
        filename,
        content_type,
        bytes,
    };
    let stored = attachments::add(&state, &Ctx::new(who), case, upload).await?;
    Ok(HttpResponse::Created().json(stored))
}

/// The materials of an application.
#[utoipa::path(tag = "applications", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = Vec<AttachmentDto>), (status = 404, body = Problem, content_type = "application/problem+json")))]
#[get("/transfer-applications/{id}/attachments")]
pub async fn list_attachments(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
) -> ApiResult<web::Json<Vec<AttachmentDto>>> {
    Ok(web::Json(attachments::list(&state, &who, path.into_inner()).await?))
}

/// Download one material (every party of the case).
#[utoipa::path(tag = "applications", security(("bearer" = [])), params(("id" = String, Path), ("attachment_id" = String, Path)),
    responses((status = 200, description = "The file", content_type = "application/octet-stream"), (status = 404, body = Problem, content_type = "application/problem+json")))]
#[get("/transfer-applications/{id}/attachments/{attachment_id}")]
pub async fn download_attachment(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (id, attachment_id) = path.into_inner();
    let (row, bytes) = attachments::read(&state, &who, id, attachment_id).await?;
    let ascii_name: String = row
        .filename
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok(HttpResponse::Ok()
        .content_type(row.content_type.clone())
        .insert_header(("Content-Disposition", format!("attachment; filename=\"{ascii_name}\"")))
        .insert_header(("X-Checksum-SHA256", row.sha256))
        .body(bytes))
}
