//! Embedded migrations, one tree per backend with the same folder names.

use diesel::RunQueryDsl;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::{DbConnection, DbError, DbResult};

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Advisory-lock key shared by every replica, so only one applies migrations at a time.
const MIGRATION_LOCK_KEY: i64 = 0x0048_5754_5f4d_4947; // "HWT_MIG"

fn harness_err(e: Box<dyn std::error::Error + Send + Sync>) -> DbError {
    DbError::Other(anyhow::anyhow!("migration failed: {e}"))
}

/// Runs `f` while holding the set-up lock: on PostgreSQL a session advisory lock, so replicas
/// starting together migrate and load reference data one after the other; SQLite is one process.
pub fn with_setup_lock<T>(conn: &mut DbConnection, f: impl FnOnce(&mut DbConnection) -> DbResult<T>) -> DbResult<T> {
    if !conn.is_postgres() {
        return f(conn);
    }
    diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})")).execute(conn)?;
    let result = f(conn);
    diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})")).execute(conn)?;
    result
}

/// Applies every pending migration under the set-up lock. Returns the versions applied.
pub fn run_pending(conn: &mut DbConnection) -> DbResult<Vec<String>> {
    with_setup_lock(conn, apply_pending)
}

/// Applies every pending migration; the caller holds the set-up lock.
pub fn apply_pending(conn: &mut DbConnection) -> DbResult<Vec<String>> {
    let applied = match conn {
        DbConnection::Postgresql(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS),
        DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS),
    };
    applied
        .map(|v| v.iter().map(|m| m.to_string()).collect())
        .map_err(harness_err)
}

/// Applies, under the set-up lock, the pending migrations older than `before` (a version such as
/// `2026-12-03-000020`, dashes optional), oldest first. A data migration's test uses it to build
/// the database as an older release left it.
pub fn apply_before(conn: &mut DbConnection, before: &str) -> DbResult<Vec<String>> {
    with_setup_lock(conn, |conn| match conn {
        DbConnection::Postgresql(c) => apply_before_on(c, POSTGRES_MIGRATIONS, before),
        DbConnection::Sqlite(c) => apply_before_on(c, SQLITE_MIGRATIONS, before),
    })
}

/// The digits of a version, which both spellings (`2026-12-03-000020`, `20261203000020`) share.
fn version_digits(v: &str) -> String {
    v.chars()
        .take_while(|c| *c != '_')
        .filter(char::is_ascii_digit)
        .collect()
}

fn apply_before_on<DB, C>(c: &mut C, source: EmbeddedMigrations, before: &str) -> DbResult<Vec<String>>
where
    DB: diesel::backend::Backend,
    C: MigrationHarness<DB>,
    EmbeddedMigrations: diesel::migration::MigrationSource<DB>,
{
    let cut = version_digits(before);
    let mut all = diesel::migration::MigrationSource::<DB>::migrations(&source).map_err(harness_err)?;
    all.sort_by_key(|m| version_digits(&m.name().version().to_string()));
    let applied: std::collections::HashSet<String> = c
        .applied_migrations()
        .map_err(harness_err)?
        .iter()
        .map(|v| version_digits(&v.to_string()))
        .collect();
    let mut done = Vec::new();
    for m in all {
        let v = version_digits(&m.name().version().to_string());
        if v >= cut {
            break;
        }
        if !applied.contains(&v) {
            c.run_migration(&*m).map_err(harness_err)?;
            done.push(m.name().to_string());
        }
    }
    Ok(done)
}

/// Reverts every applied migration (tests check that each down step works).
pub fn revert_all(conn: &mut DbConnection) -> DbResult<Vec<String>> {
    let reverted = match conn {
        DbConnection::Postgresql(c) => c.revert_all_migrations(POSTGRES_MIGRATIONS),
        DbConnection::Sqlite(c) => c.revert_all_migrations(SQLITE_MIGRATIONS),
    };
    reverted
        .map(|v| v.iter().map(|m| m.to_string()).collect())
        .map_err(harness_err)
}

/// True when the database has every embedded migration (for /readyz).
pub fn is_up_to_date(conn: &mut DbConnection) -> DbResult<bool> {
    let pending = match conn {
        DbConnection::Postgresql(c) => c.has_pending_migration(POSTGRES_MIGRATIONS),
        DbConnection::Sqlite(c) => c.has_pending_migration(SQLITE_MIGRATIONS),
    };
    pending.map(|p| !p).map_err(harness_err)
}
