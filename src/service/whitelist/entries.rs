//! Whitelist entries: who may see and change them, and the status changes (confirm, suspend,
//! reinstate) with their version check.

use crate::auth::principal::{Binding, Principal, Role, Scope};
use crate::auth::{Decision, Guarded, authorize};
use crate::db::whitelist::EntryRow;
use crate::db::{self, DbConnection, DbError, DbResult};
use crate::domain::Invalid;
use crate::domain::calendar::shanghai_date;
use crate::domain::quantity::Quantity;
use crate::domain::whitelist::{
    EntryAction, EntryScope, EntryStatus, amendable, entry_transition, licence_fit_problems,
};
use crate::service::{Ctx, Error, FieldProblem, Location, Result};
use crate::state::AppState;

/// An entry's parties, as the permission rule needs them: read from a stored entry or from the
/// entry as a page lists it, so the page offers exactly what the service allows.
pub struct EntryView<'a> {
    pub source_province: &'a str,
    pub receiving_province: &'a str,
    pub operator_id: &'a str,
    pub proposed_by_province: &'a str,
    /// For an enterprise caller: its province (enterprises see their own province's list).
    pub enterprise_province: Option<String>,
}

impl<'a> EntryView<'a> {
    pub fn of(entry: &'a EntryRow, enterprise_province: Option<String>) -> EntryView<'a> {
        EntryView {
            source_province: &entry.source_province,
            receiving_province: &entry.receiving_province,
            operator_id: &entry.operator_id,
            proposed_by_province: &entry.proposed_by_province,
            enterprise_province,
        }
    }
}

impl Guarded for EntryView<'_> {
    type Action = Option<EntryAction>;
    fn decide(&self, who: &Principal, action: Option<EntryAction>) -> Decision {
        let visible = match who.scope() {
            Scope::All => true,
            Scope::Province(p) => self.source_province == p.as_str() || self.receiving_province == p.as_str(),
            Scope::Operator(id) => id == self.operator_id,
            Scope::Enterprise(_) => self.enterprise_province.as_deref() == Some(self.source_province),
            Scope::Nothing => false,
        };
        if !visible {
            return Decision::Hidden;
        }
        let Some(action) = action else {
            return Decision::Allow;
        };
        if who.role != Role::Regulator {
            return Decision::Forbidden("only the provinces' regulators change whitelist entries".into());
        }
        match action {
            EntryAction::Confirm if who.province().is_some_and(|p| p.as_str() == self.proposed_by_province) => {
                Decision::Forbidden("the other province must confirm what this province proposed".into())
            }
            _ => Decision::Allow,
        }
    }
}

/// The changes `who` may make to an entry in `status` now: those the permission rule allows
/// and the entry's lifecycle permits (a status change, or an amendment of the quota). The
/// whitelist and entry pages offer exactly these.
pub fn open_actions(who: &Principal, view: &EntryView<'_>, status: EntryStatus) -> Vec<EntryAction> {
    [
        EntryAction::Confirm,
        EntryAction::Suspend,
        EntryAction::Reinstate,
        EntryAction::Amend,
    ]
    .into_iter()
    .filter(|a| {
        view.decide(who, Some(*a)) == Decision::Allow
            && match a {
                EntryAction::Amend => amendable(status),
                _ => entry_transition(status, *a).is_ok(),
            }
    })
    .collect()
}

/// The province of the enterprise an enterprise caller acts for.
pub fn enterprise_province(conn: &mut DbConnection, who: &Principal) -> DbResult<Option<String>> {
    match &who.binding {
        Binding::Enterprise(id) => Ok(db::registry::enterprise_by_id(conn, id)?.map(|e| e.province)),
        _ => Ok(None),
    }
}

/// The entry `id` if the caller may see it, and may take `action` on it when one is named.
pub async fn load(state: &AppState, who: &Principal, id: String, action: Option<EntryAction>) -> Result<EntryRow> {
    Ok(load_open(state, who, id, action).await?.0)
}

