//! The registry (登记): producer enterprises (移出人), licensed operators (经营单位) and their
//! versioned licences (危险废物经营许可证). Who may read and change it, registering and reading,
//! a licence's new version, and what a licence's suspension stops and its reinstatement restores.
//! The commands are in [`commands`].

mod commands;
pub mod names;

use chrono::Datelike;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use commands::*;

use crate::auth::permission::require_role;
use crate::auth::principal::{Binding, Principal, Role};
use crate::auth::{Decision, Guarded, authorize};
use crate::db::registry::{EnterpriseRow, LicenceRow, OperatorRow};
use crate::db::whitelist::LICENCE_SUSPENDED_PREFIX;
use crate::db::{self, DbError, db_now, new_id};
use crate::domain::calendar::shanghai_date;
use crate::domain::ids::ProvinceCode;
use crate::domain::quantity::grams_to_kg_string;
use crate::domain::whitelist::LicenceStatus;
use crate::service::{Ctx, Error, Result, cut_page};
use crate::state::AppState;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EnterpriseDto {
    pub id: String,
    pub name: String,
    /// 统一社会信用代码.
    pub uscc: String,
    pub province: String,
    pub division_code: String,
    pub address: String,
    pub contact_name: String,
    pub contact_phone: String,
    pub created_at: String,
    /// `producer` (产生单位) or `collector` (收集单位).
    pub kind: String,
    /// A collector's own operator record, whose collection licence it files under.
    pub collector_operator_id: Option<String>,
}

