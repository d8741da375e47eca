//! The transfer-application state machine (部令第23号 and the whitelist route), as an explicit
//! transition table that tests walk exhaustively, and the statutory clocks.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::Invalid;
use super::calendar::{Due, WorkingDayCalendar};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Route {
    /// Inside the whitelist: both provinces decide within 5 working days of acceptance.
    Whitelist,
    /// The standard route of 部令第23号: 5 / 10 / 5 working days.
    Standard,
}

impl Route {
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Whitelist => "whitelist",
            Route::Standard => "standard",
        }
    }
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        match s {
            "whitelist" => Ok(Route::Whitelist),
            "standard" => Ok(Route::Standard),
            _ => Err(Invalid::new("route", "route must be whitelist or standard")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Submitted,
    CorrectionRequested,
    Resubmitted,
    Accepted,
    UnderReview,
    ConsultationSent,
    ReceivingReplied,
    Approved,
    Refused,
    Withdrawn,
    Expired,
    /// 撤销: the source province revoked the approval; what was not shipped is released.
    Revoked,
}

impl Status {
    pub const ALL: [Status; 12] = [
        Status::Submitted,
        Status::CorrectionRequested,
        Status::Resubmitted,
        Status::Accepted,
        Status::UnderReview,
        Status::ConsultationSent,
        Status::ReceivingReplied,
        Status::Approved,
        Status::Refused,
        Status::Withdrawn,
        Status::Expired,
        Status::Revoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Submitted => "submitted",
            Status::CorrectionRequested => "correction_requested",
            Status::Resubmitted => "resubmitted",
            Status::Accepted => "accepted",
            Status::UnderReview => "under_review",
            Status::ConsultationSent => "consultation_sent",
            Status::ReceivingReplied => "receiving_replied",
            Status::Approved => "approved",
            Status::Refused => "refused",
            Status::Withdrawn => "withdrawn",
            Status::Expired => "expired",
            Status::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Status::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| Invalid::new("status", format!("unknown status {s}")))
    }

    /// No decision has been taken yet: the enterprise may still withdraw.
    pub fn is_open(self) -> bool {
        !matches!(
            self,
            Status::Approved | Status::Refused | Status::Withdrawn | Status::Expired | Status::Revoked
        )
    }
}

/// Which province acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Source,
    Receiving,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Source => "source",
            Side::Receiving => "receiving",
        }
    }
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        match s {
            "source" => Ok(Side::Source),
            "receiving" => Ok(Side::Receiving),
            _ => Err(Invalid::new("decision.side", "side must be source or receiving")),
        }
    }
}

/// Who takes an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Actor {
    /// The producer enterprise (user or API client) that filed.
    Enterprise,
    SourceRegulator,
    ReceivingRegulator,
    /// The deadline sweeper.
    System,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// 受理.
    Accept,
    /// 补正: a one-time notice listing every problem.
    RequestCorrection,
    Resubmit,
    /// No notice within 5 WD: counts as accepted on the day it was received.
    DeemAccept,
    /// Source preliminary review agrees: the consultation letter (商请函) goes out (standard route).
    SendConsultation,
    /// The receiving province's opinion (standard route).
    ReceivingAgree,
    ReceivingDisagree,
    /// A decision of one province on the whitelist route, or the source's final decision.
    Approve,
    Refuse,
    Withdraw,
    /// The approval's validity is over.
    Expire,
    /// A whitelist case that can no longer be approved on the whitelist route (an entry it draws
    /// on was suspended) moves to the standard route: reservation released, standard clock.
    Reroute,
    /// 撤销: the source province revokes an approval.
    Revoke,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Accept => "accept",
            Action::RequestCorrection => "request_correction",
            Action::Resubmit => "resubmit",
            Action::DeemAccept => "deem_accept",
            Action::SendConsultation => "send_consultation",
            Action::ReceivingAgree => "receiving_agree",
            Action::ReceivingDisagree => "receiving_disagree",
            Action::Approve => "approve",
            Action::Refuse => "refuse",
            Action::Withdraw => "withdraw",
            Action::Expire => "expire",
            Action::Reroute => "reroute",
            Action::Revoke => "revoke",
        }
    }
}

