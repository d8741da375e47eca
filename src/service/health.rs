//! Readiness: the database answers and has every migration this build embeds.

use crate::db;
use crate::service::Result;
use crate::state::AppState;

/// True when the database answers and every embedded migration is applied (for `/readyz`).
pub async fn migrations_applied(state: &AppState) -> Result<bool> {
    Ok(state.db.run(db::migrate::is_up_to_date).await?)
}
