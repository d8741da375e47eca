//! Shipment manifests (电子转移联单): created under an approval, dispatched, then received or
//! rejected by the operator within five working days. Quantities flow into the approval's items
//! (`application_items.shipped_g / received_g`), the application's totals, and the whitelist
//! entry's ledger (`ship`, `return`, `receive`).
//!
//! The submodules share the imports here (`use super::*`); this file keeps what creating and
//! acting both use: the approval and licence checks, the outbox message, the quantity moves.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::applications::{AppRow, ItemRow, app_by_id, items};
use super::schema::{
    application_items, manifest_counters, manifest_discrepancies, manifest_items, manifests, transfer_applications,
};
use super::whitelist::{Movement, apply_movement};
use super::{DbConnection, DbError, DbResult, audit, db_now, new_id, to_db_time, write_tx};
use crate::domain::Invalid;
use crate::domain::calendar::{WorkingDayCalendar, deadline_instant, shanghai_date};
use crate::domain::manifest::{
    BACKFILL_WORKING_DAYS, Discrepancy, RECEIPT_WORKING_DAYS, ShippedLine, check_receipt, departure_problem,
    paper_trip_problem,
};
use crate::domain::workflow::Status;
use crate::webhooks::EventType;

mod act;
mod create;
mod list;
mod rows;
mod sweep;

pub use act::*;
pub use create::*;
pub use list::*;
pub use rows::*;
pub use sweep::*;

/// Whether an approval can carry shipments on `day` (today; a paper trip's departure).
fn approval_problem(app: &AppRow, today: NaiveDate) -> Option<Invalid> {
    if app.status == Status::Revoked.as_str() {
        let on = app
            .revoked_at
            .map(|t| crate::domain::calendar::shanghai_date(t.and_utc()).to_string())
            .unwrap_or_default();
        return Some(Invalid::new(
            "manifest.approval_revoked",
            format!("the approval was revoked (撤销) on {on}: no shipment may draw on it"),
        ));
    }
    if app.status != Status::Approved.as_str() {
        return Some(Invalid::new(
            "manifest.not_approved",
            format!("the application is {}, not approved", app.status),
        ));
    }
    match app.valid_until.as_deref() {
        Some(until) if until >= today.to_string().as_str() => None,
        _ => Some(Invalid::new(
            "manifest.approval_expired",
            "the approval is no longer valid",
        )),
    }
}

/// Why no waste may go to the operator today (固废法 第80条): it holds no licence valid today.
/// A load already on the road may still be received.
fn operator_problem(conn: &mut DbConnection, operator_id: &str, today: NaiveDate) -> DbResult<Option<Invalid>> {
    let licence = super::registry::licence_on(conn, operator_id, today)?;
    Ok(match licence {
        Some(l) if l.allows_on(today) => None,
        Some(l) if l.status == "valid" => Some(Invalid::new(
            "manifest.operator_licence_not_valid",
            format!(
                "the operator's licence {} ended on {}: no waste may be handed to it",
                l.licence_number, l.valid_until
            ),
        )),
        Some(l) => Some(Invalid::new(
            "manifest.operator_licence_not_valid",
            format!(
                "the operator's licence {} is {}{}: no waste may be handed to it",
                l.licence_number,
                l.status,
                l.status_reason.map(|r| format!(" ({r})")).unwrap_or_default()
            ),
        )),
        None => Some(Invalid::new(
            "manifest.operator_licence_not_valid",
            format!("the operator holds no licence valid on {today}: no waste may be handed to it"),
        )),
    })
}

/// Tells the manifest's parties (both enterprises and both provinces) through the outbox.
/// The discrepancy report (第18条) goes to the receiving province's department only.
fn emit(conn: &mut DbConnection, t: EventType, m: &ManifestRow, found: &[DiscrepancyRow]) -> DbResult<()> {
    use crate::webhooks::{Audience, DiscrepancyData, ManifestEventData, OwnerKind};
    let audience = if t == EventType::ManifestDiscrepancyReported {
        Audience::new().with(OwnerKind::Province, &m.receiving_province)
    } else {
        Audience::new()
            .with(OwnerKind::Enterprise, &m.enterprise_id)
            .with(OwnerKind::Operator, &m.operator_id)
            .with(OwnerKind::Province, &m.source_province)
            .with(OwnerKind::Province, &m.receiving_province)
    };
    let data = serde_json::to_value(ManifestEventData {
        manifest_id: m.id.clone(),
        number: m.number.clone(),
        application_id: m.application_id.clone(),
        status: m.status.clone(),
        enterprise_id: m.enterprise_id.clone(),
        operator_id: m.operator_id.clone(),
        discrepancy: m.discrepancy,
        discrepancy_note: m.discrepancy_note.clone(),
        discrepancies: found
            .iter()
            .map(|d| DiscrepancyData {
                line: d.line,
                kind: d.kind.clone(),
                description: d.description.clone(),
                decision: d.decision.clone(),
            })
            .collect(),
    })
    .unwrap_or_default();
    super::outbox::emit(conn, t, "manifest", &m.id, audience, data)
}

/// Moves `shipped` and `received` grams on an approved item, its application's totals and its
/// whitelist entry (when it has one). Negative `shipped` undoes a shipment.
fn move_item(
    conn: &mut DbConnection,
    app: &AppRow,
    item: &ItemRow,
    shipped: i64,
    received: i64,
    movement: Movement,
    actor: &str,
) -> DbResult<()> {
    use application_items::dsl as i;
    // The guard: what manifests draw never exceeds the approved quantity of the line.
    let n = diesel::update(
        i::application_items
            .filter(i::application_id.eq(&app.id))
            .filter(i::line.eq(item.line))
            .filter((i::shipped_g + shipped).le(i::quantity_g))
            .filter((i::shipped_g + shipped).ge(0)),
    )
    .set((
        i::shipped_g.eq(i::shipped_g + shipped),
        i::received_g.eq(i::received_g + received),
    ))
    .execute(conn)?;
    if n == 0 {
        return Err(DbError::Other(anyhow::anyhow!(
            "approved line {} of application {} refused a draw of {shipped} g",
            item.line,
            app.id
        )));
    }
    diesel::update(transfer_applications::table.find(&app.id))
        .set((
            transfer_applications::shipped_g.eq(transfer_applications::shipped_g + shipped),
            transfer_applications::received_g.eq(transfer_applications::received_g + received),
        ))
        .execute(conn)?;
    let grams = match movement {
        Movement::Receive => received,
        Movement::Return => -shipped,
        _ => shipped,
    };
    if let Some(entry) = &item.entry_id
        && grams > 0
        && !apply_movement(conn, entry, movement, grams, Some(&app.id), actor)?
    {
        return Err(DbError::Other(anyhow::anyhow!(
            "ledger refused {} of {grams} g on entry {entry}",
            movement.as_str()
        )));
    }
    Ok(())
}
