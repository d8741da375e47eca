//! New whitelist entries: a regulator proposes one entry, or imports a year's entries from a
//! CSV/XLSX file. Each form is read into the shape the API takes and handed to the same core
//! function as the API handler; a refusal comes back as the form with every problem listed and
//! nothing stored.

use actix_multipart::form::{MultipartForm, bytes::Bytes, text::Text};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{Datelike, Utc};

use super::{Chrome, Form, ProblemView, UiResult, problems_of, province_name, render_status, see_other, status_of};
use crate::auth::principal::Role;
use crate::domain::calendar::shanghai_date;
use crate::service::registry::names;
use crate::service::whitelist::import::{CSV_TYPE, Format, ImportError, MAX_BYTES, XLSX_TYPE, import_file};
use crate::service::whitelist::proposals::{self, EntryInput};
use crate::service::{Ctx, Error};
use crate::state::AppState;
use crate::web::i18n::Lang;
use crate::web::session::{UiError, UiUser};

/// What the propose form holds, kept when it comes back with problems.
#[derive(Default)]
pub struct ProposeValues {
    year: String,
    operator: String,
    source_province: String,
    scope: String,
    quota_kg: String,
    facility: String,
    note: String,
    /// Further source provinces served from the same quota (the receiving province proposes).
    shared_sources: Vec<String>,
}

impl ProposeValues {
    /// Whether the form names this province as a further source.
    fn shares(&self, code: &str) -> bool {
        self.shared_sources.iter().any(|p| p == code)
    }
}

pub struct ImportReport {
    dry_run: bool,
    rows: usize,
    created: usize,
}

#[derive(Template)]
#[template(path = "whitelist_new.html")]
struct WhitelistNewPage {
    chrome: Chrome,
    lang: Lang,
    provinces: Vec<(String, String)>,
    operators: Vec<(String, String)>,
    values: ProposeValues,
    propose_problems: Vec<ProblemView>,
    import_problems: Vec<ProblemView>,
    import_report: Option<ImportReport>,
    file_name: String,
}

async fn new_page(
    state: &AppState,
    u: &UiUser,
    req: &HttpRequest,
    status: StatusCode,
    fill: impl FnOnce(&mut WhitelistNewPage),
) -> UiResult<HttpResponse> {
    let lang = u.lang;
    if u.who.role != Role::Regulator {
        return Err(UiError::Service(
            Error::Forbidden("only a provincial regulator proposes or imports whitelist entries".into()),
            lang,
        ));
    }
    // The operators of the regulator's own province, offered as suggestions; any operator id or
    // credit code may be typed (a source province proposes for operators elsewhere).
    let operators = names::operator_choices(state, u.who.province())
        .await
        .map_err(|e| UiError::Service(e, lang))?
        .into_iter()
        .map(|o| (o.id, format!("{} · {}", o.name, o.uscc)))
        .collect();
    let provinces = crate::domain::province::provinces()
        .iter()
        .map(|p| (p.code.as_str(), province_name(lang, &p.code.as_str())))
        .collect();
    let mut page = WhitelistNewPage {
        chrome: Chrome::new(u, req, "/ui/whitelist"),
        lang,
        provinces,
        operators,
        values: ProposeValues {
            year: shanghai_date(Utc::now()).year().to_string(),
            source_province: u.who.province().map(|p| p.as_str()).unwrap_or_default(),
            ..ProposeValues::default()
        },
        propose_problems: Vec::new(),
        import_problems: Vec::new(),
        import_report: None,
        file_name: String::new(),
    };
    fill(&mut page);
    Ok(render_status(lang, status, &page))
}

pub async fn whitelist_new(state: web::Data<AppState>, u: UiUser, req: HttpRequest) -> UiResult<HttpResponse> {
    new_page(&state, &u, &req, StatusCode::OK, |_| {}).await
}

/// The proposal command from the form. A year that is not a whole number becomes 0, which the
/// core refuses at `/year` like any year out of range; empty optional fields are left out.
fn proposal_input(v: &ProposeValues, operator_id: &str) -> EntryInput {
    let optional = |s: &String| Some(s.clone()).filter(|s| !s.is_empty());
    EntryInput {
        year: v.year.parse().unwrap_or(0),
        operator_id: operator_id.to_string(),
        source_province: v.source_province.clone(),
        scope: v.scope.clone(),
        quota_kg: v.quota_kg.clone(),
        facility: optional(&v.facility),
        note: optional(&v.note),
        shared_sources: v.shared_sources.clone(),
    }
}

