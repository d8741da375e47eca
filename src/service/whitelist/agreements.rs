//! Whitelist agreements (合作协议) between two provinces or among more (川渝滇黔's one
//! four-province mechanism): one member's regulator proposes, every other member's confirms; an
//! agreement counts once all have. Between any two of its members it works as a pair's would.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ArrayBuilder, Schema};
use validator::{Validate, ValidationError};

use crate::auth::permission::require_role;
use crate::auth::principal::{Principal, Role};
use crate::auth::{Decision, Guarded, authorize};
use crate::db::whitelist::{AgreementRow, INBOUND_LIST, MemberRow};
use crate::db::{self, db_now, new_id};
use crate::domain::calendar::parse_date;
use crate::domain::ids::ProvinceCode;
use crate::domain::quantity::{Quantity, grams_to_kg_string};
use crate::domain::whitelist::EntryAction;
use crate::service::applications::filing::kg_schema;
use crate::service::commands::{date_schema, enum_schema, province_schema, valid_date, valid_kg, validation_problems};
use crate::service::error::{FieldProblem, Location, validation_error};
use crate::service::{Ctx, Error, Result};
use crate::state::AppState;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AgreementDto {
    pub id: String,
    /// The member provinces (GB/T 2260), in code order: two, or more for a mechanism among
    /// several provinces.
    pub provinces: Vec<String>,
    /// Members that have not confirmed yet (the agreement counts once none is left).
    pub pending_confirmation: Vec<String>,
    pub valid_from: String,
    pub valid_until: String,
    /// `consent`: the receiving province must actively agree on the whitelist route;
    /// `inform`: it is informed only (川渝 practice).
    pub receiving_consent: String,
    /// Optional cap on one application's quantity, kg.
    pub cap_per_application_kg: Option<String>,
    /// 一事一批: each whitelist transfer completed within this many days of its approval (the
    /// approval's validity ends then at the latest); none when the agreement sets no limit.
    pub completion_days: Option<i32>,
    /// `mutual`, or `inbound_list`: a receiving province's one-sided list (its only member),
    /// pre-consenting to transfers from any province into its listed operators.
    pub kind: String,
    /// `proposed` until the other province confirms, then `confirmed`; `terminated` once a party
    /// terminated it (it counts on the days before `terminated_on`).
    pub status: String,
    pub proposed_by_province: String,
    pub confirmed_at: Option<String>,
    /// The first day the agreement no longer counts, once terminated.
    pub terminated_on: Option<String>,
    pub termination_reason: Option<String>,
}

impl AgreementDto {
    pub fn new(r: AgreementRow, members: Vec<MemberRow>) -> Self {
        let provinces = if members.is_empty() {
            vec![r.province_a.clone(), r.province_b.clone()]
        } else {
            members.iter().map(|m| m.province.clone()).collect()
        };
        AgreementDto {
            id: r.id,
            provinces,
            pending_confirmation: members
                .iter()
                .filter(|m| m.confirmed_at.is_none())
                .map(|m| m.province.clone())
                .collect(),
            valid_from: r.valid_from,
            valid_until: r.valid_until,
            receiving_consent: r.receiving_consent,
            cap_per_application_kg: r.cap_per_application_g.map(grams_to_kg_string),
            completion_days: r.completion_days,
            kind: r.kind,
            status: if r.terminated_on.is_some() {
                "terminated".to_string()
            } else {
                r.status
            },
            proposed_by_province: r.proposed_by_province,
            confirmed_at: r.confirmed_at.map(|t| t.and_utc().to_rfc3339()),
            terminated_on: r.terminated_on,
            termination_reason: r.termination_reason,
        }
    }
}

