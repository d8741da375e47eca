//! Webhook subscriptions: an owner sees a disabled endpoint here and enables it again.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::{Chrome, Form, UiResult, failed, local_time, render, see_other};
use crate::service::{Ctx, webhooks};
use crate::state::AppState;
use crate::web::i18n::Lang;
use crate::web::session::UiUser;

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
    let list = webhooks::list(&state, &Ctx::new(u.who.clone()))
        .await
        .map_err(failed(lang))?;
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
    webhooks::enable(&state, &Ctx::new(u.who.clone()), path.into_inner())
        .await
        .map_err(failed(lang))?;
    Ok(see_other("/ui/webhooks?done=1"))
}
