//! Liveness, readiness and metrics.

use actix_web::{HttpResponse, get, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ApiResult, Problem};
use crate::state::AppState;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
    /// Readiness only: where the archive's reads go (the read replica's state). A replica that is
    /// down or behind does not make the service unready: the primary answers its reads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_replica: Option<crate::service::reads::ReplicaReport>,
}

/// The process is alive (no dependency checked).
#[utoipa::path(tag = "operations", responses((status = 200, body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> web::Json<Health> {
    web::Json(Health {
        status: "ok".into(),
        read_replica: None,
    })
}

/// The database answers and every migration is applied.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, body = Health),
        (status = 503, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> ApiResult<web::Json<Health>> {
    let up_to_date = crate::service::health::migrations_applied(&state).await?;
    if up_to_date {
        Ok(web::Json(Health {
            status: "ready".into(),
            read_replica: Some(crate::service::reads::replica_report(&state).await),
        }))
    } else {
        Err(ApiError::Unavailable { retry_after_secs: 5 })
    }
}

/// Prometheus metrics (text exposition format).
#[utoipa::path(tag = "operations", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    if let Ok(cal) = state.calendar().await {
        let today = crate::domain::calendar::shanghai_date(chrono::Utc::now());
        state
            .metrics
            .notice_missing(crate::service::calendar::notice_alert(&cal, today));
    }
    // Sets hwtransfer_catalogue_edition_missing.
    crate::service::catalogue::alert(&state).await;
    // Sets the read replica's gauges.
    crate::service::reads::replica_report(&state).await;
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render(state.db.pool_state(), state.db.write_gate_state()))
}
