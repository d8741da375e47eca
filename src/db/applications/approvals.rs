//! Approvals and refusals as numbered documents: the quantities moved on the entries, the 抄送
//! copies, and what blocks an approval.

use super::*;

/// Moves quantities of the whitelist entries the application drew on.
pub(super) fn move_items(conn: &mut DbConnection, app: &AppRow, movement: Movement, actor: &str) -> DbResult<()> {
    for item in items(conn, &app.id)? {
        if let Some(entry) = &item.entry_id
            && !apply_movement(conn, entry, movement, item.quantity_g, Some(&app.id), actor)?
        {
            return Err(DbError::Other(anyhow::anyhow!(
                "ledger refused {} of {} g on entry {entry} for application {}",
                movement.as_str(),
                item.quantity_g,
                app.id
            )));
        }
    }
    Ok(())
}

/// Issues the approval: a gap-free number per source province and year, validity capped by the
/// requested period and the licence.
pub(super) fn issue_approval(
    conn: &mut DbConnection,
    app: &AppRow,
    now: DateTime<Utc>,
    actor: &str,
) -> DbResult<(String, NaiveDate)> {
    let today = shanghai_date(now);
    let year = today.year();
    let seq = crate::db::counters::next_approval(conn, &app.source_province, year)?;
    let number = Series::Approval.number(&province_short(&app.source_province), year, seq);
    let period_end = crate::db::whitelist::parse_date(&app.period_end)?;
    let licence_until = crate::db::registry::licence_on(conn, &app.operator_id, today)?
        .map(|l| crate::db::whitelist::parse_date(&l.valid_until))
        .transpose()?;
    let mut valid_until = today
        .checked_add_months(Months::new(12))
        .unwrap_or(today)
        .min(period_end);
    if let Some(l) = licence_until {
        valid_until = valid_until.min(l);
    }
    // 一事一批: the agreement may require completion within some days of the approval.
    if app.route == Route::Whitelist.as_str()
        && let Some(l) =
            crate::db::whitelist::completion_limit(conn, &app.source_province, &app.receiving_province, today)?
    {
        valid_until = valid_until.min(l);
    }
    move_items(conn, app, Movement::Commit, actor)?;
    diesel::update(transfer_applications::table.find(&app.id))
        .set((
            transfer_applications::approval_number.eq(Some(&number)),
            transfer_applications::approved_at.eq(Some(to_db_time(now))),
            transfer_applications::valid_until.eq(Some(valid_until.to_string())),
        ))
        .execute(conn)?;
    Ok((number, valid_until))
}

fn province_short(code: &str) -> String {
    crate::domain::ids::ProvinceCode::parse(code)
        .ok()
        .and_then(province)
        .map(|p| p.short_zh.clone())
        .unwrap_or_default()
}

fn province_name(code: &str) -> String {
    crate::domain::ids::ProvinceCode::parse(code)
        .ok()
        .and_then(province)
        .map(|p| p.name_zh.clone())
        .unwrap_or_else(|| code.to_string())
}

/// 抄送: records each department the approval is copied to and sends each copy as an event.
pub(super) fn send_copies(conn: &mut DbConnection, app: &AppRow, number: &str, now: DateTime<Utc>) -> DbResult<()> {
    for r in CopyRecipient::ALL {
        let province = if r.receiving() {
            &app.receiving_province
        } else {
            &app.source_province
        };
        let row = CopyRow {
            id: new_id(),
            application_id: app.id.clone(),
            recipient: r.as_str().to_string(),
            province: province.clone(),
            department: r.department(&province_name(province)),
            approval_number: number.to_string(),
            sent_at: to_db_time(now),
        };
        diesel::insert_into(approval_copies::table)
            .values(row.clone())
            .execute(conn)?;
        let detail = serde_json::json!({
            "recipient": row.recipient,
            "province": row.province,
            "department": row.department,
            "approval_number": number,
        });
        let mut data = crate::db::outbox::application_data(app, &detail);
        data["approval_number"] = serde_json::json!(number);
        crate::db::outbox::emit(
            conn,
            crate::webhooks::EventType::ApprovalCopied,
            "transfer_application",
            &app.id,
            crate::db::outbox::application_audience(app),
            data,
        )?;
        crate::db::audit::record_change(conn, "approval_copy", &row.id, "copied", None, Some(&row))?;
    }
    Ok(())
}

/// The departments an approval was copied to.
pub fn copies(conn: &mut DbConnection, app_id: &str) -> DbResult<Vec<CopyRow>> {
    Ok(approval_copies::table
        .filter(approval_copies::application_id.eq(app_id))
        .order(approval_copies::id.asc())
        .select(CopyRow::as_select())
        .load(conn)?)
}

/// The next number of a decision-document series, gap-free per source province and year.
fn next_number(conn: &mut DbConnection, series: Series, source_province: &str, year: i32) -> DbResult<String> {
    let seq = crate::db::counters::next_decision(conn, series.as_str(), source_province, year)?;
    Ok(series.number(&province_short(source_province), year, seq))
}

/// Issues the refusal that ends a case as the source province's numbered decision document,
/// with its reasons; returns the number.
pub(super) fn issue_refusal(
    conn: &mut DbConnection,
    app: &AppRow,
    series: Series,
    reasons: &[String],
    now: DateTime<Utc>,
) -> DbResult<String> {
    let number = next_number(conn, series, &app.source_province, shanghai_date(now).year())?;
    diesel::update(transfer_applications::table.find(&app.id))
        .set((
            transfer_applications::refusal_number.eq(Some(&number)),
            transfer_applications::refused_at.eq(Some(to_db_time(now))),
            transfer_applications::refusal_reasons.eq(Some(serde_json::to_string(reasons).unwrap_or_default())),
        ))
        .execute(conn)?;
    Ok(number)
}

