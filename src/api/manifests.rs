//! Shipment manifests (电子转移联单): the producer creates one per vehicle trip under an approval
//! and dispatches it; the operator confirms receipt (or rejects the load) within five working days.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::applications::{etag, idempotency_key, if_match, request_hash};
use super::body;
use super::error::{ApiError, ApiResult, FieldProblem, Problem};
use super::extract::QueryParams;
use crate::auth::principal::Principal;
use crate::domain::Invalid;
use crate::domain::quantity::KG_OR_ZERO_PATTERN;
use crate::domain::quantity::Quantity;
use crate::service::commands::{nullable_text_schema, text_schema, valid_text};
use crate::service::manifests::ManifestAct;
use crate::service::manifests::list::ManifestFilter;
pub use crate::service::manifests::list::ManifestPage;
pub use crate::service::manifests::{
    ArrivalInput, BatchInput, BatchManifestInput, CarrierPartDto, DiscrepancyDto, DiscrepancyInput, ManifestDto,
    ManifestInput, ManifestItemDto, ManifestItemInput, PaperTripInput, ShipmentCarrierInput, to_dto,
};
use crate::service::{Ctx, manifests};
use crate::state::AppState;
use validator::Validate;

/// Create a manifest under an approved application (the producer enterprise).
///
/// Each item names an approved line and a quantity within what the approval still allows (what
/// earlier manifests drew, unless rejected or cancelled, is taken off). The number is drawn per
/// source city and year. With `Idempotency-Key`, a retry returns the first manifest.
#[utoipa::path(
    tag = "manifests",
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header)),
    request_body = ManifestInput,
    responses(
        (status = 201, body = ManifestDto),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/manifests")]
pub async fn create_manifest(
    state: web::Data<AppState>,
    who: Principal,
    req: HttpRequest,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    let key = idempotency_key(&req)?;
    let input = body::read(&body, ManifestInput::problems)?;
    let created = manifests::create(&state, &Ctx::new(who), input, key, request_hash(&body)).await?;
    let mut answer = HttpResponse::Created();
    answer.insert_header((header::ETAG, etag(created.manifest.version)));
    if created.replayed {
        answer.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(answer.json(to_dto(created.manifest, created.items)))
}

/// What became of one manifest of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BatchOutcomeKind {
    /// Created now.
    Created,
    /// Its `idempotency_key` created a manifest before (same body): that manifest, nothing new.
    Duplicate,
    /// Not created: `status` and every problem in `errors`.
    Refused,
}

/// One manifest of a batch: its place, what became of it, and the manifest or why not.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchOutcome {
    /// Its place in the batch, from 0.
    pub index: usize,
    pub outcome: BatchOutcomeKind,
    /// The manifest's key, as sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// `created` and `duplicate`: the manifest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<ManifestDto>,
    /// `refused`: the status `POST /manifests` would have answered for this manifest alone
    /// (404 for an application that does not exist or is another party's, 409, 422; 503 when the
    /// database became unavailable: this manifest and those after it were not tried).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// `refused`: every problem, with pointers into the batch (`/manifests/3/items/0/quantity_kg`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
}

/// The answer to a batch: one outcome per manifest, in the order sent, and the counts.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchAnswer {
    pub created: usize,
    pub duplicates: usize,
    pub refused: usize,
    pub results: Vec<BatchOutcome>,
}

