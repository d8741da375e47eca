//! The UI session: an HttpOnly, SameSite=Strict cookie carrying the same short-lived access token
//! the API issues, a CSRF token derived from that token, and the language choice.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use futures_util::future::LocalBoxFuture;
use sha2::{Digest, Sha256};

use super::i18n::Lang;
use crate::auth::principal::Principal;
use crate::service;
use crate::service::sessions::{SessionEnd, principal_for_enrolment, principal_from_token};
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "hwt_session";
pub const LANG_COOKIE: &str = "hwt_lang";
/// Before login there is no session: the login form's CSRF token is a random value kept in this
/// cookie and echoed by the form (double submit).
pub const LOGIN_CSRF_COOKIE: &str = "hwt_login_csrf";

/// The CSRF token of a session: a hash of the token id. It is unguessable without the HttpOnly
/// cookie, and changes with every login.
pub fn csrf_for(jti: &str) -> String {
    let digest = Sha256::digest(format!("hwtransfer-csrf\0{jti}").as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// Whether the request came over TLS (directly or, as the proxy says, before it).
pub fn is_tls(req: &HttpRequest) -> bool {
    req.connection_info().scheme() == "https"
}

pub fn session_cookie(req: &HttpRequest, token: &str, ttl_secs: u64) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, token.to_string())
        .path("/")
        .http_only(true)
        .secure(is_tls(req))
        .same_site(SameSite::Strict)
        .max_age(CookieDuration::seconds(i64::try_from(ttl_secs).unwrap_or(3600)))
        .finish()
}

pub fn expired_cookie(name: &'static str) -> Cookie<'static> {
    let mut c = Cookie::build(name, "")
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .finish();
    c.make_removal();
    c
}

pub fn lang_of(req: &HttpRequest) -> Lang {
    req.cookie(LANG_COOKIE)
        .map(|c| Lang::parse(c.value()))
        .unwrap_or_default()
}

/// A signed-in UI user.
pub struct UiUser {
    pub who: Principal,
    pub csrf: String,
    pub lang: Lang,
    /// The session token's id: the UI session (`service::sessions::keep_ui_session`).
    pub jti: String,
    /// The session may only enrol a second factor (an admin or regulator without one, while one
    /// is required): only the second-factor pages open.
    pub limited: bool,
    /// For admins and regulators: the year whose holiday notice is missing and due
    /// (`service::calendar::notice_alert`), shown as a banner on every page.
    pub notice_missing: Option<i32>,
    /// For admins and regulators: the catalogue edition in force today whose table is not
    /// loaded, and the edition used instead (`service::catalogue::alert`).
    pub catalogue_missing: Option<CatalogueMissing>,
}

/// A UI user of the second-factor pages: a full session, or one that may only enrol.
pub struct UiEnrolling(pub UiUser);

/// The banner's facts about a catalogue edition in force but not loaded.
#[derive(Debug, Clone)]
pub struct CatalogueMissing {
    pub edition: i32,
    pub source: &'static str,
    pub in_force_from: String,
    pub used: i32,
}

impl UiUser {
    /// Refuses a form whose CSRF token is missing or not this session's.
    pub fn check_csrf(&self, sent: Option<&str>) -> Result<(), UiError> {
        match sent {
            Some(s) if constant_time_eq(s.as_bytes(), self.csrf.as_bytes()) => Ok(()),
            _ => Err(UiError::Csrf(self.lang)),
        }
    }
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What the extractors read of a request before going async.
struct Presented {
    state: Option<web::Data<AppState>>,
    token: Option<String>,
    lang: Lang,
    next: Option<String>,
    htmx: bool,
    /// A person's request, which keeps the session alive: not a page's background refresh
    /// (an htmx GET, such as the queue's counts every 30 s).
    active: bool,
}

fn presented(req: &HttpRequest) -> Presented {
    let htmx = req.headers().contains_key("hx-request");
    let get = req.method() == actix_web::http::Method::GET;
    Presented {
        state: req.app_data::<web::Data<AppState>>().cloned(),
        token: req.cookie(SESSION_COOKIE).map(|c| c.value().to_string()),
        lang: lang_of(req),
        next: req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .filter(|p| get && p.starts_with("/ui/")),
        htmx,
        active: !(htmx && get),
    }
}

impl FromRequest for UiUser {
    type Error = UiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(ui_user(presented(req), false))
    }
}

impl FromRequest for UiEnrolling {
    type Error = UiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let p = presented(req);
        Box::pin(async move { ui_user(p, true).await.map(UiEnrolling) })
    }
}

