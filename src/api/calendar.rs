//! The working-day calendar: deadline arithmetic and the admin import of a year's notice.

use actix_web::{HttpRequest, get, put, web};
use chrono::Utc;
use serde_json::Value;

use super::body;
use super::error::{ApiError, ApiResult, FieldProblem, Location, Problem};
use super::extract::QueryParams;
use crate::auth::Principal;
use crate::domain::Invalid;
use crate::domain::calendar::shanghai_date;
pub use crate::service::calendar::{
    CalendarDayDto, CalendarDayInput, CalendarOverview, CalendarYearDto, CalendarYearInput, CalendarYearSummary,
    WorkingDaysDto,
};
use crate::service::{Ctx, calendar};
use crate::state::AppState;

pub use crate::domain::calendar::parse_date;

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
    Ok(web::Json(calendar::working_days(&state, from, add).await?))
}

/// Which years the calendar knows.
#[utoipa::path(tag = "calendar", responses((status = 200, body = CalendarOverview)))]
#[get("/calendar")]
pub async fn overview(state: web::Data<AppState>) -> ApiResult<web::Json<CalendarOverview>> {
    Ok(web::Json(calendar::overview(&state, shanghai_date(Utc::now())).await?))
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
