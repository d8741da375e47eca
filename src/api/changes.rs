//! `GET /api/v1/changes`: the changes feed, for systems that cannot receive webhooks. The use
//! case is `service::changes::feed`; see docs/WEBHOOKS.md, "No webhooks? Read the feed".

use actix_web::{HttpRequest, get, web};

use super::error::{ApiResult, Problem};
use super::extract::{LIMIT_MAX, QueryParams};
use crate::auth::principal::Principal;
use crate::service::Ctx;
use crate::service::changes::{ChangesPage, Cursor, feed, parse_wait};
use crate::state::AppState;

/// The events the caller's party hears, in commit order, after a cursor.
///
/// Exactly what a webhook subscription of the caller's party to every event type would receive:
/// an enterprise its own cases and manifests, an operator what names it, a regulator (and a
/// province's auditor) what its province hears as source or receiving side, admins and
/// nationwide auditors everything. Each item is the webhook body (`WebhookEvent`), with the same
/// `id` and `seq`. Auditors' reads are recorded in the audit trail, like all their reads.
///
/// `after` is the `next` of the previous page (absent or `0`: from the first event kept);
/// `limit` the most events to return (default 100); `wait` seconds (0–30) to hold the request
/// when nothing new is there yet — it answers as soon as an event the caller hears commits, or
/// with no items and the same cursor when the time is up. The cursor is valid on every replica
/// and after restarts. A cursor older than the events kept, or ahead of the feed, answers 410
/// (read the problem's `detail`).
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    params(
        ("after" = Option<String>, Query, description = "The `next` of the previous page; absent or 0 starts at the first event kept"),
        ("limit" = Option<i64>, Query, description = "At most this many events (default 100)"),
        ("wait" = Option<i64>, Query, description = "Seconds to wait for an event when there is none yet (default 0)"),
    ),
    responses(
        (status = 200, body = ChangesPage),
        (status = 410, description = "The cursor is older than the events kept, or ahead of the feed", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/changes")]
pub async fn read_changes(
    state: web::Data<AppState>,
    who: Principal,
    req: HttpRequest,
) -> ApiResult<web::Json<ChangesPage>> {
    let mut q = QueryParams::parse(&req, &["after", "limit", "wait"])?;
    let after = q.parse_with("after", Cursor::parse);
    let limit = q.limit(100, LIMIT_MAX);
    let wait = q.parse_with("wait", parse_wait);
    q.finish()?;
    let ctx = Ctx::new(who);
    Ok(web::Json(feed(&state, &ctx, after, limit, wait).await?))
}
