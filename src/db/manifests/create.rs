//! Creating a manifest under an approval: the new manifest as the service hands it over, its
//! gap-free number, and the one transaction that checks and stores it.

use super::*;

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
