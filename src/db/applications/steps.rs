//! The workflow steps and their clocks: opening, completing and reading steps, acceptance (real
//! or deemed), and recomputing deadlines.

use super::*;

fn due_for(
    cal: &WorkingDayCalendar,
    office_close: NaiveTime,
    kind: StepKind,
    started_on: NaiveDate,
    suspensions: &[Suspension],
    today: NaiveDate,
) -> (NaiveDate, NaiveDateTime, bool) {
    let due = workflow::step_due(cal, kind, started_on, suspensions, today);
    (
        due.date,
        to_db_time(deadline_instant(due.date, office_close)),
        due.provisional,
    )
}

/// A new open step of `kind` started on `started_on`, its due day and instant computed with
/// the calendar (not yet stored).
pub(super) fn new_step(
    cal: &WorkingDayCalendar,
    office_close: NaiveTime,
    app_id: &str,
    kind: StepKind,
    started_on: NaiveDate,
    today: NaiveDate,
) -> StepRow {
    let (due_on, due_at, provisional) = due_for(cal, office_close, kind, started_on, &[], today);
    StepRow {
        id: new_id(),
        application_id: app_id.to_string(),
        kind: kind.as_str().to_string(),
        side: kind.side().as_str().to_string(),
        started_on: started_on.to_string(),
        working_days: kind.working_days() as i32,
        due_on: due_on.to_string(),
        due_at,
        provisional,
        completed_at: None,
        outcome: None,
        overdue_at: None,
    }
}

/// Opens (or restarts) a step and makes it the application's next due instant.
pub(super) fn start_step(
    conn: &mut DbConnection,
    cal: &WorkingDayCalendar,
    office_close: NaiveTime,
    app_id: &str,
    kind: StepKind,
    started_on: NaiveDate,
    today: NaiveDate,
) -> DbResult<StepRow> {
    diesel::delete(
        application_steps::table
            .filter(application_steps::application_id.eq(app_id))
            .filter(application_steps::kind.eq(kind.as_str())),
    )
    .execute(conn)?;
    let step = new_step(cal, office_close, app_id, kind, started_on, today);
    diesel::insert_into(application_steps::table)
        .values(step.clone())
        .execute(conn)?;
    refresh_next(conn, app_id)?;
    Ok(step)
}

/// Keeps the application's next due instant and acting side (what the queue sorts on) in step
/// with its open steps: the earliest due one, the source's first on a tie; and which provinces
/// have a step open (what a queue by side filters on).
fn refresh_next(conn: &mut DbConnection, app_id: &str) -> DbResult<()> {
    let mut open = open_steps(conn, app_id)?;
    open.sort_by_key(|s| (s.due_at, s.side != "source"));
    let first = open.first();
    let side_open = |side: Side| open.iter().any(|s| s.side == side.as_str());
    diesel::update(transfer_applications::table.find(app_id))
        .set((
            transfer_applications::next_due_at.eq(first.map(|s| s.due_at)),
            transfer_applications::next_side.eq(first.map(|s| s.side.clone())),
            transfer_applications::source_step_open.eq(side_open(Side::Source)),
            transfer_applications::receiving_step_open.eq(side_open(Side::Receiving)),
        ))
        .execute(conn)?;
    Ok(())
}

/// The open steps of a case: one, or on the whitelist route with the `consent` policy one per
/// province that has not decided yet.
pub fn open_steps(conn: &mut DbConnection, app_id: &str) -> DbResult<Vec<StepRow>> {
    Ok(application_steps::table
        .filter(application_steps::application_id.eq(app_id))
        .filter(application_steps::completed_at.is_null())
        .order(application_steps::id.asc())
        .select(StepRow::as_select())
        .load(conn)?)
}

/// Completes the open step of one province (the other's runs on).
pub(super) fn complete_side_step(conn: &mut DbConnection, app_id: &str, side: Side, outcome: &str) -> DbResult<()> {
    diesel::update(
        application_steps::table
            .filter(application_steps::application_id.eq(app_id))
            .filter(application_steps::side.eq(side.as_str()))
            .filter(application_steps::completed_at.is_null()),
    )
    .set((
        application_steps::completed_at.eq(Some(db_now())),
        application_steps::outcome.eq(Some(outcome)),
    ))
    .execute(conn)?;
    refresh_next(conn, app_id)
}

pub fn steps(conn: &mut DbConnection, app_id: &str) -> DbResult<Vec<StepRow>> {
    Ok(application_steps::table
        .filter(application_steps::application_id.eq(app_id))
        .order(application_steps::id.asc())
        .select(StepRow::as_select())
        .load(conn)?)
}

