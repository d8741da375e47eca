//! Province-pair agreements, whitelist entries with their versions, and the quota guard.
//!
//! The quota invariant `reserved + approved <= quota` (DESIGN §2) is kept by one conditional
//! UPDATE per movement, on both backends, plus a ledger row; the table's CHECK constraint is the
//! last line of defence.
mod agreements;
mod quota;

pub use agreements::*;
pub use quota::*;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use super::schema::{whitelist_entries, whitelist_entry_versions};
use super::{DbConnection, DbError, DbResult, audit, db_now, write_tx};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize, serde::Deserialize)]
#[diesel(table_name = whitelist_entries)]
pub struct EntryRow {
    pub id: String,
    pub year: i32,
    pub operator_id: String,
    pub receiving_province: String,
    pub source_province: String,
    pub scope_kind: String,
    pub scope: String,
    pub category: String,
    pub quota_g: i64,
    pub reserved_g: i64,
    pub approved_g: i64,
    pub shipped_g: i64,
    pub received_g: i64,
    pub facility: Option<String>,
    pub note: Option<String>,
    pub status: String,
    pub status_reason: Option<String>,
    pub proposed_by: String,
    pub proposed_by_province: String,
    pub confirmed_by: Option<String>,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The further sources of an entry serving several from one shared quota
    /// (`domain::whitelist::encode_shared_sources`); empty for one.
    #[serde(default)]
    pub shared_sources: String,
}

impl EntryRow {
    /// Whether the entry takes waste from `province`: its source, or one of its shared sources.
    pub fn serves_source(&self, province: &str) -> bool {
        self.source_province == province
            || crate::domain::whitelist::decode_shared_sources(&self.shared_sources)
                .iter()
                .any(|p| p == province)
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = whitelist_entry_versions)]
pub struct EntryVersionRow {
    pub entry_id: String,
    pub version: i32,
    pub valid_from: NaiveDateTime,
    pub recorded_at: NaiveDateTime,
    pub status: String,
    pub quota_g: i64,
    pub change: String,
    pub reason: Option<String>,
    pub changed_by: String,
    /// The whole entry as JSON after this change.
    pub snapshot: String,
    /// The letter between the provinces that amended the quota (an `amend` version).
    pub letter_number: Option<String>,
}

fn version_row(entry: &EntryRow, change: &str, reason: Option<&str>, by: &str) -> DbResult<EntryVersionRow> {
    Ok(EntryVersionRow {
        entry_id: entry.id.clone(),
        version: entry.version,
        valid_from: entry.updated_at,
        recorded_at: entry.updated_at,
        status: entry.status.clone(),
        quota_g: entry.quota_g,
        change: change.to_string(),
        reason: reason.map(str::to_string),
        changed_by: by.to_string(),
        snapshot: serde_json::to_string(entry).map_err(|e| DbError::Other(e.into()))?,
        letter_number: None,
    })
}

/// Amends an entry's quota by letter, if it is still at `expected_version` and the new quota
/// keeps what its filings hold (`reserved + approved <= quota`, in the same conditional UPDATE,
/// so a filing reserving meanwhile cannot slip under it); records the version with the letter.
/// None when someone changed the entry first or the quota would no longer hold what is held.
pub fn amend_quota(
    conn: &mut DbConnection,
    id: &str,
    expected_version: i32,
    quota_g: i64,
    letter_number: &str,
    reason: &str,
    by: &str,
) -> DbResult<Option<EntryRow>> {
    use whitelist_entries::dsl as e;
    write_tx(conn, |conn| {
        let before = entry_by_id(conn, id)?.ok_or(DbError::NotFound)?;
        let n = diesel::update(
            e::whitelist_entries
                .find(id)
                .filter(e::version.eq(expected_version))
                .filter((e::reserved_g + e::approved_g).le(quota_g)),
        )
        .set((
            e::quota_g.eq(quota_g),
            e::version.eq(expected_version + 1),
            e::updated_at.eq(db_now()),
        ))
        .execute(conn)?;
        if n == 0 {
            return Ok(None);
        }
        let entry = entry_by_id(conn, id)?.ok_or(DbError::NotFound)?;
        let mut version = version_row(&entry, "amend", Some(reason), by)?;
        version.letter_number = Some(letter_number.to_string());
        diesel::insert_into(whitelist_entry_versions::table)
            .values(version)
            .execute(conn)?;
        audit::record(
            conn,
            "whitelist_entry",
            id,
            "amend",
            serde_json::json!({
                "quota_g": {"from": before.quota_g, "to": quota_g},
                "letter_number": {"from": null, "to": letter_number},
                "reason": {"from": null, "to": reason},
                "version": {"from": expected_version, "to": expected_version + 1},
            }),
        )?;
        Ok(Some(entry))
    })
}

