//! The working-day calendar: a year's State Council notice (放假安排) arrives by one use case,
//! whichever door brings it (the API, the web UI's form, `hwtransfer calendar import`), and
//! every open deadline computed provisionally is recomputed the same way.

use chrono::Datelike;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::{Validate, ValidationError};

use crate::auth::permission::require_role;
use crate::auth::principal::Role;
use crate::db;
use crate::domain::calendar::{CalendarDay, DayKind, YearCalendar, parse_date};
use crate::service::commands::{date_schema, enum_schema, text_schema, valid_date, valid_text, validation_problems};
use crate::service::{Ctx, Error, FieldProblem, Result};
use crate::state::AppState;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CalendarDayDto {
    /// YYYY-MM-DD.
    pub date: String,
    /// `holiday` (no work) or `workday` (a weekend day made a working day).
    pub kind: String,
    pub name_zh: String,
    pub name_en: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CalendarYearDto {
    pub year: i32,
    pub source: String,
    pub imported_at: String,
    pub days: Vec<CalendarDayDto>,
}

fn year_dto(meta: db::calendar::YearRow, days: Vec<CalendarDay>) -> CalendarYearDto {
    CalendarYearDto {
        year: meta.year,
        source: meta.source,
        imported_at: meta.imported_at.and_utc().to_rfc3339(),
        days: days
            .into_iter()
            .map(|d| CalendarDayDto {
                date: d.date.to_string(),
                kind: match d.kind {
                    DayKind::Holiday => "holiday".into(),
                    DayKind::Workday => "workday".into(),
                },
                name_zh: d.name_zh,
                name_en: d.name_en,
            })
            .collect(),
    }
}

/// One listed day of a notice.
#[derive(Debug, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarDayInput {
    #[validate(custom(function = "valid_date"))]
    #[schema(schema_with = date_schema)]
    pub date: String,
    /// `holiday` (no work, weekend days inside a holiday block included) or `workday` (a
    /// Saturday or Sunday made a working day, 调休).
    #[validate(custom(function = "valid_kind"))]
    #[schema(schema_with = kind_schema)]
    pub kind: String,
    /// e.g. 春节.
    #[validate(custom(function = "valid_text::<50>"))]
    #[schema(schema_with = text_schema::<50>)]
    pub name_zh: String,
    /// e.g. Spring Festival; may be left out.
    #[serde(default, deserialize_with = "crate::service::commands::present")]
    #[validate(custom(function = "valid_text::<100>"))]
    #[schema(schema_with = text_schema::<100>)]
    pub name_en: Option<String>,
}

/// Body of `PUT /calendar/{year}`: the State Council notice of that year.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarYearInput {
    /// Where the data comes from, e.g. the notice's document number.
    #[validate(custom(function = "valid_text::<200>"))]
    #[schema(schema_with = text_schema::<200>)]
    pub source: String,
    /// Every holiday (including weekend days inside a holiday block) and every make-up working
    /// day; a notice lists at least one holiday.
    #[validate(length(min = 1), nested)]
    #[schema(min_items = 1)]
    pub days: Vec<CalendarDayInput>,
}

fn kind_of(s: &str) -> Option<DayKind> {
    match s {
        "holiday" => Some(DayKind::Holiday),
        "workday" => Some(DayKind::Workday),
        _ => None,
    }
}

fn valid_kind(s: &str) -> std::result::Result<(), ValidationError> {
    kind_of(s)
        .map(|_| ())
        .ok_or_else(|| ValidationError::new("calendar.kind").with_message("kind must be holiday or workday".into()))
}

fn kind_schema() -> utoipa::openapi::schema::Schema {
    enum_schema(
        &["holiday", "workday"],
        "holiday (no work) or workday (a weekend day made a working day)",
    )
}

