//! A person's own account: changing the password (also when it expired, so without a session)
//! and the second factor's pages — enrolling one (the only pages a session that must still enrol
//! opens; confirming signs the person in), and turning it off. The same service functions as the
//! API's `auth/password` and `auth/second-factor*`.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::login::{begin_session, client_of, pre_session_csrf, pre_session_csrf_ok};
use super::{Chrome, Form, UiResult, failed, home_of, render_status, see_other};
use crate::service::passwords::{self, PasswordChangeInput};
use crate::service::second_factor::{self, ConfirmInput, DisableInput};
use crate::service::{self, Ctx, sessions};
use crate::state::AppState;
use crate::web::i18n::Lang;
use crate::web::session::{UiEnrolling, UiError, UiUser, csrf_for, lang_of};

// ---------------------------------------------------------------------------------------------
// The password

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    lang: Lang,
    csrf: String,
    username: String,
    error: Option<String>,
    problems: Vec<String>,
}

/// The password form (no session needed: it authenticates like the login does).
pub(super) fn password_page(
    req: &HttpRequest,
    status: StatusCode,
    username: &str,
    error: Option<String>,
    problems: Vec<String>,
) -> HttpResponse {
    let lang = lang_of(req);
    let (csrf, cookie) = pre_session_csrf(req, "/ui/password");
    let page = PasswordPage {
        lang,
        csrf,
        username: username.to_string(),
        error,
        problems,
    };
    let mut res = render_status(lang, status, &page);
    let _ = res.add_cookie(&cookie);
    res
}

pub async fn password_form(req: HttpRequest) -> HttpResponse {
    password_page(&req, StatusCode::OK, "", None, vec![])
}

/// A rule a new password broke, in the page's language.
fn rule_text(lang: Lang, code: &str, message: &str) -> String {
    let key = match code {
        "password.length" => "pw_length",
        "password.classes" => "pw_classes",
        "password.username" => "pw_username",
        "password.reused" => "pw_reused",
        _ => return message.to_string(),
    };
    lang.t(key).to_string()
}

