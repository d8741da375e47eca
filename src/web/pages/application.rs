//! The application page and its actions.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::{Chrome, Form, UiResult, failed, grams, local_time, names, province_name, render, see_other, total_kg};
use crate::auth::principal::Principal;
use crate::domain::quantity::grams_to_kg_string;
use crate::domain::workflow::{Act, Side, Status};
use crate::service::applications::case::{self as apps, ApplicationDto};
use crate::service::applications::workflow;
use crate::service::case_views;
use crate::service::{self, Ctx, FieldProblem, Location};
use crate::state::AppState;
use crate::web::i18n::Lang;
use crate::web::session::{UiError, UiUser};

/// One action this user may take now.
struct ActionView {
    /// accept, correction, suspend_clock, resume_clock, decide.
    kind: &'static str,
    label: &'static str,
    /// For decisions: source or receiving, approve or refuse.
    side: &'static str,
    outcome: &'static str,
    danger: bool,
    /// A decision that is a letter (商请函 or 复函): the form asks its number and date.
    letter: bool,
}

/// The actions open to `who` on this case: only the steps of its own side, only in a state that
/// allows them (the workflow table decides again when the action is sent).
fn actions_for(who: &Principal, dto: &ApplicationDto, lang: Lang) -> Vec<ActionView> {
    let Some(side) = apps::regulator_side(who, dto) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let decided = |side: Side| dto.decisions.iter().any(|d| d.side == side.as_str());
    // What stops an approval (the core's rule, shown on the page) hides the approving button;
    // the regulator may still refuse, or move a whitelist case to the standard route.
    let blocked = dto.approval_blocked.is_some();
    // After a disagreeing reply (第25条) the source's final decision can only refuse (第26条).
    let receiving_disagreed = dto.route == "standard"
        && dto
            .decisions
            .iter()
            .rev()
            .find(|d| d.side == Side::Receiving.as_str())
            .is_some_and(|d| d.outcome == "refuse");
    let decision = |out: &mut Vec<ActionView>, yes: &'static str, no: &'static str, letters: (bool, bool)| {
        let approves = yes != "a_send_consultation" && yes != "a_receiving_agree" || dto.route == "whitelist";
        let final_after_refusal = yes == "a_approve" && dto.status == "receiving_replied" && receiving_disagreed;
        if !(final_after_refusal || blocked && approves) {
            out.push(ActionView {
                kind: "decide",
                label: lang.t(yes),
                side: side.as_str(),
                outcome: "approve",
                danger: false,
                letter: letters.0,
            });
        }
        out.push(ActionView {
            kind: "decide",
            label: lang.t(no),
            side: side.as_str(),
            outcome: "refuse",
            danger: true,
            letter: letters.1,
        });
    };
    // On the whitelist route with the consent policy the receiving province has its own
    // decision step (below); a case accepted before that had none, and it decides beside the
    // source's step.
    let own_consent_step = dto.steps.iter().any(|s| s.kind == "whitelist_consent");
    if side == Side::Receiving
        && dto.route == "whitelist"
        && dto.status == "under_review"
        && !decided(side)
        && !own_consent_step
    {
        decision(&mut out, "a_receiving_agree", "a_receiving_disagree", (false, false));
    }
    if side == Side::Source {
        if dto.route == "whitelist"
            && dto
                .approval_blocked
                .as_ref()
                .is_some_and(|b| b.code == "approval.entry_suspended")
        {
            out.push(ActionView {
                kind: "reroute",
                label: lang.t("a_reroute"),
                side: "source",
                outcome: "",
                danger: false,
                letter: false,
            });
        }
        if dto.status == "approved" {
            out.push(ActionView {
                kind: "revoke",
                label: lang.t("a_revoke"),
                side: "source",
                outcome: "",
                danger: true,
                letter: false,
            });
        }
    }
    for step in dto
        .steps
        .iter()
        .filter(|s| s.completed_at.is_none() && s.side == side.as_str())
    {
        let suspended = step.suspended;
        if suspended {
            out.push(ActionView {
                kind: "resume_clock",
                label: lang.t("a_resume_clock"),
                side: side.as_str(),
                outcome: "",
                danger: false,
                letter: false,
            });
            continue;
        }
        match step.kind.as_str() {
            "acceptance" => {
                out.push(ActionView {
                    kind: "accept",
                    label: lang.t("a_accept"),
                    side: "source",
                    outcome: "",
                    danger: false,
                    letter: false,
                });
                out.push(ActionView {
                    kind: "correction",
                    label: lang.t("a_correction"),
                    side: "source",
                    outcome: "",
                    danger: false,
                    letter: false,
                });
                out.push(ActionView {
                    kind: "refuse_acceptance",
                    label: lang.t("a_refuse_acceptance"),
                    side: "source",
                    outcome: "",
                    danger: true,
                    letter: false,
                });
                // The acceptance period (补正 within 5 working days) cannot be suspended.
                continue;
            }
            // A side that has decided waits for the other (whitelist route with consent).
            "whitelist_decision" if decided(side) => {}
            kind => {
                let (yes, no, letters) = match kind {
                    "receiving_opinion" => ("a_receiving_agree", "a_receiving_disagree", (true, true)),
                    "whitelist_consent" => ("a_receiving_agree", "a_receiving_disagree", (false, false)),
                    "source_review" => ("a_send_consultation", "a_refuse", (true, false)),
                    _ => ("a_approve", "a_refuse", (false, false)),
                };
                decision(&mut out, yes, no, letters);
            }
        }
        out.push(ActionView {
            kind: "suspend_clock",
            label: lang.t("a_suspend_clock"),
            side: side.as_str(),
            outcome: "",
            danger: false,
            letter: false,
        });
    }
    out
}