/// A proposed agreement: two or more different provinces, the caller's among them;
/// valid_until not before valid_from.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgreementInput {
    /// The member provinces, two or more (川渝滇黔: four); the caller's must be one of them.
    #[validate(custom(function = "valid_pair"))]
    #[schema(schema_with = pair_schema)]
    pub provinces: Vec<String>,
    #[validate(custom(function = "valid_date"))]
    #[schema(schema_with = date_schema)]
    pub valid_from: String,
    #[validate(custom(function = "valid_date"))]
    #[schema(schema_with = date_schema)]
    pub valid_until: String,
    /// `consent` (the receiving province agrees to each case) or `inform` (it is informed).
    #[validate(custom(function = "valid_consent"))]
    #[schema(schema_with = consent_schema)]
    pub receiving_consent: String,
    /// Optional cap on one application's quantity, kg.
    #[serde(default, deserialize_with = "crate::service::commands::present")]
    #[validate(custom(function = "valid_kg"))]
    #[schema(schema_with = kg_schema)]
    pub cap_per_application_kg: Option<String>,
    /// 一事一批: each whitelist transfer completed within this many days of its approval (1 to
    /// 366); leave it out for no limit.
    #[serde(default)]
    #[validate(range(min = 1, max = 366))]
    #[schema(minimum = 1, maximum = 366)]
    pub completion_days: Option<i32>,
    /// `mutual` (the default: two or more provinces, each confirming), or `inbound_list`: the
    /// caller's province alone, as the receiving province of a one-sided list that pre-consents to
    /// transfers from any province into its listed operators (no consultation letter: the source
    /// province approves alone); it counts at once and `receiving_consent` must be `inform`.
    #[serde(default)]
    #[validate(custom(function = "valid_kind"))]
    #[schema(schema_with = kind_schema)]
    pub kind: Option<String>,
}

fn valid_kind(s: &str) -> std::result::Result<(), ValidationError> {
    match s {
        "mutual" | "inbound_list" => Ok(()),
        _ => Err(ValidationError::new("agreement.kind").with_message("kind must be mutual or inbound_list".into())),
    }
}

fn kind_schema() -> Schema {
    enum_schema(
        &["mutual", "inbound_list"],
        "mutual: every member confirms; inbound_list: a receiving province's one-sided list",
    )
}

fn valid_pair(list: &[String]) -> std::result::Result<(), ValidationError> {
    for p in list {
        ProvinceCode::parse(p).map_err(validation_error)?;
    }
    let distinct: std::collections::BTreeSet<&String> = list.iter().collect();
    if list.is_empty() || distinct.len() != list.len() {
        return Err(ValidationError::new("agreement.provinces").with_message("different provinces".into()));
    }
    Ok(())
}

fn pair_schema() -> Schema {
    ArrayBuilder::new()
        .items(RefOr::T(province_schema()))
        .min_items(Some(1))
        .max_items(Some(31))
        .unique_items(true)
        .into()
}

fn valid_consent(s: &str) -> std::result::Result<(), ValidationError> {
    match s {
        "consent" | "inform" => Ok(()),
        _ => Err(ValidationError::new("agreement.receiving_consent")
            .with_message("receiving_consent must be consent or inform".into())),
    }
}

fn consent_schema() -> Schema {
    enum_schema(
        &["consent", "inform"],
        "consent: the receiving province agrees to each case; inform: it is informed",
    )
}

impl AgreementInput {
    /// Every problem at once, the period's included.
    pub fn problems(&self) -> Vec<FieldProblem> {
        let mut problems = self
            .validate()
            .err()
            .map(|e| validation_problems(&e))
            .unwrap_or_default();
        let inbound = self.kind.as_deref() == Some(INBOUND_LIST);
        let distinct: std::collections::BTreeSet<&String> = self.provinces.iter().collect();
        if inbound && (self.provinces.len() != 1 || self.receiving_consent != "inform") {
            problems.push(FieldProblem::new(
                Location::Body,
                "/provinces",
                "agreement.inbound_list",
                "a one-sided list names the receiving province alone, with receiving_consent inform",
            ));
        } else if !inbound && self.provinces.len() < 2 && distinct.len() == self.provinces.len() {
            problems.push(FieldProblem::new(
                Location::Body,
                "/provinces",
                "agreement.provinces",
                "two or more different provinces",
            ));
        }
        if let (Ok(from), Ok(until)) = (parse_date(&self.valid_from), parse_date(&self.valid_until))
            && until < from
        {
            problems.push(FieldProblem::new(
                Location::Body,
                "/valid_until",
                "agreement.period",
                "valid_until is before valid_from",
            ));
        }
        problems.sort_by(|a, b| a.pointer.cmp(&b.pointer));
        problems
    }
}

/// An agreement with its members, as the permission rule needs it.
pub struct AgreementParties<'a> {
    pub row: &'a AgreementRow,
    pub members: &'a [MemberRow],
}

impl Guarded for AgreementParties<'_> {
    type Action = EntryAction;
    fn decide(&self, who: &Principal, _action: EntryAction) -> Decision {
        confirm_decision(
            who,
            self.members.iter().map(|m| m.province.as_str()),
            &self.row.proposed_by_province,
        )
    }
}

