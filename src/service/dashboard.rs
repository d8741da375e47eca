//! The overview figures of the web UI: the dashboard's monthly tonnage, on-time rate and quota
//! use (for admins, auditors and regulators, a province's scoped to it), and a regulator's live
//! queue counts.

use chrono::{DateTime, Datelike, Duration, Utc};

use crate::auth::principal::{Role, Scope};
pub use crate::db::applications::QueueCounts;
pub use crate::db::dashboard::{OnTime, PairMonth, Utilisation};
use crate::db::{self, to_db_time};
use crate::domain::calendar::shanghai_date;
use crate::service::{Ctx, Error, Result};
use crate::state::AppState;

/// The dashboard's figures over the last 366 days (quota use: this year's).
pub struct Figures {
    pub year: i32,
    pub tonnage: Vec<PairMonth>,
    pub on_time: Vec<OnTime>,
    pub utilisation: Vec<Utilisation>,
}

/// The dashboard: nationwide for admins and nationwide auditors, a province's for its
/// regulators and auditors; nobody else's.
pub async fn figures(state: &AppState, ctx: &Ctx) -> Result<Figures> {
    let province = match (ctx.who.role, ctx.who.scope()) {
        (_, Scope::All) => None,
        (Role::Regulator | Role::Auditor, Scope::Province(p)) => Some(p.as_str().to_string()),
        _ => {
            return Err(Error::Forbidden(
                "the dashboard is for regulators, auditors and admins".into(),
            ));
        }
    };
    let since = to_db_time(ctx.now - Duration::days(366));
    let year = shanghai_date(ctx.now).year();
    // The dashboard reads the archive: the read replica may answer it (service::reads).
    let (tonnage, on_time, utilisation) = super::reads::archive(state, &ctx.who.subject, move |conn| {
        let p = province.as_deref();
        Ok((
            db::dashboard::monthly_tonnage(conn, since, p)?,
            db::dashboard::on_time(conn, since, p)?,
            db::dashboard::utilisation(conn, year, p)?,
        ))
    })
    .await?;
    Ok(Figures {
        year,
        tonnage,
        on_time,
        utilisation,
    })
}

/// The end of `now`'s day in Asia/Shanghai.
fn end_of_day(now: DateTime<Utc>) -> DateTime<Utc> {
    let tomorrow = shanghai_date(now) + Duration::days(1);
    tomorrow
        .and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(chrono_tz::Asia::Shanghai).single())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(now)
}

/// A regulator's live queue counts: open steps of its province, overdue, and due today (before
/// the end of today in Shanghai). `None` for everybody else (they have no queue counts).
pub async fn queue_counts(state: &AppState, ctx: &Ctx) -> Result<Option<QueueCounts>> {
    let Some(p) = ctx.who.province().filter(|_| ctx.who.role == Role::Regulator) else {
        return Ok(None);
    };
    let (now, province) = (ctx.now, p.as_str());
    let soon = end_of_day(now);
    let counts = state
        .db
        .run(move |conn| db::applications::queue_counts(conn, &province, to_db_time(now), to_db_time(soon)))
        .await?;
    Ok(Some(counts))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn today_ends_at_midnight_in_shanghai() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        // 23:30 in Shanghai on 1 December is 15:30 UTC: the day ends at 16:00 UTC.
        assert_eq!(end_of_day(at("2026-12-01T15:30:00Z")), at("2026-12-01T16:00:00Z"));
        // 00:30 in Shanghai on 2 December (16:30 UTC on the 1st): the 2nd ends at 16:00 UTC.
        assert_eq!(end_of_day(at("2026-12-01T16:30:00Z")), at("2026-12-02T16:00:00Z"));
    }
}
