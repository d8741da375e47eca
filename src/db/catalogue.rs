//! The national waste catalogue (国家危险废物名录), stored per edition.

use chrono::NaiveDate;
use diesel::prelude::*;

use super::schema::{catalogue_editions, catalogue_successors, waste_codes};
use super::{DbConnection, DbError, DbResult, db_now};
use crate::domain::catalogue::{
    CatalogueEntry, PreviousEdition, Successor, WasteCode, edition_2021, identified_by_testing,
};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = waste_codes)]
pub struct WasteCodeRow {
    pub edition: i32,
    pub code: String,
    pub category: String,
    pub category_name: String,
    pub industry_source: String,
    pub description: String,
    pub hazards: String,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = catalogue_editions)]
pub struct EditionRow {
    pub edition: i32,
    pub in_force_from: String,
    pub source: String,
    pub imported_at: chrono::NaiveDateTime,
}

/// Stores a whole edition and its successor mapping in one transaction. An edition already
/// present is a conflict: editions are legal texts and are never edited in place.
pub fn import_edition(
    conn: &mut DbConnection,
    edition: i32,
    in_force_from: NaiveDate,
    source: &str,
    entries: &[CatalogueEntry],
    successors: &[Successor],
) -> DbResult<usize> {
    super::write_tx(conn, |conn| {
        super::audit::record(
            conn,
            "catalogue_edition",
            &edition.to_string(),
            "imported",
            crate::audit::diff(
                None,
                Some(&serde_json::json!({
                    "in_force_from": in_force_from.to_string(), "source": source, "codes": entries.len(),
                    "successors": successors.len()
                })),
            ),
        )?;
        let exists: i64 = catalogue_editions::table
            .filter(catalogue_editions::edition.eq(edition))
            .count()
            .get_result(conn)?;
        if exists > 0 {
            return Err(DbError::Conflict(format!("edition {edition} is already imported")));
        }
        diesel::insert_into(catalogue_editions::table)
            .values((
                catalogue_editions::edition.eq(edition),
                catalogue_editions::in_force_from.eq(in_force_from.to_string()),
                catalogue_editions::source.eq(source),
                catalogue_editions::imported_at.eq(db_now()),
            ))
            .execute(conn)?;
        for e in entries {
            let hazards: Vec<&str> = e.hazards.iter().map(|h| h.as_str()).collect();
            diesel::insert_into(waste_codes::table)
                .values((
                    waste_codes::edition.eq(edition),
                    waste_codes::code.eq(e.code.as_str()),
                    waste_codes::category.eq(e.category.as_str()),
                    waste_codes::category_name.eq(&e.category_name),
                    waste_codes::industry_source.eq(&e.industry_source),
                    waste_codes::description.eq(&e.description),
                    waste_codes::hazards.eq(hazards.join("/")),
                ))
                .execute(conn)?;
        }
        for m in successors {
            diesel::insert_into(catalogue_successors::table)
                .values((
                    catalogue_successors::edition.eq(edition),
                    catalogue_successors::old_code.eq(m.old_code.as_str()),
                    catalogue_successors::new_code.eq(m.new_code.as_str()),
                ))
                .execute(conn)?;
        }
        Ok(entries.len())
    })
}

