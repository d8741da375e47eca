//! The sweeper's duties on applications: deemed acceptance, overdue marking, expiry with release
//! of the unused quantity, and reminders.

use super::*;

/// What the sweeper did to applications.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct ApplicationSweep {
    pub deemed_accepted: Vec<String>,
    /// Late by a provisional deadline: left alone until the year's notice is imported.
    pub waiting_for_notice: Vec<String>,
    pub overdue_marked: Vec<String>,
    pub expired: Vec<String>,
    /// Steps whose deciding province was reminded that they are due by the next working day.
    pub reminded: Vec<String>,
    /// Approvals whose parties were told they expire within five working days.
    pub expiry_notices: Vec<String>,
}

/// Working days before an approval's end at which its parties are told.
pub const EXPIRY_NOTICE_WORKING_DAYS: u32 = 5;

/// Reminders, each sent once: a step due by the end of the next working day (to the deciding
/// province), and an approval ending within five working days (to every party).
fn remind(
    conn: &mut DbConnection,
    cal: &WorkingDayCalendar,
    now: DateTime<Utc>,
    report: &mut ApplicationSweep,
) -> DbResult<()> {
    let now_db = to_db_time(now);
    let today = shanghai_date(now);
    let tomorrow = cal.add_working_days(today, 1).date.to_string();
    let soon: Vec<StepRow> = application_steps::table
        .filter(application_steps::completed_at.is_null())
        .filter(application_steps::overdue_at.is_null())
        .filter(application_steps::reminded_at.is_null())
        .filter(application_steps::due_on.le(&tomorrow))
        .filter(application_steps::due_at.ge(now_db))
        .select(StepRow::as_select())
        .load(conn)?;
    for step in soon {
        // A suspended clock is not running down.
        let suspended = clock_suspensions::table
            .filter(clock_suspensions::step_id.eq(&step.id))
            .filter(clock_suspensions::resumed_on.is_null())
            .count()
            .get_result::<i64>(conn)?
            > 0;
        if suspended {
            continue;
        }
        let sent = write_tx(conn, |conn| {
            let n = diesel::update(
                application_steps::table
                    .find(&step.id)
                    .filter(application_steps::reminded_at.is_null()),
            )
            .set(application_steps::reminded_at.eq(Some(now_db)))
            .execute(conn)?;
            if n == 0 {
                return Ok::<bool, DbError>(false);
            }
            let Some(app) = app_by_id(conn, &step.application_id)? else {
                return Ok(false);
            };
            let province = if step.side == "receiving" {
                &app.receiving_province
            } else {
                &app.source_province
            };
            let detail = serde_json::json!({ "step": step.kind, "side": step.side, "due_on": step.due_on, "due_at": step.due_at.and_utc().to_rfc3339(), "provisional": step.provisional });
            crate::db::outbox::emit(
                conn,
                crate::webhooks::EventType::StepDueTomorrow,
                "transfer_application",
                &app.id,
                crate::webhooks::Audience::new().with(crate::webhooks::OwnerKind::Province, province),
                crate::db::outbox::application_data(&app, &detail),
            )?;
            crate::db::audit::record(
                conn,
                "application_step",
                &step.id,
                "reminded",
                serde_json::json!({ "reminded_at": {"from": null, "to": now_db} }),
            )?;
            Ok(true)
        })?;
        if sent {
            report.reminded.push(step.application_id.clone());
        }
    }
    let horizon = cal.add_working_days(today, EXPIRY_NOTICE_WORKING_DAYS).date.to_string();
    let ending: Vec<AppRow> = transfer_applications::table
        .filter(transfer_applications::status.eq(Status::Approved.as_str()))
        .filter(transfer_applications::expiry_notice_at.is_null())
        .filter(transfer_applications::valid_until.le(&horizon))
        .filter(transfer_applications::valid_until.ge(today.to_string()))
        .select(AppRow::as_select())
        .load(conn)?;
    for app in ending {
        let sent = write_tx(conn, |conn| {
            let n = diesel::update(
                transfer_applications::table
                    .find(&app.id)
                    .filter(transfer_applications::expiry_notice_at.is_null()),
            )
            .set(transfer_applications::expiry_notice_at.eq(Some(now_db)))
            .execute(conn)?;
            if n == 0 {
                return Ok::<bool, DbError>(false);
            }
            let detail = serde_json::json!({ "valid_until": app.valid_until, "quantity_g": app.quantity_g, "shipped_g": app.shipped_g });
            crate::db::outbox::emit(
                conn,
                crate::webhooks::EventType::ApprovalExpiring,
                "transfer_application",
                &app.id,
                crate::db::outbox::application_audience(&app),
                crate::db::outbox::application_data(&app, &detail),
            )?;
            crate::db::audit::record(
                conn,
                "transfer_application",
                &app.id,
                "expiry_notice",
                serde_json::json!({ "expiry_notice_at": {"from": null, "to": now_db} }),
            )?;
            Ok(true)
        })?;
        if sent {
            report.expiry_notices.push(app.id.clone());
        }
    }
    Ok(())
}

