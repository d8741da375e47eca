//! Webhook subscriptions: an enterprise, an operator or a province registers an HTTPS endpoint
//! and the event types it wants; the secret that signs deliveries is shown once. The owner lists
//! deliveries with every attempt, replays from a cursor, and re-enables an endpoint that was
//! disabled after failing for a day. See docs/WEBHOOKS.md.

use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use validator::Validate;

use super::body;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::QueryParams;
use crate::auth::principal::{Binding, Principal, Role};
use crate::db::outbox::{DeliveryCounts, DeliveryView, SubscriptionRow};
use crate::db::{self, db_now, from_db_time, new_id};
use crate::domain::Invalid;
pub use crate::service::webhooks::SubscriptionInput;
use crate::state::AppState;
use crate::webhooks::{self, Event, EventType, OwnerKind};

#[derive(Debug, Serialize, ToSchema)]
pub struct EventTypeDto {
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub description: &'static str,
}

/// The event catalogue. Payload schemas: `WebhookEvent` and the `*EventData` schemas.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    responses((status = 200, body = Vec<EventTypeDto>))
)]
#[get("/webhook-event-types")]
pub async fn event_types(_who: Principal) -> web::Json<Vec<EventTypeDto>> {
    web::Json(
        EventType::ALL
            .into_iter()
            .map(|t| EventTypeDto {
                event_type: t,
                description: t.description(),
            })
            .collect(),
    )
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OwnerDto {
    pub kind: OwnerKind,
    /// The enterprise or operator id, or the province code.
    pub id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionDto {
    pub id: String,
    pub owner: OwnerDto,
    pub url: String,
    pub event_types: Vec<String>,
    pub description: Option<String>,
    /// `active`, or `disabled` after failing for a day (see `disabled_reason`).
    pub status: String,
    /// Since when every attempt failed (cleared by a success).
    pub failing_since: Option<String>,
    pub last_success_at: Option<String>,
    pub last_failure_at: Option<String>,
    pub disabled_at: Option<String>,
    pub disabled_reason: Option<String>,
    pub deliveries: DeliveryCounts,
    pub created_at: String,
}

/// A new subscription, with its secret: shown this once, never again.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionCreatedDto {
    #[serde(flatten)]
    pub subscription: SubscriptionDto,
    /// The HMAC-SHA256 key of the `Hwt-Signature` header. Store it now.
    pub secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionList {
    pub items: Vec<SubscriptionDto>,
}

fn instant(t: chrono::NaiveDateTime) -> String {
    from_db_time(t).to_rfc3339()
}

fn to_dto(s: SubscriptionRow, counts: DeliveryCounts) -> SubscriptionDto {
    SubscriptionDto {
        owner: OwnerDto {
            kind: OwnerKind::parse(&s.owner_kind).unwrap_or(OwnerKind::Province),
            id: s.owner_id.clone(),
        },
        event_types: s.event_types(),
        id: s.id,
        url: s.url,
        description: s.description,
        status: s.status,
        failing_since: s.failing_since.map(instant),
        last_success_at: s.last_success_at.map(instant),
        last_failure_at: s.last_failure_at.map(instant),
        disabled_at: s.disabled_at.map(instant),
        disabled_reason: s.disabled_reason,
        deliveries: counts,
        created_at: instant(s.created_at),
    }
}

/// The party a caller subscribes for; admins name it, auditors have none.
fn own_party(who: &Principal) -> Option<(OwnerKind, String)> {
    match (&who.role, &who.binding) {
        (Role::Enterprise, Binding::Enterprise(id)) => Some((OwnerKind::Enterprise, id.clone())),
        (Role::Operator, Binding::Operator(id)) => Some((OwnerKind::Operator, id.clone())),
        (Role::Regulator, Binding::Province(p)) => Some((OwnerKind::Province, p.as_str().to_string())),
        _ => None,
    }
}

/// Subscribe an endpoint to event types (enterprises, operators, regulators for their own party;
/// admins for any party named in `owner`).
///
/// Body: `{"url": "https://…", "event_types": ["application.decided", …], "description": "…"}`;
/// admins add `"owner": {"kind": "enterprise|operator|province", "id": "…"}`. The answer holds
/// the signing `secret`, shown only here.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    request_body = SubscriptionInput,
    responses(
        (status = 201, body = SubscriptionCreatedDto),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/webhook-subscriptions")]
pub async fn create_subscription(
    state: web::Data<AppState>,
    who: Principal,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    let admin = who.role == Role::Admin;
    if !admin && own_party(&who).is_none() {
        return Err(ApiError::Forbidden(
            "webhooks are for enterprises, operators and provinces".into(),
        ));
    }
    let allow_http = state.config.webhook_allow_http;
    let input = body::read(&body, |i: &SubscriptionInput| i.problems(admin, allow_http))?;
    let new = input.read(admin, allow_http).map_err(ApiError::Validation)?;
    let owner = match (new.owner, own_party(&who)) {
        (Some(named), None) => named,
        (Some(named), Some(mine)) if named == mine => mine,
        (Some(_), Some(_)) => {
            return Err(ApiError::Forbidden(
                "a subscription is for the caller's own party".into(),
            ));
        }
        (None, Some(mine)) => mine,
        (None, None) => return Err(ApiError::Forbidden("this caller has no webhooks".into())),
    };
    let secret = webhooks::new_secret().map_err(|e| ApiError::internal(anyhow::anyhow!("random source: {e}")))?;
    let (url, types, description, (kind, owner_id)) = (new.url, new.event_types, new.description, owner);
    if admin {
        let (k, id) = (kind.clone(), owner_id.clone());
        let exists = state
            .db
            .run(move |c| {
                Ok(match k {
                    OwnerKind::Enterprise => db::registry::enterprise_by_id(c, &id)?.is_some(),
                    OwnerKind::Operator => db::registry::operator_by_id(c, &id)?.is_some(),
                    OwnerKind::Province => crate::domain::ids::ProvinceCode::parse(&id)
                        .ok()
                        .and_then(crate::domain::province::province)
                        .is_some(),
                })
            })
            .await?;
        if !exists {
            return Err(ApiError::Validation(vec![super::error::FieldProblem::body(
                "/owner/id",
                &Invalid::new("webhook.owner", "no such enterprise, operator or province"),
            )]));
        }
    }
    let now = db_now();
    let row = SubscriptionRow {
        id: new_id(),
        owner_kind: kind.as_str().to_string(),
        owner_id,
        url,
        event_types: serde_json::to_string(&types).unwrap_or_else(|_| "[]".into()),
        secret: secret.clone(),
        description,
        status: "active".into(),
        failing_since: None,
        last_success_at: None,
        last_failure_at: None,
        disabled_at: None,
        disabled_reason: None,
        created_by: who.name.clone(),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let stored = row.clone();
    state
        .db
        .run(move |c| db::outbox::insert_subscription(c, &stored))
        .await?;
    tracing::info!(subscription = %row.id, owner = %row.owner_id, "webhook subscription created");
    Ok(HttpResponse::Created().json(SubscriptionCreatedDto {
        subscription: to_dto(row, DeliveryCounts::default()),
        secret,
    }))
}

/// The caller's subscriptions (admins: everybody's).
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    responses((status = 200, body = SubscriptionList), (status = 403, body = Problem, content_type = "application/problem+json"))
)]
#[get("/webhook-subscriptions")]
pub async fn list_subscriptions(state: web::Data<AppState>, who: Principal) -> ApiResult<web::Json<SubscriptionList>> {
    subscriptions_of(&state, &who).await.map(web::Json)
}

/// The caller's subscriptions (admins: all) with their state; shared by the API and the web UI,
/// where an owner sees a disabled endpoint.
pub(crate) async fn subscriptions_of(state: &AppState, who: &Principal) -> ApiResult<SubscriptionList> {
    let owner = match own_party(who) {
        Some(o) => Some(o),
        None if who.role == Role::Admin => None,
        None => return Err(ApiError::Forbidden("this caller has no webhooks".into())),
    };
    let items = state
        .db
        .run(move |c| {
            let rows = db::outbox::subscriptions(c, owner.as_ref().map(|(k, id)| (k, id.as_str())))?;
            let mut out = Vec::with_capacity(rows.len());
            for s in rows {
                let counts = db::outbox::delivery_counts(c, &s.id)?;
                out.push(to_dto(s, counts));
            }
            Ok(out)
        })
        .await?;
    Ok(SubscriptionList { items })
}

/// A subscription of the caller's party (admins: any); others' answer 404.
async fn load_own(state: &AppState, who: &Principal, id: String) -> ApiResult<SubscriptionRow> {
    let sub = state
        .db
        .run(move |c| db::outbox::subscription(c, &id))
        .await?
        .ok_or(ApiError::NotFound)?;
    let mine = who.role == Role::Admin
        || own_party(who).is_some_and(|(k, id)| k.as_str() == sub.owner_kind && id == sub.owner_id);
    if mine { Ok(sub) } else { Err(ApiError::NotFound) }
}

async fn with_counts(state: &AppState, sub: SubscriptionRow) -> ApiResult<SubscriptionDto> {
    let id = sub.id.clone();
    let counts = state.db.run(move |c| db::outbox::delivery_counts(c, &id)).await?;
    Ok(to_dto(sub, counts))
}

/// One subscription: its state (disabled, failing since) and delivery counts.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = SubscriptionDto), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
#[get("/webhook-subscriptions/{id}")]
pub async fn get_subscription(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
) -> ApiResult<web::Json<SubscriptionDto>> {
    let sub = load_own(&state, &who, path.into_inner()).await?;
    Ok(web::Json(with_counts(&state, sub).await?))
}

/// Delete a subscription: nothing more is delivered to it; its delivery record is kept.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
#[delete("/webhook-subscriptions/{id}")]
pub async fn delete_subscription(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let sub = load_own(&state, &who, path.into_inner()).await?;
    state
        .db
        .run(move |c| db::outbox::set_subscription_status(c, &sub.id, "deleted", "deleted"))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Enable a subscription again (after it was disabled for failing a day). Its failure record is
/// cleared; pending deliveries go out again. Replay what was missed while it was disabled.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = SubscriptionDto), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
#[post("/webhook-subscriptions/{id}/enable")]
pub async fn enable_subscription(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
) -> ApiResult<web::Json<SubscriptionDto>> {
    enable(&state, &who, path.into_inner()).await.map(web::Json)
}

/// Turns a disabled subscription back on; shared by the API and the web UI.
pub(crate) async fn enable(state: &AppState, who: &Principal, id: String) -> ApiResult<SubscriptionDto> {
    let sub = load_own(state, who, id).await?;
    let updated = state
        .db
        .run(move |c| db::outbox::set_subscription_status(c, &sub.id, "active", "enabled"))
        .await?
        .ok_or(ApiError::NotFound)?;
    with_counts(state, updated).await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptDto {
    pub attempt: i32,
    pub at: String,
    /// The endpoint's HTTP status, when it answered.
    pub status_code: Option<i32>,
    /// Why there was no answer (timeout, connection).
    pub error: Option<String>,
    pub duration_ms: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryDto {
    pub id: String,
    /// The event exactly as posted (the body is this object's JSON).
    pub event: Event,
    /// `pending`, `delivered`, or `failed` (given up after 24 hours of retries).
    pub status: String,
    pub attempts: i32,
    /// When a pending delivery is tried next.
    pub next_attempt_at: Option<String>,
    pub give_up_at: String,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub delivered_at: Option<String>,
    pub attempt_log: Vec<AttemptDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryPage {
    pub items: Vec<DeliveryDto>,
    pub next_cursor: Option<String>,
}

fn delivery_dto(v: DeliveryView) -> ApiResult<DeliveryDto> {
    let event: Event = serde_json::from_str(&v.event.payload).map_err(ApiError::internal)?;
    let d = v.delivery;
    Ok(DeliveryDto {
        next_attempt_at: (d.status == "pending").then(|| instant(d.next_attempt_at)),
        id: d.id,
        event,
        status: d.status,
        attempts: d.attempts,
        give_up_at: instant(d.give_up_at),
        last_status: d.last_status,
        last_error: d.last_error,
        delivered_at: d.delivered_at.map(instant),
        attempt_log: v
            .attempts
            .into_iter()
            .map(|a| AttemptDto {
                attempt: a.attempt,
                at: instant(a.at),
                status_code: a.status_code,
                error: a.error,
                duration_ms: a.duration_ms,
            })
            .collect(),
    })
}

fn parse_seq(s: &str) -> Result<i64, Invalid> {
    s.parse::<i64>()
        .ok()
        .filter(|n| (0..=webhooks::SEQ_MAX).contains(n))
        .ok_or_else(|| Invalid::new("webhook.seq", "an event seq: a whole number from 0"))
}

/// A subscription's deliveries in event order, each with its attempts. `after_seq` starts after
/// an event's `seq` (0 or absent: from the first); `cursor` continues a listing; `status`
/// filters (pending, delivered, failed).
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    params(
        ("id" = String, Path),
        ("after_seq" = Option<i64>, Query),
        ("status" = Option<String>, Query),
        ("limit" = Option<i64>, Query),
        ("cursor" = Option<String>, Query),
    ),
    responses(
        (status = 200, body = DeliveryPage),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/webhook-subscriptions/{id}/deliveries")]
pub async fn list_deliveries(
    state: web::Data<AppState>,
    who: Principal,
    req: HttpRequest,
    path: web::Path<String>,
) -> ApiResult<web::Json<DeliveryPage>> {
    let mut q = QueryParams::parse(&req, &["after_seq", "status", "limit", "cursor"])?;
    let after = q.parse_with("after_seq", parse_seq).unwrap_or(0);
    let status = q.parse_with("status", |s| {
        if ["pending", "delivered", "failed"].contains(&s) {
            Ok(s.to_string())
        } else {
            Err(Invalid::new("query.status", "one of pending, delivered, failed"))
        }
    });
    let limit = q.limit(50, super::extract::LIMIT_MAX);
    // The cursor is the last delivery's event seq, like `after_seq`.
    let cursor = q.parse_with("cursor", parse_seq);
    q.finish()?;
    let sub = load_own(&state, &who, path.into_inner()).await?;
    let from = cursor.unwrap_or(0).max(after);
    let mut rows = state
        .db
        .run(move |c| db::outbox::deliveries(c, &sub.id, from, status.as_deref(), limit + 1))
        .await?;
    let more = super::extract::cut_page(&mut rows, limit);
    let next = if more {
        rows.last().map(|v| v.event.seq.to_string())
    } else {
        None
    };
    let items = rows.into_iter().map(delivery_dto).collect::<ApiResult<Vec<_>>>()?;
    Ok(web::Json(DeliveryPage {
        items,
        next_cursor: next,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayDto {
    /// Deliveries queued again (or created, for events missed while disabled).
    pub queued: i64,
}

/// Replay the deliveries after an event.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayInput {
    /// The `seq` of the last event the subscriber has; 0 replays from the first.
    #[serde(deserialize_with = "crate::service::commands::whole_number")]
    #[validate(range(min = 0, max = 9_007_199_254_740_991_i64))]
    #[schema(minimum = 0, maximum = 9_007_199_254_740_991_f64)]
    pub after_seq: i64,
}

/// Deliver again every event after `after_seq` that this subscription hears, in order, with the
/// same event ids. Body: `{"after_seq": 0}` replays everything kept.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    request_body = ReplayInput,
    responses(
        (status = 200, body = ReplayDto),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/webhook-subscriptions/{id}/replay")]
pub async fn replay(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> ApiResult<web::Json<ReplayDto>> {
    let after = super::body::parse::<ReplayInput>(&body)?.after_seq;
    let sub = load_own(&state, &who, path.into_inner()).await?;
    if sub.status != "active" {
        return Err(ApiError::Conflict(
            "the subscription is disabled: enable it first, then replay".into(),
        ));
    }
    let now = Utc::now();
    let queued = state.db.run(move |c| db::outbox::replay(c, &sub, after, now)).await?;
    Ok(web::Json(ReplayDto { queued }))
}