/// Inserts proposed entries with their first versions, all or nothing. A duplicate (same
/// year, operator, source and scope) is a conflict naming its position in `rows`.
pub fn insert_entries(conn: &mut DbConnection, rows: &[EntryRow]) -> DbResult<Result<(), usize>> {
    write_tx(conn, |conn| {
        for (i, row) in rows.iter().enumerate() {
            let dup: i64 = whitelist_entries::table
                .filter(whitelist_entries::year.eq(row.year))
                .filter(whitelist_entries::operator_id.eq(&row.operator_id))
                .filter(whitelist_entries::source_province.eq(&row.source_province))
                .filter(whitelist_entries::scope.eq(&row.scope))
                .count()
                .get_result(conn)?;
            if dup > 0 {
                return Err(DbError::Conflict(format!("row {i}")));
            }
            diesel::insert_into(whitelist_entries::table)
                .values(row.clone())
                .execute(conn)?;
            diesel::insert_into(whitelist_entry_versions::table)
                .values(version_row(row, "proposed", None, &row.proposed_by)?)
                .execute(conn)?;
            audit::record_change(conn, "whitelist_entry", &row.id, "proposed", None, Some(row))?;
        }
        Ok(())
    })
    .map(Ok)
    .or_else(|e| match e {
        DbError::Conflict(msg) => {
            let i = msg.strip_prefix("row ").and_then(|n| n.parse().ok()).unwrap_or(0);
            Ok(Err(i))
        }
        other => Err(other),
    })
}

pub fn entry_by_id(conn: &mut DbConnection, id: &str) -> DbResult<Option<EntryRow>> {
    Ok(whitelist_entries::table
        .find(id)
        .select(EntryRow::as_select())
        .first(conn)
        .optional()?)
}

/// Filters of the entry list.
#[derive(Debug, Clone, Default)]
pub struct EntryFilter {
    pub year: Option<i32>,
    pub operator_id: Option<String>,
    pub source_province: Option<String>,
    /// Entries that cover this code: the code itself or its whole category.
    pub code: Option<(String, String)>,
    pub category: Option<String>,
    pub status: Option<String>,
    /// Only entries one of whose provinces is this one.
    pub involving_province: Option<String>,
    /// Only entries of this source province (an enterprise sees its own province's list).
    pub visible_source: Option<String>,
}

pub fn list_entries(
    conn: &mut DbConnection,
    f: &EntryFilter,
    after: Option<&str>,
    limit: i64,
) -> DbResult<Vec<EntryRow>> {
    let mut q = whitelist_entries::table
        .select(EntryRow::as_select())
        .order(whitelist_entries::id.asc())
        .into_boxed();
    if let Some(y) = f.year {
        q = q.filter(whitelist_entries::year.eq(y));
    }
    if let Some(o) = &f.operator_id {
        q = q.filter(whitelist_entries::operator_id.eq(o.clone()));
    }
    use crate::domain::whitelist::shared_source_pattern;
    if let Some(s) = &f.source_province {
        q = q.filter(
            whitelist_entries::source_province
                .eq(s.clone())
                .or(whitelist_entries::shared_sources.like(shared_source_pattern(s))),
        );
    }
    if let Some(s) = &f.visible_source {
        q = q.filter(
            whitelist_entries::source_province
                .eq(s.clone())
                .or(whitelist_entries::shared_sources.like(shared_source_pattern(s))),
        );
    }
    if let Some((code, category)) = &f.code {
        q = q.filter(
            whitelist_entries::scope
                .eq(code.clone())
                .or(whitelist_entries::scope.eq(category.clone())),
        );
    }
    if let Some(c) = &f.category {
        q = q.filter(whitelist_entries::category.eq(c.clone()));
    }
    if let Some(s) = &f.status {
        q = q.filter(whitelist_entries::status.eq(s.clone()));
    }
    if let Some(p) = &f.involving_province {
        q = q.filter(
            whitelist_entries::source_province
                .eq(p.clone())
                .or(whitelist_entries::receiving_province.eq(p.clone()))
                .or(whitelist_entries::shared_sources.like(shared_source_pattern(p))),
        );
    }
    if let Some(a) = after {
        q = q.filter(whitelist_entries::id.gt(a.to_string()));
    }
    Ok(q.limit(limit).load(conn)?)
}

