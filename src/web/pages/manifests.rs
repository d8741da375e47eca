//! Manifests in the UI (电子转移联单, 部令第23号 第15–20条): the list on a case page and one
//! manifest's page. Regulators and auditors read them; the acts on a manifest (dispatch, arrival,
//! receipt with its discrepancies, rejection, cancellation) are the producer's, the carrier's and
//! the operator's, through the API, so these pages offer none.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::{Chrome, UiResult, failed, local_time, names, province_name, render};
use crate::service::Ctx;
use crate::service::manifests::{self, ManifestDto};
use crate::state::AppState;
use crate::web::i18n::Lang;
use crate::web::session::UiUser;

/// A word of the UI for a value, or the value itself when the table has none.
pub(super) fn word(lang: Lang, key: &str, raw: &str) -> String {
    match lang.t(key) {
        "??" => raw.to_string(),
        w => w.to_string(),
    }
}

/// A discrepancy's kind in words (第18条: 名称, 数量, 特性, 形态, 包装方式).
fn kind_word(lang: Lang, kind: &str) -> String {
    word(lang, &format!("dk_{kind}"), kind)
}

/// The operator's decision on a discrepancy in words.
fn decision_word(lang: Lang, decision: &str) -> String {
    word(lang, &format!("dd_{decision}"), decision)
}

/// One manifest as a case page lists it.
pub(super) struct ManifestRowView {
    pub(super) id: String,
    pub(super) number: String,
    pub(super) status: String,
    pub(super) quantity_kg: String,
    pub(super) accepted_kg: String,
    pub(super) departure: String,
    pub(super) arrival: String,
    /// Who recorded the arrival: the operator, or the producer for its carrier.
    pub(super) arrival_by: String,
    pub(super) received: String,
    pub(super) receipt_due: String,
    pub(super) receipt_provisional: bool,
    pub(super) receipt_overdue: bool,
    pub(super) back_filled: bool,
    pub(super) paper_number: String,
    pub(super) backfill_due: String,
    pub(super) backfill_overdue: bool,
    /// The kinds found different, in words; empty when none.
    pub(super) discrepancies: Vec<String>,
    pub(super) refused_lines: usize,
}

fn sum_kg<'a>(kgs: impl Iterator<Item = &'a str>) -> String {
    let grams: i64 = kgs.map(super::grams).sum();
    crate::domain::quantity::grams_to_kg_string(grams)
}

fn opt_time(t: Option<&str>) -> String {
    t.map(local_time).unwrap_or_default()
}

pub(super) fn row_view(lang: Lang, m: &ManifestDto) -> ManifestRowView {
    let found = m.discrepancies.as_deref().unwrap_or_default();
    ManifestRowView {
        id: m.id.clone(),
        number: m.number.clone(),
        status: word(lang, &format!("ms_{}", m.status), &m.status),
        quantity_kg: sum_kg(m.items.iter().map(|i| i.quantity_kg.as_str())),
        accepted_kg: if m.items.iter().any(|i| i.accepted_kg.is_some()) {
            sum_kg(m.items.iter().filter_map(|i| i.accepted_kg.as_deref()))
        } else {
            String::new()
        },
        departure: local_time(&m.departure_at),
        arrival: opt_time(m.arrived_at.as_deref()),
        arrival_by: m
            .arrival_reported_by
            .as_deref()
            .map(|r| word(lang, &format!("arrival_by_{r}"), r))
            .unwrap_or_default(),
        received: opt_time(m.received_at.as_deref()),
        receipt_due: m.receipt_due_on.clone().unwrap_or_default(),
        receipt_provisional: m.receipt_due_provisional,
        receipt_overdue: m.receipt_overdue,
        back_filled: m.back_filled,
        paper_number: m.paper_number.clone().unwrap_or_default(),
        backfill_due: m.backfill_due_on.clone().unwrap_or_default(),
        backfill_overdue: m.backfill_overdue,
        discrepancies: found.iter().map(|d| kind_word(lang, &d.kind)).collect(),
        refused_lines: found.iter().filter(|d| d.decision == "refuse").count(),
    }
}

/// A manifest line: what the manifest declared and what the operator accepted.
struct LineView {
    line: i32,
    code: String,
    declared_kg: String,
    accepted_kg: String,
}

/// A discrepancy (第18条): the line as declared beside what was found, and the decision.
struct DiscrepancyView {
    line: i32,
    kind: String,
    declared: String,
    accepted_kg: String,
    found: String,
    decision: String,
    refused: bool,
    reported_to: String,
    reported_at: String,
}

#[derive(Template)]
#[template(path = "manifest.html")]
struct ManifestPage {
    chrome: Chrome,
    lang: Lang,
    m: ManifestDto,
    row: ManifestRowView,
    producer: String,
    operator: String,
    source: String,
    receiving: String,
    lines: Vec<LineView>,
    found: Vec<DiscrepancyView>,
}

/// One manifest with its carrier, lines and discrepancies, for whoever may read it.
pub async fn manifest(
    state: web::Data<AppState>,
    u: UiUser,
    req: HttpRequest,
    path: web::Path<String>,
) -> UiResult<HttpResponse> {
    let lang = u.lang;
    let m = manifests::get(&state, &Ctx::new(u.who.clone()), path.into_inner())
        .await
        .map_err(failed(lang))?;
    let names = names(&state, vec![m.enterprise_id.clone()], vec![m.operator_id.clone()]).await?;
    let lines = m
        .items
        .iter()
        .map(|i| LineView {
            line: i.line,
            code: i.waste_code.clone(),
            declared_kg: i.quantity_kg.clone(),
            accepted_kg: i.accepted_kg.clone().unwrap_or_default(),
        })
        .collect::<Vec<_>>();
    let found = m
        .discrepancies
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|d| {
            let line = lines.iter().find(|l| l.line == d.line);
            DiscrepancyView {
                line: d.line,
                kind: kind_word(lang, &d.kind),
                declared: line
                    .map(|l| format!("{} · {} kg", l.code, l.declared_kg))
                    .unwrap_or_default(),
                accepted_kg: line.map(|l| l.accepted_kg.clone()).unwrap_or_default(),
                found: d.description.clone(),
                decision: decision_word(lang, &d.decision),
                refused: d.decision == "refuse",
                reported_to: province_name(lang, &d.reported_to),
                reported_at: local_time(&d.reported_at),
            }
        })
        .collect();
    let name = |id: &String| names.get(id).cloned().unwrap_or_else(|| id.clone());
    let page = ManifestPage {
        chrome: Chrome::new(&u, &req, "/ui/queue"),
        lang,
        row: row_view(lang, &m),
        producer: name(&m.enterprise_id),
        operator: name(&m.operator_id),
        source: province_name(lang, &m.source_province),
        receiving: province_name(lang, &m.receiving_province),
        lines,
        found,
        m,
    };
    Ok(render(lang, &page))
}
