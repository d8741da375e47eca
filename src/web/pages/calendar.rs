//! The holiday calendar of a year, and an admin's import of a year.

use std::collections::HashMap;

use actix_multipart::form::{MultipartForm, bytes::Bytes, text::Text};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{Datelike, NaiveDate, Utc};

use super::{Chrome, ProblemView, UiResult, local_time, problem_view, problems_of, render_status, see_other};
use crate::auth::principal::Role;
use crate::domain::calendar::shanghai_date;
use crate::service::calendar::{CalendarDayInput, CalendarYearInput};
use crate::service::{self, Ctx, FieldProblem, Location};
use crate::state::AppState;
use crate::web::i18n::Lang;
use crate::web::session::{UiError, UiUser};

struct DayView {
    date: String,
    weekday: String,
    kind: String,
    holiday: bool,
    name: String,
}

#[derive(Template)]
#[template(path = "calendar.html")]
struct CalendarPage {
    chrome: Chrome,
    lang: Lang,
    year: i32,
    found: bool,
    source: String,
    imported_at: String,
    days: Vec<DayView>,
    years: Vec<i32>,
    is_admin: bool,
    form: CalendarForm,
}

pub async fn calendar(state: web::Data<AppState>, u: UiUser, req: HttpRequest) -> UiResult<HttpResponse> {
    let this_year = shanghai_date(Utc::now()).year();
    let q: HashMap<String, String> = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let year = q
        .get("year")
        .and_then(|y| y.parse::<i32>().ok())
        .filter(|y| (2000..=2100).contains(y))
        .unwrap_or(this_year);
    let form = CalendarForm {
        done: q.contains_key("done"),
        ..CalendarForm::default()
    };
    calendar_page(&state, &u, &req, year, form, StatusCode::OK).await
}

/// The calendar of a year, with the admin's import form (and what it last sent, when refused).
pub(super) async fn calendar_page(
    state: &AppState,
    u: &UiUser,
    req: &HttpRequest,
    year: i32,
    form: CalendarForm,
    status: StatusCode,
) -> UiResult<HttpResponse> {
    let lang = u.lang;
    let this_year = shanghai_date(Utc::now()).year();
    let (found, source, imported_at, days) = match crate::service::calendar::year(state, year).await {
        Ok(y) => (
            true,
            y.source,
            local_time(&y.imported_at),
            y.days
                .into_iter()
                .map(|d| {
                    let weekday = NaiveDate::parse_from_str(&d.date, "%Y-%m-%d")
                        .map(|x| weekday_name(lang, x.weekday()))
                        .unwrap_or_default();
                    DayView {
                        holiday: d.kind == "holiday",
                        kind: lang.t(&d.kind).to_string(),
                        name: match lang {
                            Lang::Zh => d.name_zh,
                            Lang::En => d.name_en,
                        },
                        weekday,
                        date: d.date,
                    }
                })
                .collect(),
        ),
        Err(crate::service::Error::Hidden) => (false, String::new(), String::new(), Vec::new()),
        Err(e) => return Err(UiError::Service(e, lang)),
    };
    let page = CalendarPage {
        chrome: Chrome::new(u, req, "/ui/calendar"),
        lang,
        year,
        found,
        source,
        imported_at,
        days,
        years: (this_year - 3..=this_year + 2).collect(),
        is_admin: u.who.role == Role::Admin,
        form,
    };
    Ok(render_status(lang, status, &page))
}

fn weekday_name(lang: Lang, d: chrono::Weekday) -> String {
    let i = d.num_days_from_monday() as usize;
    match lang {
        Lang::Zh => ["周一", "周二", "周三", "周四", "周五", "周六", "周日"][i].to_string(),
        Lang::En => ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][i].to_string(),
    }
}

#[derive(MultipartForm)]
pub struct CalendarUpload {
    csrf: Option<Text<String>>,
    year: Option<Text<String>>,
    source: Option<Text<String>>,
    days: Option<Text<String>>,
    #[multipart(limit = "1 MiB")]
    file: Option<Bytes>,
}

/// What the calendar import form holds, kept when it comes back with problems.
#[derive(Default)]
pub struct CalendarForm {
    /// The import just succeeded.
    pub done: bool,
    pub source: String,
    pub days: String,
    pub problems: Vec<ProblemView>,
}

