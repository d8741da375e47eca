//! The transition table: every (route, status, action, actor) the workflow allows, and where
//! it leads.

use super::*;

use super::Action as A;
use super::Actor as W;
use super::Status as S;

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