pub async fn password_change(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let lang = lang_of(&req);
    let form = Form::parse(&body);
    if !pre_session_csrf_ok(&req, &form) {
        return UiError::Csrf(lang).error_response_owned();
    }
    let field = |name: &str| form.get(name).unwrap_or_default().to_string();
    let username = field("username").trim().to_string();
    let (new, again) = (field("new_password"), field("new_password_again"));
    if new != again {
        let problems = vec![lang.t("pw_mismatch").to_string()];
        return password_page(&req, StatusCode::UNPROCESSABLE_ENTITY, &username, None, problems);
    }
    let input = PasswordChangeInput {
        username: username.clone(),
        current_password: field("current_password"),
        totp: form.get("totp").map(|c| c.trim().to_string()).filter(|c| !c.is_empty()),
        new_password: new,
    };
    match passwords::change_own(&state, client_of(&state, &req), input).await {
        Ok(()) => see_other("/ui/login?changed=1"),
        Err(service::Error::Invalid(problems)) => {
            let problems = problems.iter().map(|p| rule_text(lang, &p.code, &p.message)).collect();
            password_page(&req, StatusCode::UNPROCESSABLE_ENTITY, &username, None, problems)
        }
        Err(service::Error::Unauthenticated(_)) => {
            let msg = lang.t("login_failed").to_string();
            password_page(&req, StatusCode::UNAUTHORIZED, &username, Some(msg), vec![])
        }
        Err(service::Error::TooManyRequests { retry_after_secs, .. }) => {
            let msg = format!(
                "{} {} {}",
                lang.t("login_locked"),
                lang.t("login_retry_in"),
                retry_after_secs.div_ceil(60)
            );
            let mut res = password_page(&req, StatusCode::TOO_MANY_REQUESTS, &username, Some(msg), vec![]);
            if let Ok(v) = header::HeaderValue::from_str(&retry_after_secs.to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
            res
        }
        Err(e) => UiError::Service(e, lang).error_response_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// The second factor

struct EnrolmentView {
    secret: String,
    uri: String,
    /// The URI as a QR code (SVG) for the app's camera.
    qr: String,
}

impl EnrolmentView {
    fn new(secret: String, uri: String) -> EnrolmentView {
        let qr = match qrcode::QrCode::new(uri.as_bytes()) {
            Ok(code) => code
                .render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(200, 200)
                .quiet_zone(true)
                .build(),
            Err(_) => String::new(),
        };
        EnrolmentView { secret, uri, qr }
    }
}

#[derive(Template)]
#[template(path = "second_factor.html")]
struct SecondFactorPage {
    chrome: Chrome,
    lang: Lang,
    /// The session may only enrol (no other page opens yet).
    limited: bool,
    enrolled: bool,
    /// A started enrolment: what to type into the app.
    enrolment: Option<EnrolmentView>,
    /// The recovery codes, shown once after confirming.
    codes: Vec<String>,
    home: &'static str,
    error: Option<String>,
    notice: Option<String>,
}

impl SecondFactorPage {
    fn new(u: &UiUser, req: &HttpRequest, enrolled: bool) -> SecondFactorPage {
        let mut chrome = Chrome::new(u, req, "/ui/second-factor");
        if u.limited {
            chrome.nav.clear();
        }
        SecondFactorPage {
            chrome,
            lang: u.lang,
            limited: u.limited,
            enrolled,
            enrolment: None,
            codes: Vec::new(),
            home: home_of(u.who.role),
            error: None,
            notice: None,
        }
    }
}

async fn enrolled(state: &AppState, u: &UiUser) -> UiResult<bool> {
    second_factor::enrolled(state, &Ctx::new(u.who.clone()))
        .await
        .map_err(failed(u.lang))
}

pub async fn second_factor_page(
    state: web::Data<AppState>,
    u: UiEnrolling,
    req: HttpRequest,
) -> UiResult<HttpResponse> {
    let u = u.0;
    let mut page = SecondFactorPage::new(&u, &req, enrolled(&state, &u).await?);
    if req.query_string().contains("done=disabled") {
        page.notice = Some(u.lang.t("sf_disabled").to_string());
    }
    Ok(render_status(u.lang, StatusCode::OK, &page))
}

pub async fn second_factor_start(
    state: web::Data<AppState>,
    u: UiEnrolling,
    req: HttpRequest,
    body: web::Bytes,
) -> UiResult<HttpResponse> {
    let u = u.0;
    Form::checked(&u, &body)?;
    match second_factor::enrol(&state, &Ctx::new(u.who.clone())).await {
        Ok(e) => {
            let mut page = SecondFactorPage::new(&u, &req, false);
            page.enrolment = Some(EnrolmentView::new(e.secret, e.otpauth_uri));
            Ok(render_status(u.lang, StatusCode::OK, &page))
        }
        Err(service::Error::Conflict(_)) => Ok(see_other("/ui/second-factor")),
        Err(e) => Err(failed(u.lang)(e)),
    }
}

pub async fn second_factor_confirm(
    state: web::Data<AppState>,
    u: UiEnrolling,
    req: HttpRequest,
    body: web::Bytes,
) -> UiResult<HttpResponse> {
    let u = u.0;
    let lang = u.lang;
    let form = Form::checked(&u, &body)?;
    let code = form.get("code").unwrap_or_default().trim().to_string();
    let ctx = Ctx::new(u.who.clone());
    match second_factor::confirm(&state, &ctx, ConfirmInput { code }).await {
        Ok(codes) => {
            let mut page = SecondFactorPage::new(&u, &req, true);
            page.codes = codes.recovery_codes;
            if !u.limited {
                return Ok(render_status(lang, StatusCode::OK, &page));
            }
            // The session could only enrol: now the person is signed in, in a new session.
            let token = sessions::sign_in_after_enrolment(&state, &ctx)
                .await
                .map_err(failed(lang))?;
            sessions::end_ui_session(&state, &u.jti).await.map_err(failed(lang))?;
            let (_, claims) = sessions::principal_from_token(&state, &token)
                .await
                .map_err(failed(lang))?;
            page.chrome.csrf = csrf_for(&claims.jti);
            page.chrome.nav.clear();
            page.limited = false;
            Ok(begin_session(&state, &req, &token, render_status(lang, StatusCode::OK, &page)).await)
        }
        Err(service::Error::Invalid(_)) => {
            // The same secret again, as the page showed it (the stored one is what counts).
            let mut page = SecondFactorPage::new(&u, &req, false);
            page.enrolment = Some(EnrolmentView::new(
                form.get("secret").unwrap_or_default().to_string(),
                form.get("uri").unwrap_or_default().to_string(),
            ));
            page.error = Some(lang.t("sf_wrong_code").to_string());
            Ok(render_status(lang, StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(service::Error::Conflict(_)) => Ok(see_other("/ui/second-factor")),
        Err(e) => Err(failed(lang)(e)),
    }
}

pub async fn second_factor_disable(
    state: web::Data<AppState>,
    u: UiUser,
    req: HttpRequest,
    body: web::Bytes,
) -> UiResult<HttpResponse> {
    let lang = u.lang;
    let form = Form::checked(&u, &body)?;
    let code = form.get("code").unwrap_or_default().trim().to_string();
    match second_factor::disable(&state, &Ctx::new(u.who.clone()), DisableInput { code }).await {
        Ok(()) => Ok(see_other("/ui/second-factor?done=disabled")),
        Err(service::Error::Invalid(_)) => {
            let mut page = SecondFactorPage::new(&u, &req, true);
            page.error = Some(lang.t("sf_wrong_code").to_string());
            Ok(render_status(lang, StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(service::Error::Conflict(_)) => Ok(see_other("/ui/second-factor")),
        Err(e) => Err(failed(lang)(e)),
    }
}
