//! The statutory steps after acceptance, their clocks with suspensions, and the rules of the
//! final decision and its letters.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::*;
use crate::domain::Invalid;
use crate::domain::calendar::{Due, WorkingDayCalendar};

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
pub fn letter_of(
    route: Route,
    status: Status,
    side: Side,
    approve: bool,
) -> Option<crate::domain::documents::LetterKind> {
    use crate::domain::documents::LetterKind;
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
