//! Every (route, status, action, actor) combination walked against the table.

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
                        t.route.is_none_or(|r| r == route) && t.from == from && t.action == action && t.actor == actor
                    });
                    match check(route, from, action, actor) {
                        Ok(t) => {
                            assert!(in_table);
                            assert_eq!((t.from, t.action, t.actor), (from, action, actor));
                            allowed += 1;
                        }
                        Err(e) => {
                            assert!(!in_table, "{route:?} {from:?} {action:?} {actor:?}");
                            let other_party = TRANSITIONS
                                .iter()
                                .any(|t| t.route.is_none_or(|r| r == route) && t.from == from && t.action == action);
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