/// Loads the embedded 2021 edition when the database lacks it (idempotent).
pub fn ensure_embedded(conn: &mut DbConnection) -> DbResult<()> {
    let ed = edition_2021();
    let exists: i64 = catalogue_editions::table
        .filter(catalogue_editions::edition.eq(ed.edition))
        .count()
        .get_result(conn)?;
    if exists == 0 {
        match import_edition(
            conn,
            ed.edition,
            ed.in_force_from,
            "部令第15号 (embedded)",
            &ed.entries,
            &[],
        ) {
            Ok(_) | Err(DbError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

pub fn editions(conn: &mut DbConnection) -> DbResult<Vec<EditionRow>> {
    Ok(catalogue_editions::table
        .select(EditionRow::as_select())
        .order(catalogue_editions::edition.asc())
        .load(conn)?)
}

/// Escapes LIKE wildcards so user text matches literally.
fn like_literal(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// Codes of `edition`, optionally filtered by a code prefix or a text fragment (`q`) and a
/// category; ordered by code, after `after`, at most `limit`.
pub fn search(
    conn: &mut DbConnection,
    edition: i32,
    q: Option<&str>,
    category: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> DbResult<Vec<WasteCodeRow>> {
    let mut query = waste_codes::table
        .filter(waste_codes::edition.eq(edition))
        .select(WasteCodeRow::as_select())
        .order(waste_codes::code.asc())
        .into_boxed();
    if let Some(q) = q {
        let is_code_prefix = q.chars().all(|c| c.is_ascii_digit() || c == '-');
        if is_code_prefix {
            query = query.filter(waste_codes::code.like(format!("{}%", like_literal(q))).escape('\\'));
        } else {
            let pattern = format!("%{}%", like_literal(q));
            query = query.filter(
                waste_codes::description
                    .like(pattern.clone())
                    .escape('\\')
                    .or(waste_codes::category_name.like(pattern.clone()).escape('\\'))
                    .or(waste_codes::industry_source.like(pattern).escape('\\')),
            );
        }
    }
    if let Some(category) = category {
        query = query.filter(waste_codes::category.eq(category.to_string()));
    }
    if let Some(after) = after {
        query = query.filter(waste_codes::code.gt(after.to_string()));
    }
    Ok(query.limit(limit).load(conn)?)
}

/// Number of codes per category in `edition`.
pub fn counts_by_category(conn: &mut DbConnection, edition: i32) -> DbResult<Vec<(String, i64)>> {
    Ok(waste_codes::table
        .filter(waste_codes::edition.eq(edition))
        .group_by(waste_codes::category)
        .select((waste_codes::category, diesel::dsl::count_star()))
        .order(waste_codes::category.asc())
        .load(conn)?)
}

/// The loaded editions with the day each came into force.
pub fn edition_dates(conn: &mut DbConnection) -> DbResult<Vec<(i32, NaiveDate)>> {
    Ok(editions(conn)?
        .into_iter()
        .filter_map(|e| {
            NaiveDate::parse_from_str(&e.in_force_from, "%Y-%m-%d")
                .ok()
                .map(|d| (e.edition, d))
        })
        .collect())
}

/// The edition in force on `date`; before any edition is in force, the earliest one loaded.
pub fn edition_on(conn: &mut DbConnection, date: NaiveDate) -> DbResult<Option<i32>> {
    let dates = edition_dates(conn)?;
    Ok(crate::domain::catalogue::edition_in_force(&dates, date).or_else(|| dates.first().map(|(e, _)| *e)))
}

/// Whether `code` is in `edition`.
pub fn contains(conn: &mut DbConnection, edition: i32, code: &str) -> DbResult<bool> {
    let n: i64 = waste_codes::table
        .filter(waste_codes::edition.eq(edition))
        .filter(waste_codes::code.eq(code))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Whether a filing or an entry on `date` may name `code`, checked against `edition`: the code is
/// in that edition's table, or it is a `900-000-NN` code of waste identified as hazardous by
/// testing (2025 第6条), which no table lists.
pub fn accepts(conn: &mut DbConnection, edition: i32, code: &WasteCode, date: NaiveDate) -> DbResult<bool> {
    Ok(identified_by_testing(code, date) || contains(conn, edition, code.as_str())?)
}

/// Number of successor lines stored with `edition`.
pub fn successor_count(conn: &mut DbConnection, edition: i32) -> DbResult<i64> {
    Ok(catalogue_successors::table
        .filter(catalogue_successors::edition.eq(edition))
        .count()
        .get_result(conn)?)
}

/// The latest loaded edition older than `edition`, with its codes: what a mapping maps from.
pub fn previous_edition(conn: &mut DbConnection, edition: i32) -> DbResult<Option<PreviousEdition>> {
    let previous: Option<i32> = catalogue_editions::table
        .filter(catalogue_editions::edition.lt(edition))
        .select(catalogue_editions::edition)
        .order(catalogue_editions::edition.desc())
        .first(conn)
        .optional()?;
    let Some(previous) = previous else {
        return Ok(None);
    };
    let codes: Vec<String> = waste_codes::table
        .filter(waste_codes::edition.eq(previous))
        .select(waste_codes::code)
        .load(conn)?;
    Ok(Some(PreviousEdition {
        edition: previous,
        codes: codes.into_iter().collect(),
    }))
}

/// Every code that `code` succeeds, across editions (a code of 2021 that became a 2025 code that
/// became this one): the codes a whitelist entry may be scoped to and still cover `code`. Not
/// `code` itself.
pub fn predecessors(conn: &mut DbConnection, code: &str) -> DbResult<Vec<String>> {
    let mut found: Vec<String> = Vec::new();
    let mut frontier = vec![code.to_string()];
    // Each round goes one edition back; editions are few, the bound only guards a cycle.
    for _ in 0..32 {
        if frontier.is_empty() {
            break;
        }
        let olds: Vec<String> = catalogue_successors::table
            .filter(catalogue_successors::new_code.eq_any(&frontier))
            .select(catalogue_successors::old_code)
            .distinct()
            .load(conn)?;
        frontier = olds.into_iter().filter(|c| c != code && !found.contains(c)).collect();
        found.extend(frontier.iter().cloned());
    }
    found.sort();
    Ok(found)
}
