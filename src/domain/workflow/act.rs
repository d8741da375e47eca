//! `Act`: the command of a workflow step as a party sends it, with its text rules.

use super::*;
use crate::domain::Invalid;

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
                    && let Err(problems) = crate::domain::documents::Letter::parse(&l.number, &l.date)
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
    crate::domain::error::text(s, STEP_TEXT_MAX)
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
