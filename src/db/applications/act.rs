//! One act of a party on a case: checked against the workflow and applied in one transaction.

use super::*;

pub use crate::domain::workflow::Act;

/// Why an act was refused.
#[derive(Debug, Clone)]
pub enum ActRefusal {
    /// Not this party's step (403).
    NotYours(Invalid),
    /// Not possible in the current state (409).
    State(Invalid),
    /// If-Match named an older version (412).
    Stale { current: i32 },
    /// The act's input does not fit this step (422), as (JSON pointer, problem).
    Input(Vec<(String, Invalid)>),
}

pub struct ActContext<'a> {
    pub cal: &'a WorkingDayCalendar,
    pub office_close: NaiveTime,
    pub actor: Actor,
    pub name: &'a str,
    pub role: &'a str,
    pub now: DateTime<Utc>,
}

/// The regulator who acts on a step of this side.
fn side_actor(side: &str) -> Actor {
    if side == "source" {
        Actor::SourceRegulator
    } else {
        Actor::ReceivingRegulator
    }
}

fn state_err(code: &'static str, msg: impl Into<String>) -> ActRefusal {
    ActRefusal::State(Invalid::new(code, msg))
}

/// Applies one act to an application, inside one transaction. `expected_version` is the
/// If-Match version when the client sent one.
pub fn act(
    conn: &mut DbConnection,
    ctx: &ActContext<'_>,
    app_id: &str,
    expected_version: Option<i32>,
    act: &Act,
) -> DbResult<Result<AppRow, ActRefusal>> {
    let today = shanghai_date(ctx.now);
    write_tx(conn, |conn| {
        let app = app_by_id(conn, app_id)?.ok_or(DbError::NotFound)?;
        if let Some(v) = expected_version
            && v != app.version
        {
            return Ok(Err(ActRefusal::Stale { current: app.version }));
        }
        let status = Status::parse(&app.status).map_err(|e| DbError::Other(anyhow::anyhow!("{e}")))?;
        let route = Route::parse(&app.route).map_err(|e| DbError::Other(anyhow::anyhow!("{e}")))?;
        let check = |action: Action| workflow::check(route, status, action, ctx.actor);
        let refusal = |e: Invalid| {
            if e.code == "workflow.not_your_step" {
                ActRefusal::NotYours(e)
            } else {
                ActRefusal::State(e)
            }
        };
        let mut new_status = status;
        let mut detail = serde_json::json!({});
        let kind: &str;
        match act {
            Act::Accept => {
                let t = match check(Action::Accept) {
                    Ok(t) => t,
                    Err(e) => return Ok(Err(refusal(e))),
                };
                kind = t.event;
                new_status = t.to;
                accept(conn, ctx, &app, route, today, None)?;
            }
            Act::RefuseAcceptance { reasons } => {
                let t = match check(Action::RefuseAcceptance) {
                    Ok(t) => t,
                    Err(e) => return Ok(Err(refusal(e))),
                };
                kind = t.event;
                new_status = t.to;
                complete_open_step(conn, &app.id, "not_accepted")?;
                move_items(conn, &app, Movement::Release, ctx.name)?;
                let number = issue_refusal(conn, &app, Series::NotAccepted, reasons, ctx.now)?;
                detail = serde_json::json!({ "reasons": reasons, "refusal_number": number });
            }
            Act::RequestCorrection { problems } => {
                let t = match check(Action::RequestCorrection) {
                    Ok(t) => t,
                    Err(e) => return Ok(Err(refusal(e))),
                };
                if app.correction_notice.is_some() {
                    return Ok(Err(state_err(
                        "workflow.correction_once",
                        "the one-time correction notice was already sent",
                    )));
                }
                kind = t.event;
                new_status = t.to;
                complete_open_step(conn, &app.id, "correction_requested")?;
                diesel::update(transfer_applications::table.find(&app.id))
                    .set(
                        transfer_applications::correction_notice
                            .eq(Some(serde_json::to_string(problems).unwrap_or_default())),
                    )
                    .execute(conn)?;
                detail = serde_json::json!({ "problems": problems });
            }
            Act::Resubmit { note } => {
                let t = match check(Action::Resubmit) {
                    Ok(t) => t,
                    Err(e) => return Ok(Err(refusal(e))),
                };
                kind = t.event;
                new_status = t.to;
                // The acceptance clock starts again from the day the corrected materials arrive.
                start_step(
                    conn,
                    ctx.cal,
                    ctx.office_close,
                    &app.id,
                    StepKind::Acceptance,
                    today,
                    today,
                )?;
                detail = serde_json::json!({ "note": note });
            }
            Act::Withdraw { reason } => {
                let t = match check(Action::Withdraw) {
                    Ok(t) => t,
                    Err(e) => return Ok(Err(refusal(e))),
                };
                kind = t.event;
                new_status = t.to;
                complete_open_step(conn, &app.id, "withdrawn")?;
                move_items(conn, &app, Movement::Release, ctx.name)?;
                detail = serde_json::json!({ "reason": reason });
            }
            Act::Decide {
                side,
                approve,
                reasons,
                conditions,
                letter,
            } => {
                let own_side = match ctx.actor {
                    Actor::SourceRegulator => Some(Side::Source),
                    Actor::ReceivingRegulator => Some(Side::Receiving),
                    _ => None,
                };
                if own_side != Some(*side) {
                    return Ok(Err(ActRefusal::NotYours(Invalid::new(
                        "workflow.not_your_side",
                        format!("the {} side is not this regulator's", side.as_str()),
                    ))));
                }
                // On the standard route each step belongs to one province.
                if route == Route::Standard
                    && let Some(step) = open_step(conn, &app.id)?
                    && step.side != side.as_str()
                {
                    return Ok(Err(ActRefusal::NotYours(Invalid::new(
                        "workflow.not_your_step",
                        format!("the running step ({}) is the {} province's", step.kind, step.side),
                    ))));
                }
                let action = match (route, status, side, approve) {
                    (Route::Standard, Status::UnderReview, Side::Source, true) => Action::SendConsultation,
                    (Route::Standard, Status::ConsultationSent, Side::Receiving, true) => Action::ReceivingAgree,
                    (Route::Standard, Status::ConsultationSent, Side::Receiving, false) => Action::ReceivingDisagree,
                    (_, _, _, true) => Action::Approve,
                    (_, _, _, false) => Action::Refuse,
                };
                let t = match check(action) {
                    Ok(t) => t,
                    Err(e) => return Ok(Err(refusal(e))),
                };
                let previous = decisions_of(conn, &app.id)?;
                if route == Route::Whitelist && previous.iter().any(|d| d.side == side.as_str()) {
                    return Ok(Err(state_err(
                        "workflow.already_decided",
                        format!("the {} side has already decided", side.as_str()),
                    )));
                }
                // 第26条: the final decision rests on the receiving province's opinion.
                if route == Route::Standard && status == Status::ReceivingReplied {
                    let agreed = previous
                        .iter()
                        .rev()
                        .find(|d| d.side == Side::Receiving.as_str())
                        .is_some_and(|d| d.outcome == "approve");
                    if let Err(why) = workflow::final_decision_allowed(*approve, agreed) {
                        return Ok(Err(ActRefusal::State(why)));
                    }
                }
                // The consultation letter and the reply are the decisions of their steps.
                let letter_kind = workflow::letter_of(route, status, *side, *approve);
                let letter = match (letter_kind, letter) {
                    (None, None) => None,
                    (None, Some(_)) => {
                        return Ok(Err(ActRefusal::Input(vec![(
                            "/letter".into(),
                            Invalid::new(
                                "letter.unexpected",
                                "only the consultation letter (the source's agreeing review) and the receiving province's reply carry a letter",
                            ),
                        )])));
                    }
                    (Some(k), None) => {
                        return Ok(Err(ActRefusal::Input(vec![(
                            "/letter".into(),
                            Invalid::new(
                                "letter.required",
                                match k {
                                    LetterKind::Consultation => {
                                        "the consultation letter (商请函): give its number and date"
                                    }
                                    LetterKind::Reply => "the reply (复函): give its number and date",
                                },
                            ),
                        )])));
                    }
                    (Some(k), Some(l)) => {
                        let parsed = match crate::domain::documents::Letter::parse(&l.number, &l.date) {
                            Ok(p) => p,
                            Err(problems) => {
                                return Ok(Err(ActRefusal::Input(
                                    problems.into_iter().map(|(f, i)| (format!("/letter/{f}"), i)).collect(),
                                )));
                            }
                        };
                        let not_before = match k {
                            LetterKind::Consultation => app.accepted_on.as_deref(),
                            LetterKind::Reply => app.consultation_date.as_deref(),
                        }
                        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                        .unwrap_or(NaiveDate::MIN);
                        if let Err(why) = parsed.check_date(not_before, today) {
                            return Ok(Err(ActRefusal::Input(vec![("/letter/date".into(), why)])));
                        }
                        Some((k, parsed))
                    }
                };
                if action == Action::Approve
                    && let Some(why) = approval_blocker(conn, &app, route, today)?
                {
                    return Ok(Err(ActRefusal::State(why)));
                }
                match &letter {
                    Some((LetterKind::Consultation, l)) => {
                        diesel::update(transfer_applications::table.find(&app.id))
                            .set((
                                transfer_applications::consultation_number.eq(Some(&l.number)),
                                transfer_applications::consultation_date.eq(Some(l.date.to_string())),
                            ))
                            .execute(conn)?;
                    }
                    Some((LetterKind::Reply, l)) => {
                        diesel::update(transfer_applications::table.find(&app.id))
                            .set((
                                transfer_applications::reply_number.eq(Some(&l.number)),
                                transfer_applications::reply_date.eq(Some(l.date.to_string())),
                            ))
                            .execute(conn)?;
                    }
                    None => {}
                }
                diesel::insert_into(decisions::table)
                    .values(DecisionRow {
                        id: new_id(),
                        application_id: app.id.clone(),
                        side: side.as_str().to_string(),
                        outcome: if *approve { "approve" } else { "refuse" }.to_string(),
                        reasons: serde_json::to_string(reasons).unwrap_or_default(),
                        conditions: serde_json::to_string(conditions).unwrap_or_default(),
                        decided_by: ctx.name.to_string(),
                        decided_at: to_db_time(ctx.now),
                    })
                    .execute(conn)?;
                kind = t.event;
                new_status = t.to;
                if route == Route::Whitelist && *approve {
                    let approved =
                        |s: Side| previous.iter().any(|d| d.side == s.as_str() && d.outcome == "approve") || s == *side;
                    new_status = workflow::whitelist_after_approval(
                        app.receiving_consent == "consent",
                        approved(Side::Source),
                        approved(Side::Receiving),
                    );
                }
                detail = serde_json::json!({ "side": side.as_str(), "outcome": if *approve { "approve" } else { "refuse" }, "reasons": reasons, "conditions": conditions });
                if let Some((k, l)) = &letter {
                    detail["letter"] =
                        serde_json::json!({ "kind": k.as_str(), "number": l.number, "date": l.date.to_string() });
                }
                match new_status {
                    Status::Approved => {
                        complete_open_step(conn, &app.id, "approved")?;
                        // The approval is issued from the stored row, which now holds the letters.
                        let app_now = app_by_id(conn, &app.id)?.ok_or(DbError::NotFound)?;
                        let (number, valid_until) = issue_approval(conn, &app_now, ctx.now, ctx.name)?;
                        detail["approval_number"] = serde_json::json!(number);
                        detail["valid_until"] = serde_json::json!(valid_until.to_string());
                    }
                    Status::Refused => {
                        complete_open_step(conn, &app.id, "refused")?;
                        move_items(conn, &app, Movement::Release, ctx.name)?;
                        // Whichever opinion ended it, the refusal is the source province's
                        // numbered decision (第26条), with the reasons given.
                        let number = issue_refusal(conn, &app, Series::NotPermitted, reasons, ctx.now)?;
                        detail["refusal_number"] = serde_json::json!(number);
                    }
                    // A whitelist case under review after one province's approval: that
                    // province's step is done, the other's runs on.
                    Status::UnderReview if route == Route::Whitelist => {
                        complete_side_step(conn, &app.id, *side, "approved")?;
                    }
                    Status::ConsultationSent => {
                        complete_open_step(conn, &app.id, "consultation_sent")?;
                        start_step(
                            conn,
                            ctx.cal,
                            ctx.office_close,
                            &app.id,
                            StepKind::ReceivingOpinion,
                            today,
                            today,
                        )?;
                    }
                    Status::ReceivingReplied => {
                        complete_open_step(
                            conn,
                            &app.id,
                            if *approve {
                                "receiving_agreed"
                            } else {
                                "receiving_disagreed"
                            },
                        )?;
                        start_step(
                            conn,
                            ctx.cal,
                            ctx.office_close,
                            &app.id,
                            StepKind::SourceDecision,
                            today,
                            today,
                        )?;
                    }
                    _ => {}
                }
            }
            Act::Reroute { reason } => {
                let t = match check(Action::Reroute) {
                    Ok(t) => t,
                    Err(e) => return Ok(Err(refusal(e))),
                };
                let stopped = stopped_entries(conn, &app.id)?;
                if stopped.is_empty() {
                    return Ok(Err(state_err(
                        "workflow.reroute_needless",
                        "every whitelist entry this case draws on still allows the whitelist route",
                    )));
                }
                kind = t.event;
                new_status = t.to;
                // The reservation is released and the items no longer draw on any entry.
                move_items(conn, &app, Movement::Release, ctx.name)?;
                diesel::update(application_items::table.filter(application_items::application_id.eq(&app.id)))
                    .set(application_items::entry_id.eq(None::<String>))
                    .execute(conn)?;
                let mut reasons: Vec<String> = serde_json::from_str(&app.route_reasons).unwrap_or_default();
                reasons.push(format!("moved to the standard route: {reason}"));
                diesel::update(transfer_applications::table.find(&app.id))
                    .set((
                        transfer_applications::route.eq(Route::Standard.as_str()),
                        transfer_applications::route_reasons.eq(serde_json::to_string(&reasons).unwrap_or_default()),
                    ))
                    .execute(conn)?;
                // Accepted already: the standard clock starts with the source's review today.
                // Not yet accepted: the acceptance step runs on, the same on both routes.
                if status == Status::UnderReview {
                    complete_open_step(conn, &app.id, "rerouted")?;
                    start_step(
                        conn,
                        ctx.cal,
                        ctx.office_close,
                        &app.id,
                        StepKind::SourceReview,
                        today,
                        today,
                    )?;
                }
                let ids: Vec<&str> = stopped.iter().map(|e| e.id.as_str()).collect();
                detail = serde_json::json!({ "reason": reason, "route": "standard", "released_entries": ids });
            }
            Act::Revoke { reasons } => {
                let t = match check(Action::Revoke) {
                    Ok(t) => t,
                    Err(e) => return Ok(Err(refusal(e))),
                };
                kind = t.event;
                new_status = t.to;
                // Loads not yet on the road are cancelled; what was not shipped goes back to
                // the entries. Loads on the road may still be received.
                let cancelled =
                    crate::db::manifests::cancel_unsent(conn, &app, ctx.name, "the approval was revoked (撤销)")?;
                release_unshipped(conn, &app.id, ctx.name)?;
                diesel::update(transfer_applications::table.find(&app.id))
                    .set((
                        transfer_applications::revoked_at.eq(Some(to_db_time(ctx.now))),
                        transfer_applications::revocation_reasons
                            .eq(Some(serde_json::to_string(reasons).unwrap_or_default())),
                    ))
                    .execute(conn)?;
                detail = serde_json::json!({
                    "reasons": reasons,
                    "revoked_on": today.to_string(),
                    "approval_number": app.approval_number,
                    "cancelled_manifests": cancelled,
                });
            }
            Act::SuspendClock { .. } | Act::ResumeClock
                if !matches!(ctx.actor, Actor::SourceRegulator | Actor::ReceivingRegulator) =>
            {
                return Ok(Err(ActRefusal::NotYours(Invalid::new(
                    "workflow.not_your_step",
                    "only a regulator of the case suspends its clock",
                ))));
            }
            Act::SuspendClock { reason } => {
                // Each province suspends only its own running step (on the whitelist route with
                // the consent policy both may run at once).
                let open = open_steps(conn, &app.id)?;
                if open.is_empty() {
                    return Ok(Err(state_err("workflow.no_open_step", "no step is running")));
                }
                let Some(step) = open.into_iter().find(|s| side_actor(&s.side) == ctx.actor) else {
                    return Ok(Err(ActRefusal::NotYours(Invalid::new(
                        "workflow.not_your_step",
                        "the running step is the other province's",
                    ))));
                };
                let step_kind = StepKind::parse(&step.kind).map_err(|e| DbError::Other(anyhow::anyhow!("{e}")))?;
                if !step_kind.suspendable() {
                    return Ok(Err(state_err(
                        "workflow.not_suspendable",
                        "the acceptance period (补正 within 5 working days) cannot be suspended: 行政许可法 第45条 excludes time from the decision period only",
                    )));
                }
                if suspensions(conn, &app.id)?
                    .iter()
                    .any(|s| s.step_id == step.id && s.resumed_on.is_none())
                {
                    return Ok(Err(state_err(
                        "workflow.already_suspended",
                        "the clock is already suspended",
                    )));
                }
                diesel::insert_into(clock_suspensions::table)
                    .values(SuspensionRow {
                        id: new_id(),
                        application_id: app.id.clone(),
                        step_id: step.id.clone(),
                        reason: reason.clone(),
                        suspended_on: today.to_string(),
                        resumed_on: None,
                        suspended_by: ctx.name.to_string(),
                        resumed_by: None,
                        created_at: db_now(),
                    })
                    .execute(conn)?;
                kind = "clock_suspended";
                detail = serde_json::json!({ "reason": reason, "step": step.kind });
            }
            Act::ResumeClock => {
                let open: Vec<SuspensionRow> = suspensions(conn, &app.id)?
                    .into_iter()
                    .filter(|s| s.resumed_on.is_none())
                    .collect();
                if open.is_empty() {
                    // A province with no running step in the case is told so before anything
                    // about the clock's state.
                    let steps = open_steps(conn, &app.id)?;
                    if !steps.is_empty() && !steps.iter().any(|s| side_actor(&s.side) == ctx.actor) {
                        return Ok(Err(ActRefusal::NotYours(Invalid::new(
                            "workflow.not_your_step",
                            "the running step is the other province's",
                        ))));
                    }
                    return Ok(Err(state_err("workflow.not_suspended", "the clock is not suspended")));
                }
                // Only the province whose step was suspended resumes it, as only it suspends.
                let mut mine = None;
                for s in open {
                    let side: String = application_steps::table
                        .find(&s.step_id)
                        .select(application_steps::side)
                        .first(conn)?;
                    if side_actor(&side) == ctx.actor {
                        mine = Some(s);
                        break;
                    }
                }
                let Some(s) = mine else {
                    return Ok(Err(ActRefusal::NotYours(Invalid::new(
                        "workflow.not_your_step",
                        "the suspended step is the other province's",
                    ))));
                };
                diesel::update(clock_suspensions::table.find(&s.id))
                    .set((
                        clock_suspensions::resumed_on.eq(Some(today.to_string())),
                        clock_suspensions::resumed_by.eq(Some(ctx.name)),
                    ))
                    .execute(conn)?;
                recompute_step(conn, ctx.cal, ctx.office_close, &s.step_id, today)?;
                kind = "clock_resumed";
                detail = serde_json::json!({ "suspended_on": s.suspended_on, "resumed_on": today.to_string() });
            }
        }
        let n = diesel::update(
            transfer_applications::table
                .find(&app.id)
                .filter(transfer_applications::version.eq(app.version)),
        )
        .set((
            transfer_applications::status.eq(new_status.as_str()),
            transfer_applications::version.eq(app.version + 1),
            transfer_applications::updated_at.eq(to_db_time(ctx.now)),
        ))
        .execute(conn)?;
        if n == 0 {
            // Someone else moved the case between our read and write: undo everything.
            return Err(DbError::Conflict("version".into()));
        }
        event(conn, &app.id, kind, ctx.name, ctx.role, detail.clone())?;
        audit_app(conn, Some(&app), &app.id, kind, &detail)?;
        let after = app_by_id(conn, &app.id)?.ok_or(DbError::NotFound)?;
        // 抄送 after the decision that issued the approval, so subscribers hear them in order.
        if new_status == Status::Approved
            && status != Status::Approved
            && let Some(number) = after.approval_number.clone()
        {
            send_copies(conn, &after, &number, ctx.now)?;
        }
        Ok(Ok(after))
    })
}