pub async fn whitelist_propose(
    state: web::Data<AppState>,
    u: UiUser,
    req: HttpRequest,
    body: web::Bytes,
) -> UiResult<HttpResponse> {
    let lang = u.lang;
    let form = Form::checked(&u, &body)?;
    let field = |k: &str| form.get(k).unwrap_or_default().trim().to_string();
    let values = ProposeValues {
        year: field("year"),
        operator: field("operator"),
        source_province: field("source_province"),
        scope: field("scope"),
        quota_kg: field("quota_kg"),
        facility: field("facility"),
        note: field("note"),
        shared_sources: form.all("shared_sources"),
    };
    // An operator may be named by its id or by its 18-character credit code.
    let operator_id = names::operator_id_for(&state, values.operator.clone())
        .await
        .map_err(|e| UiError::Service(e, lang))?;
    let input = proposal_input(&values, &operator_id);
    match proposals::propose(&state, &Ctx::new(u.who.clone()), input).await {
        Ok(row) => Ok(see_other(&format!(
            "/ui/whitelist?year={}&status=proposed&done=1",
            row.year
        ))),
        Err(e) => match problems_of(lang, &e) {
            Some(problems) => {
                new_page(&state, &u, &req, status_of(&e), |p| {
                    p.values = values;
                    p.propose_problems = problems;
                })
                .await
            }
            None => Err(UiError::Service(e, lang)),
        },
    }
}

/// Why an upload was not imported: a file that cannot be read at all, or the service's refusal.
enum Refusal {
    Unreadable(String),
    Service(Error),
}

#[derive(MultipartForm)]
pub struct WhitelistUpload {
    csrf: Option<Text<String>>,
    dry_run: Option<Text<String>>,
    #[multipart(limit = "11 MiB")]
    file: Option<Bytes>,
}

/// The file's format from its name, then from the type the browser gave it.
fn upload_format(file: &Bytes) -> Option<Format> {
    let name = file.file_name.as_deref().unwrap_or_default().to_ascii_lowercase();
    let mime = file
        .content_type
        .as_ref()
        .map(|m| m.essence_str().to_string())
        .unwrap_or_default();
    if name.ends_with(".xlsx") || mime == XLSX_TYPE {
        Some(Format::Xlsx)
    } else if name.ends_with(".csv") || mime == CSV_TYPE {
        Some(Format::Csv)
    } else {
        None
    }
}

pub async fn whitelist_import(
    state: web::Data<AppState>,
    u: UiUser,
    req: HttpRequest,
    MultipartForm(form): MultipartForm<WhitelistUpload>,
) -> UiResult<HttpResponse> {
    let lang = u.lang;
    u.check_csrf(form.csrf.as_ref().map(|t| t.as_str()))?;
    let dry_run = form.dry_run.is_some_and(|t| t.as_str() == "true");
    let file = form.file.filter(|f| !f.data.is_empty());
    let file_name = file.as_ref().and_then(|f| f.file_name.clone()).unwrap_or_default();
    // A file that cannot be read at all is said on the form, like a refused row.
    let unreadable = Refusal::Unreadable;
    let outcome = match &file {
        None => Err(unreadable(lang.t("err_no_file").to_string())),
        Some(f) => match upload_format(f) {
            None => Err(unreadable(lang.t("err_file_type").to_string())),
            Some(format) => import_file(&state, &u.who, format, f.data.to_vec(), dry_run)
                .await
                .map_err(|e| match e {
                    ImportError::Unreadable(detail) => unreadable(detail),
                    ImportError::TooLarge => {
                        unreadable(format!("the file is larger than {} MiB", MAX_BYTES / (1024 * 1024)))
                    }
                    ImportError::Refused(e) => Refusal::Service(e),
                }),
        },
    };
    match outcome {
        Ok(summary) => {
            new_page(&state, &u, &req, StatusCode::OK, |p| {
                p.import_report = Some(ImportReport {
                    dry_run: summary.dry_run,
                    rows: summary.rows,
                    created: summary.created.len(),
                });
                p.file_name = file_name;
            })
            .await
        }
        Err(refusal) => {
            let problems = match refusal {
                Refusal::Unreadable(detail) => vec![ProblemView::line(detail)],
                Refusal::Service(e) => match problems_of(lang, &e) {
                    Some(problems) => problems,
                    None => return Err(UiError::Service(e, lang)),
                },
            };
            new_page(&state, &u, &req, StatusCode::UNPROCESSABLE_ENTITY, |p| {
                p.import_problems = problems;
                p.file_name = file_name;
            })
            .await
        }
    }
}