struct StepView {
    kind: String,
    side: String,
    started_on: String,
    working_days: i32,
    due: String,
    wd_left: String,
    overdue: bool,
    awaiting_notice: bool,
    suspended: bool,
    provisional: bool,
    done: String,
    outcome: String,
}

pub(super) struct ItemView {
    pub(super) line: i32,
    /// HWxx.
    pub(super) category: String,
    pub(super) code: String,
    pub(super) name: String,
    pub(super) hazards: String,
    pub(super) quantity_kg: String,
    pub(super) shipped_kg: String,
}

/// A matched whitelist entry with its use before and after this application.
struct EntryView {
    id: String,
    scope: String,
    quota_kg: String,
    quota: f64,
    before: f64,
    after: f64,
    before_kg: String,
    after_kg: String,
    status: String,
}

struct EventView {
    at: String,
    kind: String,
    actor: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "application.html")]
struct ApplicationPage {
    chrome: Chrome,
    lang: Lang,
    a: ApplicationDto,
    producer: String,
    operator: String,
    source: String,
    receiving: String,
    total_kg: String,
    filed_at: String,
    steps: Vec<StepView>,
    items: Vec<ItemView>,
    entries: Vec<EntryView>,
    events: Vec<EventView>,
    manifests: Vec<super::manifests::ManifestRowView>,
    actions: Vec<ActionView>,
    checklist: Vec<&'static str>,
    flash_done: bool,
    flash_conflict: bool,
    /// Today (Asia/Shanghai), the default date of a letter.
    today: String,
}

/// The correction checklist: the usual problems, each ticked or not, plus free text.
const CHECKLIST_ZH: &[&str] = &[
    "危险废物经营许可证复印件缺失或已过期",
    "废物代码、名称与产废环节不符",
    "申请数量与危险废物管理台账不符",
    "运输单位道路运输经营许可证材料不全",
    "包装方式或规格描述不清",
    "突发环境事件应急预案未附",
];
const CHECKLIST_EN: &[&str] = &[
    "Operator's licence copy missing or expired",
    "Waste code or name does not match the process",
    "Quantity does not match the hazardous-waste ledger",
    "Carrier's road transport permit documents incomplete",
    "Packaging unclear",
    "Emergency response plan not attached",
];

