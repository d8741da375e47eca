//! Agreements (合作协议) in the UI: every agreement with its members, kind (an agreement among
//! provinces, or a receiving province's one-sided inbound list), consent policy, per-application
//! cap and 一事一批 completion period; a regulator proposes one, confirms one for its province,
//! or terminates one, through the same use cases as the API.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{Datelike, Utc};

use super::entry::form_refusal;
use super::manifests::word;
use super::{Chrome, Form, ProblemView, Query, UiResult, failed, province_name, render_status, see_other};
use crate::auth::principal::Role;
use crate::domain::calendar::shanghai_date;
use crate::domain::ids::ProvinceCode;
use crate::service::whitelist::agreements::{self, AgreementDto, AgreementInput, TerminationInput};
use crate::service::{self, Ctx};
use crate::state::AppState;
use crate::web::i18n::Lang;
use crate::web::session::UiUser;

struct AgreementView {
    id: String,
    members: String,
    kind: String,
    inbound: bool,
    consent: String,
    cap_kg: String,
    completion_days: String,
    valid: String,
    status: String,
    pending: String,
    proposed_by: String,
    terminated: String,
    can_confirm: bool,
    can_terminate: bool,
}

fn names_of(lang: Lang, provinces: &[String]) -> String {
    provinces
        .iter()
        .map(|p| province_name(lang, p))
        .collect::<Vec<_>>()
        .join("、")
}

impl AgreementView {
    fn new(lang: Lang, u: &UiUser, a: &AgreementDto) -> Self {
        let open = agreements::open_actions(&u.who, a);
        AgreementView {
            id: a.id.clone(),
            members: names_of(lang, &a.provinces),
            kind: word(lang, &format!("ak_{}", a.kind), &a.kind),
            inbound: a.kind == "inbound_list",
            consent: word(lang, &format!("rc_{}", a.receiving_consent), &a.receiving_consent),
            cap_kg: a.cap_per_application_kg.clone().unwrap_or_default(),
            completion_days: a.completion_days.map(|d| d.to_string()).unwrap_or_default(),
            valid: format!("{} – {}", a.valid_from, a.valid_until),
            status: lang.value(&a.status),
            pending: names_of(lang, &a.pending_confirmation),
            proposed_by: province_name(lang, &a.proposed_by_province),
            terminated: match (&a.terminated_on, &a.termination_reason) {
                (Some(on), Some(why)) => format!("{on} · {why}"),
                (Some(on), None) => on.clone(),
                _ => String::new(),
            },
            can_confirm: open.confirm,
            can_terminate: open.terminate,
        }
    }
}

/// What the proposal form holds, kept when it comes back with problems.
pub struct ProposeValues {
    provinces: Vec<String>,
    kind: String,
    receiving_consent: String,
    valid_from: String,
    valid_until: String,
    cap_kg: String,
    completion_days: String,
}

impl ProposeValues {
    /// Whether the form names this province.
    fn has(&self, code: &str) -> bool {
        self.provinces.iter().any(|p| p == code)
    }
}

#[derive(Template)]
#[template(path = "agreements.html")]
struct AgreementsPage {
    chrome: Chrome,
    lang: Lang,
    rows: Vec<AgreementView>,
    province: String,
    provinces: Vec<(String, String)>,
    can_propose: bool,
    values: ProposeValues,
    propose_problems: Vec<ProblemView>,
    /// The problems of a confirmation or termination that was refused.
    problems: Vec<ProblemView>,
    flash_done: bool,
    flash_conflict: bool,
    today: String,
}

