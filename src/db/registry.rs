//! Producers (移出人), operators (经营单位) and their versioned licences.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use super::schema::{enterprises, operator_licences, operators};
use super::{DbConnection, DbError, DbResult, audit, db_now, new_id, write_tx};
use crate::domain::Invalid;
use crate::domain::catalogue::{WasteCategory, WasteCode};
use crate::domain::quantity::Quantity;
use crate::domain::whitelist::{Licence, LicenceMode, LicenceStatus};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = enterprises)]
pub struct EnterpriseRow {
    pub id: String,
    pub name: String,
    pub uscc: String,
    pub province: String,
    pub division_code: String,
    pub address: String,
    pub contact_name: String,
    pub contact_phone: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// `producer` (产生单位) or `collector` (收集单位, `domain::parties`).
    pub kind: String,
    /// A collector's own operator record, whose licence it files under.
    pub collector_operator_id: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = operators)]
pub struct OperatorRow {
    pub id: String,
    pub name: String,
    pub uscc: String,
    pub province: String,
    pub division_code: String,
    pub address: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = operator_licences)]
pub struct LicenceRow {
    pub id: String,
    pub operator_id: String,
    pub version: i32,
    pub licence_number: String,
    /// Comma-separated modes (collect,store,utilise,dispose).
    pub modes: String,
    /// Comma-separated categories (HW08,HW49).
    pub categories: String,
    /// Comma-separated single codes.
    pub codes: String,
    pub annual_capacity_g: i64,
    pub valid_from: String,
    pub valid_until: String,
    pub issuing_authority: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub recorded_by: String,
    pub recorded_at: NaiveDateTime,
    /// JSON object: category (HW08) -> annual grams, for categories the licence gives a figure of
    /// their own.
    pub category_capacities: String,
}

fn split_list(s: &str) -> impl Iterator<Item = &str> {
    s.split(',').map(str::trim).filter(|x| !x.is_empty())
}

fn bad_row(what: &str) -> DbError {
    DbError::Other(anyhow::anyhow!("stored licence has a bad {what}"))
}

impl LicenceRow {
    /// The categories' own annual figures.
    pub fn category_capacities(&self) -> DbResult<std::collections::BTreeMap<WasteCategory, Quantity>> {
        let raw: std::collections::BTreeMap<String, i64> =
            serde_json::from_str(&self.category_capacities).map_err(|_| bad_row("category capacities"))?;
        raw.into_iter()
            .map(|(c, g)| {
                Ok((
                    WasteCategory::parse(&c).map_err(|_| bad_row("category capacities"))?,
                    Quantity::from_grams(g).map_err(|_| bad_row("category capacities"))?,
                ))
            })
            .collect()
    }

    /// The licence as the domain rules see it.
    pub fn to_domain(&self) -> DbResult<Licence> {
        let date = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| bad_row("date"));
        Ok(Licence {
            modes: split_list(&self.modes)
                .map(LicenceMode::parse)
                .collect::<Result<_, _>>()
                .map_err(|_| bad_row("mode"))?,
            categories: split_list(&self.categories)
                .map(WasteCategory::parse)
                .collect::<Result<_, _>>()
                .map_err(|_| bad_row("category"))?,
            codes: split_list(&self.codes)
                .map(WasteCode::parse)
                .collect::<Result<_, _>>()
                .map_err(|_| bad_row("code"))?,
            annual_capacity: Quantity::from_grams(self.annual_capacity_g).map_err(|_| bad_row("capacity"))?,
            category_capacities: self.category_capacities()?,
            valid_from: date(&self.valid_from)?,
            valid_until: date(&self.valid_until)?,
            status: LicenceStatus::parse(&self.status).map_err(|_| bad_row("status"))?,
        })
    }
}

pub fn insert_enterprise(conn: &mut DbConnection, row: &EnterpriseRow) -> DbResult<()> {
    write_tx(conn, |conn| {
        diesel::insert_into(enterprises::table)
            .values(row.clone())
            .execute(conn)?;
        audit::record_change(conn, "enterprise", &row.id, "created", None, Some(row))
    })
}

