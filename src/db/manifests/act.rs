//! What a party does to a manifest (dispatch, arrival, receipt, rejection, cancellation), each in
//! one transaction, and the cancellation of unsent manifests when an approval is revoked.

use super::*;

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