/// Why no approval may be issued on `today` (固废法 第80条: no waste to an operator without a
/// valid licence), on either route: the operator's licence current that day is not valid, or —
/// on the whitelist route — an entry the case draws on is no longer confirmed (the regulator then
/// refuses, or moves the case to the standard route).
pub fn approval_blocker(
    conn: &mut DbConnection,
    app: &AppRow,
    route: Route,
    today: NaiveDate,
) -> DbResult<Option<Invalid>> {
    let licence = crate::db::registry::licence_on(conn, &app.operator_id, today)?;
    let stopped = if route == Route::Whitelist {
        stopped_entries(conn, &app.id)?.into_iter().next()
    } else {
        None
    };
    Ok(approval_blocker_given(route, today, licence, stopped))
}

/// [`approval_blocker`] from what it reads: the operator's licence on `today`, and the first
/// (by id) of the entries the case draws on that is no longer confirmed. A page of cases reads
/// each operator's licence once and the stopped entries of all its cases in one query
/// ([`first_stopped_entries`]).
pub fn approval_blocker_given(
    route: Route,
    today: NaiveDate,
    licence: Option<crate::db::registry::LicenceRow>,
    stopped: Option<EntryRow>,
) -> Option<Invalid> {
    match licence {
        Some(l) if l.allows_on(today) => {}
        Some(l) if l.status == "valid" => {
            return Some(Invalid::new(
                "approval.licence_not_valid",
                format!(
                    "the operator's licence {} ended on {}: no approval may be issued (固废法 第80条)",
                    l.licence_number, l.valid_until
                ),
            ));
        }
        Some(l) => {
            return Some(Invalid::new(
                "approval.licence_not_valid",
                format!(
                    "the operator's licence {} is {}{}: no approval may be issued while it is not valid (固废法 第80条)",
                    l.licence_number,
                    l.status,
                    l.status_reason.map(|r| format!(" ({r})")).unwrap_or_default()
                ),
            ));
        }
        None => {
            return Some(Invalid::new(
                "approval.licence_not_valid",
                format!("the operator holds no licence valid on {today}: no approval may be issued (固废法 第80条)"),
            ));
        }
    }
    match (route, stopped) {
        (Route::Whitelist, Some(entry)) => Some(Invalid::new(
            "approval.entry_suspended",
            format!(
                "the whitelist entry {} this case draws on is {}{}: refuse the application, or move it to the standard route",
                entry.id,
                entry.status,
                entry.status_reason.map(|r| format!(" ({r})")).unwrap_or_default()
            ),
        )),
        _ => None,
    }
}

/// For each of `app_ids` that draws on an entry no longer confirmed, the first such entry (by
/// id), as [`stopped_entries`] gives it: one query for a page of cases while every entry is
/// confirmed, the usual state, and a second to match the cases when one is not.
pub fn first_stopped_entries(
    conn: &mut DbConnection,
    app_ids: &[&str],
) -> DbResult<std::collections::HashMap<String, EntryRow>> {
    use crate::db::schema::whitelist_entries as e;
    let mut out = std::collections::HashMap::new();
    if app_ids.is_empty() {
        return Ok(out);
    }
    let stopped: Vec<EntryRow> = e::table
        .filter(
            e::id.nullable().eq_any(
                application_items::table
                    .filter(application_items::application_id.eq_any(app_ids))
                    .select(application_items::entry_id),
            ),
        )
        .filter(e::status.ne("confirmed"))
        .order(e::id.asc())
        .select(EntryRow::as_select())
        .load(conn)?;
    if stopped.is_empty() {
        return Ok(out);
    }
    let stopped_ids: Vec<&str> = stopped.iter().map(|s| s.id.as_str()).collect();
    let drawn: Vec<(String, Option<String>)> = application_items::table
        .filter(application_items::application_id.eq_any(app_ids))
        .filter(application_items::entry_id.eq_any(&stopped_ids))
        .select((application_items::application_id, application_items::entry_id))
        .load(conn)?;
    // `stopped` is in id order: the first entry inserted for a case is its first by id.
    for entry in stopped {
        for (app_id, _) in drawn.iter().filter(|(_, id)| id.as_deref() == Some(entry.id.as_str())) {
            out.entry(app_id.clone()).or_insert_with(|| entry.clone());
        }
    }
    Ok(out)
}

/// The whitelist entries a case draws on that no longer allow the whitelist route (suspended),
/// in one statement (every case view asks).
pub(super) fn stopped_entries(conn: &mut DbConnection, app_id: &str) -> DbResult<Vec<EntryRow>> {
    Ok(crate::db::schema::whitelist_entries::table
        .filter(
            crate::db::schema::whitelist_entries::id.nullable().eq_any(
                application_items::table
                    .filter(application_items::application_id.eq(app_id))
                    .select(application_items::entry_id),
            ),
        )
        .filter(crate::db::schema::whitelist_entries::status.ne("confirmed"))
        .order(crate::db::schema::whitelist_entries::id.asc())
        .select(EntryRow::as_select())
        .load(conn)?)
}

/// What manifests did not draw of an approval that is over (expired or revoked) goes back to
/// its entries; what they drew stays approved.
pub(super) fn release_unshipped(conn: &mut DbConnection, app_id: &str, actor: &str) -> DbResult<()> {
    for item in items(conn, app_id)? {
        let unused = item.quantity_g - item.shipped_g;
        if let Some(entry) = &item.entry_id
            && unused > 0
            && !apply_movement(conn, entry, Movement::ReleaseApproved, unused, Some(app_id), actor)?
        {
            return Err(DbError::Other(anyhow::anyhow!(
                "ledger refused releasing {unused} g on entry {entry} for application {app_id}"
            )));
        }
    }
    Ok(())
}
