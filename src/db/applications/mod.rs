//! Transfer applications: filing with routing and quota reservation in one transaction, the
//! workflow steps with their clocks, decisions and approvals, and the sweeper's duties.
//!
//! The submodules share the imports here (`use super::*`); this file keeps the timeline event
//! and audit helpers they all record with.

use chrono::{DateTime, Datelike, Months, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::schema::{
    application_attachments, application_events, application_items, application_steps, approval_copies,
    clock_suspensions, decisions, transfer_applications,
};
use super::whitelist::{EntryRow, Movement, apply_movement};
use super::{DbConnection, DbError, DbResult, db_now, new_id, to_db_time, write_tx};
use crate::domain::Invalid;
use crate::domain::calendar::{WorkingDayCalendar, deadline_instant, shanghai_date};
use crate::domain::catalogue::WasteCode;
use crate::domain::documents::{CopyRecipient, LetterKind, Series};
use crate::domain::province::province;
use crate::domain::quantity::Quantity;
use crate::domain::whitelist::LicenceMode;
use crate::domain::workflow::{self, Action, Actor, Route, Side, Status, StepKind, Suspension};

mod act;
mod approvals;
mod attachments;
mod filing;
mod queue;
mod rows;
mod steps;
mod sweep;

pub use act::*;
pub use approvals::*;
pub use attachments::*;
pub use filing::*;
pub use queue::*;
pub use rows::*;
pub use steps::*;
pub use sweep::*;

fn event(
    conn: &mut DbConnection,
    app_id: &str,
    kind: &str,
    actor: &str,
    role: &str,
    detail: serde_json::Value,
) -> DbResult<()> {
    let app = match super::outbox::application_event_type(kind) {
        Some(_) => app_by_id(conn, app_id)?,
        None => None,
    };
    insert_event(conn, app_id, app.as_ref(), kind, actor, role, detail)
}

/// [`event`] of a case whose current row the caller holds (`app`, read after the change), so
/// the webhook payload needs no second read of it.
fn insert_event(
    conn: &mut DbConnection,
    app_id: &str,
    app: Option<&AppRow>,
    kind: &str,
    actor: &str,
    role: &str,
    detail: serde_json::Value,
) -> DbResult<()> {
    diesel::insert_into(application_events::table)
        .values(EventRow {
            id: new_id(),
            application_id: app_id.to_string(),
            kind: kind.to_string(),
            actor: actor.to_string(),
            role: role.to_string(),
            detail: detail.to_string(),
            at: db_now(),
        })
        .execute(conn)?;
    // The same moment, for webhook subscribers (stored at commit with the rest).
    if let Some(t) = super::outbox::application_event_type(kind)
        && let Some(app) = app
    {
        let data = super::outbox::application_data(app, &detail);
        super::outbox::emit(
            conn,
            t,
            "transfer_application",
            app_id,
            super::outbox::application_audience(app),
            data,
        )?;
    }
    Ok(())
}

/// Audits a change of an application: its fields that changed plus what the timeline event
/// says (decisions, suspensions, notices live in rows of their own).
fn audit_app(
    conn: &mut DbConnection,
    before: Option<&AppRow>,
    app_id: &str,
    action: &str,
    detail: &serde_json::Value,
) -> DbResult<()> {
    let after = app_by_id(conn, app_id)?;
    audit_app_as(conn, before, after.as_ref(), app_id, action, detail)
}

/// [`audit_app`] with the row after the change already read.
fn audit_app_as(
    conn: &mut DbConnection,
    before: Option<&AppRow>,
    after: Option<&AppRow>,
    app_id: &str,
    action: &str,
    detail: &serde_json::Value,
) -> DbResult<()> {
    let mut diff = crate::audit::diff(
        before.map(crate::audit::snapshot).as_ref(),
        after.map(crate::audit::snapshot).as_ref(),
    );
    if let serde_json::Value::Object(m) = &mut diff
        && detail.as_object().is_some_and(|d| !d.is_empty())
    {
        m.insert("detail".into(), serde_json::json!({ "from": null, "to": detail }));
    }
    super::audit::record(conn, "transfer_application", app_id, action, diff)
}