/// The fingerprint of each manifest of a batch: its body without its key, as `POST /manifests`
/// takes it, so a key answers the same through either.
fn batch_hashes(body: &Value) -> Vec<String> {
    body.get("manifests")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|m| {
                    let mut m = m.clone();
                    if let Some(o) = m.as_object_mut() {
                        o.remove("idempotency_key");
                    }
                    request_hash(&m)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A refused manifest of a batch: its status and problems, as `POST /manifests` would answer it.
fn refused(index: usize, e: crate::service::Error) -> (u16, Vec<FieldProblem>) {
    let at = |suffix: &str| format!("/manifests/{index}{suffix}");
    let one = |suffix: &str, code: &str, message: String| {
        vec![FieldProblem::new(
            crate::service::Location::Body,
            at(suffix),
            code,
            message,
        )]
    };
    let err = ApiError::from(e);
    let status = actix_web::ResponseError::status_code(&err).as_u16();
    let errors = match err {
        ApiError::Validation(problems) => problems,
        ApiError::NotFound => one(
            "/application_id",
            "manifest.application_not_found",
            "no such application".into(),
        ),
        ApiError::Refused(i) => vec![FieldProblem::body(at(""), &i)],
        ApiError::Conflict(why) | ApiError::Forbidden(why) => one("", "manifest.conflict", why),
        ApiError::Unavailable { .. } => one(
            "",
            "manifest.not_tried",
            "the database became unavailable: this manifest was not created; send it again (with its key)".into(),
        ),
        other => {
            if let ApiError::Internal(cause) = &other {
                tracing::error!(request_id = %crate::telemetry::current_request_id(), error = ?cause, index, "internal error in a batch");
            }
            one(
                "",
                "manifest.internal",
                "an internal error occurred: this manifest was not created".into(),
            )
        }
    };
    (status, errors)
}

/// Create up to 500 manifests at once (the producer enterprise): for ERPs and for back-filling
/// paper trips.
///
/// Each manifest is created by the same rules as `POST /manifests`, in its own transaction, in
/// order; one refused does not stop the others. The answer is 200 with one outcome per manifest:
/// `created` (the manifest), `duplicate` (its `idempotency_key` created one before for the same
/// body: that one, nothing new) or `refused` (the status it would have had alone and every
/// problem, pointers into the batch). A manifest's `idempotency_key` is the `Idempotency-Key` of
/// `POST /manifests`: sending a whole batch again creates nothing twice. A batch that does not
/// match this schema (more than 500, any field of any manifest malformed) is refused whole with
/// 422 before anything is created. The body may be up to four times `HWT_MAX_JSON_BYTES`.
#[utoipa::path(
    tag = "manifests",
    security(("bearer" = [])),
    request_body = BatchInput,
    responses(
        (status = 200, body = BatchAnswer),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/manifests/batch")]
pub async fn create_manifests_batch(
    state: web::Data<AppState>,
    who: Principal,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<web::Json<BatchAnswer>> {
    // Its own limit: 500 manifests are larger than one request of anything else.
    let limit = state.config.max_json_bytes.saturating_mul(BATCH_BODY_FACTOR);
    let mut payload = payload.into_inner();
    let body: Value = actix_web::dev::JsonBody::new(&req, &mut payload, None, true)
        .limit(limit)
        .await
        .map_err(super::extract::json_problem)?;
    let input = body::read(&body, BatchInput::problems)?;
    let keys: Vec<Option<String>> = input.manifests.iter().map(|m| m.idempotency_key.clone()).collect();
    let answers = manifests::create_batch(&state, &Ctx::new(who), input, batch_hashes(&body)).await?;
    let mut out = BatchAnswer {
        created: 0,
        duplicates: 0,
        refused: 0,
        results: Vec::with_capacity(answers.len()),
    };
    for (index, (answer, idempotency_key)) in answers.into_iter().zip(keys).enumerate() {
        let result = match answer {
            Ok(c) => {
                let outcome = if c.replayed {
                    out.duplicates += 1;
                    BatchOutcomeKind::Duplicate
                } else {
                    out.created += 1;
                    BatchOutcomeKind::Created
                };
                BatchOutcome {
                    index,
                    outcome,
                    idempotency_key,
                    manifest: Some(to_dto(c.manifest, c.items)),
                    status: None,
                    errors: Vec::new(),
                }
            }
            Err(e) => {
                out.refused += 1;
                let (status, errors) = refused(index, e);
                BatchOutcome {
                    index,
                    outcome: BatchOutcomeKind::Refused,
                    idempotency_key,
                    manifest: None,
                    status: Some(status),
                    errors,
                }
            }
        };
        out.results.push(result);
    }
    Ok(web::Json(out))
}

/// A batch's body may be this many times `HWT_MAX_JSON_BYTES` (4 MiB by default): 500 manifests
/// of 50 lines with the longest texts fit.
pub const BATCH_BODY_FACTOR: usize = 4;

/// Manifests in the caller's scope, newest first: a producer's own, an operator's incoming,
/// a province's (source or receiving), everything for admins and nationwide auditors.
#[utoipa::path(
    tag = "manifests",
    security(("bearer" = [])),
    params(
        ("application_id" = Option<String>, Query),
        ("status" = Option<String>, Query, description = "created, in_transit, received, rejected, cancelled"),
        ("overdue" = Option<bool>, Query, description = "receipt overdue"),
        ("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query),
    ),
    responses((status = 200, body = ManifestPage), (status = 422, body = Problem, content_type = "application/problem+json"))
)]
#[get("/manifests")]
pub async fn list_manifests(
    state: web::Data<AppState>,
    who: Principal,
    req: HttpRequest,
) -> ApiResult<web::Json<ManifestPage>> {
    let mut q = QueryParams::parse(&req, &["application_id", "status", "overdue", "limit", "cursor"])?;
    let mut f = ManifestFilter {
        application_id: q.raw("application_id").map(str::to_string),
        ..Default::default()
    };
    f.status = q.parse_with("status", |s| {
        if ["created", "in_transit", "received", "rejected", "cancelled"].contains(&s) {
            Ok(s.to_string())
        } else {
            Err(Invalid::new(
                "query.status",
                "one of created, in_transit, received, rejected, cancelled",
            ))
        }
    });
    f.overdue = q.parse_with("overdue", |s| match s {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(Invalid::new("query.boolean", "true or false")),
    });
    let limit = q.limit(50, super::extract::LIMIT_MAX);
    let cursor = q.cursor();
    q.finish()?;
    Ok(web::Json(manifests::list::page(&state, &who, f, cursor, limit).await?))
}

/// One manifest. The ETag is its version, for If-Match.
#[utoipa::path(
    tag = "manifests",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = ManifestDto), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
#[get("/manifests/{id}")]
pub async fn get_manifest(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let dto = manifests::get(&state, &Ctx::new(who), path.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag(dto.version)))
        .json(dto))
}

