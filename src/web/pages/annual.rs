//! The annual reconciliation report and its export.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{Datelike, Utc};

use super::{Chrome, UiResult, api, non_empty_query, render};
use crate::api::error::ApiError;
use crate::api::history;
use crate::domain::calendar::shanghai_date;
use crate::state::AppState;
use crate::web::i18n::Lang;
use crate::web::session::{UiError, UiUser};

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

pub async fn annual(state: web::Data<AppState>, u: UiUser, req: HttpRequest) -> UiResult<HttpResponse> {
    let lang = u.lang;
    let (mut pairs, _) = non_empty_query(&req);
    if !pairs.iter().any(|(k, _)| k == "year") {
        // The January report is about the year before.
        pairs.push(("year".into(), (shanghai_date(Utc::now()).year() - 1).to_string()));
    }
    let clean = serde_urlencoded::to_string(&pairs).unwrap_or_default();
    let report = match history::annual_report(&state, &u.who, &clean, false)
        .await
        .map_err(api(lang))?
    {
        history::Annual::Report(r) => r,
        history::Annual::Csv(_) => return Err(UiError::Api(ApiError::NotFound, lang)),
    };
    let page = AnnualPage {
        chrome: Chrome::new(&u, &req, "/ui/annual"),
        lang,
        year: report.year,
        by: report.by,
        lines: report.lines,
        export: format!("/ui/annual/export?{clean}"),
    };
    Ok(render(lang, &page))
}

pub async fn annual_export(state: web::Data<AppState>, u: UiUser, req: HttpRequest) -> UiResult<HttpResponse> {
    let lang = u.lang;
    let (_, clean) = non_empty_query(&req);
    match history::annual_report(&state, &u.who, &clean, true)
        .await
        .map_err(api(lang))?
    {
        history::Annual::Csv(res) => Ok(res),
        history::Annual::Report(_) => Err(UiError::Api(ApiError::NotFound, lang)),
    }
}
