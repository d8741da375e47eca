//! The workflow steps of a case (受理, 补正, 审查决定, 撤回, 中止/恢复计时): one use case that both
//! doors call, with the rules they must not each write: the texts of the act, and that a decision
//! names the version the officer saw.

use chrono::Utc;
use serde::Deserialize;
use utoipa::ToSchema;
use validator::Validate;

use super::case::{ApplicationDto, actor_for, load_dto, load_visible};
use crate::db::{self, applications::ActContext, applications::ActRefusal};
use crate::domain::workflow::{Act, LetterText, Side};
use crate::service::commands::{date_schema, text_schema, texts_schema, valid_date, valid_text, valid_texts};
use crate::service::{Ctx, Error, FieldProblem, Result};
use crate::state::AppState;

/// Applies one workflow act for the caller. Refused, with every problem, when its texts are
/// invalid; 403-like when it is not the caller's step; a conflict when the state does not allow
/// it; stale when `expected` names an older version (someone acted first); and a decision without
/// `expected` needs one ("precondition required").
pub async fn take_step(
    state: &AppState,
    ctx: &Ctx,
    id: String,
    expected: Option<i32>,
    act: Act,
) -> Result<(i32, ApplicationDto)> {
    let problems = act.problems();
    if !problems.is_empty() {
        return Err(Error::Invalid(
            problems.iter().map(|(p, i)| FieldProblem::body(p.clone(), i)).collect(),
        ));
    }
    if act.needs_version() && expected.is_none() {
        return Err(Error::PreconditionRequired(
            "send the application's version (If-Match with its ETag), so two officers cannot decide the same step twice"
                .into(),
        ));
    }
    let who = &ctx.who;
    let app = load_visible(state, who, id).await?;
    let actor =
        actor_for(who, &app).ok_or_else(|| Error::Forbidden("this caller takes no step in this case".into()))?;
    let calendars = state.calendars.clone();
    let close = state.config.office_close;
    let (name, role) = (who.name.clone(), who.role.as_str());
    let now = Utc::now();
    let result = state
        .db
        .run(move |conn| {
            let cal = calendars.on(conn)?;
            let ctx = ActContext {
                cal: &cal,
                office_close: close,
                actor,
                name: &name,
                role,
                now,
            };
            match db::applications::act(conn, &ctx, &app.id, expected, &act)? {
                Ok(app) => Ok(Ok((app.version, load_dto(conn, &cal, app, now)?))),
                Err(r) => Ok(Err(r)),
            }
        })
        .await
        .map_err(|e| match e {
            db::DbError::Conflict(_) => Error::Conflict("someone acted on the case first; reload it".into()),
            other => other.into(),
        })?;
    match result {
        Ok((version, dto)) => Ok((version, dto)),
        Err(ActRefusal::NotYours(i)) => Err(Error::Forbidden(i.message)),
        Err(ActRefusal::State(i)) => Err(Error::Refused(i)),
        Err(ActRefusal::Stale { current }) => Err(Error::stale("application", current)),
        Err(ActRefusal::Input(problems)) => Err(Error::Invalid(
            problems.iter().map(|(p, i)| FieldProblem::body(p.clone(), i)).collect(),
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// The commands of the steps, as clients send them. Each type is the parser of its body and the
// source of its schema in the published document; `validator` applies the domain's text rule.

fn trimmed(list: Vec<String>) -> Vec<String> {
    list.into_iter().map(|s| s.trim().to_string()).collect()
}

/// 补正: every problem of the application, at once (the notice is one-time).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectionInput {
    #[validate(length(min = 1), custom(function = "valid_texts::<2000>"))]
    #[schema(schema_with = texts_schema::<2000, 1>)]
    pub problems: Vec<String>,
}

/// The resubmission after a correction notice: what was corrected.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResubmitInput {
    #[validate(custom(function = "valid_text::<2000>"))]
    #[schema(schema_with = text_schema::<2000>)]
    pub note: String,
}

/// A withdrawal, optionally with why.
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawInput {
    #[serde(default, deserialize_with = "crate::service::commands::present")]
    #[validate(custom(function = "valid_text::<2000>"))]
    #[schema(schema_with = text_schema::<2000>)]
    pub reason: Option<String>,
}

/// 中止计时: why the decision clock stops (a hearing, an expert review, …).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuspendClockInput {
    #[validate(custom(function = "valid_text::<2000>"))]
    #[schema(schema_with = text_schema::<2000>)]
    pub reason: String,
}

/// Moving a whitelist case to the standard route (an entry it draws on was suspended): why, as
/// the enterprise will read it.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RerouteInput {
    #[validate(custom(function = "valid_text::<2000>"))]
    #[schema(schema_with = text_schema::<2000>)]
    pub reason: String,
}

/// 不予受理: the reasons for refusing to accept the application, at least one. Unlike a
/// correction notice (补正) it ends the case; the source province's decision is numbered.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefuseAcceptanceInput {
    #[validate(length(min = 1), custom(function = "valid_texts::<2000>"))]
    #[schema(schema_with = texts_schema::<2000, 1>)]
    pub reasons: Vec<String>,
}

