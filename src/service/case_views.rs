//! What the web UI shows around a case besides the case itself: the whitelist entries its items
//! draw on, its event log and its manifests, and the public verification of an approval number.

use chrono::{DateTime, Utc};

use crate::auth::authorize;
use crate::auth::principal::Principal;
use crate::db;
pub use crate::db::applications::EventRow;
use crate::db::manifests::ManifestFilter;
pub use crate::db::whitelist::EntryRow;
use crate::service::Result;
use crate::service::applications::case::{ApplicationDto, load_dto};
use crate::service::manifests::{ManifestDto, to_full_dto};
use crate::state::AppState;

/// The entries this case's items are matched to, and the case's event log. The case is one the
/// caller has already read (through `case::case_dto`), so it may see both.
pub async fn entries_and_events(state: &AppState, dto: &ApplicationDto) -> Result<(Vec<EntryRow>, Vec<EventRow>)> {
    let mut ids: Vec<String> = Vec::new();
    for id in dto.items.iter().filter_map(|i| i.entry_id.clone()) {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    let app_id = dto.id.clone();
    let found = state
        .db
        .run(move |conn| {
            let mut rows = Vec::new();
            for id in ids {
                if let Some(r) = db::whitelist::entry_by_id(conn, &id)? {
                    rows.push(r);
                }
            }
            Ok((rows, db::applications::events(conn, &app_id)?))
        })
        .await?;
    Ok(found)
}

/// The most manifests a case page lists (one per vehicle trip; far more than one approval
/// carries in practice).
pub const CASE_MANIFESTS_MAX: i64 = 1000;

/// The manifests drawn on this case, newest first, each with its discrepancies: those the caller
/// may read, by the rule that guards one manifest. The case is one the caller has already read.
pub async fn manifests_of(state: &AppState, who: &Principal, dto: &ApplicationDto) -> Result<Vec<ManifestDto>> {
    let filter = ManifestFilter {
        application_id: Some(dto.id.clone()),
        ..ManifestFilter::default()
    };
    let rows = state
        .db
        .run(move |conn| {
            let rows = db::manifests::list(conn, &filter, None, CASE_MANIFESTS_MAX)?;
            let mut out = Vec::with_capacity(rows.len());
            for m in rows {
                let items = db::manifests::items_of(conn, &m.id)?;
                let found = db::manifests::discrepancies_of(conn, &m.id)?;
                out.push((m, items, found));
            }
            Ok(out)
        })
        .await?;
    Ok(rows
        .into_iter()
        .filter(|(m, _, _)| authorize(who, m, ()).is_ok())
        .map(|(m, items, found)| to_full_dto(m, items, found))
        .collect())
}

/// An approval as the public verification shows it: the case, and its parties' names.
pub struct Verified {
    pub dto: ApplicationDto,
    pub producer: String,
    pub operator: String,
}

/// The case holding an approval number, for anyone who has the number (no login): `None` when
/// no approval has it.
pub async fn verify_approval(state: &AppState, number: String, now: DateTime<Utc>) -> Result<Option<Verified>> {
    let calendars = state.calendars.clone();
    let found = state
        .db
        .run(move |conn| {
            let cal = calendars.on(conn)?;
            let Some(app) = db::applications::app_by_approval_number(conn, &number)? else {
                return Ok(None);
            };
            let producer = db::registry::enterprise_by_id(conn, &app.enterprise_id)?.map(|e| e.name);
            let operator = db::registry::operator_by_id(conn, &app.operator_id)?.map(|o| o.name);
            let dto = load_dto(conn, &cal, app, now)?;
            Ok(Some(Verified {
                dto,
                producer: producer.unwrap_or_default(),
                operator: operator.unwrap_or_default(),
            }))
        })
        .await?;
    Ok(found)
}
