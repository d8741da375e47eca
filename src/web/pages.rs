//! The UI's pages. Each handler reads its input, calls the same core function as the API, and
//! renders a template; what a user may do is decided by the same rules as in the API.

use std::collections::HashMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{Datelike, Duration, NaiveDate, Utc};

use super::CSP;
use super::forms::CalendarForm;
use super::i18n::Lang;
use super::session::{
    LANG_COOKIE, LOGIN_CSRF_COOKIE, SESSION_COOKIE, UiError, UiUser, constant_time_eq, expired_cookie, lang_of,
    session_cookie,
};
use crate::api::applications::{self as apps, ApplicationDto};
use crate::api::error::ApiError;
use crate::api::extract::QueryParams;
use crate::api::{history, webhooks, whitelist};
use crate::auth::principal::{Binding, Principal, Role};
use crate::auth::session::client_address;
use crate::db::{self, to_db_time};
use crate::domain::calendar::shanghai_date;
use crate::domain::catalogue::WasteCode;
use crate::domain::ids::ProvinceCode;
use crate::domain::province::province;
use crate::domain::quantity::{Quantity, grams_to_kg_string};
use crate::domain::whitelist::{EntryAction, EntryStatus};
use crate::domain::workflow::Act;
use crate::domain::workflow::{Route, Side, Status};
use crate::service::applications::queue::{self, QueueCursor};
use crate::service::applications::workflow;
use crate::service::sessions::{self, Grant};
use crate::service::whitelist::entries;
use crate::service::{self, Ctx};
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
}

