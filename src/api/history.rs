//! The transfer history search (JSON pages with tonnage totals, or the whole result as CSV
//! streamed page by page in constant memory) and the annual reconciliation report.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::audit::parse_bound;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{QueryParams, cut_page, next_cursor};
use crate::auth::principal::{Binding, Principal, Role};
use crate::db::history::{APPROVED_STATUSES, AnnualLine, Totals, TransferFilter, TransferRow};
use crate::db::{self, from_db_time};
use crate::domain::Invalid;
use crate::domain::catalogue::{WasteCategory, WasteCode};
use crate::domain::ids::ProvinceCode;
use crate::domain::quantity::grams_to_kg_string;
use crate::domain::workflow::Status;
use crate::state::AppState;

/// Rows per database round trip while streaming CSV.
const CSV_BATCH: i64 = 1000;
/// Excel opens UTF-8 CSV correctly only with a byte-order mark.
const BOM: &str = "\u{feff}";

fn wants_csv(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/csv"))
}

/// Narrows a filter to what the caller may see.
fn scoped(who: &Principal, f: &mut TransferFilter) -> ApiResult<()> {
    match (&who.role, &who.binding) {
        (Role::Admin, _) | (Role::Auditor, Binding::Nationwide) => {}
        (Role::Regulator | Role::Auditor, Binding::Province(p)) => f.province = Some(p.as_str().to_string()),
        (Role::Enterprise, Binding::Enterprise(id)) => f.only_producer = Some(id.clone()),
        (Role::Operator, Binding::Operator(id)) => f.only_operator = Some(id.clone()),
        _ => return Err(ApiError::Forbidden("this caller sees no transfers".into())),
    }
    Ok(())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TransferDto {
    pub application_id: String,
    pub filed_at: String,
    pub producer_id: String,
    pub producer_name: String,
    pub operator_id: String,
    pub operator_name: String,
    pub source_province: String,
    pub receiving_province: String,
    pub route: String,
    pub status: String,
    pub approval_number: Option<String>,
    pub valid_until: Option<String>,
    pub waste_codes: Vec<String>,
    pub requested_kg: String,
    /// The requested quantity once approved (also after the approval expired or was revoked), else 0.
    pub approved_kg: String,
    /// On manifests not rejected or cancelled.
    pub shipped_kg: String,
    /// Accepted by the operator at receipt.
    pub received_kg: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TotalsDto {
    pub count: i64,
    pub requested_kg: String,
    pub approved_kg: String,
    pub shipped_kg: String,
    pub received_kg: String,
}

impl From<Totals> for TotalsDto {
    fn from(t: Totals) -> Self {
        TotalsDto {
            count: t.count,
            requested_kg: grams_to_kg_string(t.requested_g),
            approved_kg: grams_to_kg_string(t.approved_g),
            shipped_kg: grams_to_kg_string(t.shipped_g),
            received_kg: grams_to_kg_string(t.received_g),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TransferPage {
    pub items: Vec<TransferDto>,
    pub next_cursor: Option<String>,
    /// Over the whole filtered result; on the first page only (and not with `totals=false`).
    pub totals: Option<TotalsDto>,
}

fn to_dtos(rows: Vec<TransferRow>, details: db::history::PageDetails) -> Vec<TransferDto> {
    let (ents, ops, codes) = details;
    rows.into_iter()
        .map(|r| TransferDto {
            producer_name: ents.get(&r.enterprise_id).cloned().unwrap_or_default(),
            operator_name: ops.get(&r.operator_id).cloned().unwrap_or_default(),
            waste_codes: codes.get(&r.id).cloned().unwrap_or_default(),
            approved_kg: grams_to_kg_string(if APPROVED_STATUSES.contains(&r.status.as_str()) {
                r.quantity_g
            } else {
                0
            }),
            application_id: r.id,
            filed_at: from_db_time(r.created_at).to_rfc3339(),
            producer_id: r.enterprise_id,
            operator_id: r.operator_id,
            source_province: r.source_province,
            receiving_province: r.receiving_province,
            route: r.route,
            status: r.status,
            approval_number: r.approval_number,
            valid_until: r.valid_until,
            requested_kg: grams_to_kg_string(r.quantity_g),
            shipped_kg: grams_to_kg_string(r.shipped_g),
            received_kg: grams_to_kg_string(r.received_g),
        })
        .collect()
}

const CSV_HEADER: [&str; 17] = [
    "申请编号 application_id",
    "申请时间 filed_at",
    "产生单位编号 producer_id",
    "产生单位 producer",
    "经营单位编号 operator_id",
    "经营单位 operator",
    "移出省 source_province",
    "接受省 receiving_province",
    "路径 route",
    "状态 status",
    "批准文号 approval_number",
    "有效期至 valid_until",
    "废物代码 waste_codes",
    "申请量kg requested_kg",
    "批准量kg approved_kg",
    "转移量kg shipped_kg",
    "接收量kg received_kg",
];

fn csv_chunk(dtos: &[TransferDto], header: bool) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::with_capacity(dtos.len() * 256));
    if header {
        w.write_record(CSV_HEADER)?;
    }
    for d in dtos {
        w.write_record([
            d.application_id.as_str(),
            &d.filed_at,
            &d.producer_id,
            &d.producer_name,
            &d.operator_id,
            &d.operator_name,
            &d.source_province,
            &d.receiving_province,
            &d.route,
            &d.status,
            d.approval_number.as_deref().unwrap_or(""),
            d.valid_until.as_deref().unwrap_or(""),
            &d.waste_codes.join(" "),
            &d.requested_kg,
            &d.approved_kg,
            &d.shipped_kg,
            &d.received_kg,
        ])?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

fn read_filter(q: &mut QueryParams) -> TransferFilter {
    let province = |s: &str| ProvinceCode::parse(s).map(|p| p.as_str().to_string());
    TransferFilter {
        producer: q.raw("producer").map(str::to_string),
        operator: q.raw("operator").map(str::to_string),
        source_province: q.parse_with("source_province", province),
        receiving_province: q.parse_with("receiving_province", province),
        code: q.parse_with("code", |s| WasteCode::parse(s).map(|c| c.as_str().to_string())),
        category: q.parse_with("category", |s| WasteCategory::parse(s).map(|c| c.as_str())),
        status: q.parse_with("status", |s| Status::parse(s).map(|st| st.as_str().to_string())),
        from: q.parse_with("from", parse_bound),
        to: q.parse_with("to", parse_bound),
        ..Default::default()
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
    let csv = wants_csv(&req);
    Ok(match search_transfers(state, &who, req.query_string(), csv).await? {
        Transfers::Page(page) => HttpResponse::Ok().json(page),
        Transfers::Csv(res) => res,
    })
}

/// A history search: one page with totals, or the whole result streamed as CSV.
pub(crate) enum Transfers {
    Page(TransferPage),
    Csv(HttpResponse),
}

/// The history search over the request's query string (the API's parameters); shared by the API
/// and the web UI's history page and export.
pub(crate) async fn search_transfers(
    state: web::Data<AppState>,
    who: &Principal,
    query: &str,
    csv: bool,
) -> ApiResult<Transfers> {
    let mut q = QueryParams::parse_str(
        query,
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
    let mut f = read_filter(&mut q);
    let with_totals = q
        .parse_with("totals", |s| match s {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(Invalid::new("query.boolean", "true or false")),
        })
        .unwrap_or(true);
    let limit = q.limit(50, super::extract::LIMIT_MAX);
    let cursor = q.cursor();
    q.finish()?;
    scoped(who, &mut f)?;
    if csv {
        return Ok(Transfers::Csv(csv_response(state, f)));
    }
    let first_page = cursor.is_none();
    let (rows, details, totals) = state
        .db
        .run(move |conn| {
            let mut rows = db::history::transfers(conn, &f, cursor.as_deref(), limit + 1)?;
            let more = cut_page(&mut rows, limit);
            let details = db::history::page_details(conn, &rows)?;
            let totals = if first_page && with_totals {
                Some(db::history::totals(conn, &f)?)
            } else {
                None
            };
            Ok(((rows, more), details, totals))
        })
        .await?;
    let (rows, more) = rows;
    let next = next_cursor(&rows, more, |r| r.id.as_str());
    Ok(Transfers::Page(TransferPage {
        items: to_dtos(rows, details),
        next_cursor: next,
        totals: totals.map(TotalsDto::from),
    }))
}

/// Streams the filtered history as CSV, one database page per chunk: the next page is fetched
/// only when the client has taken the previous one.
fn csv_response(state: web::Data<AppState>, f: TransferFilter) -> HttpResponse {
    struct Cursor {
        state: web::Data<AppState>,
        filter: TransferFilter,
        after: Option<String>,
        first: bool,
        done: bool,
    }
    let start = Cursor {
        state,
        filter: f,
        after: None,
        first: true,
        done: false,
    };
    let body = futures_util::stream::unfold(start, |mut c| async move {
        if c.done {
            return None;
        }
        let filter = c.filter.clone();
        let after = c.after.clone();
        let page = c
            .state
            .db
            .run(move |conn| {
                let rows = db::history::transfers(conn, &filter, after.as_deref(), CSV_BATCH)?;
                let details = db::history::page_details(conn, &rows)?;
                Ok((rows, details))
            })
            .await;
        let chunk = match page {
            Ok((rows, details)) => {
                c.done = (rows.len() as i64) < CSV_BATCH;
                c.after = rows.last().map(|r| r.id.clone());
                let dtos = to_dtos(rows, details);
                let mut bytes = if c.first { BOM.as_bytes().to_vec() } else { Vec::new() };
                match csv_chunk(&dtos, c.first) {
                    Ok(b) => {
                        bytes.extend(b);
                        Ok(web::Bytes::from(bytes))
                    }
                    Err(e) => Err(actix_web::error::ErrorInternalServerError(e)),
                }
            }
            Err(e) => {
                // The status line is already sent: end the stream with an error so the client
                // sees a broken transfer rather than a silently short file.
                tracing::error!(error = %e, "CSV export failed mid-stream");
                Err(actix_web::error::ErrorServiceUnavailable("export interrupted"))
            }
        };
        if chunk.is_err() {
            c.done = true;
        }
        c.first = false;
        Some((chunk, c))
    });
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((header::CONTENT_DISPOSITION, "attachment; filename=\"transfers.csv\""))
        .streaming(body)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AnnualLineDto {
    pub operator_id: String,
    pub operator_name: String,
    pub receiving_province: String,
    pub source_province: String,
    /// The listed code or category (the category when `by=category`).
    pub scope: String,
    pub quota_kg: String,
    pub reserved_kg: String,
    pub approved_kg: String,
    pub shipped_kg: String,
    pub received_kg: String,
    /// quota − reserved − approved.
    pub remaining_kg: String,
}

impl From<AnnualLine> for AnnualLineDto {
    fn from(l: AnnualLine) -> Self {
        AnnualLineDto {
            operator_id: l.operator_id,
            operator_name: l.operator_name,
            receiving_province: l.receiving_province,
            source_province: l.source_province,
            scope: l.scope,
            quota_kg: grams_to_kg_string(l.quota_g),
            reserved_kg: grams_to_kg_string(l.reserved_g),
            approved_kg: grams_to_kg_string(l.approved_g),
            shipped_kg: grams_to_kg_string(l.shipped_g),
            received_kg: grams_to_kg_string(l.received_g),
            remaining_kg: grams_to_kg_string(l.remaining_g),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AnnualReport {
    pub year: i32,
    /// code (as listed) or category.
    pub by: String,
    pub lines: Vec<AnnualLineDto>,
}

/// The annual reconciliation between provinces (each January): per operator × listed code or
/// category × source province, the year's quota against what was approved, shipped and
/// received, and what remains. JSON, or CSV with `Accept: text/csv`.
#[utoipa::path(
    tag = "history",
    security(("bearer" = [])),
    params(
        ("year" = i32, Query),
        ("by" = Option<String>, Query, description = "code (default: as listed) or category"),
    ),
    responses(
        (status = 200, description = "the report as JSON, or with `Accept: text/csv` the same lines as CSV", content(
            (AnnualReport = "application/json"),
            (String = "text/csv")
        )),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/reports/annual")]
pub async fn annual(state: web::Data<AppState>, who: Principal, req: HttpRequest) -> ApiResult<HttpResponse> {
    let csv = wants_csv(&req);
    Ok(match annual_report(&state, &who, req.query_string(), csv).await? {
        Annual::Report(report) => HttpResponse::Ok().json(report),
        Annual::Csv(res) => res,
    })
}

/// The annual reconciliation as data or as a CSV download.
pub(crate) enum Annual {
    Report(AnnualReport),
    Csv(HttpResponse),
}

/// The annual reconciliation over the request's query string; shared by the API and the web UI.
pub(crate) async fn annual_report(state: &AppState, who: &Principal, query: &str, csv: bool) -> ApiResult<Annual> {
    let mut q = QueryParams::parse_str(query, &["year", "by"])?;
    let year = q.required("year").map(str::to_string);
    let year = year.and_then(|y| {
        q.parse_with("year", |_| {
            y.parse::<i32>()
                .ok()
                .filter(|y| (2000..=2100).contains(y))
                .ok_or_else(|| Invalid::new("query.year", "a year such as 2026"))
        })
    });
    let by_category = q
        .parse_with("by", |s| match s {
            "code" => Ok(false),
            "category" => Ok(true),
            _ => Err(Invalid::new("query.by", "code or category")),
        })
        .unwrap_or(false);
    q.finish()?;
    let Some(year) = year else {
        return Err(ApiError::internal(anyhow::anyhow!("year missing after validation")));
    };
    let province = match (&who.role, &who.binding) {
        (Role::Admin, _) | (Role::Auditor, Binding::Nationwide) => None,
        (Role::Regulator | Role::Auditor, Binding::Province(p)) => Some(p.as_str().to_string()),
        _ => {
            return Err(ApiError::Forbidden(
                "the annual reconciliation is for regulators, auditors and admins".into(),
            ));
        }
    };
    let lines = state
        .db
        .run(move |conn| db::history::annual(conn, year, by_category, province.as_deref()))
        .await?;
    let lines: Vec<AnnualLineDto> = lines.into_iter().map(AnnualLineDto::from).collect();
    if csv {
        let mut w = csv::Writer::from_writer(BOM.as_bytes().to_vec());
        let header = [
            "经营单位编号 operator_id",
            "经营单位 operator",
            "接受省 receiving_province",
            "移出省 source_province",
            if by_category {
                "类别 category"
            } else {
                "代码或类别 scope"
            },
            "额度kg quota_kg",
            "预留kg reserved_kg",
            "批准kg approved_kg",
            "转移kg shipped_kg",
            "接收kg received_kg",
            "剩余kg remaining_kg",
        ];
        let csv_err = |e: csv::Error| ApiError::internal(anyhow::anyhow!(e));
        w.write_record(header).map_err(csv_err)?;
        for l in &lines {
            w.write_record([
                &l.operator_id,
                &l.operator_name,
                &l.receiving_province,
                &l.source_province,
                &l.scope,
                &l.quota_kg,
                &l.reserved_kg,
                &l.approved_kg,
                &l.shipped_kg,
                &l.received_kg,
                &l.remaining_kg,
            ])
            .map_err(csv_err)?;
        }
        let bytes = w.into_inner().map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?;
        return Ok(Annual::Csv(
            HttpResponse::Ok()
                .content_type("text/csv; charset=utf-8")
                .insert_header((
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"annual-{year}.csv\""),
                ))
                .body(bytes),
        ));
    }
    Ok(Annual::Report(AnnualReport {
        year,
        by: if by_category { "category" } else { "code" }.into(),
        lines,
    }))
}
