//! Province-pair agreements, whitelist entries with their versions, and the quota guard.
//!
//! The quota invariant `reserved + approved <= quota` (DESIGN §2) is kept by one conditional
//! UPDATE per movement, on both backends, plus a ledger row; the table's CHECK constraint is the
//! last line of defence.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use super::schema::{agreement_members, agreements, quota_ledger, whitelist_entries, whitelist_entry_versions};
use super::{DbConnection, DbError, DbResult, audit, db_now, new_id, write_tx};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = agreements)]
pub struct AgreementRow {
    pub id: String,
    pub province_a: String,
    pub province_b: String,
    pub valid_from: String,
    pub valid_until: String,
    pub receiving_consent: String,
    pub cap_per_application_g: Option<i64>,
    pub status: String,
    pub proposed_by: String,
    pub proposed_by_province: String,
    pub confirmed_by: Option<String>,
    pub confirmed_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    /// The first day the agreement no longer counts, once a party terminated it, and why.
    pub terminated_on: Option<String>,
    pub termination_reason: Option<String>,
    pub terminated_by: Option<String>,
    /// 一事一批: each whitelist transfer completed within this many days of its approval.
    pub completion_days: Option<i32>,
    /// `mutual` (every member confirms; between any two members), or `inbound_list`: the one
    /// member, the receiving province, pre-consents to transfers from any province into its
    /// listed operators (province_a is `*`).
    pub kind: String,
}

/// A member province of an agreement, and whether (and by whom) it confirmed.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = agreement_members)]
pub struct MemberRow {
    pub agreement_id: String,
    pub province: String,
    pub confirmed_by: Option<String>,
    pub confirmed_at: Option<NaiveDateTime>,
}

/// Stores an agreement between its two provinces (`province_a`, `province_b`).
pub fn insert_agreement(conn: &mut DbConnection, row: &AgreementRow) -> DbResult<()> {
    insert_agreement_among(conn, row, &[row.province_a.clone(), row.province_b.clone()])
}

/// Stores an agreement among `provinces` (two or more; `province_a` and `province_b` are the
/// two lowest codes). The proposer's province has confirmed by proposing; a confirmed row's
/// members all have.
pub fn insert_agreement_among(conn: &mut DbConnection, row: &AgreementRow, provinces: &[String]) -> DbResult<()> {
    write_tx(conn, |conn| {
        diesel::insert_into(agreements::table)
            .values(row.clone())
            .execute(conn)?;
        let members: Vec<MemberRow> = provinces
            .iter()
            .map(|p| {
                let confirmed = row.status == "confirmed" || *p == row.proposed_by_province;
                MemberRow {
                    agreement_id: row.id.clone(),
                    province: p.clone(),
                    confirmed_by: confirmed.then(|| {
                        if *p == row.proposed_by_province {
                            row.proposed_by.clone()
                        } else {
                            row.confirmed_by.clone().unwrap_or_else(|| row.proposed_by.clone())
                        }
                    }),
                    confirmed_at: confirmed.then(|| row.confirmed_at.unwrap_or(row.created_at)),
                }
            })
            .collect();
        for m in &members {
            diesel::insert_into(agreement_members::table)
                .values(m.clone())
                .execute(conn)?;
        }
        audit::record(
            conn,
            "agreement",
            &row.id,
            "proposed",
            crate::audit::diff(
                None,
                Some(&serde_json::json!({ "agreement": crate::audit::snapshot(row), "members": members })),
            ),
        )
    })
}

/// The members of an agreement, in code order.
pub fn members(conn: &mut DbConnection, agreement_id: &str) -> DbResult<Vec<MemberRow>> {
    Ok(agreement_members::table
        .filter(agreement_members::agreement_id.eq(agreement_id))
        .order(agreement_members::province.asc())
        .select(MemberRow::as_select())
        .load(conn)?)
}

pub fn agreement_by_id(conn: &mut DbConnection, id: &str) -> DbResult<Option<AgreementRow>> {
    Ok(agreements::table
        .find(id)
        .select(AgreementRow::as_select())
        .first(conn)
        .optional()?)
}

/// The kind of a receiving province's one-sided list.
pub const INBOUND_LIST: &str = "inbound_list";

/// The ids of the agreements `province` is a member of.
fn agreements_of(conn: &mut DbConnection, province: &str) -> DbResult<Vec<String>> {
    Ok(agreement_members::table
        .filter(agreement_members::province.eq(province))
        .select(agreement_members::agreement_id)
        .load(conn)?)
}

