//! One case as its parties see it: who may see it, which workflow party the caller is, and the
//! whole case (items, steps with their clocks, decisions, approval) as one view.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::principal::{Binding, Principal, Role, Scope};
use crate::auth::{Decision, Guarded, authorize};
use crate::db::applications::{AppRow, Carrier, CaseParts};
use crate::db::{self, from_db_time};
use crate::domain::calendar::{WorkingDayCalendar, shanghai_date};
use crate::domain::quantity::grams_to_kg_string;
use crate::domain::workflow::{Actor, Route, Side, Status};
use crate::service::{Error, Result};
use crate::state::AppState;

impl Guarded for AppRow {
    type Action = ();
    fn decide(&self, who: &Principal, _: ()) -> Decision {
        let visible = match who.scope() {
            Scope::All => true,
            Scope::Province(p) => self.source_province == p.as_str() || self.receiving_province == p.as_str(),
            Scope::Enterprise(id) => id == self.enterprise_id,
            Scope::Operator(id) => id == self.operator_id,
            Scope::Nothing => false,
        };
        if visible { Decision::Allow } else { Decision::Hidden }
    }
}

/// The workflow party the caller is for this case; None for those who only read.
pub fn actor_for(who: &Principal, app: &AppRow) -> Option<Actor> {
    match (&who.role, &who.binding) {
        (Role::Enterprise, Binding::Enterprise(id)) if *id == app.enterprise_id => Some(Actor::Enterprise),
        (Role::Regulator, Binding::Province(p)) if p.as_str() == app.source_province => Some(Actor::SourceRegulator),
        (Role::Regulator, Binding::Province(p)) if p.as_str() == app.receiving_province => {
            Some(Actor::ReceivingRegulator)
        }
        _ => None,
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ItemDto {
    pub line: i32,
    pub waste_code: String,
    pub category: String,
    pub waste_name: String,
    pub physical_form: String,
    pub hazards: Vec<String>,
    pub packaging: String,
    pub quantity_kg: String,
    /// The whitelist entry this item draws on (whitelist route), with the version relied on.
    pub entry_id: Option<String>,
    pub entry_version: Option<i32>,
    /// Drawn by manifests that were not rejected or cancelled, kg.
    pub shipped_kg: String,
    /// Accepted by the operator at receipt, kg.
    pub received_kg: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SuspensionDto {
    pub reason: String,
    pub suspended_on: String,
    pub resumed_on: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StepDto {
    /// acceptance, whitelist_decision (the source's), whitelist_consent (the receiving province's,
    /// beside it, under the consent policy), source_review, receiving_opinion, source_decision.
    pub kind: String,
    /// The province side that must act.
    pub side: String,
    pub started_on: String,
    pub working_days: i32,
    pub due_on: String,
    /// Office close on `due_on`, Asia/Shanghai (RFC 3339, UTC).
    pub due_at: String,
    /// True while the calendar lacks the notice of a year the clock crosses (the statutory
    /// holidays alone are counted there).
    pub provisional: bool,
    /// Working days from today to the due day (0 when due today or late); open steps only.
    pub working_days_left: Option<u32>,
    /// Past its due instant on a firm deadline (the clock not suspended).
    pub overdue: bool,
    /// Past a provisional due instant: nothing happens (no deemed acceptance, no escalation)
    /// until the year's notice is imported and the deadline recomputed.
    pub awaiting_notice: bool,
    pub suspended: bool,
    pub suspensions: Vec<SuspensionDto>,
    pub completed_at: Option<String>,
    pub outcome: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CarrierDto {
    pub name: String,
    pub permit_number: String,
    pub plate: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DecisionDto {
    pub side: String,
    pub outcome: String,
    pub reasons: Vec<String>,
    pub conditions: Vec<String>,
    pub decided_by: String,
    pub decided_at: String,
}

/// A domain rule that stops an act now, with its stable code.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BlockerDto {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApprovalDto {
    /// e.g. 渝危转〔2026〕0001号.
    pub number: String,
    pub approved_at: String,
    /// min(decision + 12 months, end of the requested period, the operator's licence expiry).
    pub valid_until: String,
    /// 撤销: when the source province revoked the approval (it carries no shipment since).
    pub revoked_at: Option<String>,
    /// The revocation's reasons (empty unless revoked).
    pub revocation_reasons: Vec<String>,
    /// 抄送: the departments the approval was copied to.
    pub copies: Vec<CopyDto>,
}

/// 抄送: one department an approval was copied to (also sent as `approval.copied`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CopyDto {
    /// source_transport, receiving_transport or receiving_environment.
    pub recipient: String,
    pub province: String,
    pub department: String,
    pub sent_at: String,
}

/// A letter as its department numbered and dated it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LetterDto {
    /// e.g. 湘环固函〔2022〕73号.
    pub number: String,
    pub date: String,
}

/// The applicant's remedies against a refusal, with their time limits.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RemediesDto {
    /// 行政复议 within this many days of receiving the decision (行政复议法 第20条).
    pub review_days: u64,
    /// The last day, counted from the decision's date (served on the system that day).
    pub review_until: String,
    /// 行政诉讼 within this many months (行政诉讼法 第46条).
    pub suit_months: u32,
    pub suit_until: String,
    /// The statement the decision document carries.
    pub statement: String,
}

/// The source province's refusal as a decision document: 不予许可 (第26条) or 不予受理 (行政许可法
/// 第32条), numbered in its own series, with reasons and remedies.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RefusalDto {
    /// not_permitted (不予许可) or not_accepted (不予受理).
    pub kind: String,
    /// e.g. 渝危转不许〔2026〕0001号 or 渝危转不受〔2026〕0001号.
    pub number: String,
    pub decided_at: String,
    /// The decision's date, Asia/Shanghai.
    pub decided_on: String,
    pub reasons: Vec<String>,
    /// On the standard route: the receiving province's opinion it rests on, if it gave one.
    pub receiving_opinion: Option<DecisionDto>,
    pub remedies: RemediesDto,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApplicationDto {
    pub id: String,
    pub status: String,
    pub route: String,
    /// Why the standard route (empty on the whitelist route).
    pub route_reasons: Vec<String>,
    /// Whitelist route: `consent` (the receiving province approves too) or `inform`.
    pub receiving_consent: String,
    pub enterprise_id: String,
    pub operator_id: String,
    pub source_province: String,
    pub receiving_province: String,
    pub method: String,
    pub period_start: String,
    pub period_end: String,
    pub items: Vec<ItemDto>,
    pub carriers: Vec<CarrierDto>,
    /// The catalogue edition the codes were checked against on the filing date.
    pub catalogue_edition: i32,
    /// What the parties should know about how the case was checked: `catalogue.edition_missing`
    /// when the edition the law had in force on the filing date was not loaded and
    /// `catalogue_edition` is the repealed one used instead.
    pub warnings: Vec<crate::service::catalogue::Warning>,
    pub received_at: String,
    pub accepted_on: Option<String>,
    /// Accepted because no correction notice came within 5 working days.
    pub deemed_accepted: bool,
    pub correction_notice: Option<Vec<String>>,
    pub steps: Vec<StepDto>,
    pub decisions: Vec<DecisionDto>,
    pub approval: Option<ApprovalDto>,
    /// The refusal that ended the case, as the source province's decision document.
    pub refusal: Option<RefusalDto>,
    /// 商请函: the consultation letter the source province sent (standard route).
    pub consultation_letter: Option<LetterDto>,
    /// 复函: the receiving province's reply.
    pub reply: Option<LetterDto>,
    /// While the case is open: why no approval may be issued today, if something stops it (the
    /// operator's licence is not valid — `approval.licence_not_valid` —, or an entry it draws on
    /// is suspended — `approval.entry_suspended`: refuse, or move the case to the standard route).
    pub approval_blocked: Option<BlockerDto>,
    /// The ETag value (without quotes) for If-Match.
    pub version: i32,
    pub updated_at: String,
}

fn json_list(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

/// The whole case as one DTO.
pub fn load_dto(
    conn: &mut db::DbConnection,
    cal: &WorkingDayCalendar,
    app: AppRow,
    now: DateTime<Utc>,
) -> db::DbResult<ApplicationDto> {
    let parts = CaseParts {
        items: db::applications::items(conn, &app.id)?,
        steps: db::applications::steps(conn, &app.id)?,
        suspensions: db::applications::suspensions(conn, &app.id)?,
        decisions: db::applications::decisions_of(conn, &app.id)?,
        // Copies (抄送) are sent with an approval: a case without one has none to read.
        copies: match app.approval_number {
            Some(_) => db::applications::copies(conn, &app.id)?,
            None => Vec::new(),
        },
    };
    dto_with(conn, cal, app, parts, now)
}

/// A case's DTO from its row and parts already in hand (a case just filed: its items and step
/// as stored), reading only what blocks its approval.
pub fn dto_with(
    conn: &mut db::DbConnection,
    cal: &WorkingDayCalendar,
    app: AppRow,
    parts: CaseParts,
    now: DateTime<Utc>,
) -> db::DbResult<ApplicationDto> {
    let blocker = match open_route(&app) {
        Some(route) => db::applications::approval_blocker(conn, &app, route, shanghai_date(now))?,
        None => None,
    };
    Ok(case_view(cal, app, parts, blocker, now))
}

/// The DTOs of many cases (a queue page), in their order: their parts and the entries that
/// block their approval read in one query per kind, each operator's licence once, instead of
/// about seven queries per case.
pub fn load_dtos(
    conn: &mut db::DbConnection,
    cal: &WorkingDayCalendar,
    apps: Vec<AppRow>,
    now: DateTime<Utc>,
) -> db::DbResult<Vec<ApplicationDto>> {
    let today = shanghai_date(now);
    let mut parts = db::applications::case_parts(conn, &apps)?;
    let open_on_whitelist: Vec<&str> = apps
        .iter()
        .filter(|a| open_route(a) == Some(Route::Whitelist))
        .map(|a| a.id.as_str())
        .collect();
    let mut stopped = db::applications::first_stopped_entries(conn, &open_on_whitelist)?;
    let mut licences: std::collections::HashMap<String, Option<db::registry::LicenceRow>> =
        std::collections::HashMap::new();
    let mut out = Vec::with_capacity(apps.len());
    for app in apps {
        let blocker = match open_route(&app) {
            Some(route) => {
                let licence = match licences.get(&app.operator_id) {
                    Some(l) => l.clone(),
                    None => {
                        let l = db::registry::licence_on(conn, &app.operator_id, today)?;
                        licences.insert(app.operator_id.clone(), l.clone());
                        l
                    }
                };
                db::applications::approval_blocker_given(route, today, licence, stopped.remove(&app.id))
            }
            None => None,
        };
        let p = parts.remove(&app.id).unwrap_or_default();
        out.push(case_view(cal, app, p, blocker, now));
    }
    Ok(out)
}

/// The route of a case still open (whose approval may be blocked), or none.
fn open_route(app: &AppRow) -> Option<Route> {
    let open = Status::parse(&app.status).is_ok_and(Status::is_open);
    Route::parse(&app.route).ok().filter(|_| open)
}

/// A case's DTO from its row, its parts and what blocks its approval.
fn case_view(
    cal: &WorkingDayCalendar,
    app: AppRow,
    parts: CaseParts,
    blocker: Option<crate::domain::Invalid>,
    now: DateTime<Utc>,
) -> ApplicationDto {
    let today = shanghai_date(now);
    let CaseParts {
        items,
        steps,
        suspensions,
        decisions,
        copies,
    } = parts;
    let decision_dto = |d: &db::applications::DecisionRow| DecisionDto {
        reasons: json_list(&d.reasons),
        conditions: json_list(&d.conditions),
        side: d.side.clone(),
        outcome: d.outcome.clone(),
        decided_by: d.decided_by.clone(),
        decided_at: d.decided_at.and_utc().to_rfc3339(),
    };
    let refusal = match (&app.refusal_number, app.refused_at) {
        (Some(number), Some(at)) => {
            let on = shanghai_date(from_db_time(at));
            let r = crate::domain::documents::remedies(on);
            Some(RefusalDto {
                kind: if app.status == Status::NotAccepted.as_str() {
                    "not_accepted"
                } else {
                    "not_permitted"
                }
                .into(),
                number: number.clone(),
                decided_at: at.and_utc().to_rfc3339(),
                decided_on: on.to_string(),
                reasons: app.refusal_reasons.as_deref().map(json_list).unwrap_or_default(),
                receiving_opinion: decisions
                    .iter()
                    .rev()
                    .find(|d| d.side == Side::Receiving.as_str() && app.route == Route::Standard.as_str())
                    .map(decision_dto),
                remedies: RemediesDto {
                    statement: format!(
                        "如不服本决定，可以自收到本决定之日起{}日内依法申请行政复议，或者在{}个月内依法提起行政诉讼。",
                        r.review_days, r.suit_months
                    ),
                    review_days: r.review_days,
                    review_until: r.review_until.to_string(),
                    suit_months: r.suit_months,
                    suit_until: r.suit_until.to_string(),
                },
            })
        }
        _ => None,
    };
    let letter = |n: &Option<String>, d: &Option<String>| match (n, d) {
        (Some(number), Some(date)) => Some(LetterDto {
            number: number.clone(),
            date: date.clone(),
        }),
        _ => None,
    };
    let consultation_letter = letter(&app.consultation_number, &app.consultation_date);
    let reply = letter(&app.reply_number, &app.reply_date);
    let approval_blocked = blocker.map(|i| BlockerDto {
        code: i.code.to_string(),
        message: i.message,
    });
    ApplicationDto {
        approval_blocked,
        steps: steps
            .into_iter()
            .map(|s| {
                let mine: Vec<SuspensionDto> = suspensions
                    .iter()
                    .filter(|x| x.step_id == s.id)
                    .map(|x| SuspensionDto {
                        reason: x.reason.clone(),
                        suspended_on: x.suspended_on.clone(),
                        resumed_on: x.resumed_on.clone(),
                    })
                    .collect();
                let suspended = mine.iter().any(|x| x.resumed_on.is_none());
                let open = s.completed_at.is_none();
                let due_on = NaiveDate::parse_from_str(&s.due_on, "%Y-%m-%d").unwrap_or(today);
                StepDto {
                    working_days_left: open.then(|| cal.working_days_between(today, due_on).0),
                    overdue: open && !suspended && !s.provisional && now > from_db_time(s.due_at),
                    awaiting_notice: open && !suspended && s.provisional && now > from_db_time(s.due_at),
                    suspended,
                    suspensions: mine,
                    kind: s.kind,
                    side: s.side,
                    started_on: s.started_on,
                    working_days: s.working_days,
                    due_on: s.due_on,
                    due_at: from_db_time(s.due_at).to_rfc3339(),
                    provisional: s.provisional,
                    completed_at: s.completed_at.map(|t| t.and_utc().to_rfc3339()),
                    outcome: s.outcome,
                }
            })
            .collect(),
        items: items
            .into_iter()
            .map(|i| ItemDto {
                line: i.line,
                hazards: i
                    .hazards
                    .split('/')
                    .filter(|h| !h.is_empty())
                    .map(str::to_string)
                    .collect(),
                waste_code: i.waste_code,
                category: i.category,
                waste_name: i.waste_name,
                physical_form: i.physical_form,
                packaging: i.packaging,
                quantity_kg: grams_to_kg_string(i.quantity_g),
                entry_id: i.entry_id,
                entry_version: i.entry_version,
                shipped_kg: grams_to_kg_string(i.shipped_g),
                received_kg: grams_to_kg_string(i.received_g),
            })
            .collect(),
        decisions: decisions.iter().map(decision_dto).collect(),
        refusal,
        consultation_letter,
        reply,
        approval: match (app.approval_number.clone(), app.approved_at, app.valid_until.clone()) {
            (Some(number), Some(at), Some(valid_until)) => Some(ApprovalDto {
                number,
                approved_at: at.and_utc().to_rfc3339(),
                valid_until,
                revoked_at: app.revoked_at.map(|t| t.and_utc().to_rfc3339()),
                revocation_reasons: app.revocation_reasons.as_deref().map(json_list).unwrap_or_default(),
                copies: copies
                    .into_iter()
                    .map(|c| CopyDto {
                        recipient: c.recipient,
                        province: c.province,
                        department: c.department,
                        sent_at: c.sent_at.and_utc().to_rfc3339(),
                    })
                    .collect(),
            }),
            _ => None,
        },
        route_reasons: json_list(&app.route_reasons),
        carriers: serde_json::from_str::<Vec<Carrier>>(&app.carriers)
            .unwrap_or_default()
            .into_iter()
            .map(|c| CarrierDto {
                name: c.name,
                permit_number: c.permit_number,
                plate: c.plate,
            })
            .collect(),
        correction_notice: app.correction_notice.as_deref().map(json_list),
        id: app.id,
        status: app.status,
        route: app.route,
        receiving_consent: app.receiving_consent,
        enterprise_id: app.enterprise_id,
        operator_id: app.operator_id,
        source_province: app.source_province,
        receiving_province: app.receiving_province,
        method: app.method,
        period_start: app.period_start,
        period_end: app.period_end,
        catalogue_edition: app.catalogue_edition,
        warnings: NaiveDate::parse_from_str(&app.received_on, "%Y-%m-%d")
            .map(|on| crate::service::catalogue::edition_warnings(app.catalogue_edition, on))
            .unwrap_or_default(),
        received_at: app.received_at.and_utc().to_rfc3339(),
        accepted_on: app.accepted_on,
        deemed_accepted: app.deemed_accepted,
        version: app.version,
        updated_at: app.updated_at.and_utc().to_rfc3339(),
    }
}

/// The whole case as the caller may see it (404 outside its scope).
///
/// One checkout: the row, the caller's right to see it, the calendar and the case's parts are
/// read on one connection.
pub async fn case_dto(state: &AppState, who: &Principal, id: String) -> Result<ApplicationDto> {
    let calendars = state.calendars.clone();
    let who = who.clone();
    state
        .db
        .run(move |conn| {
            let app = match visible_on(conn, &who, &id)? {
                Ok(app) => app,
                Err(e) => return Ok(Err(e)),
            };
            let cal = calendars.on(conn)?;
            load_dto(conn, &cal, app, Utc::now()).map(Ok)
        })
        .await?
}

/// The side the caller's province takes in a case, if it is a regulator of one of them.
pub fn regulator_side(who: &Principal, dto: &ApplicationDto) -> Option<Side> {
    match (&who.role, &who.binding) {
        (Role::Regulator, Binding::Province(p)) if p.as_str() == dto.source_province => Some(Side::Source),
        (Role::Regulator, Binding::Province(p)) if p.as_str() == dto.receiving_province => Some(Side::Receiving),
        _ => None,
    }
}

pub async fn load_visible(state: &AppState, who: &Principal, id: String) -> Result<AppRow> {
    let who = who.clone();
    state.db.run(move |conn| visible_on(conn, &who, &id)).await?
}

/// The case's row if the caller may see it, on a connection the caller holds: the outer result
/// is the database's, the inner one the caller's right (404 outside its scope).
fn visible_on(conn: &mut db::DbConnection, who: &Principal, id: &str) -> db::DbResult<Result<AppRow>> {
    Ok(match db::applications::app_by_id(conn, id)? {
        None => Err(Error::Hidden),
        Some(app) => authorize(who, &app, ()).map(|()| app).map_err(Into::into),
    })
}