/// Why this enterprise may not file on `today` as the transferring party: a collector without a
/// collection licence in force that day (`domain::parties`). A producer has no such condition.
pub fn filing_refusal(conn: &mut DbConnection, e: &EnterpriseRow, today: NaiveDate) -> DbResult<Option<Invalid>> {
    if e.kind != crate::domain::parties::PartyKind::Collector.as_str() {
        return Ok(None);
    }
    let licence = match &e.collector_operator_id {
        Some(op) => licence_on(conn, op, today)?.map(|l| l.to_domain()).transpose()?,
        None => None,
    };
    Ok(crate::domain::parties::collector_licence_problem(
        licence.as_ref(),
        today,
    ))
}

pub fn enterprise_by_id(conn: &mut DbConnection, id: &str) -> DbResult<Option<EnterpriseRow>> {
    Ok(enterprises::table
        .find(id)
        .select(EnterpriseRow::as_select())
        .first(conn)
        .optional()?)
}

/// Enterprises in id order after `after`; `province` and `only` (one id) narrow the list.
pub fn list_enterprises(
    conn: &mut DbConnection,
    province: Option<&str>,
    only: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> DbResult<Vec<EnterpriseRow>> {
    let mut q = enterprises::table
        .select(EnterpriseRow::as_select())
        .order(enterprises::id.asc())
        .into_boxed();
    if let Some(p) = province {
        q = q.filter(enterprises::province.eq(p.to_string()));
    }
    if let Some(id) = only {
        q = q.filter(enterprises::id.eq(id.to_string()));
    }
    if let Some(a) = after {
        q = q.filter(enterprises::id.gt(a.to_string()));
    }
    Ok(q.limit(limit).load(conn)?)
}

pub fn insert_operator(conn: &mut DbConnection, row: &OperatorRow) -> DbResult<()> {
    write_tx(conn, |conn| {
        diesel::insert_into(operators::table)
            .values(row.clone())
            .execute(conn)?;
        audit::record_change(conn, "operator", &row.id, "created", None, Some(row))
    })
}

pub fn operator_by_id(conn: &mut DbConnection, id: &str) -> DbResult<Option<OperatorRow>> {
    Ok(operators::table
        .find(id)
        .select(OperatorRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn operator_by_uscc(conn: &mut DbConnection, uscc: &str) -> DbResult<Option<OperatorRow>> {
    Ok(operators::table
        .filter(operators::uscc.eq(uscc))
        .select(OperatorRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn list_operators(
    conn: &mut DbConnection,
    province: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> DbResult<Vec<OperatorRow>> {
    let mut q = operators::table
        .select(OperatorRow::as_select())
        .order(operators::id.asc())
        .into_boxed();
    if let Some(p) = province {
        q = q.filter(operators::province.eq(p.to_string()));
    }
    if let Some(a) = after {
        q = q.filter(operators::id.gt(a.to_string()));
    }
    Ok(q.limit(limit).load(conn)?)
}

/// The fields of a new licence version.
#[derive(Debug, Clone)]
pub struct NewLicence {
    pub licence_number: String,
    pub modes: Vec<LicenceMode>,
    pub categories: Vec<WasteCategory>,
    pub codes: Vec<WasteCode>,
    pub annual_capacity: Quantity,
    pub category_capacities: Vec<(WasteCategory, Quantity)>,
    pub valid_from: NaiveDate,
    pub valid_until: NaiveDate,
    pub issuing_authority: String,
}

/// Records a new licence version (a renewal or change); the previous versions stay as history.
pub fn add_licence(conn: &mut DbConnection, operator_id: &str, new: &NewLicence, by: &str) -> DbResult<LicenceRow> {
    write_tx(conn, |conn| {
        let last: Option<i32> = operator_licences::table
            .filter(operator_licences::operator_id.eq(operator_id))
            .select(diesel::dsl::max(operator_licences::version))
            .first(conn)?;
        let join = |v: Vec<String>| v.join(",");
        let row = LicenceRow {
            id: new_id(),
            operator_id: operator_id.to_string(),
            version: last.unwrap_or(0) + 1,
            licence_number: new.licence_number.clone(),
            modes: join(new.modes.iter().map(|m| m.as_str().to_string()).collect()),
            categories: join(new.categories.iter().map(|c| c.as_str()).collect()),
            codes: join(new.codes.iter().map(|c| c.as_str().to_string()).collect()),
            annual_capacity_g: new.annual_capacity.grams(),
            valid_from: new.valid_from.to_string(),
            valid_until: new.valid_until.to_string(),
            issuing_authority: new.issuing_authority.clone(),
            status: LicenceStatus::Valid.as_str().to_string(),
            status_reason: None,
            recorded_by: by.to_string(),
            recorded_at: db_now(),
            category_capacities: serde_json::to_string(
                &new.category_capacities
                    .iter()
                    .map(|(c, q)| (c.as_str(), q.grams()))
                    .collect::<std::collections::BTreeMap<_, _>>(),
            )
            .map_err(|e| DbError::Other(e.into()))?,
        };
        diesel::insert_into(operator_licences::table)
            .values(row.clone())
            .execute(conn)?;
        audit::record_change(conn, "operator_licence", &row.id, "recorded", None, Some(&row))?;
        Ok(row)
    })
}

/// The licence version in effect on `date`: the highest version that had started by then. A
/// later version supersedes the earlier ones from its first day, and a renewal starting next
/// month is not in effect today. The version returned may have ended or be suspended: whether it
/// allows anything is [`Licence::in_force_on`](crate::domain::whitelist::Licence::in_force_on).
pub fn licence_on(conn: &mut DbConnection, operator_id: &str, date: NaiveDate) -> DbResult<Option<LicenceRow>> {
    Ok(operator_licences::table
        .filter(operator_licences::operator_id.eq(operator_id))
        .filter(operator_licences::valid_from.le(date.to_string()))
        .order(operator_licences::version.desc())
        .select(LicenceRow::as_select())
        .first(conn)
        .optional()?)
}

/// The licence version that counts for a year's whitelist entries: the one in effect at the end
/// of the year (the latest that starts within it or before).
pub fn licence_in_year(conn: &mut DbConnection, operator_id: &str, year: i32) -> DbResult<Option<LicenceRow>> {
    match NaiveDate::from_ymd_opt(year, 12, 31) {
        Some(last) => licence_on(conn, operator_id, last),
        None => Ok(None),
    }
}

impl LicenceRow {
    /// Valid on `date`: in effect by its dates and not suspended or revoked.
    pub fn allows_on(&self, date: NaiveDate) -> bool {
        let d = date.to_string();
        self.status == LicenceStatus::Valid.as_str() && self.valid_from <= d && d <= self.valid_until
    }
}

/// The current (highest) licence version of an operator: its latest record, which may start in
/// the future. Rules about a date use [`licence_on`].
pub fn current_licence(conn: &mut DbConnection, operator_id: &str) -> DbResult<Option<LicenceRow>> {
    Ok(operator_licences::table
        .filter(operator_licences::operator_id.eq(operator_id))
        .order(operator_licences::version.desc())
        .select(LicenceRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn licence_history(conn: &mut DbConnection, operator_id: &str) -> DbResult<Vec<LicenceRow>> {
    Ok(operator_licences::table
        .filter(operator_licences::operator_id.eq(operator_id))
        .order(operator_licences::version.asc())
        .select(LicenceRow::as_select())
        .load(conn)?)
}

pub fn set_licence_status(
    conn: &mut DbConnection,
    licence_id: &str,
    status: LicenceStatus,
    reason: Option<&str>,
) -> DbResult<()> {
    write_tx(conn, |conn| {
        let before = licence_by_id(conn, licence_id)?;
        diesel::update(operator_licences::table.find(licence_id))
            .set((
                operator_licences::status.eq(status.as_str()),
                operator_licences::status_reason.eq(reason),
            ))
            .execute(conn)?;
        let after = licence_by_id(conn, licence_id)?;
        audit::record_change(
            conn,
            "operator_licence",
            licence_id,
            status.as_str(),
            before.as_ref(),
            after.as_ref(),
        )
    })
}

pub fn licence_by_id(conn: &mut DbConnection, id: &str) -> DbResult<Option<LicenceRow>> {
    Ok(operator_licences::table
        .find(id)
        .select(LicenceRow::as_select())
        .first(conn)
        .optional()?)
}

/// Current licences whose validity ended before `today` but that still count as valid.
pub fn expired_licences(conn: &mut DbConnection, today: NaiveDate) -> DbResult<Vec<LicenceRow>> {
    let rows: Vec<LicenceRow> = operator_licences::table
        .filter(operator_licences::status.eq("valid"))
        .filter(operator_licences::valid_until.lt(today.to_string()))
        .select(LicenceRow::as_select())
        .load(conn)?;
    // Only the current version of each operator matters.
    let mut out = Vec::new();
    for r in rows {
        if current_licence(conn, &r.operator_id)?.is_some_and(|c| c.id == r.id) {
            out.push(r);
        }
    }
    Ok(out)
}