pub fn list_agreements(conn: &mut DbConnection, province: Option<&str>) -> DbResult<Vec<AgreementRow>> {
    let mut q = agreements::table
        .select(AgreementRow::as_select())
        .order(agreements::id.asc())
        .into_boxed();
    if let Some(p) = province {
        q = q.filter(agreements::id.eq_any(agreements_of(conn, p)?));
    }
    Ok(q.load(conn)?)
}

/// Records `province`'s confirmation of a proposed agreement; the agreement is confirmed once
/// every member has. None when the agreement was not (or no longer) proposed or the province had
/// confirmed already; else whether the agreement is now confirmed.
pub fn confirm_agreement(conn: &mut DbConnection, id: &str, province: &str, by: &str) -> DbResult<Option<bool>> {
    write_tx(conn, |conn| {
        let before = agreement_by_id(conn, id)?;
        if before.as_ref().is_none_or(|a| a.status != "proposed") {
            return Ok(None);
        }
        let now = db_now();
        let n = diesel::update(
            agreement_members::table
                .filter(agreement_members::agreement_id.eq(id))
                .filter(agreement_members::province.eq(province))
                .filter(agreement_members::confirmed_at.is_null()),
        )
        .set((
            agreement_members::confirmed_by.eq(Some(by)),
            agreement_members::confirmed_at.eq(Some(now)),
        ))
        .execute(conn)?;
        if n == 0 {
            return Ok(None);
        }
        audit::record(
            conn,
            "agreement",
            id,
            "member_confirmed",
            serde_json::json!({ "member": {"from": null, "to": {"province": province, "confirmed_by": by}} }),
        )?;
        let pending: i64 = agreement_members::table
            .filter(agreement_members::agreement_id.eq(id))
            .filter(agreement_members::confirmed_at.is_null())
            .count()
            .get_result(conn)?;
        if pending > 0 {
            return Ok(Some(false));
        }
        let n = diesel::update(agreements::table.find(id).filter(agreements::status.eq("proposed")))
            .set((
                agreements::status.eq("confirmed"),
                agreements::confirmed_by.eq(by),
                agreements::confirmed_at.eq(now),
            ))
            .execute(conn)?;
        if n == 1 {
            let after = agreement_by_id(conn, id)?;
            audit::record_change(conn, "agreement", id, "confirmed", before.as_ref(), after.as_ref())?;
        }
        Ok(Some(n == 1))
    })
}

/// The agreements both provinces are members of that were confirmed (terminated ones included),
/// newest first: a pair's own agreement and any agreement among more provinces that includes both.
fn confirmed_pair(conn: &mut DbConnection, p1: &str, p2: &str) -> DbResult<Vec<AgreementRow>> {
    if p1 == p2 {
        return Ok(Vec::new());
    }
    let member = |p: &str| {
        agreement_members::table
            .filter(agreement_members::province.eq(p.to_string()))
            .select(agreement_members::agreement_id)
    };
    // One statement (it runs in every filing and check): the agreements with both provinces as
    // members, or a one-sided list of the receiving province (`p2`), which covers any source.
    Ok(agreements::table
        .filter(
            agreements::id
                .eq_any(member(p1))
                .and(agreements::id.eq_any(member(p2)))
                .or(agreements::kind.eq(INBOUND_LIST).and(agreements::province_b.eq(p2))),
        )
        .filter(agreements::status.eq("confirmed"))
        .order(agreements::created_at.desc())
        .select(AgreementRow::as_select())
        .load(conn)?)
}

impl AgreementRow {
    /// Whether the agreement counts on `date`: confirmed, inside its dates, and before the day a
    /// party terminated it from.
    pub fn counts_on(&self, date: NaiveDate) -> bool {
        let d = date.to_string();
        self.status == "confirmed"
            && self.valid_from <= d
            && d <= self.valid_until
            && self.terminated_on.as_ref().is_none_or(|t| d < *t)
    }

    /// Whether it counts on some day of `year`.
    pub fn counts_in_year(&self, year: i32) -> bool {
        let first = NaiveDate::from_ymd_opt(year, 1, 1);
        let last = NaiveDate::from_ymd_opt(year, 12, 31);
        let (Some(first), Some(last)) = (first, last) else {
            return false;
        };
        let from = parse_date(&self.valid_from).map_or(first, |d| d.max(first));
        let mut until = parse_date(&self.valid_until).map_or(last, |d| d.min(last));
        if let Some(t) = self.terminated_on.as_deref().and_then(|t| parse_date(t).ok()) {
            until = until.min(t.pred_opt().unwrap_or(t));
        }
        from <= until && self.counts_on(from)
    }
}

