//! Proposing whitelist entries (白名单条目): the command a regulator sends, one at a time or as
//! rows of an import file, and every check an entry must pass before it is stored as proposed.

use chrono::{Datelike, NaiveDate};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use validator::{Validate, ValidationError};

use crate::auth::permission::require_role;
use crate::auth::principal::{Principal, Role};
use crate::db::whitelist::EntryRow;
use crate::db::{self, DbConnection, DbError, DbResult, db_now, new_id};
use crate::domain::Invalid;
use crate::domain::calendar::shanghai_date;
use crate::domain::catalogue::{WASTE_CATEGORY_PATTERN, WASTE_CODE_PATTERN, edition_missing};
use crate::domain::ids::ProvinceCode;
use crate::domain::quantity::Quantity;
use crate::domain::whitelist::{EntryParties, EntryScope, EntryStatus, licence_fit_problems};
use crate::service::applications::filing::kg_schema;
use crate::service::commands::{province_schema, text_schema, valid_kg, valid_text, validation_problems};
use crate::service::error::validation_error;
use crate::service::{Ctx, Error, FieldProblem, Result};
use crate::state::AppState;

/// A proposed entry: which operator may receive which code or category from which province, in
/// which year, and how much.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryInput {
    /// This year or the next.
    #[serde(deserialize_with = "crate::service::commands::whole_number")]
    #[validate(range(min = 2000, max = 2100))]
    #[schema(minimum = 2000, maximum = 2100)]
    pub year: i32,
    /// The receiving operator (经营单位).
    #[validate(custom(function = "valid_text::<64>"))]
    #[schema(schema_with = text_schema::<64>)]
    pub operator_id: String,
    #[validate(custom(function = "valid_province"))]
    #[schema(schema_with = province_schema)]
    pub source_province: String,
    /// A waste code NNN-NNN-NN or a whole category HWxx.
    #[validate(custom(function = "valid_scope"))]
    #[schema(schema_with = scope_schema)]
    pub scope: String,
    /// Annual quantity in kg, above zero, at most 3 decimals.
    #[validate(custom(function = "valid_kg"))]
    #[schema(schema_with = kg_schema)]
    pub quota_kg: String,
    #[serde(default, deserialize_with = "crate::service::commands::present")]
    #[validate(custom(function = "valid_text::<200>"))]
    #[schema(schema_with = text_schema::<200>)]
    pub facility: Option<String>,
    #[serde(default, deserialize_with = "crate::service::commands::present")]
    #[validate(custom(function = "valid_text::<1000>"))]
    #[schema(schema_with = text_schema::<1000>)]
    pub note: Option<String>,
    /// Further source provinces the entry serves from the same quota (one shared quota for
    /// several sources): proposed by the receiving province, under one confirmed agreement that
    /// has every source and the receiving province among its members. Empty for one source.
    #[serde(default)]
    #[validate(custom(function = "valid_provinces"))]
    #[schema(schema_with = provinces_schema)]
    pub shared_sources: Vec<String>,
}

fn valid_provinces(list: &[String]) -> std::result::Result<(), ValidationError> {
    for p in list {
        ProvinceCode::parse(p).map_err(validation_error)?;
    }
    Ok(())
}

fn provinces_schema() -> Schema {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(utoipa::openapi::RefOr::T(province_schema()))
        .max_items(Some(30))
        .unique_items(true)
        .description(Some("further source provinces sharing the quota"))
        .into()
}

fn valid_province(s: &str) -> std::result::Result<(), ValidationError> {
    ProvinceCode::parse(s).map(|_| ()).map_err(validation_error)
}

fn valid_scope(s: &str) -> std::result::Result<(), ValidationError> {
    EntryScope::parse(s).map(|_| ()).map_err(validation_error)
}

/// A code or a category, as [`EntryScope::parse`] reads it.
pub fn scope_pattern() -> String {
    let inner = |p: &str| p.trim_start_matches('^').trim_end_matches('$').to_string();
    format!("^({}|{})$", inner(WASTE_CODE_PATTERN), inner(WASTE_CATEGORY_PATTERN))
}

fn scope_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(scope_pattern()))
        .description(Some("a waste code NNN-NNN-NN or a whole category HWxx"))
        .into()
}

impl EntryInput {
    /// Every problem of the command's own fields at once (the checks against the registry, the
    /// agreements and the catalogue follow in [`propose`]).
    pub fn problems(&self) -> Vec<FieldProblem> {
        self.validate()
            .err()
            .map(|e| validation_problems(&e))
            .unwrap_or_default()
    }