impl CalendarYearInput {
    /// Every problem of the notice for `year` at once: each field's, then the year's own rules
    /// (dates in the year, no date twice, make-up days on weekends, a holiday at least).
    pub fn problems(&self, year: i32) -> Vec<FieldProblem> {
        let mut problems = self
            .validate()
            .err()
            .map(|e| validation_problems(&e))
            .unwrap_or_default();
        if let Err(found) = self.year_calendar(year) {
            for p in found {
                if !problems.iter().any(|q| q.pointer == p.pointer) {
                    problems.push(p);
                }
            }
        }
        problems.sort_by(|a, b| a.pointer.cmp(&b.pointer));
        problems
    }

    fn year_calendar(&self, year: i32) -> std::result::Result<YearCalendar, Vec<FieldProblem>> {
        // The days that read well, each with its index in the body (the others have their
        // problems already).
        let (indices, days): (Vec<usize>, Vec<CalendarDay>) = self
            .days
            .iter()
            .enumerate()
            .filter_map(|(i, d)| {
                Some((
                    i,
                    CalendarDay {
                        date: parse_date(&d.date).ok()?,
                        kind: kind_of(&d.kind)?,
                        name_zh: d.name_zh.trim().to_string(),
                        name_en: d.name_en.as_deref().unwrap_or_default().trim().to_string(),
                    },
                ))
            })
            .unzip();
        let cal = YearCalendar::new(year, days).map_err(|problems| {
            problems
                .into_iter()
                .map(|(i, field, invalid)| {
                    let at = indices.get(i).copied().unwrap_or(i);
                    FieldProblem::body(format!("/days/{at}/{field}"), &invalid)
                })
                .collect::<Vec<_>>()
        })?;
        if !cal.days().iter().any(|d| d.kind == DayKind::Holiday) {
            return Err(vec![FieldProblem::new(
                crate::service::Location::Body,
                "/days",
                "calendar.empty",
                "a year's notice lists at least one holiday",
            )]);
        }
        Ok(cal)
    }
}

/// The years a calendar may be given for.
pub fn valid_year(year: i32) -> bool {
    (2000..=2100).contains(&year)
}

/// Imports (or replaces) a year's notice (admins only) and recomputes the open deadlines that
/// were computed provisionally.
pub async fn import_year(state: &AppState, ctx: &Ctx, year: i32, input: CalendarYearInput) -> Result<CalendarYearDto> {
    require_role(&ctx.who, &[Role::Admin])?;
    let problems = input.problems(year);
    if !problems.is_empty() {
        return Err(Error::Invalid(problems));
    }
    let cal = input.year_calendar(year).map_err(Error::Invalid)?;
    let (meta, days, _) = store_year(state, &ctx.who.name, cal, input.source.trim().to_string()).await?;
    Ok(year_dto(meta, days))
}

/// Stores a checked year and recomputes every open provisional deadline: the one way a year
/// arrives, for every door (the CLI included). Returns the stored year and how many deadlines
/// moved.
pub async fn store_year(
    state: &AppState,
    by: &str,
    cal: YearCalendar,
    source: String,
) -> Result<(db::calendar::YearRow, Vec<CalendarDay>, usize)> {
    let year = cal.year();
    tracing::info!(year, by, days = cal.days().len(), "calendar year imported");
    let office_close = state.config.office_close;
    let (stored, recomputed) = state
        .db
        .run(move |conn| {
            db::calendar::put_year(conn, &cal, &source)?;
            let recomputed = db::calendar::recompute_open_deadlines(conn, office_close, chrono::Utc::now())?;
            Ok((db::calendar::year(conn, year)?, recomputed))
        })
        .await?;
    state.invalidate_calendar();
    tracing::info!(year, recomputed, "open provisional deadlines recomputed");
    let (meta, days) = stored.ok_or_else(|| Error::internal(anyhow::anyhow!("calendar year vanished after import")))?;
    Ok((meta, days, recomputed))
}

/// One year's calendar, if imported.
pub async fn year(state: &AppState, year: i32) -> Result<CalendarYearDto> {
    let found = state.db.run(move |conn| db::calendar::year(conn, year)).await?;
    let (meta, days) = found.ok_or(Error::Hidden)?;
    Ok(year_dto(meta, days))
}

