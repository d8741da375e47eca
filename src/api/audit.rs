//! The audit trail for auditors and admins: the chain's verification and the search of its
//! records. Auditors' own reads are appended to the trail by the request middleware.

use actix_web::{HttpRequest, get, web};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::error::{ApiError, ApiResult, Problem};
use super::extract::{QueryParams, cut_page};
use crate::auth::authorize;
use crate::auth::principal::{self, Principal, Role};
use crate::db::audit::{AuditRow, EventFilter, Verification};
use crate::db::{self, to_db_time};
use crate::domain::Invalid;
use crate::state::AppState;
use chrono_tz::Asia::Shanghai;

/// Admins and nationwide auditors read the whole trail; a province's auditor reads the records
/// of one object it can see (an application or a manifest of its province).
enum Scope {
    All,
    Province,
}

fn scope(who: &Principal) -> ApiResult<Scope> {
    match (who.role, who.scope()) {
        (_, principal::Scope::All) => Ok(Scope::All),
        (Role::Auditor, principal::Scope::Province(_)) => Ok(Scope::Province),
        _ => Err(ApiError::Forbidden("the audit trail is for auditors and admins".into())),
    }
}

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
    verify_chain(&state, &who).await.map(web::Json)
}

/// Walks the whole chain (nationwide auditors and admins); shared by the API and the web UI.
pub(crate) async fn verify_chain(state: &AppState, who: &Principal) -> ApiResult<Verification> {
    if !matches!(scope(who)?, Scope::All) {
        return Err(ApiError::Forbidden(
            "verifying the whole chain is for nationwide auditors and admins".into(),
        ));
    }
    let report = state.db.run(db::audit::verify).await?;
    if !report.intact {
        tracing::error!(first_break = ?report.first_break, "the audit chain is broken");
    }
    Ok(report)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventDto {
    pub seq: i64,
    pub id: String,
    pub at: String,
    /// The user's or client's id ("system" for background jobs).
    pub actor: String,
    pub actor_name: String,
    pub role: String,
    pub request_id: Option<String>,
    pub object_type: String,
    pub object_id: String,
    pub action: String,
    /// `{"field": {"from": old, "to": new}}`.
    pub diff: Value,
    pub prev_hash: String,
    pub hash: String,
}

impl From<AuditRow> for AuditEventDto {
    fn from(r: AuditRow) -> Self {
        AuditEventDto {
            diff: serde_json::from_str(&r.diff).unwrap_or(Value::Null),
            seq: r.seq,
            id: r.id,
            at: r.at.and_utc().to_rfc3339(),
            actor: r.actor,
            actor_name: r.actor_name,
            role: r.role,
            request_id: r.request_id,
            object_type: r.object_type,
            object_id: r.object_id,
            action: r.action,
            prev_hash: r.prev_hash,
            hash: r.hash,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventPage {
    pub items: Vec<AuditEventDto>,
    pub next_cursor: Option<String>,
}

/// An instant (RFC 3339) or a day (YYYY-MM-DD, from 00:00 Asia/Shanghai).
pub fn parse_bound(s: &str) -> Result<NaiveDateTime, Invalid> {
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Ok(to_db_time(d.with_timezone(&Utc)));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .and_then(|t| t.and_local_timezone(Shanghai).single())
        .map(|t| to_db_time(t.with_timezone(&Utc)))
        .ok_or_else(|| Invalid::new("query.instant", "an RFC 3339 instant or a date YYYY-MM-DD"))
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
    let scope = scope(&who)?;
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
    if matches!(scope, Scope::Province) {
        let Some(object) = f.object_id.clone() else {
            return Err(ApiError::Forbidden(
                "a province's auditor reads the trail of one object of its province: give object=".into(),
            ));
        };
        let (app, manifest) = state
            .db
            .run(move |conn| {
                Ok((
                    db::applications::app_by_id(conn, &object)?,
                    db::manifests::by_id(conn, &object)?,
                ))
            })
            .await?;
        match (app, manifest) {
            (Some(a), _) => authorize(&who, &a, ())?,
            (None, Some(m)) => authorize(&who, &m, ())?,
            (None, None) => return Err(ApiError::NotFound),
        }
    }
    let mut rows = state
        .db
        .run(move |conn| db::audit::events(conn, &f, after, limit + 1))
        .await?;
    let more = cut_page(&mut rows, limit);
    let next = more.then(|| rows.last().map(|r| r.seq.to_string())).flatten();
    Ok(web::Json(AuditEventPage {
        items: rows.into_iter().map(AuditEventDto::from).collect(),
        next_cursor: next,
    }))
}