    fn proposal(self) -> Result<(EntryProposal, Vec<ProvinceCode>)> {
        let problems = self.problems();
        if !problems.is_empty() {
            return Err(Error::Invalid(problems));
        }
        let invalid = |e: Invalid| Error::invalid_field("", &e);
        let shared = self
            .shared_sources
            .iter()
            .map(|p| ProvinceCode::parse(p).map_err(invalid))
            .collect::<Result<Vec<_>>>()?;
        let proposal = EntryProposal {
            year: self.year,
            operator_id: self.operator_id.trim().to_string(),
            source_province: ProvinceCode::parse(&self.source_province).map_err(invalid)?,
            scope: EntryScope::parse(&self.scope).map_err(invalid)?,
            quota: Quantity::parse_kg(&self.quota_kg).map_err(invalid)?,
            facility: self.facility.map(|f| f.trim().to_string()),
            note: self.note.map(|n| n.trim().to_string()),
        };
        Ok((proposal, shared))
    }
}

/// Proposes an entry (a regulator of the source or the receiving province): every reason it does
/// not fit in one answer (no confirmed agreement for the year, the licence not covering the code
/// or the year, the quota above the licensed capacity, a code not in the catalogue); a duplicate
/// (same operator, source, code or category, year) is a conflict.
pub async fn propose(state: &AppState, ctx: &Ctx, input: EntryInput) -> Result<EntryRow> {
    require_role(&ctx.who, &[Role::Regulator])?;
    let (proposal, shared) = input.proposal()?;
    let principal = ctx.who.clone();
    let today = shanghai_date(ctx.now);
    state
        .db
        .run(move |conn| {
            let row = match check_shared_proposal(conn, &principal, &proposal, &shared, today)? {
                Ok(row) => pre_consented(conn, &principal, row)?,
                Err(problems) => {
                    return Ok(Err(Error::Invalid(
                        problems
                            .into_iter()
                            .map(|(f, i)| FieldProblem::body(format!("/{f}"), &i))
                            .collect(),
                    )));
                }
            };
            match db::whitelist::insert_entries(conn, std::slice::from_ref(&row))? {
                Ok(()) => Ok(Ok(row)),
                Err(_) => Ok(Err(Error::Conflict(
                    "an entry for this operator, source province, code or category and year already exists".into(),
                ))),
            }
        })
        .await?
}

/// An entry the receiving province lists under its own one-sided list (inbound_list) needs no
/// other province's confirmation: it is confirmed as it is proposed.
fn pre_consented(conn: &mut DbConnection, who: &Principal, row: EntryRow) -> DbResult<EntryRow> {
    let by_receiving = who.province().is_some_and(|p| p.as_str() == row.receiving_province);
    let listed = by_receiving
        && db::whitelist::confirmed_agreement_in_year(conn, &row.source_province, &row.receiving_province, row.year)?
            .is_some_and(|a| a.kind == db::whitelist::INBOUND_LIST);
    Ok(if listed {
        EntryRow {
            status: EntryStatus::Confirmed.as_str().to_string(),
            confirmed_by: Some(who.name.clone()),
            ..row
        }
    } else {
        row
    })
}

/// The fields of a proposed entry before the database checks (shared by the API and the import).
#[derive(Debug, Clone)]
pub struct EntryProposal {
    pub year: i32,
    pub operator_id: String,
    pub source_province: ProvinceCode,
    pub scope: EntryScope,
    pub quota: Quantity,
    pub facility: Option<String>,
    pub note: Option<String>,
}

/// [`check_proposal`] for an entry that may serve further source provinces from its one quota:
/// such an entry is the receiving province's to propose, every further source differs from the
/// receiving province and the first source, and one confirmed agreement of the year has them all
/// among its members (an N-province mechanism), so any of its source members may confirm it for
/// the group.
pub fn check_shared_proposal(
    conn: &mut DbConnection,
    who: &Principal,
    p: &EntryProposal,
    shared: &[ProvinceCode],
    today: NaiveDate,
) -> DbResult<Result<EntryRow, Vec<(&'static str, Invalid)>>> {
    let checked = check_proposal(conn, who, p, today)?;
    if shared.is_empty() {
        return Ok(checked);
    }
    let mut problems = checked.as_ref().err().cloned().unwrap_or_default();
    let receiving = db::registry::operator_by_id(conn, &p.operator_id)?.map(|o| o.province);
    if let Some(receiving) = &receiving {
        if who.province().map(|m| m.as_str()).as_ref() != Some(receiving) {
            problems.push((
                "shared_sources",
                Invalid::new(
                    "entry.shared_by_receiving",
                    "an entry shared by several source provinces is proposed by the receiving province",
                ),
            ));
        }
        if shared
            .iter()
            .any(|s| s.as_str() == *receiving || *s == p.source_province)
        {
            problems.push((
                "shared_sources",
                Invalid::new(
                    "entry.shared_sources",
                    "each further source differs from the receiving province and from source_province",
                ),
            ));
        }
        let mut members: Vec<String> = shared.iter().map(|s| s.as_str()).collect();
        members.push(p.source_province.as_str());
        members.push(receiving.clone());
        if db::whitelist::confirmed_agreement_among(conn, &members, p.year)?.is_none() {
            problems.push((
                "shared_sources",
                Invalid::new(
                    "entry.no_shared_agreement",
                    format!(
                        "no confirmed agreement for {} has all of {} among its members",
                        p.year,
                        members.join(", ")
                    ),
                ),
            ));
        }
    }
    if !problems.is_empty() {
        return Ok(Err(problems));
    }
    Ok(checked.map(|row| EntryRow {
        shared_sources: crate::domain::whitelist::encode_shared_sources(shared),
        ..row
    }))
}

