//! The r2d2 pool, and the one way handlers reach the database: `Db::run`, which takes the
//! connection and runs the query on actix's blocking thread pool.
//!
//! A connection is proven alive at checkout only when it may have died unseen: when it has not
//! been used for [`TRUSTED_FOR`], or its last use failed. r2d2's own check (`test_on_check_out`)
//! sends `SELECT 1` before every checkout — three of a filing's 26 statements, and a round trip
//! for every read (issue #18). This is HikariCP's rule (`aliveBypassWindowMs`, 500 ms). What it
//! gives up: a connection the database dropped less than `TRUSTED_FOR` after its last good use
//! fails the one request that takes it next (answered 503), and is then tested and replaced.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, ManageConnection, Pool, PooledConnection, R2D2Connection};

use super::{Backend, DbConnection, DbError, DbResult};

pub type DbPool = Pool<Manager>;
pub type PooledConn = PooledConnection<Manager>;

/// How long after its last good use a pooled connection is handed out without a test.
pub const TRUSTED_FOR: Duration = Duration::from_millis(500);

/// When a pooled connection was last used, and whether that use failed (kept in r2d2's
/// per-connection extensions).
#[derive(Debug, Clone, Copy)]
struct LastUse {
    at: Instant,
    failed: bool,
}

thread_local! {
    /// Set just before a connection that failed its test is dropped, so that `has_broken` keeps
    /// it out of the pool (r2d2 asks on the dropping thread).
    static DISCARD: Cell<bool> = const { Cell::new(false) };
}

/// diesel's connection manager, except that checkout tests are the pool's (`Db::get`), and a
/// connection that failed one is dropped instead of returned.
#[derive(Debug)]
pub struct Manager(ConnectionManager<DbConnection>);

impl ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConnection, Self::Error> {
        self.0.connect()
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), Self::Error> {
        self.0.is_valid(conn)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        DISCARD.with(|d| d.replace(false)) || self.0.has_broken(conn)
    }
}

/// Settings of each new connection. SQLite needs WAL (readers never block the writer) and a busy
/// timeout (writers queue instead of failing at once); foreign keys are off by default there.
/// PostgreSQL runs without JIT compilation: the service's queries are short, and a plan whose
/// estimate crosses `jit_above_cost` (the queue's filters over correlated sub-selects do) spent
/// 0.4 s compiling to run 30 ms (docs/BENCHMARKS.md, 2026-12-02).
#[derive(Debug)]
struct SessionSettings;

impl CustomizeConnection<DbConnection, diesel::r2d2::Error> for SessionSettings {
    fn on_acquire(&self, conn: &mut DbConnection) -> Result<(), diesel::r2d2::Error> {
        let settings = match conn {
            DbConnection::Sqlite(_) => {
                "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; \
                 PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;"
            }
            DbConnection::Postgresql(_) => "SET jit = off;",
        };
        conn.batch_execute(settings).map_err(diesel::r2d2::Error::QueryError)
    }
}

/// Marks `conn` used now; a failed use has it tested at its next checkout.
fn note_use(conn: &mut PooledConn, failed: bool) {
    let now = LastUse {
        at: Instant::now(),
        failed,
    };
    let uses = PooledConnection::extensions_mut(conn);
    match uses.get_mut::<LastUse>() {
        Some(last) => *last = now,
        None => {
            uses.insert(now);
        }
    }
}

/// Parses `sqlite://PATH` or `postgres://…` into the backend and the URL diesel expects.
pub fn parse_database_url(url: &str) -> Result<(Backend, String), String> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        if path.is_empty() {
            return Err("sqlite:// URL needs a file path".into());
        }
        Ok((Backend::Sqlite, path.to_string()))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok((Backend::Postgres, url.to_string()))
    } else {
        Err("database URL must start with sqlite:// or postgres://".into())
    }
}

/// The pool plus a counter of requests waiting for a connection (for /metrics).
#[derive(Clone)]
pub struct Db {
    pool: DbPool,
    diesel_url: String,
    backend: Backend,
    waiting: Arc<AtomicI64>,
}

