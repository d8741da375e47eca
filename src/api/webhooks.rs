//! Webhook subscriptions: an enterprise, an operator or a province registers an HTTPS endpoint
//! and the event types it wants; the secret that signs deliveries is shown once. The owner lists
//! deliveries with every attempt, replays from a cursor, and re-enables an endpoint that was
//! disabled after failing for a day. See docs/WEBHOOKS.md.

use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use validator::Validate;

use super::body;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::QueryParams;
use crate::auth::principal::{Principal, Role};
use crate::domain::Invalid;
use crate::service::Ctx;
use crate::service::webhooks::{self, DeliveryQuery, parse_seq};
pub use crate::service::webhooks::{
    AttemptDto, DeliveryDto, DeliveryPage, OwnerDto, ReplayDto, SubscriptionCreatedDto, SubscriptionDto,
    SubscriptionInput, SubscriptionList,
};
use crate::state::AppState;
use crate::webhooks::EventType;

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
    webhooks::may_subscribe(&who)?;
    let admin = who.role == Role::Admin;
    let allow_http = state.config.webhook_allow_http;
    let input = body::read(&body, |i: &SubscriptionInput| i.problems(admin, allow_http))?;
    let new = input.read(admin, allow_http).map_err(ApiError::Validation)?;
    let created = webhooks::create(&state, &Ctx::new(who), new).await?;
    Ok(HttpResponse::Created().json(created))
}

/// The caller's subscriptions (admins: everybody's).
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    responses((status = 200, body = SubscriptionList), (status = 403, body = Problem, content_type = "application/problem+json"))
)]
#[get("/webhook-subscriptions")]
pub async fn list_subscriptions(state: web::Data<AppState>, who: Principal) -> ApiResult<web::Json<SubscriptionList>> {
    Ok(web::Json(webhooks::list(&state, &Ctx::new(who)).await?))
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
    Ok(web::Json(
        webhooks::get(&state, &Ctx::new(who), path.into_inner()).await?,
    ))
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
    webhooks::delete(&state, &Ctx::new(who), path.into_inner()).await?;
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
    Ok(web::Json(
        webhooks::enable(&state, &Ctx::new(who), path.into_inner()).await?,
    ))
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
    let query = DeliveryQuery {
        after_seq: after,
        status,
        limit,
        cursor,
    };
    Ok(web::Json(
        webhooks::deliveries(&state, &Ctx::new(who), path.into_inner(), query).await?,
    ))
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
    Ok(web::Json(
        webhooks::replay(&state, &Ctx::new(who), path.into_inner(), after).await?,
    ))
}
