//! Filing an application: the filing as the service hands it over, its assessment (route, quota,
//! refusals) and the one transaction that stores it.

use super::*;

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
    let enterprise = crate::db::registry::enterprise_by_id(conn, &f.enterprise_id)?;
    let operator = crate::db::registry::operator_by_id(conn, &f.operator_id)?;
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
    if let Some(why) = crate::db::registry::filing_refusal(conn, &enterprise, today)? {
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
    out.edition = crate::db::catalogue::edition_on(conn, today)?.unwrap_or(2021);
    // The licence version current when the transfer may start (a renewal starting later is
    // not current yet; an expired version no longer is).
    let start = f.period_start.max(today);
    let licence = crate::db::registry::licence_on(conn, &operator.id, start)?
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
    let agreement = crate::db::whitelist::agreement_on(conn, &enterprise.province, &operator.province, today)?;
    match &agreement {
        None => reasons.push((
            "/operator_id".into(),
            match crate::db::whitelist::terminated_agreement(conn, &enterprise.province, &operator.province, today)? {
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
        let known = crate::db::catalogue::accepts(conn, out.edition, &item.code, today)?;
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
        let candidates: Vec<EntryRow> = crate::db::whitelist::entries_for_code(
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
    /// Filed: the case as stored, with its items and its acceptance step as stored (a new case
    /// has no suspension, decision or copy), so its view needs no read back.
    Filed(AppRow, CaseParts),
    /// The same Idempotency-Key was used before for the same request: the first answer.
    Replayed(AppRow),
    /// The same Idempotency-Key with a different request.
    KeyReused,
    Refused(Vec<(String, Invalid)>),
    /// It would take the standard route and the caller did not confirm that route for these
    /// reasons (the assessment says them): nothing is stored.
    Unconfirmed,
}

/// Files an application: idempotency, routing, reservation and the acceptance clock, all in one
/// transaction. A filing routed to the standard route is stored only when `standard_confirmed`
/// says yes for its assessment (the caller confirmed exactly these reasons); otherwise the
/// answer is [`FileOutcome::Unconfirmed`] with the assessment, and nothing is stored.
///
/// On the whitelist route the case's own rows (the case, its acceptance step, its `filed` event)
/// are written first, then the quantities are reserved and the items stored, all in one
/// savepoint: the entry's row lock is held from the reservation to the commit, so whatever does
/// not need it goes before. The items and the ledger rows go after it on purpose: they refer to
/// the entry, and a foreign-key check by a transaction that does not yet hold the entry's lock
/// shares the row with every other waiting filing (a multixact), which made PostgreSQL spend a
/// third more CPU per filing when everything was written before the reservation
/// (docs/BENCHMARKS.md).
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
            // A savepoint: if a reservation loses a race, none stays (nor anything else the
            // savepoint wrote) and the filing takes the standard route.
            let stored = write_tx(conn, |conn| {
                store_filing(conn, cal, office_close, f, &a, new_id(), now, |conn, id| {
                    reserve(conn, f, &a, id)
                })
            });
            match stored {
                Ok((app, parts)) => return Ok((FileOutcome::Filed(app, parts), Some(a))),
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
        let (app, parts) = store_filing(conn, cal, office_close, f, &a, new_id(), now, |_, _| Ok(()))?;
        Ok((FileOutcome::Filed(app, parts), Some(a)))
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
/// due instant set in the same insert) and its `filed` event, then `before_items` (the
/// reservation on the whitelist route), then its items and the audit record. Returns the row,
/// its items and its step as stored.
#[allow(clippy::too_many_arguments)]
fn store_filing(
    conn: &mut DbConnection,
    cal: &WorkingDayCalendar,
    office_close: NaiveTime,
    f: &Filing,
    a: &Assessment,
    id: String,
    now: DateTime<Utc>,
    before_items: impl FnOnce(&mut DbConnection, &str) -> DbResult<()>,
) -> DbResult<(AppRow, CaseParts)> {
    let today = shanghai_date(now);
    let reasons = a.reason_texts();
    let now_db = to_db_time(now);
    let step = new_step(cal, office_close, &id, StepKind::Acceptance, today, today);
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
        next_due_at: Some(step.due_at),
        next_side: Some(step.side.clone()),
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
        source_step_open: step.side == Side::Source.as_str(),
        receiving_step_open: step.side == Side::Receiving.as_str(),
    };
    diesel::insert_into(transfer_applications::table)
        .values(app.clone())
        .execute(conn)?;
    diesel::insert_into(application_steps::table)
        .values(&step)
        .execute(conn)?;
    let detail = serde_json::json!({"route": a.route.as_str(), "reasons": reasons});
    insert_event(conn, &id, Some(&app), "filed", &f.filed_by, "enterprise", detail)?;
    before_items(conn, &id)?;
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
    let items_detail = serde_json::json!({
        "route": a.route.as_str(),
        "reasons": reasons,
        "items": item_rows,
    });
    audit_app_as(conn, None, Some(&app), &id, "filed", &items_detail)?;
    let parts = CaseParts {
        items: item_rows,
        steps: vec![step],
        ..CaseParts::default()
    };
    Ok((app, parts))
}
