//! Shipment manifests (电子转移联单): created under an approval, dispatched, then received or
//! rejected by the operator within five working days. Quantities flow into the approval's items
//! (`application_items.shipped_g / received_g`), the application's totals, and the whitelist
//! entry's ledger (`ship`, `return`, `receive`).

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::applications::{AppRow, ItemRow, app_by_id, items};
use super::schema::{application_items, manifest_counters, manifest_items, manifests, transfer_applications};
use super::whitelist::{Movement, apply_movement};
use super::{DbConnection, DbError, DbResult, audit, db_now, new_id, to_db_time, write_tx};
use crate::domain::Invalid;
use crate::domain::calendar::{WorkingDayCalendar, deadline_instant, shanghai_date};
use crate::domain::workflow::Status;
use crate::webhooks::EventType;

/// Working days the operator has to confirm receipt (部令第23号 第20条).
pub const RECEIPT_WORKING_DAYS: u32 = 5;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = manifests)]
pub struct ManifestRow {
    pub id: String,
    pub number: String,
    pub application_id: String,
    pub enterprise_id: String,
    pub operator_id: String,
    pub source_province: String,
    pub receiving_province: String,
    pub source_city: String,
    pub year: i32,
    pub serial: i32,
    pub status: String,
    pub carrier_name: String,
    pub carrier_permit: String,
    pub vehicle_plate: String,
    pub driver_name: String,
    pub route_from: String,
    pub route_to: String,
    pub departure_at: NaiveDateTime,
    pub dispatched_at: Option<NaiveDateTime>,
    pub receipt_due_on: Option<String>,
    pub receipt_due_at: Option<NaiveDateTime>,
    pub receipt_due_provisional: bool,
    pub receipt_overdue_at: Option<NaiveDateTime>,
    pub received_at: Option<NaiveDateTime>,
    pub received_by: Option<String>,
    pub rejected_reason: Option<String>,
    pub discrepancy: bool,
    pub discrepancy_note: Option<String>,
    pub idempotency_key: Option<String>,
    pub request_hash: String,
    pub created_by: String,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = manifest_items)]
pub struct ManifestItemRow {
    pub manifest_id: String,
    pub line: i32,
    /// The approved item (its `line` in the application) this quantity draws on.
    pub application_line: i32,
    pub waste_code: String,
    pub quantity_g: i64,
    pub accepted_g: Option<i64>,
}