/// The agreement between two provinces that counts on `date` (DESIGN §1: an agreement counts only
/// on the dates it is valid, not for any year it overlaps).
pub fn agreement_on(conn: &mut DbConnection, p1: &str, p2: &str, date: NaiveDate) -> DbResult<Option<AgreementRow>> {
    Ok(confirmed_pair(conn, p1, p2)?.into_iter().find(|a| a.counts_on(date)))
}

/// The last day a whitelist approval issued on `approved_on` between the two provinces may be
/// used, when their agreement requires completion within a number of days (一事一批).
pub fn completion_limit(
    conn: &mut DbConnection,
    source: &str,
    receiving: &str,
    approved_on: NaiveDate,
) -> DbResult<Option<NaiveDate>> {
    Ok(agreement_on(conn, source, receiving, approved_on)?
        .and_then(|a| a.completion_days)
        .and_then(|d| approved_on.checked_add_days(chrono::Days::new(u64::try_from(d).unwrap_or(0)))))
}

/// The agreement between two provinces that would count on `date` but for its termination.
pub fn terminated_agreement(
    conn: &mut DbConnection,
    p1: &str,
    p2: &str,
    date: NaiveDate,
) -> DbResult<Option<AgreementRow>> {
    let d = date.to_string();
    Ok(confirmed_pair(conn, p1, p2)?
        .into_iter()
        .find(|a| a.terminated_on.as_ref().is_some_and(|t| *t <= d) && a.valid_from <= d && d <= a.valid_until))
}

/// The confirmed agreement between two provinces that counts on some day of `year` (what a
/// year's whitelist entries need).
pub fn confirmed_agreement_in_year(
    conn: &mut DbConnection,
    p1: &str,
    p2: &str,
    year: i32,
) -> DbResult<Option<AgreementRow>> {
    Ok(confirmed_pair(conn, p1, p2)?
        .into_iter()
        .find(|a| a.counts_in_year(year)))
}

/// The confirmed agreement that counts on some day of `year` and has every one of `provinces`
/// among its members (what an entry serving several source provinces needs).
pub fn confirmed_agreement_among(
    conn: &mut DbConnection,
    provinces: &[String],
    year: i32,
) -> DbResult<Option<AgreementRow>> {
    let Some((first, rest)) = provinces.split_first() else {
        return Ok(None);
    };
    let mut ids = agreements_of(conn, first)?;
    for p in rest {
        let of_p = agreements_of(conn, p)?;
        ids.retain(|id| of_p.contains(id));
    }
    Ok(agreements::table
        .filter(agreements::id.eq_any(ids))
        .filter(agreements::status.eq("confirmed"))
        .order(agreements::created_at.desc())
        .select(AgreementRow::as_select())
        .load(conn)?
        .into_iter()
        .find(|a| a.counts_in_year(year)))
}

/// Terminates a confirmed agreement from `from` (the first day it no longer counts), with the
/// reason; false when it was not confirmed or is already terminated. The status stays
/// `confirmed` (what was agreed); `terminated_on` says until when it counts.
pub fn terminate_agreement(
    conn: &mut DbConnection,
    id: &str,
    from: NaiveDate,
    reason: &str,
    by: &str,
) -> DbResult<bool> {
    write_tx(conn, |conn| {
        let before = agreement_by_id(conn, id)?;
        let n = diesel::update(
            agreements::table
                .find(id)
                .filter(agreements::status.eq("confirmed"))
                .filter(agreements::terminated_on.is_null()),
        )
        .set((
            agreements::terminated_on.eq(Some(from.to_string())),
            agreements::termination_reason.eq(Some(reason)),
            agreements::terminated_by.eq(Some(by)),
        ))
        .execute(conn)?;
        if n == 1 {
            let after = agreement_by_id(conn, id)?;
            audit::record_change(conn, "agreement", id, "terminated", before.as_ref(), after.as_ref())?;
        }
        Ok(n == 1)
    })
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize, serde::Deserialize)]
#[diesel(table_name = whitelist_entries)]
pub struct EntryRow {
    pub id: String,
    pub year: i32,
    pub operator_id: String,
    pub receiving_province: String,
    pub source_province: String,
    pub scope_kind: String,
    pub scope: String,
    pub category: String,
    pub quota_g: i64,
    pub reserved_g: i64,
    pub approved_g: i64,
    pub shipped_g: i64,
    pub received_g: i64,
    pub facility: Option<String>,
    pub note: Option<String>,
    pub status: String,
    pub status_reason: Option<String>,
    pub proposed_by: String,
    pub proposed_by_province: String,
    pub confirmed_by: Option<String>,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The further sources of an entry serving several from one shared quota
    /// (`domain::whitelist::encode_shared_sources`); empty for one.
    #[serde(default)]
    pub shared_sources: String,
}

