//! The transfer history with its filters, totals and CSV/XLSX export.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::{Chrome, Query, UiResult, csv_download, failed, local_time, province_name, render};
use crate::domain::Invalid;
use crate::domain::calendar::parse_bound;
use crate::domain::catalogue::{WasteCategory, WasteCode};
use crate::domain::ids::ProvinceCode;
use crate::domain::workflow::Status;
use crate::service::history::{self, TransferPageRequest, TransferQuery};
use crate::service::{Ctx, LIMIT_MAX, decode_cursor};
use crate::state::AppState;
use crate::web::i18n::Lang;
use crate::web::session::UiUser;

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

/// The filter form's fields: the API's parameters of the history search.
const FIELDS: [&str; 12] = [
    "producer",
    "operator",
    "source_province",
    "receiving_province",
    "code",
    "category",
    "status",
    "from",
    "to",
    "totals",
    "limit",
    "cursor",
];

/// The filters of the form, read with the same domain parsers as the API's query.
fn transfer_query(q: &mut Query) -> TransferQuery {
    TransferQuery {
        producer: q.raw("producer").map(str::to_string),
        operator: q.raw("operator").map(str::to_string),
        source_province: q.parse_with("source_province", ProvinceCode::parse),
        receiving_province: q.parse_with("receiving_province", ProvinceCode::parse),
        code: q.parse_with("code", WasteCode::parse),
        category: q.parse_with("category", WasteCategory::parse),
        status: q.parse_with("status", Status::parse),
        from: q.parse_with("from", parse_bound),
        to: q.parse_with("to", parse_bound),
    }
}

pub async fn history(state: web::Data<AppState>, u: UiUser, req: HttpRequest) -> UiResult<HttpResponse> {
    let lang = u.lang;
    let mut q = Query::of(&req, &FIELDS);
    let query = transfer_query(&mut q);
    let with_totals = q.parse_with("totals", |s| match s {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(Invalid::new("query.boolean", "true or false")),
    });
    let limit = q.parse_with("limit", |s| {
        s.parse::<i64>()
            .ok()
            .filter(|n| (1..=LIMIT_MAX).contains(n))
            .ok_or_else(|| Invalid::new("query.limit", format!("limit must be an integer from 1 to {LIMIT_MAX}")))
    });
    let after = q.parse_with("cursor", decode_cursor);
    let pairs = q.pairs().to_vec();
    q.finish(lang)?;
    let request = TransferPageRequest {
        limit: limit.unwrap_or(50),
        after,
        with_totals: with_totals.unwrap_or(true),
    };
    let page = history::search(&state, &Ctx::new(u.who.clone()), &query, request)
        .await
        .map_err(failed(lang))?;
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
    let mut q = Query::of(&req, &FIELDS);
    let query = transfer_query(&mut q);
    q.finish(lang)?;
    let chunks = history::export_csv(state.into_inner(), &Ctx::new(u.who.clone()), &query).map_err(failed(lang))?;
    Ok(csv_download("transfers.csv", chunks))
}
