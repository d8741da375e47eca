//! The door of the transfer history and the January report (`service::history`): reads the
//! query string into the service's typed query, and answers JSON, or CSV with `Accept: text/csv`
//! (the history streamed page by page in constant memory); the report also as XLSX.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};

use super::error::{ApiError, ApiResult, Problem};
use super::extract::QueryParams;
use crate::auth::principal::Principal;
use crate::domain::Invalid;
use crate::domain::calendar::parse_bound;
use crate::domain::catalogue::{WasteCategory, WasteCode};
use crate::domain::ids::ProvinceCode;
use crate::domain::workflow::Status;
use crate::service::history::{
    self, AnnualQuery, ReportFormat, TransferPageRequest, TransferQuery, XLSX_TYPE, annual_csv, annual_file_name,
    annual_xlsx, parse_year,
};
pub use crate::service::history::{AnnualLineDto, AnnualReport, AnnualTotalsDto, TotalsDto, TransferDto, TransferPage};
use crate::service::{Ctx, Error};
use crate::state::AppState;

fn wants_csv(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/csv"))
}

/// The history's filters from the query string.
fn read_query(q: &mut QueryParams) -> TransferQuery {
    TransferQuery {
        producer: q.raw("producer").map(str::to_string),
        operator: q.raw("operator").map(str::to_string),
        source_province: q.parse_with("source_province", ProvinceCode::parse),
        receiving_province: q.parse_with("receiving_province", ProvinceCode::parse),
        code: q.parse_with("code", WasteCode::parse),
        category: q.parse_with("category", WasteCategory::parse),
        status: q.parse_with("status", Status::parse),
        from: q.parse_with("from", parse_bound),
        to: q.parse_with("to", parse_bound),
    }
}

/// The transfer history: applications with their approvals and what manifests shipped and
/// operators received, newest first, keyset-paginated, with tonnage totals over the whole
/// result on the first page. With `Accept: text/csv` the whole result streams as CSV (UTF-8
/// with BOM, so it opens in Excel), fetched page by page so memory stays flat.
#[utoipa::path(
    tag = "history",
    security(("bearer" = [])),
    params(
        ("producer" = Option<String>, Query, description = "producer enterprise id"),
        ("operator" = Option<String>, Query, description = "operator id"),
        ("source_province" = Option<String>, Query), ("receiving_province" = Option<String>, Query),
        ("code" = Option<String>, Query, description = "a waste code on any item"),
        ("category" = Option<String>, Query, description = "HWxx on any item"),
        ("status" = Option<String>, Query),
        ("from" = Option<String>, Query, description = "filed at or after: RFC 3339 or YYYY-MM-DD (Asia/Shanghai)"),
        ("to" = Option<String>, Query, description = "filed before"),
        ("totals" = Option<bool>, Query, description = "false skips the totals"),
        ("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query),
    ),
    responses(
        (status = 200, description = "a page as JSON, or with `Accept: text/csv` the whole result as CSV", content(
            (TransferPage = "application/json"),
            (String = "text/csv")
        )),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/transfers")]
pub async fn transfers(state: web::Data<AppState>, who: Principal, req: HttpRequest) -> ApiResult<HttpResponse> {
    let mut q = QueryParams::parse(
        &req,
        &[
            "producer",
            "operator",
            "source_province",
            "receiving_province",
            "code",
            "category",
            "status",
            "from",
            "to",
            "totals",
            "limit",
            "cursor",
        ],
    )?;
    let query = read_query(&mut q);
    let with_totals = q
        .parse_with("totals", |s| match s {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(Invalid::new("query.boolean", "true or false")),
        })
        .unwrap_or(true);
    let limit = q.limit(50, super::extract::LIMIT_MAX);
    let after = q.cursor();
    q.finish()?;
    let ctx = Ctx::new(who);
    if wants_csv(&req) {
        return Ok(csv_response(
            "transfers.csv",
            history::export_csv(state.into_inner(), &ctx, &query)?,
        ));
    }
    let page = TransferPageRequest {
        limit,
        after,
        with_totals,
    };
    Ok(HttpResponse::Ok().json(history::search(&state, &ctx, &query, page).await?))
}

/// A CSV download streamed chunk by chunk. A failure after the first chunk ends the body with
/// an error: the status line is already sent, so the client sees a broken transfer rather than
/// a silently short file.
pub(crate) fn csv_response(
    file_name: &str,
    chunks: impl futures_util::Stream<Item = Result<Vec<u8>, Error>> + 'static,
) -> HttpResponse {
    use futures_util::StreamExt as _;
    let body = chunks.map(|c| match c {
        Ok(bytes) => Ok(web::Bytes::from(bytes)),
        Err(Error::Internal(e)) => Err(actix_web::error::ErrorInternalServerError(e)),
        Err(_) => Err(actix_web::error::ErrorServiceUnavailable("export interrupted")),
    });
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file_name}\""),
        ))
        .streaming(body)
}

/// The January report (年度报告, due each January for the year before): per operator × waste
/// category (HWxx) × source province, the quantity received in the year — counted by the day of
/// receipt (Asia/Shanghai), not by the entry's or the approval's year — and the number of
/// manifests, beside the quantity the year's whitelist listed (`shared_listed_kg`: the whole
/// quota of an entry that serves several sources, shown beside each). Regulators see the lines
/// of their province (as source or receiving province); auditors and admins all. JSON, CSV
/// (UTF-8 with BOM) or XLSX: by `format`, or else by `Accept` (`text/csv`,
/// `application/vnd.openxmlformats-officedocument.spreadsheetml.sheet`).
#[utoipa::path(
    tag = "history",
    security(("bearer" = [])),
    params(
        ("year" = i32, Query, description = "the year whose receipts are reported (2000–2100)"),
        ("format" = Option<String>, Query, description = "json (default), csv or xlsx; wins over `Accept`"),
    ),
    responses(
        (status = 200, description = "the report as JSON, or the same lines as CSV or as an XLSX workbook", content(
            (AnnualReport = "application/json"),
            (String = "text/csv"),
            (inline(super::import::XlsxFile) = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        )),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/reports/annual")]
pub async fn annual(state: web::Data<AppState>, who: Principal, req: HttpRequest) -> ApiResult<HttpResponse> {
    let mut q = QueryParams::parse(&req, &["year", "format"])?;
    let year = q.required("year").map(str::to_string);
    let year = year.and_then(|y| q.parse_with("year", |_| parse_year(&y)));
    let format = q.parse_with("format", ReportFormat::parse);
    q.finish()?;
    let Some(year) = year else {
        return Err(ApiError::internal(anyhow::anyhow!("year missing after validation")));
    };
    let format = format.unwrap_or_else(|| {
        ReportFormat::from_accept(
            req.headers()
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or(""),
        )
    });
    let report = history::annual_report(&state, &Ctx::new(who), AnnualQuery { year }).await?;
    let (bytes, content_type) = match format {
        ReportFormat::Json => return Ok(HttpResponse::Ok().json(report)),
        ReportFormat::Csv => (annual_csv(&report)?, "text/csv; charset=utf-8"),
        ReportFormat::Xlsx => (annual_xlsx(&report)?, XLSX_TYPE),
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}\"", annual_file_name(year, format)),
        ))
        .body(bytes))
}