impl EntryRow {
    /// Whether the entry takes waste from `province`: its source, or one of its shared sources.
    pub fn serves_source(&self, province: &str) -> bool {
        self.source_province == province
            || crate::domain::whitelist::decode_shared_sources(&self.shared_sources)
                .iter()
                .any(|p| p == province)
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = whitelist_entry_versions)]
pub struct EntryVersionRow {
    pub entry_id: String,
    pub version: i32,
    pub valid_from: NaiveDateTime,
    pub recorded_at: NaiveDateTime,
    pub status: String,
    pub quota_g: i64,
    pub change: String,
    pub reason: Option<String>,
    pub changed_by: String,
    /// The whole entry as JSON after this change.
    pub snapshot: String,
    /// The letter between the provinces that amended the quota (an `amend` version).
    pub letter_number: Option<String>,
}

fn version_row(entry: &EntryRow, change: &str, reason: Option<&str>, by: &str) -> DbResult<EntryVersionRow> {
    Ok(EntryVersionRow {
        entry_id: entry.id.clone(),
        version: entry.version,
        valid_from: entry.updated_at,
        recorded_at: entry.updated_at,
        status: entry.status.clone(),
        quota_g: entry.quota_g,
        change: change.to_string(),
        reason: reason.map(str::to_string),
        changed_by: by.to_string(),
        snapshot: serde_json::to_string(entry).map_err(|e| DbError::Other(e.into()))?,
        letter_number: None,
    })
}

/// Amends an entry's quota by letter, if it is still at `expected_version` and the new quota
/// keeps what its filings hold (`reserved + approved <= quota`, in the same conditional UPDATE,
/// so a filing reserving meanwhile cannot slip under it); records the version with the letter.
/// None when someone changed the entry first or the quota would no longer hold what is held.
pub fn amend_quota(
    conn: &mut DbConnection,
    id: &str,
    expected_version: i32,
    quota_g: i64,
    letter_number: &str,
    reason: &str,
    by: &str,
) -> DbResult<Option<EntryRow>> {
    use whitelist_entries::dsl as e;
    write_tx(conn, |conn| {
        let before = entry_by_id(conn, id)?.ok_or(DbError::NotFound)?;
        let n = diesel::update(
            e::whitelist_entries
                .find(id)
                .filter(e::version.eq(expected_version))
                .filter((e::reserved_g + e::approved_g).le(quota_g)),
        )
        .set((
            e::quota_g.eq(quota_g),
            e::version.eq(expected_version + 1),
            e::updated_at.eq(db_now()),
        ))
        .execute(conn)?;
        if n == 0 {
            return Ok(None);
        }
        let entry = entry_by_id(conn, id)?.ok_or(DbError::NotFound)?;
        let mut version = version_row(&entry, "amend", Some(reason), by)?;
        version.letter_number = Some(letter_number.to_string());
        diesel::insert_into(whitelist_entry_versions::table)
            .values(version)
            .execute(conn)?;
        audit::record(
            conn,
            "whitelist_entry",
            id,
            "amend",
            serde_json::json!({
                "quota_g": {"from": before.quota_g, "to": quota_g},
                "letter_number": {"from": null, "to": letter_number},
                "reason": {"from": null, "to": reason},
                "version": {"from": expected_version, "to": expected_version + 1},
            }),
        )?;
        Ok(Some(entry))
    })
}

