//! Storage: the only module that knows diesel. One schema over SQLite (embedded default) and
//! PostgreSQL (production), chosen by the database URL.

pub mod annual;
pub mod applications;
pub mod audit;
pub mod calendar;
pub mod catalogue;
pub mod counters;
pub mod dashboard;
pub mod figures;
pub mod gate;
pub mod history;
pub mod locks;
pub mod manifests;
pub mod migrate;
pub mod outbox;
pub mod outbox_retention;
pub mod pool;
pub mod rates;
pub mod registry;
pub mod replica;
pub mod scale;
pub mod schema;
pub mod second_factor;
pub mod throttle;
pub mod ui_sessions;
pub mod users;
pub mod webhook_secrets;
pub mod whitelist;

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};

/// One connection type over both backends.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgresql(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

impl DbConnection {
    pub fn is_postgres(&self) -> bool {
        matches!(self, DbConnection::Postgresql(_))
    }
}

/// Which backend a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Storage errors, kept apart from API errors so handlers decide what a client sees.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No connection could be had in time, or the database went away: answer 503.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("not found")]
    NotFound,
    /// A unique or check constraint refused the write.
    #[error("conflict: {0}")]
    Conflict(String),
    #[error(transparent)]
    Query(diesel::result::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<diesel::result::Error> for DbError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind as K, Error as E};
        match e {
            E::NotFound => DbError::NotFound,
            E::DatabaseError(K::UniqueViolation, info) => DbError::Conflict(info.message().to_string()),
            E::DatabaseError(K::ClosedConnection | K::UnableToSendCommand, info) => {
                DbError::Unavailable(info.message().to_string())
            }
            E::BrokenTransactionManager => DbError::Unavailable("broken transaction manager".into()),
            other => DbError::Query(other),
        }
    }
}

impl From<r2d2::Error> for DbError {
    fn from(e: r2d2::Error) -> Self {
        DbError::Unavailable(e.to_string())
    }
}

pub type DbResult<T> = Result<T, DbError>;

/// Timestamps are truncated to microseconds so both backends round-trip the same value.
pub fn db_now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}

pub fn to_db_time(t: DateTime<Utc>) -> NaiveDateTime {
    t.naive_utc().trunc_subsecs(6)
}

pub fn from_db_time(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

/// A fresh, time-ordered identifier (UUIDv7) for new rows; generated here so no insert needs `RETURNING`.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A write transaction. On SQLite it starts with `BEGIN IMMEDIATE`, taking the write lock up
/// front: a deferred transaction that reads first and writes later can fail at once with
/// SQLITE_BUSY when another writer got in between, whatever the busy timeout. The audit records
/// the work made (see `audit::record`) are chained in as its last statements.
pub fn write_tx<T, E>(conn: &mut DbConnection, f: impl FnOnce(&mut DbConnection) -> Result<T, E>) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    let (outermost, mark) = audit::enter();
    // The outermost unit of work waits its turn first (see `gate`); savepoints run in it.
    let turn = outermost.then(gate::wait_turn);
    let result = write_tx_inner(conn, outermost, f);
    drop(turn);
    audit::leave(result.is_ok(), mark);
    result
}

/// `write_tx` without a turn at the write gate, for a unit of work that writes nothing but audit
/// records (`audit::record_read`): the gate bounds transactions that queue on the rows they
/// change; this one changes only the audit head, held for two statements and the commit, so an
/// auditor's answer does not wait behind filings for a turn.
pub(super) fn ungated_tx<T, E>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    let (outermost, mark) = audit::enter();
    let result = write_tx_inner(conn, outermost, f);
    audit::leave(result.is_ok(), mark);
    result
}

fn write_tx_inner<T, E>(
    conn: &mut DbConnection,
    outermost: bool,
    f: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    type Tm = <DbConnection as diesel::Connection>::TransactionManager;
    // Nested inside another transaction (a savepoint) or on PostgreSQL: the usual way.
    let nested = Tm::transaction_manager_status_mut(conn)
        .transaction_depth()
        .map(|d| d.is_some())
        .unwrap_or(true);
    let body = |conn: &mut DbConnection| -> Result<T, E> {
        let v = f(conn)?;
        if outermost {
            audit::flush(conn)?;
        }
        Ok(v)
    };
    if nested || !matches!(conn, DbConnection::Sqlite(_)) {
        return diesel::Connection::transaction(conn, body);
    }
    if let DbConnection::Sqlite(c) = conn {
        AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?;
    }
    match body(conn) {
        Ok(v) => {
            Tm::commit_transaction(conn)?;
            Ok(v)
        }
        Err(e) => {
            if let Err(rollback) = Tm::rollback_transaction(conn) {
                tracing::warn!(error = %rollback, "rollback failed");
            }
            Err(e)
        }
    }
}