/// One row of the transition table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub route: Option<Route>,
    pub from: Status,
    pub action: Action,
    pub actor: Actor,
    pub to: Status,
    /// The event recorded in the case's timeline.
    pub event: &'static str,
}

use Action as A;
use Actor as W;
use Status as S;

const fn t(
    route: Option<Route>,
    from: Status,
    action: Action,
    actor: Actor,
    to: Status,
    event: &'static str,
) -> Transition {
    Transition {
        route,
        from,
        action,
        actor,
        to,
        event,
    }
}

const WL: Option<Route> = Some(Route::Whitelist);
const STD: Option<Route> = Some(Route::Standard);

/// The whole table. `Approve` on the whitelist route lands on `UnderReview` while another
/// province's consent is still due; see [`whitelist_after_approval`].
pub const TRANSITIONS: &[Transition] = &[
    // Acceptance (受理), both routes.
    t(
        None,
        S::Submitted,
        A::Accept,
        W::SourceRegulator,
        S::UnderReview,
        "accepted",
    ),
    t(
        None,
        S::Resubmitted,
        A::Accept,
        W::SourceRegulator,
        S::UnderReview,
        "accepted",
    ),
    t(
        None,
        S::Submitted,
        A::RequestCorrection,
        W::SourceRegulator,
        S::CorrectionRequested,
        "correction_requested",
    ),
    t(
        None,
        S::CorrectionRequested,
        A::Resubmit,
        W::Enterprise,
        S::Resubmitted,
        "resubmitted",
    ),
    t(
        None,
        S::Submitted,
        A::DeemAccept,
        W::System,
        S::UnderReview,
        "deemed_accepted",
    ),
    t(
        None,
        S::Resubmitted,
        A::DeemAccept,
        W::System,
        S::UnderReview,
        "deemed_accepted",
    ),
    // Whitelist route: both provinces decide in one 5-WD clock, in either order.
    t(
        WL,
        S::UnderReview,
        A::Approve,
        W::SourceRegulator,
        S::Approved,
        "source_approved",
    ),
    t(
        WL,
        S::UnderReview,
        A::Approve,
        W::ReceivingRegulator,
        S::Approved,
        "receiving_approved",
    ),
    t(
        WL,
        S::UnderReview,
        A::Refuse,
        W::SourceRegulator,
        S::Refused,
        "source_refused",
    ),
    t(
        WL,
        S::UnderReview,
        A::Refuse,
        W::ReceivingRegulator,
        S::Refused,
        "receiving_refused",
    ),
    // Standard route: review, consultation, opinion, final decision.
    t(
        STD,
        S::UnderReview,
        A::SendConsultation,
        W::SourceRegulator,
        S::ConsultationSent,
        "consultation_sent",
    ),
    t(
        STD,
        S::UnderReview,
        A::Refuse,
        W::SourceRegulator,
        S::Refused,
        "source_refused",
    ),
    t(
        STD,
        S::ConsultationSent,
        A::ReceivingAgree,
        W::ReceivingRegulator,
        S::ReceivingReplied,
        "receiving_agreed",
    ),
    t(
        STD,
        S::ConsultationSent,
        A::ReceivingDisagree,
        W::ReceivingRegulator,
        S::Refused,
        "receiving_disagreed",
    ),
    t(
        STD,
        S::ReceivingReplied,
        A::Approve,
        W::SourceRegulator,
        S::Approved,
        "source_approved",
    ),
    t(
        STD,
        S::ReceivingReplied,
        A::Refuse,
        W::SourceRegulator,
        S::Refused,
        "source_refused",
    ),
    // Withdrawal by the enterprise before a decision.
    t(
        None,
        S::Submitted,
        A::Withdraw,
        W::Enterprise,
        S::Withdrawn,
        "withdrawn",
    ),
    t(
        None,
        S::CorrectionRequested,
        A::Withdraw,
        W::Enterprise,
        S::Withdrawn,
        "withdrawn",
    ),
    t(
        None,
        S::Resubmitted,
        A::Withdraw,
        W::Enterprise,
        S::Withdrawn,
        "withdrawn",
    ),
    t(
        None,
        S::UnderReview,
        A::Withdraw,
        W::Enterprise,
        S::Withdrawn,
        "withdrawn",
    ),
    t(
        None,
        S::ConsultationSent,
        A::Withdraw,
        W::Enterprise,
        S::Withdrawn,
        "withdrawn",
    ),
    t(
        None,
        S::ReceivingReplied,
        A::Withdraw,
        W::Enterprise,
        S::Withdrawn,
        "withdrawn",
    ),
    // The approval's validity is over.
    t(None, S::Approved, A::Expire, W::System, S::Expired, "expired"),
    // 撤销 by the source province.
    t(None, S::Approved, A::Revoke, W::SourceRegulator, S::Revoked, "revoked"),
    // A whitelist case whose entry was suspended moves to the standard route, where it stands.
    t(
        WL,
        S::Submitted,
        A::Reroute,
        W::SourceRegulator,
        S::Submitted,
        "rerouted",
    ),
    t(
        WL,
        S::CorrectionRequested,
        A::Reroute,
        W::SourceRegulator,
        S::CorrectionRequested,
        "rerouted",
    ),
    t(
        WL,
        S::Resubmitted,
        A::Reroute,
        W::SourceRegulator,
        S::Resubmitted,
        "rerouted",
    ),
    t(
        WL,
        S::UnderReview,
        A::Reroute,
        W::SourceRegulator,
        S::UnderReview,
        "rerouted",
    ),
];

