//! The UI's data-entry forms: proposing a whitelist entry, importing a year's whitelist from a
//! CSV/XLSX file, and (admins) importing a year's holiday calendar and loading a catalogue edition. Each form is read into the
//! shape the API takes and handed to the same core function as the API handler, so every check
//! and every problem is the API's own; a refusal comes back as the form with every problem listed
//! and nothing stored.

use actix_multipart::form::{MultipartForm, MultipartFormConfig, bytes::Bytes, text::Text};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use askama::Template;
use chrono::{Datelike, Utc};

use super::i18n::Lang;
use super::pages::{Chrome, Form, error_page, province_name, render_status, see_other};
use super::session::{UiError, UiUser, lang_of};
use crate::api::error::{ApiError, FieldProblem};
use crate::api::import::{Format, MAX_BYTES, import_file};
use crate::auth::principal::Role;
use crate::db;
use crate::domain::calendar::shanghai_date;
use crate::service::calendar::{CalendarDayInput, CalendarYearInput};
use crate::service::whitelist::proposals::{self, EntryInput};
use crate::service::{self, Ctx};
use crate::state::AppState;

type UiResult<T> = Result<T, UiError>;

/// Room for the file plus the small text fields around it.
const UPLOAD_LIMIT: usize = MAX_BYTES + 64 * 1024;

/// The multipart limits of the upload forms; a refused upload is shown as a page, not as text.
pub fn upload_config() -> MultipartFormConfig {
    MultipartFormConfig::default()
        .total_limit(UPLOAD_LIMIT)
        .memory_limit(UPLOAD_LIMIT)
        .error_handler(|err, req| {
            let lang = lang_of(req);
            let detail = match &err {
                actix_multipart::MultipartError::Payload(_) => {
                    format!("{} ≤ {} MiB", lang.t("err_upload"), MAX_BYTES / (1024 * 1024))
                }
                _ => lang.t("err_upload").to_string(),
            };
            tracing::info!(error = %err, "upload refused");
            let page = error_page(lang, StatusCode::BAD_REQUEST, lang.t("err_invalid"), vec![detail]);
            actix_web::error::InternalError::from_response(err, page).into()
        })
}

/// One problem as a form shows it: where (a field's label, or a row and column) and what.
#[derive(Debug)]
pub struct ProblemView {
    pub row: String,
    pub field: String,
    pub message: String,
}

/// Splits an API pointer such as `/rows/7/scope` or `/quota_kg` into what a person reads.
fn problem_view(lang: Lang, p: &FieldProblem) -> ProblemView {
    let parts: Vec<&str> = p.pointer.trim_start_matches('/').split('/').collect();
    let (row, field) = match parts.as_slice() {
        ["rows", row, column] => (row.to_string(), column.to_string()),
        ["rows", row] => (row.to_string(), String::new()),
        ["rows"] => (String::new(), String::new()),
        [field] => (String::new(), field_label(lang, field)),
        _ => (String::new(), p.pointer.clone()),
    };
    ProblemView {
        row,
        field,
        message: p.message.clone(),
    }
}

fn field_label(lang: Lang, field: &str) -> String {
    let key = match field {
        "operator_id" => "operator",
        "quota_kg" => "quota",
        "source_province" | "year" | "scope" | "note" | "facility" | "source" => field,
        _ => return field.to_string(),
    };
    lang.t(key).to_string()
}

