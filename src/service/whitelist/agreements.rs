//! Province-pair agreements (合作协议): one province's regulator proposes, the other's confirms;
//! an agreement counts once confirmed.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ArrayBuilder, Schema};
use validator::{Validate, ValidationError};

use crate::auth::permission::require_role;
use crate::auth::principal::{Principal, Role};
use crate::auth::{Decision, Guarded, authorize};
use crate::db::whitelist::AgreementRow;
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
    /// The two provinces (GB/T 2260), in code order.
    pub provinces: [String; 2],
    pub valid_from: String,
    pub valid_until: String,
    /// `consent`: the receiving province must actively agree on the whitelist route;
    /// `inform`: it is informed only (川渝 practice).
    pub receiving_consent: String,
    /// Optional cap on one application's quantity, kg.
    pub cap_per_application_kg: Option<String>,
    /// `proposed` until the other province confirms, then `confirmed`; `terminated` once a party
    /// terminated it (it counts on the days before `terminated_on`).
    pub status: String,
    pub proposed_by_province: String,
    pub confirmed_at: Option<String>,
    /// The first day the agreement no longer counts, once terminated.
    pub terminated_on: Option<String>,
    pub termination_reason: Option<String>,
}

impl From<AgreementRow> for AgreementDto {
    fn from(r: AgreementRow) -> Self {
        AgreementDto {
            id: r.id,
            provinces: [r.province_a, r.province_b],
            valid_from: r.valid_from,
            valid_until: r.valid_until,
            receiving_consent: r.receiving_consent,
            cap_per_application_kg: r.cap_per_application_g.map(grams_to_kg_string),
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

/// A proposed agreement: two different provinces, the caller's among them; valid_until not
/// before valid_from.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgreementInput {
    /// The two provinces; the caller's must be one of them.
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
}

fn valid_pair(list: &[String]) -> std::result::Result<(), ValidationError> {
    for p in list {
        ProvinceCode::parse(p).map_err(validation_error)?;
    }
    if list.len() != 2 || list[0] == list[1] {
        return Err(ValidationError::new("agreement.provinces").with_message("exactly two different provinces".into()));
    }
    Ok(())
}

fn pair_schema() -> Schema {
    ArrayBuilder::new()
        .items(RefOr::T(province_schema()))
        .min_items(Some(2))
        .max_items(Some(2))
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

impl Guarded for AgreementRow {
    type Action = EntryAction;
    fn decide(&self, who: &Principal, _action: EntryAction) -> Decision {
        let Some(p) = who.province().filter(|_| who.role == Role::Regulator) else {
            return Decision::Forbidden("only a regulator of the other province may confirm".into());
        };
        let mine = p.as_str();
        if mine != self.province_a && mine != self.province_b {
            Decision::Forbidden("the agreement is between two other provinces".into())
        } else if mine == self.proposed_by_province {
            Decision::Forbidden("the other province must confirm what this province proposed".into())
        } else {
            Decision::Allow
        }
    }
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
    let row = AgreementRow {
        id: new_id(),
        province_a: provinces[0].as_str(),
        province_b: provinces[1].as_str(),
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
        status: "proposed".into(),
        proposed_by: who.name.clone(),
        proposed_by_province: mine.as_str(),
        confirmed_by: None,
        confirmed_at: None,
        created_at: db_now(),
        terminated_on: None,
        termination_reason: None,
        terminated_by: None,
    };
    let stored = row.clone();
    state
        .db
        .run(move |conn| db::whitelist::insert_agreement(conn, &stored))
        .await?;
    Ok(AgreementDto::from(row))
}

/// Every agreement, or those of one province.
pub async fn list(state: &AppState, province: Option<ProvinceCode>) -> Result<Vec<AgreementDto>> {
    let province = province.map(|p| p.as_str());
    let rows = state
        .db
        .run(move |conn| db::whitelist::list_agreements(conn, province.as_deref()))
        .await?;
    Ok(rows.into_iter().map(AgreementDto::from).collect())
}

/// Confirms an agreement the other province proposed.
pub async fn confirm(state: &AppState, ctx: &Ctx, id: String) -> Result<AgreementDto> {
    let row = {
        let id = id.clone();
        state
            .db
            .run(move |c| db::whitelist::agreement_by_id(c, &id))
            .await?
            .ok_or(Error::Hidden)?
    };
    authorize(&ctx.who, &row, EntryAction::Confirm)?;
    let by = ctx.who.name.clone();
    let row = state
        .db
        .run(move |c| {
            let ok = db::whitelist::confirm_agreement(c, &id, &by)?;
            Ok(ok.then_some(db::whitelist::agreement_by_id(c, &id)?).flatten())
        })
        .await?
        .ok_or_else(|| Error::Conflict("the agreement is already confirmed".into()))?;
    Ok(row.into())
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
    let row = {
        let id = id.clone();
        state
            .db
            .run(move |c| db::whitelist::agreement_by_id(c, &id))
            .await?
            .ok_or(Error::Hidden)?
    };
    let mine = who.province().map(|p| p.as_str()).unwrap_or_default();
    if mine != row.province_a && mine != row.province_b {
        return Err(Error::Forbidden("the agreement is between two other provinces".into()));
    }
    let by = who.name.clone();
    let reason = input.reason.trim().to_string();
    state
        .db
        .run(move |c| {
            let ok = db::whitelist::terminate_agreement(c, &id, from, &reason, &by)?;
            Ok(ok.then_some(db::whitelist::agreement_by_id(c, &id)?).flatten())
        })
        .await?
        .map(AgreementDto::from)
        .ok_or_else(|| {
            Error::Conflict(format!(
                "only a confirmed agreement can be terminated; this one is {}",
                AgreementDto::from(row).status
            ))
        })
}
