//! One whitelist entry: its facts with the further sources of a shared quota, its versions (the
//! amendment history with the letters' numbers), its status changes, and a regulator's
//! amendment of the quota by letter.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::manifests::word;
use super::{
    Chrome, Form, ProblemView, UiResult, failed, local_time, names, problems_of, province_name, render_status,
    see_other,
};
use crate::domain::whitelist::EntryAction;
use crate::service::whitelist::entries::{self, AmendmentInput};
use crate::service::whitelist::entry_views::{self, EntryVersionView};
use crate::service::whitelist::list::EntryDto;
use crate::service::{self, Ctx};
use crate::state::AppState;
use crate::web::i18n::Lang;
use crate::web::session::{UiError, UiUser};

/// A refusal that a form shows beside its fields (its status and problems), or else the error
/// page it becomes.
pub(super) fn form_refusal(lang: Lang, e: service::Error) -> Result<(StatusCode, Vec<ProblemView>), UiError> {
    match problems_of(lang, &e) {
        Some(problems) => Ok((super::status_of(&e), problems)),
        None => Err(UiError::Service(e, lang)),
    }
}

/// The path of an entry's page.
pub(super) fn entry_path(id: &str) -> String {
    format!(
        "/ui/entries/{}",
        percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC)
    )
}

/// What the amendment form holds, kept when it comes back with problems.
#[derive(Default)]
pub struct AmendValues {
    quota_kg: String,
    letter_number: String,
    reason: String,
}

struct VersionView {
    version: i32,
    valid_from: String,
    change: String,
    status: String,
    quota_kg: String,
    letter_number: String,
    reason: String,
    changed_by: String,
}

impl VersionView {
    fn new(lang: Lang, v: EntryVersionView) -> Self {
        VersionView {
            version: v.version,
            valid_from: local_time(&v.valid_from),
            change: word(lang, &format!("ch_{}", v.change), &v.change),
            status: lang.value(&v.status),
            quota_kg: v.quota_kg,
            letter_number: v.letter_number.unwrap_or_default(),
            reason: v.reason.unwrap_or_default(),
            changed_by: v.changed_by,
        }
    }
}

#[derive(Template)]
#[template(path = "entry.html")]
struct EntryPage {
    chrome: Chrome,
    lang: Lang,
    e: EntryDto,
    status: String,
    operator: String,
    source: String,
    receiving: String,
    /// The further source provinces served from the same quota, by name.
    shared: Vec<String>,
    proposed_by: String,
    versions: Vec<VersionView>,
    can_confirm: bool,
    can_suspend: bool,
    can_reinstate: bool,
    can_amend: bool,
    amend: AmendValues,
    amend_problems: Vec<ProblemView>,
    flash_done: bool,
    flash_conflict: bool,
}

async fn entry_page(
    state: &AppState,
    u: &UiUser,
    req: &HttpRequest,
    id: String,
    status: StatusCode,
    fill: impl FnOnce(&mut EntryPage),
) -> UiResult<HttpResponse> {
    let lang = u.lang;
    let view = entry_views::entry_page(state, &u.who, id).await.map_err(failed(lang))?;
    let names = names(state, Vec::new(), vec![view.entry.operator_id.clone()]).await?;
    let e = view.entry;
    let q = super::Query::of(req, &["done", "conflict"]);
    let mut page = EntryPage {
        chrome: Chrome::new(u, req, "/ui/whitelist"),
        lang,
        status: lang.value(&e.status),
        operator: names
            .get(&e.operator_id)
            .cloned()
            .unwrap_or_else(|| e.operator_id.clone()),
        source: province_name(lang, &e.source_province),
        receiving: province_name(lang, &e.receiving_province),
        shared: e.shared_sources.iter().map(|p| province_name(lang, p)).collect(),
        proposed_by: province_name(lang, &e.proposed_by_province),
        versions: view.versions.into_iter().map(|v| VersionView::new(lang, v)).collect(),
        can_confirm: view.open.contains(&EntryAction::Confirm),
        can_suspend: view.open.contains(&EntryAction::Suspend),
        can_reinstate: view.open.contains(&EntryAction::Reinstate),
        can_amend: view.open.contains(&EntryAction::Amend),
        amend: AmendValues::default(),
        amend_problems: Vec::new(),
        flash_done: q.raw("done").is_some(),
        flash_conflict: q.raw("conflict").is_some(),
        e,
    };
    fill(&mut page);
    Ok(render_status(lang, status, &page))
}

pub async fn entry(
    state: web::Data<AppState>,
    u: UiUser,
    req: HttpRequest,
    path: web::Path<String>,
) -> UiResult<HttpResponse> {
    entry_page(&state, &u, &req, path.into_inner(), StatusCode::OK, |_| {}).await
}

/// The quota amended by letter: the same command and use case as the API's, with the version
/// the page showed. A refusal comes back as the page with every problem and nothing stored; a
/// change someone made first, with the notice.
pub async fn entry_amend(
    state: web::Data<AppState>,
    u: UiUser,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> UiResult<HttpResponse> {
    let lang = u.lang;
    let form = Form::checked(&u, &body)?;
    let id = path.into_inner();
    let field = |k: &str| form.get(k).unwrap_or_default().trim().to_string();
    let values = AmendValues {
        quota_kg: field("quota_kg"),
        letter_number: field("letter_number"),
        reason: field("reason"),
    };
    // The page always sends the version it showed; a form without one is refused like a stale one.
    let Some(version) = form.get("version").and_then(|v| v.trim().parse::<i32>().ok()) else {
        return Err(failed(lang)(service::Error::PreconditionRequired(
            "the form did not say which version of the entry it shows".into(),
        )));
    };
    let input = AmendmentInput {
        quota_kg: values.quota_kg.clone(),
        letter_number: values.letter_number.clone(),
        reason: values.reason.clone(),
    };
    let target = entry_path(&id);
    match entries::amend(&state, &Ctx::new(u.who.clone()), id.clone(), Some(version), input).await {
        Ok(_) => Ok(see_other(&format!("{target}?done=1"))),
        Err(service::Error::Stale { .. } | service::Error::Conflict(_)) => {
            Ok(see_other(&format!("{target}?conflict=1")))
        }
        Err(e) => {
            let (status, problems) = form_refusal(lang, e)?;
            entry_page(&state, &u, &req, id, status, |p| {
                p.amend = values;
                p.amend_problems = problems;
            })
            .await
        }
    }
}
