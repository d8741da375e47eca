//! The working-day calendar: each year's holidays and make-up working days as published by the
//! State Council. A year without a row in `calendar_years` is unknown, and deadlines in it are provisional.

use chrono::NaiveDate;
use diesel::prelude::*;

use super::schema::{calendar_days, calendar_years};
use super::{DbConnection, DbError, DbResult, db_now};
use crate::domain::calendar::{CalendarDay, DayKind, WorkingDayCalendar, YearCalendar, embedded_years};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = calendar_days)]
struct DayRow {
    day: String,
    year: i32,
    kind: String,
    name_zh: String,
    name_en: String,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = calendar_years)]
pub struct YearRow {
    pub year: i32,
    pub source: String,
    pub imported_at: chrono::NaiveDateTime,
}

fn to_day(row: DayRow) -> DbResult<CalendarDay> {
    let date = NaiveDate::parse_from_str(&row.day, "%Y-%m-%d")
        .map_err(|e| DbError::Other(anyhow::anyhow!("bad stored calendar day {}: {e}", row.day)))?;
    let kind = match row.kind.as_str() {
        "holiday" => DayKind::Holiday,
        "workday" => DayKind::Workday,
        other => return Err(DbError::Other(anyhow::anyhow!("bad stored day kind {other}"))),
    };
    let _ = row.year;
    Ok(CalendarDay {
        date,
        kind,
        name_zh: row.name_zh,
        name_en: row.name_en,
    })
}

/// Replaces one year's days in a single transaction. Returns true when the year was new.
pub fn put_year(conn: &mut DbConnection, cal: &YearCalendar, source: &str) -> DbResult<bool> {
    super::write_tx(conn, |conn| {
        let year = cal.year();
        let day_list = |days: Vec<(String, String)>| -> Vec<String> {
            days.into_iter().map(|(d, k)| format!("{d} {k}")).collect()
        };
        let before: Vec<(String, String)> = calendar_days::table
            .filter(calendar_days::year.eq(year))
            .order(calendar_days::day.asc())
            .select((calendar_days::day, calendar_days::kind))
            .load(conn)?;
        let existed = diesel::delete(calendar_years::table.find(year)).execute(conn)? > 0;
        diesel::delete(calendar_days::table.filter(calendar_days::year.eq(year))).execute(conn)?;
        diesel::insert_into(calendar_years::table)
            .values((
                calendar_years::year.eq(year),
                calendar_years::source.eq(source),
                calendar_years::imported_at.eq(db_now()),
            ))
            .execute(conn)?;
        for d in cal.days() {
            let kind = match d.kind {
                DayKind::Holiday => "holiday",
                DayKind::Workday => "workday",
            };
            diesel::insert_into(calendar_days::table)
                .values((
                    calendar_days::day.eq(d.date.to_string()),
                    calendar_days::year.eq(year),
                    calendar_days::kind.eq(kind),
                    calendar_days::name_zh.eq(&d.name_zh),
                    calendar_days::name_en.eq(&d.name_en),
                ))
                .execute(conn)?;
        }
        let after: Vec<(String, String)> = calendar_days::table
            .filter(calendar_days::year.eq(year))
            .order(calendar_days::day.asc())
            .select((calendar_days::day, calendar_days::kind))
            .load(conn)?;
        super::audit::record(
            conn,
            "calendar_year",
            &year.to_string(),
            "imported",
            crate::audit::diff(
                existed
                    .then(|| serde_json::json!({ "days": day_list(before) }))
                    .as_ref(),
                Some(&serde_json::json!({ "days": day_list(after), "source": source })),
            ),
        )?;
        Ok(!existed)
    })
}

/// Loads the embedded years the database lacks (never overwrites an admin's import).
pub fn ensure_embedded(conn: &mut DbConnection) -> DbResult<usize> {
    let known: Vec<i32> = calendar_years::table.select(calendar_years::year).load(conn)?;
    let mut added = 0;
    for cal in embedded_years() {
        if !known.contains(&cal.year()) {
            put_year(conn, cal, "国务院办公厅通知 (embedded)")?;
            added += 1;
        }
    }
    Ok(added)
}

/// What identifies the stored calendar's state: the years held and the last import instant. An
/// import on any replica changes it (one small read over the year rows, no day rows).
pub fn version(conn: &mut DbConnection) -> DbResult<(i64, Option<chrono::NaiveDateTime>)> {
    Ok(calendar_years::table
        .select((diesel::dsl::count_star(), diesel::dsl::max(calendar_years::imported_at)))
        .first(conn)?)
}

/// Recomputes every open provisional deadline (application steps and manifest receipts) with the
/// calendar now stored: what every arrival of a year does, whichever way it came. Returns how
/// many deadlines were recomputed.
pub fn recompute_open_deadlines(
    conn: &mut DbConnection,
    office_close: chrono::NaiveTime,
    now: chrono::DateTime<chrono::Utc>,
) -> DbResult<usize> {
    let calendar = load(conn)?;
    Ok(super::applications::recompute_provisional(
        conn,
        &calendar,
        office_close,
        crate::domain::calendar::shanghai_date(now),
    )? + super::manifests::recompute_provisional(conn, &calendar, office_close)?)
}

pub fn year(conn: &mut DbConnection, year: i32) -> DbResult<Option<(YearRow, Vec<CalendarDay>)>> {
    let Some(meta) = calendar_years::table
        .find(year)
        .select(YearRow::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let rows: Vec<DayRow> = calendar_days::table
        .filter(calendar_days::year.eq(year))
        .order(calendar_days::day.asc())
        .select(DayRow::as_select())
        .load(conn)?;
    let days = rows.into_iter().map(to_day).collect::<DbResult<Vec<_>>>()?;
    Ok(Some((meta, days)))
}

/// The whole calendar as the domain's working-day calculator.
pub fn load(conn: &mut DbConnection) -> DbResult<WorkingDayCalendar> {
    let years: Vec<i32> = calendar_years::table.select(calendar_years::year).load(conn)?;
    let rows: Vec<DayRow> = calendar_days::table
        .order(calendar_days::day.asc())
        .select(DayRow::as_select())
        .load(conn)?;
    let mut by_year: std::collections::BTreeMap<i32, Vec<CalendarDay>> =
        years.into_iter().map(|y| (y, Vec::new())).collect();
    for row in rows {
        let y = row.year;
        let day = to_day(row)?;
        by_year.entry(y).or_default().push(day);
    }
    let mut cals = Vec::new();
    for (y, days) in by_year {
        let cal = YearCalendar::new(y, days)
            .map_err(|p| DbError::Other(anyhow::anyhow!("stored calendar {y} invalid: {p:?}")))?;
        cals.push(cal);
    }
    Ok(WorkingDayCalendar::new(cals))
}
