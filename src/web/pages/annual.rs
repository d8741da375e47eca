//! The annual reconciliation report and its export.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{Datelike, Utc};

use super::{Chrome, Query, UiResult, failed, render};
use crate::domain::calendar::shanghai_date;
use crate::service::Ctx;
use crate::service::history::{self, AnnualBy, AnnualQuery, parse_year};
use crate::state::AppState;
use crate::web::i18n::Lang;
use crate::web::session::UiUser;

#[derive(Template)]
#[template(path = "annual.html")]
struct AnnualPage {
    chrome: Chrome,
    lang: Lang,
    year: i32,
    by: String,
    lines: Vec<history::AnnualLineDto>,
    export: String,
}

/// The report asked for: `year` (by default the year before, the January report's) and `by`.
fn annual_query(req: &HttpRequest, lang: Lang) -> UiResult<(AnnualQuery, String)> {
    let mut q = Query::of(req, &["year", "by"]);
    let year = q
        .parse_with("year", parse_year)
        .unwrap_or_else(|| shanghai_date(Utc::now()).year() - 1);
    let by = q.parse_with("by", AnnualBy::parse).unwrap_or_default();
    q.finish(lang)?;
    let link =
        serde_urlencoded::to_string([("year", year.to_string()), ("by", by.as_str().to_string())]).unwrap_or_default();
    Ok((AnnualQuery { year, by }, link))
}

pub async fn annual(state: web::Data<AppState>, u: UiUser, req: HttpRequest) -> UiResult<HttpResponse> {
    let lang = u.lang;
    let (query, link) = annual_query(&req, lang)?;
    let report = history::annual_report(&state, &Ctx::new(u.who.clone()), query)
        .await
        .map_err(failed(lang))?;
    let page = AnnualPage {
        chrome: Chrome::new(&u, &req, "/ui/annual"),
        lang,
        year: report.year,
        by: report.by,
        lines: report.lines,
        export: format!("/ui/annual/export?{link}"),
    };
    Ok(render(lang, &page))
}

pub async fn annual_export(state: web::Data<AppState>, u: UiUser, req: HttpRequest) -> UiResult<HttpResponse> {
    let lang = u.lang;
    let (query, _) = annual_query(&req, lang)?;
    let report = history::annual_report(&state, &Ctx::new(u.who.clone()), query)
        .await
        .map_err(failed(lang))?;
    let bytes = history::annual_csv(&report).map_err(failed(lang))?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"annual-{}.csv\"", query.year),
        ))
        .body(bytes))
}
