//! The audit trail's door (`service::audit`): the chain's verification and the search of its
//! records.

use actix_web::{HttpRequest, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiResult, Problem};
use super::extract::QueryParams;
use crate::auth::principal::Principal;
use crate::domain::Invalid;
pub use crate::service::audit::{AuditEventDto, Verification};
use crate::service::audit::{EventFilter, parse_bound};
use crate::service::{Ctx, audit};
use crate::state::AppState;

/// Walk the hash chain from the first record to the head and report the first broken link.
///
/// `intact: false` with `first_break` names the record where the chain breaks: `hash_mismatch`
/// (edited), `broken_link` (reordered or replaced), `missing_record` (deleted) or
/// `head_mismatch` (records cut off the end).
#[utoipa::path(
    tag = "audit",
    security(("bearer" = [])),
    responses((status = 200, body = Verification), (status = 403, body = Problem, content_type = "application/problem+json"))
)]
#[get("/audit/verify")]
pub async fn verify(state: web::Data<AppState>, who: Principal) -> ApiResult<web::Json<Verification>> {
    Ok(web::Json(audit::verify_chain(&state, &Ctx::new(who)).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventPage {
    pub items: Vec<AuditEventDto>,
    pub next_cursor: Option<String>,
}

/// Records of the trail in chain order: `object` (an object id, optionally with `object_type`),
/// `actor` (a user or client id), `from` (inclusive) and `to` (exclusive).
#[utoipa::path(
    tag = "audit",
    security(("bearer" = [])),
    params(
        ("object" = Option<String>, Query, description = "an object id, e.g. an application's"),
        ("object_type" = Option<String>, Query, description = "transfer_application, manifest, whitelist_entry, user, query, …"),
        ("actor" = Option<String>, Query),
        ("from" = Option<String>, Query, description = "RFC 3339 instant or YYYY-MM-DD (Asia/Shanghai)"),
        ("to" = Option<String>, Query, description = "exclusive"),
        ("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query),
    ),
    responses((status = 200, body = AuditEventPage), (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json"))
)]
#[get("/audit/events")]
pub async fn events(
    state: web::Data<AppState>,
    who: Principal,
    req: HttpRequest,
) -> ApiResult<web::Json<AuditEventPage>> {
    let mut q = QueryParams::parse(
        &req,
        &["object", "object_type", "actor", "from", "to", "limit", "cursor"],
    )?;
    let f = EventFilter {
        object_id: q.raw("object").map(str::to_string),
        object_type: q.raw("object_type").map(str::to_string),
        actor: q.raw("actor").map(str::to_string),
        from: q.parse_with("from", parse_bound),
        to: q.parse_with("to", parse_bound),
    };
    let limit = q.limit(100, super::extract::LIMIT_MAX);
    // The cursor is the last record's seq: a position in the chain, any whole number.
    let after = q.parse_with("cursor", |s| {
        s.parse::<i64>()
            .ok()
            .filter(|n| *n >= 0 && !s.starts_with('+'))
            .ok_or_else(|| Invalid::new("query.cursor", "cursor is not one this service issued"))
    });
    q.finish()?;
    let (items, next_cursor) = audit::events(&state, &Ctx::new(who), f, after, limit).await?;
    Ok(web::Json(AuditEventPage { items, next_cursor }))
}