/// Who may confirm an agreement among `members` that `proposer`'s province proposed: a
/// regulator of another member province.
fn confirm_decision<'a>(who: &Principal, mut members: impl Iterator<Item = &'a str>, proposer: &str) -> Decision {
    let Some(p) = who.province().filter(|_| who.role == Role::Regulator) else {
        return Decision::Forbidden("only a regulator of another member province may confirm".into());
    };
    let mine = p.as_str();
    match members.find(|m| *m == mine) {
        None => Decision::Forbidden("the agreement is among other provinces".into()),
        Some(_) if mine == proposer => {
            Decision::Forbidden("the other provinces must confirm what this province proposed".into())
        }
        Some(_) => Decision::Allow,
    }
}

/// What a reader may do to an agreement as a page lists it: confirm it for its province (still
/// pending there), or terminate it (a confirmed one, a member's regulator). [`confirm`] and
/// [`terminate`] decide again when the action is sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AgreementActions {
    pub confirm: bool,
    pub terminate: bool,
}

pub fn open_actions(who: &Principal, a: &AgreementDto) -> AgreementActions {
    let mine = who.province().map(|p| p.as_str()).unwrap_or_default();
    let confirm = confirm_decision(who, a.provinces.iter().map(String::as_str), &a.proposed_by_province)
        == Decision::Allow
        && a.pending_confirmation.contains(&mine);
    let terminate = who.role == Role::Regulator && a.provinces.contains(&mine) && a.status == "confirmed";
    AgreementActions { confirm, terminate }
}

/// Proposes an agreement between the caller's province and another; it counts once the other
/// province's regulator confirms.
pub async fn propose(state: &AppState, ctx: &Ctx, input: AgreementInput) -> Result<AgreementDto> {
    let who = &ctx.who;
    require_role(who, &[Role::Regulator])?;
    let problems = input.problems();
    if !problems.is_empty() {
        return Err(Error::Invalid(problems));
    }
    let invalid = |e: crate::domain::Invalid| Error::invalid_field("", &e);
    let mut provinces = input
        .provinces
        .iter()
        .map(|p| ProvinceCode::parse(p).map_err(invalid))
        .collect::<Result<Vec<_>>>()?;
    let mine = who.province().ok_or_else(|| Error::Forbidden("no province".into()))?;
    if !provinces.contains(&mine) {
        return Err(Error::Forbidden(
            "a regulator proposes agreements of its own province only".into(),
        ));
    }
    provinces.sort();
    provinces.dedup();
    let inbound = input.kind.as_deref() == Some(INBOUND_LIST);
    let (province_a, province_b) = match provinces.as_slice() {
        [a, b, ..] => (a.as_str(), b.as_str()),
        [only] => ("*".to_string(), only.as_str()),
        [] => return Err(Error::Forbidden("no province".into())),
    };
    let now = db_now();
    let row = AgreementRow {
        id: new_id(),
        province_a,
        province_b,
        valid_from: parse_date(&input.valid_from).map_err(invalid)?.to_string(),
        valid_until: parse_date(&input.valid_until).map_err(invalid)?.to_string(),
        receiving_consent: input.receiving_consent,
        cap_per_application_g: input
            .cap_per_application_kg
            .as_deref()
            .map(Quantity::parse_kg)
            .transpose()
            .map_err(invalid)?
            .map(Quantity::grams),
        // A one-sided list is the receiving province's alone: it counts at once.
        status: if inbound { "confirmed" } else { "proposed" }.into(),
        proposed_by: who.name.clone(),
        proposed_by_province: mine.as_str(),
        confirmed_by: inbound.then(|| who.name.clone()),
        confirmed_at: inbound.then_some(now),
        created_at: now,
        terminated_on: None,
        termination_reason: None,
        terminated_by: None,
        completion_days: input.completion_days,
        kind: if inbound { INBOUND_LIST } else { "mutual" }.into(),
    };
    let stored = row.clone();
    let members: Vec<String> = provinces.iter().map(|p| p.as_str()).collect();
    let id = row.id.clone();
    let (row, members) = state
        .db
        .run(move |conn| {
            db::whitelist::insert_agreement_among(conn, &stored, &members)?;
            Ok((stored, db::whitelist::members(conn, &id)?))
        })
        .await?;
    Ok(AgreementDto::new(row, members))
}