impl Chrome {
    pub(super) fn new(u: &UiUser, req: &HttpRequest, active: &str) -> Chrome {
        let lang = u.lang;
        let items: &[(&str, &str)] = match u.who.role {
            Role::Regulator => &[
                ("/ui/queue", "queue"),
                ("/ui/whitelist", "whitelist"),
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

/// The title and lines of an API error as the UI shows them.
pub fn describe(e: &ApiError, lang: Lang) -> (&'static str, Vec<String>) {
    match e {
        ApiError::NotFound => (lang.t("err_not_found"), vec![]),
        ApiError::Forbidden(d) => (lang.t("err_forbidden"), vec![d.clone()]),
        ApiError::Conflict(d) | ApiError::PreconditionFailed(d) | ApiError::PreconditionRequired(d) => {
            (lang.t("err_conflict"), vec![d.clone()])
        }
        ApiError::Refused(i) => (lang.t("err_conflict"), vec![i.message.clone()]),
        ApiError::Gone(d) => (lang.t("err_not_found"), vec![d.clone()]),
        ApiError::Validation(problems) | ApiError::ConfirmationRequired { errors: problems, .. } => (
            lang.t("err_invalid"),
            problems
                .iter()
                .map(|p| format!("{}: {}", p.pointer, p.message))
                .collect(),
        ),
        ApiError::Malformed { detail, .. } => (lang.t("err_invalid"), vec![detail.clone()]),
        ApiError::MethodNotAllowed(_) => (lang.t("err_not_found"), vec![]),
        ApiError::PayloadTooLarge(d) | ApiError::UnsupportedMediaType(d) => (lang.t("err_invalid"), vec![d.clone()]),
        ApiError::TooManyRequests { detail, .. } => (lang.t("err_too_many"), vec![detail.clone()]),
        ApiError::Unavailable { .. } => (lang.t("err_unavailable"), vec![]),
        ApiError::Unauthorized(_) => (lang.t("login"), vec![]),
        ApiError::Internal(_) => (lang.t("err_internal"), vec![]),
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

fn api<E: Into<ApiError>>(lang: Lang) -> impl Fn(E) -> UiError {
    move |e| UiError::Api(e.into(), lang)
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

// ---------------------------------------------------------------------------------------------
// Login, logout, language

pub async fn root(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    if let Some(c) = req.cookie(SESSION_COOKIE)
        && let Ok((who, _)) = sessions::principal_from_token(&state, c.value()).await
    {
        return see_other(home_of(who.role));
    }
    see_other("/ui/login")
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    lang: Lang,
    other_lang: (&'static str, &'static str),
    csrf: String,
    next: String,
    username: String,
    error: Option<String>,
}

fn random_token() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // Without randomness the form cannot be protected; an empty token never matches.
        return String::new();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn login_page(
    req: &HttpRequest,
    status: StatusCode,
    username: &str,
    next: &str,
    error: Option<String>,
) -> HttpResponse {
    let lang = lang_of(req);
    let csrf = random_token();
    let page = LoginPage {
        lang,
        other_lang: lang.other(),
        csrf: csrf.clone(),
        next: next.to_string(),
        username: username.to_string(),
        error,
    };
    let mut res = render_status(lang, status, &page);
    let cookie = actix_web::cookie::Cookie::build(LOGIN_CSRF_COOKIE, csrf)
        .path("/ui/login")
        .http_only(true)
        .secure(super::session::is_tls(req))
        .same_site(actix_web::cookie::SameSite::Strict)
        .finish();
    let _ = res.add_cookie(&cookie);
    res
}

pub async fn login_form(req: HttpRequest) -> HttpResponse {
    let q: HashMap<String, String> = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let next = safe_next(q.get("next").map(String::as_str)).unwrap_or_default();
    login_page(&req, StatusCode::OK, "", &next, None)
}

pub async fn login(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let lang = lang_of(&req);
    let form = Form::parse(&body);
    let username = form.get("username").unwrap_or_default().trim().to_string();
    let password = form.get("password").unwrap_or_default().to_string();
    let next = safe_next(form.get("next")).unwrap_or_default();
    let expected = req.cookie(LOGIN_CSRF_COOKIE).map(|c| c.value().to_string());
    let csrf_ok = matches!((form.get("csrf"), expected.as_deref()),
        (Some(sent), Some(exp)) if !exp.is_empty() && constant_time_eq(sent.as_bytes(), exp.as_bytes()));
    if !csrf_ok {
        return UiError::Csrf(lang).error_response_owned();
    }
    if username.is_empty() || password.is_empty() {
        let msg = lang.t("login_missing").to_string();
        return login_page(&req, StatusCode::UNPROCESSABLE_ENTITY, &username, &next, Some(msg));
    }
    let grant = Grant::Password {
        username: username.clone(),
        password,
    };
    let forwarded = req.headers().get_all("x-forwarded-for").filter_map(|v| v.to_str().ok());
    let client = client_address(
        req.peer_addr().map(|a| a.ip()),
        forwarded,
        &state.config.trusted_proxies,
    );
    match sessions::authenticate(&state, client, grant).await {
        Ok(token) => {
            let who = sessions::principal_from_token(&state, &token).await;
            let to = match (&who, next.is_empty()) {
                (_, false) => next,
                (Ok((p, _)), true) => home_of(p.role).to_string(),
                (Err(_), true) => "/ui/queue".to_string(),
            };
            let mut res = see_other(&to);
            let _ = res.add_cookie(&session_cookie(&req, &token, state.config.access_token_ttl_secs));
            let _ = res.add_removal_cookie(
                &actix_web::cookie::Cookie::build(LOGIN_CSRF_COOKIE, "")
                    .path("/ui/login")
                    .finish(),
            );
            res
        }
        Err(service::Error::TooManyRequests { retry_after_secs, .. }) => {
            let msg = format!(
                "{} {} {}",
                lang.t("login_locked"),
                lang.t("login_retry_in"),
                retry_after_secs.div_ceil(60)
            );
            let mut res = login_page(&req, StatusCode::TOO_MANY_REQUESTS, &username, &next, Some(msg));
            if let Ok(v) = header::HeaderValue::from_str(&retry_after_secs.to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
            res
        }
        Err(service::Error::Unauthenticated(_) | service::Error::Invalid(_)) => {
            let msg = lang.t("login_failed").to_string();
            login_page(&req, StatusCode::UNAUTHORIZED, &username, &next, Some(msg))
        }
        Err(e) => UiError::Api(e.into(), lang).error_response_owned(),
    }
}

impl UiError {
    fn error_response_owned(self) -> HttpResponse {
        actix_web::ResponseError::error_response(&self)
    }
}

pub async fn logout(u: UiUser, body: web::Bytes) -> UiResult<HttpResponse> {
    Form::checked(&u, &body)?;
    let mut res = see_other("/ui/login");
    let _ = res.add_cookie(&expired_cookie(SESSION_COOKIE));
    Ok(res)
}

pub async fn switch_lang(req: HttpRequest, code: web::Path<String>) -> HttpResponse {
    let lang = Lang::parse(&code);
    let q: HashMap<String, String> = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let back = safe_next(q.get("back").map(String::as_str)).unwrap_or_else(|| "/".into());
    let mut res = see_other(&back);
    let cookie = actix_web::cookie::Cookie::build(LANG_COOKIE, if lang == Lang::En { "en" } else { "zh" })
        .path("/")
        .same_site(actix_web::cookie::SameSite::Strict)
        .max_age(actix_web::cookie::time::Duration::days(365))
        .finish();
    let _ = res.add_cookie(&cookie);
    res
}

// ---------------------------------------------------------------------------------------------
// 待办 queue

/// A row of the queue.
struct QueueRow {
    id: String,
    short_id: String,
    producer: String,
    operator: String,
    pair: String,
    route: String,
    status: String,
    step: String,
    side: String,
    due: String,
    wd_left: String,
    overdue: bool,
    awaiting_notice: bool,
    suspended: bool,
    provisional: bool,
    quantity_kg: String,
}

#[derive(Template)]
#[template(path = "queue.html")]
struct QueuePage {
    chrome: Chrome,
    lang: Lang,
    rows: Vec<QueueRow>,
    is_regulator: bool,
    route: String,
    status: String,
    operator: String,
    code: String,
    overdue: bool,
    scope_all: bool,
    statuses: Vec<(String, String)>,
    next: Option<String>,
}

#[derive(Template)]
#[template(path = "queue_counts.html")]
struct CountsFragment {
    lang: Lang,
    counts: db::applications::QueueCounts,
}

/// Names of enterprises and operators, looked up once per page.
async fn names(
    state: &AppState,
    enterprises: Vec<String>,
    operators: Vec<String>,
) -> UiResult<HashMap<String, String>> {
    state
        .db
        .run(move |conn| {
            let mut out = HashMap::new();
            for id in enterprises {
                if !out.contains_key(&id)
                    && let Some(e) = db::registry::enterprise_by_id(conn, &id)?
                {
                    out.insert(id, e.name);
                }
            }
            for id in operators {
                if !out.contains_key(&id)
                    && let Some(o) = db::registry::operator_by_id(conn, &id)?
                {
                    out.insert(id, o.name);
                }
            }
            Ok(out)
        })
        .await
        .map_err(|e| UiError::Api(e.into(), Lang::Zh))
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

pub async fn queue(state: web::Data<AppState>, u: UiUser, req: HttpRequest) -> UiResult<HttpResponse> {
    let lang = u.lang;
    // A filter form sends every field, the empty ones too.
    let (_, query) = non_empty_query(&req);
    let mut q = QueryParams::parse_str(
        &query,
        &["route", "status", "operator", "code", "overdue", "scope", "cursor"],
    )
    .map_err(api(lang))?;
    let route = q.parse_with("route", Route::parse).map(|r| r.as_str().to_string());
    let status = q.parse_with("status", Status::parse).map(|s| s.as_str().to_string());
    let code = q.parse_with("code", WasteCode::parse).map(|c| c.as_str().to_string());
    let operator = q.raw("operator").filter(|s| !s.is_empty()).map(str::to_string);
    let overdue = q.raw("overdue") == Some("true");
    let scope_all = q.raw("scope") == Some("all");
    let cursor = q.raw("cursor").map(str::to_string);
    let after = match cursor.as_deref() {
        Some(c) => QueueCursor::parse(c).map(Some).map_err(|i| {
            UiError::Api(
                ApiError::Validation(vec![crate::api::error::FieldProblem::query("cursor", &i)]),
                lang,
            )
        })?,
        None => None,
    };
    q.finish().map_err(api(lang))?;
    let is_regulator = u.who.role == Role::Regulator;
    let now = Utc::now();
    let filter = db::applications::AppFilter {
        acting: is_regulator && !scope_all,
        status: status.clone(),
        route: route.clone(),
        operator_id: operator.clone(),
        code: code.clone(),
        overdue_at: overdue.then(|| to_db_time(now)),
        ..Default::default()
    };
    let (items, next) = queue::page(&state, &u.who, filter, after, 50)
        .await
        .map_err(api(lang))?;
    let names = names(
        &state,
        items.iter().map(|a| a.enterprise_id.clone()).collect(),
        items.iter().map(|a| a.operator_id.clone()).collect(),
    )
    .await?;
    let my_side = |dto: &ApplicationDto| apps::regulator_side(&u.who, dto);
    let rows = items
        .iter()
        .map(|a| {
            let open: Vec<_> = a.steps.iter().filter(|s| s.completed_at.is_none()).collect();
            let mine = my_side(a);
            let step = open
                .iter()
                .find(|s| Some(s.side.as_str()) == mine.map(Side::as_str))
                .or(open.first())
                .copied();
            QueueRow {
                id: a.id.clone(),
                short_id: a
                    .id
                    .chars()
                    .rev()
                    .take(8)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect(),
                producer: names
                    .get(&a.enterprise_id)
                    .cloned()
                    .unwrap_or_else(|| a.enterprise_id.clone()),
                operator: names
                    .get(&a.operator_id)
                    .cloned()
                    .unwrap_or_else(|| a.operator_id.clone()),
                pair: format!(
                    "{} → {}",
                    province_name(lang, &a.source_province),
                    province_name(lang, &a.receiving_province)
                ),
                route: lang.value(&a.route),
                status: lang.value(&a.status),
                step: step.map(|s| lang.value(&s.kind)).unwrap_or_default(),
                side: step.map(|s| lang.value(&s.side)).unwrap_or_default(),
                due: step.map(|s| local_time(&s.due_at)).unwrap_or_default(),
                wd_left: step
                    .and_then(|s| s.working_days_left)
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
                overdue: step.is_some_and(|s| s.overdue),
                awaiting_notice: step.is_some_and(|s| s.awaiting_notice),
                suspended: step.is_some_and(|s| s.suspended),
                provisional: step.is_some_and(|s| s.provisional),
                quantity_kg: total_kg(a),
            }
        })
        .collect();
    let statuses = Status::ALL
        .iter()
        .filter(|s| **s != Status::Accepted)
        .map(|s| (s.as_str().to_string(), lang.value(s.as_str())))
        .collect();
    let next = next.map(|c| {
        let mut params: Vec<(&str, String)> = Vec::new();
        for (k, v) in [
            ("route", &route),
            ("status", &status),
            ("operator", &operator),
            ("code", &code),
        ] {
            if let Some(v) = v {
                params.push((k, v.clone()));
            }
        }
        if overdue {
            params.push(("overdue", "true".into()));
        }
        if scope_all {
            params.push(("scope", "all".into()));
        }
        params.push(("cursor", c));
        format!("/ui/queue?{}", serde_urlencoded::to_string(params).unwrap_or_default())
    });
    let page = QueuePage {
        chrome: Chrome::new(&u, &req, "/ui/queue"),
        lang,
        rows,
        is_regulator,
        route: route.unwrap_or_default(),
        status: status.unwrap_or_default(),
        operator: operator.unwrap_or_default(),
        code: code.unwrap_or_default(),
        overdue,
        scope_all,
        statuses,
        next,
    };
    Ok(render(lang, &page))
}

/// The live counts of a regulator's queue (refreshed by htmx every 30 s).
pub async fn queue_counts(state: web::Data<AppState>, u: UiUser) -> UiResult<HttpResponse> {
    let lang = u.lang;
    let Some(p) = u.who.province().filter(|_| u.who.role == Role::Regulator) else {
        return Ok(html(StatusCode::OK, String::new()));
    };
    let now = Utc::now();
    // Due today: before the end of today in Shanghai.
    let tomorrow = shanghai_date(now) + Duration::days(1);
    let soon = tomorrow
        .and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(chrono_tz::Asia::Shanghai).single())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(now);
    let province = p.as_str();
    let counts = state
        .db
        .run(move |conn| db::applications::queue_counts(conn, &province, to_db_time(now), to_db_time(soon)))
        .await
        .map_err(|e| UiError::Api(e.into(), lang))?;
    Ok(render(lang, &CountsFragment { lang, counts }))
}

// ---------------------------------------------------------------------------------------------
// The application page and its actions

/// One action this user may take now.
struct ActionView {
    /// accept, correction, suspend_clock, resume_clock, decide.
    kind: &'static str,
    label: &'static str,
    /// For decisions: source or receiving, approve or refuse.
    side: &'static str,
    outcome: &'static str,
    danger: bool,
    /// A decision that is a letter (商请函 or 复函): the form asks its number and date.
    letter: bool,
}

/// The actions open to `who` on this case: only the steps of its own side, only in a state that
/// allows them (the workflow table decides again when the action is sent).
fn actions_for(who: &Principal, dto: &ApplicationDto, lang: Lang) -> Vec<ActionView> {
    let Some(side) = apps::regulator_side(who, dto) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let decided = |side: Side| dto.decisions.iter().any(|d| d.side == side.as_str());
    // What stops an approval (the core's rule, shown on the page) hides the approving button;
    // the regulator may still refuse, or move a whitelist case to the standard route.
    let blocked = dto.approval_blocked.is_some();
    // After a disagreeing reply (第25条) the source's final decision can only refuse (第26条).
    let receiving_disagreed = dto.route == "standard"
        && dto
            .decisions
            .iter()
            .rev()
            .find(|d| d.side == Side::Receiving.as_str())
            .is_some_and(|d| d.outcome == "refuse");
    let decision = |out: &mut Vec<ActionView>, yes: &'static str, no: &'static str, letters: (bool, bool)| {
        let approves = yes != "a_send_consultation" && yes != "a_receiving_agree" || dto.route == "whitelist";
        let final_after_refusal = yes == "a_approve" && dto.status == "receiving_replied" && receiving_disagreed;
        if !(final_after_refusal || blocked && approves) {
            out.push(ActionView {
                kind: "decide",
                label: lang.t(yes),
                side: side.as_str(),
                outcome: "approve",
                danger: false,
                letter: letters.0,
            });
        }
        out.push(ActionView {
            kind: "decide",
            label: lang.t(no),
            side: side.as_str(),
            outcome: "refuse",
            danger: true,
            letter: letters.1,
        });
    };
    // On the whitelist route with the consent policy the receiving province has its own
    // decision step (below); a case accepted before that had none, and it decides beside the
    // source's step.
    let own_consent_step = dto.steps.iter().any(|s| s.kind == "whitelist_consent");
    if side == Side::Receiving
        && dto.route == "whitelist"
        && dto.status == "under_review"
        && !decided(side)
        && !own_consent_step
    {
        decision(&mut out, "a_receiving_agree", "a_receiving_disagree", (false, false));
    }
    if side == Side::Source {
        if dto.route == "whitelist"
            && dto
                .approval_blocked
                .as_ref()
                .is_some_and(|b| b.code == "approval.entry_suspended")
        {
            out.push(ActionView {
                kind: "reroute",
                label: lang.t("a_reroute"),
                side: "source",
                outcome: "",
                danger: false,
                letter: false,
            });
        }
        if dto.status == "approved" {
            out.push(ActionView {
                kind: "revoke",
                label: lang.t("a_revoke"),
                side: "source",
                outcome: "",
                danger: true,
                letter: false,
            });
        }
    }
    for step in dto
        .steps
        .iter()
        .filter(|s| s.completed_at.is_none() && s.side == side.as_str())
    {
        let suspended = step.suspended;
        if suspended {
            out.push(ActionView {
                kind: "resume_clock",
                label: lang.t("a_resume_clock"),
                side: side.as_str(),
                outcome: "",
                danger: false,
                letter: false,
            });
            continue;
        }
        match step.kind.as_str() {
            "acceptance" => {
                out.push(ActionView {
                    kind: "accept",
                    label: lang.t("a_accept"),
                    side: "source",
                    outcome: "",
                    danger: false,
                    letter: false,
                });
                out.push(ActionView {
                    kind: "correction",
                    label: lang.t("a_correction"),
                    side: "source",
                    outcome: "",
                    danger: false,
                    letter: false,
                });
                out.push(ActionView {
                    kind: "refuse_acceptance",
                    label: lang.t("a_refuse_acceptance"),
                    side: "source",
                    outcome: "",
                    danger: true,
                    letter: false,
                });
                // The acceptance period (补正 within 5 working days) cannot be suspended.
                continue;
            }
            // A side that has decided waits for the other (whitelist route with consent).
            "whitelist_decision" if decided(side) => {}
            kind => {
                let (yes, no, letters) = match kind {
                    "receiving_opinion" => ("a_receiving_agree", "a_receiving_disagree", (true, true)),
                    "whitelist_consent" => ("a_receiving_agree", "a_receiving_disagree", (false, false)),
                    "source_review" => ("a_send_consultation", "a_refuse", (true, false)),
                    _ => ("a_approve", "a_refuse", (false, false)),
                };
                decision(&mut out, yes, no, letters);
            }
        }
        out.push(ActionView {
            kind: "suspend_clock",
            label: lang.t("a_suspend_clock"),
            side: side.as_str(),
            outcome: "",
            danger: false,
            letter: false,
        });
    }
    out
}

struct StepView {
    kind: String,
    side: String,
    started_on: String,
    working_days: i32,
    due: String,
    wd_left: String,
    overdue: bool,
    awaiting_notice: bool,
    suspended: bool,
    provisional: bool,
    done: String,
    outcome: String,
}

struct ItemView {
    line: i32,
    /// HWxx.
    category: String,
    code: String,
    name: String,
    hazards: String,
    quantity_kg: String,
    shipped_kg: String,
}

/// A matched whitelist entry with its use before and after this application.
struct EntryView {
    id: String,
    scope: String,
    quota_kg: String,
    quota: f64,
    before: f64,
    after: f64,
    before_kg: String,
    after_kg: String,
    status: String,
}

struct EventView {
    at: String,
    kind: String,
    actor: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "application.html")]
struct ApplicationPage {
    chrome: Chrome,
    lang: Lang,
    a: ApplicationDto,
    producer: String,
    operator: String,
    source: String,
    receiving: String,
    total_kg: String,
    filed_at: String,
    steps: Vec<StepView>,
    items: Vec<ItemView>,
    entries: Vec<EntryView>,
    events: Vec<EventView>,
    actions: Vec<ActionView>,
    checklist: Vec<&'static str>,
    flash_done: bool,
    flash_conflict: bool,
    /// Today (Asia/Shanghai), the default date of a letter.
    today: String,
}

/// The correction checklist: the usual problems, each ticked or not, plus free text.
const CHECKLIST_ZH: &[&str] = &[
    "危险废物经营许可证复印件缺失或已过期",
    "废物代码、名称与产废环节不符",
    "申请数量与危险废物管理台账不符",
    "运输单位道路运输经营许可证材料不全",
    "包装方式或规格描述不清",
    "突发环境事件应急预案未附",
];
const CHECKLIST_EN: &[&str] = &[
    "Operator's licence copy missing or expired",
    "Waste code or name does not match the process",
    "Quantity does not match the hazardous-waste ledger",
    "Carrier's road transport permit documents incomplete",
    "Packaging unclear",
    "Emergency response plan not attached",
];

fn grams(kg: &str) -> i64 {
    Quantity::parse_kg(kg).map(Quantity::grams).unwrap_or(0)
}

pub async fn application(
    state: web::Data<AppState>,
    u: UiUser,
    req: HttpRequest,
    path: web::Path<String>,
) -> UiResult<HttpResponse> {
    let lang = u.lang;
    let q: HashMap<String, String> = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let dto = apps::case_dto(&state, &u.who, path.into_inner())
        .await
        .map_err(api(lang))?;
    let names = names(&state, vec![dto.enterprise_id.clone()], vec![dto.operator_id.clone()]).await?;

    // Matched entries: this case's own quantity per entry, and the entry's use now.
    let mut per_entry: Vec<(String, i64)> = Vec::new();
    for i in &dto.items {
        if let Some(e) = &i.entry_id {
            match per_entry.iter_mut().find(|(id, _)| id == e) {
                Some((_, g)) => *g += grams(&i.quantity_kg),
                None => per_entry.push((e.clone(), grams(&i.quantity_kg))),
            }
        }
    }
    // While open or approved, the case's quantity is already in the entry's reserved or approved.
    let counted = Status::parse(&dto.status).is_ok_and(|s| s.is_open() || s == Status::Approved);
    let ids: Vec<String> = per_entry.iter().map(|(id, _)| id.clone()).collect();
    let app_id = dto.id.clone();
    let (entry_rows, events) = state
        .db
        .run(move |conn| {
            let mut rows = Vec::new();
            for id in ids {
                if let Some(r) = db::whitelist::entry_by_id(conn, &id)? {
                    rows.push(r);
                }
            }
            Ok((rows, db::applications::events(conn, &app_id)?))
        })
        .await
        .map_err(|e| UiError::Api(e.into(), lang))?;
    let entries = entry_rows
        .into_iter()
        .map(|r| {
            let mine = per_entry
                .iter()
                .find(|(id, _)| *id == r.id)
                .map(|(_, g)| *g)
                .unwrap_or(0);
            let used = r.reserved_g + r.approved_g;
            let (before, after) = if counted {
                (used - mine, used)
            } else {
                (used, used + mine)
            };
            EntryView {
                scope: r.scope.clone(),
                quota_kg: grams_to_kg_string(r.quota_g),
                quota: r.quota_g as f64 / 1000.0,
                before: before as f64 / 1000.0,
                after: after as f64 / 1000.0,
                before_kg: grams_to_kg_string(before),
                after_kg: grams_to_kg_string(after),
                status: lang.value(&r.status),
                id: r.id,
            }
        })
        .collect();
    let steps = dto
        .steps
        .iter()
        .map(|s| StepView {
            kind: lang.value(&s.kind),
            side: lang.value(&s.side),
            started_on: s.started_on.clone(),
            working_days: s.working_days,
            due: local_time(&s.due_at),
            wd_left: s.working_days_left.map(|d| d.to_string()).unwrap_or_default(),
            overdue: s.overdue,
            awaiting_notice: s.awaiting_notice,
            suspended: s.suspended,
            provisional: s.provisional,
            done: s.completed_at.as_deref().map(local_time).unwrap_or_default(),
            outcome: s.outcome.as_deref().map(|o| lang.value(o)).unwrap_or_default(),
        })
        .collect();
    let items = dto
        .items
        .iter()
        .map(|i| ItemView {
            line: i.line,
            category: i.category.clone(),
            code: i.waste_code.clone(),
            name: i.waste_name.clone(),
            hazards: i.hazards.join("/"),
            quantity_kg: i.quantity_kg.clone(),
            shipped_kg: i.shipped_kg.clone(),
        })
        .collect();
    let events = events
        .into_iter()
        .map(|e| EventView {
            at: local_time(&e.at.and_utc().to_rfc3339()),
            kind: lang.value(&e.kind),
            actor: e.actor,
            detail: e.detail,
        })
        .collect();
    let page = ApplicationPage {
        chrome: Chrome::new(&u, &req, "/ui/queue"),
        lang,
        producer: names
            .get(&dto.enterprise_id)
            .cloned()
            .unwrap_or_else(|| dto.enterprise_id.clone()),
        operator: names
            .get(&dto.operator_id)
            .cloned()
            .unwrap_or_else(|| dto.operator_id.clone()),
        source: province_name(lang, &dto.source_province),
        receiving: province_name(lang, &dto.receiving_province),
        total_kg: total_kg(&dto),
        filed_at: local_time(&dto.received_at),
        steps,
        items,
        entries,
        events,
        actions: actions_for(&u.who, &dto, lang),
        checklist: match lang {
            Lang::Zh => CHECKLIST_ZH.to_vec(),
            Lang::En => CHECKLIST_EN.to_vec(),
        },
        flash_done: q.contains_key("done"),
        flash_conflict: q.contains_key("conflict"),
        today: crate::domain::calendar::shanghai_date(chrono::Utc::now()).to_string(),
        a: dto,
    };
    Ok(render(lang, &page))
}

/// One action from the application page. A decision someone else took first comes back as the
/// page with a plain notice; every other refusal is an error page that says why.
pub async fn act(
    state: web::Data<AppState>,
    u: UiUser,
    path: web::Path<String>,
    body: web::Bytes,
) -> UiResult<HttpResponse> {
    let lang = u.lang;
    let form = Form::checked(&u, &body)?;
    let id = path.into_inner();
    let expected = form.get("version").and_then(|v| v.parse::<i32>().ok());
    let side = |f: &Form| Side::parse(f.get("side").unwrap_or_default());
    let invalid = |field: &str, message: &str| {
        UiError::Api(
            ApiError::Validation(vec![crate::api::error::FieldProblem::new(
                crate::api::error::Location::Body,
                format!("/{field}"),
                "ui.invalid",
                message,
            )]),
            lang,
        )
    };
    // The form is read into the same command the API builds; its texts, and that a decision
    // names the version shown, are checked once, in the core (`workflow::take_step`).
    let act = match form.get("action").unwrap_or_default() {
        "accept" => Act::Accept,
        "correction" => {
            let mut problems = form.all("problem");
            problems.extend(form.lines("other"));
            Act::RequestCorrection { problems }
        }
        "suspend_clock" => Act::SuspendClock {
            reason: form.get("reason").unwrap_or_default().to_string(),
        },
        "resume_clock" => Act::ResumeClock,
        "reroute" => Act::Reroute {
            reason: form.get("reason").unwrap_or_default().to_string(),
        },
        "revoke" => Act::Revoke {
            reasons: form.lines("reasons"),
        },
        "refuse_acceptance" => Act::RefuseAcceptance {
            reasons: form.lines("reasons"),
        },
        "decide" => {
            let side = side(&form).map_err(|i| invalid("side", &i.message))?;
            let approve = match form.get("outcome") {
                Some("approve") => true,
                Some("refuse") => false,
                _ => return Err(invalid("outcome", "outcome must be approve or refuse")),
            };
            let letter = match (form.get("letter_number"), form.get("letter_date")) {
                (None | Some(""), None | Some("")) => None,
                (n, d) => Some(crate::domain::workflow::LetterText {
                    number: n.unwrap_or_default().to_string(),
                    date: d.unwrap_or_default().to_string(),
                }),
            };
            Act::Decide {
                side,
                approve,
                reasons: form.lines("reasons"),
                conditions: form.lines("conditions"),
                letter,
            }
        }
        _ => return Err(invalid("action", "unknown action")),
    };
    let target = format!(
        "/ui/applications/{}",
        percent_encoding::utf8_percent_encode(&id, percent_encoding::NON_ALPHANUMERIC)
    );
    match workflow::take_step(&state, &Ctx::new(u.who.clone()), id, expected, act).await {
        Ok(_) => Ok(see_other(&format!("{target}?done=1"))),
        // Someone acted first: the version moved on, or the step is no longer open.
        Err(service::Error::Stale { .. } | service::Error::Conflict(_)) => {
            Ok(see_other(&format!("{target}?conflict=1")))
        }
        Err(e) => Err(UiError::Api(e.into(), lang)),
    }
}

// ---------------------------------------------------------------------------------------------
// Certificate and public verification

/// The public verification address printed in the QR code: under `HWT_PUBLIC_URL` when set,
/// else under the address of this request.
fn verify_url(public_url: Option<&str>, req: &HttpRequest, number: &str) -> String {
    let number = percent_encoding::utf8_percent_encode(number, percent_encoding::NON_ALPHANUMERIC);
    match public_url {
        Some(base) => format!("{base}/verify/{number}"),
        None => {
            let info = req.connection_info();
            format!("{}://{}/verify/{number}", info.scheme(), info.host())
        }
    }
}

fn qr_svg(text: &str) -> String {
    match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(160, 160)
            .quiet_zone(true)
            .build(),
        Err(_) => String::new(),
    }
}

#[derive(Template)]
#[template(path = "certificate.html")]
struct CertificatePage {
    chrome: Chrome,
    lang: Lang,
    a: ApplicationDto,
    number: String,
    approved_at: String,
    valid_until: String,
    /// 撤销: the day the approval was revoked, and why (empty unless revoked).
    revoked_on: String,
    revocation_reasons: Vec<String>,
    producer: String,
    operator: String,
    source: String,
    receiving: String,
    items: Vec<ItemView>,
    url: String,
    qr: String,
    /// 利用 / 处置 / 贮存.
    method: String,
    /// The conditions the provinces attached to their approvals (第27条).
    conditions: Vec<String>,
}

/// The Shanghai date an approval was revoked on, or empty.
fn revoked_on(dto: &ApplicationDto) -> String {
    dto.approval
        .as_ref()
        .and_then(|a| a.revoked_at.as_deref())
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| crate::domain::calendar::shanghai_date(t.with_timezone(&chrono::Utc)).to_string())
        .unwrap_or_default()
}

pub async fn certificate(
    state: web::Data<AppState>,
    u: UiUser,
    req: HttpRequest,
    path: web::Path<String>,
) -> UiResult<HttpResponse> {
    let lang = u.lang;
    let dto = apps::case_dto(&state, &u.who, path.into_inner())
        .await
        .map_err(api(lang))?;
    let Some(approval) = &dto.approval else {
        return Err(UiError::Api(
            ApiError::Conflict("the application has no approval yet".into()),
            lang,
        ));
    };
    let names = names(&state, vec![dto.enterprise_id.clone()], vec![dto.operator_id.clone()]).await?;
    let url = verify_url(state.config.public_url.as_deref(), &req, &approval.number);
    let page = CertificatePage {
        chrome: Chrome::new(&u, &req, "/ui/queue"),
        lang,
        number: approval.number.clone(),
        approved_at: local_time(&approval.approved_at),
        valid_until: approval.valid_until.clone(),
        revoked_on: revoked_on(&dto),
        revocation_reasons: approval.revocation_reasons.clone(),
        producer: names.get(&dto.enterprise_id).cloned().unwrap_or_default(),
        operator: names.get(&dto.operator_id).cloned().unwrap_or_default(),
        source: province_name(lang, &dto.source_province),
        receiving: province_name(lang, &dto.receiving_province),
        items: dto
            .items
            .iter()
            .map(|i| ItemView {
                line: i.line,
                category: i.category.clone(),
                code: i.waste_code.clone(),
                name: i.waste_name.clone(),
                hazards: i.hazards.join("/"),
                quantity_kg: i.quantity_kg.clone(),
                shipped_kg: i.shipped_kg.clone(),
            })
            .collect(),
        qr: qr_svg(&url),
        url,
        method: lang.value(&dto.method),
        conditions: dto
            .decisions
            .iter()
            .filter(|d| d.outcome == "approve")
            .flat_map(|d| d.conditions.iter().cloned())
            .collect(),
        a: dto,
    };
    Ok(render(lang, &page))
}

#[derive(Template)]
#[template(path = "refusal.html")]
struct RefusalPage {
    chrome: Chrome,
    lang: Lang,
    a: ApplicationDto,
    producer: String,
    operator: String,
    source: String,
    receiving: String,
    /// 不予许可决定书 or 不予受理决定书.
    title: &'static str,
}

/// The source province's refusal as its decision document (不予许可 or 不予受理): number,
/// reasons, the receiving province's opinion it rests on, and the applicant's remedies.
pub async fn refusal(
    state: web::Data<AppState>,
    u: UiUser,
    req: HttpRequest,
    path: web::Path<String>,
) -> UiResult<HttpResponse> {
    let lang = u.lang;
    let dto = apps::case_dto(&state, &u.who, path.into_inner())
        .await
        .map_err(api(lang))?;
    let Some(refusal) = &dto.refusal else {
        return Err(UiError::Api(
            ApiError::Conflict("the application was not refused".into()),
            lang,
        ));
    };
    let title = if refusal.kind == "not_accepted" {
        lang.t("doc_not_accepted")
    } else {
        lang.t("doc_not_permitted")
    };
    let names = names(&state, vec![dto.enterprise_id.clone()], vec![dto.operator_id.clone()]).await?;
    let page = RefusalPage {
        chrome: Chrome::new(&u, &req, "/ui/queue"),
        lang,
        producer: names.get(&dto.enterprise_id).cloned().unwrap_or_default(),
        operator: names.get(&dto.operator_id).cloned().unwrap_or_default(),
        source: province_name(lang, &dto.source_province),
        receiving: province_name(lang, &dto.receiving_province),
        title,
        a: dto,
    };
    Ok(render(lang, &page))
}

struct VerifyItem {
    code: String,
    name: String,
    approved_kg: String,
    available_kg: String,
}

#[derive(Template)]
#[template(path = "verify.html")]
struct VerifyPage {
    lang: Lang,
    other_lang: (&'static str, &'static str),
    number: String,
    found: bool,
    valid: bool,
    status: String,
    valid_until: String,
    /// 撤销: the day the approval was revoked (empty unless revoked).
    revoked_on: String,
    producer: String,
    operator: String,
    source: String,
    receiving: String,
    items: Vec<VerifyItem>,
}

/// The public verification of an approval number: validity, parties, codes, quantities and what
/// is still available. No login, and nothing more than that.
pub async fn verify(state: web::Data<AppState>, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let lang = lang_of(&req);
    let number = path.into_inner();
    if number.chars().count() > 64 {
        return error_page(lang, StatusCode::NOT_FOUND, lang.t("not_found_approval"), vec![]);
    }
    let cal = match state.calendar().await {
        Ok(c) => c,
        Err(e) => return UiError::Api(e.into(), lang).error_response_owned(),
    };
    let n = number.clone();
    let found = state
        .db
        .run(move |conn| {
            let Some(app) = db::applications::app_by_approval_number(conn, &n)? else {
                return Ok(None);
            };
            let producer = db::registry::enterprise_by_id(conn, &app.enterprise_id)?.map(|e| e.name);
            let operator = db::registry::operator_by_id(conn, &app.operator_id)?.map(|o| o.name);
            let dto = apps::load_dto(conn, &cal, app, Utc::now())?;
            Ok(Some((dto, producer.unwrap_or_default(), operator.unwrap_or_default())))
        })
        .await;
    let found = match found {
        Ok(f) => f,
        Err(e) => return UiError::Api(e.into(), lang).error_response_owned(),
    };
    let today = shanghai_date(Utc::now());
    let page = match found {
        None => VerifyPage {
            lang,
            other_lang: lang.other(),
            number,
            found: false,
            valid: false,
            status: String::new(),
            valid_until: String::new(),
            revoked_on: String::new(),
            producer: String::new(),
            operator: String::new(),
            source: String::new(),
            receiving: String::new(),
            items: Vec::new(),
        },
        Some((dto, producer, operator)) => {
            let valid_until = dto.approval.as_ref().map(|a| a.valid_until.clone()).unwrap_or_default();
            let in_time = NaiveDate::parse_from_str(&valid_until, "%Y-%m-%d").is_ok_and(|d| d >= today);
            VerifyPage {
                lang,
                other_lang: lang.other(),
                number,
                found: true,
                valid: dto.status == "approved" && in_time,
                status: lang.value(&dto.status),
                revoked_on: revoked_on(&dto),
                valid_until,
                producer,
                operator,
                source: province_name(lang, &dto.source_province),
                receiving: province_name(lang, &dto.receiving_province),
                items: dto
                    .items
                    .iter()
                    .map(|i| VerifyItem {
                        code: i.waste_code.clone(),
                        name: i.waste_name.clone(),
                        approved_kg: i.quantity_kg.clone(),
                        available_kg: grams_to_kg_string((grams(&i.quantity_kg) - grams(&i.shipped_kg)).max(0)),
                    })
                    .collect(),
            }
        }
    };
    let status = if page.found {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    render_status(lang, status, &page)
}

// ---------------------------------------------------------------------------------------------
// Whitelist

struct EntryRowView {
    id: String,
    version: i32,
    year: i32,
    operator: String,
    pair: String,
    scope: String,
    quota_kg: String,
    used_kg: String,
    remaining_kg: String,
    quota: f64,
    used: f64,
    status: String,
    can_confirm: bool,
    can_suspend: bool,
    can_reinstate: bool,
}

#[derive(Template)]
#[template(path = "whitelist.html")]
struct WhitelistPage {
    chrome: Chrome,
    lang: Lang,
    rows: Vec<EntryRowView>,
    year: String,
    source_province: String,
    status: String,
    statuses: Vec<(String, String)>,
    next: Option<String>,
    provinces: Vec<(String, String)>,
    flash_done: bool,
    flash_conflict: bool,
    can_propose: bool,
}

pub async fn whitelist(state: web::Data<AppState>, u: UiUser, req: HttpRequest) -> UiResult<HttpResponse> {
    let lang = u.lang;
    // The page takes the API's parameters, plus its own notices, which it strips first.
    let mut pairs: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let flash_done = pairs.iter().any(|(k, _)| k == "done");
    let flash_conflict = pairs.iter().any(|(k, _)| k == "conflict");
    pairs.retain(|(k, v)| k != "done" && k != "conflict" && !v.is_empty());
    let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
    let page = whitelist::entries_page(&state, &u.who, &query)
        .await
        .map_err(api(lang))?;
    let names = names(
        &state,
        Vec::new(),
        page.items.iter().map(|e| e.operator_id.clone()).collect(),
    )
    .await?;
    let is_regulator = u.who.role == Role::Regulator;
    let rows = page
        .items
        .iter()
        .map(|e| {
            let used = grams(&e.reserved_kg) + grams(&e.approved_kg);
            // The actions offered are the service's own rule (permission and lifecycle).
            let view = entries::EntryView {
                source_province: &e.source_province,
                receiving_province: &e.receiving_province,
                operator_id: &e.operator_id,
                proposed_by_province: &e.proposed_by_province,
                enterprise_province: None,
            };
            let open = EntryStatus::parse(&e.status)
                .map(|status| entries::open_actions(&u.who, &view, status))
                .unwrap_or_default();
            EntryRowView {
                id: e.id.clone(),
                version: e.version,
                year: e.year,
                operator: names
                    .get(&e.operator_id)
                    .cloned()
                    .unwrap_or_else(|| e.operator_id.clone()),
                pair: format!(
                    "{} → {}",
                    province_name(lang, &e.source_province),
                    province_name(lang, &e.receiving_province)
                ),
                scope: e.scope.clone(),
                quota_kg: e.quota_kg.clone(),
                used_kg: grams_to_kg_string(used),
                remaining_kg: e.remaining_kg.clone(),
                quota: grams(&e.quota_kg) as f64 / 1000.0,
                used: used as f64 / 1000.0,
                status: lang.value(&e.status),
                can_confirm: open.contains(&EntryAction::Confirm),
                can_suspend: open.contains(&EntryAction::Suspend),
                can_reinstate: open.contains(&EntryAction::Reinstate),
            }
        })
        .collect();
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let next = page.next_cursor.map(|c| {
        let mut p: Vec<(String, String)> = pairs.iter().filter(|(k, _)| k != "cursor").cloned().collect();
        p.push(("cursor".into(), c));
        format!("/ui/whitelist?{}", serde_urlencoded::to_string(p).unwrap_or_default())
    });
    let provinces = crate::domain::province::provinces()
        .iter()
        .map(|p| {
            (
                p.code.as_str(),
                match lang {
                    Lang::Zh => p.name_zh.clone(),
                    Lang::En => p.name_en.clone(),
                },
            )
        })
        .collect();
    let view = WhitelistPage {
        chrome: Chrome::new(&u, &req, "/ui/whitelist"),
        lang,
        rows,
        year: get("year"),
        source_province: get("source_province"),
        status: get("status"),
        statuses: ["proposed", "confirmed", "suspended", "expired"]
            .iter()
            .map(|s| (s.to_string(), lang.value(s)))
            .collect(),
        next,
        provinces,
        flash_done,
        flash_conflict,
        can_propose: is_regulator,
    };
    Ok(render(lang, &view))
}

pub async fn whitelist_change(
    state: web::Data<AppState>,
    u: UiUser,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> UiResult<HttpResponse> {
    let lang = u.lang;
    let form = Form::checked(&u, &body)?;
    let (id, action) = path.into_inner();
    let action = match action.as_str() {
        "confirm" => EntryAction::Confirm,
        "suspend" => EntryAction::Suspend,
        "reinstate" => EntryAction::Reinstate,
        _ => return Err(UiError::Api(ApiError::NotFound, lang)),
    };
    let reason = form.get("reason").map(str::to_string);
    // The page always sends the version it showed; a form without one is refused like a stale one.
    let version = form.get("version").and_then(|v| v.trim().parse::<i32>().ok());
    if version.is_none() {
        return Err(UiError::Api(
            ApiError::PreconditionRequired("the form did not say which version of the entry it shows".into()),
            lang,
        ));
    }
    let back = form
        .get("back")
        .and_then(|b| safe_next(Some(b)))
        .unwrap_or_else(|| "/ui/whitelist".into());
    let sep = if back.contains('?') { '&' } else { '?' };
    let ctx = Ctx::new(u.who.clone());
    match entries::change(&state, &ctx, id, version, action, reason).await {
        Ok(_) => Ok(see_other(&format!("{back}{sep}done=1"))),
        Err(service::Error::Stale { .. } | service::Error::Conflict(_)) => {
            Ok(see_other(&format!("{back}{sep}conflict=1")))
        }
        Err(e) => Err(UiError::Api(e.into(), lang)),
    }
}

// ---------------------------------------------------------------------------------------------
// Calendar

struct DayView {
    date: String,
    weekday: String,
    kind: String,
    holiday: bool,
    name: String,
}

#[derive(Template)]
#[template(path = "calendar.html")]
struct CalendarPage {
    chrome: Chrome,
    lang: Lang,
    year: i32,
    found: bool,
    source: String,
    imported_at: String,
    days: Vec<DayView>,
    years: Vec<i32>,
    is_admin: bool,
    form: CalendarForm,
}

pub async fn calendar(state: web::Data<AppState>, u: UiUser, req: HttpRequest) -> UiResult<HttpResponse> {
    let this_year = shanghai_date(Utc::now()).year();
    let q: HashMap<String, String> = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let year = q
        .get("year")
        .and_then(|y| y.parse::<i32>().ok())
        .filter(|y| (2000..=2100).contains(y))
        .unwrap_or(this_year);
    let form = CalendarForm {
        done: q.contains_key("done"),
        ..CalendarForm::default()
    };
    calendar_page(&state, &u, &req, year, form, StatusCode::OK).await
}

/// The calendar of a year, with the admin's import form (and what it last sent, when refused).
pub(super) async fn calendar_page(
    state: &AppState,
    u: &UiUser,
    req: &HttpRequest,
    year: i32,
    form: CalendarForm,
    status: StatusCode,
) -> UiResult<HttpResponse> {
    let lang = u.lang;
    let this_year = shanghai_date(Utc::now()).year();
    let (found, source, imported_at, days) = match crate::service::calendar::year(state, year).await {
        Ok(y) => (
            true,
            y.source,
            local_time(&y.imported_at),
            y.days
                .into_iter()
                .map(|d| {
                    let weekday = NaiveDate::parse_from_str(&d.date, "%Y-%m-%d")
                        .map(|x| weekday_name(lang, x.weekday()))
                        .unwrap_or_default();
                    DayView {
                        holiday: d.kind == "holiday",
                        kind: lang.t(&d.kind).to_string(),
                        name: match lang {
                            Lang::Zh => d.name_zh,
                            Lang::En => d.name_en,
                        },
                        weekday,
                        date: d.date,
                    }
                })
                .collect(),
        ),
        Err(crate::service::Error::Hidden) => (false, String::new(), String::new(), Vec::new()),
        Err(e) => return Err(UiError::Api(e.into(), lang)),
    };
    let page = CalendarPage {
        chrome: Chrome::new(u, req, "/ui/calendar"),
        lang,
        year,
        found,
        source,
        imported_at,
        days,
        years: (this_year - 3..=this_year + 2).collect(),
        is_admin: u.who.role == Role::Admin,
        form,
    };
    Ok(render_status(lang, status, &page))
}

// ---------------------------------------------------------------------------------------------
// Catalogue editions

#[derive(Template)]
#[template(path = "catalogue.html")]
struct CataloguePage {
    chrome: Chrome,
    lang: Lang,
    editions: Vec<crate::service::catalogue::EditionDto>,
    is_admin: bool,
    form: super::forms::CatalogueForm,
}

pub async fn catalogue(state: web::Data<AppState>, u: UiUser, req: HttpRequest) -> UiResult<HttpResponse> {
    let q: HashMap<String, String> = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let form = super::forms::CatalogueForm {
        done: q.contains_key("done"),
        ..Default::default()
    };
    catalogue_page(&state, &u, &req, form, StatusCode::OK).await
}

/// The loaded editions, with the admin's import form (and what it last sent, when refused).
pub(super) async fn catalogue_page(
    state: &AppState,
    u: &UiUser,
    req: &HttpRequest,
    form: super::forms::CatalogueForm,
    status: StatusCode,
) -> UiResult<HttpResponse> {
    let lang = u.lang;
    let editions = crate::service::catalogue::list_editions(state, shanghai_date(Utc::now()))
        .await
        .map_err(|e| UiError::Api(e.into(), lang))?;
    let page = CataloguePage {
        chrome: Chrome::new(u, req, "/ui/catalogue"),
        lang,
        editions,
        is_admin: u.who.role == Role::Admin,
        form,
    };
    Ok(render_status(lang, status, &page))
}

fn weekday_name(lang: Lang, d: chrono::Weekday) -> String {
    let i = d.num_days_from_monday() as usize;
    match lang {
        Lang::Zh => ["周一", "周二", "周三", "周四", "周五", "周六", "周日"][i].to_string(),
        Lang::En => ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][i].to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// History, audit chain, annual reconciliation

struct TransferView {
    id: String,
    filed: String,
    producer: String,
    operator: String,
    pair: String,
    route: String,
    status: String,
    approval_number: String,
    codes: String,
    requested_kg: String,
    approved_kg: String,
    shipped_kg: String,
    received_kg: String,
}

#[derive(Template)]
#[template(path = "history.html")]
struct HistoryPage {
    chrome: Chrome,
    lang: Lang,
    rows: Vec<TransferView>,
    totals: Option<history::TotalsDto>,
    f: HashMap<String, String>,
    export: String,
    next: Option<String>,
    statuses: Vec<(String, String)>,
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

impl HistoryPage {
    /// A filter's current value, for the form.
    fn v(&self, name: &str) -> &str {
        self.f.get(name).map(String::as_str).unwrap_or_default()
    }
}

pub async fn history(state: web::Data<AppState>, u: UiUser, req: HttpRequest) -> UiResult<HttpResponse> {
    let lang = u.lang;
    let (pairs, clean) = non_empty_query(&req);
    let page = match history::search_transfers(state.clone(), &u.who, &clean, false)
        .await
        .map_err(api(lang))?
    {
        history::Transfers::Page(p) => p,
        history::Transfers::Csv(_) => return Err(UiError::Api(ApiError::NotFound, lang)),
    };
    let rows = page
        .items
        .into_iter()
        .map(|t| TransferView {
            filed: local_time(&t.filed_at),
            producer: t.producer_name,
            operator: t.operator_name,
            pair: format!(
                "{} → {}",
                province_name(lang, &t.source_province),
                province_name(lang, &t.receiving_province)
            ),
            route: lang.value(&t.route),
            status: lang.value(&t.status),
            approval_number: t.approval_number.unwrap_or_default(),
            codes: t.waste_codes.join(" "),
            requested_kg: t.requested_kg,
            approved_kg: t.approved_kg,
            shipped_kg: t.shipped_kg,
            received_kg: t.received_kg,
            id: t.application_id,
        })
        .collect();
    let without_cursor: Vec<(String, String)> = pairs.iter().filter(|(k, _)| k != "cursor").cloned().collect();
    let export = format!(
        "/ui/history/export?{}",
        serde_urlencoded::to_string(
            without_cursor
                .iter()
                .filter(|(k, _)| k != "limit" && k != "totals")
                .collect::<Vec<_>>()
        )
        .unwrap_or_default()
    );
    let next = page.next_cursor.map(|c| {
        let mut p = without_cursor.clone();
        p.push(("cursor".into(), c));
        format!("/ui/history?{}", serde_urlencoded::to_string(p).unwrap_or_default())
    });
    let view = HistoryPage {
        chrome: Chrome::new(&u, &req, "/ui/history"),
        lang,
        rows,
        totals: page.totals,
        f: pairs.into_iter().collect(),
        export,
        next,
        statuses: Status::ALL
            .iter()
            .filter(|s| **s != Status::Accepted)
            .map(|s| (s.as_str().to_string(), lang.value(s.as_str())))
            .collect(),
    };
    Ok(render(lang, &view))
}

pub async fn history_export(state: web::Data<AppState>, u: UiUser, req: HttpRequest) -> UiResult<HttpResponse> {
    let lang = u.lang;
    let (_, clean) = non_empty_query(&req);
    match history::search_transfers(state, &u.who, &clean, true)
        .await
        .map_err(api(lang))?
    {
        history::Transfers::Csv(res) => Ok(res),
        history::Transfers::Page(_) => Err(UiError::Api(ApiError::NotFound, lang)),
    }
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    chrome: Chrome,
    lang: Lang,
    v: crate::db::audit::Verification,
}

pub async fn audit(state: web::Data<AppState>, u: UiUser, req: HttpRequest) -> UiResult<HttpResponse> {
    let lang = u.lang;
    let v = service::audit::verify_chain(&state, &Ctx::new(u.who.clone()))
        .await
        .map_err(|e| UiError::Api(e.into(), lang))?;
    Ok(render(
        lang,
        &AuditPage {
            chrome: Chrome::new(&u, &req, "/ui/audit"),
            lang,
            v,
        },
    ))
}

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

// ---------------------------------------------------------------------------------------------
// Dashboard

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    lang: Lang,
    tonnage: String,
    on_time: String,
    utilisation: String,
    year: i32,
}

/// The dashboard's figures as Chart.js specs (JSON in a data attribute; askama escapes it).
pub async fn dashboard(state: web::Data<AppState>, u: UiUser, req: HttpRequest) -> UiResult<HttpResponse> {
    let lang = u.lang;
    let province = match (&u.who.role, &u.who.binding) {
        (Role::Admin, _) | (Role::Auditor, Binding::Nationwide) => None,
        (Role::Regulator | Role::Auditor, Binding::Province(p)) => Some(p.as_str()),
        _ => {
            return Err(UiError::Api(
                ApiError::Forbidden("the dashboard is for regulators, auditors and admins".into()),
                lang,
            ));
        }
    };
    let now = Utc::now();
    let since = to_db_time(now - Duration::days(366));
    let year = shanghai_date(now).year();
    let p = province.clone();
    let (tonnage, on_time, utilisation) = state
        .db
        .run(move |conn| {
            Ok((
                db::dashboard::monthly_tonnage(conn, since, p.as_deref())?,
                db::dashboard::on_time(conn, since, p.as_deref())?,
                db::dashboard::utilisation(conn, year, p.as_deref())?,
            ))
        })
        .await
        .map_err(|e| UiError::Api(e.into(), lang))?;

    let mut months: Vec<String> = tonnage.iter().map(|t| t.month.clone()).collect();
    months.sort();
    months.dedup();
    let mut pairs: Vec<(String, String)> = tonnage
        .iter()
        .map(|t| (t.source.clone(), t.receiving.clone()))
        .collect();
    pairs.sort();
    pairs.dedup();
    let datasets: Vec<serde_json::Value> = pairs
        .iter()
        .map(|(s, r)| {
            let data: Vec<f64> = months
                .iter()
                .map(|m| {
                    tonnage
                        .iter()
                        .filter(|t| &t.source == s && &t.receiving == r && &t.month == m)
                        .map(|t| t.grams as f64 / 1_000_000.0)
                        .sum()
                })
                .collect();
            serde_json::json!({
                "label": format!("{} → {}", province_name(lang, s), province_name(lang, r)),
                "data": data,
            })
        })
        .collect();
    let tonnage_spec = serde_json::json!({
        "type": "bar",
        "data": { "labels": months, "datasets": datasets },
        "options": { "scales": { "x": { "stacked": true }, "y": { "stacked": true } } },
    });
    let on_time_spec = serde_json::json!({
        "type": "bar",
        "data": {
            "labels": on_time.iter().map(|o| province_name(lang, &o.province)).collect::<Vec<_>>(),
            "datasets": [{
                "label": lang.t("on_time_rate"),
                "data": on_time.iter().map(|o| if o.completed == 0 { 0.0 } else { (o.on_time as f64 * 1000.0 / o.completed as f64).round() / 10.0 }).collect::<Vec<_>>(),
            }],
        },
        "options": { "scales": { "y": { "min": 0, "max": 100 } } },
    });
    let util_spec = serde_json::json!({
        "type": "bar",
        "data": {
            "labels": utilisation.iter().map(|x| x.operator_name.clone()).collect::<Vec<_>>(),
            "datasets": [{
                "label": lang.t("utilisation"),
                "data": utilisation.iter().map(|x| if x.quota_g == 0 { 0.0 } else { (x.used_g as f64 * 1000.0 / x.quota_g as f64).round() / 10.0 }).collect::<Vec<_>>(),
            }],
        },
        "options": { "indexAxis": "y", "scales": { "x": { "min": 0, "max": 100 } } },
    });
    let page = DashboardPage {
        chrome: Chrome::new(&u, &req, "/ui/dashboard"),
        lang,
        tonnage: tonnage_spec.to_string(),
        on_time: on_time_spec.to_string(),
        utilisation: util_spec.to_string(),
        year,
    };
    Ok(render(lang, &page))
}

// ---------------------------------------------------------------------------------------------
// Webhook subscriptions: an owner sees a disabled endpoint here

struct SubscriptionView {
    id: String,
    url: String,
    events: String,
    status: String,
    disabled: bool,
    disabled_at: String,
    disabled_reason: String,
    failing_since: String,
    pending: i64,
    failed: i64,
    delivered: i64,
}

#[derive(Template)]
#[template(path = "webhooks.html")]
struct WebhooksPage {
    chrome: Chrome,
    lang: Lang,
    subs: Vec<SubscriptionView>,
    flash_done: bool,
}

pub async fn webhooks(state: web::Data<AppState>, u: UiUser, req: HttpRequest) -> UiResult<HttpResponse> {
    let lang = u.lang;
    let list = webhooks::subscriptions_of(&state, &u.who).await.map_err(api(lang))?;
    let subs = list
        .items
        .into_iter()
        .map(|s| SubscriptionView {
            disabled: s.status == "disabled",
            status: lang.value(&s.status),
            disabled_at: s.disabled_at.as_deref().map(local_time).unwrap_or_default(),
            disabled_reason: s.disabled_reason.unwrap_or_default(),
            failing_since: s.failing_since.as_deref().map(local_time).unwrap_or_default(),
            pending: s.deliveries.pending,
            failed: s.deliveries.failed,
            delivered: s.deliveries.delivered,
            events: s.event_types.join(", "),
            url: s.url,
            id: s.id,
        })
        .collect();
    let page = WebhooksPage {
        chrome: Chrome::new(&u, &req, "/ui/webhooks"),
        lang,
        subs,
        flash_done: req.query_string().contains("done"),
    };
    Ok(render(lang, &page))
}

pub async fn webhook_enable(
    state: web::Data<AppState>,
    u: UiUser,
    path: web::Path<String>,
    body: web::Bytes,
) -> UiResult<HttpResponse> {
    let lang = u.lang;
    Form::checked(&u, &body)?;
    webhooks::enable(&state, &u.who, path.into_inner())
        .await
        .map_err(api(lang))?;
    Ok(see_other("/ui/webhooks?done=1"))
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
    fn the_verify_url_prefers_the_configured_public_address() {
        let req = actix_web::test::TestRequest::default()
            .insert_header(("host", "attacker.example"))
            .to_http_request();
        assert_eq!(
            verify_url(Some("https://hwt.example.gov.cn/zy"), &req, "渝危转2026-0001"),
            "https://hwt.example.gov.cn/zy/verify/%E6%B8%9D%E5%8D%B1%E8%BD%AC2026%2D0001"
        );
        assert_eq!(verify_url(None, &req, "A1"), "http://attacker.example/verify/A1");
    }

    #[test]
    fn form_fields_repeat_and_lines_split() {
        let f = Form::parse(b"problem=a&problem=b&problem=&other=x%0Ay%0A%0A&csrf=t");
        assert_eq!(f.all("problem"), vec!["a", "b"]);
        assert_eq!(f.lines("other"), vec!["x", "y"]);
        assert_eq!(f.get("csrf"), Some("t"));
        assert_eq!(f.get("missing"), None);
    }
}
