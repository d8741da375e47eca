//! The UI's pages, one file per page area. Each handler reads its input, calls the same core
//! function as the API, and renders a template; what a user may do is decided by the same rules
//! as in the API. This file holds what the pages share: the page chrome, rendering with the UI's
//! headers, the error page, posted forms and how a refusal's problems are shown on a form.

pub mod account;
pub mod agreements;
pub mod annual;
pub mod application;
pub mod audit;
pub mod calendar;
pub mod catalogue;
pub mod certificate;
pub mod dashboard;
pub mod entry;
pub mod history;
pub mod login;
pub mod manifests;
pub mod queue;
pub mod webhooks;
pub mod whitelist;
pub mod whitelist_new;

use std::collections::HashMap;

use actix_multipart::form::MultipartFormConfig;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use super::CSP;
use super::i18n::Lang;
use super::session::{UiError, UiUser, lang_of};
use crate::auth::principal::Role;
use crate::domain::ids::ProvinceCode;
use crate::domain::province::province;
use crate::domain::quantity::{Quantity, grams_to_kg_string};
use crate::service::applications::case::ApplicationDto;
use crate::service::whitelist::import::MAX_BYTES;
use crate::service::{Error, FieldProblem, Location};
use crate::state::AppState;

type UiResult<T> = Result<T, UiError>;

/// An HTML page with the UI's security headers; never cached (it shows one user's data).
pub fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Content-Security-Policy", CSP))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

fn render(lang: Lang, t: &impl Template) -> HttpResponse {
    render_status(lang, StatusCode::OK, t)
}

pub(super) fn render_status(lang: Lang, status: StatusCode, t: &impl Template) -> HttpResponse {
    match t.render() {
        Ok(body) => html(status, body),
        Err(e) => {
            tracing::error!(error = %e, "rendering a page");
            html(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("<!doctype html><title>500</title><p>{}</p>", lang.t("err_internal")),
            )
        }
    }
}

pub(super) fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, to)).finish()
}

pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub active: bool,
}

/// The header and navigation shared by signed-in pages.
pub struct Chrome {
    pub lang: Lang,
    pub user: String,
    pub role: &'static str,
    pub csrf: String,
    pub nav: Vec<NavItem>,
    /// The current path and query, for the language switch to come back to.
    pub back: String,
    pub other_lang: (&'static str, &'static str),
    /// The year whose holiday notice is missing and due (admins and regulators).
    pub notice_missing: Option<i32>,
    /// The catalogue edition in force but not loaded (admins and regulators).
    pub catalogue_missing: Option<super::session::CatalogueMissing>,
    /// Whether the person has second-factor pages (admins and regulators).
    pub second_factor: bool,
}

impl Chrome {
    pub(super) fn new(u: &UiUser, req: &HttpRequest, active: &str) -> Chrome {
        let lang = u.lang;
        let items: &[(&str, &str)] = match u.who.role {
            Role::Regulator => &[
                ("/ui/queue", "queue"),
                ("/ui/whitelist", "whitelist"),
                ("/ui/agreements", "agreements"),
                ("/ui/history", "history"),
                ("/ui/annual", "annual"),
                ("/ui/dashboard", "dashboard"),
                ("/ui/calendar", "calendar"),
                ("/ui/catalogue", "catalogue"),
                ("/ui/webhooks", "webhooks"),
            ],
            Role::Auditor => &[
                ("/ui/history", "history"),
                ("/ui/audit", "audit"),
                ("/ui/annual", "annual"),
                ("/ui/dashboard", "dashboard"),
                ("/ui/whitelist", "whitelist"),
                ("/ui/agreements", "agreements"),
                ("/ui/calendar", "calendar"),
                ("/ui/catalogue", "catalogue"),
            ],
            Role::Admin => &[
                ("/ui/calendar", "calendar"),
                ("/ui/catalogue", "catalogue"),
                ("/ui/audit", "audit"),
                ("/ui/history", "history"),
                ("/ui/annual", "annual"),
                ("/ui/dashboard", "dashboard"),
                ("/ui/whitelist", "whitelist"),
                ("/ui/webhooks", "webhooks"),
            ],
            Role::Enterprise | Role::Operator => &[
                ("/ui/queue", "applications"),
                ("/ui/whitelist", "whitelist"),
                ("/ui/webhooks", "webhooks"),
                ("/ui/calendar", "calendar"),
            ],
        };
        Chrome {
            lang,
            user: u.who.name.clone(),
            role: lang.t(&format!("r_{}", u.who.role.as_str())),
            csrf: u.csrf.clone(),
            nav: items
                .iter()
                .map(|(href, key)| NavItem {
                    href,
                    label: lang.t(key),
                    active: *href == active,
                })
                .collect(),
            back: req
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| "/ui/queue".into()),
            other_lang: lang.other(),
            notice_missing: u.notice_missing,
            catalogue_missing: u.catalogue_missing.clone(),
            second_factor: crate::service::second_factor::required_for(u.who.role),
        }
    }
}

