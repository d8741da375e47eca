//! Embedded migrations, one tree per backend with the same folder names.

use diesel::RunQueryDsl;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::{DbConnection, DbError, DbResult};

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Advisory-lock key shared by every replica, so only one applies migrations at a time.
const MIGRATION_LOCK_KEY: i64 = 0x4857_545f_4d49_47; // "HWT_MIG"

fn harness_err(e: Box<dyn std::error::Error + Send + Sync>) -> DbError {
    DbError::Other(anyhow::anyhow!("migration failed: {e}"))
}

/// Applies every pending migration; on PostgreSQL under an advisory lock so replicas starting
/// together do not race. Returns the versions applied.
pub fn run_pending(conn: &mut DbConnection) -> DbResult<Vec<String>> {
    match conn {
        DbConnection::Postgresql(c) => {
            diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})")).execute(c)?;
            let result = c
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|v| v.iter().map(|m| m.to_string()).collect())
                .map_err(harness_err);
            diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})")).execute(c)?;
            result
        }
        DbConnection::Sqlite(c) => c
            .run_pending_migrations(SQLITE_MIGRATIONS)
            .map(|v| v.iter().map(|m| m.to_string()).collect())
            .map_err(harness_err),
    }
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