/// This year and the next that have no notice imported yet.
pub fn missing_years(calendar: &crate::domain::calendar::WorkingDayCalendar, today: chrono::NaiveDate) -> Vec<i32> {
    (today.year()..=today.year() + 1)
        .filter(|y| !calendar.has_year(*y))
        .collect()
}

/// The year whose notice is missing and should be asked for now, if any: the current year when
/// it has none, or, from 1 November, the next year (the State Council's notice usually comes in
/// November or December, and cases filed in late December already count days in it).
pub fn notice_alert(calendar: &crate::domain::calendar::WorkingDayCalendar, today: chrono::NaiveDate) -> Option<i32> {
    let year = today.year();
    if !calendar.has_year(year) {
        Some(year)
    } else if today.month() >= 11 && !calendar.has_year(year + 1) {
        Some(year + 1)
    } else {
        None
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WorkingDaysDto {
    /// The start day (not counted).
    pub from: String,
    pub add: u32,
    /// The `add`-th working day after `from`.
    pub due: String,
    /// The deadline instant: `due` at office close, Asia/Shanghai (RFC 3339, UTC).
    pub due_at: String,
    /// True when a year without an imported State Council notice was involved: the plain
    /// Monday–Friday rule was used and the date may move once that year is imported.
    pub provisional: bool,
}

/// The `add`-th working day after `from`, and its deadline instant at office close (read from
/// the database, not the cache: a notice just imported counts at once).
pub async fn working_days(state: &AppState, from: chrono::NaiveDate, add: u32) -> Result<WorkingDaysDto> {
    let calendar = state.db.run(db::calendar::load).await?;
    let due = calendar.add_working_days(from, add);
    Ok(WorkingDaysDto {
        from: from.to_string(),
        add,
        due: due.date.to_string(),
        due_at: crate::domain::calendar::deadline_instant(due.date, state.config.office_close).to_rfc3339(),
        provisional: due.provisional,
    })
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CalendarYearSummary {
    pub year: i32,
    pub source: String,
    pub imported_at: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CalendarOverview {
    pub years: Vec<CalendarYearSummary>,
    /// Years from now to next year that have no data: deadlines there are provisional.
    pub missing: Vec<i32>,
}

/// Which years the calendar knows, and which of this year and the next are missing on `today`.
pub async fn overview(state: &AppState, today: chrono::NaiveDate) -> Result<CalendarOverview> {
    let calendar = state.db.run(db::calendar::load).await?;
    let mut years = Vec::new();
    for y in calendar.years() {
        let meta = state.db.run(move |conn| db::calendar::year(conn, y)).await?;
        if let Some((meta, _)) = meta {
            years.push(CalendarYearSummary {
                year: meta.year,
                source: meta.source,
                imported_at: meta.imported_at.and_utc().to_rfc3339(),
            });
        }
    }
    let missing = missing_years(&calendar, today);
    Ok(CalendarOverview { years, missing })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::domain::calendar::WorkingDayCalendar;

    #[test]
    fn the_next_year_is_asked_for_from_the_first_of_november() {
        let ymd = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let year = |y| YearCalendar::new(y, vec![]).unwrap();
        let only_2026 = WorkingDayCalendar::new([year(2026)]);
        assert_eq!(notice_alert(&only_2026, ymd(2026, 10, 31)), None);
        assert_eq!(notice_alert(&only_2026, ymd(2026, 11, 1)), Some(2027));
        assert_eq!(notice_alert(&only_2026, ymd(2026, 12, 31)), Some(2027));
        assert_eq!(notice_alert(&only_2026, ymd(2027, 1, 4)), Some(2027));
        let both = WorkingDayCalendar::new([year(2026), year(2027)]);
        assert_eq!(notice_alert(&both, ymd(2026, 12, 2)), None);
    }
}
