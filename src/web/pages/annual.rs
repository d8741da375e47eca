//! The January report (年度报告) and its downloads (CSV and XLSX), the same numbers as the API's.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{Datelike, Utc};

use super::{Chrome, Query, UiResult, failed, render};
use crate::domain::calendar::shanghai_date;
use crate::service::Ctx;
use crate::service::history::{self, AnnualQuery, ReportFormat, XLSX_TYPE, parse_year};
use crate::state::AppState;
use crate::web::i18n::Lang;
use crate::web::session::UiUser;

#[derive(Template)]
#[template(path = "annual.html")]
struct AnnualPage {
    chrome: Chrome,
    lang: Lang,
    year: i32,
    lines: Vec<history::AnnualLineDto>,
    totals: history::AnnualTotalsDto,
    export_csv: String,
    export_xlsx: String,
}

/// The report asked for: `year` (by default the year before, the January report's), and for a
/// download its `format`.
fn annual_query(req: &HttpRequest, lang: Lang) -> UiResult<(AnnualQuery, Option<ReportFormat>)> {
    let mut q = Query::of(req, &["year", "format"]);
    let year = q
        .parse_with("year", parse_year)
        .unwrap_or_else(|| shanghai_date(Utc::now()).year() - 1);
    let format = q.parse_with("format", ReportFormat::parse);
    q.finish(lang)?;
    Ok((AnnualQuery { year }, format))
}

fn export_link(year: i32, format: ReportFormat) -> String {
    let query = serde_urlencoded::to_string([("year", year.to_string()), ("format", format.as_str().to_string())])
        .unwrap_or_default();
    format!("/ui/annual/export?{query}")
}

pub async fn annual(state: web::Data<AppState>, u: UiUser, req: HttpRequest) -> UiResult<HttpResponse> {
    let lang = u.lang;
    let (query, _) = annual_query(&req, lang)?;
    let report = history::annual_report(&state, &Ctx::new(u.who.clone()), query)
        .await
        .map_err(failed(lang))?;
    let page = AnnualPage {
        chrome: Chrome::new(&u, &req, "/ui/annual"),
        lang,
        year: report.year,
        lines: report.lines,
        totals: report.totals,
        export_csv: export_link(query.year, ReportFormat::Csv),
        export_xlsx: export_link(query.year, ReportFormat::Xlsx),
    };
    Ok(render(lang, &page))
}

/// A download of the report: CSV unless `format=xlsx`.
pub async fn annual_export(state: web::Data<AppState>, u: UiUser, req: HttpRequest) -> UiResult<HttpResponse> {
    let lang = u.lang;
    let (query, format) = annual_query(&req, lang)?;
    let format = match format {
        Some(ReportFormat::Xlsx) => ReportFormat::Xlsx,
        _ => ReportFormat::Csv,
    };
    let report = history::annual_report(&state, &Ctx::new(u.who.clone()), query)
        .await
        .map_err(failed(lang))?;
    let (bytes, content_type) = match format {
        ReportFormat::Xlsx => (history::annual_xlsx(&report).map_err(failed(lang))?, XLSX_TYPE),
        _ => (
            history::annual_csv(&report).map_err(failed(lang))?,
            "text/csv; charset=utf-8",
        ),
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"{}\"",
                history::annual_file_name(query.year, format)
            ),
        ))
        .body(bytes))
}