/// Every agreement, or those of one province.
pub async fn list(state: &AppState, province: Option<ProvinceCode>) -> Result<Vec<AgreementDto>> {
    let province = province.map(|p| p.as_str());
    let rows = state
        .db
        .run(move |conn| {
            let rows = db::whitelist::list_agreements(conn, province.as_deref())?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                let m = db::whitelist::members(conn, &r.id)?;
                out.push((r, m));
            }
            Ok(out)
        })
        .await?;
    Ok(rows.into_iter().map(|(r, m)| AgreementDto::new(r, m)).collect())
}

/// An agreement with its members.
async fn load(state: &AppState, id: String) -> Result<(AgreementRow, Vec<MemberRow>)> {
    state
        .db
        .run(move |c| {
            let Some(row) = db::whitelist::agreement_by_id(c, &id)? else {
                return Ok(None);
            };
            let m = db::whitelist::members(c, &id)?;
            Ok(Some((row, m)))
        })
        .await?
        .ok_or(Error::Hidden)
}

/// Confirms, for the caller's province, an agreement another member proposed; it counts once
/// every member has confirmed.
pub async fn confirm(state: &AppState, ctx: &Ctx, id: String) -> Result<AgreementDto> {
    let (row, members) = load(state, id.clone()).await?;
    authorize(
        &ctx.who,
        &AgreementParties {
            row: &row,
            members: &members,
        },
        EntryAction::Confirm,
    )?;
    let by = ctx.who.name.clone();
    let province = ctx.who.province().map(|p| p.as_str()).unwrap_or_default();
    state
        .db
        .run(move |c| db::whitelist::confirm_agreement(c, &id, &province, &by))
        .await?
        .ok_or_else(|| Error::Conflict("the agreement is already confirmed (by this province, or by all)".into()))?;
    let (row, members) = load(state, row.id).await?;
    Ok(AgreementDto::new(row, members))
}

/// A party's termination of an agreement (终止): from which day it no longer counts, and why.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TerminationInput {
    /// The first day the agreement no longer counts (today or later; a termination is not
    /// retroactive).
    #[validate(custom(function = "valid_date"))]
    #[schema(schema_with = date_schema)]
    pub terminated_on: String,
    /// Why, as the letter says; 1 to 500 characters.
    #[validate(custom(function = "valid_reason"))]
    #[schema(schema_with = reason_schema)]
    pub reason: String,
}

fn valid_reason(s: &str) -> std::result::Result<(), ValidationError> {
    crate::domain::error::text(s, crate::service::whitelist::entries::REASON_MAX)
        .map(|_| ())
        .map_err(validation_error)
}

fn reason_schema() -> Schema {
    crate::service::commands::text_schema::<{ crate::service::whitelist::entries::REASON_MAX }>()
}

/// Terminates a confirmed agreement from a day (today or later), with the reason: a regulator of
/// either province may. Filings from that day take the standard route and say why; entries of
/// years after it no longer have an agreement.
pub async fn terminate(state: &AppState, ctx: &Ctx, id: String, input: TerminationInput) -> Result<AgreementDto> {
    let who = &ctx.who;
    require_role(who, &[Role::Regulator])?;
    if let Err(e) = input.validate() {
        return Err(Error::Invalid(validation_problems(&e)));
    }
    let from = parse_date(&input.terminated_on).map_err(|e| Error::invalid_field("/terminated_on", &e))?;
    let today = crate::domain::calendar::shanghai_date(ctx.now);
    if from < today {
        return Err(Error::Invalid(vec![FieldProblem::new(
            Location::Body,
            "/terminated_on",
            "agreement.termination_past",
            format!("a termination is not retroactive: the day must be {today} or later"),
        )]));
    }
    let (row, members) = load(state, id.clone()).await?;
    let mine = who.province().map(|p| p.as_str()).unwrap_or_default();
    if !members.iter().any(|m| m.province == mine) {
        return Err(Error::Forbidden("the agreement is among other provinces".into()));
    }
    let by = who.name.clone();
    let reason = input.reason.trim().to_string();
    let ok = state
        .db
        .run(move |c| db::whitelist::terminate_agreement(c, &id, from, &reason, &by))
        .await?;
    if !ok {
        return Err(Error::Conflict(format!(
            "only a confirmed agreement can be terminated; this one is {}",
            AgreementDto::new(row, members).status
        )));
    }
    let (row, members) = load(state, row.id).await?;
    Ok(AgreementDto::new(row, members))
}
