//! Signing in and out, and the language switch.

use std::collections::HashMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::{Form, UiResult, home_of, render_status, safe_next, see_other};
use crate::auth::session::client_address;
use crate::service;
use crate::service::sessions::{self, Grant};
use crate::state::AppState;
use crate::web::i18n::Lang;
use crate::web::session::{
    LANG_COOKIE, LOGIN_CSRF_COOKIE, SESSION_COOKIE, UiEnrolling, UiError, constant_time_eq, expired_cookie, lang_of,
    session_cookie,
};

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
    /// Why the person is here again (a session that ended, a password changed).
    notice: Option<String>,
}

fn random_token() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // Without randomness the form cannot be protected; an empty token never matches.
        return String::new();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A form's CSRF token before there is a session: a random value kept in a cookie for `path`
/// and echoed by the form (double submit). Answers the token and its cookie.
pub(super) fn pre_session_csrf(req: &HttpRequest, path: &'static str) -> (String, actix_web::cookie::Cookie<'static>) {
    let csrf = random_token();
    let cookie = actix_web::cookie::Cookie::build(LOGIN_CSRF_COOKIE, csrf.clone())
        .path(path)
        .http_only(true)
        .secure(crate::web::session::is_tls(req))
        .same_site(actix_web::cookie::SameSite::Strict)
        .finish();
    (csrf, cookie)
}

/// Whether a form posted before there is a session echoes its CSRF cookie.
pub(super) fn pre_session_csrf_ok(req: &HttpRequest, form: &Form) -> bool {
    let expected = req.cookie(LOGIN_CSRF_COOKIE).map(|c| c.value().to_string());
    matches!((form.get("csrf"), expected.as_deref()),
        (Some(sent), Some(exp)) if !exp.is_empty() && constant_time_eq(sent.as_bytes(), exp.as_bytes()))
}

fn login_page(
    req: &HttpRequest,
    status: StatusCode,
    username: &str,
    next: &str,
    error: Option<String>,
) -> HttpResponse {
    login_page_with(req, status, username, next, error, None)
}

fn login_page_with(
    req: &HttpRequest,
    status: StatusCode,
    username: &str,
    next: &str,
    error: Option<String>,
    notice: Option<String>,
) -> HttpResponse {
    let lang = lang_of(req);
    let (csrf, cookie) = pre_session_csrf(req, "/ui/login");
    let page = LoginPage {
        lang,
        other_lang: lang.other(),
        csrf,
        next: next.to_string(),
        username: username.to_string(),
        error,
        notice,
    };
    let mut res = render_status(lang, status, &page);
    let _ = res.add_cookie(&cookie);
    res
}

/// The caller's address as the login throttle counts it.
pub(super) fn client_of(state: &AppState, req: &HttpRequest) -> String {
    let forwarded = req.headers().get_all("x-forwarded-for").filter_map(|v| v.to_str().ok());
    client_address(
        req.peer_addr().map(|a| a.ip()),
        forwarded,
        &state.config.trusted_proxies,
    )
}

pub async fn login_form(req: HttpRequest) -> HttpResponse {
    let lang = lang_of(&req);
    let q: HashMap<String, String> = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let next = safe_next(q.get("next").map(String::as_str)).unwrap_or_default();
    // A session that ended by itself says why; a changed password says so.
    let notice = match (q.get("ended").map(String::as_str), q.contains_key("changed")) {
        (Some("idle"), _) => Some(lang.t("session_idle").to_string()),
        (Some("absolute"), _) => Some(lang.t("session_absolute").to_string()),
        (_, true) => Some(lang.t("password_changed").to_string()),
        _ => None,
    };
    login_page_with(&req, StatusCode::OK, "", &next, None, notice)
}

/// The session cookie of `token` for a new UI session, on `res`.
pub(super) async fn begin_session(
    state: &AppState,
    req: &HttpRequest,
    token: &str,
    mut res: HttpResponse,
) -> HttpResponse {
    if let Err(e) = sessions::start_ui_session(state, token).await {
        return UiError::Service(e, lang_of(req)).error_response_owned();
    }
    let _ = res.add_cookie(&session_cookie(req, token, state.config.access_token_ttl_secs));
    let _ = res.add_removal_cookie(
        &actix_web::cookie::Cookie::build(LOGIN_CSRF_COOKIE, "")
            .path("/ui/login")
            .finish(),
    );
    res
}

pub async fn login(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let lang = lang_of(&req);
    let form = Form::parse(&body);
    let username = form.get("username").unwrap_or_default().trim().to_string();
    let password = form.get("password").unwrap_or_default().to_string();
    // The second factor's code, for admins and regulators who enrolled one (service::sessions).
    let totp = form.get("totp").map(|c| c.trim().to_string()).filter(|c| !c.is_empty());
    let next = safe_next(form.get("next")).unwrap_or_default();
    if !pre_session_csrf_ok(&req, &form) {
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
    let client = client_of(&state, &req);
    match sessions::authenticate_with(&state, client, grant, totp).await {
        // A token that may only enrol a second factor opens the enrolment pages only.
        Ok(issued) if issued.scope == Some(crate::auth::token::ENROLMENT_SCOPE) => {
            begin_session(&state, &req, &issued.token, see_other("/ui/second-factor")).await
        }
        Ok(sessions::Issued { token, .. }) => {
            let who = sessions::principal_from_token(&state, &token).await;
            let to = match (&who, next.is_empty()) {
                (_, false) => next,
                (Ok((p, _)), true) => home_of(p.role).to_string(),
                (Err(_), true) => "/ui/queue".to_string(),
            };
            begin_session(&state, &req, &token, see_other(&to)).await
        }
        // Every credential was right, but the password is too old: a new one first.
        Err(e) if crate::service::passwords::is_expired(&e) => super::account::password_page(
            &req,
            StatusCode::OK,
            &username,
            Some(lang.t("password_expired").to_string()),
            vec![],
        ),
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
        Err(e) => UiError::Service(e, lang).error_response_owned(),
    }
}

pub async fn logout(state: web::Data<AppState>, u: UiEnrolling, body: web::Bytes) -> UiResult<HttpResponse> {
    let u = u.0;
    Form::checked(&u, &body)?;
    // The session ends here for every replica: its cookie, if kept, opens nothing any more.
    sessions::end_ui_session(&state, &u.jti)
        .await
        .map_err(|e| UiError::Service(e, u.lang))?;
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
