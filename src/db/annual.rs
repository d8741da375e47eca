//! The January report's two reads: what operators received in a window of receipt instants
//! (grouped in SQL, so a national year stays one small result), and the year's whitelist
//! entries that were agreed. `domain::report` puts them together.

use chrono::NaiveDateTime;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use super::schema::{application_items, manifest_items, manifests, operators, whitelist_entries};
use super::{DbConnection, DbResult};

diesel::allow_columns_to_appear_in_same_group_by_clause!(
    manifests::operator_id,
    manifests::receiving_province,
    manifests::source_province,
    application_items::category,
);
use crate::domain::report::{Listed, Received};
use crate::domain::whitelist::{decode_shared_sources, shared_source_pattern};

/// Accepted grams and manifests per operator × receiving × source province × category, over the
/// manifests received (status `received`: a rejected load brings nothing) with `received_at` in
/// `[from, to)`. `province` keeps manifests where it is the source or the receiving province.
/// The category is the application line's, which the manifest line ships.
pub fn received(
    conn: &mut DbConnection,
    from: NaiveDateTime,
    to: NaiveDateTime,
    province: Option<&str>,
) -> DbResult<Vec<Received>> {
    // One statement per scope: a GROUP BY query cannot be boxed to add the filter later.
    macro_rules! grouped {
        ($scope:expr) => {
            manifest_items::table
                .inner_join(manifests::table)
                .inner_join(
                    application_items::table.on(application_items::application_id
                        .eq(manifests::application_id)
                        .and(application_items::line.eq(manifest_items::application_line))),
                )
                .filter(manifests::status.eq("received"))
                .filter(manifests::received_at.ge(from))
                .filter(manifests::received_at.lt(to))
                .filter($scope)
                .group_by((
                    manifests::operator_id,
                    manifests::receiving_province,
                    manifests::source_province,
                    application_items::category,
                ))
                .select((
                    manifests::operator_id,
                    manifests::receiving_province,
                    manifests::source_province,
                    application_items::category,
                    // SUM of BIGINT is NUMERIC on PostgreSQL: cast back so both backends give an i64.
                    sql::<BigInt>("CAST(COALESCE(SUM(manifest_items.accepted_g), 0) AS BIGINT)"),
                    sql::<BigInt>("COUNT(DISTINCT manifests.id)"),
                ))
                .load::<(String, String, String, String, i64, i64)>(conn)?
        };
    }
    let rows = match province {
        Some(p) => grouped!(
            manifests::source_province
                .eq(p.to_string())
                .or(manifests::receiving_province.eq(p.to_string()))
        ),
        None => grouped!(manifests::received_at.is_not_null()),
    };
    Ok(rows
        .into_iter()
        .map(
            |(operator_id, receiving_province, source_province, category, received_g, manifests)| Received {
                operator_id,
                receiving_province,
                source_province,
                category,
                received_g,
                manifests,
            },
        )
        .collect())
}

/// The year's entries that the provinces agreed (confirmed at some point: confirmed, suspended
/// mid-year, or expired at its end), with their quota as it stands. `province` keeps entries
/// where it is the receiving province or one of the sources.
pub fn listed(conn: &mut DbConnection, year: i32, province: Option<&str>) -> DbResult<Vec<Listed>> {
    use whitelist_entries::dsl as e;
    let mut q = e::whitelist_entries
        .filter(e::year.eq(year))
        .filter(e::status.ne("proposed"))
        .filter(e::confirmed_by.is_not_null())
        .select((
            e::operator_id,
            e::receiving_province,
            e::source_province,
            e::shared_sources,
            e::category,
            e::quota_g,
        ))
        .into_boxed();
    if let Some(p) = province {
        q = q.filter(
            e::source_province
                .eq(p.to_string())
                .or(e::receiving_province.eq(p.to_string()))
                .or(e::shared_sources.like(shared_source_pattern(p))),
        );
    }
    let rows: Vec<(String, String, String, String, String, i64)> = q.load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(operator_id, receiving_province, source, shared, category, quota_g)| {
            let mut sources = vec![source];
            sources.extend(decode_shared_sources(&shared));
            Listed {
                operator_id,
                receiving_province,
                sources,
                category,
                quota_g,
            }
        })
        .collect())
}

/// Operators' names by id.
pub fn operator_names(conn: &mut DbConnection, ids: &[String]) -> DbResult<std::collections::HashMap<String, String>> {
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    Ok(operators::table
        .filter(operators::id.eq_any(ids))
        .select((operators::id, operators::name))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect())
}
