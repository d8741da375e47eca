//! The transfer history and the January report: who may see which transfers, the search with
//! its tonnage totals, the whole result as CSV chunks read page by page in constant memory, and
//! the January report (`annual_report`) with its CSV and XLSX exports. Each door reads its own query (the API's query string, the web
//! UI's filter form) into the typed queries here.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::Stream;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::principal::{Principal, Role, Scope};
use crate::db::history::{APPROVED_STATUSES, Totals, TransferFilter, TransferRow};
use crate::db::{self, from_db_time, to_db_time};
use crate::domain::catalogue::{WasteCategory, WasteCode};
use crate::domain::ids::ProvinceCode;
use crate::domain::quantity::grams_to_kg_string;
use crate::domain::workflow::Status;
use crate::service::{Ctx, Error, Result, cut_page};
use crate::state::AppState;

/// Rows per database round trip while exporting.
const CSV_BATCH: i64 = 1000;
/// Excel opens UTF-8 CSV correctly only with a byte-order mark.
pub const BOM: &str = "\u{feff}";

/// A search of the transfer history: every filter optional, the caller's scope applied on top.
#[derive(Debug, Clone, Default)]
pub struct TransferQuery {
    /// A producer enterprise's id.
    pub producer: Option<String>,
    /// An operator's id.
    pub operator: Option<String>,
    pub source_province: Option<ProvinceCode>,
    pub receiving_province: Option<ProvinceCode>,
    /// A waste code on any item.
    pub code: Option<WasteCode>,
    /// HWxx on any item.
    pub category: Option<WasteCategory>,
    pub status: Option<Status>,
    /// Filed at or after.
    pub from: Option<DateTime<Utc>>,
    /// Filed before.
    pub to: Option<DateTime<Utc>>,
}

/// Which part of the history a search returns.
#[derive(Debug, Clone)]
pub struct TransferPageRequest {
    pub limit: i64,
    /// The last application id of the previous page.
    pub after: Option<String>,
    /// Totals over the whole result (on the first page only).
    pub with_totals: bool,
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

/// The query as the database reads it, narrowed to what the caller may see.
fn scoped(who: &Principal, q: &TransferQuery) -> Result<TransferFilter> {
    let mut f = TransferFilter {
        producer: q.producer.clone(),
        operator: q.operator.clone(),
        source_province: q.source_province.map(|p| p.as_str().to_string()),
        receiving_province: q.receiving_province.map(|p| p.as_str().to_string()),
        code: q.code.as_ref().map(|c| c.as_str().to_string()),
        category: q.category.as_ref().map(|c| c.as_str()),
        status: q.status.map(|s| s.as_str().to_string()),
        from: q.from.map(to_db_time),
        to: q.to.map(to_db_time),
        ..Default::default()
    };
    match who.scope() {
        Scope::All => {}
        Scope::Province(p) => f.province = Some(p.as_str().to_string()),
        Scope::Enterprise(id) => f.only_producer = Some(id.to_string()),
        Scope::Operator(id) => f.only_operator = Some(id.to_string()),
        Scope::Nothing => return Err(Error::Forbidden("this caller sees no transfers".into())),
    }
    Ok(f)
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

/// One page of the history, newest first, with tonnage totals over the whole result on the
/// first page (unless not wanted).
pub async fn search(state: &AppState, ctx: &Ctx, q: &TransferQuery, page: TransferPageRequest) -> Result<TransferPage> {
    let f = scoped(&ctx.who, q)?;
    let TransferPageRequest {
        limit,
        after,
        with_totals,
    } = page;
    let first_page = after.is_none();
    // The history reads the archive: the read replica may answer it (service::reads).
    let (rows, more, details, totals) = super::reads::archive(state, &ctx.who.subject, move |conn| {
        let mut rows = db::history::transfers(conn, &f, after.as_deref(), limit + 1)?;
        let more = cut_page(&mut rows, limit);
        let details = db::history::page_details(conn, &rows)?;
        let totals = if first_page && with_totals {
            Some(db::history::totals(conn, &f)?)
        } else {
            None
        };
        Ok((rows, more, details, totals))
    })
    .await?;
    let last = if more {
        rows.last().map(|r| super::encode_cursor(&r.id))
    } else {
        None
    };
    Ok(TransferPage {
        items: to_dtos(rows, details),
        next_cursor: last,
        totals: totals.map(TotalsDto::from),
    })
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

fn csv_chunk(dtos: &[TransferDto], header: bool) -> std::result::Result<Vec<u8>, csv::Error> {
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

/// The whole filtered history as CSV (UTF-8 with BOM, so it opens in Excel), one database page
/// per chunk: the next page is fetched only when the previous chunk has been taken. The caller's
/// scope is checked before the first chunk; a failure later ends the stream with an error (the
/// door has already answered 200, so the client sees a broken transfer, not a short file).
pub fn export_csv(
    state: Arc<AppState>,
    ctx: &Ctx,
    q: &TransferQuery,
) -> Result<impl Stream<Item = Result<Vec<u8>>> + use<>> {
    struct Cursor {
        state: Arc<AppState>,
        filter: TransferFilter,
        after: Option<String>,
        first: bool,
        done: bool,
        subject: String,
    }
    let start = Cursor {
        state,
        subject: ctx.who.subject.clone(),
        filter: scoped(&ctx.who, q)?,
        after: None,
        first: true,
        done: false,
    };
    Ok(futures_util::stream::unfold(start, |mut c| async move {
        if c.done {
            return None;
        }
        let filter = c.filter.clone();
        let after = c.after.clone();
        let page = super::reads::archive(&c.state, &c.subject, move |conn| {
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
                        Ok(bytes)
                    }
                    Err(e) => Err(Error::internal(e)),
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "CSV export failed mid-stream");
                Err(e)
            }
        };
        if chunk.is_err() {
            c.done = true;
        }
        c.first = false;
        Some((chunk, c))
    }))
}

/// The year of an annual report (2000–2100).
pub fn parse_year(s: &str) -> std::result::Result<i32, crate::domain::Invalid> {
    s.parse::<i32>()
        .ok()
        .filter(|y| (2000..=2100).contains(y))
        .ok_or_else(|| crate::domain::Invalid::new("query.year", "a year such as 2026"))
}

/// Which January report: the year whose receipts it counts.
#[derive(Debug, Clone, Copy)]
pub struct AnnualQuery {
    pub year: i32,
}

/// The forms the report is delivered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReportFormat {
    #[default]
    Json,
    Csv,
    Xlsx,
}

pub use super::whitelist::import::XLSX_TYPE;

impl ReportFormat {
    pub fn parse(s: &str) -> std::result::Result<ReportFormat, crate::domain::Invalid> {
        match s {
            "json" => Ok(ReportFormat::Json),
            "csv" => Ok(ReportFormat::Csv),
            "xlsx" => Ok(ReportFormat::Xlsx),
            _ => Err(crate::domain::Invalid::new("query.format", "json, csv or xlsx")),
        }
    }

