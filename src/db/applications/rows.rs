//! The rows of a transfer application as stored (the case, its approval copies, items, steps,
//! clock suspensions, decisions and timeline events) and their plain reads.

use super::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = transfer_applications)]
pub struct AppRow {
    pub id: String,
    pub enterprise_id: String,
    pub source_province: String,
    pub source_division: String,
    pub operator_id: String,
    pub receiving_province: String,
    pub route: String,
    pub route_reasons: String,
    pub receiving_consent: String,
    pub status: String,
    pub method: String,
    pub period_start: String,
    pub period_end: String,
    pub carriers: String,
    pub catalogue_edition: i32,
    pub received_at: NaiveDateTime,
    pub received_on: String,
    pub accepted_on: Option<String>,
    pub deemed_accepted: bool,
    pub correction_notice: Option<String>,
    pub approval_number: Option<String>,
    pub approved_at: Option<NaiveDateTime>,
    pub valid_until: Option<String>,
    pub idempotency_key: Option<String>,
    pub request_hash: String,
    pub filed_by: String,
    pub next_due_at: Option<NaiveDateTime>,
    pub next_side: Option<String>,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The sum of the items' quantities, and what manifests shipped and what was accepted.
    pub quantity_g: i64,
    pub shipped_g: i64,
    pub received_g: i64,
    /// 撤销: when a regulator of the source province revoked the approval, and why (JSON list).
    pub revoked_at: Option<NaiveDateTime>,
    pub revocation_reasons: Option<String>,
    /// The refusal that ended the case as a numbered decision document of the source province
    /// (不予许可 when `status` is refused, 不予受理 when not_accepted), with its reasons (JSON list).
    pub refusal_number: Option<String>,
    pub refused_at: Option<NaiveDateTime>,
    pub refusal_reasons: Option<String>,
    /// 商请函 and 复函 as the departments numbered and dated them.
    pub consultation_number: Option<String>,
    pub consultation_date: Option<String>,
    pub reply_number: Option<String>,
    pub reply_date: Option<String>,
    /// Whether the source's and the receiving province's step is open (what a province's queue
    /// by side reads), kept with `next_due_at` by `refresh_next`.
    pub source_step_open: bool,
    pub receiving_step_open: bool,
}

/// 抄送: one department an approval was copied to.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = approval_copies)]
pub struct CopyRow {
    pub id: String,
    pub application_id: String,
    pub recipient: String,
    pub province: String,
    pub department: String,
    pub approval_number: String,
    pub sent_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = application_items)]
pub struct ItemRow {
    pub application_id: String,
    pub line: i32,
    pub waste_code: String,
    pub category: String,
    pub waste_name: String,
    pub physical_form: String,
    pub hazards: String,
    pub packaging: String,
    pub quantity_g: i64,
    pub entry_id: Option<String>,
    pub entry_version: Option<i32>,
    /// Drawn by manifests that are not rejected or cancelled; accepted at receipt.
    pub shipped_g: i64,
    pub received_g: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = application_steps)]
pub struct StepRow {
    pub id: String,
    pub application_id: String,
    pub kind: String,
    pub side: String,
    pub started_on: String,
    pub working_days: i32,
    pub due_on: String,
    pub due_at: NaiveDateTime,
    pub provisional: bool,
    pub completed_at: Option<NaiveDateTime>,
    pub outcome: Option<String>,
    pub overdue_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = clock_suspensions)]
pub struct SuspensionRow {
    pub id: String,
    pub application_id: String,
    pub step_id: String,
    pub reason: String,
    pub suspended_on: String,
    pub resumed_on: Option<String>,
    pub suspended_by: String,
    pub resumed_by: Option<String>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = decisions)]
pub struct DecisionRow {
    pub id: String,
    pub application_id: String,
    pub side: String,
    pub outcome: String,
    pub reasons: String,
    pub conditions: String,
    pub decided_by: String,
    pub decided_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = application_events)]
pub struct EventRow {
    pub id: String,
    pub application_id: String,
    pub kind: String,
    pub actor: String,
    pub role: String,
    pub detail: String,
    pub at: NaiveDateTime,
}

