//! The working-day calendar: deadline arithmetic and the admin import of a year's notice.

use actix_web::{HttpRequest, get, put, web};
use chrono::{Datelike, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::body;
use super::error::{ApiError, ApiResult, FieldProblem, Location, Problem};
use super::extract::QueryParams;
use crate::auth::Principal;
use crate::db;
use crate::domain::Invalid;
use crate::domain::calendar::{deadline_instant, shanghai_date};
pub use crate::service::calendar::{CalendarDayDto, CalendarDayInput, CalendarYearDto, CalendarYearInput};
use crate::service::{Ctx, calendar};
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
    let _this_year = shanghai_date(Utc::now()).year();
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
    let missing = calendar::missing_years(&calendar, shanghai_date(Utc::now()));
    Ok(web::Json(CalendarOverview { years, missing }))
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
    Ok(web::Json(calendar::year(&state, year).await?))
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
    let year = parse_year(&path)?;
    let input = body::read(&body, |i: &CalendarYearInput| i.problems(year))?;
    Ok(web::Json(
        calendar::import_year(&state, &Ctx::new(who), year, input).await?,
    ))
}