/// The first page of a role after login.
fn home_of(role: Role) -> &'static str {
    match role {
        Role::Regulator | Role::Enterprise | Role::Operator => "/ui/queue",
        Role::Auditor => "/ui/history",
        Role::Admin => "/ui/calendar",
    }
}

/// A path inside the UI to come back to after login (never another site).
fn safe_next(next: Option<&str>) -> Option<String> {
    next.filter(|n| n.starts_with("/ui/") && !n.starts_with("/ui//") && !n.contains('\\'))
        .map(str::to_string)
}

pub(super) fn province_name(lang: Lang, code: &str) -> String {
    ProvinceCode::parse(code)
        .ok()
        .and_then(province)
        .map(|p| match lang {
            Lang::Zh => p.name_zh.clone(),
            Lang::En => p.name_en.clone(),
        })
        .unwrap_or_else(|| code.to_string())
}

/// The status a page of a refusal answers with: the one the API answers for the same refusal.
pub fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::Invalid(_) | Error::Unconfirmed { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        Error::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        Error::Forbidden(_) => StatusCode::FORBIDDEN,
        Error::Hidden => StatusCode::NOT_FOUND,
        Error::Conflict(_) | Error::Refused(_) => StatusCode::CONFLICT,
        Error::Gone(_) => StatusCode::GONE,
        Error::Stale { .. } => StatusCode::PRECONDITION_FAILED,
        Error::PreconditionRequired(_) => StatusCode::PRECONDITION_REQUIRED,
        Error::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
        Error::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The title and lines of a refusal as the UI shows them.
pub fn describe(e: &Error, lang: Lang) -> (&'static str, Vec<String>) {
    match e {
        Error::Hidden => (lang.t("err_not_found"), vec![]),
        Error::Forbidden(d) => (lang.t("err_forbidden"), vec![d.clone()]),
        Error::Conflict(d) | Error::Stale { detail: d, .. } | Error::PreconditionRequired(d) => {
            (lang.t("err_conflict"), vec![d.clone()])
        }
        Error::Refused(i) => (lang.t("err_conflict"), vec![i.message.clone()]),
        Error::Gone(d) => (lang.t("err_not_found"), vec![d.clone()]),
        Error::Invalid(problems) | Error::Unconfirmed { problems, .. } => (
            lang.t("err_invalid"),
            problems
                .iter()
                .map(|p| format!("{}: {}", p.pointer, p.message))
                .collect(),
        ),
        Error::TooManyRequests { detail, .. } => (lang.t("err_too_many"), vec![detail.clone()]),
        Error::Unavailable { .. } => (lang.t("err_unavailable"), vec![]),
        Error::Unauthenticated(_) => (lang.t("login"), vec![]),
        Error::Internal(_) => (lang.t("err_internal"), vec![]),
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    lang: Lang,
    title: &'a str,
    lines: Vec<String>,
}

pub fn error_page(lang: Lang, status: StatusCode, title: &str, lines: Vec<String>) -> HttpResponse {
    render_status(lang, status, &ErrorPage { lang, title, lines })
}

/// A service's refusal (or the permission layer's) as the page that says why.
fn failed<E: Into<Error>>(lang: Lang) -> impl Fn(E) -> UiError {
    move |e| UiError::Service(e.into(), lang)
}

impl UiError {
    /// The page of an error, for handlers that answer a page either way.
    fn error_response_owned(self) -> HttpResponse {
        actix_web::ResponseError::error_response(&self)
    }
}

/// Form fields; a name may repeat (checkboxes).
pub(super) struct Form(Vec<(String, String)>);

impl Form {
    /// A posted form, refused unless it carries this session's CSRF token.
    pub(super) fn checked(u: &UiUser, body: &[u8]) -> Result<Form, UiError> {
        let form = Form::parse(body);
        u.check_csrf(form.get("csrf"))?;
        Ok(form)
    }
    pub(super) fn parse(body: &[u8]) -> Form {
        Form(serde_urlencoded::from_bytes::<Vec<(String, String)>>(body).unwrap_or_default())
    }
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect()
    }
    /// A textarea read as one entry per non-empty line.
    fn lines(&self, name: &str) -> Vec<String> {
        self.get(name)
            .unwrap_or_default()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    }
}

/// Names of enterprises and operators, looked up once per page.
async fn names(
    state: &AppState,
    enterprises: Vec<String>,
    operators: Vec<String>,
) -> UiResult<HashMap<String, String>> {
    crate::service::registry::names::party_names(state, enterprises, operators)
        .await
        .map_err(|e| UiError::Service(e, Lang::Zh))
}

fn total_kg(dto: &ApplicationDto) -> String {
    let grams: i64 = dto
        .items
        .iter()
        .filter_map(|i| Quantity::parse_kg(&i.quantity_kg).ok())
        .map(Quantity::grams)
        .sum();
    grams_to_kg_string(grams)
}

/// Shanghai wall-clock time of an RFC 3339 instant, for display.
fn local_time(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|d| {
            d.with_timezone(&chrono_tz::Asia::Shanghai)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_else(|_| rfc3339.to_string())
}

fn grams(kg: &str) -> i64 {
    Quantity::parse_kg(kg).map(Quantity::grams).unwrap_or(0)
}

/// The query string without empty fields (a form sends every field, even blank ones).
fn non_empty_query(req: &HttpRequest) -> (Vec<(String, String)>, String) {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string())
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .collect();
    let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
    (pairs, query)
}

/// A page's filter form as sent in the query string: its non-empty fields, read like the API
/// reads its parameters (an unknown or repeated name, or a value that does not parse, is a
/// problem; every problem is shown at once).
pub(super) struct Query {
    pairs: Vec<(String, String)>,
    known: Vec<&'static str>,
    problems: Vec<FieldProblem>,
}

impl Query {
    pub(super) fn of(req: &HttpRequest, known: &[&'static str]) -> Query {
        let (pairs, _) = non_empty_query(req);
        Query {
            pairs,
            known: known.to_vec(),
            problems: Vec::new(),
        }
    }

    /// Whether a page's own notice (e.g. `done`) is present; it is taken out of the filter, so
    /// it may repeat.
    pub(super) fn take_flag(&mut self, name: &str) -> bool {
        let before = self.pairs.len();
        self.pairs.retain(|(k, _)| k != name);
        self.pairs.len() != before
    }

    /// The fields as sent (non-empty ones), for links that keep the filter.
    pub(super) fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    pub(super) fn raw(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Parses an optional field with `parse`, recording the problem if it fails.
    pub(super) fn parse_with<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, crate::domain::Invalid>,
    ) -> Option<T> {
        let raw = self.raw(name)?.to_string();
        match parse(&raw) {
            Ok(v) => Some(v),
            Err(invalid) => {
                self.problems.push(FieldProblem::query(name, &invalid));
                None
            }
        }
    }

    /// Every problem found (unknown and repeated names first), as the error page shows them.
    pub(super) fn finish(self, lang: Lang) -> UiResult<()> {
        let mut problems = Vec::new();
        for (i, (k, _)) in self.pairs.iter().enumerate() {
            if !self.known.contains(&k.as_str()) {
                problems.push(FieldProblem::new(
                    Location::Query,
                    format!("/{k}"),
                    "query.unknown_parameter",
                    format!("unknown parameter; this page accepts: {}", self.known.join(", ")),
                ));
            } else if self.pairs[..i].iter().any(|(seen, _)| seen == k) {
                problems.push(FieldProblem::new(
                    Location::Query,
                    format!("/{k}"),
                    "query.repeated_parameter",
                    "the parameter is given more than once",
                ));
            }
        }
        problems.extend(self.problems);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(UiError::Service(Error::Invalid(problems), lang))
        }
    }
}

/// A CSV download streamed chunk by chunk (a failure after the first chunk breaks the transfer,
/// so a short file is never mistaken for a whole one).
pub(super) fn csv_download(
    file_name: &str,
    chunks: impl futures_util::Stream<Item = Result<Vec<u8>, crate::service::Error>> + 'static,
) -> HttpResponse {
    use futures_util::StreamExt as _;
    let body = chunks.map(|c| match c {
        Ok(bytes) => Ok(actix_web::web::Bytes::from(bytes)),
        Err(e) => Err(actix_web::error::ErrorServiceUnavailable(e.to_string())),
    });
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file_name}\""),
        ))
        .streaming(body)
}

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

