//! The list of whitelist entries: the entry as every door shows it (`EntryDto`, with the
//! status as in force today), and a page of the entries in the caller's scope, by a typed query.

use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::principal::{Binding, Role};
use crate::db;
use crate::db::whitelist::{EntryFilter, EntryRow};
use crate::domain::calendar::shanghai_date;
use crate::domain::catalogue::{WasteCategory, WasteCode};
use crate::domain::ids::ProvinceCode;
use crate::domain::quantity::grams_to_kg_string;
use crate::domain::whitelist::EntryStatus;
use crate::service::whitelist::entries::enterprise_province;
use crate::service::{Ctx, Result, cut_page, encode_cursor};
use crate::state::AppState;

fn today() -> NaiveDate {
    shanghai_date(Utc::now())
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EntryDto {
    pub id: String,
    pub year: i32,
    pub operator_id: String,
    pub receiving_province: String,
    pub source_province: String,
    /// `code` or `category`.
    pub scope_kind: String,
    /// A waste code NNN-NNN-NN or a category HWxx.
    pub scope: String,
    pub category: String,
    pub quota_kg: String,
    pub reserved_kg: String,
    pub approved_kg: String,
    pub shipped_kg: String,
    pub received_kg: String,
    /// quota − reserved − approved.
    pub remaining_kg: String,
    pub facility: Option<String>,
    pub note: Option<String>,
    /// proposed, confirmed, suspended or expired (an entry of a past year).
    pub status: String,
    pub status_reason: Option<String>,
    pub proposed_by_province: String,
    /// Further source provinces served from the same quota (an entry shared by several sources).
    pub shared_sources: Vec<String>,
    pub version: i32,
    pub updated_at: String,
}

pub fn entry_dto(r: EntryRow) -> EntryDto {
    let status = EntryStatus::parse(&r.status)
        .map(|s| s.effective(r.year, today()).as_str().to_string())
        .unwrap_or(r.status);
    EntryDto {
        remaining_kg: grams_to_kg_string(r.quota_g - r.reserved_g - r.approved_g),
        shared_sources: crate::domain::whitelist::decode_shared_sources(&r.shared_sources),
        id: r.id,
        year: r.year,
        operator_id: r.operator_id,
        receiving_province: r.receiving_province,
        source_province: r.source_province,
        scope_kind: r.scope_kind,
        scope: r.scope,
        category: r.category,
        quota_kg: grams_to_kg_string(r.quota_g),
        reserved_kg: grams_to_kg_string(r.reserved_g),
        approved_kg: grams_to_kg_string(r.approved_g),
        shipped_kg: grams_to_kg_string(r.shipped_g),
        received_kg: grams_to_kg_string(r.received_g),
        facility: r.facility,
        note: r.note,
        status,
        status_reason: r.status_reason,
        proposed_by_province: r.proposed_by_province,
        version: r.version,
        updated_at: r.updated_at.and_utc().to_rfc3339(),
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EntryPage {
    pub items: Vec<EntryDto>,
    pub next_cursor: Option<String>,
}

/// Which entries: every filter optional; the caller's scope is applied on top.
#[derive(Debug, Clone, Default)]
pub struct EntryQuery {
    pub year: Option<i32>,
    pub operator_id: Option<String>,
    pub source_province: Option<ProvinceCode>,
    /// Entries covering this code (itself or its category).
    pub code: Option<WasteCode>,
    pub category: Option<WasteCategory>,
    pub status: Option<EntryStatus>,
    pub limit: i64,
    /// The last entry id of the previous page.
    pub after: Option<String>,
}

/// The year of an entry filter (2000–2100).
pub fn parse_year(s: &str) -> std::result::Result<i32, crate::domain::Invalid> {
    s.parse::<i32>()
        .ok()
        .filter(|y| (2000..=2100).contains(y))
        .ok_or_else(|| crate::domain::Invalid::new("query.year", "year must be like 2026"))
}

/// A page of entries in the caller's scope: everything for admins and nationwide auditors, what
/// involves its province for a province's regulators and auditors, its own for an operator, its
/// province's as source for an enterprise; nothing for anyone else.
pub async fn list(state: &AppState, ctx: &Ctx, q: EntryQuery) -> Result<EntryPage> {
    let mut f = EntryFilter {
        year: q.year,
        operator_id: q.operator_id,
        source_province: q.source_province.map(|p| p.as_str()),
        code: q.code.map(|c| (c.as_str().to_string(), c.category().as_str())),
        category: q.category.map(|c| c.as_str()),
        status: q.status.map(|s| s.as_str().to_string()),
        ..Default::default()
    };
    let (limit, after) = (q.limit, q.after);
    let principal = ctx.who.clone();
    let (rows, more) = state
        .db
        .run(move |conn| {
            match (&principal.role, &principal.binding) {
                (Role::Admin, _) | (Role::Auditor, Binding::Nationwide) => {}
                (Role::Auditor | Role::Regulator, Binding::Province(p)) => f.involving_province = Some(p.as_str()),
                (Role::Operator, Binding::Operator(id)) => f.operator_id = Some(id.clone()),
                (Role::Enterprise, _) => {
                    f.visible_source = Some(enterprise_province(conn, &principal)?.unwrap_or_else(|| "-".into()))
                }
                _ => return Ok((Vec::new(), false)),
            }
            let mut rows = db::whitelist::list_entries(conn, &f, after.as_deref(), limit + 1)?;
            let more = cut_page(&mut rows, limit);
            Ok((rows, more))
        })
        .await?;
    let next_cursor = if more {
        rows.last().map(|r| encode_cursor(&r.id))
    } else {
        None
    };
    Ok(EntryPage {
        items: rows.into_iter().map(entry_dto).collect(),
        next_cursor,
    })
}