/// The session's user: its token verified (`enrolling`: one that may only enrol a second factor
/// is accepted too), and its UI session neither idle nor too old nor signed out.
async fn ui_user(p: Presented, enrolling: bool) -> Result<UiUser, UiError> {
    let Presented {
        state,
        token,
        lang,
        next,
        htmx,
        active,
    } = p;
    let login = |ended: Option<SessionEnd>| UiError::Login { next, htmx, ended };
    let (Some(state), Some(token)) = (state, token) else {
        return Err(login(None));
    };
    let resolved = if enrolling {
        principal_for_enrolment(&state, &token).await
    } else {
        principal_from_token(&state, &token).await
    };
    let (who, claims) = match resolved {
        Ok(r) => r,
        // The database being away is not a reason to log the user out.
        Err(e @ (service::Error::Unavailable { .. } | service::Error::Internal(_))) => {
            return Err(UiError::Service(e, lang));
        }
        Err(_) => return Err(login(None)),
    };
    match service::sessions::keep_ui_session(&state, &claims.jti, active).await {
        Ok(None) => {}
        Ok(Some(ended)) => return Err(login(Some(ended))),
        Err(e) => return Err(UiError::Service(e, lang)),
    }
    let limited = claims.scope.as_deref() == Some(crate::auth::token::ENROLMENT_SCOPE);
    let banners = !limited
        && matches!(
            who.role,
            crate::auth::principal::Role::Admin | crate::auth::principal::Role::Regulator
        );
    let catalogue_missing = if banners {
        service::catalogue::alert(&state)
            .await
            .map(|(m, used)| CatalogueMissing {
                edition: m.edition,
                source: m.source,
                in_force_from: m.in_force_from.to_string(),
                used,
            })
    } else {
        None
    };
    let notice_missing = if banners {
        match state.calendar().await {
            Ok(cal) => {
                service::calendar::notice_alert(&cal, crate::domain::calendar::shanghai_date(chrono::Utc::now()))
            }
            Err(_) => None,
        }
    } else {
        None
    };
    Ok(UiUser {
        who,
        csrf: csrf_for(&claims.jti),
        lang,
        jti: claims.jti,
        limited,
        notice_missing,
        catalogue_missing,
    })
}

/// What a UI request can fail with. Each renders as a page (or, for htmx, a redirect header).
#[derive(Debug)]
pub enum UiError {
    /// No valid session: to the login page, coming back afterwards; `ended` says why a session
    /// that was there ended (shown on the login page).
    Login {
        next: Option<String>,
        htmx: bool,
        ended: Option<SessionEnd>,
    },
    /// A form without this session's CSRF token.
    Csrf(Lang),
    /// The service refused or failed: a page that says why, with the status the API would answer.
    Service(service::Error, Lang),
}

impl std::fmt::Display for UiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UiError::Login { .. } => write!(f, "login required"),
            UiError::Csrf(_) => write!(f, "CSRF token missing or wrong"),
            UiError::Service(e, _) => write!(f, "{e}"),
        }
    }
}

impl From<(service::Error, Lang)> for UiError {
    fn from((e, lang): (service::Error, Lang)) -> Self {
        UiError::Service(e, lang)
    }
}

impl ResponseError for UiError {
    fn status_code(&self) -> StatusCode {
        match self {
            UiError::Login { .. } => StatusCode::SEE_OTHER,
            UiError::Csrf(_) => StatusCode::FORBIDDEN,
            UiError::Service(e, _) => super::pages::status_of(e),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            UiError::Login { next, htmx, ended } => {
                let mut query = Vec::new();
                if let Some(n) = next {
                    query.push(format!(
                        "next={}",
                        percent_encoding::utf8_percent_encode(n, percent_encoding::NON_ALPHANUMERIC)
                    ));
                }
                match ended {
                    Some(SessionEnd::Idle) => query.push("ended=idle".into()),
                    Some(SessionEnd::Absolute) => query.push("ended=absolute".into()),
                    Some(SessionEnd::Ended) | None => {}
                }
                let target = if query.is_empty() {
                    "/ui/login".to_string()
                } else {
                    format!("/ui/login?{}", query.join("&"))
                };
                if *htmx {
                    // htmx follows this header with a full page load.
                    HttpResponse::Ok().insert_header(("HX-Redirect", target)).finish()
                } else {
                    HttpResponse::SeeOther()
                        .insert_header((header::LOCATION, target))
                        .finish()
                }
            }
            UiError::Csrf(lang) => super::pages::error_page(
                *lang,
                StatusCode::FORBIDDEN,
                lang.t("err_csrf"),
                vec![lang.t("err_csrf_detail").to_string()],
            ),
            UiError::Service(e, lang) => {
                if let service::Error::Internal(cause) = e {
                    tracing::error!(error = %cause, "internal error in the web UI");
                }
                let (title, lines) = super::pages::describe(e, *lang);
                let mut res = super::pages::error_page(*lang, super::pages::status_of(e), title, lines);
                if let service::Error::Unavailable { retry_after_secs }
                | service::Error::TooManyRequests { retry_after_secs, .. } = e
                    && let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string())
                {
                    res.headers_mut().insert(header::RETRY_AFTER, v);
                }
                res
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_depends_on_the_token_id() {
        let a = csrf_for("a");
        assert_eq!(a.len(), 32);
        assert_eq!(a, csrf_for("a"));
        assert_ne!(a, csrf_for("b"));
    }

    #[test]
    fn constant_time_eq_compares_whole_values() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