    /// The format an `Accept` header asks for (JSON unless it names CSV or XLSX).
    pub fn from_accept(accept: &str) -> ReportFormat {
        if accept.contains(XLSX_TYPE) {
            ReportFormat::Xlsx
        } else if accept.contains("text/csv") {
            ReportFormat::Csv
        } else {
            ReportFormat::Json
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ReportFormat::Json => "json",
            ReportFormat::Csv => "csv",
            ReportFormat::Xlsx => "xlsx",
        }
    }
}

/// One line of the January report: an operator × waste category × source province.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnnualLineDto {
    pub operator_id: String,
    pub operator_name: String,
    pub receiving_province: String,
    pub source_province: String,
    /// HWxx.
    pub category: String,
    /// The year's quotas of the entries listed for this operator, category and source alone
    /// (as amended by letter; suspended and expired entries included).
    pub listed_kg: String,
    /// The whole quotas of the year's entries that this source shares with other sources:
    /// a shared quota is not split, so it stands in full beside each source it serves.
    pub shared_listed_kg: String,
    /// Accepted at receipt, for manifests received in the year (Asia/Shanghai).
    pub received_kg: String,
    /// Manifests received in the year with a line of this category.
    pub manifests: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AnnualTotalsDto {
    pub listed_kg: String,
    pub received_kg: String,
    pub manifests: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AnnualReport {
    pub year: i32,
    /// Always `receipt_date`: a load counts in the year it was received (Asia/Shanghai), not in
    /// the year of its entry or approval.
    pub counted_by: String,
    pub lines: Vec<AnnualLineDto>,
    /// Over the lines (shared quotas are left out of `listed_kg`, so nothing counts twice).
    pub totals: AnnualTotalsDto,
}

/// The January report (年度报告, due each January for the year before): per operator × waste
/// category × source province, what the operator received in the year — counted by the day of
/// receipt — and in how many manifests, beside the quantity the year's whitelist listed for it
/// (see `domain::report` for a quota shared by several sources). Regulators (and auditors bound
/// to a province) see the lines where their province is the source or the receiving province;
/// auditors and admins see all.
pub async fn annual_report(state: &AppState, ctx: &Ctx, q: AnnualQuery) -> Result<AnnualReport> {
    let province = match (ctx.who.role, ctx.who.scope()) {
        (Role::Admin | Role::Auditor, Scope::All) => None,
        (Role::Regulator | Role::Auditor, Scope::Province(p)) => Some(p.as_str().to_string()),
        _ => {
            return Err(Error::Forbidden(
                "the January report is for regulators, auditors and admins".into(),
            ));
        }
    };
    let year = q.year;
    let Some((from, to)) = crate::domain::report::year_window(year) else {
        return Err(Error::internal(anyhow::anyhow!("no window for year {year}")));
    };
    let (lines, names) = super::reads::archive(state, &ctx.who.subject, move |conn| {
        let p = province.as_deref();
        let received = db::annual::received(conn, to_db_time(from), to_db_time(to), p)?;
        let listed = db::annual::listed(conn, year, p)?;
        let lines = crate::domain::report::lines(received, listed, p);
        let ids: Vec<String> = lines.iter().map(|l| l.operator_id.clone()).collect();
        let names = db::annual::operator_names(conn, &ids)?;
        Ok((lines, names))
    })
    .await?;
    let totals = AnnualTotalsDto {
        listed_kg: grams_to_kg_string(lines.iter().map(|l| l.listed_g).sum()),
        received_kg: grams_to_kg_string(lines.iter().map(|l| l.received_g).sum()),
        manifests: lines.iter().map(|l| l.manifests).sum(),
    };
    Ok(AnnualReport {
        year,
        counted_by: "receipt_date".into(),
        lines: lines
            .into_iter()
            .map(|l| AnnualLineDto {
                operator_name: names.get(&l.operator_id).cloned().unwrap_or_default(),
                operator_id: l.operator_id,
                receiving_province: l.receiving_province,
                source_province: l.source_province,
                category: l.category,
                listed_kg: grams_to_kg_string(l.listed_g),
                shared_listed_kg: grams_to_kg_string(l.shared_listed_g),
                received_kg: grams_to_kg_string(l.received_g),
                manifests: l.manifests,
            })
            .collect(),
        totals,
    })
}

/// The columns of both exports, in Chinese and English (the reports go to both kinds of reader).
const ANNUAL_HEADER: [&str; 9] = [
    "经营单位编号 operator_id",
    "经营单位 operator",
    "接受省 receiving_province",
    "移出省 source_province",
    "类别 category",
    "名单量kg listed_kg",
    "共享名单量kg shared_listed_kg",
    "接收量kg received_kg",
    "联单数 manifests",
];

/// The report as CSV (UTF-8 with BOM, so it opens in Excel), the same lines as the JSON.
pub fn annual_csv(report: &AnnualReport) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(BOM.as_bytes().to_vec());
    w.write_record(ANNUAL_HEADER).map_err(Error::internal)?;
    for l in &report.lines {
        w.write_record([
            &l.operator_id,
            &l.operator_name,
            &l.receiving_province,
            &l.source_province,
            &l.category,
            &l.listed_kg,
            &l.shared_listed_kg,
            &l.received_kg,
            &l.manifests.to_string(),
        ])
        .map_err(Error::internal)?;
    }
    w.into_inner().map_err(|e| Error::internal(anyhow::anyhow!("{e}")))
}

/// The report as an XLSX workbook: one sheet named after the year, the same columns as the CSV,
/// quantities as numbers (kg, three decimals) so they can be summed.
pub fn annual_xlsx(report: &AnnualReport) -> Result<Vec<u8>> {
    use rust_xlsxwriter::{Format, Workbook, XlsxError};
    let build = || -> std::result::Result<Vec<u8>, XlsxError> {
        let mut book = Workbook::new();
        let bold = Format::new().set_bold();
        let kg = Format::new().set_num_format("0.000");
        let sheet = book.add_worksheet();
        sheet.set_name(report.year.to_string())?;
        for (col, h) in ANNUAL_HEADER.iter().enumerate() {
            sheet.write_string_with_format(0, col as u16, *h, &bold)?;
        }
        for (i, l) in report.lines.iter().enumerate() {
            let row = i as u32 + 1;
            let number = |s: &str| s.parse::<f64>().unwrap_or(0.0);
            sheet.write_string(row, 0, &l.operator_id)?;
            sheet.write_string(row, 1, &l.operator_name)?;
            sheet.write_string(row, 2, &l.receiving_province)?;
            sheet.write_string(row, 3, &l.source_province)?;
            sheet.write_string(row, 4, &l.category)?;
            sheet.write_number_with_format(row, 5, number(&l.listed_kg), &kg)?;
            sheet.write_number_with_format(row, 6, number(&l.shared_listed_kg), &kg)?;
            sheet.write_number_with_format(row, 7, number(&l.received_kg), &kg)?;
            sheet.write_number(row, 8, l.manifests as f64)?;
        }
        sheet.set_freeze_panes(1, 0)?;
        book.save_to_buffer()
    };
    build().map_err(Error::internal)
}

/// The file name of an export of the report.
pub fn annual_file_name(year: i32, format: ReportFormat) -> String {
    format!("annual-{year}.{}", format.as_str())
}