impl Db {
    pub fn connect(url: &str, size: u32, timeout: Duration) -> anyhow::Result<Db> {
        let (backend, diesel_url) = parse_database_url(url).map_err(anyhow::Error::msg)?;
        if backend == Backend::Sqlite
            && let Some(parent) = std::path::Path::new(&diesel_url).parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)?;
        }
        let manager = Manager(ConnectionManager::<DbConnection>::new(diesel_url.clone()));
        let pool = Pool::builder()
            .max_size(size.max(2))
            .connection_timeout(timeout)
            .connection_customizer(Box::new(SessionSettings))
            // Tested in `Db::get` only when it may have died unseen (see the module's comment).
            .test_on_check_out(false)
            // Start without connections so the service can come up before the database does.
            .min_idle(Some(0))
            .build_unchecked(manager);
        Ok(Db {
            pool,
            diesel_url,
            backend,
            waiting: Arc::new(AtomicI64::new(0)),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Takes a connection, blocking; only for code already off the async workers (CLI, jobs, `run`).
    pub fn get(&self) -> DbResult<PooledConn> {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let conn = self.checkout();
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        conn
    }

    /// A live connection: one used well within `TRUSTED_FOR`, or one that answers `SELECT 1`.
    /// A connection that does not answer is dropped and the next one tried; after as many
    /// failures as the pool holds connections, the database is taken to be away.
    fn checkout(&self) -> DbResult<PooledConn> {
        for _ in 0..=self.pool.max_size() {
            let mut conn = self.pool.get()?;
            let trusted = PooledConnection::extensions(&conn)
                .get::<LastUse>()
                .is_some_and(|u| !u.failed && u.at.elapsed() < TRUSTED_FOR);
            if trusted || conn.ping().is_ok() {
                note_use(&mut conn, false);
                return Ok(conn);
            }
            tracing::warn!("a pooled database connection did not answer; it is dropped");
            DISCARD.with(|d| d.set(true));
            drop(conn);
            DISCARD.with(|d| d.set(false));
        }
        Err(DbError::Unavailable("no pooled connection answered".into()))
    }

    /// Runs `f` with a pooled connection on the blocking pool: both the wait for the connection
    /// and the query stay off the async workers.
    /// Changes it makes are audited as the caller of the current request (see `audit::Context`).
    pub async fn run<T, F>(&self, f: F) -> DbResult<T>
    where
        F: FnOnce(&mut DbConnection) -> DbResult<T> + Send + 'static,
        T: Send + 'static,
    {
        self.run_as(crate::audit::Context::capture(), f).await
    }

    /// `run`, auditing changes as `ctx`.
    pub async fn run_as<T, F>(&self, ctx: crate::audit::Context, f: F) -> DbResult<T>
    where
        F: FnOnce(&mut DbConnection) -> DbResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || {
            crate::audit::with_context(ctx, || {
                let mut conn = db.get()?;
                let out = f(&mut conn);
                // A failure that may have come from the connection has it tested at its next
                // checkout; a refusal (not found, a conflict) says nothing about it.
                let failed = matches!(
                    out,
                    Err(DbError::Unavailable(_) | DbError::Query(_) | DbError::Other(_))
                );
                note_use(&mut conn, failed);
                out
            })
        })
        .await
        .map_err(|e| DbError::Other(anyhow::anyhow!("blocking task failed: {e}")))?
    }

    /// Why a connection cannot be made, in the backend's own words. The multi-backend connection
    /// only says "invalid connection url" when every backend refused, which hides the cause.
    pub fn diagnose(&self) -> String {
        use diesel::Connection;
        let result = match self.backend {
            Backend::Postgres => diesel::PgConnection::establish(&self.diesel_url).map(|_| ()),
            Backend::Sqlite => diesel::SqliteConnection::establish(&self.diesel_url).map(|_| ()),
        };
        match result {
            Ok(()) => "the database answers now".into(),
            Err(e) => e.to_string().trim().to_string(),
        }
    }

    /// (connections, idle, waiting) for the metrics endpoint.
    pub fn pool_state(&self) -> (u32, u32, i64) {
        let s = self.pool.state();
        (s.connections, s.idle_connections, self.waiting.load(Ordering::Relaxed))
    }

    /// (running, waiting) write transactions of this process at the write gate (`db::gate`).
    pub fn write_gate_state(&self) -> (u64, u64) {
        super::gate::occupancy()
    }
}
