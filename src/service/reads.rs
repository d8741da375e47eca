//! Which server answers a read of the archive. The history, the exports, the audit search, the
//! dashboards and the annual report read through [`archive`]: from the hot standby when one is
//! configured, answers, is within the lag bound and has replayed the caller's own last write;
//! from the primary otherwise. Writes mark where they ended ([`note_write`]), in the primary, so
//! the rule holds across service replicas. Everything else reads the primary.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::db::replica::{self, StandbyState};
use crate::db::{DbConnection, DbError, DbResult};
use crate::service::Result;
use crate::state::AppState;

/// Where the archive's reads go now, for readiness and the metrics.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReplicaReport {
    /// `off` (none configured), `ok`, `lagging` (behind by more than the bound) or `down`.
    pub state: String,
    /// Seconds behind the primary as last seen; absent when off or down.
    pub lag_seconds: Option<f64>,
}

/// The read replica's state (also sets the replica metrics).
pub async fn replica_report(state: &AppState) -> ReplicaReport {
    let Some(standby) = &state.replica else {
        state.metrics.replica(false, 0.0);
        return ReplicaReport {
            state: "off".into(),
            lag_seconds: None,
        };
    };
    let s = standby.status(&state.db).await;
    state.metrics.replica(s.state == StandbyState::Ok, s.lag_secs);
    ReplicaReport {
        state: s.state.as_str().into(),
        lag_seconds: (s.state != StandbyState::Down).then_some(s.lag_secs),
    }
}

/// Records that `subject` has just written (called by the doors after a request that may have
/// changed something), so that its next archive read waits for the standby to have it. Does
/// nothing without a replica.
pub async fn note_write(state: &AppState, subject: &str) {
    if state.replica.is_none() {
        return;
    }
    let subject = subject.to_string();
    if let Err(e) = state.db.run(move |conn| replica::mark_write(conn, &subject)).await {
        // The write itself is done; without its mark the caller's next archive read may be
        // served by the standby before it has the write. Say so.
        tracing::warn!(error = %e, "could not record a write mark");
    }
}

/// Runs the archive read `f` for `subject` on the standby when it may serve them, else on the
/// primary. A caller whose last write is past the standby's last seen position is asked about
/// again on the standby's own connection, just before the read: the look is up to 200 ms old,
/// and replay usually passes a mark within milliseconds. A read the standby fails to answer (it
/// went down, or cancelled the query in recovery) is run again on the primary.
pub async fn archive<T, F>(state: &AppState, subject: &str, f: F) -> Result<T>
where
    F: Fn(&mut DbConnection) -> DbResult<T> + Send + Sync + 'static,
    T: Send + 'static,
{
    let f = Arc::new(f);
    let Some(standby) = &state.replica else {
        let g = f.clone();
        return Ok(state.db.run(move |c| g(c)).await?);
    };
    let status = standby.status(&state.db).await;
    state.metrics.replica(status.state == StandbyState::Ok, status.lag_secs);
    // The mark the standby must have replayed before it may answer, if the last look does not
    // already show it has.
    let unseen_mark = match status.state {
        StandbyState::Down => return on_primary(state, f, "standby_down").await,
        StandbyState::Lagging => return on_primary(state, f, "standby_lagging").await,
        StandbyState::Ok => {
            let who = subject.to_string();
            match state.db.run(move |c| replica::write_mark(c, &who)).await? {
                Some(mark) if mark > status.replay_lsn => Some(mark),
                _ => None,
            }
        }
    };
    let g = f.clone();
    let on_standby = standby
        .db()
        .run(move |c| match unseen_mark {
            // Replay only moves forward: every statement after this one sees the mark.
            Some(mark) if !replica::replayed_past(c, mark)? => Ok(None),
            _ => g(c).map(Some),
        })
        .await;
    match on_standby {
        Ok(Some(v)) => {
            state.metrics.archive_read("standby", "replayed");
            Ok(v)
        }
        Ok(None) => on_primary(state, f, "own_write_not_replayed").await,
        Err(e @ (DbError::NotFound | DbError::Conflict(_))) => Err(e.into()),
        Err(e) => {
            tracing::warn!(error = %e, "the read replica failed a read; the primary answers it");
            standby.note_down();
            on_primary(state, f, "standby_failed").await
        }
    }
}

/// Runs the archive read on the primary, counting why.
async fn on_primary<T, F>(state: &AppState, f: Arc<F>, reason: &'static str) -> Result<T>
where
    F: Fn(&mut DbConnection) -> DbResult<T> + Send + Sync + 'static,
    T: Send + 'static,
{
    state.metrics.archive_read("primary", reason);
    Ok(state.db.run(move |c| f(c)).await?)
}