pub async fn application(
    state: web::Data<AppState>,
    u: UiUser,
    req: HttpRequest,
    path: web::Path<String>,
) -> UiResult<HttpResponse> {
    let lang = u.lang;
    let q: HashMap<String, String> = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let dto = apps::case_dto(&state, &u.who, path.into_inner())
        .await
        .map_err(failed(lang))?;
    let names = names(&state, vec![dto.enterprise_id.clone()], vec![dto.operator_id.clone()]).await?;

    // Matched entries: this case's own quantity per entry, and the entry's use now.
    let mut per_entry: Vec<(String, i64)> = Vec::new();
    for i in &dto.items {
        if let Some(e) = &i.entry_id {
            match per_entry.iter_mut().find(|(id, _)| id == e) {
                Some((_, g)) => *g += grams(&i.quantity_kg),
                None => per_entry.push((e.clone(), grams(&i.quantity_kg))),
            }
        }
    }
    // While open or approved, the case's quantity is already in the entry's reserved or approved.
    let counted = Status::parse(&dto.status).is_ok_and(|s| s.is_open() || s == Status::Approved);
    let (entry_rows, events) = case_views::entries_and_events(&state, &dto)
        .await
        .map_err(failed(lang))?;
    let entries = entry_rows
        .into_iter()
        .map(|r| {
            let mine = per_entry
                .iter()
                .find(|(id, _)| *id == r.id)
                .map(|(_, g)| *g)
                .unwrap_or(0);
            let used = r.reserved_g + r.approved_g;
            let (before, after) = if counted {
                (used - mine, used)
            } else {
                (used, used + mine)
            };
            EntryView {
                scope: r.scope.clone(),
                quota_kg: grams_to_kg_string(r.quota_g),
                quota: r.quota_g as f64 / 1000.0,
                before: before as f64 / 1000.0,
                after: after as f64 / 1000.0,
                before_kg: grams_to_kg_string(before),
                after_kg: grams_to_kg_string(after),
                status: lang.value(&r.status),
                id: r.id,
            }
        })
        .collect();
    let manifests: Vec<_> = case_views::manifests_of(&state, &u.who, &dto)
        .await
        .map_err(failed(lang))?
        .iter()
        .map(|m| super::manifests::row_view(lang, m))
        .collect();
    let steps = dto
        .steps
        .iter()
        .map(|s| StepView {
            kind: lang.value(&s.kind),
            side: lang.value(&s.side),
            started_on: s.started_on.clone(),
            working_days: s.working_days,
            due: local_time(&s.due_at),
            wd_left: s.working_days_left.map(|d| d.to_string()).unwrap_or_default(),
            overdue: s.overdue,
            awaiting_notice: s.awaiting_notice,
            suspended: s.suspended,
            provisional: s.provisional,
            done: s.completed_at.as_deref().map(local_time).unwrap_or_default(),
            outcome: s.outcome.as_deref().map(|o| lang.value(o)).unwrap_or_default(),
        })
        .collect();
    let items = dto
        .items
        .iter()
        .map(|i| ItemView {
            line: i.line,
            category: i.category.clone(),
            code: i.waste_code.clone(),
            name: i.waste_name.clone(),
            hazards: i.hazards.join("/"),
            quantity_kg: i.quantity_kg.clone(),
            shipped_kg: i.shipped_kg.clone(),
        })
        .collect();
    let events = events
        .into_iter()
        .map(|e| EventView {
            at: local_time(&e.at.and_utc().to_rfc3339()),
            kind: lang.value(&e.kind),
            actor: e.actor,
            detail: e.detail,
        })
        .collect();
    let page = ApplicationPage {
        chrome: Chrome::new(&u, &req, "/ui/queue"),
        lang,
        producer: names
            .get(&dto.enterprise_id)
            .cloned()
            .unwrap_or_else(|| dto.enterprise_id.clone()),
        operator: names
            .get(&dto.operator_id)
            .cloned()
            .unwrap_or_else(|| dto.operator_id.clone()),
        source: province_name(lang, &dto.source_province),
        receiving: province_name(lang, &dto.receiving_province),
        total_kg: total_kg(&dto),
        filed_at: local_time(&dto.received_at),
        steps,
        items,
        entries,
        events,
        manifests,
        actions: actions_for(&u.who, &dto, lang),
        checklist: match lang {
            Lang::Zh => CHECKLIST_ZH.to_vec(),
            Lang::En => CHECKLIST_EN.to_vec(),
        },
        flash_done: q.contains_key("done"),
        flash_conflict: q.contains_key("conflict"),
        today: crate::domain::calendar::shanghai_date(chrono::Utc::now()).to_string(),
        a: dto,
    };
    Ok(render(lang, &page))
}