impl From<EnterpriseRow> for EnterpriseDto {
    fn from(r: EnterpriseRow) -> Self {
        EnterpriseDto {
            id: r.id,
            name: r.name,
            uscc: r.uscc,
            province: r.province,
            division_code: r.division_code,
            address: r.address,
            contact_name: r.contact_name,
            contact_phone: r.contact_phone,
            created_at: r.created_at.and_utc().to_rfc3339(),
            kind: r.kind,
            collector_operator_id: r.collector_operator_id,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LicenceDto {
    pub id: String,
    pub version: i32,
    pub licence_number: String,
    /// collect (收集), store (贮存), utilise (利用), dispose (处置).
    pub modes: Vec<String>,
    pub categories: Vec<String>,
    pub codes: Vec<String>,
    /// Licensed annual capacity in kg (3 decimals), over every category.
    pub annual_capacity_kg: String,
    /// Categories with a figure of their own (HWxx → kg a year); the others are bounded by the
    /// total alone.
    pub category_capacities_kg: std::collections::BTreeMap<String, String>,
    pub valid_from: String,
    pub valid_until: String,
    pub issuing_authority: String,
    /// valid, suspended or revoked.
    pub status: String,
    pub status_reason: Option<String>,
    pub recorded_at: String,
}

fn list(s: &str) -> Vec<String> {
    s.split(',').filter(|x| !x.is_empty()).map(str::to_string).collect()
}

impl From<LicenceRow> for LicenceDto {
    fn from(r: LicenceRow) -> Self {
        let category_capacities_kg = r
            .category_capacities()
            .unwrap_or_default()
            .into_iter()
            .map(|(c, q)| (c.as_str(), q.to_string()))
            .collect();
        LicenceDto {
            id: r.id,
            version: r.version,
            licence_number: r.licence_number,
            modes: list(&r.modes),
            categories: list(&r.categories),
            codes: list(&r.codes),
            annual_capacity_kg: grams_to_kg_string(r.annual_capacity_g),
            category_capacities_kg,
            valid_from: r.valid_from,
            valid_until: r.valid_until,
            issuing_authority: r.issuing_authority,
            status: r.status,
            status_reason: r.status_reason,
            recorded_at: r.recorded_at.and_utc().to_rfc3339(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OperatorDto {
    pub id: String,
    pub name: String,
    pub uscc: String,
    pub province: String,
    pub division_code: String,
    pub address: String,
    /// The licence version in effect today (the latest recorded one when none has started yet).
    pub licence: Option<LicenceDto>,
    pub created_at: String,
}

fn operator_dto(r: OperatorRow, licence: Option<LicenceRow>) -> OperatorDto {
    OperatorDto {
        id: r.id,
        name: r.name,
        uscc: r.uscc,
        province: r.province,
        division_code: r.division_code,
        address: r.address,
        licence: licence.map(LicenceDto::from),
        created_at: r.created_at.and_utc().to_rfc3339(),
    }
}

/// The licence version to show for an operator today: the one in effect, else the latest record.
fn licence_today(
    conn: &mut db::DbConnection,
    operator_id: &str,
    today: chrono::NaiveDate,
) -> db::DbResult<Option<LicenceRow>> {
    match db::registry::licence_on(conn, operator_id, today)? {
        Some(l) => Ok(Some(l)),
        None => db::registry::current_licence(conn, operator_id),
    }
}

/// Registers a producer enterprise, or a licensed collector under its own operator record: an
/// admin, or a regulator of its province.
pub async fn create_enterprise(state: &AppState, ctx: &Ctx, input: EnterpriseInput) -> Result<EnterpriseDto> {
    let who = &ctx.who;
    require_role(who, &[Role::Admin, Role::Regulator])?;
    let (party, contact_name, contact_phone) = input.read().map_err(Error::Invalid)?;
    if who.role == Role::Regulator && who.province() != Some(party.province) {
        return Err(Error::Forbidden(
            "a regulator registers enterprises of its own province only".into(),
        ));
    }
    let kind = input.party_kind();
    // A collector files under its own licence: the operator record must be the same legal person.
    if let Some(op) = input.collector_operator_id.clone() {
        let operator = state
            .db
            .run(move |conn| db::registry::operator_by_id(conn, &op))
            .await?;
        let problem = match operator {
            None => Some(crate::domain::Invalid::new(
                "enterprise.unknown_operator",
                "no such operator: register the collector's licence as an operator first",
            )),
            Some(o) if o.uscc != party.uscc.as_str() => Some(crate::domain::Invalid::new(
                "enterprise.collector_uscc",
                "the operator record is another legal person's (its USCC differs): a collector files under its own licence",
            )),
            Some(_) => None,
        };
        if let Some(p) = problem {
            return Err(Error::Invalid(vec![crate::service::error::FieldProblem::body(
                "/collector_operator_id",
                &p,
            )]));
        }
    }
    let now = db_now();
    let row = EnterpriseRow {
        id: new_id(),
        name: party.name,
        uscc: party.uscc.as_str().to_string(),
        province: party.province.as_str(),
        division_code: party.division.as_str(),
        address: party.address,
        contact_name,
        contact_phone,
        created_by: who.name.clone(),
        created_at: now,
        updated_at: now,
        kind: kind.as_str().to_string(),
        collector_operator_id: input.collector_operator_id.clone(),
    };
    let stored = row.clone();
    state
        .db
        .run(move |conn| db::registry::insert_enterprise(conn, &stored))
        .await
        .map_err(|e| match e {
            DbError::Conflict(_) => Error::Conflict("an enterprise with this USCC is already registered".into()),
            other => other.into(),
        })?;
    Ok(row.into())
}

/// The enterprises in the caller's scope (an enterprise sees itself, a province's auditor its
/// province), ordered by id after `after`; and whether more follow.
pub async fn list_enterprises(
    state: &AppState,
    ctx: &Ctx,
    province: Option<ProvinceCode>,
    after: Option<String>,
    limit: i64,
) -> Result<(Vec<EnterpriseDto>, bool)> {
    let who = &ctx.who;
    require_role(who, &[Role::Admin, Role::Regulator, Role::Auditor, Role::Enterprise])?;
    let only = match &who.binding {
        Binding::Enterprise(id) => Some(id.clone()),
        _ => None,
    };
    let mut province = province.map(|p| p.as_str());
    if let (Role::Auditor, Binding::Province(p)) = (who.role, &who.binding) {
        if province.as_deref().is_some_and(|x| *x != p.as_str()) {
            return Ok((Vec::new(), false));
        }
        province = Some(p.as_str());
    }
    let mut rows = state
        .db
        .run(move |conn| {
            db::registry::list_enterprises(conn, province.as_deref(), only.as_deref(), after.as_deref(), limit + 1)
        })
        .await?;
    let more = cut_page(&mut rows, limit);
    Ok((rows.into_iter().map(EnterpriseDto::from).collect(), more))
}

/// One enterprise, if the caller may see it.
pub async fn enterprise(state: &AppState, ctx: &Ctx, id: String) -> Result<EnterpriseDto> {
    let row = state
        .db
        .run(move |conn| db::registry::enterprise_by_id(conn, &id))
        .await?
        .ok_or(Error::Hidden)?;
    authorize(&ctx.who, &row, RegistryAction::Read)?;
    Ok(row.into())
}

/// Registers a licensed operator with its first licence: an admin, or a regulator of its province.
pub async fn create_operator(state: &AppState, ctx: &Ctx, input: OperatorInput) -> Result<OperatorDto> {
    let who = &ctx.who;
    require_role(who, &[Role::Admin, Role::Regulator])?;
    let (party, licence) = input.read().map_err(Error::Invalid)?;
    if who.role == Role::Regulator && who.province() != Some(party.province) {
        return Err(Error::Forbidden(
            "a regulator registers operators of its own province only".into(),
        ));
    }
    let now = db_now();
    let row = OperatorRow {
        id: new_id(),
        name: party.name,
        uscc: party.uscc.as_str().to_string(),
        province: party.province.as_str(),
        division_code: party.division.as_str(),
        address: party.address,
        created_by: who.name.clone(),
        created_at: now,
        updated_at: now,
    };
    let by = who.name.clone();
    let (row, lic) = state
        .db
        .run(move |conn| {
            db::write_tx(conn, |conn| {
                db::registry::insert_operator(conn, &row)?;
                let lic = db::registry::add_licence(conn, &row.id, &licence, &by)?;
                Ok((row, lic))
            })
        })
        .await
        .map_err(|e| match e {
            DbError::Conflict(_) => Error::Conflict("an operator with this USCC is already registered".into()),
            other => other.into(),
        })?;
    Ok(operator_dto(row, Some(lic)))
}

/// Licensed operators (public to every caller), ordered by id after `after`; and whether more
/// follow.
pub async fn list_operators(
    state: &AppState,
    ctx: &Ctx,
    province: Option<ProvinceCode>,
    after: Option<String>,
    limit: i64,
) -> Result<(Vec<OperatorDto>, bool)> {
    let province = province.map(|p| p.as_str());
    let today = shanghai_date(ctx.now);
    let (rows, more) = state
        .db
        .run(move |conn| {
            let mut rows = db::registry::list_operators(conn, province.as_deref(), after.as_deref(), limit + 1)?;
            let more = cut_page(&mut rows, limit);
            let mut out = Vec::new();
            for r in rows {
                let lic = licence_today(conn, &r.id, today)?;
                out.push(operator_dto(r, lic));
            }
            Ok((out, more))
        })
        .await?;
    Ok((rows, more))
}

/// One operator with the licence in effect today.
pub async fn operator(state: &AppState, ctx: &Ctx, id: String) -> Result<OperatorDto> {
    let (op, lic) = operator_and_licence(state, ctx, id, RegistryAction::Read).await?;
    Ok(operator_dto(op, lic))
}

/// Every licence version of an operator, oldest first.
pub async fn licence_history(state: &AppState, ctx: &Ctx, id: String) -> Result<Vec<LicenceDto>> {
    let (op, _) = operator_and_licence(state, ctx, id, RegistryAction::Read).await?;
    let rows = state
        .db
        .run(move |conn| db::registry::licence_history(conn, &op.id))
        .await?;
    Ok(rows.into_iter().map(LicenceDto::from).collect())
}

/// Records a renewal or change of an operator's licence as a new version (the history is kept):
/// an admin, or a regulator of the operator's province.
pub async fn add_licence(state: &AppState, ctx: &Ctx, id: String, input: LicenceInput) -> Result<LicenceDto> {
    let (op, _) = operator_and_licence(state, ctx, id, RegistryAction::Write).await?;
    let licence = input.read("").map_err(Error::Invalid)?;
    let by = ctx.who.name.clone();
    let row = state
        .db
        .run(move |conn| db::registry::add_licence(conn, &op.id, &licence, &by))
        .await?;
    Ok(row.into())
}

// ---------------------------------------------------------------------------------------------
// Who may read and change the registry

#[derive(Debug, Clone, Copy)]
pub enum RegistryAction {
    Read,
    Write,
}

fn province_of(s: &str) -> Option<ProvinceCode> {
    ProvinceCode::parse(s).ok()
}

impl Guarded for EnterpriseRow {
    type Action = RegistryAction;
    fn decide(&self, who: &Principal, action: RegistryAction) -> Decision {
        let province = province_of(&self.province);
        let visible = match (&who.role, &who.binding) {
            (Role::Admin, _) | (Role::Regulator, _) => true,
            (Role::Auditor, Binding::Nationwide) => true,
            (Role::Auditor, Binding::Province(p)) => Some(*p) == province,
            (Role::Enterprise, Binding::Enterprise(id)) => *id == self.id,
            _ => false,
        };
        if !visible {
            return Decision::Hidden;
        }
        match action {
            RegistryAction::Read => Decision::Allow,
            RegistryAction::Write => match who.role {
                Role::Admin => Decision::Allow,
                Role::Regulator if who.province() == province => Decision::Allow,
                _ => Decision::Forbidden("only a regulator of the enterprise's province may change it".into()),
            },
        }
    }
}

impl Guarded for OperatorRow {
    type Action = RegistryAction;
    fn decide(&self, who: &Principal, action: RegistryAction) -> Decision {
        // Licensed operators are public: every caller may read them.
        match action {
            RegistryAction::Read => Decision::Allow,
            RegistryAction::Write => match who.role {
                Role::Admin => Decision::Allow,
                Role::Regulator if who.province() == province_of(&self.province) => Decision::Allow,
                _ => Decision::Forbidden("only a regulator of the operator's province may change it".into()),
            },
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LicenceSuspension {
    pub licence: LicenceDto,
    /// Whitelist entries suspended with it (as a system action).
    pub suspended_entries: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LicenceReinstatement {
    pub licence: LicenceDto,
    /// Whitelist entries reinstated with it: those its suspension had stopped.
    pub reinstated_entries: Vec<String>,
}

// ---------------------------------------------------------------------------------------------
// Suspension and reinstatement of a licence (固废法 第80条: no waste to an operator without a
// valid licence)

/// The operator (visible to every caller) and the licence version that counts today: the one
/// current on the day, else its latest record.
async fn operator_and_licence(
    state: &AppState,
    ctx: &Ctx,
    id: String,
    action: RegistryAction,
) -> Result<(OperatorRow, Option<LicenceRow>)> {
    let today = shanghai_date(ctx.now);
    let (op, lic) = state
        .db
        .run(move |conn| {
            let Some(op) = db::registry::operator_by_id(conn, &id)? else {
                return Ok(None);
            };
            let lic = licence_today(conn, &id, today)?;
            Ok(Some((op, lic)))
        })
        .await?
        .ok_or(Error::Hidden)?;
    authorize(&ctx.who, &op, action)?;
    Ok((op, lic))
}

/// Suspends the operator's licence and, as a system action, every confirmed whitelist entry of
/// the operator from this year on. From then on no approval may be issued for the operator on
/// either route, no manifest created or dispatched to it; loads already on the road may still
/// be received. Returns the licence and the suspended entries.
pub async fn suspend_licence(
    state: &AppState,
    ctx: &Ctx,
    operator_id: String,
    reason: String,
) -> Result<LicenceSuspension> {
    let (_, lic) = operator_and_licence(state, ctx, operator_id, RegistryAction::Write).await?;
    let lic = lic.ok_or_else(|| Error::Conflict("the operator has no licence".into()))?;
    if lic.status != LicenceStatus::Valid.as_str() {
        return Err(Error::Conflict(format!("the licence is already {}", lic.status)));
    }
    let year = shanghai_date(ctx.now).year();
    tracing::info!(operator = %lic.operator_id, by = %ctx.who.name, "licence suspended");
    Ok(state
        .db
        .run(move |conn| {
            db::write_tx(conn, |conn| {
                db::registry::set_licence_status(conn, &lic.id, LicenceStatus::Suspended, Some(&reason))?;
                let why = format!("{LICENCE_SUSPENDED_PREFIX}{reason}");
                let entries = db::whitelist::confirmed_entries_of_operator(conn, &lic.operator_id, year)?;
                let ids = db::whitelist::change_status_as_system(conn, entries, "suspended", "suspend", &why)?;
                let lic = db::registry::licence_by_id(conn, &lic.id)?.ok_or(DbError::NotFound)?;
                Ok((lic, ids))
            })
        })
        .await
        .map(|(lic, ids): (LicenceRow, Vec<String>)| LicenceSuspension {
            licence: lic.into(),
            suspended_entries: ids,
        })?)
}

/// Lifts a licence suspension, and restores what it stopped: the whitelist entries its
/// suspension suspended are reinstated (as a system action); an entry a regulator suspended on
/// its own stays suspended. Returns the licence and the reinstated entries.
pub async fn reinstate_licence(state: &AppState, ctx: &Ctx, operator_id: String) -> Result<LicenceReinstatement> {
    let (_, lic) = operator_and_licence(state, ctx, operator_id, RegistryAction::Write).await?;
    let lic = lic.ok_or_else(|| Error::Conflict("the operator has no licence".into()))?;
    if lic.status != LicenceStatus::Suspended.as_str() {
        return Err(Error::Conflict(format!("the licence is {}, not suspended", lic.status)));
    }
    let year = shanghai_date(ctx.now).year();
    tracing::info!(operator = %lic.operator_id, by = %ctx.who.name, "licence reinstated");
    Ok(state
        .db
        .run(move |conn| {
            db::write_tx(conn, |conn| {
                db::registry::set_licence_status(conn, &lic.id, LicenceStatus::Valid, None)?;
                let entries = db::whitelist::entries_stopped_with_licence(conn, &lic.operator_id, year)?;
                let ids = db::whitelist::change_status_as_system(
                    conn,
                    entries,
                    "confirmed",
                    "reinstate",
                    "licence reinstated",
                )?;
                let lic = db::registry::licence_by_id(conn, &lic.id)?.ok_or(DbError::NotFound)?;
                Ok((lic, ids))
            })
        })
        .await
        .map(|(lic, ids): (LicenceRow, Vec<String>)| LicenceReinstatement {
            licence: lic.into(),
            reinstated_entries: ids,
        })?)
}