/// Reads the days of a year from CSV text in the layout of the shipped calendar file
/// (`date,kind,name_zh,name_en`, the header optional). Returns the API's body and, for each day,
/// the line it came from, so that the API's `/days/{i}/…` problems can name the line.
fn calendar_input(source: &str, text: &str) -> Result<(CalendarYearInput, Vec<usize>), Vec<ProblemView>> {
    let mut days = Vec::new();
    let mut lines = Vec::new();
    let mut problems = Vec::new();
    // One day per line, so each line is read as a CSV record of its own and keeps its number.
    for (i, line) in text.trim_start_matches('\u{feff}').lines().enumerate() {
        let number = i + 1;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(line.as_bytes());
        let record = match reader.records().next() {
            None => continue,
            Some(Ok(r)) => r,
            Some(Err(_)) => {
                problems.push(ProblemView {
                    row: number.to_string(),
                    field: String::new(),
                    message: "not readable as CSV".into(),
                });
                continue;
            }
        };
        let cell = |i: usize| record.get(i).unwrap_or_default().to_string();
        if record.iter().all(str::is_empty) || (cell(0) == "date" && cell(1) == "kind") {
            continue;
        }
        days.push(CalendarDayInput {
            date: cell(0),
            kind: cell(1),
            name_zh: cell(2),
            name_en: Some(cell(3)).filter(|s| !s.is_empty()),
        });
        lines.push(number);
    }
    if problems.is_empty() {
        Ok((
            CalendarYearInput {
                source: source.to_string(),
                days,
            },
            lines,
        ))
    } else {
        Err(problems)
    }
}

/// The API's problems, with `/days/{i}/{field}` turned into the line of the text.
fn calendar_problems(lang: Lang, e: &service::Error, lines: &[usize]) -> Option<Vec<ProblemView>> {
    let service::Error::Invalid(ps) = e else {
        return problems_of(lang, e);
    };
    Some(
        ps.iter()
            .map(|p| {
                let parts: Vec<&str> = p.pointer.trim_start_matches('/').split('/').collect();
                match parts.as_slice() {
                    ["days", i, field @ ..] => ProblemView {
                        row: i
                            .parse::<usize>()
                            .ok()
                            .and_then(|i| lines.get(i))
                            .map(|l| l.to_string())
                            .unwrap_or_default(),
                        field: field.join("/"),
                        message: p.message.clone(),
                    },
                    _ => problem_view(lang, p),
                }
            })
            .collect(),
    )
}

pub async fn calendar_import(
    state: web::Data<AppState>,
    u: UiUser,
    req: HttpRequest,
    MultipartForm(form): MultipartForm<CalendarUpload>,
) -> UiResult<HttpResponse> {
    let lang = u.lang;
    u.check_csrf(form.csrf.as_ref().map(|t| t.as_str()))?;
    if u.who.role != Role::Admin {
        return Err(UiError::Service(
            service::Error::Forbidden("only an administrator imports a calendar year".into()),
            lang,
        ));
    }
    let text_of = |t: &Option<Text<String>>| t.as_ref().map(|t| t.trim().to_string()).unwrap_or_default();
    let year_text = text_of(&form.year);
    let Some(year) = year_text.parse::<i32>().ok().filter(|y| (2000..=2100).contains(y)) else {
        return Err(UiError::Service(
            service::Error::Invalid(vec![FieldProblem::new(
                Location::Body,
                "/year",
                "calendar.year",
                "the year must be between 2000 and 2100",
            )]),
            lang,
        ));
    };
    // A file, when one is chosen, wins over the text box.
    let days = match form.file.filter(|f| !f.data.is_empty()) {
        Some(f) => match String::from_utf8(f.data.to_vec()) {
            Ok(text) => text,
            Err(_) => {
                let problems = vec![ProblemView {
                    row: String::new(),
                    field: String::new(),
                    message: lang.t("err_not_utf8").to_string(),
                }];
                let kept = CalendarForm {
                    source: text_of(&form.source),
                    problems,
                    ..CalendarForm::default()
                };
                return calendar_page(&state, &u, &req, year, kept, StatusCode::UNPROCESSABLE_ENTITY).await;
            }
        },
        None => text_of(&form.days),
    };
    let source = text_of(&form.source);
    let outcome = match calendar_input(&source, &days) {
        Err(problems) => Err(problems),
        Ok((input, lines)) => match service::calendar::import_year(&state, &Ctx::new(u.who.clone()), year, input).await
        {
            Ok(_) => Ok(()),
            Err(e) => match calendar_problems(lang, &e, &lines) {
                Some(problems) => Err(problems),
                None => return Err(UiError::Service(e, lang)),
            },
        },
    };
    match outcome {
        Ok(()) => Ok(see_other(&format!("/ui/calendar?year={year}&done=1"))),
        Err(problems) => {
            let kept = CalendarForm {
                source,
                days,
                problems,
                ..CalendarForm::default()
            };
            calendar_page(&state, &u, &req, year, kept, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_text_keeps_line_numbers_and_skips_the_header() {
        let text = "date,kind,name_zh,name_en\n2027-01-01,holiday,元旦,New Year's Day\n\n2027-02-07 , workday ,春节,\n";
        let (input, lines) = calendar_input("国办发明电〔2026〕1号", text).unwrap();
        assert_eq!(lines, vec![2, 4]);
        assert_eq!(input.days[1].kind, "workday");
        assert_eq!(input.days[0].name_en.as_deref(), Some("New Year's Day"));
        assert!(input.days[1].name_en.is_none());
        assert_eq!(input.source, "国办发明电〔2026〕1号");
    }
}
