//! An entry's history and use: its versions (bitemporal: in force from, recorded at), the version
//! in force at an instant, and its quota usage with the ledger of movements. Each takes an entry
//! the caller has already read through `entries::load`, so it may see all of this.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::whitelist::{EntryRow, EntryVersionRow};
use crate::db::{self, to_db_time};
use crate::domain::quantity::grams_to_kg_string;
use crate::service::whitelist::list::{EntryDto, entry_dto};
use crate::service::{Error, Result};
use crate::state::AppState;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EntryVersionDto {
    pub version: i32,
    /// When this version came into force (valid time).
    pub valid_from: String,
    /// When it was recorded (record time).
    pub recorded_at: String,
    pub status: String,
    pub quota_kg: String,
    /// proposed, confirm, suspend, reinstate, amend.
    pub change: String,
    pub reason: Option<String>,
    /// The letter that amended the quota (an `amend` version), e.g. 川环函〔2026〕12号.
    pub letter_number: Option<String>,
    pub changed_by: String,
    /// The entry as it stood in this version.
    pub entry: EntryDto,
}

fn version_dto(v: EntryVersionRow) -> Result<EntryVersionDto> {
    let row: EntryRow = serde_json::from_str(&v.snapshot).map_err(Error::internal)?;
    Ok(EntryVersionDto {
        version: v.version,
        valid_from: v.valid_from.and_utc().to_rfc3339(),
        recorded_at: v.recorded_at.and_utc().to_rfc3339(),
        status: v.status,
        quota_kg: grams_to_kg_string(v.quota_g),
        change: v.change,
        reason: v.reason,
        letter_number: v.letter_number,
        changed_by: v.changed_by,
        entry: entry_dto(row),
    })
}

/// The version of `entry` in force at `instant` (hidden when the entry did not exist then).
pub async fn as_of(state: &AppState, entry: &EntryRow, instant: DateTime<Utc>) -> Result<EntryVersionDto> {
    let id = entry.id.clone();
    let v = state
        .db
        .run(move |conn| db::whitelist::version_as_of(conn, &id, to_db_time(instant)))
        .await?
        .ok_or(Error::Hidden)?;
    version_dto(v)
}

/// Every version of `entry`, oldest first.
pub async fn all(state: &AppState, entry: &EntryRow) -> Result<Vec<EntryVersionDto>> {
    let id = entry.id.clone();
    let rows = state.db.run(move |conn| db::whitelist::versions(conn, &id)).await?;
    rows.into_iter().map(version_dto).collect()
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MovementDto {
    pub id: String,
    /// reserve, commit, release, release_approved, ship, receive.
    pub movement: String,
    pub amount_kg: String,
    pub application_id: Option<String>,
    pub actor: String,
    pub at: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UsageDto {
    pub entry_id: String,
    pub quota_kg: String,
    pub reserved_kg: String,
    pub approved_kg: String,
    pub shipped_kg: String,
    pub received_kg: String,
    /// quota − reserved − approved.
    pub remaining_kg: String,
    pub movements: Vec<MovementDto>,
}

/// The quota usage of `entry` and its ledger of movements.
pub async fn usage(state: &AppState, entry: EntryRow) -> Result<UsageDto> {
    let id = entry.id.clone();
    let ledger = state.db.run(move |conn| db::whitelist::ledger(conn, &id)).await?;
    Ok(UsageDto {
        entry_id: entry.id,
        quota_kg: grams_to_kg_string(entry.quota_g),
        reserved_kg: grams_to_kg_string(entry.reserved_g),
        approved_kg: grams_to_kg_string(entry.approved_g),
        shipped_kg: grams_to_kg_string(entry.shipped_g),
        received_kg: grams_to_kg_string(entry.received_g),
        remaining_kg: grams_to_kg_string(entry.quota_g - entry.reserved_g - entry.approved_g),
        movements: ledger
            .into_iter()
            .map(|l| MovementDto {
                id: l.id,
                movement: l.movement,
                amount_kg: grams_to_kg_string(l.amount_g),
                application_id: l.application_id,
                actor: l.actor,
                at: l.created_at.and_utc().to_rfc3339(),
            })
            .collect(),
    })
}