async fn perform(
    state: web::Data<AppState>,
    who: Principal,
    id: String,
    req: &HttpRequest,
    act: ManifestAct,
) -> ApiResult<HttpResponse> {
    let expected = if_match(req)?;
    let dto = manifests::act(&state, &Ctx::new(who), id, expected, act).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag(dto.version)))
        .json(dto))
}

/// The vehicle has left (the producer): the operator's five-working-day receipt clock starts.
#[utoipa::path(tag = "manifests", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = ManifestDto), (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
#[post("/manifests/{id}/dispatch")]
pub async fn dispatch(
    state: web::Data<AppState>,
    who: Principal,
    req: HttpRequest,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    perform(state, who, path.into_inner(), &req, ManifestAct::Dispatch).await
}

/// The load arrived (the receiving operator; or the producer enterprise for its carrier): the
/// operator's five-working-day receipt clock starts from `arrived_at` (now when left out). A
/// receipt without a recorded arrival records both at once.
#[utoipa::path(tag = "manifests", security(("bearer" = [])),
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)), request_body = ArrivalInput,
    responses((status = 200, body = ManifestDto), (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 412, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
#[post("/manifests/{id}/arrival")]
pub async fn arrival(
    state: web::Data<AppState>,
    who: Principal,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    let input = body::parse::<ArrivalInput>(&body)?;
    let expected = if_match(&req)?;
    let dto = manifests::record_arrival(&state, &Ctx::new(who), path.into_inner(), expected, input).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag(dto.version)))
        .json(dto))
}

/// Why a manifest not yet dispatched is cancelled.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelInput {
    #[validate(custom(function = "valid_text::<1000>"))]
    #[schema(schema_with = text_schema::<1000>)]
    pub reason: String,
}

/// Cancel a manifest not yet dispatched (the producer); its quantity goes back to the approval.
#[utoipa::path(tag = "manifests", security(("bearer" = [])), params(("id" = String, Path)), request_body = CancelInput,
    responses((status = 200, body = ManifestDto), (status = 409, body = Problem, content_type = "application/problem+json")))]
#[post("/manifests/{id}/cancel")]
pub async fn cancel(
    state: web::Data<AppState>,
    who: Principal,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    let reason = body::parse::<CancelInput>(&body)?.reason.trim().to_string();
    perform(state, who, path.into_inner(), &req, ManifestAct::Cancel { reason }).await
}

