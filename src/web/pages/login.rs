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
    LANG_COOKIE, LOGIN_CSRF_COOKIE, SESSION_COOKIE, UiError, UiUser, constant_time_eq, expired_cookie, lang_of,
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
        .secure(crate::web::session::is_tls(req))
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
    // The second factor's code, for admins and regulators who enrolled one (service::sessions).
    let totp = form.get("totp").map(|c| c.trim().to_string()).filter(|c| !c.is_empty());
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
    match sessions::authenticate_with(&state, client, grant, totp).await {
        // A token that may only enrol a second factor opens no page of the UI.
        Ok(issued) if issued.scope == Some(crate::auth::token::ENROLMENT_SCOPE) => {
            let msg = lang.t("login_enrol_first").to_string();
            login_page(&req, StatusCode::FORBIDDEN, &username, &next, Some(msg))
        }
        Ok(sessions::Issued { token, .. }) => {
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
        Err(e) => UiError::Service(e, lang).error_response_owned(),
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
