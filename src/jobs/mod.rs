//! Background jobs. The sweeper runs on exactly one replica at a time: each run holds a
//! PostgreSQL advisory lock (SQLite is a single process), and every step is safe to run twice.

pub mod delivery;

use std::time::Duration;

use actix_web::web;
use chrono::{Datelike, Utc};

use crate::db::{self, DbConnection, DbResult};
use crate::domain::calendar::shanghai_date;
use crate::state::AppState;

const SWEEPER_LOCK_KEY: i64 = 0x0048_5754_5357_4545; // "HWTSWEE"

/// What one sweep did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SweepReport {
    /// False when another replica held the lock and this one did nothing.
    pub ran: bool,
    /// Entries suspended because their operator's licence expired.
    pub entries_suspended: Vec<String>,
    /// Entries of past years marked expired.
    pub entries_expired: usize,
    /// Deemed acceptances, overdue steps, expired approvals.
    pub applications: db::applications::ApplicationSweep,
    /// Manifests whose receipt became overdue.
    pub manifests_overdue: Vec<String>,
    /// The year whose missing holiday notice this sweep announced to every province (once a year).
    pub notice_missing_announced: Option<i32>,
    /// Webhook deliveries finished longer ago than `webhooks::DELIVERY_RETENTION`, deleted with
    /// their attempts (the events stay).
    pub deliveries_purged: usize,
    /// Changes appended to the maintained totals since the last sweep, folded into them
    /// (`db::figures`).
    pub figures_folded: usize,
}

/// One sweep at `now` with the configured office close time.
pub fn sweep_once_with(
    conn: &mut DbConnection,
    office_close: chrono::NaiveTime,
    now: chrono::DateTime<Utc>,
) -> DbResult<SweepReport> {
    Ok(
        db::locks::with_advisory_lock(conn, SWEEPER_LOCK_KEY, |conn| sweep_steps(conn, office_close, now))?
            .unwrap_or_default(),
    )
}

fn sweep_steps(
    conn: &mut DbConnection,
    office_close: chrono::NaiveTime,
    now: chrono::DateTime<Utc>,
) -> DbResult<SweepReport> {
    let today = shanghai_date(now);
    let mut report = SweepReport {
        ran: true,
        ..Default::default()
    };
    // A licence past its validity suspends the operator's confirmed entries (a system action).
    for licence in db::registry::expired_licences(conn, today)? {
        let reason = format!("licence expired on {}", licence.valid_until);
        let entries = db::whitelist::confirmed_entries_of_operator(conn, &licence.operator_id, today.year())?;
        for id in db::whitelist::change_status_as_system(conn, entries, "suspended", "suspend", &reason)? {
            tracing::info!(entry = %id, operator = %licence.operator_id, "entry suspended: licence expired");
            report.entries_suspended.push(id);
        }
    }
    // Entries of past years expire.
    for e in db::whitelist::entries_to_expire(conn, today.year())? {
        if db::whitelist::change_status(
            conn,
            &e.id,
            e.version,
            "expired",
            "expire",
            Some("the year is over"),
            "system",
            None,
        )?
        .is_some()
        {
            report.entries_expired += 1;
        }
    }
    let calendar = db::calendar::load(conn)?;
    // A missing holiday notice is told to every province once (subscribers hear
    // `calendar.notice_missing`), from 1 November of the year before.
    if let Some(year) = crate::service::calendar::notice_alert(&calendar, today)
        && db::outbox::announce_once(
            conn,
            crate::webhooks::EventType::CalendarNoticeMissing,
            "calendar_year",
            &year.to_string(),
            serde_json::json!({
                "year": year,
                "message": format!("the State Council's holiday notice for {year} is not imported: deadlines in {year} are provisional; deemed acceptance and escalation wait for it"),
            }),
        )?
    {
        report.notice_missing_announced = Some(year);
    }
    report.applications = db::applications::sweep(conn, &calendar, office_close, now)?;
    report.manifests_overdue = db::manifests::sweep(conn, now)?;
    report.deliveries_purged = db::outbox_retention::purge_finished(conn, now - crate::webhooks::DELIVERY_RETENTION)?;
    report.figures_folded = db::figures::fold(conn)?;
    Ok(report)
}

/// The last year whose missing notice this process has logged.
static WARNED_NOTICE: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// Runs the sweeper every `interval` until the process ends.
pub fn spawn_sweeper(state: web::Data<AppState>, interval: Duration) {
    actix_web::rt::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let close = state.config.office_close;
            // A missing catalogue edition in force: logged once per process, and the metric.
            crate::service::catalogue::alert(&state).await;
            if let Ok(cal) = state.calendar().await
                && let Some(year) =
                    crate::service::calendar::notice_alert(&cal, crate::domain::calendar::shanghai_date(Utc::now()))
                // Once per process and year, not at every tick.
                && WARNED_NOTICE.swap(year, std::sync::atomic::Ordering::Relaxed) != year
            {
                tracing::warn!(
                    year,
                    "the holiday notice for {year} is not imported: deadlines in it are provisional and deemed acceptance and escalation wait for it"
                );
            }
            match state.db.run(move |c| sweep_once_with(c, close, Utc::now())).await {
                Ok(r) if r.ran && (!r.entries_suspended.is_empty() || r.entries_expired > 0) => {
                    tracing::info!(
                        suspended = r.entries_suspended.len(),
                        expired = r.entries_expired,
                        "sweep"
                    )
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "sweep failed; retrying at the next tick"),
            }
        }
    });
}