/// The transition for (route, status, action, actor), if the table has one.
pub fn find(route: Route, from: Status, action: Action, actor: Actor) -> Option<&'static Transition> {
    TRANSITIONS
        .iter()
        .find(|t| t.route.is_none_or(|r| r == route) && t.from == from && t.action == action && t.actor == actor)
}

/// Like [`find`], with a message naming why not.
pub fn check(route: Route, from: Status, action: Action, actor: Actor) -> Result<&'static Transition, Invalid> {
    if let Some(t) = find(route, from, action, actor) {
        return Ok(t);
    }
    let someone_can = TRANSITIONS
        .iter()
        .any(|t| t.route.is_none_or(|r| r == route) && t.from == from && t.action == action);
    Err(if someone_can {
        Invalid::new(
            "workflow.not_your_step",
            format!("{} is not this party's step", action.as_str()),
        )
    } else {
        Invalid::new(
            "workflow.invalid_transition",
            format!(
                "a {} application on the {} route cannot be {}",
                from.as_str(),
                route.as_str(),
                action.as_str()
            ),
        )
    })
}

/// On the whitelist route, whether an approval completes the case: with a receiving province
/// that must consent, both sides' approvals are needed; if it is only informed, the source's is.
pub fn whitelist_after_approval(
    receiving_must_consent: bool,
    source_approved: bool,
    receiving_approved: bool,
) -> Status {
    let complete = source_approved && (receiving_approved || !receiving_must_consent);
    if complete {
        Status::Approved
    } else {
        Status::UnderReview
    }
}

/// The statutory steps and their working-day allowances (DESIGN §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// 5 WD from receipt; a late notice means the application counts as accepted on receipt.
    Acceptance,
    /// Whitelist route: 5 WD from acceptance for both provinces' decisions.
    WhitelistDecision,
    /// Standard: 5 WD from acceptance.
    SourceReview,
    /// Standard: 10 WD from receipt of the consultation letter.
    ReceivingOpinion,
    /// Standard: 5 WD from receipt of the reply.
    SourceDecision,
}

impl StepKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Acceptance => "acceptance",
            StepKind::WhitelistDecision => "whitelist_decision",
            StepKind::SourceReview => "source_review",
            StepKind::ReceivingOpinion => "receiving_opinion",
            StepKind::SourceDecision => "source_decision",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        [
            StepKind::Acceptance,
            StepKind::WhitelistDecision,
            StepKind::SourceReview,
            StepKind::ReceivingOpinion,
            StepKind::SourceDecision,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| Invalid::new("step", format!("unknown step {s}")))
    }

    pub fn working_days(self) -> u32 {
        match self {
            StepKind::ReceivingOpinion => 10,
            _ => 5,
        }
    }

    /// The province that must act in this step.
    pub fn side(self) -> Side {
        match self {
            StepKind::ReceivingOpinion => Side::Receiving,
            _ => Side::Source,
        }
    }
}

