//! Shipment manifests (电子转移联单): created under an approval, dispatched, then received or
//! rejected by the operator within five working days. Quantities flow into the approval's items
//! (`application_items.shipped_g / received_g`), the application's totals, and the whitelist
//! entry's ledger (`ship`, `return`, `receive`).

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
    /// When the load arrived at the operator: the receipt clock runs from here.
    pub arrived_at: Option<NaiveDateTime>,
    /// Who reported the arrival: `operator`, or `carrier` (through the producer).
    pub arrival_reported_by: Option<String>,
    /// The account that recorded it.
    pub arrival_recorded_by: Option<String>,
    /// 第20条: a trip made on a paper manifest, entered afterwards.
    pub back_filled: bool,
    pub paper_number: Option<String>,
    /// The back-fill was due by this day (10 working days after the trip ended) …
    pub backfill_due_on: Option<String>,
    pub backfill_due_at: Option<NaiveDateTime>,
    /// … and came late (set when it was entered after that instant).
    pub backfill_overdue_at: Option<NaiveDateTime>,
}

/// One discrepancy the operator recorded at receipt, and when it was reported to the receiving
/// province's department.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = manifest_discrepancies)]
pub struct DiscrepancyRow {
    pub manifest_id: String,
    pub seq: i32,
    pub line: i32,
    pub kind: String,
    pub description: String,
    pub decision: String,
    pub recorded_by: String,
    /// The receiving province (GB/T 2260) whose department the report went to.
    pub reported_to: String,
    pub reported_at: NaiveDateTime,
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

/// A trip made on a paper manifest (第20条), back-filled: the paper's number and when the
/// transfer ended (the load handed over).
#[derive(Debug, Clone)]
pub struct PaperTrip {
    pub number: String,
    pub completed_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewManifest {
    pub application_id: String,
    pub enterprise_id: String,
    /// (application line, grams), in the order given.
    pub items: Vec<(i32, i64)>,
    pub transport: Transport,
    /// A back-fill of a paper trip.
    pub paper: Option<PaperTrip>,
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

/// The calendar and the office close, for the deadlines an act sets.
pub struct Clock<'a> {
    pub cal: &'a WorkingDayCalendar,
    pub office_close: NaiveTime,
}

/// Creates a manifest: checks every item against what the approval still allows, draws the
/// serial, and moves the quantities, in one transaction. A back-filled paper trip is created on
/// the road and arrived (its receipt due five working days from today), with its back-fill
/// deadline, flagged overdue when it came after it.
pub fn create(
    conn: &mut DbConnection,
    clock: &Clock<'_>,
    m: &NewManifest,
    now: DateTime<Utc>,
) -> DbResult<CreateOutcome> {
    let today = shanghai_date(now);
    let departure = shanghai_date(m.transport.departure_at);
    // A paper trip is judged on the day it left: the approval and the licence then.
    let trip_day = if m.paper.is_some() { departure.min(today) } else { today };
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
        if let Some(p) = approval_problem(&app, trip_day) {
            problems.push(("/application_id".to_string(), p));
        }
        if let Some(p) = operator_problem(conn, &app.operator_id, trip_day)? {
            problems.push(("/application_id".to_string(), p));
        }
        if let Some(until) = app
            .valid_until
            .as_deref()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        {
            let approved_on = app.approved_at.map(|t| shanghai_date(t.and_utc()));
            if let Some(p) = departure_problem(departure, approved_on, until) {
                problems.push(("/departure_at".into(), p));
            }
        }
        if let Some(paper) = &m.paper
            && let Some(p) = paper_trip_problem(departure, shanghai_date(paper.completed_at), today)
        {
            problems.push(("/paper/completed_at".into(), p));
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
        let mut row = ManifestRow {
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
            arrived_at: None,
            arrival_reported_by: None,
            arrival_recorded_by: None,
            back_filled: false,
            paper_number: None,
            backfill_due_on: None,
            backfill_due_at: None,
            backfill_overdue_at: None,
        };
        if let Some(paper) = &m.paper {
            // On the road and arrived on paper: what is left is the operator's confirmation,
            // due five working days from the back-fill.
            let due = clock
                .cal
                .add_working_days(shanghai_date(paper.completed_at), BACKFILL_WORKING_DAYS);
            let due_at = deadline_instant(due.date, clock.office_close);
            let receipt = clock.cal.add_working_days(today, RECEIPT_WORKING_DAYS);
            row.status = "in_transit".into();
            row.dispatched_at = Some(to_db_time(t.departure_at));
            row.arrived_at = Some(to_db_time(paper.completed_at));
            row.arrival_reported_by = Some("carrier".into());
            row.arrival_recorded_by = Some(m.created_by.clone());
            row.receipt_due_on = Some(receipt.date.to_string());
            row.receipt_due_at = Some(to_db_time(deadline_instant(receipt.date, clock.office_close)));
            row.receipt_due_provisional = receipt.provisional;
            row.back_filled = true;
            row.paper_number = Some(paper.number.clone());
            row.backfill_due_on = Some(due.date.to_string());
            row.backfill_due_at = Some(to_db_time(due_at));
            row.backfill_overdue_at = (now > due_at).then_some(now_db);
        }
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
        emit(conn, EventType::ManifestCreated, &row, &[])?;
        Ok(CreateOutcome::Created(row))
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

pub fn by_id(conn: &mut DbConnection, id: &str) -> DbResult<Option<ManifestRow>> {
    Ok(manifests::table
        .find(id)
        .select(ManifestRow::as_select())
        .first(conn)
        .optional()?)
}

/// The discrepancies recorded at receipt, in order.
pub fn discrepancies_of(conn: &mut DbConnection, manifest_id: &str) -> DbResult<Vec<DiscrepancyRow>> {
    Ok(manifest_discrepancies::table
        .filter(manifest_discrepancies::manifest_id.eq(manifest_id))
        .order(manifest_discrepancies::seq.asc())
        .select(DiscrepancyRow::as_select())
        .load(conn)?)
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
    /// The producer: the vehicle has left.
    Dispatch,
    /// The load arrived at the operator (recorded by the operator, or by the producer for its
    /// carrier): the five-working-day receipt clock starts from this instant.
    Arrive {
        at: DateTime<Utc>,
        reported_by: ArrivalReporter,
    },
    /// The producer: the trip will not happen; the quantity goes back to the approval.
    Cancel { reason: String },
    /// The operator: accepted grams per manifest line, what it found different with its
    /// decision on each, and a note.
    Receive {
        accepted: Vec<(i32, i64)>,
        discrepancies: Vec<Discrepancy>,
        note: Option<String>,
    },
    /// The operator refuses the load; it goes back to the producer.
    Reject { reason: String },
}

/// Who reported an arrival.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArrivalReporter {
    Operator,
    Carrier,
}

impl ArrivalReporter {
    pub fn as_str(self) -> &'static str {
        match self {
            ArrivalReporter::Operator => "operator",
            ArrivalReporter::Carrier => "carrier",
        }
    }
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

/// The receipt clock from an arrival on `day`: (due day, due instant, provisional).
fn receipt_clock(ctx: &ManifestContext<'_>, day: NaiveDate) -> (String, NaiveDateTime, bool) {
    let due = ctx.cal.add_working_days(day, RECEIPT_WORKING_DAYS);
    (
        due.date.to_string(),
        to_db_time(deadline_instant(due.date, ctx.office_close)),
        due.provisional,
    )
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
        let mut recorded: Vec<DiscrepancyRow> = Vec::new();
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
                diesel::update(target)
                    .set((
                        manifests::status.eq("in_transit"),
                        manifests::dispatched_at.eq(Some(now_db)),
                        manifests::version.eq(before.version + 1),
                        manifests::updated_at.eq(now_db),
                    ))
                    .execute(conn)?
            }
            ManifestAct::Arrive { at, reported_by } => {
                if before.status != "in_transit" {
                    return state("manifest.state", format!("a {} manifest cannot arrive", before.status));
                }
                if before.arrived_at.is_some() {
                    return state("manifest.already_arrived", "the arrival is already recorded".into());
                }
                let at_db = to_db_time(*at);
                if *at > ctx.now || before.dispatched_at.is_some_and(|d| at_db < d) {
                    return Ok(Err(ManifestRefusal::Invalid(vec![(
                        "/arrived_at".into(),
                        Invalid::new(
                            "manifest.arrival_time",
                            "the arrival is after the dispatch and not in the future",
                        ),
                    )])));
                }
                action = "arrived";
                let (due_on, due_at, provisional) = receipt_clock(ctx, shanghai_date(*at));
                diesel::update(target)
                    .set((
                        manifests::arrived_at.eq(Some(at_db)),
                        manifests::arrival_reported_by.eq(Some(reported_by.as_str())),
                        manifests::arrival_recorded_by.eq(Some(ctx.name)),
                        manifests::receipt_due_on.eq(Some(due_on)),
                        manifests::receipt_due_at.eq(Some(due_at)),
                        manifests::receipt_due_provisional.eq(provisional),
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
                let (due_on, due_at, provisional) = receipt_clock(ctx, today);
                let arrived = before.arrived_at.is_none();
                diesel::update(target)
                    .set((
                        manifests::status.eq("rejected"),
                        manifests::arrived_at.eq(before.arrived_at.or(Some(now_db))),
                        manifests::arrival_reported_by.eq(before
                            .arrival_reported_by
                            .clone()
                            .or(arrived.then(|| "operator".to_string()))),
                        manifests::arrival_recorded_by.eq(before
                            .arrival_recorded_by
                            .clone()
                            .or(arrived.then(|| ctx.name.to_string()))),
                        manifests::receipt_due_on.eq(before.receipt_due_on.clone().or(Some(due_on))),
                        manifests::receipt_due_at.eq(before.receipt_due_at.or(Some(due_at))),
                        manifests::receipt_due_provisional.eq(if arrived {
                            provisional
                        } else {
                            before.receipt_due_provisional
                        }),
                        manifests::rejected_reason.eq(Some(reason)),
                        manifests::received_at.eq(Some(now_db)),
                        manifests::received_by.eq(Some(ctx.name)),
                        manifests::version.eq(before.version + 1),
                        manifests::updated_at.eq(now_db),
                    ))
                    .execute(conn)?
            }
            ManifestAct::Receive {
                accepted,
                discrepancies,
                note,
            } => {
                if before.status != "in_transit" {
                    return state(
                        "manifest.state",
                        format!("a {} manifest cannot be received", before.status),
                    );
                }
                let shipped: Vec<ShippedLine> = lines
                    .iter()
                    .map(|l| ShippedLine {
                        line: l.line,
                        shipped_g: l.quantity_g,
                    })
                    .collect();
                let found = match check_receipt(
                    &shipped,
                    accepted,
                    discrepancies,
                    note.as_deref(),
                    ctx.discrepancy_percent,
                ) {
                    Ok(found) => found,
                    Err(problems) => return Ok(Err(ManifestRefusal::Invalid(problems))),
                };
                let discrepant = !found.is_empty();
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
                    let refused = found.iter().any(|d| {
                        d.line == l.line && d.decision == crate::domain::manifest::DiscrepancyDecision::Refuse
                    });
                    if let Some(item) = approved_line(l.application_line) {
                        if refused {
                            // A refused line goes back to the producer, like a rejected load.
                            move_item(conn, &app, &item, -l.quantity_g, 0, Movement::Return, ctx.name)?;
                        } else {
                            move_item(conn, &app, &item, 0, *grams, Movement::Receive, ctx.name)?;
                        }
                    }
                }
                for (seq, d) in found.iter().enumerate() {
                    let row = DiscrepancyRow {
                        manifest_id: id.to_string(),
                        seq: seq as i32,
                        line: d.line,
                        kind: d.kind.as_str().to_string(),
                        description: d.description.clone(),
                        decision: d.decision.as_str().to_string(),
                        recorded_by: ctx.name.to_string(),
                        reported_to: before.receiving_province.clone(),
                        reported_at: now_db,
                    };
                    diesel::insert_into(manifest_discrepancies::table)
                        .values(row.clone())
                        .execute(conn)?;
                    recorded.push(row);
                }
                // Received without a recorded arrival: it arrived now, and is on time.
                let (due_on, due_at, provisional) = receipt_clock(ctx, today);
                let arrived = before.arrived_at.is_none();
                diesel::update(target)
                    .set((
                        manifests::status.eq("received"),
                        manifests::arrived_at.eq(before.arrived_at.or(Some(now_db))),
                        manifests::arrival_reported_by.eq(before
                            .arrival_reported_by
                            .clone()
                            .or(arrived.then(|| "operator".to_string()))),
                        manifests::arrival_recorded_by.eq(before
                            .arrival_recorded_by
                            .clone()
                            .or(arrived.then(|| ctx.name.to_string()))),
                        manifests::receipt_due_on.eq(before.receipt_due_on.clone().or(Some(due_on))),
                        manifests::receipt_due_at.eq(before.receipt_due_at.or(Some(due_at))),
                        manifests::receipt_due_provisional.eq(if arrived {
                            provisional
                        } else {
                            before.receipt_due_provisional
                        }),
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
            if !recorded.is_empty() {
                m.insert(
                    "discrepancies".into(),
                    serde_json::json!({ "from": null, "to": recorded }),
                );
            }
        }
        audit::record(conn, "manifest", id, action, diff)?;
        if matches!(act, ManifestAct::Receive { .. } | ManifestAct::Reject { .. }) {
            emit(conn, EventType::ManifestReceived, &after, &[])?;
            if after.discrepancy {
                emit(conn, EventType::ManifestDiscrepancy, &after, &recorded)?;
                emit(conn, EventType::ManifestDiscrepancyReported, &after, &recorded)?;
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
            // The clock runs from arrival.
            let Some(arrived) = m.arrived_at else { continue };
            let due = cal.add_working_days(shanghai_date(arrived.and_utc()), RECEIPT_WORKING_DAYS);
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