async fn page(
    state: &AppState,
    u: &UiUser,
    req: &HttpRequest,
    status: StatusCode,
    fill: impl FnOnce(&mut AgreementsPage),
) -> UiResult<HttpResponse> {
    let lang = u.lang;
    let mut q = Query::of(req, &["province"]);
    let flash_done = q.take_flag("done");
    let flash_conflict = q.take_flag("conflict");
    let filter = q.parse_with("province", ProvinceCode::parse);
    let province = q.raw("province").unwrap_or_default().to_string();
    q.finish(lang)?;
    let list = agreements::list(state, filter).await.map_err(failed(lang))?;
    let today = shanghai_date(Utc::now());
    let mine = u.who.province().map(|p| p.as_str());
    let mut page = AgreementsPage {
        chrome: Chrome::new(u, req, "/ui/agreements"),
        lang,
        rows: list.iter().map(|a| AgreementView::new(lang, u, a)).collect(),
        province,
        provinces: crate::domain::province::provinces()
            .iter()
            .map(|p| (p.code.as_str(), province_name(lang, &p.code.as_str())))
            .collect(),
        can_propose: u.who.role == Role::Regulator,
        values: ProposeValues {
            provinces: mine.into_iter().collect(),
            kind: "mutual".into(),
            receiving_consent: "consent".into(),
            valid_from: format!("{}-01-01", today.year()),
            valid_until: format!("{}-12-31", today.year()),
            cap_kg: String::new(),
            completion_days: String::new(),
        },
        propose_problems: Vec::new(),
        problems: Vec::new(),
        flash_done,
        flash_conflict,
        today: today.to_string(),
    };
    fill(&mut page);
    Ok(render_status(lang, status, &page))
}

pub async fn agreements(state: web::Data<AppState>, u: UiUser, req: HttpRequest) -> UiResult<HttpResponse> {
    page(&state, &u, &req, StatusCode::OK, |_| {}).await
}

/// The proposal command from the form. Empty optional fields are left out; a completion period
/// that is not a whole number becomes 0, which the core refuses at `/completion_days` like any
/// period out of range.
fn proposal_input(v: &ProposeValues) -> AgreementInput {
    let optional = |s: &String| Some(s.clone()).filter(|s| !s.is_empty());
    AgreementInput {
        provinces: v.provinces.clone(),
        valid_from: v.valid_from.clone(),
        valid_until: v.valid_until.clone(),
        receiving_consent: v.receiving_consent.clone(),
        cap_per_application_kg: optional(&v.cap_kg),
        completion_days: optional(&v.completion_days).map(|d| d.parse().unwrap_or(0)),
        kind: Some(v.kind.clone()),
    }
}

pub async fn agreement_propose(
    state: web::Data<AppState>,
    u: UiUser,
    req: HttpRequest,
    body: web::Bytes,
) -> UiResult<HttpResponse> {
    let lang = u.lang;
    let form = Form::checked(&u, &body)?;
    let field = |k: &str| form.get(k).unwrap_or_default().trim().to_string();
    let values = ProposeValues {
        provinces: form.all("provinces"),
        kind: field("kind"),
        receiving_consent: field("receiving_consent"),
        valid_from: field("valid_from"),
        valid_until: field("valid_until"),
        cap_kg: field("cap_kg"),
        completion_days: field("completion_days"),
    };
    let input = proposal_input(&values);
    match agreements::propose(&state, &Ctx::new(u.who.clone()), input).await {
        Ok(_) => Ok(see_other("/ui/agreements?done=1")),
        Err(e) => {
            let (status, problems) = form_refusal(lang, e)?;
            page(&state, &u, &req, status, |p| {
                p.values = values;
                p.propose_problems = problems;
            })
            .await
        }
    }
}

/// Confirms an agreement for the caller's province, or terminates one from a day with a reason.
/// A confirmation someone made first comes back as the page with the notice; any other refusal
/// as the page with its problems.
pub async fn agreement_change(
    state: web::Data<AppState>,
    u: UiUser,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> UiResult<HttpResponse> {
    let lang = u.lang;
    let form = Form::checked(&u, &body)?;
    let (id, action) = path.into_inner();
    let ctx = Ctx::new(u.who.clone());
    let done = match action.as_str() {
        "confirm" => agreements::confirm(&state, &ctx, id).await,
        "terminate" => {
            let input = TerminationInput {
                terminated_on: form.get("terminated_on").unwrap_or_default().trim().to_string(),
                reason: form.get("reason").unwrap_or_default().to_string(),
            };
            agreements::terminate(&state, &ctx, id, input).await
        }
        _ => Err(service::Error::Hidden),
    };
    match done {
        Ok(_) => Ok(see_other("/ui/agreements?done=1")),
        Err(service::Error::Conflict(_)) => Ok(see_other("/ui/agreements?conflict=1")),
        Err(e) => {
            let (status, problems) = form_refusal(lang, e)?;
            page(&state, &u, &req, status, |p| p.problems = problems).await
        }
    }
}
