//! Reference data: provinces (GB/T 2260) and the waste catalogue by edition. Reading is public:
//! it is published law and needs no login. Loading an edition is an admin's.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::body;
use super::error::{ApiResult, Problem};
use super::extract::QueryParams;
use crate::auth::Principal;
use crate::auth::permission::require_role;
use crate::auth::principal::Role;
use crate::domain::Invalid;
use crate::domain::calendar::shanghai_date;
use crate::domain::catalogue::WasteCategory;
use crate::domain::province::provinces;
use crate::service::catalogue::WasteCodeQuery;
pub use crate::service::catalogue::{EditionDto, EditionInput, WasteCodeDto, WasteCodePage};
use crate::service::{Ctx, catalogue};
use crate::state::AppState;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProvinceDto {
    /// GB/T 2260 code, e.g. `500000`.
    pub code: String,
    pub name_zh: String,
    /// One-character abbreviation used in document numbers, e.g. 渝.
    pub short_zh: String,
    pub name_en: String,
}

/// The 31 provincial-level divisions.
#[utoipa::path(tag = "reference", responses((status = 200, body = Vec<ProvinceDto>)))]
#[get("/provinces")]
pub async fn list_provinces() -> web::Json<Vec<ProvinceDto>> {
    web::Json(
        provinces()
            .iter()
            .map(|p| ProvinceDto {
                code: p.code.as_str(),
                name_zh: p.name_zh.clone(),
                short_zh: p.short_zh.clone(),
                name_en: p.name_en.clone(),
            })
            .collect(),
    )
}

/// Search the national waste catalogue.
///
/// `q` is a code prefix (`900-0`) or a fragment of Chinese text (废矿物油); `edition` defaults to the
/// edition in force today (Asia/Shanghai).
#[utoipa::path(
    tag = "reference",
    params(
        ("q" = Option<String>, Query, description = "code prefix or text fragment"),
        ("category" = Option<String>, Query, description = "HW01…HW50"),
        ("edition" = Option<i32>, Query, description = "catalogue edition, e.g. 2021"),
        ("limit" = Option<i64>, Query, description = "1–200, default 50"),
        ("cursor" = Option<String>, Query, description = "from next_cursor"),
    ),
    responses(
        (status = 200, body = WasteCodePage),
        (status = 404, description = "The edition asked for is not loaded", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/waste-codes")]
pub async fn search_waste_codes(state: web::Data<AppState>, req: HttpRequest) -> ApiResult<web::Json<WasteCodePage>> {
    let mut q = QueryParams::parse(&req, &["q", "category", "edition", "limit", "cursor"])?;
    let text = q.parse_with("q", |s| {
        let t = s.trim();
        if t.is_empty() || t.chars().count() > 100 {
            Err(Invalid::new("query.q", "q must be 1 to 100 characters"))
        } else {
            Ok(t.to_string())
        }
    });
    let category = q.parse_with("category", WasteCategory::parse);
    let edition = q.parse_with("edition", |s| {
        s.parse::<i32>()
            .ok()
            .filter(|y| (2000..=2100).contains(y))
            .ok_or_else(|| Invalid::new("query.edition", "edition must be a year such as 2021"))
    });
    let limit = q.limit(50, super::extract::LIMIT_MAX);
    let after = q.cursor();
    q.finish()?;

    let query = WasteCodeQuery {
        text,
        category,
        edition,
        after,
        limit,
    };
    Ok(web::Json(
        catalogue::search(&state, query, shanghai_date(Utc::now())).await?,
    ))
}

/// The catalogue editions loaded, with their in-force dates, code and successor counts, and which
/// one is in force today. When the edition the law has in force today is not loaded, no edition
/// is `in_force_today` and `used_today` marks the one filings are checked against meanwhile.
#[utoipa::path(tag = "reference", responses((status = 200, body = Vec<EditionDto>)))]
#[get("/catalogue/editions")]
pub async fn list_editions(state: web::Data<AppState>) -> ApiResult<web::Json<Vec<EditionDto>>> {
    let today = shanghai_date(Utc::now());
    Ok(web::Json(catalogue::list_editions(&state, today).await?))
}

/// Load an edition of the catalogue (admin only): its code table and the successor mapping from
/// the previous loaded edition.
///
/// Every problem is listed at once, each at `/codes_csv/{line}/{column}` or
/// `/successors_csv/{line}/{column}` (the header is line 1), and nothing is stored on any problem.
/// The declared `code_count` must match the table's rows, and for an edition the law published
/// (2021: 467 codes; 2025: 470, in force 2025-01-01) the published facts. An edition already loaded
/// is a conflict: editions are never replaced.
#[utoipa::path(
    tag = "reference",
    security(("bearer" = [])),
    request_body = EditionInput,
    responses(
        (status = 201, body = EditionDto),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only an administrator loads editions", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The edition is already loaded", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Every problem of the fields and of each line of the two files", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/catalogue/editions")]
pub async fn import_edition(
    state: web::Data<AppState>,
    who: Principal,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    require_role(&who, &[Role::Admin])?;
    let input: EditionInput = body::parse(&body)?;
    let dto = catalogue::import_edition(&state, &Ctx::new(who), input).await?;
    Ok(HttpResponse::Created().json(dto))
}
