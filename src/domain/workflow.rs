//! The transfer-application state machine (部令第23号 and the whitelist route), as an explicit
//! transition table that tests walk exhaustively, and the statutory clocks.

mod act;
mod steps;
mod table;
#[cfg(test)]
mod table_walk;
#[cfg(test)]
mod tests;

pub use act::*;
pub use steps::*;
pub use table::*;

use serde::{Deserialize, Serialize};

use super::Invalid;

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
