//! A case's timeline: every event recorded on it, oldest first.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::case::load_visible;
use crate::auth::principal::Principal;
use crate::db;
use crate::service::Result;
use crate::state::AppState;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventDto {
    pub id: String,
    pub kind: String,
    pub actor: String,
    pub role: String,
    pub detail: Value,
    pub at: String,
}

/// The events of the case `id` (hidden outside the caller's scope).
pub async fn timeline(state: &AppState, who: &Principal, id: String) -> Result<Vec<EventDto>> {
    let app = load_visible(state, who, id).await?;
    let rows = state
        .db
        .run(move |conn| db::applications::events(conn, &app.id))
        .await?;
    Ok(rows
        .into_iter()
        .map(|e| EventDto {
            detail: serde_json::from_str(&e.detail).unwrap_or(Value::Null),
            id: e.id,
            kind: e.kind,
            actor: e.actor,
            role: e.role,
            at: e.at.and_utc().to_rfc3339(),
        })
        .collect())
}