/// The carrier part of a manifest.
#[derive(Debug, Clone)]
pub struct Transport {
    pub carrier_name: String,
    pub carrier_permit: String,
    pub vehicle_plate: String,
    pub driver_name: String,
    pub route_from: String,
    pub route_to: String,
    pub departure_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewManifest {
    pub application_id: String,
    pub enterprise_id: String,
    /// (application line, grams), in the order given.
    pub items: Vec<(i32, i64)>,
    pub transport: Transport,
    pub idempotency_key: Option<String>,
    pub request_hash: String,
    pub created_by: String,
}

#[derive(Debug)]
pub enum CreateOutcome {
    Created(ManifestRow),
    Replayed(ManifestRow),
    KeyReused,
    /// Every reason, with the JSON pointer of the field it concerns.
    Refused(Vec<(String, Invalid)>),
}

/// The 14-digit number: year (4) + source province (2) + source city (2) + serial (6).
pub fn manifest_number(year: i32, source_city: &str, serial: i32) -> String {
    format!("{year:04}{source_city}{serial:06}")
}

/// The source city key of a producer: the first four digits of its division code.
fn source_city(division: &str) -> String {
    division.chars().take(4).collect()
}

/// Draws the next serial of a source city and year. The counter row's lock (held until
/// commit) makes serials unique and gap-free under concurrency on both backends.
fn next_serial(conn: &mut DbConnection, city: &str, year: i32) -> DbResult<i32> {
    let counter = (
        manifest_counters::source_city.eq(city),
        manifest_counters::year.eq(year),
        manifest_counters::last_serial.eq(0),
    );
    // ON CONFLICT does not compile for the multi-backend connection: the same statement per arm.
    match conn {
        DbConnection::Postgresql(c) => diesel::insert_into(manifest_counters::table)
            .values(counter)
            .on_conflict_do_nothing()
            .execute(c)?,
        DbConnection::Sqlite(c) => diesel::insert_into(manifest_counters::table)
            .values(counter)
            .on_conflict_do_nothing()
            .execute(c)?,
    };
    let target = manifest_counters::table
        .filter(manifest_counters::source_city.eq(city))
        .filter(manifest_counters::year.eq(year));
    diesel::update(target)
        .set(manifest_counters::last_serial.eq(manifest_counters::last_serial + 1))
        .execute(conn)?;
    Ok(target.select(manifest_counters::last_serial).first(conn)?)
}

/// Whether an approval can carry shipments today.
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

/// Cancels, as part of a revocation, every manifest of the application not yet on the road;
/// their quantities go back to the approval's lines. Returns the cancelled manifests' numbers.
pub fn cancel_unsent(conn: &mut DbConnection, app: &AppRow, actor: &str, reason: &str) -> DbResult<Vec<String>> {
    let unsent: Vec<ManifestRow> = manifests::table
        .filter(manifests::application_id.eq(&app.id))
        .filter(manifests::status.eq("created"))
        .select(ManifestRow::as_select())
        .load(conn)?;
    let approved = items(conn, &app.id)?;
    let now = db_now();
    let mut numbers = Vec::new();
    for m in unsent {
        for l in items_of(conn, &m.id)? {
            if let Some(item) = approved.iter().find(|a| a.line == l.application_line) {
                move_item(conn, app, item, -l.quantity_g, 0, Movement::Return, actor)?;
            }
        }
        diesel::update(manifests::table.find(&m.id).filter(manifests::version.eq(m.version)))
            .set((
                manifests::status.eq("cancelled"),
                manifests::rejected_reason.eq(Some(reason)),
                manifests::version.eq(m.version + 1),
                manifests::updated_at.eq(now),
            ))
            .execute(conn)?;
        let after = by_id(conn, &m.id)?.ok_or(DbError::NotFound)?;
        audit::record(
            conn,
            "manifest",
            &m.id,
            "cancelled",
            crate::audit::diff(Some(&crate::audit::snapshot(&m)), Some(&crate::audit::snapshot(&after))),
        )?;
        numbers.push(m.number);
    }
    Ok(numbers)
}

/// Creates a manifest: checks every item against what the approval still allows, draws the
/// serial, and moves the quantities, in one transaction.
pub fn create(conn: &mut DbConnection, m: &NewManifest, now: DateTime<Utc>) -> DbResult<CreateOutcome> {
    let today = shanghai_date(now);
    write_tx(conn, |conn| {
        if let Some(key) = &m.idempotency_key {
            let existing: Option<ManifestRow> = manifests::table
                .filter(manifests::enterprise_id.eq(&m.enterprise_id))
                .filter(manifests::idempotency_key.eq(key))
                .select(ManifestRow::as_select())
                .first(conn)
                .optional()?;
            if let Some(row) = existing {
                return Ok(if row.request_hash == m.request_hash {
                    CreateOutcome::Replayed(row)
                } else {
                    CreateOutcome::KeyReused
                });
            }
        }
        // Lock the application: manifests drawing on one approval queue here, so what they
        // read of the remaining quantity stays true until they commit.
        diesel::update(transfer_applications::table.find(&m.application_id))
            .set(transfer_applications::shipped_g.eq(transfer_applications::shipped_g))
            .execute(conn)?;
        let app = app_by_id(conn, &m.application_id)?.ok_or(DbError::NotFound)?;
        let mut problems = Vec::new();
        if let Some(p) = approval_problem(&app, today) {
            problems.push(("/application_id".to_string(), p));
        }
        if let Some(p) = operator_problem(conn, &app.operator_id, today)? {
            problems.push(("/application_id".to_string(), p));
        }
        let valid_until = app.valid_until.clone().unwrap_or_default();
        if shanghai_date(m.transport.departure_at).to_string() > valid_until {
            problems.push((
                "/departure_at".into(),
                Invalid::new(
                    "manifest.departure_after_validity",
                    "departure is after the approval's validity",
                ),
            ));
        }
        let approved = items(conn, &app.id)?;
        let mut seen = std::collections::HashSet::new();
        let mut wanted: Vec<(&ItemRow, i64)> = Vec::new();
        for (i, (line, grams)) in m.items.iter().enumerate() {
            let pointer = format!("/items/{i}");
            if !seen.insert(*line) {
                problems.push((
                    format!("{pointer}/line"),
                    Invalid::new(
                        "manifest.duplicate_line",
                        "each approved line at most once per manifest",
                    ),
                ));
                continue;
            }
            let Some(item) = approved.iter().find(|a| a.line == *line) else {
                problems.push((
                    format!("{pointer}/line"),
                    Invalid::new("manifest.unknown_line", format!("the approval has no line {line}")),
                ));
                continue;
            };
            let left = item.quantity_g - item.shipped_g;
            if *grams > left {
                problems.push((
                    format!("{pointer}/quantity_kg"),
                    Invalid::new(
                        "manifest.over_approval",
                        format!(
                            "more than the approval still allows for line {line} ({} kg approved, {} kg left)",
                            crate::domain::quantity::grams_to_kg_string(item.quantity_g),
                            crate::domain::quantity::grams_to_kg_string(left)
                        ),
                    ),
                ));
                continue;
            }
            wanted.push((item, *grams));
        }
        if !problems.is_empty() {
            return Ok(CreateOutcome::Refused(problems));
        }
        let city = source_city(&app.source_division);
        let year = today.year();
        let serial = next_serial(conn, &city, year)?;
        if serial > 999_999 {
            return Err(DbError::Conflict(format!(
                "manifest serials of city {city} in {year} are used up"
            )));
        }
        let now_db = to_db_time(now);
        let id = new_id();
        let t = &m.transport;
        let row = ManifestRow {
            id: id.clone(),
            number: manifest_number(year, &city, serial),
            application_id: app.id.clone(),
            enterprise_id: app.enterprise_id.clone(),
            operator_id: app.operator_id.clone(),
            source_province: app.source_province.clone(),
            receiving_province: app.receiving_province.clone(),
            source_city: city,
            year,
            serial,
            status: "created".into(),
            carrier_name: t.carrier_name.clone(),
            carrier_permit: t.carrier_permit.clone(),
            vehicle_plate: t.vehicle_plate.clone(),
            driver_name: t.driver_name.clone(),
            route_from: t.route_from.clone(),
            route_to: t.route_to.clone(),
            departure_at: to_db_time(t.departure_at),
            dispatched_at: None,
            receipt_due_on: None,
            receipt_due_at: None,
            receipt_due_provisional: false,
            receipt_overdue_at: None,
            received_at: None,
            received_by: None,
            rejected_reason: None,
            discrepancy: false,
            discrepancy_note: None,
            idempotency_key: m.idempotency_key.clone(),
            request_hash: m.request_hash.clone(),
            created_by: m.created_by.clone(),
            version: 1,
            created_at: now_db,
            updated_at: now_db,
        };
        diesel::insert_into(manifests::table)
            .values(row.clone())
            .execute(conn)?;
        let mut item_rows = Vec::new();
        for (i, (item, grams)) in wanted.iter().enumerate() {
            let mi = ManifestItemRow {
                manifest_id: id.clone(),
                line: i as i32,
                application_line: item.line,
                waste_code: item.waste_code.clone(),
                quantity_g: *grams,
                accepted_g: None,
            };
            diesel::insert_into(manifest_items::table)
                .values(mi.clone())
                .execute(conn)?;
            item_rows.push(mi);
            move_item(conn, &app, item, *grams, 0, Movement::Ship, &m.created_by)?;
        }
        audit::record(
            conn,
            "manifest",
            &id,
            "created",
            crate::audit::diff(
                None,
                Some(&serde_json::json!({ "manifest": crate::audit::snapshot(&row), "items": item_rows })),
            ),
        )?;
        emit(conn, EventType::ManifestCreated, &row)?;
        Ok(CreateOutcome::Created(row))
    })
}

/// Tells the manifest's parties (both enterprises and both provinces) through the outbox.
fn emit(conn: &mut DbConnection, t: EventType, m: &ManifestRow) -> DbResult<()> {
    use crate::webhooks::{Audience, ManifestEventData, OwnerKind};
    let audience = Audience::new()
        .with(OwnerKind::Enterprise, &m.enterprise_id)
        .with(OwnerKind::Operator, &m.operator_id)
        .with(OwnerKind::Province, &m.source_province)
        .with(OwnerKind::Province, &m.receiving_province);
    let data = serde_json::to_value(ManifestEventData {
        manifest_id: m.id.clone(),
        number: m.number.clone(),
        application_id: m.application_id.clone(),
        status: m.status.clone(),
        enterprise_id: m.enterprise_id.clone(),
        operator_id: m.operator_id.clone(),
        discrepancy: m.discrepancy,
        discrepancy_note: m.discrepancy_note.clone(),
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

pub fn by_id(conn: &mut DbConnection, id: &str) -> DbResult<Option<ManifestRow>> {
    Ok(manifests::table
        .find(id)
        .select(ManifestRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn items_of(conn: &mut DbConnection, manifest_id: &str) -> DbResult<Vec<ManifestItemRow>> {
    Ok(manifest_items::table
        .filter(manifest_items::manifest_id.eq(manifest_id))
        .order(manifest_items::line.asc())
        .select(ManifestItemRow::as_select())
        .load(conn)?)
}

/// What a party asks of a manifest.
#[derive(Debug, Clone)]
pub enum ManifestAct {
    /// The producer: the vehicle has left; the receipt clock starts.
    Dispatch,
    /// The producer: the trip will not happen; the quantity goes back to the approval.
    Cancel { reason: String },
    /// The operator: accepted grams per manifest line, and a note.
    Receive {
        accepted: Vec<(i32, i64)>,
        note: Option<String>,
    },
    /// The operator refuses the load; it goes back to the producer.
    Reject { reason: String },
}

#[derive(Debug)]
pub enum ManifestRefusal {
    /// Not possible in the current state (409).
    State(Invalid),
    /// The request is wrong for this manifest (422), with the pointer of the field.
    Invalid(Vec<(String, Invalid)>),
    /// If-Match named an older version (412).
    Stale { current: i32 },
}

pub struct ManifestContext<'a> {
    pub cal: &'a WorkingDayCalendar,
    pub office_close: NaiveTime,
    /// The share of a line's shipped quantity beyond which a different accepted quantity is a
    /// significant discrepancy, in percent.
    pub discrepancy_percent: f64,
    pub name: &'a str,
    pub now: DateTime<Utc>,
}

/// A line is discrepant when accepted and shipped differ by more than `percent` of shipped.
pub fn is_discrepant(shipped_g: i64, accepted_g: i64, percent: f64) -> bool {
    let diff = (accepted_g - shipped_g).abs() as f64;
    diff > shipped_g as f64 * percent / 100.0
}

/// Applies one act, in one transaction; the manifest after it, or why not.
pub fn act(
    conn: &mut DbConnection,
    ctx: &ManifestContext<'_>,
    id: &str,
    expected_version: Option<i32>,
    act: &ManifestAct,
) -> DbResult<Result<ManifestRow, ManifestRefusal>> {
    let today = shanghai_date(ctx.now);
    let now_db = to_db_time(ctx.now);
    write_tx(conn, |conn| {
        let before = by_id(conn, id)?.ok_or(DbError::NotFound)?;
        if let Some(v) = expected_version
            && v != before.version
        {
            return Ok(Err(ManifestRefusal::Stale {
                current: before.version,
            }));
        }
        let state = |code: &'static str, msg: String| Ok(Err(ManifestRefusal::State(Invalid::new(code, msg))));
        let app = app_by_id(conn, &before.application_id)?.ok_or(DbError::NotFound)?;
        let lines = items_of(conn, id)?;
        let approved = items(conn, &app.id)?;
        let approved_line = |line: i32| approved.iter().find(|a| a.line == line).cloned();
        let action: &str;
        let target = manifests::table.find(id).filter(manifests::version.eq(before.version));
        let n = match act {
            ManifestAct::Dispatch => {
                if before.status != "created" {
                    return state(
                        "manifest.state",
                        format!("a {} manifest cannot be dispatched", before.status),
                    );
                }
                // Nothing leaves for an operator without a valid licence, nor under an approval
                // that was revoked or is over; a load already on the road may still arrive.
                if let Some(p) = approval_problem(&app, today) {
                    return Ok(Err(ManifestRefusal::State(p)));
                }
                if let Some(p) = operator_problem(conn, &app.operator_id, today)? {
                    return Ok(Err(ManifestRefusal::State(p)));
                }
                action = "dispatched";
                let due = ctx.cal.add_working_days(today, RECEIPT_WORKING_DAYS);
                diesel::update(target)
                    .set((
                        manifests::status.eq("in_transit"),
                        manifests::dispatched_at.eq(Some(now_db)),
                        manifests::receipt_due_on.eq(Some(due.date.to_string())),
                        manifests::receipt_due_at.eq(Some(to_db_time(deadline_instant(due.date, ctx.office_close)))),
                        manifests::receipt_due_provisional.eq(due.provisional),
                        manifests::version.eq(before.version + 1),
                        manifests::updated_at.eq(now_db),
                    ))
                    .execute(conn)?
            }
            ManifestAct::Cancel { reason } => {
                if before.status != "created" {
                    return state(
                        "manifest.state",
                        format!(
                            "only a manifest not yet dispatched can be cancelled; this one is {}",
                            before.status
                        ),
                    );
                }
                action = "cancelled";
                for l in &lines {
                    if let Some(item) = approved_line(l.application_line) {
                        move_item(conn, &app, &item, -l.quantity_g, 0, Movement::Return, ctx.name)?;
                    }
                }
                diesel::update(target)
                    .set((
                        manifests::status.eq("cancelled"),
                        manifests::rejected_reason.eq(Some(reason)),
                        manifests::version.eq(before.version + 1),
                        manifests::updated_at.eq(now_db),
                    ))
                    .execute(conn)?
            }
            ManifestAct::Reject { reason } => {
                if before.status != "in_transit" {
                    return state(
                        "manifest.state",
                        format!("a {} manifest cannot be rejected", before.status),
                    );
                }
                action = "rejected";
                // A load returned under an approval that is over (revoked or expired) cannot
                // be shipped again: its quantity leaves the entry's approved total as well.
                let approval_over = app.status != Status::Approved.as_str();
                for l in &lines {
                    if let Some(item) = approved_line(l.application_line) {
                        move_item(conn, &app, &item, -l.quantity_g, 0, Movement::Return, ctx.name)?;
                        if approval_over
                            && let Some(entry) = &item.entry_id
                            && !apply_movement(
                                conn,
                                entry,
                                Movement::ReleaseApproved,
                                l.quantity_g,
                                Some(&app.id),
                                ctx.name,
                            )?
                        {
                            return Err(DbError::Other(anyhow::anyhow!(
                                "ledger refused releasing {} g on entry {entry}",
                                l.quantity_g
                            )));
                        }
                    }
                }
                diesel::update(target)
                    .set((
                        manifests::status.eq("rejected"),
                        manifests::rejected_reason.eq(Some(reason)),
                        manifests::received_at.eq(Some(now_db)),
                        manifests::received_by.eq(Some(ctx.name)),
                        manifests::version.eq(before.version + 1),
                        manifests::updated_at.eq(now_db),
                    ))
                    .execute(conn)?
            }
            ManifestAct::Receive { accepted, note } => {
                if before.status != "in_transit" {
                    return state(
                        "manifest.state",
                        format!("a {} manifest cannot be received", before.status),
                    );
                }
                let mut problems = Vec::new();
                for (i, (line, _)) in accepted.iter().enumerate() {
                    if !lines.iter().any(|l| l.line == *line) {
                        problems.push((
                            format!("/items/{i}/line"),
                            Invalid::new("manifest.unknown_line", format!("the manifest has no line {line}")),
                        ));
                    }
                }
                for l in &lines {
                    let count = accepted.iter().filter(|(line, _)| *line == l.line).count();
                    if count != 1 {
                        problems.push((
                            "/items".to_string(),
                            Invalid::new(
                                "manifest.receipt_lines",
                                format!("line {} must be confirmed exactly once (found {count})", l.line),
                            ),
                        ));
                    }
                }
                let discrepant = lines.iter().any(|l| {
                    accepted
                        .iter()
                        .find(|(line, _)| *line == l.line)
                        .is_some_and(|(_, a)| is_discrepant(l.quantity_g, *a, ctx.discrepancy_percent))
                });
                if discrepant && note.is_none() {
                    problems.push((
                        "/note".to_string(),
                        Invalid::new(
                            "manifest.discrepancy_note_required",
                            format!(
                                "an accepted quantity differs from the shipped one by more than {}%: say why in a note",
                                ctx.discrepancy_percent
                            ),
                        ),
                    ));
                }
                if !problems.is_empty() {
                    return Ok(Err(ManifestRefusal::Invalid(problems)));
                }
                action = if discrepant {
                    "received_with_discrepancy"
                } else {
                    "received"
                };
                for l in &lines {
                    let Some((_, grams)) = accepted.iter().find(|(line, _)| *line == l.line) else {
                        continue;
                    };
                    diesel::update(
                        manifest_items::table
                            .filter(manifest_items::manifest_id.eq(id))
                            .filter(manifest_items::line.eq(l.line)),
                    )
                    .set(manifest_items::accepted_g.eq(Some(*grams)))
                    .execute(conn)?;
                    if let Some(item) = approved_line(l.application_line) {
                        move_item(conn, &app, &item, 0, *grams, Movement::Receive, ctx.name)?;
                    }
                }
                diesel::update(target)
                    .set((
                        manifests::status.eq("received"),
                        manifests::received_at.eq(Some(now_db)),
                        manifests::received_by.eq(Some(ctx.name)),
                        manifests::discrepancy.eq(discrepant),
                        manifests::discrepancy_note.eq(note.as_deref()),
                        manifests::version.eq(before.version + 1),
                        manifests::updated_at.eq(now_db),
                    ))
                    .execute(conn)?
            }
        };
        if n == 0 {
            return Err(DbError::Conflict("version".into()));
        }
        let after = by_id(conn, id)?.ok_or(DbError::NotFound)?;
        let mut diff = crate::audit::diff(
            Some(&crate::audit::snapshot(&before)),
            Some(&crate::audit::snapshot(&after)),
        );
        if let (ManifestAct::Receive { accepted, .. }, serde_json::Value::Object(m)) = (act, &mut diff) {
            let accepted: Vec<_> = accepted
                .iter()
                .map(|(line, g)| serde_json::json!({ "line": line, "accepted_g": g }))
                .collect();
            m.insert("items".into(), serde_json::json!({ "from": null, "to": accepted }));
        }
        audit::record(conn, "manifest", id, action, diff)?;
        if matches!(act, ManifestAct::Receive { .. } | ManifestAct::Reject { .. }) {
            emit(conn, EventType::ManifestReceived, &after)?;
            if after.discrepancy {
                emit(conn, EventType::ManifestDiscrepancy, &after)?;
            }
        }
        Ok(Ok(after))
    })
}

/// Filters of the manifest list.
#[derive(Debug, Clone, Default)]
pub struct ManifestFilter {
    pub enterprise_id: Option<String>,
    pub operator_id: Option<String>,
    /// Manifests where this province is the source or the receiving side.
    pub province: Option<String>,
    pub application_id: Option<String>,
    pub status: Option<String>,
    pub overdue: Option<bool>,
}

/// Manifests newest first, before `before_id` (keyset).
pub fn list(
    conn: &mut DbConnection,
    f: &ManifestFilter,
    before_id: Option<&str>,
    limit: i64,
) -> DbResult<Vec<ManifestRow>> {
    let mut q = manifests::table.select(ManifestRow::as_select()).into_boxed();
    if let Some(e) = &f.enterprise_id {
        q = q.filter(manifests::enterprise_id.eq(e.clone()));
    }
    if let Some(o) = &f.operator_id {
        q = q.filter(manifests::operator_id.eq(o.clone()));
    }
    if let Some(p) = &f.province {
        q = q.filter(
            manifests::source_province
                .eq(p.clone())
                .or(manifests::receiving_province.eq(p.clone())),
        );
    }
    if let Some(a) = &f.application_id {
        q = q.filter(manifests::application_id.eq(a.clone()));
    }
    if let Some(s) = &f.status {
        q = q.filter(manifests::status.eq(s.clone()));
    }
    match f.overdue {
        Some(true) => q = q.filter(manifests::receipt_overdue_at.is_not_null()),
        Some(false) => q = q.filter(manifests::receipt_overdue_at.is_null()),
        None => {}
    }
    if let Some(b) = before_id {
        q = q.filter(manifests::id.lt(b.to_string()));
    }
    Ok(q.order(manifests::id.desc()).limit(limit).load(conn)?)
}

/// Marks manifests whose receipt is late (a flag and an audit record; nothing else changes).
/// Returns the ids marked; safe to run twice.
pub fn sweep(conn: &mut DbConnection, now: DateTime<Utc>) -> DbResult<Vec<String>> {
    let now_db = to_db_time(now);
    let late: Vec<ManifestRow> = manifests::table
        .filter(manifests::status.eq("in_transit"))
        .filter(manifests::receipt_due_at.lt(now_db))
        .filter(manifests::receipt_overdue_at.is_null())
        // A provisional receipt deadline (a year without the notice) waits for the notice.
        .filter(manifests::receipt_due_provisional.eq(false))
        .select(ManifestRow::as_select())
        .load(conn)?;
    let mut marked = Vec::new();
    for m in late {
        let done = write_tx(conn, |conn| {
            let n = diesel::update(
                manifests::table
                    .find(&m.id)
                    .filter(manifests::status.eq("in_transit"))
                    .filter(manifests::receipt_overdue_at.is_null()),
            )
            .set(manifests::receipt_overdue_at.eq(Some(now_db)))
            .execute(conn)?;
            if n == 1 {
                audit::record(
                    conn,
                    "manifest",
                    &m.id,
                    "receipt_overdue",
                    serde_json::json!({ "receipt_overdue_at": {"from": null, "to": now_db} }),
                )?;
            }
            Ok::<_, DbError>(n == 1)
        })?;
        if done {
            marked.push(m.id);
        }
    }
    Ok(marked)
}

/// Recomputes receipt deadlines that were provisional (after a calendar year is imported).
pub fn recompute_provisional(
    conn: &mut DbConnection,
    cal: &WorkingDayCalendar,
    office_close: NaiveTime,
) -> DbResult<usize> {
    write_tx(conn, |conn| {
        let open: Vec<ManifestRow> = manifests::table
            .filter(manifests::status.eq("in_transit"))
            .filter(manifests::receipt_due_provisional.eq(true))
            .select(ManifestRow::as_select())
            .load(conn)?;
        for m in &open {
            let Some(dispatched) = m.dispatched_at else { continue };
            let due = cal.add_working_days(shanghai_date(dispatched.and_utc()), RECEIPT_WORKING_DAYS);
            let due_on = due.date.to_string();
            diesel::update(manifests::table.find(&m.id))
                .set((
                    manifests::receipt_due_on.eq(Some(&due_on)),
                    manifests::receipt_due_at.eq(Some(to_db_time(deadline_instant(due.date, office_close)))),
                    manifests::receipt_due_provisional.eq(due.provisional),
                ))
                .execute(conn)?;
            audit::record(
                conn,
                "manifest",
                &m.id,
                "deadline_recomputed",
                serde_json::json!({
                    "receipt_due_on": {"from": m.receipt_due_on, "to": due_on},
                    "receipt_due_provisional": {"from": true, "to": due.provisional},
                }),
            )?;
        }
        Ok(open.len())
    })
}
