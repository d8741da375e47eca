//! The workflow's unit tests: the table's shape, the steps and their clocks.

use chrono::NaiveDate;

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
