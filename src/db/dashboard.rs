//! Figures for the dashboard: approved tonnage per month and province pair, decisions on time per
//! province, and quota utilisation per operator. The first two read the maintained totals of
//! `db::figures` (a row per province pair and day), the third one year's whitelist entries; each
//! groups in Rust, which keeps the SQL the same on both backends.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDateTime};
use diesel::prelude::*;

use super::figures::{self, Select};
use super::schema::{operators, whitelist_entries};
use super::{DbConnection, DbResult};

/// Approved grams in one month (Asia/Shanghai, `YYYY-MM`) from one province to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairMonth {
    pub source: String,
    pub receiving: String,
    pub month: String,
    pub grams: i64,
}

/// Approvals since `since`'s Shanghai day, by (source, receiving, month); `province` limits to
/// cases involving it. Read from the maintained totals (`db::figures`).
pub fn monthly_tonnage(
    conn: &mut DbConnection,
    since: NaiveDateTime,
    province: Option<&str>,
) -> DbResult<Vec<PairMonth>> {
    let select = Select {
        province,
        first: Some(figures::day_of(since)),
        ..Default::default()
    };
    let mut sums: BTreeMap<(String, String, String), i64> = BTreeMap::new();
    for (source, receiving, day, grams) in figures::approvals_by_day(conn, &select)? {
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

/// Steps completed since `since`'s Shanghai day, counted for the province whose side took them.
/// Read from the maintained totals (`db::figures`).
pub fn on_time(conn: &mut DbConnection, since: NaiveDateTime, province: Option<&str>) -> DbResult<Vec<OnTime>> {
    let select = Select {
        province,
        first: Some(figures::day_of(since)),
        ..Default::default()
    };
    let mut counts: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for done in figures::steps_by_side(conn, &select)? {
        let who = if done.side == "source" {
            done.source_province
        } else {
            done.receiving_province
        };
        if province.is_some_and(|p| p != who) {
            continue;
        }
        let c = counts.entry(who).or_default();
        c.0 += done.completed;
        c.1 += done.on_time;
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
