//! 待办: the queue of applications, and a regulator's live counts.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{SubsecRound, Utc};

use super::{Chrome, Query, UiResult, failed, html, local_time, names, province_name, render, total_kg};
use crate::auth::principal::Role;
use crate::domain::catalogue::WasteCode;
use crate::domain::workflow::{Route, Side, Status};
use crate::service::applications::case::{self as apps, ApplicationDto};
use crate::service::applications::queue::{self, AppFilter, QueueCursor};
use crate::service::{Ctx, dashboard};
use crate::state::AppState;
use crate::web::i18n::Lang;
use crate::web::session::UiUser;

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
    counts: dashboard::QueueCounts,
}

pub async fn queue(state: web::Data<AppState>, u: UiUser, req: HttpRequest) -> UiResult<HttpResponse> {
    let lang = u.lang;
    // A filter form sends every field, the empty ones too: `Query` reads the non-empty ones.
    let mut q = Query::of(
        &req,
        &["route", "status", "operator", "code", "overdue", "scope", "cursor"],
    );
    let route = q.parse_with("route", Route::parse).map(|r| r.as_str().to_string());
    let status = q.parse_with("status", Status::parse).map(|s| s.as_str().to_string());
    let code = q.parse_with("code", WasteCode::parse).map(|c| c.as_str().to_string());
    let operator = q.raw("operator").map(str::to_string);
    let overdue = q.raw("overdue") == Some("true");
    let scope_all = q.raw("scope") == Some("all");
    let after = q.parse_with("cursor", QueueCursor::parse);
    q.finish(lang)?;
    let is_regulator = u.who.role == Role::Regulator;
    let now = Utc::now();
    let filter = AppFilter {
        acting: is_regulator && !scope_all,
        status: status.clone(),
        route: route.clone(),
        operator_id: operator.clone(),
        code: code.clone(),
        overdue_at: overdue.then(|| now.naive_utc().trunc_subsecs(6)),
        ..Default::default()
    };
    let (items, next) = queue::page(&state, &u.who, filter, after, 50)
        .await
        .map_err(failed(lang))?;
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
    match dashboard::queue_counts(&state, &Ctx::new(u.who.clone()))
        .await
        .map_err(failed(lang))?
    {
        Some(counts) => Ok(render(lang, &CountsFragment { lang, counts })),
        None => Ok(html(StatusCode::OK, String::new())),
    }
}
