//! Which operators may take a waste code from a source province in a year: confirmed entries
//! whose operator holds a licence in force that covers the code, with the quota left.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::principal::{Principal, Role};
use crate::db;
use crate::domain::catalogue::WasteCode;
use crate::domain::ids::ProvinceCode;
use crate::domain::quantity::grams_to_kg_string;
use crate::service::whitelist::entries::enterprise_province;
use crate::service::{Error, Result};
use crate::state::AppState;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EligibleOperator {
    pub operator_id: String,
    pub operator_name: String,
    pub receiving_province: String,
    pub entry_id: String,
    pub entry_version: i32,
    pub scope: String,
    pub quota_kg: String,
    pub remaining_kg: String,
}

/// The operators that may take `code` from `source` in `year`, as of `today`. An enterprise asks
/// for its own province (whatever `source` says); regulators, auditors and admins for `source`,
/// or a regulator's own province by default; operators do not file transfers.
pub async fn operators(
    state: &AppState,
    who: &Principal,
    code: WasteCode,
    year: i32,
    source: Option<ProvinceCode>,
    today: NaiveDate,
) -> Result<Vec<EligibleOperator>> {
    let principal = who.clone();
    let out = state
        .db
        .run(move |conn| {
            let source = match principal.role {
                Role::Enterprise => enterprise_province(conn, &principal)?,
                Role::Operator => return Ok(Err(())),
                _ => source
                    .map(|p| p.as_str())
                    .or_else(|| principal.province().map(|p| p.as_str())),
            };
            let Some(source) = source else {
                return Ok(Ok(Vec::new()));
            };
            let mut out = Vec::new();
            for e in db::whitelist::entries_for_code(conn, &source, code.as_str(), &code.category().as_str(), year)? {
                if e.status != "confirmed" {
                    continue;
                }
                let Some(op) = db::registry::operator_by_id(conn, &e.operator_id)? else {
                    continue;
                };
                let licence = db::registry::licence_on(conn, &op.id, today)?
                    .map(|l| l.to_domain())
                    .transpose()?;
                if !licence.is_some_and(|l| l.in_force_on(today) && l.covers_code(&code)) {
                    continue;
                }
                out.push(EligibleOperator {
                    operator_id: op.id,
                    operator_name: op.name,
                    receiving_province: e.receiving_province,
                    entry_id: e.id,
                    entry_version: e.version,
                    scope: e.scope,
                    quota_kg: grams_to_kg_string(e.quota_g),
                    remaining_kg: grams_to_kg_string(e.quota_g - e.reserved_g - e.approved_g),
                });
            }
            Ok(Ok(out))
        })
        .await?
        .map_err(|_| Error::Forbidden("operators do not file transfers".into()))?;
    Ok(out)
}
