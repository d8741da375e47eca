//! The door of the whitelist import (`service::whitelist::import`): the file is the request
//! body, its type the Content-Type; the answer is the import's summary or every problem.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, post, web};
use futures_util::StreamExt;
use utoipa::ToSchema;

use super::error::{ApiError, ApiResult, Problem};
use super::extract::QueryParams;
use crate::auth::permission::require_role;
use crate::auth::principal::{Principal, Role};
use crate::domain::Invalid;
pub use crate::service::whitelist::import::{
    CSV_TYPE, Format, ImportError, ImportProblem, ImportSummary, MAX_BYTES, XLSX_TYPE, import_file, read_and_parse,
};
use crate::state::AppState;

/// An XLSX workbook, sent as the raw bytes of the file.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct XlsxFile(pub Vec<u8>);

fn content_format(req: &HttpRequest) -> ApiResult<Format> {
    let refuse = || ApiError::Malformed {
        detail: format!("the body must be a file with Content-Type {CSV_TYPE} (UTF-8) or {XLSX_TYPE}"),
        errors: Vec::new(),
    };
    let value = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(refuse)?;
    let mut parts = value.split(';').map(str::trim);
    let essence = parts.next().unwrap_or_default().to_ascii_lowercase();
    match essence.as_str() {
        CSV_TYPE => {
            let charset_ok = parts
                .filter_map(|p| p.split_once('='))
                .filter(|(k, _)| k.trim().eq_ignore_ascii_case("charset"))
                .all(|(_, v)| {
                    matches!(
                        v.trim().trim_matches('"').to_ascii_lowercase().as_str(),
                        "utf-8" | "utf8"
                    )
                });
            if charset_ok { Ok(Format::Csv) } else { Err(refuse()) }
        }
        XLSX_TYPE => Ok(Format::Xlsx),
        _ => Err(refuse()),
    }
}

fn too_large() -> ApiError {
    ApiError::Malformed {
        detail: format!("the file is larger than {} MiB", MAX_BYTES / (1024 * 1024)),
        errors: Vec::new(),
    }
}

async fn read_body(req: &HttpRequest, mut payload: web::Payload) -> ApiResult<Vec<u8>> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BYTES) {
        return Err(too_large());
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(0));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| ApiError::Malformed {
            detail: "the body could not be read".into(),
            errors: Vec::new(),
        })?;
        if body.len() + chunk.len() > MAX_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The import's refusal as the API answers it.
fn refusal(e: ImportError) -> ApiError {
    match e {
        ImportError::Unreadable(detail) => ApiError::Malformed {
            detail,
            errors: Vec::new(),
        },
        ImportError::TooLarge => too_large(),
        ImportError::Refused(e) => e.into(),
    }
}

/// Import a year's agreed whitelist (the December letter) from a CSV or XLSX file.
///
/// The body is the file itself: `text/csv` (UTF-8, a BOM is allowed) or an XLSX workbook (its
/// first worksheet). The first non-empty row names the columns: `year`, `operator_uscc`,
/// `source_province` (a code such as 500000 or a name), `scope` (a code NNN-NNN-NN or a category
/// HWxx), `quota_kg` (at most 3 decimals), and optionally `facility` and `note`; Chinese headers
/// such as 年度, 统一社会信用代码, 移出省份, 废物代码, 数量(千克), 设施, 备注 are accepted too. Cells are
/// trimmed; blank rows are skipped. At most 5000 rows and 10 MiB.
///
/// Every row is checked as a single proposal would be (agreement, licence, capacity, catalogue,
/// the caller's province), plus duplicates within the file (reported on the later row) and
/// entries already stored. When any problem exists nothing is written and the answer is 422
/// listing **every** problem: each `errors[]` item has the pointer `/rows/{row}/{column}`, where
/// `row` is the row number a spreadsheet shows (the header is row 1, the first data row row 2)
/// and `column` the column's name above (or its letter for a column without a header).
/// Otherwise, with `dry_run=true` the answer is 200 and nothing is written; without it every row
/// becomes a `proposed` entry in one transaction (all or nothing) and the answer is 201 listing
/// the new ids in file order.
#[utoipa::path(
    tag = "whitelist",
    security(("bearer" = [])),
    params(("dry_run" = Option<bool>, Query, description = "check only, write nothing (default false)")),
    request_body(
        description = "The file: CSV (UTF-8) or XLSX",
        content(
            (String = "text/csv"),
            (inline(XlsxFile) = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        )
    ),
    responses(
        (status = 200, description = "Dry run: every row is valid; nothing was written", body = ImportSummary),
        (status = 201, description = "Every row was stored as a proposed entry", body = ImportSummary),
        (status = 400, description = "Unsupported content type, unreadable or too large file", body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Every problem, with pointers /rows/{row}/{column}; nothing was written", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/whitelist-entries/import")]
pub async fn import_entries(
    state: web::Data<AppState>,
    who: Principal,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    require_role(&who, &[Role::Regulator])?;
    let mut q = QueryParams::parse(&req, &["dry_run"])?;
    let dry_run = q
        .parse_with("dry_run", |s| match s {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(Invalid::new("query.dry_run", "dry_run must be true or false")),
        })
        .unwrap_or(false);
    q.finish()?;
    let format = content_format(&req)?;
    let bytes = read_body(&req, payload).await?;
    let summary = import_file(&state, &who, format, bytes, dry_run)
        .await
        .map_err(refusal)?;
    Ok(if summary.dry_run {
        HttpResponse::Ok().json(summary)
    } else {
        HttpResponse::Created().json(summary)
    })
}
