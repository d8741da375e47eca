//! What the entry page shows: the entry, the changes its reader may make now, and its versions
//! (the status changes and the quota amendments with their letters' numbers).

use crate::auth::principal::Principal;
use crate::db;
use crate::db::whitelist::EntryVersionRow;
use crate::domain::quantity::grams_to_kg_string;
use crate::domain::whitelist::EntryAction;
use crate::service::Result;
use crate::service::whitelist::entries;
use crate::service::whitelist::list::{EntryDto, entry_dto};
use crate::state::AppState;

/// One version of an entry, oldest first: what changed, by whom, and the letter of an amendment.
#[derive(Debug, Clone)]
pub struct EntryVersionView {
    pub version: i32,
    /// When this version came into force (RFC 3339).
    pub valid_from: String,
    pub status: String,
    pub quota_kg: String,
    /// proposed, confirm, suspend, reinstate or amend.
    pub change: String,
    pub reason: Option<String>,
    /// The letter that amended the quota (an `amend` version), e.g. 川环函〔2026〕12号.
    pub letter_number: Option<String>,
    pub changed_by: String,
}

impl From<EntryVersionRow> for EntryVersionView {
    fn from(v: EntryVersionRow) -> Self {
        EntryVersionView {
            version: v.version,
            valid_from: db::from_db_time(v.valid_from).to_rfc3339(),
            status: v.status,
            quota_kg: grams_to_kg_string(v.quota_g),
            change: v.change,
            reason: v.reason,
            letter_number: v.letter_number,
            changed_by: v.changed_by,
        }
    }
}

/// An entry as its page shows it.
pub struct EntryPageView {
    pub entry: EntryDto,
    /// The changes the reader may make now (the use cases decide again when one is sent).
    pub open: Vec<EntryAction>,
    pub versions: Vec<EntryVersionView>,
}

/// The entry `id` with its versions, if the caller may see it.
pub async fn entry_page(state: &AppState, who: &Principal, id: String) -> Result<EntryPageView> {
    let (entry, open) = entries::load_open(state, who, id, None).await?;
    let id = entry.id.clone();
    let versions = state.db.run(move |conn| db::whitelist::versions(conn, &id)).await?;
    Ok(EntryPageView {
        entry: entry_dto(entry),
        open,
        versions: versions.into_iter().map(EntryVersionView::from).collect(),
    })
}
