//! Session-level PostgreSQL advisory locks, which elect the one replica that runs a job round.
//! SQLite is a single process: there the lock is always granted.

use diesel::RunQueryDsl;

use super::{DbConnection, DbResult};

#[derive(diesel::QueryableByName)]
struct Locked {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    locked: bool,
}

/// Runs `f` if this connection wins the advisory lock `key`; `None` when another holds it.
pub fn with_advisory_lock<T>(
    conn: &mut DbConnection,
    key: i64,
    f: impl FnOnce(&mut DbConnection) -> DbResult<T>,
) -> DbResult<Option<T>> {
    if !conn.is_postgres() {
        return f(conn).map(Some);
    }
    let got: Locked = diesel::sql_query(format!("SELECT pg_try_advisory_lock({key}) AS locked")).get_result(conn)?;
    if !got.locked {
        return Ok(None);
    }
    let result = f(conn);
    diesel::sql_query(format!("SELECT pg_advisory_unlock({key})")).execute(conn)?;
    result.map(Some)
}