/// Inserts proposed entries with their first versions, all or nothing. A duplicate (same
/// year, operator, source and scope) is a conflict naming its position in `rows`.
pub fn insert_entries(conn: &mut DbConnection, rows: &[EntryRow]) -> DbResult<Result<(), usize>> {
    write_tx(conn, |conn| {
        for (i, row) in rows.iter().enumerate() {
            let dup: i64 = whitelist_entries::table
                .filter(whitelist_entries::year.eq(row.year))
                .filter(whitelist_entries::operator_id.eq(&row.operator_id))
                .filter(whitelist_entries::source_province.eq(&row.source_province))
                .filter(whitelist_entries::scope.eq(&row.scope))
                .count()
                .get_result(conn)?;
            if dup > 0 {
                return Err(DbError::Conflict(format!("row {i}")));
            }
            diesel::insert_into(whitelist_entries::table)
                .values(row.clone())
                .execute(conn)?;
            diesel::insert_into(whitelist_entry_versions::table)
                .values(version_row(row, "proposed", None, &row.proposed_by)?)
                .execute(conn)?;
            audit::record_change(conn, "whitelist_entry", &row.id, "proposed", None, Some(row))?;
        }
        Ok(())
    })
    .map(Ok)
    .or_else(|e| match e {
        DbError::Conflict(msg) => {
            let i = msg.strip_prefix("row ").and_then(|n| n.parse().ok()).unwrap_or(0);
            Ok(Err(i))
        }
        other => Err(other),
    })
}

pub fn entry_by_id(conn: &mut DbConnection, id: &str) -> DbResult<Option<EntryRow>> {
    Ok(whitelist_entries::table
        .find(id)
        .select(EntryRow::as_select())
        .first(conn)
        .optional()?)
}

/// Filters of the entry list.
#[derive(Debug, Clone, Default)]
pub struct EntryFilter {
    pub year: Option<i32>,
    pub operator_id: Option<String>,
    pub source_province: Option<String>,
    /// Entries that cover this code: the code itself or its whole category.
    pub code: Option<(String, String)>,
    pub category: Option<String>,
    pub status: Option<String>,
    /// Only entries one of whose provinces is this one.
    pub involving_province: Option<String>,
    /// Only entries of this source province (an enterprise sees its own province's list).
    pub visible_source: Option<String>,
}

pub fn list_entries(
    conn: &mut DbConnection,
    f: &EntryFilter,
    after: Option<&str>,
    limit: i64,
) -> DbResult<Vec<EntryRow>> {
    let mut q = whitelist_entries::table
        .select(EntryRow::as_select())
        .order(whitelist_entries::id.asc())
        .into_boxed();
    if let Some(y) = f.year {
        q = q.filter(whitelist_entries::year.eq(y));
    }
    if let Some(o) = &f.operator_id {
        q = q.filter(whitelist_entries::operator_id.eq(o.clone()));
    }
    use crate::domain::whitelist::shared_source_pattern;
    if let Some(s) = &f.source_province {
        q = q.filter(
            whitelist_entries::source_province
                .eq(s.clone())
                .or(whitelist_entries::shared_sources.like(shared_source_pattern(s))),
        );
    }
    if let Some(s) = &f.visible_source {
        q = q.filter(
            whitelist_entries::source_province
                .eq(s.clone())
                .or(whitelist_entries::shared_sources.like(shared_source_pattern(s))),
        );
    }
    if let Some((code, category)) = &f.code {
        q = q.filter(
            whitelist_entries::scope
                .eq(code.clone())
                .or(whitelist_entries::scope.eq(category.clone())),
        );
    }
    if let Some(c) = &f.category {
        q = q.filter(whitelist_entries::category.eq(c.clone()));
    }
    if let Some(s) = &f.status {
        q = q.filter(whitelist_entries::status.eq(s.clone()));
    }
    if let Some(p) = &f.involving_province {
        q = q.filter(
            whitelist_entries::source_province
                .eq(p.clone())
                .or(whitelist_entries::receiving_province.eq(p.clone()))
                .or(whitelist_entries::shared_sources.like(shared_source_pattern(p))),
        );
    }
    if let Some(a) = after {
        q = q.filter(whitelist_entries::id.gt(a.to_string()));
    }
    Ok(q.limit(limit).load(conn)?)
}

