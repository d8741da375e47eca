//! The workflow steps of a case (受理, 补正, 审查决定, 撤回, 中止/恢复计时): one use case that both
//! doors call, with the rules they must not each write: the texts of the act, and that a decision
//! names the version the officer saw.

use chrono::Utc;

use super::case::{ApplicationDto, actor_for, load_dto, load_visible};
use crate::db::{self, applications::ActContext, applications::ActRefusal};
use crate::domain::workflow::Act;
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
    let cal = state.calendar().await?;
    let close = state.config.office_close;
    let (name, role) = (who.name.clone(), who.role.as_str());
    let now = Utc::now();
    let result = state
        .db
        .run(move |conn| {
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
        Err(ActRefusal::State(i)) => Err(Error::Conflict(i.message)),
        Err(ActRefusal::Stale { current }) => Err(Error::stale("application", current)),
    }
}
