//! The per-subject request limit kept in PostgreSQL, so that every replica draws on one budget
//! (`auth::rate_limit`). One row per subject holds its GCRA "theoretical arrival time" in
//! microseconds of the database's clock (replicas' clocks do not matter); one statement per
//! request takes a slot or refuses.

use diesel::RunQueryDsl;
use diesel::sql_types::{BigInt, Text};

use super::{DbConnection, DbResult};

/// Takes one request from `subject`'s budget: `interval_us` is the time one request costs
/// (1 s / rate), `capacity_us` the budget at most banked (burst × interval). True when served.
///
/// One upsert: the row is created at `now + interval`, or moved to `max(tat, now) + interval`
/// unless that lies more than `capacity` ahead of `now` (then no row changes: refused).
/// PostgreSQL locks the row for the statement, so concurrent requests of one subject on any
/// replica are counted one after the other and never twice.
pub fn take(conn: &mut DbConnection, subject: &str, interval_us: i64, capacity_us: i64) -> DbResult<bool> {
    const NOW_US: &str = "(extract(epoch FROM now()) * 1000000)::bigint";
    let sql = format!(
        "INSERT INTO subject_rates AS r (subject, tat_us) VALUES ($1, {NOW_US} + $2) \
         ON CONFLICT (subject) DO UPDATE SET tat_us = GREATEST(r.tat_us, {NOW_US}) + $2 \
         WHERE GREATEST(r.tat_us, {NOW_US}) + $2 - {NOW_US} <= $3"
    );
    let n = diesel::sql_query(sql)
        .bind::<Text, _>(subject)
        .bind::<BigInt, _>(interval_us)
        .bind::<BigInt, _>(capacity_us)
        .execute(conn)?;
    Ok(n == 1)
}

/// Forgets subjects idle for longer than `idle_secs` (their row would allow a full burst anyway).
pub fn forget_idle(conn: &mut DbConnection, idle_secs: i64) -> DbResult<usize> {
    let sql = "DELETE FROM subject_rates WHERE tat_us < (extract(epoch FROM now()) * 1000000)::bigint - $1";
    Ok(diesel::sql_query(sql)
        .bind::<BigInt, _>(idle_secs.saturating_mul(1_000_000))
        .execute(conn)?)
}
