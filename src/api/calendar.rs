//! The working-day calendar: deadline arithmetic and the admin import of a year's notice.

use actix_web::{HttpRequest, get, put, web};
use chrono::{Datelike, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::error::{ApiError, ApiResult, FieldProblem, Location, Problem};
use super::extract::{BodyReader, QueryParams};
use crate::auth::Principal;
use crate::auth::permission::require_role;
use crate::auth::principal::Role;
use crate::db;
use crate::domain::Invalid;
use crate::domain::calendar::{CalendarDay, DayKind, YearCalendar, deadline_instant, shanghai_date};
use crate::state::AppState;

pub use crate::domain::calendar::parse_date;

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

/// Add working days to a date.
///
/// Counts from the day after `from` (the start day is excluded), skipping weekends and statutory
/// holidays and counting make-up working days (调休).
#[utoipa::path(
    tag = "calendar",
    params(
        ("from" = String, Query, description = "YYYY-MM-DD"),
        ("add" = u32, Query, description = "working days to add, 0–250"),
    ),
    responses(
        (status = 200, body = WorkingDaysDto),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/calendar/working-days")]
pub async fn working_days(state: web::Data<AppState>, req: HttpRequest) -> ApiResult<web::Json<WorkingDaysDto>> {
    let mut q = QueryParams::parse(&req, &["from", "add"])?;
    q.required("from");
    q.required("add");
    let from = q.parse_with("from", parse_date);
    let add = q.parse_with("add", |s| {
        s.parse::<u32>()
            .ok()
            .filter(|n| *n <= 250)
            .ok_or_else(|| Invalid::new("query.add", "add must be an integer from 0 to 250"))
    });
    let (Some(from), Some(add)) = (from, add) else {
        return Err(ApiError::Validation(q.problems));
    };
    q.finish()?;
    let calendar = state.db.run(db::calendar::load).await?;
    let due = calendar.add_working_days(from, add);
    Ok(web::Json(WorkingDaysDto {
        from: from.to_string(),
        add,
        due: due.date.to_string(),
        due_at: deadline_instant(due.date, state.config.office_close).to_rfc3339(),
        provisional: due.provisional,
    }))
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

/// Which years the calendar knows.
#[utoipa::path(tag = "calendar", responses((status = 200, body = CalendarOverview)))]
#[get("/calendar")]
pub async fn overview(state: web::Data<AppState>) -> ApiResult<web::Json<CalendarOverview>> {
    let calendar = state.db.run(db::calendar::load).await?;
    let this_year = shanghai_date(Utc::now()).year();
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
    let missing = (this_year..=this_year + 1).filter(|y| !calendar.has_year(*y)).collect();
    Ok(web::Json(CalendarOverview { years, missing }))
}

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

fn parse_year(raw: &str) -> Result<i32, ApiError> {
    raw.parse::<i32>()
        .ok()
        .filter(|y| (2000..=2100).contains(y))
        .ok_or_else(|| {
            ApiError::Validation(vec![FieldProblem::new(
                Location::Path,
                "/year",
                "calendar.year",
                "year must be between 2000 and 2100",
            )])
        })
}

/// One year's holidays and make-up working days.
#[utoipa::path(
    tag = "calendar",
    params(("year" = i32, Path)),
    responses(
        (status = 200, body = CalendarYearDto),
        (status = 404, description = "No data for that year: deadlines in it are provisional", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/calendar/{year:[0-9]+}")]
pub async fn get_year(state: web::Data<AppState>, path: web::Path<String>) -> ApiResult<web::Json<CalendarYearDto>> {
    let year = parse_year(&path)?;
    calendar_year(&state, year).await.map(web::Json)
}

/// One year's calendar (404 when not imported); shared by the API and the web UI.
pub(crate) async fn calendar_year(state: &AppState, year: i32) -> ApiResult<CalendarYearDto> {
    let found = state.db.run(move |conn| db::calendar::year(conn, year)).await?;
    let (meta, days) = found.ok_or(ApiError::NotFound)?;
    Ok(year_dto(meta, days))
}

/// Body of `PUT /calendar/{year}`: the State Council notice of that year.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CalendarYearInput {
    /// Where the data comes from, e.g. the notice's document number.
    pub source: String,
    /// Every holiday (including weekend days inside a holiday block) and every make-up working day.
    pub days: Vec<CalendarDayDto>,
}

fn read_year(year: i32, body: &Value) -> Result<(String, YearCalendar), ApiError> {
    let mut r = BodyReader::new(body, "");
    r.deny_unknown(&["source", "days"]);
    let source = r.parse("source", |s| {
        let t = s.trim();
        if t.is_empty() || t.chars().count() > 200 {
            Err(Invalid::new("calendar.source", "source must be 1 to 200 characters"))
        } else {
            Ok(t.to_string())
        }
    });
    let mut days = Vec::new();
    if let Some(items) = r.array("days") {
        if items.is_empty() {
            r.problem("days", "calendar.empty", "a year's notice lists at least one holiday");
        }
        for (i, item) in items.iter().enumerate() {
            let mut d = BodyReader::new(item, &format!("/days/{i}"));
            d.deny_unknown(&["date", "kind", "name_zh", "name_en"]);
            let date = d.parse("date", parse_date);
            let kind = d.parse("kind", |s| match s {
                "holiday" => Ok(DayKind::Holiday),
                "workday" => Ok(DayKind::Workday),
                _ => Err(Invalid::new("calendar.kind", "kind must be holiday or workday")),
            });
            let name_zh = d.str("name_zh").map(str::to_string);
            let name_en = d.opt_str("name_en").unwrap_or_default().to_string();
            r.problems.append(&mut d.problems);
            if let (Some(date), Some(kind), Some(name_zh)) = (date, kind, name_zh) {
                days.push((
                    i,
                    CalendarDay {
                        date,
                        kind,
                        name_zh,
                        name_en,
                    },
                ));
            }
        }
    }
    if !r.problems.is_empty() {
        return Err(ApiError::Validation(r.problems));
    }
    let (indices, days): (Vec<usize>, Vec<CalendarDay>) = days.into_iter().unzip();
    let cal = YearCalendar::new(year, days).map_err(|problems| {
        ApiError::Validation(
            problems
                .into_iter()
                .map(|(i, field, invalid)| {
                    FieldProblem::body(
                        format!("/days/{}/{field}", indices.get(i).copied().unwrap_or(i)),
                        &invalid,
                    )
                })
                .collect(),
        )
    })?;
    Ok((source.unwrap_or_default(), cal))
}

/// Import (or replace) a year's holidays and make-up working days. Admin only.
///
/// Open deadlines computed provisionally for that year are recomputed by the workflow.
#[utoipa::path(
    tag = "calendar",
    security(("bearer" = [])),
    params(("year" = i32, Path)),
    request_body = CalendarYearInput,
    responses(
        (status = 200, body = CalendarYearDto),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/calendar/{year:[0-9]+}")]
pub async fn put_year(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> ApiResult<web::Json<CalendarYearDto>> {
    require_role(&who, &[Role::Admin])?;
    let year = parse_year(&path)?;
    Ok(web::Json(import_year(&state, &who, year, &body).await?))
}

/// Stores a year's calendar (admin only) and recomputes the provisional deadlines that fall in
/// it; the API's PUT and the UI's import form both come here.
pub(crate) async fn import_year(
    state: &AppState,
    who: &Principal,
    year: i32,
    body: &Value,
) -> ApiResult<CalendarYearDto> {
    require_role(who, &[Role::Admin])?;
    let (source, cal) = read_year(year, body)?;
    tracing::info!(year, by = %who.name, days = cal.days().len(), "calendar year imported");
    let office_close = state.config.office_close;
    let (stored, recomputed) = state
        .db
        .run(move |conn| {
            db::calendar::put_year(conn, &cal, &source)?;
            // Deadlines computed provisionally (plain Monday–Friday) are recomputed now.
            let calendar = db::calendar::load(conn)?;
            let recomputed =
                db::applications::recompute_provisional(conn, &calendar, office_close, shanghai_date(Utc::now()))?
                    + db::manifests::recompute_provisional(conn, &calendar, office_close)?;
            Ok((db::calendar::year(conn, year)?, recomputed))
        })
        .await?;
    state.invalidate_calendar();
    tracing::info!(year, recomputed, "open provisional deadlines recomputed");
    let (meta, days) =
        stored.ok_or_else(|| ApiError::internal(anyhow::anyhow!("calendar year vanished after import")))?;
    Ok(year_dto(meta, days))
}
