//! The transfer history with its filters, totals and CSV/XLSX export.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::{Chrome, UiResult, api, local_time, non_empty_query, province_name, render};
use crate::api::error::ApiError;
use crate::api::history;
use crate::domain::workflow::Status;
use crate::state::AppState;
use crate::web::i18n::Lang;
use crate::web::session::{UiError, UiUser};

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
