//! What the web UI shows around a case besides the case itself: the whitelist entries its items
//! draw on and its event log, and the public verification of an approval number.

use chrono::{DateTime, Utc};

use crate::db;
pub use crate::db::applications::EventRow;
pub use crate::db::whitelist::EntryRow;
use crate::service::Error;
use crate::service::Result;
use crate::service::applications::case::{ApplicationDto, load_dto};
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

/// An approval as the public verification shows it: the case, and its parties' names.
pub struct Verified {
    pub dto: ApplicationDto,
    pub producer: String,
    pub operator: String,
}

/// The case holding an approval number, for anyone who has the number (no login): `None` when
/// no approval has it.
pub async fn verify_approval(state: &AppState, number: String, now: DateTime<Utc>) -> Result<Option<Verified>> {
    let cal = state.calendar().await.map_err(Error::from)?;
    let found = state
        .db
        .run(move |conn| {
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