/// The sweeper's duties: deemed acceptance, overdue marking (an escalation record in the
/// timeline), approval expiry with release of the unused quantity. Safe to run twice.
pub fn sweep(
    conn: &mut DbConnection,
    cal: &WorkingDayCalendar,
    office_close: NaiveTime,
    now: DateTime<Utc>,
) -> DbResult<ApplicationSweep> {
    let mut report = ApplicationSweep::default();
    let now_db = to_db_time(now);
    let today = shanghai_date(now);
    let late: Vec<StepRow> = application_steps::table
        .filter(application_steps::completed_at.is_null())
        .filter(application_steps::due_at.lt(now_db))
        .filter(application_steps::overdue_at.is_null())
        .select(StepRow::as_select())
        .load(conn)?;
    for step in late {
        // A deadline that rests on a year without the State Council's notice is provisional:
        // nothing irreversible (deemed acceptance, escalation) happens on it. It waits until the
        // notice is imported and the deadline recomputed.
        if step.provisional {
            report.waiting_for_notice.push(step.application_id.clone());
            continue;
        }
        // A suspended clock is not late.
        if clock_suspensions::table
            .filter(clock_suspensions::step_id.eq(&step.id))
            .filter(clock_suspensions::resumed_on.is_null())
            .count()
            .get_result::<i64>(conn)?
            > 0
        {
            continue;
        }
        if step.kind == StepKind::Acceptance.as_str() {
            let ctx = ActContext {
                cal,
                office_close,
                actor: Actor::System,
                name: "system",
                role: "system",
                now,
            };
            let done = write_tx(conn, |conn| {
                let Some(app) = app_by_id(conn, &step.application_id)? else {
                    return Ok(false);
                };
                let status = Status::parse(&app.status).map_err(|e| DbError::Other(anyhow::anyhow!("{e}")))?;
                let route = Route::parse(&app.route).map_err(|e| DbError::Other(anyhow::anyhow!("{e}")))?;
                let Ok(t) = workflow::check(route, status, Action::DeemAccept, Actor::System) else {
                    return Ok(false);
                };
                // It counts as accepted on the day the materials the clock ran on arrived: the
                // resubmission after a correction notice, else the first receipt.
                let received = crate::db::whitelist::parse_date(&app.received_on)?;
                let resubmitted = (status == Status::Resubmitted)
                    .then(|| crate::db::whitelist::parse_date(&step.started_on))
                    .transpose()?;
                let deemed_on = workflow::deemed_accepted_on(received, resubmitted);
                accept(conn, &ctx, &app, route, today, Some(deemed_on))?;
                let n = diesel::update(
                    transfer_applications::table
                        .find(&app.id)
                        .filter(transfer_applications::version.eq(app.version)),
                )
                .set((
                    transfer_applications::status.eq(t.to.as_str()),
                    transfer_applications::version.eq(app.version + 1),
                    transfer_applications::updated_at.eq(now_db),
                ))
                .execute(conn)?;
                if n == 0 {
                    return Err(DbError::Conflict("version".into()));
                }
                let detail = serde_json::json!({ "accepted_on": deemed_on.to_string() });
                event(conn, &app.id, t.event, "system", "system", detail.clone())?;
                audit_app(conn, Some(&app), &app.id, t.event, &detail)?;
                Ok(true)
            });
            match done {
                Ok(true) => report.deemed_accepted.push(step.application_id.clone()),
                Ok(false) | Err(DbError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        } else {
            write_tx(conn, |conn| {
                let n = diesel::update(
                    application_steps::table
                        .find(&step.id)
                        .filter(application_steps::overdue_at.is_null()),
                )
                .set(application_steps::overdue_at.eq(Some(now_db)))
                .execute(conn)?;
                if n == 1 {
                    // No deemed consent: a late step is flagged and escalated, never approved.
                    // The province whose step it is: on the whitelist route with the consent
                    // policy, the one that has not decided yet.
                    let province = app_by_id(conn, &step.application_id)?
                        .map(|a| {
                            if step.side == "receiving" {
                                a.receiving_province
                            } else {
                                a.source_province
                            }
                        })
                        .unwrap_or_default();
                    let detail = serde_json::json!({ "step": step.kind, "side": step.side, "province": province, "due_at": step.due_at.and_utc().to_rfc3339(), "escalated_to": "provincial department head" });
                    event(
                        conn,
                        &step.application_id,
                        "overdue",
                        "system",
                        "system",
                        detail.clone(),
                    )?;
                    crate::db::audit::record(
                        conn,
                        "application_step",
                        &step.id,
                        "overdue",
                        serde_json::json!({
                            "overdue_at": {"from": null, "to": now_db},
                            "detail": {"from": null, "to": detail},
                        }),
                    )?;
                }
                Ok::<_, DbError>(())
            })?;
            report.overdue_marked.push(step.application_id.clone());
        }
    }
    let ended: Vec<AppRow> = transfer_applications::table
        .filter(transfer_applications::status.eq(Status::Approved.as_str()))
        .filter(transfer_applications::valid_until.lt(today.to_string()))
        .select(AppRow::as_select())
        .load(conn)?;
    for app in ended {
        let done = write_tx(conn, |conn| {
            let n = diesel::update(
                transfer_applications::table
                    .find(&app.id)
                    .filter(transfer_applications::version.eq(app.version)),
            )
            .set((
                transfer_applications::status.eq(Status::Expired.as_str()),
                transfer_applications::version.eq(app.version + 1),
                transfer_applications::updated_at.eq(now_db),
            ))
            .execute(conn)?;
            if n == 0 {
                return Ok::<bool, DbError>(false);
            }
            release_unshipped(conn, &app.id, "system")?;
            let detail = serde_json::json!({ "valid_until": app.valid_until });
            event(conn, &app.id, "expired", "system", "system", detail.clone())?;
            audit_app(conn, Some(&app), &app.id, "expired", &detail)?;
            Ok(true)
        })?;
        if done {
            report.expired.push(app.id);
        }
    }
    remind(conn, cal, now, &mut report)?;
    Ok(report)
}