/// One line's accepted quantity: kilograms with at most 3 decimals, zero allowed.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptItemInput {
    /// The manifest line.
    #[serde(deserialize_with = "crate::service::commands::whole_number")]
    pub line: i32,
    #[validate(custom(function = "valid_kg_or_zero"))]
    #[schema(schema_with = kg_or_zero_schema)]
    pub accepted_kg: String,
}

fn valid_kg_or_zero(s: &str) -> Result<(), validator::ValidationError> {
    Quantity::parse_kg_or_zero(s)
        .map(|_| ())
        .map_err(crate::service::error::validation_error)
}

fn kg_or_zero_schema() -> utoipa::openapi::schema::Schema {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .pattern(Some(KG_OR_ZERO_PATTERN))
        .description(Some("kilograms, at most 3 decimals, from 0 to 1000000000"))
        .into()
}

/// The operator's receipt: `received` with the accepted quantity of every line (and a note
/// when one differs from the shipped quantity by more than the configured share), or
/// `rejected` with a reason.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "outcome", rename_all = "lowercase", deny_unknown_fields)]
pub enum ReceiptInput {
    Received {
        #[serde(default)]
        items: Vec<ReceiptItemInput>,
        /// What was found different from the manifest (第18条), each with the decision; a
        /// quantity above the shipped one needs a `quantity` discrepancy on its line.
        #[serde(default)]
        discrepancies: Vec<DiscrepancyInput>,
        #[serde(default)]
        #[schema(schema_with = nullable_text_schema::<2000>)]
        note: Option<String>,
    },
    Rejected {
        #[schema(schema_with = text_schema::<2000>)]
        reason: String,
    },
}

impl Validate for ReceiptInput {
    fn validate(&self) -> Result<(), validator::ValidationErrors> {
        let mut errors = validator::ValidationErrors::new();
        match self {
            ReceiptInput::Received {
                items,
                discrepancies,
                note,
            } => {
                let mut lines = std::collections::BTreeMap::new();
                for (i, item) in items.iter().enumerate() {
                    if let Err(e) = item.validate() {
                        lines.insert(i, Box::new(e));
                    }
                }
                if !lines.is_empty() {
                    errors
                        .errors_mut()
                        .insert("items".into(), validator::ValidationErrorsKind::List(lines));
                }
                let mut found = std::collections::BTreeMap::new();
                for (i, d) in discrepancies.iter().enumerate() {
                    if let Err(e) = d.validate() {
                        found.insert(i, Box::new(e));
                    }
                }
                if !found.is_empty() {
                    errors
                        .errors_mut()
                        .insert("discrepancies".into(), validator::ValidationErrorsKind::List(found));
                }
                if let Some(Err(e)) = note.as_deref().map(valid_text::<2000>) {
                    errors.add("note", e);
                }
            }
            ReceiptInput::Rejected { reason } => {
                if let Err(e) = valid_text::<2000>(reason) {
                    errors.add("reason", e);
                }
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }
}

fn read_receipt(body: &Value) -> ApiResult<ManifestAct> {
    Ok(match super::body::parse::<ReceiptInput>(body)? {
        ReceiptInput::Received {
            items,
            discrepancies,
            note,
        } => ManifestAct::Receive {
            accepted: items
                .iter()
                .map(|i| (i.line, Quantity::parse_kg_or_zero(&i.accepted_kg).unwrap_or_default()))
                .collect(),
            discrepancies: discrepancies
                .iter()
                .map(DiscrepancyInput::to_domain)
                .collect::<Result<_, _>>()
                .map_err(|e| ApiError::from(crate::service::Error::invalid_field("/discrepancies", &e)))?,
            note: note.map(|n| n.trim().to_string()),
        },
        ReceiptInput::Rejected { reason } => ManifestAct::Reject {
            reason: reason.trim().to_string(),
        },
    })
}

/// Confirm receipt or reject the load (the receiving operator), within five working days of
/// dispatch. Accepted quantities flow into the approval and the whitelist entry's ledger.
#[utoipa::path(tag = "manifests", security(("bearer" = [])),
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)), request_body = ReceiptInput,
    responses((status = 200, body = ManifestDto), (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 412, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
#[post("/manifests/{id}/receipt")]
pub async fn receipt(
    state: web::Data<AppState>,
    who: Principal,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    let act = read_receipt(&body)?;
    perform(state, who, path.into_inner(), &req, act).await
}