/// As [`load`], with the changes the caller may make to the entry now ([`open_actions`], the
/// further source of a shared entry acting as its source).
pub async fn load_open(
    state: &AppState,
    who: &Principal,
    id: String,
    action: Option<EntryAction>,
) -> Result<(EntryRow, Vec<EntryAction>)> {
    let principal = who.clone();
    let (entry, ent_province) = state
        .db
        .run(move |conn| {
            let e = db::whitelist::entry_by_id(conn, &id)?;
            let p = enterprise_province(conn, &principal)?;
            Ok((e, p))
        })
        .await?;
    let entry = entry.ok_or(Error::Hidden)?;
    let mut view = EntryView::of(&entry, ent_province);
    // A further source of a shared entry sees and acts on it as its source.
    let mine = who.province().map(|p| p.as_str());
    let shared_source = match (&who.binding, &view.enterprise_province, &mine) {
        (Binding::Enterprise(_), Some(p), _) | (_, _, Some(p)) => {
            (entry.serves_source(p) && entry.source_province != *p).then(|| p.clone())
        }
        _ => None,
    };
    if let Some(p) = &shared_source {
        view.source_province = p;
    }
    authorize(who, &view, action)?;
    let open = EntryStatus::parse(&entry.status)
        .map(|s| open_actions(who, &view, s.effective(entry.year, shanghai_date(chrono::Utc::now()))))
        .unwrap_or_default();
    Ok((entry, open))
}

/// Confirms, suspends or reinstates an entry for the caller. `version` is the version the caller
/// saw (a stale one is refused, so two officers cannot undo each other); the API's `If-Match`
/// and the web UI's form both carry it as a number. Suspending and reinstating need a reason.
pub async fn change(
    state: &AppState,
    ctx: &Ctx,
    id: String,
    version: Option<i32>,
    action: EntryAction,
    reason: Option<String>,
) -> Result<EntryRow> {
    let reason = reason.map(|r| r.trim().to_string()).filter(|r| !r.is_empty());
    if let Some(problem) = reason_problem(action, reason.as_deref()) {
        return Err(Error::Invalid(vec![problem]));
    }
    let entry = load(state, &ctx.who, id, Some(action)).await?;
    if let Some(expected) = version
        && expected != entry.version
    {
        return Err(Error::stale("entry", entry.version));
    }
    let status = EntryStatus::parse(&entry.status)
        .map(|s| s.effective(entry.year, shanghai_date(ctx.now)))
        .map_err(Error::internal)?;
    let next = entry_transition(status, action).map_err(|i| Error::Conflict(i.message))?;
    let by = ctx.who.name.clone();
    let confirmed_by = (action == EntryAction::Confirm).then(|| ctx.who.name.clone());
    let updated = state
        .db
        .run(move |conn| {
            // An entry that starts (or starts again) to grant its quota must still fit the
            // operator's licence: valid, covering it, and within the capacity that its other
            // entries of the year leave (the licence or the entries may have changed since).
            if matches!(action, EntryAction::Confirm | EntryAction::Reinstate)
                && let Some(why) = licence_misfit(conn, &entry)?
            {
                return Ok(Err(Error::Refused(why)));
            }
            Ok(Ok(db::whitelist::change_status(
                conn,
                &entry.id,
                entry.version,
                next.as_str(),
                action.as_str(),
                reason.as_deref(),
                &by,
                confirmed_by.as_deref(),
            )?))
        })
        .await??
        .ok_or_else(|| Error::Conflict("someone changed the entry first; reload and try again".into()))?;
    Ok(updated)
}

/// Why the entry no longer fits its operator's licence for its year, all reasons in one.
fn licence_misfit(conn: &mut DbConnection, entry: &EntryRow) -> DbResult<Option<Invalid>> {
    let bad = |e: Invalid| DbError::Other(anyhow::anyhow!("stored entry {}: {e}", entry.id));
    let scope = EntryScope::parse(&entry.scope).map_err(bad)?;
    let quota = Quantity::from_grams(entry.quota_g).map_err(bad)?;
    let licence = db::registry::licence_in_year(conn, &entry.operator_id, entry.year)?
        .map(|l| l.to_domain())
        .transpose()?;
    let granted =
        db::whitelist::granted_to_operator(conn, &entry.operator_id, entry.year, &entry.category, Some(&entry.id))?;
    let problems = licence_fit_problems(licence.as_ref(), &scope, quota, entry.year, granted);
    Ok(problems.first().map(|first| {
        Invalid::new(
            first.code,
            problems
                .iter()
                .map(|p| p.message.as_str())
                .collect::<Vec<_>>()
                .join("; "),
        )
    }))
}

