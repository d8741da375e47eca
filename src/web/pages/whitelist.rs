//! The whitelist: entries with their use, and a regulator's confirm, suspend and reinstate.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::{Chrome, Form, Query, UiResult, failed, grams, names, province_name, render, safe_next, see_other};
use crate::auth::principal::Role;
use crate::domain::Invalid;
use crate::domain::catalogue::{WasteCategory, WasteCode};
use crate::domain::ids::ProvinceCode;
use crate::domain::quantity::grams_to_kg_string;
use crate::domain::whitelist::{EntryAction, EntryStatus};
use crate::service::whitelist::entries;
use crate::service::whitelist::list::{self, EntryQuery, parse_year};
use crate::service::{self, Ctx};
use crate::service::{LIMIT_MAX, decode_cursor};
use crate::state::AppState;
use crate::web::i18n::Lang;
use crate::web::session::{UiError, UiUser};

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
    // The page takes the API's parameters, plus its own notices.
    let mut q = Query::of(
        &req,
        &[
            "year",
            "operator",
            "source_province",
            "code",
            "category",
            "status",
            "limit",
            "cursor",
        ],
    );
    let flash_done = q.take_flag("done");
    let flash_conflict = q.take_flag("conflict");
    let query = EntryQuery {
        year: q.parse_with("year", parse_year),
        operator_id: q.raw("operator").map(str::to_string),
        source_province: q.parse_with("source_province", ProvinceCode::parse),
        code: q.parse_with("code", WasteCode::parse),
        category: q.parse_with("category", WasteCategory::parse),
        status: q.parse_with("status", EntryStatus::parse),
        limit: q
            .parse_with("limit", |s| {
                s.parse::<i64>()
                    .ok()
                    .filter(|n| (1..=LIMIT_MAX).contains(n))
                    .ok_or_else(|| {
                        Invalid::new("query.limit", format!("limit must be an integer from 1 to {LIMIT_MAX}"))
                    })
            })
            .unwrap_or(50),
        after: q.parse_with("cursor", decode_cursor),
    };
    let pairs: Vec<(String, String)> = q.pairs().to_vec();
    q.finish(lang)?;
    let page = list::list(&state, &Ctx::new(u.who.clone()), query)
        .await
        .map_err(failed(lang))?;
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
                    std::iter::once(&e.source_province)
                        .chain(&e.shared_sources)
                        .map(|p| province_name(lang, p))
                        .collect::<Vec<_>>()
                        .join("、"),
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
        _ => return Err(UiError::Service(service::Error::Hidden, lang)),
    };
    let reason = form.get("reason").map(str::to_string);
    // The page always sends the version it showed; a form without one is refused like a stale one.
    let version = form.get("version").and_then(|v| v.trim().parse::<i32>().ok());
    if version.is_none() {
        return Err(UiError::Service(
            service::Error::PreconditionRequired("the form did not say which version of the entry it shows".into()),
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
        Err(e) => Err(UiError::Service(e, lang)),
    }
}