/// Moves an entry to `status` if it is still at `expected_version` (optimistic concurrency);
/// records the new version. Returns the updated entry, or None when someone changed it first.
#[allow(clippy::too_many_arguments)]
pub fn change_status(
    conn: &mut DbConnection,
    id: &str,
    expected_version: i32,
    status: &str,
    change: &str,
    reason: Option<&str>,
    by: &str,
    confirmed_by: Option<&str>,
) -> DbResult<Option<EntryRow>> {
    write_tx(conn, |conn| {
        let now = db_now();
        let target = whitelist_entries::table
            .find(id)
            .filter(whitelist_entries::version.eq(expected_version));
        let n = match confirmed_by {
            Some(c) => diesel::update(target)
                .set((
                    whitelist_entries::status.eq(status),
                    whitelist_entries::status_reason.eq(reason),
                    whitelist_entries::confirmed_by.eq(c),
                    whitelist_entries::version.eq(expected_version + 1),
                    whitelist_entries::updated_at.eq(now),
                ))
                .execute(conn)?,
            None => diesel::update(target)
                .set((
                    whitelist_entries::status.eq(status),
                    whitelist_entries::status_reason.eq(reason),
                    whitelist_entries::version.eq(expected_version + 1),
                    whitelist_entries::updated_at.eq(now),
                ))
                .execute(conn)?,
        };
        if n == 0 {
            return Ok(None);
        }
        let entry = entry_by_id(conn, id)?.ok_or(DbError::NotFound)?;
        diesel::insert_into(whitelist_entry_versions::table)
            .values(version_row(&entry, change, reason, by)?)
            .execute(conn)?;
        audit::record(
            conn,
            "whitelist_entry",
            id,
            change,
            serde_json::json!({
                "status": {"to": status},
                "status_reason": {"to": reason},
                "version": {"from": expected_version, "to": expected_version + 1},
            }),
        )?;
        let event = match (change, status) {
            (_, "suspended") => Some(crate::webhooks::EventType::WhitelistEntrySuspended),
            ("reinstate", _) => Some(crate::webhooks::EventType::WhitelistEntryReinstated),
            _ => None,
        };
        if let Some(t) = event {
            use crate::webhooks::{Audience, OwnerKind, WhitelistEntryEventData};
            let audience = Audience::new()
                .with(OwnerKind::Operator, &entry.operator_id)
                .with(OwnerKind::Province, &entry.receiving_province)
                .with(OwnerKind::Province, &entry.source_province);
            let data = serde_json::to_value(WhitelistEntryEventData {
                entry_id: entry.id.clone(),
                year: entry.year,
                operator_id: entry.operator_id.clone(),
                source_province: entry.source_province.clone(),
                receiving_province: entry.receiving_province.clone(),
                scope: entry.scope.clone(),
                status: entry.status.clone(),
                reason: entry.status_reason.clone(),
            })
            .unwrap_or_default();
            super::outbox::emit(conn, t, "whitelist_entry", id, audience, data)?;
        }
        Ok(Some(entry))
    })
}

pub fn versions(conn: &mut DbConnection, id: &str) -> DbResult<Vec<EntryVersionRow>> {
    Ok(whitelist_entry_versions::table
        .filter(whitelist_entry_versions::entry_id.eq(id))
        .order(whitelist_entry_versions::version.asc())
        .select(EntryVersionRow::as_select())
        .load(conn)?)
}

/// The version in force at `instant` (valid time): the last one that started at or before it.
pub fn version_as_of(conn: &mut DbConnection, id: &str, instant: NaiveDateTime) -> DbResult<Option<EntryVersionRow>> {
    Ok(whitelist_entry_versions::table
        .filter(whitelist_entry_versions::entry_id.eq(id))
        .filter(whitelist_entry_versions::valid_from.le(instant))
        .order(whitelist_entry_versions::version.desc())
        .select(EntryVersionRow::as_select())
        .first(conn)
        .optional()?)
}