/// Moves an entry to `status` if it is still at `expected_version` (optimistic concurrency);
/// records the new version. Returns the updated entry, or None when someone changed it first.
#[allow(clippy::too_many_arguments)]
pub fn change_status(
    conn: &mut DbConnection,
    id: &str,
    expected_version: i32,
    status: &str,
    change: &str,
    reason: Option<&str>,
    by: &str,
    confirmed_by: Option<&str>,
) -> DbResult<Option<EntryRow>> {
    write_tx(conn, |conn| {
        let now = db_now();
        let target = whitelist_entries::table
            .find(id)
            .filter(whitelist_entries::version.eq(expected_version));
        let n = match confirmed_by {
            Some(c) => diesel::update(target)
                .set((
                    whitelist_entries::status.eq(status),
                    whitelist_entries::status_reason.eq(reason),
                    whitelist_entries::confirmed_by.eq(c),
                    whitelist_entries::version.eq(expected_version + 1),
                    whitelist_entries::updated_at.eq(now),
                ))
                .execute(conn)?,
            None => diesel::update(target)
                .set((
                    whitelist_entries::status.eq(status),
                    whitelist_entries::status_reason.eq(reason),
                    whitelist_entries::version.eq(expected_version + 1),
                    whitelist_entries::updated_at.eq(now),
                ))
                .execute(conn)?,
        };
        if n == 0 {
            return Ok(None);
        }
        let entry = entry_by_id(conn, id)?.ok_or(DbError::NotFound)?;
        diesel::insert_into(whitelist_entry_versions::table)
            .values(version_row(&entry, change, reason, by)?)
            .execute(conn)?;
        audit::record(
            conn,
            "whitelist_entry",
            id,
            change,
            serde_json::json!({
                "status": {"to": status},
                "status_reason": {"to": reason},
                "version": {"from": expected_version, "to": expected_version + 1},
            }),
        )?;
        let event = match (change, status) {
            (_, "suspended") => Some(crate::webhooks::EventType::WhitelistEntrySuspended),
            ("reinstate", _) => Some(crate::webhooks::EventType::WhitelistEntryReinstated),
            _ => None,
        };
        if let Some(t) = event {
            use crate::webhooks::{Audience, OwnerKind, WhitelistEntryEventData};
            let audience = Audience::new()
                .with(OwnerKind::Operator, &entry.operator_id)
                .with(OwnerKind::Province, &entry.receiving_province)
                .with(OwnerKind::Province, &entry.source_province);
            let data = serde_json::to_value(WhitelistEntryEventData {
                entry_id: entry.id.clone(),
                year: entry.year,
                operator_id: entry.operator_id.clone(),
                source_province: entry.source_province.clone(),
                receiving_province: entry.receiving_province.clone(),
                scope: entry.scope.clone(),
                status: entry.status.clone(),
                reason: entry.status_reason.clone(),
            })
            .unwrap_or_default();
            super::outbox::emit(conn, t, "whitelist_entry", id, audience, data)?;
        }
        Ok(Some(entry))
    })
}

pub fn versions(conn: &mut DbConnection, id: &str) -> DbResult<Vec<EntryVersionRow>> {
    Ok(whitelist_entry_versions::table
        .filter(whitelist_entry_versions::entry_id.eq(id))
        .order(whitelist_entry_versions::version.asc())
        .select(EntryVersionRow::as_select())
        .load(conn)?)
}

/// The version in force at `instant` (valid time): the last one that started at or before it.
pub fn version_as_of(conn: &mut DbConnection, id: &str, instant: NaiveDateTime) -> DbResult<Option<EntryVersionRow>> {
    Ok(whitelist_entry_versions::table
        .filter(whitelist_entry_versions::entry_id.eq(id))
        .filter(whitelist_entry_versions::valid_from.le(instant))
        .order(whitelist_entry_versions::version.desc())
        .select(EntryVersionRow::as_select())
        .first(conn)
        .optional()?)
}

/// Confirmed entries of `operator` (all years from `from_year`), for automatic suspension.
pub fn confirmed_entries_of_operator(
    conn: &mut DbConnection,
    operator_id: &str,
    from_year: i32,
) -> DbResult<Vec<EntryRow>> {
    Ok(whitelist_entries::table
        .filter(whitelist_entries::operator_id.eq(operator_id))
        .filter(whitelist_entries::status.eq("confirmed"))
        .filter(whitelist_entries::year.ge(from_year))
        .select(EntryRow::as_select())
        .load(conn)?)
}

/// Moves each entry to `status` as a system action (a licence's suspension, reinstatement or
/// expiry carries its entries along); an entry someone changed meanwhile is left as it is.
/// Returns the ids moved.
pub fn change_status_as_system(
    conn: &mut DbConnection,
    entries: Vec<EntryRow>,
    status: &str,
    change: &str,
    reason: &str,
) -> DbResult<Vec<String>> {
    let mut moved = Vec::new();
    for e in entries {
        if change_status(conn, &e.id, e.version, status, change, Some(reason), "system", None)?.is_some() {
            moved.push(e.id);
        }
    }
    Ok(moved)
}