/// The problems of a refused request, or `None` when the refusal is not about the input.
fn problems_of(lang: Lang, e: &ApiError) -> Option<Vec<ProblemView>> {
    match e {
        ApiError::Validation(ps) => Some(ps.iter().map(|p| problem_view(lang, p)).collect()),
        ApiError::Malformed { detail, errors } if errors.is_empty() => Some(vec![ProblemView {
            row: String::new(),
            field: String::new(),
            message: detail.clone(),
        }]),
        ApiError::Malformed { errors, .. } => Some(errors.iter().map(|p| problem_view(lang, p)).collect()),
        ApiError::Conflict(d) => Some(vec![ProblemView {
            row: String::new(),
            field: String::new(),
            message: d.clone(),
        }]),
        ApiError::Refused(i) => Some(vec![ProblemView {
            row: String::new(),
            field: String::new(),
            message: i.message.clone(),
        }]),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Whitelist: propose one entry, import a file

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
        return Err(UiError::Api(
            ApiError::Forbidden("only a provincial regulator proposes or imports whitelist entries".into()),
            lang,
        ));
    }
    // The operators of the regulator's own province, offered as suggestions; any operator id or
    // credit code may be typed (a source province proposes for operators elsewhere).
    let mine = u.who.province().map(|p| p.as_str());
    let operators = state
        .db
        .run({
            let mine = mine.clone();
            move |conn| db::registry::list_operators(conn, mine.as_deref(), None, 500)
        })
        .await
        .map_err(|e| UiError::Api(e.into(), lang))?
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
            source_province: mine.unwrap_or_default(),
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
        shared_sources: Vec::new(),
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
    };
    // An operator may be named by its id or by its 18-character credit code.
    let typed = values.operator.clone();
    let operator_id = state
        .db
        .run(move |conn| {
            Ok(match db::registry::operator_by_uscc(conn, &typed)? {
                Some(o) => o.id,
                None => typed,
            })
        })
        .await
        .map_err(|e| UiError::Api(e.into(), lang))?;
    let input = proposal_input(&values, &operator_id);
    match proposals::propose(&state, &Ctx::new(u.who.clone()), input)
        .await
        .map_err(ApiError::from)
    {
        Ok(row) => Ok(see_other(&format!(
            "/ui/whitelist?year={}&status=proposed&done=1",
            row.year
        ))),
        Err(e) => match problems_of(lang, &e) {
            Some(problems) => {
                new_page(&state, &u, &req, e.status_code(), |p| {
                    p.values = values;
                    p.propose_problems = problems;
                })
                .await
            }
            None => Err(UiError::Api(e, lang)),
        },
    }
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
    if name.ends_with(".xlsx") || mime == crate::api::import::XLSX_TYPE {
        Some(Format::Xlsx)
    } else if name.ends_with(".csv") || mime == crate::api::import::CSV_TYPE {
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
    let outcome = match &file {
        None => Err(ApiError::Malformed {
            detail: lang.t("err_no_file").to_string(),
            errors: Vec::new(),
        }),
        Some(f) => match upload_format(f) {
            None => Err(ApiError::Malformed {
                detail: lang.t("err_file_type").to_string(),
                errors: Vec::new(),
            }),
            Some(format) => import_file(&state, &u.who, format, f.data.to_vec(), dry_run).await,
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
        Err(e) => match problems_of(lang, &e) {
            Some(problems) => {
                new_page(&state, &u, &req, StatusCode::UNPROCESSABLE_ENTITY, |p| {
                    p.import_problems = problems;
                    p.file_name = file_name;
                })
                .await
            }
            None => Err(UiError::Api(e, lang)),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Calendar: an admin imports a year

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
fn calendar_problems(lang: Lang, e: &ApiError, lines: &[usize]) -> Option<Vec<ProblemView>> {
    let ApiError::Validation(ps) = e else {
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
        return Err(UiError::Api(
            ApiError::Forbidden("only an administrator imports a calendar year".into()),
            lang,
        ));
    }
    let text_of = |t: &Option<Text<String>>| t.as_ref().map(|t| t.trim().to_string()).unwrap_or_default();
    let year_text = text_of(&form.year);
    let Some(year) = year_text.parse::<i32>().ok().filter(|y| (2000..=2100).contains(y)) else {
        return Err(UiError::Api(
            ApiError::Validation(vec![FieldProblem::new(
                crate::api::error::Location::Body,
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
                return super::pages::calendar_page(&state, &u, &req, year, kept, StatusCode::UNPROCESSABLE_ENTITY)
                    .await;
            }
        },
        None => text_of(&form.days),
    };
    let source = text_of(&form.source);
    let outcome = match calendar_input(&source, &days) {
        Err(problems) => Err(problems),
        Ok((input, lines)) => match service::calendar::import_year(&state, &Ctx::new(u.who.clone()), year, input)
            .await
            .map_err(ApiError::from)
        {
            Ok(_) => Ok(()),
            Err(e) => match calendar_problems(lang, &e, &lines) {
                Some(problems) => Err(problems),
                None => return Err(UiError::Api(e, lang)),
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
            super::pages::calendar_page(&state, &u, &req, year, kept, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Catalogue: an admin loads an edition

#[derive(MultipartForm)]
pub struct CatalogueUpload {
    csrf: Option<Text<String>>,
    edition: Option<Text<String>>,
    in_force_from: Option<Text<String>>,
    source: Option<Text<String>>,
    code_count: Option<Text<String>>,
    codes: Option<Text<String>>,
    successors: Option<Text<String>>,
    #[multipart(limit = "4 MiB")]
    codes_file: Option<Bytes>,
    #[multipart(limit = "1 MiB")]
    successors_file: Option<Bytes>,
}

/// One problem of an edition import as the form shows it: which file (or field), line, column.
#[derive(Debug)]
pub struct CatalogueProblem {
    pub file: String,
    pub line: String,
    pub column: String,
    pub message: String,
}

/// What the edition import form holds, kept when it comes back with problems.
#[derive(Default)]
pub struct CatalogueForm {
    /// The import just succeeded.
    pub done: bool,
    pub edition: String,
    pub in_force_from: String,
    pub source: String,
    pub code_count: String,
    pub codes: String,
    pub successors: String,
    pub problems: Vec<CatalogueProblem>,
}

/// `/codes_csv/12/code` as (the code table, 12, code); a field as its label.
fn catalogue_problem(lang: Lang, p: &FieldProblem) -> CatalogueProblem {
    let parts: Vec<&str> = p.pointer.trim_start_matches('/').split('/').collect();
    let label = |field: &str| match field {
        "codes_csv" => lang.t("codes_csv").to_string(),
        "successors_csv" => lang.t("successors_csv").to_string(),
        "edition" => lang.t("edition").to_string(),
        "in_force_from" => lang.t("in_force_from").to_string(),
        "source" => lang.t("source").to_string(),
        "code_count" => lang.t("declared_count").to_string(),
        other => other.to_string(),
    };
    let (file, line, column) = match parts.as_slice() {
        [field, line, column] => (label(field), line.to_string(), column.to_string()),
        [field, line] => (label(field), line.to_string(), String::new()),
        [field] => (label(field), String::new(), String::new()),
        _ => (p.pointer.clone(), String::new(), String::new()),
    };
    CatalogueProblem {
        file,
        line,
        column,
        message: p.message.clone(),
    }
}

pub async fn catalogue_import(
    state: web::Data<AppState>,
    u: UiUser,
    req: HttpRequest,
    MultipartForm(form): MultipartForm<CatalogueUpload>,
) -> UiResult<HttpResponse> {
    let lang = u.lang;
    u.check_csrf(form.csrf.as_ref().map(|t| t.as_str()))?;
    if u.who.role != Role::Admin {
        return Err(UiError::Api(
            ApiError::Forbidden("only an administrator loads a catalogue edition".into()),
            lang,
        ));
    }
    let text_of = |t: &Option<Text<String>>| t.as_ref().map(|t| t.trim().to_string()).unwrap_or_default();
    let mut kept = CatalogueForm {
        edition: text_of(&form.edition),
        in_force_from: text_of(&form.in_force_from),
        source: text_of(&form.source),
        code_count: text_of(&form.code_count),
        codes: form.codes.as_ref().map(|t| t.to_string()).unwrap_or_default(),
        successors: form.successors.as_ref().map(|t| t.to_string()).unwrap_or_default(),
        ..CatalogueForm::default()
    };
    // A file, when one is chosen, wins over its text box.
    for (file, text, name) in [
        (form.codes_file, &mut kept.codes, "codes_csv"),
        (form.successors_file, &mut kept.successors, "successors_csv"),
    ] {
        if let Some(f) = file.filter(|f| !f.data.is_empty()) {
            match String::from_utf8(f.data.to_vec()) {
                Ok(t) => *text = t,
                Err(_) => kept.problems.push(CatalogueProblem {
                    file: lang.t(name).to_string(),
                    line: String::new(),
                    column: String::new(),
                    message: lang.t("err_not_utf8").to_string(),
                }),
            }
        }
    }
    let number = |pointer: &str, text: &str, code: &'static str, what: &str| {
        text.parse::<i32>().map_err(|_| {
            FieldProblem::new(
                crate::api::error::Location::Body,
                pointer,
                code,
                format!("{what} must be a whole number"),
            )
        })
    };
    let edition = number("/edition", &kept.edition, "catalogue.edition", "the edition");
    let count = number(
        "/code_count",
        &kept.code_count,
        "catalogue.code_count",
        "the number of codes",
    );
    let outcome = match (edition, count) {
        _ if !kept.problems.is_empty() => Err(None),
        (Ok(edition), Ok(code_count)) => {
            let input = service::catalogue::EditionInput {
                edition,
                in_force_from: kept.in_force_from.clone(),
                source: kept.source.clone(),
                code_count,
                codes_csv: kept.codes.clone(),
                successors_csv: Some(kept.successors.clone()).filter(|s| !s.trim().is_empty()),
            };
            match service::catalogue::import_edition(&state, &Ctx::new(u.who.clone()), input).await {
                Ok(_) => Ok(()),
                Err(e) => Err(Some(ApiError::from(e))),
            }
        }
        (edition, count) => Err(Some(ApiError::Validation(
            [edition.err(), count.err()].into_iter().flatten().collect(),
        ))),
    };
    match outcome {
        Ok(()) => Ok(see_other("/ui/catalogue?done=1")),
        Err(e) => {
            match e {
                None => {}
                Some(ApiError::Validation(ps)) => kept.problems.extend(ps.iter().map(|p| catalogue_problem(lang, p))),
                Some(ApiError::Conflict(detail)) => kept.problems.push(CatalogueProblem {
                    file: String::new(),
                    line: String::new(),
                    column: String::new(),
                    message: detail,
                }),
                Some(other) => return Err(UiError::Api(other, lang)),
            }
            super::pages::catalogue_page(&state, &u, &req, kept, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_pointers_become_row_and_column() {
        let p = FieldProblem::new(crate::api::error::Location::Body, "/rows/7/scope", "x", "bad scope");
        let v = problem_view(Lang::Zh, &p);
        assert_eq!((v.row.as_str(), v.field.as_str()), ("7", "scope"));
        let p = FieldProblem::new(crate::api::error::Location::Body, "/quota_kg", "x", "too much");
        let v = problem_view(Lang::En, &p);
        assert_eq!((v.row.as_str(), v.field.as_str()), ("", "Quota"));
    }

    #[test]
    fn catalogue_pointers_become_file_line_and_column() {
        let at = |pointer: &str| {
            let p = FieldProblem::new(crate::api::error::Location::Body, pointer, "x", "m");
            let v = catalogue_problem(Lang::En, &p);
            (v.file, v.line, v.column)
        };
        let (file, line, column) = at("/codes_csv/12/code");
        assert!(file.starts_with("Code table"), "{file}");
        assert_eq!((line.as_str(), column.as_str()), ("12", "code"));
        let (file, line, _) = at("/successors_csv/3");
        assert!(file.starts_with("Successor mapping") && line == "3", "{file}");
        assert_eq!(at("/code_count").0, "Number of codes (as the official text)");
    }

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