/// Confirmed entries of `operator` (all years from `from_year`), for automatic suspension.
pub fn confirmed_entries_of_operator(
    conn: &mut DbConnection,
    operator_id: &str,
    from_year: i32,
) -> DbResult<Vec<EntryRow>> {
    Ok(whitelist_entries::table
        .filter(whitelist_entries::operator_id.eq(operator_id))
        .filter(whitelist_entries::status.eq("confirmed"))
        .filter(whitelist_entries::year.ge(from_year))
        .select(EntryRow::as_select())
        .load(conn)?)
}

/// Moves each entry to `status` as a system action (a licence's suspension, reinstatement or
/// expiry carries its entries along); an entry someone changed meanwhile is left as it is.
/// Returns the ids moved.
pub fn change_status_as_system(
    conn: &mut DbConnection,
    entries: Vec<EntryRow>,
    status: &str,
    change: &str,
    reason: &str,
) -> DbResult<Vec<String>> {
    let mut moved = Vec::new();
    for e in entries {
        if change_status(conn, &e.id, e.version, status, change, Some(reason), "system", None)?.is_some() {
            moved.push(e.id);
        }
    }
    Ok(moved)
}

/// Entries of an operator from `from_year` on that a suspension of its licence stopped (the
/// system suspended them with the licence's reason).
pub fn entries_stopped_with_licence(
    conn: &mut DbConnection,
    operator_id: &str,
    from_year: i32,
) -> DbResult<Vec<EntryRow>> {
    Ok(whitelist_entries::table
        .filter(whitelist_entries::operator_id.eq(operator_id))
        .filter(whitelist_entries::status.eq("suspended"))
        .filter(whitelist_entries::year.ge(from_year))
        .filter(whitelist_entries::status_reason.like(format!("{}%", LICENCE_SUSPENDED_PREFIX)))
        .select(EntryRow::as_select())
        .load(conn)?)
}

/// How the reason of an entry suspended with its operator's licence begins.
pub const LICENCE_SUSPENDED_PREFIX: &str = "licence suspended: ";

/// Entries that take `code` from `source` in `year`: scoped to the code itself, to a code of an
/// earlier edition that `code` succeeds (the catalogue's successor mapping, across editions), or
/// to its category.
pub fn entries_for_code(
    conn: &mut DbConnection,
    source: &str,
    code: &str,
    category: &str,
    year: i32,
) -> DbResult<Vec<EntryRow>> {
    let mut scopes = super::catalogue::predecessors(conn, code)?;
    scopes.push(code.to_string());
    scopes.push(category.to_string());
    Ok(whitelist_entries::table
        .filter(
            whitelist_entries::source_province
                .eq(source)
                .or(whitelist_entries::shared_sources.like(crate::domain::whitelist::shared_source_pattern(source))),
        )
        .filter(whitelist_entries::year.eq(year))
        .filter(whitelist_entries::scope.eq_any(scopes))
        .order(whitelist_entries::id.asc())
        .select(EntryRow::as_select())
        .load(conn)?)
}

/// What an operator's live entries of `year` (proposed, confirmed or suspended) grant: in
/// `category`, and over every category; `except` leaves one entry out (the one being confirmed).
pub fn granted_to_operator(
    conn: &mut DbConnection,
    operator_id: &str,
    year: i32,
    category: &str,
    except: Option<&str>,
) -> DbResult<crate::domain::whitelist::Granted> {
    let rows: Vec<(String, String, i64)> = whitelist_entries::table
        .filter(whitelist_entries::operator_id.eq(operator_id))
        .filter(whitelist_entries::year.eq(year))
        .filter(whitelist_entries::status.eq_any(["proposed", "confirmed", "suspended"]))
        .select((
            whitelist_entries::id,
            whitelist_entries::category,
            whitelist_entries::quota_g,
        ))
        .load(conn)?;
    let mut granted = crate::domain::whitelist::Granted::default();
    for (id, c, q) in rows {
        if except == Some(id.as_str()) {
            continue;
        }
        granted.total_g += q;
        if c == category {
            granted.category_g += q;
        }
    }
    Ok(granted)
}

/// Entries of years before `year` that are not yet marked expired.
pub fn entries_to_expire(conn: &mut DbConnection, year: i32) -> DbResult<Vec<EntryRow>> {
    Ok(whitelist_entries::table
        .filter(whitelist_entries::year.lt(year))
        .filter(whitelist_entries::status.ne("expired"))
        .select(EntryRow::as_select())
        .load(conn)?)
}

pub fn parse_date(s: &str) -> DbResult<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|e| DbError::Other(anyhow::anyhow!("bad stored date {s}: {e}")))
}