/// Entries of an operator from `from_year` on that a suspension of its licence stopped (the
/// system suspended them with the licence's reason).
pub fn entries_stopped_with_licence(
    conn: &mut DbConnection,
    operator_id: &str,
    from_year: i32,
) -> DbResult<Vec<EntryRow>> {
    Ok(whitelist_entries::table
        .filter(whitelist_entries::operator_id.eq(operator_id))
        .filter(whitelist_entries::status.eq("suspended"))
        .filter(whitelist_entries::year.ge(from_year))
        .filter(whitelist_entries::status_reason.like(format!("{}%", LICENCE_SUSPENDED_PREFIX)))
        .select(EntryRow::as_select())
        .load(conn)?)
}

/// How the reason of an entry suspended with its operator's licence begins.
pub const LICENCE_SUSPENDED_PREFIX: &str = "licence suspended: ";

/// Entries that take `code` from `source` in `year`: scoped to the code itself, to a code of an
/// earlier edition that `code` succeeds (the catalogue's successor mapping, across editions), or
/// to its category.
pub fn entries_for_code(
    conn: &mut DbConnection,
    source: &str,
    code: &str,
    category: &str,
    year: i32,
) -> DbResult<Vec<EntryRow>> {
    let mut scopes = super::catalogue::predecessors(conn, code)?;
    scopes.push(code.to_string());
    scopes.push(category.to_string());
    Ok(whitelist_entries::table
        .filter(
            whitelist_entries::source_province
                .eq(source)
                .or(whitelist_entries::shared_sources.like(crate::domain::whitelist::shared_source_pattern(source))),
        )
        .filter(whitelist_entries::year.eq(year))
        .filter(whitelist_entries::scope.eq_any(scopes))
        .order(whitelist_entries::id.asc())
        .select(EntryRow::as_select())
        .load(conn)?)
}

/// What an operator's live entries of `year` (proposed, confirmed or suspended) grant: in
/// `category`, and over every category; `except` leaves one entry out (the one being confirmed).
pub fn granted_to_operator(
    conn: &mut DbConnection,
    operator_id: &str,
    year: i32,
    category: &str,
    except: Option<&str>,
) -> DbResult<crate::domain::whitelist::Granted> {
    let rows: Vec<(String, String, i64)> = whitelist_entries::table
        .filter(whitelist_entries::operator_id.eq(operator_id))
        .filter(whitelist_entries::year.eq(year))
        .filter(whitelist_entries::status.eq_any(["proposed", "confirmed", "suspended"]))
        .select((
            whitelist_entries::id,
            whitelist_entries::category,
            whitelist_entries::quota_g,
        ))
        .load(conn)?;
    let mut granted = crate::domain::whitelist::Granted::default();
    for (id, c, q) in rows {
        if except == Some(id.as_str()) {
            continue;
        }
        granted.total_g += q;
        if c == category {
            granted.category_g += q;
        }
    }
    Ok(granted)
}

/// A quota movement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Movement {
    /// Filed on the whitelist route: hold the quantity.
    Reserve,
    /// Approved: the held quantity becomes approved.
    Commit,
    /// Refused or withdrawn: the held quantity is freed.
    Release,
    /// An approval expired unused: the unused approved quantity is freed.
    ReleaseApproved,
    /// A manifest was dispatched: the quantity is on its way to the operator.
    Ship,
    /// A dispatched load was rejected by the operator and goes back: the shipment is undone.
    Return,
    /// The operator accepted this quantity at receipt.
    Receive,
}

impl Movement {
    pub fn as_str(self) -> &'static str {
        match self {
            Movement::Reserve => "reserve",
            Movement::Commit => "commit",
            Movement::Release => "release",
            Movement::ReleaseApproved => "release_approved",
            Movement::Ship => "ship",
            Movement::Return => "return",
            Movement::Receive => "receive",
        }
    }
}