/// One action from the application page. A decision someone else took first comes back as the
/// page with a plain notice; every other refusal is an error page that says why.
pub async fn act(
    state: web::Data<AppState>,
    u: UiUser,
    path: web::Path<String>,
    body: web::Bytes,
) -> UiResult<HttpResponse> {
    let lang = u.lang;
    let form = Form::checked(&u, &body)?;
    let id = path.into_inner();
    let expected = form.get("version").and_then(|v| v.parse::<i32>().ok());
    let side = |f: &Form| Side::parse(f.get("side").unwrap_or_default());
    let invalid = |field: &str, message: &str| {
        UiError::Service(
            service::Error::Invalid(vec![FieldProblem::new(
                Location::Body,
                format!("/{field}"),
                "ui.invalid",
                message,
            )]),
            lang,
        )
    };
    // The form is read into the same command the API builds; its texts, and that a decision
    // names the version shown, are checked once, in the core (`workflow::take_step`).
    let act = match form.get("action").unwrap_or_default() {
        "accept" => Act::Accept,
        "correction" => {
            let mut problems = form.all("problem");
            problems.extend(form.lines("other"));
            Act::RequestCorrection { problems }
        }
        "suspend_clock" => Act::SuspendClock {
            reason: form.get("reason").unwrap_or_default().to_string(),
        },
        "resume_clock" => Act::ResumeClock,
        "reroute" => Act::Reroute {
            reason: form.get("reason").unwrap_or_default().to_string(),
        },
        "revoke" => Act::Revoke {
            reasons: form.lines("reasons"),
        },
        "refuse_acceptance" => Act::RefuseAcceptance {
            reasons: form.lines("reasons"),
        },
        "decide" => {
            let side = side(&form).map_err(|i| invalid("side", &i.message))?;
            let approve = match form.get("outcome") {
                Some("approve") => true,
                Some("refuse") => false,
                _ => return Err(invalid("outcome", "outcome must be approve or refuse")),
            };
            let letter = match (form.get("letter_number"), form.get("letter_date")) {
                (None | Some(""), None | Some("")) => None,
                (n, d) => Some(crate::domain::workflow::LetterText {
                    number: n.unwrap_or_default().to_string(),
                    date: d.unwrap_or_default().to_string(),
                }),
            };
            Act::Decide {
                side,
                approve,
                reasons: form.lines("reasons"),
                conditions: form.lines("conditions"),
                letter,
            }
        }
        _ => return Err(invalid("action", "unknown action")),
    };
    let target = format!(
        "/ui/applications/{}",
        percent_encoding::utf8_percent_encode(&id, percent_encoding::NON_ALPHANUMERIC)
    );
    match workflow::take_step(&state, &Ctx::new(u.who.clone()), id, expected, act).await {
        Ok(_) => Ok(see_other(&format!("{target}?done=1"))),
        // Someone acted first: the version moved on, or the step is no longer open.
        Err(service::Error::Stale { .. } | service::Error::Conflict(_)) => {
            Ok(see_other(&format!("{target}?conflict=1")))
        }
        Err(e) => Err(UiError::Service(e, lang)),
    }
}