impl ProblemView {
    /// A problem with the whole form, not one field of it.
    fn line(message: String) -> ProblemView {
        ProblemView {
            row: String::new(),
            field: String::new(),
            message,
        }
    }
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
        "letter_number" | "reason" | "valid_from" | "valid_until" | "completion_days" | "terminated_on"
        | "receiving_consent" | "shared_sources" => field,
        "provinces" => "members",
        "cap_per_application_kg" => "cap_per_application",
        _ => return field.to_string(),
    };
    lang.t(key).to_string()
}

/// The problems of a refused request, or `None` when the refusal is not about the input.
fn problems_of(lang: Lang, e: &Error) -> Option<Vec<ProblemView>> {
    match e {
        Error::Invalid(ps) => Some(ps.iter().map(|p| problem_view(lang, p)).collect()),
        Error::Conflict(d) => Some(vec![ProblemView::line(d.clone())]),
        Error::Refused(i) => Some(vec![ProblemView::line(i.message.clone())]),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_inside_the_ui_are_followed_after_login() {
        assert_eq!(safe_next(Some("/ui/queue?x=1")), Some("/ui/queue?x=1".into()));
        assert_eq!(safe_next(Some("https://evil.example/ui/")), None);
        assert_eq!(safe_next(Some("//evil.example")), None);
        assert_eq!(safe_next(Some("/ui//evil.example")), None);
        assert_eq!(safe_next(Some("/ui/\\evil")), None);
        assert_eq!(safe_next(None), None);
    }

    #[test]
    fn form_fields_repeat_and_lines_split() {
        let f = Form::parse(b"problem=a&problem=b&problem=&other=x%0Ay%0A%0A&csrf=t");
        assert_eq!(f.all("problem"), vec!["a", "b"]);
        assert_eq!(f.lines("other"), vec!["x", "y"]);
        assert_eq!(f.get("csrf"), Some("t"));
        assert_eq!(f.get("missing"), None);
    }

    #[test]
    fn row_pointers_become_row_and_column() {
        let p = FieldProblem::new(Location::Body, "/rows/7/scope", "x", "bad scope");
        let v = problem_view(Lang::Zh, &p);
        assert_eq!((v.row.as_str(), v.field.as_str()), ("7", "scope"));
        let p = FieldProblem::new(Location::Body, "/quota_kg", "x", "too much");
        let v = problem_view(Lang::En, &p);
        assert_eq!((v.row.as_str(), v.field.as_str()), ("", "Quota"));
    }
}
