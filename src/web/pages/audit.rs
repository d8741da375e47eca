//! The audit chain's verification.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::{Chrome, UiResult, render};
use crate::service::{self, Ctx};
use crate::state::AppState;
use crate::web::i18n::Lang;
use crate::web::session::{UiError, UiUser};

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    chrome: Chrome,
    lang: Lang,
    v: service::audit::Verification,
}

pub async fn audit(state: web::Data<AppState>, u: UiUser, req: HttpRequest) -> UiResult<HttpResponse> {
    let lang = u.lang;
    let v = service::audit::verify_chain(&state, &Ctx::new(u.who.clone()))
        .await
        .map_err(|e| UiError::Service(e, lang))?;
    Ok(render(
        lang,
        &AuditPage {
            chrome: Chrome::new(&u, &req, "/ui/audit"),
            lang,
            v,
        },
    ))
}
