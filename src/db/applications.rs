//! Transfer applications: filing with routing and quota reservation in one transaction, the
//! workflow steps with their clocks, decisions and approvals, and the sweeper's duties.

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

/// 利用 / 处置 / 贮存.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Utilise,
    Dispose,
    Store,
}

impl Method {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        match s {
            "utilise" | "利用" => Ok(Method::Utilise),
            "dispose" | "处置" => Ok(Method::Dispose),
            "store" | "贮存" => Ok(Method::Store),
            _ => Err(Invalid::new(
                "application.method",
                "method must be utilise (利用), dispose (处置) or store (贮存)",
            )),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Utilise => "utilise",
            Method::Dispose => "dispose",
            Method::Store => "store",
        }
    }
    fn licence_mode(self) -> LicenceMode {
        match self {
            Method::Utilise => LicenceMode::Utilise,
            Method::Dispose => LicenceMode::Dispose,
            Method::Store => LicenceMode::Store,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Carrier {
    pub name: String,
    pub permit_number: String,
    pub plate: Option<String>,
}

#[derive(Debug, Clone)]
pub struct FilingItem {
    pub code: WasteCode,
    pub name: String,
    pub physical_form: String,
    pub hazards: String,
    pub packaging: String,
    pub quantity: Quantity,
}

#[derive(Debug, Clone)]
pub struct Filing {
    pub enterprise_id: String,
    pub operator_id: String,
    pub method: Method,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub carriers: Vec<Carrier>,
    pub items: Vec<FilingItem>,
    pub idempotency_key: Option<String>,
    pub request_hash: String,
    pub filed_by: String,
}

/// Per item: the entry it would draw on and the quota left after it.
#[derive(Debug, Clone, Serialize)]
pub struct ItemMatch {
    pub line: usize,
    pub entry: Option<EntryRow>,
    /// Grams left on the entry after this item (and earlier items on the same entry).
    pub remaining_after_g: Option<i64>,
    /// Why this item does not fit the whitelist.
    pub reasons: Vec<String>,
}

/// What the service thinks of a filing before storing anything.
#[derive(Debug, Clone)]
pub struct Assessment {
    /// Problems that refuse the filing outright (422), as (JSON pointer, problem).
    pub refusals: Vec<(String, Invalid)>,
    pub route: Route,
    /// Why not the whitelist route (empty on the whitelist route), as (JSON pointer of the
    /// field it concerns, the reason with its stable `route.*` code).
    pub reasons: Vec<(String, Invalid)>,
    pub receiving_consent: String,
    pub items: Vec<ItemMatch>,
    /// The catalogue edition the codes were checked against (recorded on the case): the one in
    /// force on the filing date, or when that one is not loaded the latest loaded edition in
    /// force (`domain::catalogue::edition_missing` tells).
    pub edition: i32,
    pub source_province: String,
    pub source_division: String,
    pub receiving_province: String,
}

impl Assessment {
    /// The reasons as the case keeps them (`route_reasons`), in order.
    pub fn reason_texts(&self) -> Vec<String> {
        self.reasons.iter().map(|(_, r)| r.message.clone()).collect()
    }
}

/// Routes a filing: whitelist when every item has a confirmed entry with room, the provinces
/// have a confirmed agreement and the licence covers the period; standard otherwise. Waste the
/// operator may not take at all is a refusal.
pub fn assess(conn: &mut DbConnection, f: &Filing, today: NaiveDate) -> DbResult<Assessment> {
    let mut refusals: Vec<(String, Invalid)> = Vec::new();
    let mut reasons: Vec<(String, Invalid)> = Vec::new();
    let enterprise = super::registry::enterprise_by_id(conn, &f.enterprise_id)?;
    let operator = super::registry::operator_by_id(conn, &f.operator_id)?;
    let mut out = Assessment {
        refusals: Vec::new(),
        route: Route::Standard,
        reasons: Vec::new(),
        receiving_consent: "consent".into(),
        items: Vec::new(),
        edition: 0,
        source_province: String::new(),
        source_division: String::new(),
        receiving_province: String::new(),
    };
    let Some(enterprise) = enterprise else {
        out.refusals.push((
            "/".into(),
            Invalid::new("application.no_enterprise", "the filing enterprise is not registered"),
        ));
        return Ok(out);
    };
    let Some(operator) = operator else {
        out.refusals.push((
            "/operator_id".into(),
            Invalid::new("application.unknown_operator", "no such operator"),
        ));
        return Ok(out);
    };
    // A collector (收集单位) files like a producer, under its collection licence.
    if let Some(why) = super::registry::filing_refusal(conn, &enterprise, today)? {
        refusals.push(("/".into(), why));
    }
    out.source_province = enterprise.province.clone();
    out.source_division = enterprise.division_code.clone();
    out.receiving_province = operator.province.clone();
    if enterprise.province == operator.province {
        refusals.push((
            "/operator_id".into(),
            Invalid::new(
                "application.not_cross_provincial",
                "the operator is in the producer's own province",
            ),
        ));
    }
    // The catalogue edition in force on the application date; when the law's edition of that
    // day is not loaded, the latest loaded one in force, and the case says so.
    out.edition = super::catalogue::edition_on(conn, today)?.unwrap_or(2021);
    // The licence version current when the transfer may start (a renewal starting later is
    // not current yet; an expired version no longer is).
    let start = f.period_start.max(today);
    let licence = super::registry::licence_on(conn, &operator.id, start)?
        .map(|l| l.to_domain())
        .transpose()?;
    match &licence {
        None => refusals.push((
            "/operator_id".into(),
            Invalid::new(
                "application.unlicensed",
                format!("the operator holds no licence valid on {start}"),
            ),
        )),
        Some(l) if !l.in_force_on(f.period_start.max(today)) => refusals.push((
            "/operator_id".into(),
            Invalid::new(
                "application.licence_not_in_force",
                format!(
                    "the operator's licence ({} to {}, {}) is not in force at the start of the period",
                    l.valid_from,
                    l.valid_until,
                    l.status.as_str()
                ),
            ),
        )),
        Some(l) if !l.modes.contains(&f.method.licence_mode()) => refusals.push((
            "/method".into(),
            Invalid::new(
                "application.method_not_licensed",
                format!("the licence does not allow {}", f.method.as_str()),
            ),
        )),
        Some(l) if !l.covers_period(f.period_start, f.period_end) => {
            reasons.push((
                "/period_end".into(),
                Invalid::new(
                    "route.licence_ends",
                    format!(
                        "the operator's licence ends on {}, before the requested period ends",
                        l.valid_until
                    ),
                ),
            ));
        }
        Some(_) => {}
    }
    let year = today.year();
    let agreement = super::whitelist::agreement_on(conn, &enterprise.province, &operator.province, today)?;
    match &agreement {
        None => reasons.push((
            "/operator_id".into(),
            match super::whitelist::terminated_agreement(conn, &enterprise.province, &operator.province, today)? {
                Some(t) => Invalid::new(
                    "route.agreement_terminated",
                    format!(
                        "the whitelist agreement between {} and {} was terminated from {}: {}",
                        enterprise.province,
                        operator.province,
                        t.terminated_on.unwrap_or_default(),
                        t.termination_reason.unwrap_or_default()
                    ),
                ),
                None => Invalid::new(
                    "route.no_agreement",
                    format!(
                        "no confirmed whitelist agreement between {} and {} valid on {today}",
                        enterprise.province, operator.province
                    ),
                ),
            },
        )),
        Some(a) => {
            out.receiving_consent = a.receiving_consent.clone();
            let total: i64 = f.items.iter().map(|i| i.quantity.grams()).sum();
            if let Some(cap) = a.cap_per_application_g
                && total > cap
            {
                reasons.push((
                    "/items".into(),
                    Invalid::new(
                        "route.agreement_cap",
                        format!(
                            "the total {} kg exceeds the agreement's cap of {} kg per application",
                            crate::domain::quantity::grams_to_kg_string(total),
                            crate::domain::quantity::grams_to_kg_string(cap)
                        ),
                    ),
                ));
            }
        }
    }
    // Room used so far per entry by earlier items of this filing.
    let mut used: std::collections::HashMap<String, i64> = Default::default();
    for (i, item) in f.items.iter().enumerate() {
        let pointer = format!("/items/{i}/waste_code");
        let known = super::catalogue::accepts(conn, out.edition, &item.code, today)?;
        if !known {
            refusals.push((
                pointer.clone(),
                Invalid::new(
                    "application.unknown_code",
                    format!("{} is not in the {} catalogue", item.code, out.edition),
                ),
            ));
        }
        if let Some(l) = &licence
            && !l.covers_code(&item.code)
        {
            refusals.push((
                pointer.clone(),
                Invalid::new(
                    "application.not_licensed",
                    format!(
                        "the operator is not licensed for {} ({})",
                        item.code,
                        item.code.category().as_str()
                    ),
                ),
            ));
        }
        let mut m = ItemMatch {
            line: i,
            entry: None,
            remaining_after_g: None,
            reasons: Vec::new(),
        };
        let candidates: Vec<EntryRow> = super::whitelist::entries_for_code(
            conn,
            &enterprise.province,
            item.code.as_str(),
            &item.code.category().as_str(),
            year,
        )?
        .into_iter()
        .filter(|e| e.operator_id == operator.id)
        .collect();
        // A code-specific entry wins over a whole-category one, and one scoped to this very code
        // over one scoped to a code it succeeds.
        let mut sorted = candidates.clone();
        sorted.sort_by_key(|e| (e.scope_kind != "code", e.scope != item.code.as_str(), e.id.clone()));
        let mut why: Vec<(String, Invalid)> = Vec::new();
        match sorted.iter().find(|e| e.status == "confirmed") {
            None if candidates.is_empty() => why.push((
                pointer.clone(),
                Invalid::new(
                    "route.no_entry",
                    format!(
                        "no whitelist entry for {} from {} to this operator in {year}",
                        item.code, enterprise.province
                    ),
                ),
            )),
            None => why.push((
                pointer.clone(),
                Invalid::new(
                    if candidates[0].status == "suspended" {
                        "route.entry_suspended"
                    } else {
                        "route.entry_not_confirmed"
                    },
                    format!("the whitelist entry for {} is {}", item.code, candidates[0].status),
                ),
            )),
            Some(e) => {
                let before = used.get(&e.id).copied().unwrap_or(0);
                let left = e.quota_g - e.reserved_g - e.approved_g - before - item.quantity.grams();
                if left < 0 {
                    why.push((
                        format!("/items/{i}/quantity_kg"),
                        Invalid::new(
                            "route.over_quota",
                            format!(
                                "over quota: {} kg requested, {} kg left on entry {}",
                                item.quantity,
                                crate::domain::quantity::grams_to_kg_string(
                                    e.quota_g - e.reserved_g - e.approved_g - before
                                ),
                                e.id
                            ),
                        ),
                    ));
                } else {
                    used.insert(e.id.clone(), before + item.quantity.grams());
                }
                m.remaining_after_g = Some(left);
                m.entry = Some(e.clone());
            }
        }
        m.reasons = why.iter().map(|(_, r)| r.message.clone()).collect();
        reasons.extend(why);
        out.items.push(m);
    }
    out.refusals = refusals;
    out.route = if reasons.is_empty() {
        Route::Whitelist
    } else {
        Route::Standard
    };
    out.reasons = reasons;
    Ok(out)
}

pub enum FileOutcome {
    Filed(AppRow),
    /// The same Idempotency-Key was used before for the same request: the first answer.
    Replayed(AppRow),
    /// The same Idempotency-Key with a different request.
    KeyReused,
    Refused(Vec<(String, Invalid)>),
    /// It would take the standard route and the caller did not confirm that route for these
    /// reasons (the assessment says them): nothing is stored.
    Unconfirmed,
}

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

pub fn app_by_id(conn: &mut DbConnection, id: &str) -> DbResult<Option<AppRow>> {
    Ok(transfer_applications::table
        .find(id)
        .select(AppRow::as_select())
        .first(conn)
        .optional()?)
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

/// Files an application: idempotency, routing, reservation and the acceptance clock, all in one
/// transaction. A filing routed to the standard route is stored only when `standard_confirmed`
/// says yes for its assessment (the caller confirmed exactly these reasons); otherwise the
/// answer is [`FileOutcome::Unconfirmed`] with the assessment, and nothing is stored.
///
/// The case is stored first and its quantities reserved last, so the whitelist entry's row
/// lock, which the first reservation takes and the commit releases, covers only the
/// reservations and the commit: filings on one hot entry wait for each other for as short a
/// time as the quota guard allows.
pub fn file(
    conn: &mut DbConnection,
    cal: &WorkingDayCalendar,
    office_close: NaiveTime,
    f: &Filing,
    now: DateTime<Utc>,
    standard_confirmed: impl FnOnce(&Assessment) -> bool,
) -> DbResult<(FileOutcome, Option<Assessment>)> {
    let today = shanghai_date(now);
    write_tx(conn, |conn| {
        if let Some(key) = &f.idempotency_key {
            let existing: Option<AppRow> = transfer_applications::table
                .filter(transfer_applications::enterprise_id.eq(&f.enterprise_id))
                .filter(transfer_applications::idempotency_key.eq(key))
                .select(AppRow::as_select())
                .first(conn)
                .optional()?;
            if let Some(app) = existing {
                return Ok(if app.request_hash == f.request_hash {
                    (FileOutcome::Replayed(app), None)
                } else {
                    (FileOutcome::KeyReused, None)
                });
            }
        }
        let mut a = assess(conn, f, today)?;
        if !a.refusals.is_empty() {
            let refusals = a.refusals.clone();
            return Ok((FileOutcome::Refused(refusals), Some(a)));
        }
        let mut confirm = Some(standard_confirmed);
        if a.route == Route::Whitelist {
            // A savepoint: if a reservation loses a race, the case stored with it goes too
            // (rows, audit records and events) and the filing takes the standard route.
            let stored = write_tx(conn, |conn| {
                let app = store_filing(conn, cal, office_close, f, &a, now, today)?;
                reserve(conn, f, &a, &app.id)?;
                Ok(app)
            });
            match stored {
                Ok(app) => return Ok((FileOutcome::Filed(app), Some(a))),
                Err(DbError::Conflict(entry)) => {
                    a.route = Route::Standard;
                    let line = a
                        .items
                        .iter()
                        .position(|m| m.entry.as_ref().is_some_and(|e| e.id == entry))
                        .unwrap_or(0);
                    a.reasons.push((
                        format!("/items/{line}/quantity_kg"),
                        Invalid::new(
                            "route.over_quota",
                            format!("over quota: the remaining quantity of entry {entry} was taken by another filing"),
                        ),
                    ));
                }
                Err(e) => return Err(e),
            }
        }
        // Nothing is stored for a standard filing the caller did not confirm.
        if !confirm.take().is_some_and(|c| c(&a)) {
            return Ok((FileOutcome::Unconfirmed, Some(a)));
        }
        let app = store_filing(conn, cal, office_close, f, &a, now, today)?;
        Ok((FileOutcome::Filed(app), Some(a)))
    })
}

/// Reserves every item's quantity on its entry, the entries in a fixed order (two filings that
/// share entries lock them alike and cannot deadlock). `Conflict(entry)` when one would break
/// `reserved + approved ≤ quota`.
fn reserve(conn: &mut DbConnection, f: &Filing, a: &Assessment, app_id: &str) -> DbResult<()> {
    let mut lines: Vec<(&str, i64)> = Vec::with_capacity(f.items.len());
    for (item, m) in f.items.iter().zip(&a.items) {
        let Some(entry) = &m.entry else {
            return Err(DbError::Conflict("no entry".into()));
        };
        lines.push((entry.id.as_str(), item.quantity.grams()));
    }
    lines.sort_by_key(|(entry, _)| *entry);
    for (entry, grams) in lines {
        if !apply_movement(conn, entry, Movement::Reserve, grams, Some(app_id), &f.filed_by)? {
            return Err(DbError::Conflict(entry.to_string()));
        }
    }
    Ok(())
}

/// Stores a filed case on the assessment's route: the case with its acceptance step (its next
/// due instant set in the same insert), its items, the `filed` event and the audit record.
/// Returns the row as stored.
fn store_filing(
    conn: &mut DbConnection,
    cal: &WorkingDayCalendar,
    office_close: NaiveTime,
    f: &Filing,
    a: &Assessment,
    now: DateTime<Utc>,
    today: NaiveDate,
) -> DbResult<AppRow> {
    let id = new_id();
    let reasons = a.reason_texts();
    let now_db = to_db_time(now);
    let kind = StepKind::Acceptance;
    let (due_on, due_at, provisional) = due_for(cal, office_close, kind, today, &[], today);
    let app = AppRow {
        id: id.clone(),
        enterprise_id: f.enterprise_id.clone(),
        source_province: a.source_province.clone(),
        source_division: a.source_division.clone(),
        operator_id: f.operator_id.clone(),
        receiving_province: a.receiving_province.clone(),
        route: a.route.as_str().to_string(),
        route_reasons: serde_json::to_string(&reasons).unwrap_or_default(),
        receiving_consent: a.receiving_consent.clone(),
        status: Status::Submitted.as_str().to_string(),
        method: f.method.as_str().to_string(),
        period_start: f.period_start.to_string(),
        period_end: f.period_end.to_string(),
        carriers: serde_json::to_string(&f.carriers).unwrap_or_default(),
        catalogue_edition: a.edition,
        received_at: now_db,
        received_on: today.to_string(),
        accepted_on: None,
        deemed_accepted: false,
        correction_notice: None,
        approval_number: None,
        approved_at: None,
        valid_until: None,
        idempotency_key: f.idempotency_key.clone(),
        request_hash: f.request_hash.clone(),
        filed_by: f.filed_by.clone(),
        // The acceptance step is the case's only open step (what `refresh_next` would set).
        next_due_at: Some(due_at),
        next_side: Some(kind.side().as_str().to_string()),
        version: 1,
        created_at: now_db,
        updated_at: now_db,
        quantity_g: f.items.iter().map(|i| i.quantity.grams()).sum(),
        shipped_g: 0,
        received_g: 0,
        revoked_at: None,
        revocation_reasons: None,
        refusal_number: None,
        refused_at: None,
        refusal_reasons: None,
        consultation_number: None,
        consultation_date: None,
        reply_number: None,
        reply_date: None,
    };
    diesel::insert_into(transfer_applications::table)
        .values(app.clone())
        .execute(conn)?;
    let on_whitelist = a.route == Route::Whitelist;
    let item_rows: Vec<ItemRow> = f
        .items
        .iter()
        .zip(&a.items)
        .enumerate()
        .map(|(i, (item, m))| ItemRow {
            application_id: id.clone(),
            line: i as i32,
            waste_code: item.code.as_str().to_string(),
            category: item.code.category().as_str(),
            waste_name: item.name.clone(),
            physical_form: item.physical_form.clone(),
            hazards: item.hazards.clone(),
            packaging: item.packaging.clone(),
            quantity_g: item.quantity.grams(),
            entry_id: m.entry.as_ref().filter(|_| on_whitelist).map(|e| e.id.clone()),
            entry_version: m.entry.as_ref().filter(|_| on_whitelist).map(|e| e.version),
            shipped_g: 0,
            received_g: 0,
        })
        .collect();
    for row in &item_rows {
        diesel::insert_into(application_items::table)
            .values(row.clone())
            .execute(conn)?;
    }
    diesel::insert_into(application_steps::table)
        .values(StepRow {
            id: new_id(),
            application_id: id.clone(),
            kind: kind.as_str().to_string(),
            side: kind.side().as_str().to_string(),
            started_on: today.to_string(),
            working_days: kind.working_days() as i32,
            due_on: due_on.to_string(),
            due_at,
            provisional,
            completed_at: None,
            outcome: None,
            overdue_at: None,
        })
        .execute(conn)?;
    let detail = serde_json::json!({"route": a.route.as_str(), "reasons": reasons});
    insert_event(conn, &id, Some(&app), "filed", &f.filed_by, "enterprise", detail)?;
    let items_detail = serde_json::json!({
        "route": a.route.as_str(),
        "reasons": reasons,
        "items": item_rows,
    });
    audit_app_as(conn, None, Some(&app), &id, "filed", &items_detail)?;
    Ok(app)
}

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

/// Opens (or restarts) a step and makes it the application's next due instant.
fn start_step(
    conn: &mut DbConnection,
    cal: &WorkingDayCalendar,
    office_close: NaiveTime,
    app_id: &str,
    kind: StepKind,
    started_on: NaiveDate,
    today: NaiveDate,
) -> DbResult<StepRow> {
    let (due_on, due_at, provisional) = due_for(cal, office_close, kind, started_on, &[], today);
    diesel::delete(
        application_steps::table
            .filter(application_steps::application_id.eq(app_id))
            .filter(application_steps::kind.eq(kind.as_str())),
    )
    .execute(conn)?;
    let step = StepRow {
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
    };
    diesel::insert_into(application_steps::table)
        .values(step.clone())
        .execute(conn)?;
    refresh_next(conn, app_id)?;
    Ok(step)
}

/// Keeps the application's next due instant and acting side (what the queue sorts on) in step
/// with its open steps: the earliest due one, the source's first on a tie.
fn refresh_next(conn: &mut DbConnection, app_id: &str) -> DbResult<()> {
    let mut open = open_steps(conn, app_id)?;
    open.sort_by_key(|s| (s.due_at, s.side != "source"));
    let first = open.first();
    diesel::update(transfer_applications::table.find(app_id))
        .set((
            transfer_applications::next_due_at.eq(first.map(|s| s.due_at)),
            transfer_applications::next_side.eq(first.map(|s| s.side.clone())),
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
fn complete_side_step(conn: &mut DbConnection, app_id: &str, side: Side, outcome: &str) -> DbResult<()> {
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

fn open_step(conn: &mut DbConnection, app_id: &str) -> DbResult<Option<StepRow>> {
    Ok(open_steps(conn, app_id)?.into_iter().next())
}

fn complete_open_step(conn: &mut DbConnection, app_id: &str, outcome: &str) -> DbResult<()> {
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
        ))
        .execute(conn)?;
    Ok(())
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

/// Moves quantities of the whitelist entries the application drew on.
fn move_items(conn: &mut DbConnection, app: &AppRow, movement: Movement, actor: &str) -> DbResult<()> {
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
fn issue_approval(
    conn: &mut DbConnection,
    app: &AppRow,
    now: DateTime<Utc>,
    actor: &str,
) -> DbResult<(String, NaiveDate)> {
    let today = shanghai_date(now);
    let year = today.year();
    let seq = super::counters::next_approval(conn, &app.source_province, year)?;
    let number = Series::Approval.number(&province_short(&app.source_province), year, seq);
    let period_end = super::whitelist::parse_date(&app.period_end)?;
    let licence_until = super::registry::licence_on(conn, &app.operator_id, today)?
        .map(|l| super::whitelist::parse_date(&l.valid_until))
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
        && let Some(l) = super::whitelist::completion_limit(conn, &app.source_province, &app.receiving_province, today)?
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
fn send_copies(conn: &mut DbConnection, app: &AppRow, number: &str, now: DateTime<Utc>) -> DbResult<()> {
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
        let mut data = super::outbox::application_data(app, &detail);
        data["approval_number"] = serde_json::json!(number);
        super::outbox::emit(
            conn,
            crate::webhooks::EventType::ApprovalCopied,
            "transfer_application",
            &app.id,
            super::outbox::application_audience(app),
            data,
        )?;
        super::audit::record_change(conn, "approval_copy", &row.id, "copied", None, Some(&row))?;
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
    let seq = super::counters::next_decision(conn, series.as_str(), source_province, year)?;
    Ok(series.number(&province_short(source_province), year, seq))
}

/// Issues the refusal that ends a case as the source province's numbered decision document,
/// with its reasons; returns the number.
fn issue_refusal(
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
    match super::registry::licence_on(conn, &app.operator_id, today)? {
        Some(l) if l.allows_on(today) => {}
        Some(l) if l.status == "valid" => {
            return Ok(Some(Invalid::new(
                "approval.licence_not_valid",
                format!(
                    "the operator's licence {} ended on {}: no approval may be issued (固废法 第80条)",
                    l.licence_number, l.valid_until
                ),
            )));
        }
        Some(l) => {
            return Ok(Some(Invalid::new(
                "approval.licence_not_valid",
                format!(
                    "the operator's licence {} is {}{}: no approval may be issued while it is not valid (固废法 第80条)",
                    l.licence_number,
                    l.status,
                    l.status_reason.map(|r| format!(" ({r})")).unwrap_or_default()
                ),
            )));
        }
        None => {
            return Ok(Some(Invalid::new(
                "approval.licence_not_valid",
                format!("the operator holds no licence valid on {today}: no approval may be issued (固废法 第80条)"),
            )));
        }
    }
    if route == Route::Whitelist
        && let Some(entry) = stopped_entries(conn, &app.id)?.into_iter().next()
    {
        return Ok(Some(Invalid::new(
            "approval.entry_suspended",
            format!(
                "the whitelist entry {} this case draws on is {}{}: refuse the application, or move it to the standard route",
                entry.id,
                entry.status,
                entry.status_reason.map(|r| format!(" ({r})")).unwrap_or_default()
            ),
        )));
    }
    Ok(None)
}

/// The whitelist entries a case draws on that no longer allow the whitelist route (suspended),
/// in one statement (every case view asks).
fn stopped_entries(conn: &mut DbConnection, app_id: &str) -> DbResult<Vec<EntryRow>> {
    Ok(super::schema::whitelist_entries::table
        .filter(
            super::schema::whitelist_entries::id.nullable().eq_any(
                application_items::table
                    .filter(application_items::application_id.eq(app_id))
                    .select(application_items::entry_id),
            ),
        )
        .filter(super::schema::whitelist_entries::status.ne("confirmed"))
        .order(super::schema::whitelist_entries::id.asc())
        .select(EntryRow::as_select())
        .load(conn)?)
}

/// What manifests did not draw of an approval that is over (expired or revoked) goes back to
/// its entries; what they drew stays approved.
fn release_unshipped(conn: &mut DbConnection, app_id: &str, actor: &str) -> DbResult<()> {
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
                    super::manifests::cancel_unsent(conn, &app, ctx.name, "the approval was revoked (撤销)")?;
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

/// Completes acceptance: really (today) or deemed (`deemed_on`: the day the materials the
/// acceptance clock ran on arrived).
fn accept(
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
fn recompute_step(
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
    let started = super::whitelist::parse_date(&step.started_on)?;
    let (due_on, due_at, provisional) = due_for(cal, office_close, kind, started, &susp, today);
    if due_on.to_string() != step.due_on || provisional != step.provisional {
        super::audit::record(
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
            super::outbox::emit(
                conn,
                crate::webhooks::EventType::StepDueTomorrow,
                "transfer_application",
                &app.id,
                crate::webhooks::Audience::new().with(crate::webhooks::OwnerKind::Province, province),
                super::outbox::application_data(&app, &detail),
            )?;
            super::audit::record(
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
            super::outbox::emit(
                conn,
                crate::webhooks::EventType::ApprovalExpiring,
                "transfer_application",
                &app.id,
                super::outbox::application_audience(&app),
                super::outbox::application_data(&app, &detail),
            )?;
            super::audit::record(
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
                let received = super::whitelist::parse_date(&app.received_on)?;
                let resubmitted = (status == Status::Resubmitted)
                    .then(|| super::whitelist::parse_date(&step.started_on))
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
                    super::audit::record(
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

/// Filters of the application list.
#[derive(Debug, Clone, Default)]
pub struct AppFilter {
    pub enterprise_id: Option<String>,
    pub operator_id: Option<String>,
    /// Cases where this province is the source or the receiving side.
    pub province: Option<String>,
    /// With `province`: only cases where that province must act now.
    pub side: Option<Side>,
    /// With `province` and no `side`: only cases where that province must act now, on either side
    /// (the regulator's 待办 queue).
    pub acting: bool,
    pub status: Option<String>,
    pub route: Option<String>,
    pub overdue_at: Option<NaiveDateTime>,
    pub due_before: Option<NaiveDateTime>,
    pub code: Option<String>,
}

/// An open step of the case `t::id` on `$side` (source or receiving), with more filters on
/// `application_steps`. `t` is the applications DSL.
macro_rules! open_step_of {
    ($side:expr $(, $f:expr)*) => {
        diesel::dsl::exists(
            application_steps::table
                .filter(application_steps::application_id.eq(t::id))
                .filter(application_steps::completed_at.is_null())
                .filter(application_steps::side.eq($side))
                $(.filter($f))*,
        )
    };
}

/// An open step of `$side` past `$now` on a firm deadline: neither provisional (a year without
/// the notice: it waits) nor standing still (its clock suspended) — the rule `StepDto.overdue`
/// applies to one step, for the queue's filter and counts. Each province's step is its own: on
/// the whitelist route with the consent policy, one province may be late and the other not.
macro_rules! late_step_of {
    ($side:expr, $now:expr) => {
        open_step_of!(
            $side,
            application_steps::due_at.lt($now),
            application_steps::provisional.eq(false),
            diesel::dsl::not(diesel::dsl::exists(
                clock_suspensions::table
                    .filter(clock_suspensions::step_id.eq(application_steps::id))
                    .filter(clock_suspensions::resumed_on.is_null()),
            ))
        )
    };
}

/// Cases where the province must act now: as source with a source step open, as receiving side
/// with a receiving step open (on the whitelist route with the consent policy both run at once,
/// each until its province decides). Cases accepted before each province had its own step keep
/// the older rule: a receiving side that must consent to a whitelist case under review and has
/// not decided yet.
macro_rules! acting_province {
    ($p:expr) => {
        t::source_province
            .eq($p.to_string())
            .and(t::next_due_at.is_not_null())
            .and(open_step_of!("source"))
            .or(t::receiving_province
                .eq($p.to_string())
                .and(t::next_due_at.is_not_null())
                .and(open_step_of!("receiving")))
            .or(t::receiving_province
                .eq($p.to_string())
                .and(t::next_due_at.is_not_null())
                .and(t::route.eq("whitelist"))
                .and(t::status.eq("under_review"))
                .and(t::receiving_consent.eq("consent"))
                .and(diesel::dsl::not(diesel::dsl::exists(
                    decisions::table
                        .filter(decisions::application_id.eq(t::id))
                        .filter(decisions::side.eq("receiving")),
                ))))
    };
}

/// Cases where the province's own step is late.
macro_rules! province_late {
    ($p:expr, $now:expr) => {
        t::source_province
            .eq($p.to_string())
            .and(late_step_of!("source", $now))
            .or(t::receiving_province
                .eq($p.to_string())
                .and(late_step_of!("receiving", $now)))
    };
}

/// Applications sorted by the open step's due instant (those without one last), then id.
pub fn list(
    conn: &mut DbConnection,
    f: &AppFilter,
    after: Option<(Option<NaiveDateTime>, String)>,
    limit: i64,
) -> DbResult<Vec<AppRow>> {
    use transfer_applications::dsl as t;
    let mut q = t::transfer_applications.select(AppRow::as_select()).into_boxed();
    if let Some(e) = &f.enterprise_id {
        q = q.filter(t::enterprise_id.eq(e.clone()));
    }
    if let Some(o) = &f.operator_id {
        q = q.filter(t::operator_id.eq(o.clone()));
    }
    if let Some(p) = &f.province {
        q = match f.side {
            // A case with an open step has a due instant (`next_due_at`, kept by
            // `refresh_next`), so that indexed bound keeps a queue to the open cases of the
            // province instead of its whole archive.
            Some(Side::Source) => q
                .filter(t::source_province.eq(p.clone()))
                .filter(t::next_due_at.is_not_null())
                .filter(open_step_of!("source")),
            Some(Side::Receiving) => q
                .filter(t::receiving_province.eq(p.clone()))
                .filter(t::next_due_at.is_not_null())
                .filter(open_step_of!("receiving")),
            None if f.acting => q.filter(acting_province!(p)),
            None => q.filter(t::source_province.eq(p.clone()).or(t::receiving_province.eq(p.clone()))),
        };
    }
    if let Some(s) = &f.status {
        q = q.filter(t::status.eq(s.clone()));
    }
    if let Some(r) = &f.route {
        q = q.filter(t::route.eq(r.clone()));
    }
    if let Some(now) = f.overdue_at {
        // A late step is due before now, so the case's earliest due instant (`next_due_at`, the
        // minimum over its open steps, kept by `refresh_next`) is too: that indexed bound keeps
        // the search to the cases that may be late instead of every case of the province.
        q = q.filter(t::next_due_at.lt(now));
        // In a province's queue, late is its own step being late; elsewhere, any step.
        q = match (&f.province, f.side) {
            (Some(p), Some(Side::Source)) => q
                .filter(t::source_province.eq(p.clone()))
                .filter(late_step_of!("source", now)),
            (Some(p), Some(Side::Receiving)) => q
                .filter(t::receiving_province.eq(p.clone()))
                .filter(late_step_of!("receiving", now)),
            (Some(p), None) if f.acting => q.filter(province_late!(p, now)),
            _ => q.filter(late_step_of!("source", now).or(late_step_of!("receiving", now))),
        };
    }
    if let Some(before) = f.due_before {
        q = q.filter(t::next_due_at.lt(before));
    }
    if let Some(code) = &f.code {
        let ids = application_items::table
            .filter(application_items::waste_code.eq(code.clone()))
            .select(application_items::application_id);
        q = q.filter(t::id.eq_any(ids));
    }
    // Keyset on (next_due_at, id), NULLs (no open step) last.
    match after {
        Some((Some(due), id)) => {
            q = q.filter(
                t::next_due_at
                    .gt(due)
                    .or(t::next_due_at.eq(due).and(t::id.gt(id)))
                    .or(t::next_due_at.is_null()),
            );
        }
        Some((None, id)) => {
            q = q.filter(t::next_due_at.is_null()).filter(t::id.gt(id));
        }
        None => {}
    }
    Ok(
        q.order((t::next_due_at.is_null().asc(), t::next_due_at.asc(), t::id.asc()))
            .limit(limit)
            .load(conn)?,
    )
}

/// The live counts of a province's 待办 queue.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct QueueCounts {
    /// Open steps the province must take.
    pub waiting: i64,
    /// Of those, past their due instant (and not suspended).
    pub overdue: i64,
    /// Of those, due by the given instant (e.g. the end of today) and not yet overdue.
    pub due_soon: i64,
}

pub fn queue_counts(
    conn: &mut DbConnection,
    province: &str,
    now: NaiveDateTime,
    soon: NaiveDateTime,
) -> DbResult<QueueCounts> {
    use transfer_applications::dsl as t;
    let base = || t::transfer_applications.filter(acting_province!(province)).into_boxed();
    Ok(QueueCounts {
        waiting: base().count().get_result(conn)?,
        overdue: base()
            .filter(t::next_due_at.lt(now))
            .filter(province_late!(province, now))
            .count()
            .get_result(conn)?,
        due_soon: base()
            .filter(t::next_due_at.lt(soon))
            .filter(
                t::source_province
                    .eq(province.to_string())
                    .and(open_step_of!(
                        "source",
                        application_steps::due_at.ge(now),
                        application_steps::due_at.lt(soon)
                    ))
                    .or(t::receiving_province.eq(province.to_string()).and(open_step_of!(
                        "receiving",
                        application_steps::due_at.ge(now),
                        application_steps::due_at.lt(soon)
                    ))),
            )
            .count()
            .get_result(conn)?,
    })
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

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = application_attachments)]
pub struct AttachmentRow {
    pub id: String,
    pub application_id: String,
    pub kind: String,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub uploaded_by: String,
    pub uploaded_at: NaiveDateTime,
}

/// Records an attachment (the bytes are already on disk) with a timeline event.
pub fn add_attachment(conn: &mut DbConnection, row: &AttachmentRow) -> DbResult<()> {
    write_tx(conn, |conn| {
        diesel::insert_into(application_attachments::table)
            .values(row.clone())
            .execute(conn)?;
        event(
            conn,
            &row.application_id,
            "attachment_added",
            &row.uploaded_by,
            "enterprise",
            serde_json::json!({ "kind": row.kind, "filename": row.filename, "sha256": row.sha256, "size_bytes": row.size_bytes }),
        )?;
        super::audit::record_change(conn, "application_attachment", &row.id, "uploaded", None, Some(row))
    })
}

pub fn attachments(conn: &mut DbConnection, app_id: &str) -> DbResult<Vec<AttachmentRow>> {
    Ok(application_attachments::table
        .filter(application_attachments::application_id.eq(app_id))
        .order(application_attachments::id.asc())
        .select(AttachmentRow::as_select())
        .load(conn)?)
}