impl From<RefuseAcceptanceInput> for Act {
    fn from(r: RefuseAcceptanceInput) -> Act {
        Act::RefuseAcceptance {
            reasons: trimmed(r.reasons),
        }
    }
}

/// A letter as its department numbered and dated it: the consultation letter (商请函) with the
/// source's agreeing review, the reply (复函) with the receiving province's opinion.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LetterInput {
    /// The number in the department's own register, e.g. 湘环固函〔2022〕73号.
    #[validate(custom(function = "valid_text::<64>"))]
    #[schema(schema_with = text_schema::<64>)]
    pub number: String,
    /// The letter's date: not after today, not before the step it belongs to started.
    #[validate(custom(function = "valid_date"))]
    #[schema(schema_with = date_schema)]
    pub date: String,
}

impl From<LetterInput> for LetterText {
    fn from(l: LetterInput) -> LetterText {
        LetterText {
            number: l.number.trim().to_string(),
            date: l.date.trim().to_string(),
        }
    }
}

/// 撤销: the reasons for revoking an approval, at least one.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeInput {
    #[validate(length(min = 1), custom(function = "valid_texts::<2000>"))]
    #[schema(schema_with = texts_schema::<2000, 1>)]
    pub reasons: Vec<String>,
}

impl From<RerouteInput> for Act {
    fn from(r: RerouteInput) -> Act {
        Act::Reroute {
            reason: r.reason.trim().to_string(),
        }
    }
}

impl From<RevokeInput> for Act {
    fn from(r: RevokeInput) -> Act {
        Act::Revoke {
            reasons: trimmed(r.reasons),
        }
    }
}

/// A decision on a step. An approval may give reasons; a refusal must give at least one. On the
/// standard route the source's approval at review sends the consultation letter (商请函, whose
/// number and date `letter` gives), the receiving side's decision is its opinion in the reply
/// (复函, `letter` too): agreeing or not, the case returns to the source province for the final
/// decision, which after a disagreeing reply can only refuse. Other decisions carry no letter.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "outcome", rename_all = "lowercase", deny_unknown_fields)]
pub enum DecisionInput {
    Approve {
        /// The caller's province's side.
        side: Side,
        #[serde(default)]
        #[schema(schema_with = texts_schema::<2000, 0>)]
        reasons: Vec<String>,
        #[serde(default)]
        #[schema(schema_with = texts_schema::<2000, 0>)]
        conditions: Vec<String>,
        #[serde(default)]
        letter: Option<LetterInput>,
    },
    Refuse {
        /// The caller's province's side.
        side: Side,
        #[schema(schema_with = texts_schema::<2000, 1>)]
        reasons: Vec<String>,
        #[serde(default)]
        #[schema(schema_with = texts_schema::<2000, 0>)]
        conditions: Vec<String>,
        #[serde(default)]
        letter: Option<LetterInput>,
    },
}

impl Validate for DecisionInput {
    fn validate(&self) -> std::result::Result<(), validator::ValidationErrors> {
        let (reasons, conditions, letter, refusing) = match self {
            DecisionInput::Approve {
                reasons,
                conditions,
                letter,
                ..
            } => (reasons, conditions, letter, false),
            DecisionInput::Refuse {
                reasons,
                conditions,
                letter,
                ..
            } => (reasons, conditions, letter, true),
        };
        let mut errors = validator::ValidationErrors::new();
        if refusing && reasons.is_empty() {
            errors.add(
                "reasons",
                validator::ValidationError::new("length").with_message("a refusal gives at least one reason".into()),
            );
        }
        for (field, list) in [("reasons", reasons), ("conditions", conditions)] {
            if let Err(e) = valid_texts::<2000>(list) {
                errors.add(field, e);
            }
        }
        let mut result = if errors.is_empty() { Ok(()) } else { Err(errors) };
        if let Some(l) = letter {
            result = validator::ValidationErrors::merge(result, "letter", l.validate());
        }
        result
    }
}

impl From<CorrectionInput> for Act {
    fn from(c: CorrectionInput) -> Act {
        Act::RequestCorrection {
            problems: trimmed(c.problems),
        }
    }
}

impl From<ResubmitInput> for Act {
    fn from(r: ResubmitInput) -> Act {
        Act::Resubmit {
            note: r.note.trim().to_string(),
        }
    }
}

impl From<WithdrawInput> for Act {
    fn from(w: WithdrawInput) -> Act {
        Act::Withdraw {
            reason: w.reason.map(|r| r.trim().to_string()).unwrap_or_default(),
        }
    }
}

impl From<SuspendClockInput> for Act {
    fn from(s: SuspendClockInput) -> Act {
        Act::SuspendClock {
            reason: s.reason.trim().to_string(),
        }
    }
}

impl From<DecisionInput> for Act {
    fn from(d: DecisionInput) -> Act {
        let (side, approve, reasons, conditions, letter) = match d {
            DecisionInput::Approve {
                side,
                reasons,
                conditions,
                letter,
            } => (side, true, reasons, conditions, letter),
            DecisionInput::Refuse {
                side,
                reasons,
                conditions,
                letter,
            } => (side, false, reasons, conditions, letter),
        };
        Act::Decide {
            side,
            approve,
            reasons: trimmed(reasons),
            conditions: trimmed(conditions),
            letter: letter.map(Into::into),
        }
    }
}