/// Every reason a proposal cannot become an entry, as (field, problem); or the row to insert.
pub fn check_proposal(
    conn: &mut DbConnection,
    who: &Principal,
    p: &EntryProposal,
    today: NaiveDate,
) -> DbResult<Result<EntryRow, Vec<(&'static str, Invalid)>>> {
    let mut problems: Vec<(&'static str, Invalid)> = Vec::new();
    if p.year < today.year() || p.year > today.year() + 1 {
        problems.push((
            "year",
            Invalid::new(
                "entry.year",
                format!("entries are for {} or {}", today.year(), today.year() + 1),
            ),
        ));
    }
    let Some(operator) = db::registry::operator_by_id(conn, &p.operator_id)? else {
        problems.push((
            "operator_id",
            Invalid::new("entry.unknown_operator", "no such operator"),
        ));
        return Ok(Err(problems));
    };
    let receiving = ProvinceCode::parse(&operator.province).map_err(|e| DbError::Other(anyhow::anyhow!("{e}")))?;
    let parties = EntryParties {
        source: p.source_province,
        receiving,
    };
    if p.source_province == receiving {
        problems.push((
            "source_province",
            Invalid::new(
                "entry.same_province",
                "the whitelist is for transfers between provinces",
            ),
        ));
    }
    if !who.province().is_some_and(|mine| parties.involves(mine)) {
        problems.push((
            "source_province",
            Invalid::new(
                "entry.not_your_province",
                "a regulator proposes entries involving its own province only",
            ),
        ));
    }
    if p.source_province != receiving
        && db::whitelist::confirmed_agreement_in_year(conn, &p.source_province.as_str(), &operator.province, p.year)?
            .is_none()
    {
        problems.push((
            "source_province",
            Invalid::new(
                "entry.no_agreement",
                format!(
                    "no confirmed agreement between {} and {} for {}",
                    p.source_province, receiving, p.year
                ),
            ),
        ));
    }
    if let EntryScope::Code(code) = &p.scope {
        // The edition in force when the entry is first used: 1 January of its year, or today for
        // this year's entries (an edition that came into force during the year governs what is
        // proposed after that). When the law's edition of that day is not loaded, the latest
        // loaded one, said loudly.
        let jan1 = NaiveDate::from_ymd_opt(p.year, 1, 1).unwrap_or(today);
        let on = jan1.max(today);
        let known = match db::catalogue::edition_on(conn, on)? {
            Some(ed) => {
                if let Some(missing) = edition_missing(ed, on) {
                    crate::service::catalogue::log_missing(missing, ed);
                }
                db::catalogue::accepts(conn, ed, code, on)?
            }
            None => false,
        };
        if !known {
            problems.push((
                "scope",
                Invalid::new(
                    "entry.unknown_code",
                    format!("{code} is not in the catalogue edition in force in {}", p.year),
                ),
            ));
        }
    }
    let licence = db::registry::licence_in_year(conn, &operator.id, p.year)?
        .map(|l| l.to_domain())
        .transpose()?;
    let granted = db::whitelist::granted_to_operator(conn, &operator.id, p.year, &p.scope.category().as_str(), None)?;
    for invalid in licence_fit_problems(licence.as_ref(), &p.scope, p.quota, p.year, granted) {
        let field = if invalid.code == "entry.over_capacity" {
            "quota_kg"
        } else if invalid.code == "entry.not_licensed" {
            "scope"
        } else {
            "operator_id"
        };
        problems.push((field, invalid));
    }
    if !problems.is_empty() {
        return Ok(Err(problems));
    }
    let now = db_now();
    let mine = who.province().map(|p| p.as_str()).unwrap_or_default();
    Ok(Ok(EntryRow {
        id: new_id(),
        year: p.year,
        operator_id: operator.id,
        receiving_province: operator.province,
        source_province: p.source_province.as_str(),
        scope_kind: p.scope.kind().to_string(),
        scope: p.scope.key(),
        category: p.scope.category().as_str(),
        quota_g: p.quota.grams(),
        reserved_g: 0,
        approved_g: 0,
        shipped_g: 0,
        received_g: 0,
        facility: p.facility.clone(),
        note: p.note.clone(),
        status: EntryStatus::Proposed.as_str().to_string(),
        status_reason: None,
        proposed_by: who.name.clone(),
        proposed_by_province: mine,
        confirmed_by: None,
        version: 1,
        created_at: now,
        updated_at: now,
        shared_sources: String::new(),
    }))
}