/// Applies one movement of `grams` to an entry if its guard holds, with its ledger row. Returns
/// false (changing nothing) when it does not: for `Reserve`, when the entry is not confirmed or
/// `reserved + approved + grams` would exceed the quota. Call inside the caller's transaction.
pub fn apply_movement(
    conn: &mut DbConnection,
    entry_id: &str,
    movement: Movement,
    grams: i64,
    application_id: Option<&str>,
    actor: &str,
) -> DbResult<bool> {
    use whitelist_entries::dsl as e;
    if grams <= 0 {
        return Ok(false);
    }
    let now = db_now();
    let target = e::whitelist_entries.find(entry_id);
    let n = match movement {
        // The guard of DESIGN §2: one conditional UPDATE, atomic on both backends.
        Movement::Reserve => diesel::update(
            target
                .filter(e::status.eq("confirmed"))
                .filter((e::reserved_g + e::approved_g + grams).le(e::quota_g)),
        )
        .set((e::reserved_g.eq(e::reserved_g + grams), e::updated_at.eq(now)))
        .execute(conn)?,
        Movement::Commit => diesel::update(target.filter(e::reserved_g.ge(grams)))
            .set((
                e::reserved_g.eq(e::reserved_g - grams),
                e::approved_g.eq(e::approved_g + grams),
                e::updated_at.eq(now),
            ))
            .execute(conn)?,
        Movement::Release => diesel::update(target.filter(e::reserved_g.ge(grams)))
            .set((e::reserved_g.eq(e::reserved_g - grams), e::updated_at.eq(now)))
            .execute(conn)?,
        Movement::ReleaseApproved => diesel::update(target.filter(e::approved_g.ge(grams)))
            .set((e::approved_g.eq(e::approved_g - grams), e::updated_at.eq(now)))
            .execute(conn)?,
        Movement::Ship => diesel::update(target)
            .set((e::shipped_g.eq(e::shipped_g + grams), e::updated_at.eq(now)))
            .execute(conn)?,
        Movement::Return => diesel::update(target.filter(e::shipped_g.ge(grams)))
            .set((e::shipped_g.eq(e::shipped_g - grams), e::updated_at.eq(now)))
            .execute(conn)?,
        Movement::Receive => diesel::update(target)
            .set((e::received_g.eq(e::received_g + grams), e::updated_at.eq(now)))
            .execute(conn)?,
    };
    if n == 0 {
        return Ok(false);
    }
    let (reserved, approved, shipped, received): (i64, i64, i64, i64) = e::whitelist_entries
        .find(entry_id)
        .select((e::reserved_g, e::approved_g, e::shipped_g, e::received_g))
        .first(conn)?;
    let change =
        |field: &str, after: i64, delta: i64| serde_json::json!({ field: {"from": after - delta, "to": after} });
    let diff = match movement {
        Movement::Reserve => change("reserved_g", reserved, grams),
        Movement::Release => change("reserved_g", reserved, -grams),
        Movement::Commit => serde_json::json!({
            "reserved_g": {"from": reserved + grams, "to": reserved},
            "approved_g": {"from": approved - grams, "to": approved},
        }),
        Movement::ReleaseApproved => change("approved_g", approved, -grams),
        Movement::Ship => change("shipped_g", shipped, grams),
        Movement::Return => change("shipped_g", shipped, -grams),
        Movement::Receive => change("received_g", received, grams),
    };
    audit::record(
        conn,
        "whitelist_entry",
        entry_id,
        &format!("quota_{}", movement.as_str()),
        diff,
    )?;
    diesel::insert_into(quota_ledger::table)
        .values((
            quota_ledger::id.eq(new_id()),
            quota_ledger::entry_id.eq(entry_id),
            quota_ledger::movement.eq(movement.as_str()),
            quota_ledger::amount_g.eq(grams),
            quota_ledger::application_id.eq(application_id),
            quota_ledger::actor.eq(actor),
            quota_ledger::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(true)
}

/// One movement in its own write transaction (what a filing does when it reserves).
pub fn movement_tx(
    conn: &mut DbConnection,
    entry_id: &str,
    movement: Movement,
    grams: i64,
    application_id: Option<&str>,
    actor: &str,
) -> DbResult<bool> {
    write_tx(conn, |conn| {
        apply_movement(conn, entry_id, movement, grams, application_id, actor)
    })
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = quota_ledger)]
pub struct LedgerRow {
    pub id: String,
    pub entry_id: String,
    pub movement: String,
    pub amount_g: i64,
    pub application_id: Option<String>,
    pub actor: String,
    pub created_at: NaiveDateTime,
}

pub fn ledger(conn: &mut DbConnection, entry_id: &str) -> DbResult<Vec<LedgerRow>> {
    Ok(quota_ledger::table
        .filter(quota_ledger::entry_id.eq(entry_id))
        .order(quota_ledger::id.asc())
        .select(LedgerRow::as_select())
        .load(conn)?)
}

/// Entries of years before `year` that are not yet marked expired.
pub fn entries_to_expire(conn: &mut DbConnection, year: i32) -> DbResult<Vec<EntryRow>> {
    Ok(whitelist_entries::table
        .filter(whitelist_entries::year.lt(year))
        .filter(whitelist_entries::status.ne("expired"))
        .select(EntryRow::as_select())
        .load(conn)?)
}

pub fn parse_date(s: &str) -> DbResult<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|e| DbError::Other(anyhow::anyhow!("bad stored date {s}: {e}")))
}
