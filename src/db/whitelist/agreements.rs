//! Province-pair (and N-province) agreements: proposing, confirming, terminating, and which one
//! holds between two provinces on a day.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use super::parse_date;
use crate::db::schema::{agreement_members, agreements};
use crate::db::{DbConnection, DbResult, audit, db_now, write_tx};

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