pub fn app_by_id(conn: &mut DbConnection, id: &str) -> DbResult<Option<AppRow>> {
    Ok(transfer_applications::table
        .find(id)
        .select(AppRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn items(conn: &mut DbConnection, app_id: &str) -> DbResult<Vec<ItemRow>> {
    Ok(application_items::table
        .filter(application_items::application_id.eq(app_id))
        .order(application_items::line.asc())
        .select(ItemRow::as_select())
        .load(conn)?)
}

pub fn suspensions(conn: &mut DbConnection, app_id: &str) -> DbResult<Vec<SuspensionRow>> {
    Ok(clock_suspensions::table
        .filter(clock_suspensions::application_id.eq(app_id))
        .order(clock_suspensions::id.asc())
        .select(SuspensionRow::as_select())
        .load(conn)?)
}

pub fn decisions_of(conn: &mut DbConnection, app_id: &str) -> DbResult<Vec<DecisionRow>> {
    Ok(decisions::table
        .filter(decisions::application_id.eq(app_id))
        .order(decisions::id.asc())
        .select(DecisionRow::as_select())
        .load(conn)?)
}

pub fn events(conn: &mut DbConnection, app_id: &str) -> DbResult<Vec<EventRow>> {
    Ok(application_events::table
        .filter(application_events::application_id.eq(app_id))
        .order(application_events::id.asc())
        .select(EventRow::as_select())
        .load(conn)?)
}

/// The case holding an approval number (the public verification page).
pub fn app_by_approval_number(conn: &mut DbConnection, number: &str) -> DbResult<Option<AppRow>> {
    use transfer_applications::dsl as t;
    Ok(t::transfer_applications
        .filter(t::approval_number.eq(number))
        .select(AppRow::as_select())
        .first(conn)
        .optional()?)
}

/// What a case view shows besides the case row: its items, steps, clock suspensions,
/// decisions and (approved cases only) copies.
#[derive(Debug, Clone, Default)]
pub struct CaseParts {
    pub items: Vec<ItemRow>,
    pub steps: Vec<StepRow>,
    pub suspensions: Vec<SuspensionRow>,
    pub decisions: Vec<DecisionRow>,
    pub copies: Vec<CopyRow>,
}

/// [`CaseParts`] of many cases (a queue page) in one query per kind instead of one per case,
/// each list in the order the single-case reads give it.
pub fn case_parts(conn: &mut DbConnection, apps: &[AppRow]) -> DbResult<std::collections::HashMap<String, CaseParts>> {
    let mut out: std::collections::HashMap<String, CaseParts> =
        apps.iter().map(|a| (a.id.clone(), CaseParts::default())).collect();
    if apps.is_empty() {
        return Ok(out);
    }
    let ids: Vec<&str> = apps.iter().map(|a| a.id.as_str()).collect();
    for r in application_items::table
        .filter(application_items::application_id.eq_any(&ids))
        .order((application_items::application_id.asc(), application_items::line.asc()))
        .select(ItemRow::as_select())
        .load(conn)?
    {
        if let Some(p) = out.get_mut(&r.application_id) {
            p.items.push(r);
        }
    }
    for r in application_steps::table
        .filter(application_steps::application_id.eq_any(&ids))
        .order(application_steps::id.asc())
        .select(StepRow::as_select())
        .load(conn)?
    {
        if let Some(p) = out.get_mut(&r.application_id) {
            p.steps.push(r);
        }
    }
    for r in clock_suspensions::table
        .filter(clock_suspensions::application_id.eq_any(&ids))
        .order(clock_suspensions::id.asc())
        .select(SuspensionRow::as_select())
        .load(conn)?
    {
        if let Some(p) = out.get_mut(&r.application_id) {
            p.suspensions.push(r);
        }
    }
    for r in decisions::table
        .filter(decisions::application_id.eq_any(&ids))
        .order(decisions::id.asc())
        .select(DecisionRow::as_select())
        .load(conn)?
    {
        if let Some(p) = out.get_mut(&r.application_id) {
            p.decisions.push(r);
        }
    }
    // Copies (抄送) are sent with an approval: only approved cases have any to read.
    let approved: Vec<&str> = apps
        .iter()
        .filter(|a| a.approval_number.is_some())
        .map(|a| a.id.as_str())
        .collect();
    if !approved.is_empty() {
        for r in approval_copies::table
            .filter(approval_copies::application_id.eq_any(&approved))
            .order(approval_copies::id.asc())
            .select(CopyRow::as_select())
            .load(conn)?
        {
            if let Some(p) = out.get_mut(&r.application_id) {
                p.copies.push(r);
            }
        }
    }
    Ok(out)
}
