//! Figures for the dashboard: approved tonnage per month and province pair, decisions on time per
//! province, and quota utilisation per operator. Each reads a bounded window (twelve months, or
//! one year's entries) of narrow columns and groups in Rust, which keeps the SQL the same on both
//! backends.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDateTime};
use diesel::prelude::*;

use super::schema::{application_steps, operators, transfer_applications, whitelist_entries};
use super::{DbConnection, DbResult};
use crate::domain::calendar::shanghai_date;

/// Approved grams in one month (Asia/Shanghai, `YYYY-MM`) from one province to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairMonth {
    pub source: String,
    pub receiving: String,
    pub month: String,
    pub grams: i64,
}

/// Approvals since `since`, by (source, receiving, month); `province` limits to cases involving it.
pub fn monthly_tonnage(
    conn: &mut DbConnection,
    since: NaiveDateTime,
    province: Option<&str>,
) -> DbResult<Vec<PairMonth>> {
    use transfer_applications::dsl as t;
    let mut q = t::transfer_applications
        .filter(t::approved_at.ge(since))
        .select((t::source_province, t::receiving_province, t::approved_at, t::quantity_g))
        .into_boxed();
    if let Some(p) = province {
        q = q.filter(
            t::source_province
                .eq(p.to_string())
                .or(t::receiving_province.eq(p.to_string())),
        );
    }
    let rows: Vec<(String, String, Option<NaiveDateTime>, i64)> = q.load(conn)?;
    let mut sums: BTreeMap<(String, String, String), i64> = BTreeMap::new();
    for (source, receiving, at, grams) in rows {
        let Some(at) = at else { continue };
        let day = shanghai_date(at.and_utc());
        let month = format!("{:04}-{:02}", day.year(), day.month());
        *sums.entry((source, receiving, month)).or_default() += grams;
    }
    Ok(sums
        .into_iter()
        .map(|((source, receiving, month), grams)| PairMonth {
            source,
            receiving,
            month,
            grams,
        })
        .collect())
}

/// Steps a province completed, and how many by their due instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnTime {
    pub province: String,
    pub completed: i64,
    pub on_time: i64,
}

/// Steps completed since `since`, counted for the province whose side took them.
pub fn on_time(conn: &mut DbConnection, since: NaiveDateTime, province: Option<&str>) -> DbResult<Vec<OnTime>> {
    use application_steps::dsl as s;
    use transfer_applications::dsl as t;
    let rows: Vec<(String, Option<NaiveDateTime>, NaiveDateTime, String, String)> = s::application_steps
        .inner_join(t::transfer_applications)
        .filter(s::completed_at.ge(since))
        .select((
            s::side,
            s::completed_at,
            s::due_at,
            t::source_province,
            t::receiving_province,
        ))
        .load(conn)?;
    let mut counts: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for (side, done, due, source, receiving) in rows {
        let who = if side == "source" { source } else { receiving };
        if province.is_some_and(|p| p != who) {
            continue;
        }
        let c = counts.entry(who).or_default();
        c.0 += 1;
        if done.is_some_and(|d| d <= due) {
            c.1 += 1;
        }
    }
    Ok(counts
        .into_iter()
        .map(|(province, (completed, on_time))| OnTime {
            province,
            completed,
            on_time,
        })
        .collect())
}

/// One operator's quota and what is reserved or approved of it, over a year's entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Utilisation {
    pub operator_id: String,
    pub operator_name: String,
    pub quota_g: i64,
    pub used_g: i64,
}

/// Confirmed and suspended entries of `year`; `province` limits to entries involving it.
pub fn utilisation(conn: &mut DbConnection, year: i32, province: Option<&str>) -> DbResult<Vec<Utilisation>> {
    use whitelist_entries::dsl as w;
    let mut q = w::whitelist_entries
        .inner_join(operators::table.on(operators::id.eq(w::operator_id)))
        .filter(w::year.eq(year))
        .filter(w::status.eq_any(["confirmed", "suspended"]))
        .select((
            w::operator_id,
            operators::name,
            w::quota_g,
            w::reserved_g,
            w::approved_g,
        ))
        .into_boxed();
    if let Some(p) = province {
        q = q.filter(
            w::source_province
                .eq(p.to_string())
                .or(w::receiving_province.eq(p.to_string())),
        );
    }
    let rows: Vec<(String, String, i64, i64, i64)> = q.load(conn)?;
    let mut by_operator: BTreeMap<String, Utilisation> = BTreeMap::new();
    for (id, name, quota, reserved, approved) in rows {
        let u = by_operator.entry(id.clone()).or_insert(Utilisation {
            operator_id: id,
            operator_name: name,
            quota_g: 0,
            used_g: 0,
        });
        u.quota_g += quota;
        u.used_g += reserved + approved;
    }
    Ok(by_operator.into_values().collect())
}