/// A recorded clock suspension (行政许可法 第45条): expert review, testing or a hearing. The
/// working days from `from` (inclusive) to `until` (exclusive; open = still suspended, counted
/// up to `today`) are excluded from the step's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suspension {
    pub from: NaiveDate,
    pub until: Option<NaiveDate>,
}

/// The due day of a step started on `trigger` (the start day excluded), extended by the working
/// days its clock was suspended.
pub fn step_due(
    cal: &WorkingDayCalendar,
    kind: StepKind,
    trigger: NaiveDate,
    suspensions: &[Suspension],
    today: NaiveDate,
) -> Due {
    let mut extra = 0u32;
    let mut provisional = false;
    for s in suspensions {
        let until = s.until.unwrap_or(today.succ_opt().unwrap_or(today));
        // Working days in [from, until): those between from-1 (excluded) and until-1 (included).
        let start = s.from.pred_opt().unwrap_or(s.from);
        let end = until.pred_opt().unwrap_or(until);
        let (n, p) = cal.working_days_between(start, end);
        extra += n;
        provisional |= p;
    }
    let due = cal.add_working_days(trigger, kind.working_days() + extra);
    Due {
        date: due.date,
        provisional: due.provisional || provisional,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::calendar::embedded_calendar;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn table_is_deterministic() {
        // No two rows share (route, from, action, actor) for the same route.
        for route in [Route::Whitelist, Route::Standard] {
            for (i, a) in TRANSITIONS.iter().enumerate() {
                for b in &TRANSITIONS[i + 1..] {
                    let overlap = a.route.is_none_or(|r| r == route) && b.route.is_none_or(|r| r == route);
                    assert!(
                        !(overlap && a.from == b.from && a.action == b.action && a.actor == b.actor),
                        "{a:?} / {b:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn terminal_states_have_no_way_out_but_expiry_or_revocation() {
        for s in [Status::Refused, Status::Withdrawn, Status::Expired, Status::Revoked] {
            assert!(TRANSITIONS.iter().all(|t| t.from != s), "{s:?}");
            assert!(!s.is_open());
        }
        assert!(
            TRANSITIONS
                .iter()
                .filter(|t| t.from == Status::Approved)
                .all(|t| matches!(t.action, Action::Expire | Action::Revoke))
        );
    }

    #[test]
    fn whitelist_consent_policy() {
        assert_eq!(whitelist_after_approval(true, true, false), Status::UnderReview);
        assert_eq!(whitelist_after_approval(true, false, true), Status::UnderReview);
        assert_eq!(whitelist_after_approval(true, true, true), Status::Approved);
        assert_eq!(whitelist_after_approval(false, true, false), Status::Approved);
        assert_eq!(whitelist_after_approval(false, false, true), Status::UnderReview);
    }

    #[test]
    fn clocks_follow_the_calendar_and_suspensions() {
        let cal = embedded_calendar();
        let today = d("2025-12-31");
        assert_eq!(
            step_due(cal, StepKind::WhitelistDecision, d("2025-09-26"), &[], today).date,
            d("2025-10-10")
        );
        assert_eq!(
            step_due(cal, StepKind::ReceivingOpinion, d("2026-02-13"), &[], today).date,
            d("2026-03-05")
        );
        // Suspended Mon 2025-03-03 to Wed 2025-03-05: two working days (Mon, Tue) excluded.
        let s = [Suspension {
            from: d("2025-03-03"),
            until: Some(d("2025-03-05")),
        }];
        let plain = step_due(cal, StepKind::SourceReview, d("2025-02-28"), &[], today).date;
        assert_eq!(plain, d("2025-03-07"));
        assert_eq!(
            step_due(cal, StepKind::SourceReview, d("2025-02-28"), &s, today).date,
            d("2025-03-11")
        );
        // A suspension over a weekend costs nothing.
        let s = [Suspension {
            from: d("2025-03-08"),
            until: Some(d("2025-03-10")),
        }];
        assert_eq!(
            step_due(cal, StepKind::SourceReview, d("2025-02-28"), &s, today).date,
            plain
        );
    }
}

#[cfg(test)]
mod table_walk {
    use super::*;

    /// Every (route, status, action, actor) combination: allowed exactly when the table says
    /// so, and a refusal says whether it is another party's step or impossible in this state.
    #[test]
    fn every_combination() {
        let actions = [
            Action::Accept,
            Action::RequestCorrection,
            Action::Resubmit,
            Action::DeemAccept,
            Action::SendConsultation,
            Action::ReceivingAgree,
            Action::ReceivingDisagree,
            Action::Approve,
            Action::Refuse,
            Action::Withdraw,
            Action::Expire,
            Action::Reroute,
            Action::Revoke,
        ];
        let actors = [
            Actor::Enterprise,
            Actor::SourceRegulator,
            Actor::ReceivingRegulator,
            Actor::System,
        ];
        let mut allowed = 0;
        for route in [Route::Whitelist, Route::Standard] {
            for from in Status::ALL {
                for action in actions {
                    for actor in actors {
                        let in_table = TRANSITIONS.iter().any(|t| {
                            t.route.is_none_or(|r| r == route)
                                && t.from == from
                                && t.action == action
                                && t.actor == actor
                        });
                        match check(route, from, action, actor) {
                            Ok(t) => {
                                assert!(in_table);
                                assert_eq!((t.from, t.action, t.actor), (from, action, actor));
                                allowed += 1;
                            }
                            Err(e) => {
                                assert!(!in_table, "{route:?} {from:?} {action:?} {actor:?}");
                                let other_party = TRANSITIONS.iter().any(|t| {
                                    t.route.is_none_or(|r| r == route) && t.from == from && t.action == action
                                });
                                let code = if other_party {
                                    "workflow.not_your_step"
                                } else {
                                    "workflow.invalid_transition"
                                };
                                assert_eq!(e.code, code);
                            }
                        }
                    }
                }
            }
        }
        // Shared rows count twice (both routes); whitelist-only and standard-only rows once.
        let shared = TRANSITIONS.iter().filter(|t| t.route.is_none()).count();
        let own = TRANSITIONS.len() - shared;
        assert_eq!(allowed, shared * 2 + own);
        // 撤销 is the source province's alone, and only of an approval; rerouting only leaves the
        // whitelist route and never changes where the case stands.
        for t in TRANSITIONS.iter().filter(|t| t.action == Action::Revoke) {
            assert_eq!(
                (t.from, t.actor, t.to),
                (Status::Approved, Actor::SourceRegulator, Status::Revoked)
            );
        }
        for t in TRANSITIONS.iter().filter(|t| t.action == Action::Reroute) {
            assert_eq!(
                (t.route, t.actor, t.to),
                (Some(Route::Whitelist), Actor::SourceRegulator, t.from)
            );
            assert!(t.from.is_open());
        }
        // Regulators never withdraw; enterprises never decide; the system only deems and expires.
        for t in TRANSITIONS {
            match t.actor {
                Actor::Enterprise => assert!(matches!(t.action, Action::Resubmit | Action::Withdraw)),
                Actor::System => assert!(matches!(t.action, Action::DeemAccept | Action::Expire)),
                _ => assert!(!matches!(
                    t.action,
                    Action::Withdraw | Action::Resubmit | Action::DeemAccept | Action::Expire
                )),
            }
        }
    }
}

/// The longest text of one reason, problem, condition or note in a step (a reasonable page of a
/// decision document; the API and the UI both apply it through [`Act::problems`]).
pub const STEP_TEXT_MAX: usize = 2000;

/// A workflow request from a party: the command both doors build and the core checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Act {
    Accept,
    RequestCorrection {
        problems: Vec<String>,
    },
    Resubmit {
        note: String,
    },
    Decide {
        side: Side,
        approve: bool,
        reasons: Vec<String>,
        conditions: Vec<String>,
    },
    Withdraw {
        reason: String,
    },
    SuspendClock {
        reason: String,
    },
    ResumeClock,
    /// Move a whitelist case to the standard route, saying why.
    Reroute {
        reason: String,
    },
    /// 撤销 an approval, with its reasons.
    Revoke {
        reasons: Vec<String>,
    },
}

impl Act {
    /// A decision needs the version the officer saw, so two officers cannot decide one step twice.
    pub fn needs_version(&self) -> bool {
        matches!(self, Act::Decide { .. } | Act::Reroute { .. } | Act::Revoke { .. })
    }

    /// Every problem with the texts of this act, as (JSON pointer, problem): a correction notice
    /// lists at least one problem, a refusal at least one reason, a suspension of the clock says
    /// why (a withdrawal may), a resubmission what was corrected; each text is 1 to
    /// [`STEP_TEXT_MAX`] characters.
    pub fn problems(&self) -> Vec<(String, Invalid)> {
        let mut out = Vec::new();
        let one = |out: &mut Vec<(String, Invalid)>, field: &str, text: &str| {
            if let Err(i) = step_text(text) {
                out.push((format!("/{field}"), i));
            }
        };
        let list = |out: &mut Vec<(String, Invalid)>, field: &str, texts: &[String], required: bool| {
            if required && texts.is_empty() {
                out.push((format!("/{field}"), Invalid::new("body.empty", "at least one entry")));
            }
            for (i, t) in texts.iter().enumerate() {
                if let Err(e) = step_text(t) {
                    out.push((format!("/{field}/{i}"), e));
                }
            }
        };
        match self {
            Act::Accept | Act::ResumeClock => {}
            Act::RequestCorrection { problems } => list(&mut out, "problems", problems, true),
            Act::Resubmit { note } => one(&mut out, "note", note),
            // A producer may withdraw without saying why; if it says, the text is bounded.
            Act::Withdraw { reason } if reason.trim().is_empty() => {}
            Act::Withdraw { reason } | Act::SuspendClock { reason } | Act::Reroute { reason } => {
                one(&mut out, "reason", reason)
            }
            Act::Revoke { reasons } => list(&mut out, "reasons", reasons, true),
            Act::Decide {
                approve,
                reasons,
                conditions,
                ..
            } => {
                list(&mut out, "reasons", reasons, !approve);
                list(&mut out, "conditions", conditions, false);
            }
        }
        out
    }
}

/// One text of a step: trimmed, 1 to [`STEP_TEXT_MAX`] characters, no control characters (a
/// line break inside a reason is written as two reasons).
pub fn step_text(s: &str) -> Result<String, Invalid> {
    super::error::text(s, STEP_TEXT_MAX)
}

#[cfg(test)]
mod act_tests {
    use super::*;

    #[test]
    fn a_refusal_needs_a_reason_and_every_text_its_length() {
        let refuse = Act::Decide {
            side: Side::Source,
            approve: false,
            reasons: vec![],
            conditions: vec!["x".repeat(STEP_TEXT_MAX + 1), "ok".into()],
        };
        let p: Vec<String> = refuse.problems().into_iter().map(|(p, _)| p).collect();
        assert_eq!(p, vec!["/reasons".to_string(), "/conditions/0".to_string()]);
        let approve = Act::Decide {
            side: Side::Source,
            approve: true,
            reasons: vec![],
            conditions: vec!["x".repeat(STEP_TEXT_MAX)],
        };
        assert!(approve.problems().is_empty());
        assert!(approve.needs_version());
    }

    #[test]
    fn notes_and_reasons_are_required_and_bounded() {
        assert_eq!(Act::SuspendClock { reason: "  ".into() }.problems()[0].0, "/reason");
        assert!(Act::Withdraw { reason: "".into() }.problems().is_empty());
        assert_eq!(
            Act::Withdraw {
                reason: "x".repeat(2001)
            }
            .problems()[0]
                .0,
            "/reason"
        );
        assert_eq!(
            Act::Resubmit {
                note: "é".repeat(2001)
            }
            .problems()[0]
                .1
                .code,
            "body.text"
        );
        assert_eq!(Act::RequestCorrection { problems: vec![] }.problems()[0].0, "/problems");
        assert!(
            Act::SuspendClock {
                reason: "等待补充材料".into()
            }
            .problems()
            .is_empty()
        );
        assert!(!Act::Accept.needs_version());
    }
}
