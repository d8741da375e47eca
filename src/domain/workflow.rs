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
    /// 不予受理: the source province refused to accept the application, with reasons (行政许可法
    /// 第32条); unlike a correction notice it ends the case.
    NotAccepted,
}

impl Status {
    pub const ALL: [Status; 13] = [
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
        Status::NotAccepted,
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
            Status::NotAccepted => "not_accepted",
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
            Status::Approved
                | Status::Refused
                | Status::Withdrawn
                | Status::Expired
                | Status::Revoked
                | Status::NotAccepted
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
    /// 不予受理: the application is refused at acceptance, with reasons; the case ends.
    RefuseAcceptance,
    Resubmit,
    /// No notice within 5 WD: counts as accepted on the day it was received.
    DeemAccept,
    /// Source preliminary review agrees: the consultation letter (商请函) goes out (standard route).
    SendConsultation,
    /// The receiving province's opinion (standard route, 第25条). Either opinion returns the case
    /// to the source province for its final decision (第26条).
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
            Action::RefuseAcceptance => "refuse_acceptance",
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
        S::Submitted,
        A::RefuseAcceptance,
        W::SourceRegulator,
        S::NotAccepted,
        "not_accepted",
    ),
    t(
        None,
        S::Resubmitted,
        A::RefuseAcceptance,
        W::SourceRegulator,
        S::NotAccepted,
        "not_accepted",
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
    // The receiving province's refusal is its opinion (第25条), not the end of the case: the
    // source province decides (第26条), and after a disagreeing reply it may only refuse.
    t(
        STD,
        S::ConsultationSent,
        A::ReceivingDisagree,
        W::ReceivingRegulator,
        S::ReceivingReplied,
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
    /// Whitelist route: 5 WD from acceptance for both provinces' decisions; this is the source's.
    WhitelistDecision,
    /// Whitelist route with the `consent` policy: the receiving province's own decision in the
    /// same 5 WD, with its own clock (queue, overdue flag, escalation, suspension).
    WhitelistConsent,
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
            StepKind::WhitelistConsent => "whitelist_consent",
            StepKind::SourceReview => "source_review",
            StepKind::ReceivingOpinion => "receiving_opinion",
            StepKind::SourceDecision => "source_decision",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        [
            StepKind::Acceptance,
            StepKind::WhitelistDecision,
            StepKind::WhitelistConsent,
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
            StepKind::ReceivingOpinion | StepKind::WhitelistConsent => Side::Receiving,
            _ => Side::Source,
        }
    }

    /// Whether the step's clock may be suspended. 行政许可法 第45条 excludes expert review,
    /// testing and hearings from the *decision* time; the 5 working days in which a correction
    /// notice (补正) must go out are not decision time, so that clock never stops.
    pub fn suspendable(self) -> bool {
        !matches!(self, StepKind::Acceptance)
    }
}

/// The steps that open when a case is accepted: on the whitelist route the source's decision
/// and, when the receiving province must consent, its own decision beside it (each province's
/// open decision is its own step); on the standard route the source's review.
pub fn steps_after_acceptance(route: Route, receiving_must_consent: bool) -> Vec<StepKind> {
    match route {
        Route::Whitelist if receiving_must_consent => vec![StepKind::WhitelistDecision, StepKind::WhitelistConsent],
        Route::Whitelist => vec![StepKind::WhitelistDecision],
        Route::Standard => vec![StepKind::SourceReview],
    }
}

/// The day an application counts as accepted when no correction notice came in time: the day
/// the materials the clock ran on arrived — the resubmission after a correction notice, else
/// the first receipt.
pub fn deemed_accepted_on(received_on: NaiveDate, resubmitted_on: Option<NaiveDate>) -> NaiveDate {
    resubmitted_on.unwrap_or(received_on)
}

/// The source province's final decision (第26条) rests on both opinions: after the receiving
/// province disagreed (第25条) it may refuse, not approve.
pub fn final_decision_allowed(approve: bool, receiving_agreed: bool) -> Result<(), Invalid> {
    if approve && !receiving_agreed {
        Err(Invalid::new(
            "workflow.receiving_disagreed",
            "the receiving province did not agree to the transfer: the final decision can only refuse it",
        ))
    } else {
        Ok(())
    }
}

/// The letter a decision on the standard route carries: the source's agreeing review sends the
/// consultation letter (商请函), the receiving province's opinion is its reply (复函). Other
/// decisions carry none.
pub fn letter_of(route: Route, status: Status, side: Side, approve: bool) -> Option<super::documents::LetterKind> {
    use super::documents::LetterKind;
    match (route, status, side, approve) {
        (Route::Standard, Status::UnderReview, Side::Source, true) => Some(LetterKind::Consultation),
        (Route::Standard, Status::ConsultationSent, Side::Receiving, _) => Some(LetterKind::Reply),
        _ => None,
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
        for s in [
            Status::Refused,
            Status::Withdrawn,
            Status::Expired,
            Status::Revoked,
            Status::NotAccepted,
        ] {
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
    fn a_receiving_refusal_is_an_opinion_and_the_source_decides() {
        let t = check(
            Route::Standard,
            Status::ConsultationSent,
            Action::ReceivingDisagree,
            Actor::ReceivingRegulator,
        )
        .unwrap();
        assert_eq!(t.to, Status::ReceivingReplied);
        assert!(t.to.is_open());
        // The source's final decision follows either opinion; after a refusal it can only refuse.
        assert_eq!(
            final_decision_allowed(true, false).unwrap_err().code,
            "workflow.receiving_disagreed"
        );
        assert!(final_decision_allowed(false, false).is_ok());
        assert!(final_decision_allowed(true, true).is_ok());
        assert!(final_decision_allowed(false, true).is_ok());
    }

    #[test]
    fn refusal_to_accept_ends_the_case_and_differs_from_a_correction() {
        for from in [Status::Submitted, Status::Resubmitted] {
            let t = check(Route::Standard, from, Action::RefuseAcceptance, Actor::SourceRegulator).unwrap();
            assert_eq!(t.to, Status::NotAccepted);
            assert!(!t.to.is_open());
            let c = find(Route::Standard, from, Action::RequestCorrection, Actor::SourceRegulator);
            assert!(c.is_none_or(|c| c.to.is_open()));
        }
        assert!(
            check(
                Route::Whitelist,
                Status::UnderReview,
                Action::RefuseAcceptance,
                Actor::SourceRegulator
            )
            .is_err()
        );
        assert!(Act::RefuseAcceptance { reasons: vec![] }.needs_version());
        assert_eq!(Act::RefuseAcceptance { reasons: vec![] }.problems()[0].0, "/reasons");
    }

    #[test]
    fn each_province_has_its_own_whitelist_decision_step() {
        assert_eq!(
            steps_after_acceptance(Route::Whitelist, true),
            vec![StepKind::WhitelistDecision, StepKind::WhitelistConsent]
        );
        assert_eq!(StepKind::WhitelistConsent.side(), Side::Receiving);
        assert_eq!(StepKind::WhitelistConsent.working_days(), 5);
        assert_eq!(
            steps_after_acceptance(Route::Whitelist, false),
            vec![StepKind::WhitelistDecision]
        );
        assert_eq!(
            steps_after_acceptance(Route::Standard, true),
            vec![StepKind::SourceReview]
        );
        assert_eq!(StepKind::parse("whitelist_consent"), Ok(StepKind::WhitelistConsent));
    }

    #[test]
    fn the_correction_window_never_stops_and_deemed_acceptance_dates_from_the_resubmission() {
        assert!(!StepKind::Acceptance.suspendable());
        for k in [
            StepKind::WhitelistDecision,
            StepKind::WhitelistConsent,
            StepKind::SourceReview,
            StepKind::ReceivingOpinion,
            StepKind::SourceDecision,
        ] {
            assert!(k.suspendable(), "{k:?}");
        }
        assert_eq!(deemed_accepted_on(d("2026-03-02"), None), d("2026-03-02"));
        assert_eq!(
            deemed_accepted_on(d("2026-03-02"), Some(d("2026-03-20"))),
            d("2026-03-20")
        );
    }

    #[test]
    fn letters_belong_to_the_consultation_and_the_reply() {
        use crate::domain::documents::LetterKind;
        assert_eq!(
            letter_of(Route::Standard, Status::UnderReview, Side::Source, true),
            Some(LetterKind::Consultation)
        );
        assert_eq!(
            letter_of(Route::Standard, Status::UnderReview, Side::Source, false),
            None
        );
        for approve in [true, false] {
            assert_eq!(
                letter_of(Route::Standard, Status::ConsultationSent, Side::Receiving, approve),
                Some(LetterKind::Reply)
            );
        }
        assert_eq!(
            letter_of(Route::Whitelist, Status::UnderReview, Side::Source, true),
            None
        );
        assert_eq!(
            letter_of(Route::Standard, Status::ReceivingReplied, Side::Source, true),
            None
        );
        let bad = Act::Decide {
            side: Side::Source,
            approve: true,
            reasons: vec![],
            conditions: vec![],
            letter: Some(LetterText {
                number: " ".into(),
                date: "2026-13-01".into(),
            }),
        };
        let p: Vec<String> = bad.problems().into_iter().map(|(p, _)| p).collect();
        assert_eq!(p, vec!["/letter/number".to_string(), "/letter/date".to_string()]);
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
            Action::RefuseAcceptance,
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

/// A letter as a party typed it: number and date (YYYY-MM-DD), checked by [`Act::problems`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LetterText {
    pub number: String,
    pub date: String,
}

/// A workflow request from a party: the command both doors build and the core checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Act {
    Accept,
    RequestCorrection {
        problems: Vec<String>,
    },
    /// 不予受理, with its reasons.
    RefuseAcceptance {
        reasons: Vec<String>,
    },
    Resubmit {
        note: String,
    },
    Decide {
        side: Side,
        approve: bool,
        reasons: Vec<String>,
        conditions: Vec<String>,
        /// The consultation letter or the reply this decision is, as the department numbered
        /// and dated it (see [`letter_of`]).
        letter: Option<LetterText>,
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
        matches!(
            self,
            Act::Decide { .. } | Act::Reroute { .. } | Act::Revoke { .. } | Act::RefuseAcceptance { .. }
        )
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
            Act::Revoke { reasons } | Act::RefuseAcceptance { reasons } => list(&mut out, "reasons", reasons, true),
            Act::Decide {
                approve,
                reasons,
                conditions,
                letter,
                ..
            } => {
                list(&mut out, "reasons", reasons, !approve);
                list(&mut out, "conditions", conditions, false);
                if let Some(l) = letter
                    && let Err(problems) = super::documents::Letter::parse(&l.number, &l.date)
                {
                    for (field, i) in problems {
                        out.push((format!("/letter/{field}"), i));
                    }
                }
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
            letter: None,
        };
        let p: Vec<String> = refuse.problems().into_iter().map(|(p, _)| p).collect();
        assert_eq!(p, vec!["/reasons".to_string(), "/conditions/0".to_string()]);
        let approve = Act::Decide {
            side: Side::Source,
            approve: true,
            reasons: vec![],
            conditions: vec!["x".repeat(STEP_TEXT_MAX)],
            letter: None,
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