pub(super) fn open_step(conn: &mut DbConnection, app_id: &str) -> DbResult<Option<StepRow>> {
    Ok(open_steps(conn, app_id)?.into_iter().next())
}

pub(super) fn complete_open_step(conn: &mut DbConnection, app_id: &str, outcome: &str) -> DbResult<()> {
    diesel::update(
        application_steps::table
            .filter(application_steps::application_id.eq(app_id))
            .filter(application_steps::completed_at.is_null()),
    )
    .set((
        application_steps::completed_at.eq(Some(db_now())),
        application_steps::outcome.eq(Some(outcome)),
    ))
    .execute(conn)?;
    diesel::update(transfer_applications::table.find(app_id))
        .set((
            transfer_applications::next_due_at.eq(None::<NaiveDateTime>),
            transfer_applications::next_side.eq(None::<String>),
            transfer_applications::source_step_open.eq(false),
            transfer_applications::receiving_step_open.eq(false),
        ))
        .execute(conn)?;
    Ok(())
}

/// Completes acceptance: really (today) or deemed (`deemed_on`: the day the materials the
/// acceptance clock ran on arrived).
pub(super) fn accept(
    conn: &mut DbConnection,
    ctx: &ActContext<'_>,
    app: &AppRow,
    route: Route,
    today: NaiveDate,
    deemed_on: Option<NaiveDate>,
) -> DbResult<()> {
    let deemed = deemed_on.is_some();
    let accepted_on = deemed_on.unwrap_or(today);
    complete_open_step(conn, &app.id, if deemed { "deemed_accepted" } else { "accepted" })?;
    diesel::update(transfer_applications::table.find(&app.id))
        .set((
            transfer_applications::accepted_on.eq(Some(accepted_on.to_string())),
            transfer_applications::deemed_accepted.eq(deemed),
        ))
        .execute(conn)?;
    for next in workflow::steps_after_acceptance(route, app.receiving_consent == "consent") {
        start_step(conn, ctx.cal, ctx.office_close, &app.id, next, accepted_on, today)?;
    }
    Ok(())
}

/// Recomputes one step's due date from its start and its suspensions.
pub(super) fn recompute_step(
    conn: &mut DbConnection,
    cal: &WorkingDayCalendar,
    office_close: NaiveTime,
    step_id: &str,
    today: NaiveDate,
) -> DbResult<()> {
    let step: StepRow = application_steps::table
        .find(step_id)
        .select(StepRow::as_select())
        .first(conn)?;
    let kind = StepKind::parse(&step.kind).map_err(|e| DbError::Other(anyhow::anyhow!("{e}")))?;
    let susp: Vec<Suspension> = clock_suspensions::table
        .filter(clock_suspensions::step_id.eq(step_id))
        .select(SuspensionRow::as_select())
        .load(conn)?
        .into_iter()
        .filter_map(|s| {
            let from = NaiveDate::parse_from_str(&s.suspended_on, "%Y-%m-%d").ok()?;
            let until = s
                .resumed_on
                .and_then(|r| NaiveDate::parse_from_str(&r, "%Y-%m-%d").ok());
            Some(Suspension { from, until })
        })
        .collect();
    let started = crate::db::whitelist::parse_date(&step.started_on)?;
    let (due_on, due_at, provisional) = due_for(cal, office_close, kind, started, &susp, today);
    if due_on.to_string() != step.due_on || provisional != step.provisional {
        crate::db::audit::record(
            conn,
            "application_step",
            step_id,
            "deadline_recomputed",
            serde_json::json!({
                "due_on": {"from": step.due_on, "to": due_on.to_string()},
                "provisional": {"from": step.provisional, "to": provisional},
            }),
        )?;
    }
    diesel::update(application_steps::table.find(step_id))
        .set((
            application_steps::due_on.eq(due_on.to_string()),
            application_steps::due_at.eq(due_at),
            application_steps::provisional.eq(provisional),
        ))
        .execute(conn)?;
    if step.completed_at.is_none() {
        refresh_next(conn, &step.application_id)?;
    }
    Ok(())
}

/// Recomputes every open step whose deadline was provisional (after a calendar year is
/// imported). Returns how many steps were recomputed.
pub fn recompute_provisional(
    conn: &mut DbConnection,
    cal: &WorkingDayCalendar,
    office_close: NaiveTime,
    today: NaiveDate,
) -> DbResult<usize> {
    write_tx(conn, |conn| {
        let ids: Vec<String> = application_steps::table
            .filter(application_steps::completed_at.is_null())
            .filter(application_steps::provisional.eq(true))
            .select(application_steps::id)
            .load(conn)?;
        for id in &ids {
            recompute_step(conn, cal, office_close, id, today)?;
        }
        Ok(ids.len())
    })
}
