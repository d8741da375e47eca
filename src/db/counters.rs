//! Gap-free document numbers per source province and year: approvals (批准文号) and the decision
//! series. The first number of a new province and year is the race to mind: two first approvals
//! at once would both find no counter and both insert one, and on PostgreSQL the second insert
//! failed with a unique violation (a 409 for a valid approval). Now the row is made with
//! `ON CONFLICT DO NOTHING` first, then bumped: the bump's row lock, held until commit, orders
//! concurrent draws on both backends, and each gets its own number.

use diesel::prelude::*;

use super::schema::{approval_counters, decision_counters};
use super::{DbConnection, DbResult};

/// The next approval sequence number of `province` in `year`.
pub fn next_approval(conn: &mut DbConnection, province: &str, year: i32) -> DbResult<i32> {
    let row = (
        approval_counters::source_province.eq(province),
        approval_counters::year.eq(year),
        approval_counters::last_seq.eq(0),
    );
    // ON CONFLICT does not compile for the multi-backend connection: the same statement per arm.
    match conn {
        DbConnection::Postgresql(c) => diesel::insert_into(approval_counters::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
        DbConnection::Sqlite(c) => diesel::insert_into(approval_counters::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
    };
    let target = approval_counters::table
        .filter(approval_counters::source_province.eq(province))
        .filter(approval_counters::year.eq(year));
    diesel::update(target)
        .set(approval_counters::last_seq.eq(approval_counters::last_seq + 1))
        .execute(conn)?;
    Ok(target.select(approval_counters::last_seq).first(conn)?)
}

/// The next number of the decision series `series` of `province` in `year`.
pub fn next_decision(conn: &mut DbConnection, series: &str, province: &str, year: i32) -> DbResult<i32> {
    let row = (
        decision_counters::series.eq(series),
        decision_counters::source_province.eq(province),
        decision_counters::year.eq(year),
        decision_counters::last_seq.eq(0),
    );
    match conn {
        DbConnection::Postgresql(c) => diesel::insert_into(decision_counters::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
        DbConnection::Sqlite(c) => diesel::insert_into(decision_counters::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
    };
    let target = decision_counters::table
        .filter(decision_counters::series.eq(series))
        .filter(decision_counters::source_province.eq(province))
        .filter(decision_counters::year.eq(year));
    diesel::update(target)
        .set(decision_counters::last_seq.eq(decision_counters::last_seq + 1))
        .execute(conn)?;
    Ok(target.select(decision_counters::last_seq).first(conn)?)
}
