//! Per-request context: the request id (echoed in `x-request-id` and in every problem body),
//! one log line per request, and the Prometheus request metrics.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;

use crate::service::audit;
use crate::state::AppState;

use crate::telemetry::REQUEST_ID;
pub use crate::telemetry::{REQUEST_ID_HEADER, current_request_id};

/// A caller's own id is kept when it is short and plain (so it can be correlated across
/// systems); anything else is replaced by a fresh UUID.
fn request_id_for(req: &ServiceRequest) -> String {
    req.headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty() && v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// Whether a request with this method may change something.
fn req_method_writes(method: &str) -> bool {
    !matches!(method, "GET" | "HEAD" | "OPTIONS")
}

pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = request_id_for(&req);
    let started = Instant::now();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let method = req.method().to_string();
    let path = req.path().to_string();
    let query = req.query_string().to_string();
    let is_read = req.method() == actix_web::http::Method::GET;
    let (res, actor) = REQUEST_ID
        .scope(id.clone(), audit::with_request_actor(next.call(req)))
        .await;
    let mut res = res?;
    let status = res.status().as_u16();
    // A request that may have written marks where its writes ended, so that the caller's next
    // archive read is not served by a read replica that has not replayed them yet.
    if let (Some(state), Some((subject, _, _))) = (&state, &actor)
        && !is_read
        && req_method_writes(&method)
    {
        crate::service::reads::note_write(state, subject).await;
    }
    // Auditors' reads are part of the trail too: who queried what, when.
    if let (Some(state), Some(actor)) = (&state, actor)
        && is_read
        && res.status().is_success()
    {
        audit::record_auditor_read(state, actor, &id, &path, &query, status).await;
    }
    let route = res.request().match_pattern().unwrap_or_else(|| "unmatched".into());
    let elapsed = started.elapsed();
    if let Some(state) = state {
        state.metrics.observe(&method, &route, status, elapsed);
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(HeaderName::from_static(REQUEST_ID_HEADER), v);
    }
    tracing::info!(request_id = %id, %method, %path, status, elapsed_ms = elapsed.as_millis() as u64, "request");
    Ok(res)
}