/// The reason's rule: required to suspend or reinstate, at most 500 characters, no control
/// characters.
pub fn reason_problem(action: EntryAction, reason: Option<&str>) -> Option<FieldProblem> {
    match reason {
        None if action != EntryAction::Confirm => Some(FieldProblem::new(
            Location::Body,
            "/reason",
            "body.required",
            "a reason is required",
        )),
        Some(r) if r.chars().count() > REASON_MAX || r.chars().any(char::is_control) => Some(FieldProblem::new(
            Location::Body,
            "/reason",
            "body.text",
            format!("must be at most {REASON_MAX} characters without control characters"),
        )),
        _ => None,
    }
}

/// The longest reason for a change of an entry's status.
pub const REASON_MAX: usize = 500;

/// A quota amended during the year by letter between the provinces (e.g. 川环函〔2026〕12号).
#[derive(Debug, serde::Deserialize, validator::Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AmendmentInput {
    /// The new annual quantity in kg; not below what the entry's filings already hold.
    #[validate(custom(function = "crate::service::commands::valid_kg"))]
    #[schema(schema_with = crate::service::applications::filing::kg_schema)]
    pub quota_kg: String,
    /// The letter's number, as written on it.
    #[validate(custom(function = "crate::service::commands::valid_text::<64>"))]
    #[schema(schema_with = crate::service::commands::text_schema::<64>)]
    pub letter_number: String,
    /// Why, as the letter says.
    #[validate(custom(function = "crate::service::commands::valid_text::<500>"))]
    #[schema(schema_with = crate::service::commands::text_schema::<500>)]
    pub reason: String,
}

/// Amends an entry's quota by letter (a regulator of either province of the entry; the letter is
/// their agreement): a new version citing the letter. The new quota keeps what the entry's
/// filings hold and fits the operator's licence with its other entries of the year; `version` is
/// the version the caller saw.
pub async fn amend(
    state: &AppState,
    ctx: &Ctx,
    id: String,
    version: Option<i32>,
    input: AmendmentInput,
) -> Result<EntryRow> {
    use validator::Validate;
    if let Err(e) = input.validate() {
        return Err(Error::Invalid(crate::service::commands::validation_problems(&e)));
    }
    let quota = Quantity::parse_kg(&input.quota_kg).map_err(|e| Error::invalid_field("/quota_kg", &e))?;
    let entry = load(state, &ctx.who, id, Some(EntryAction::Amend)).await?;
    if let Some(expected) = version
        && expected != entry.version
    {
        return Err(Error::stale("entry", entry.version));
    }
    let status = EntryStatus::parse(&entry.status)
        .map(|s| s.effective(entry.year, shanghai_date(ctx.now)))
        .map_err(Error::internal)?;
    if let Some(why) = crate::domain::whitelist::amendment_problem(status, quota, entry.reserved_g, entry.approved_g) {
        return Err(if why.code == "entry.amend_state" {
            Error::Refused(why)
        } else {
            Error::Invalid(vec![FieldProblem::body("/quota_kg", &why)])
        });
    }
    let by = ctx.who.name.clone();
    let (letter, reason) = (input.letter_number.trim().to_string(), input.reason.trim().to_string());
    state
        .db
        .run(move |conn| {
            let amended = EntryRow {
                quota_g: quota.grams(),
                ..entry.clone()
            };
            if let Some(why) = licence_misfit(conn, &amended)? {
                return Ok(Err(Error::Invalid(vec![FieldProblem::body("/quota_kg", &why)])));
            }
            Ok(
                db::whitelist::amend_quota(conn, &entry.id, entry.version, quota.grams(), &letter, &reason, &by)?
                    .ok_or_else(|| {
                        Error::Conflict(
                            "someone changed the entry first, or its filings now hold more than the new quota; reload"
                                .into(),
                        )
                    }),
            )
        })
        .await?
}
