//! The audit trail for auditors and admins: the chain's verification and the search of its
//! records. Auditors' own reads are appended to the trail by the request middleware.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::auth::authorize;
use crate::auth::principal::{self, Principal, Role};
use crate::db;
use crate::db::audit::AuditRow;
pub use crate::db::audit::{EventFilter, Verification};
use crate::service::{Ctx, Error, Result, cut_page};
use crate::state::AppState;

/// Admins and nationwide auditors read the whole trail; a province's auditor reads the records
/// of one object it can see (an application or a manifest of its province).
enum Scope {
    All,
    Province,
}

fn scope(who: &Principal) -> Result<Scope> {
    match (who.role, who.scope()) {
        (_, principal::Scope::All) => Ok(Scope::All),
        (Role::Auditor, principal::Scope::Province(_)) => Ok(Scope::Province),
        _ => Err(Error::Forbidden("the audit trail is for auditors and admins".into())),
    }
}

/// A bound of a search of the trail: an instant (RFC 3339) or a day (YYYY-MM-DD, from 00:00
/// Asia/Shanghai), as the trail stores instants.
pub fn parse_bound(s: &str) -> std::result::Result<chrono::NaiveDateTime, crate::domain::Invalid> {
    crate::domain::calendar::parse_bound(s).map(db::to_db_time)
}

/// Walks the whole chain (nationwide auditors and admins); for the API and the web UI.
pub async fn verify_chain(state: &AppState, ctx: &Ctx) -> Result<Verification> {
    if !matches!(scope(&ctx.who)?, Scope::All) {
        return Err(Error::Forbidden(
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

/// Records of the trail in chain order after the seq `after`, at most `limit`, with the seq to
/// continue from when more follow. A province's auditor must name one object of its province.
pub async fn events(
    state: &AppState,
    ctx: &Ctx,
    f: EventFilter,
    after: Option<i64>,
    limit: i64,
) -> Result<(Vec<AuditEventDto>, Option<String>)> {
    let who = &ctx.who;
    if matches!(scope(who)?, Scope::Province) {
        let Some(object) = f.object_id.clone() else {
            return Err(Error::Forbidden(
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
            (Some(a), _) => authorize(who, &a, ())?,
            (None, Some(m)) => authorize(who, &m, ())?,
            (None, None) => return Err(Error::Hidden),
        }
    }
    // The search reads the archive: the read replica may answer it (service::reads).
    let mut rows = crate::service::reads::archive(state, &who.subject, move |conn| {
        db::audit::events(conn, &f, after, limit + 1)
    })
    .await?;
    let more = cut_page(&mut rows, limit);
    let next = more.then(|| rows.last().map(|r| r.seq.to_string())).flatten();
    Ok((rows.into_iter().map(AuditEventDto::from).collect(), next))
}

/// Runs one request's handling with a slot for its caller (filled by the `Principal` extractor
/// once the caller is known), and returns the caller with the outcome: (id, name, role).
pub async fn with_request_actor<F: std::future::Future>(f: F) -> (F::Output, Option<RequestActor>) {
    crate::audit::REQUEST_ACTOR
        .scope(std::cell::RefCell::new(None), async move {
            let out = f.await;
            let actor = crate::audit::REQUEST_ACTOR.with(|a| a.borrow().clone());
            (out, actor)
        })
        .await
}

/// The caller of a request as the audit trail names it: (id, name, role).
pub type RequestActor = (String, String, String);

/// Auditors' reads are part of the trail too: who queried what, when. Other callers' reads are
/// not recorded. A failure is logged loudly and not returned: the answer is already computed,
/// and refusing it now would not un-read it.
pub async fn record_auditor_read(
    state: &AppState,
    actor: RequestActor,
    request_id: &str,
    path: &str,
    query: &str,
    status: u16,
) {
    let (actor, actor_name, role) = actor;
    if role != "auditor" {
        return;
    }
    let ctx = crate::audit::Context {
        actor,
        actor_name,
        role,
        request_id: Some(request_id.to_string()),
    };
    let object = path.to_string();
    let query = query.to_string();
    let logged = state
        .db
        .run_as(ctx, move |conn| {
            db::audit::record_read(
                conn,
                "query",
                &object,
                serde_json::json!({ "query": query, "status": status }),
            )
        })
        .await;
    if let Err(e) = logged {
        tracing::error!(request_id = %request_id, error = %e, "could not log an auditor's read");
    }
}
