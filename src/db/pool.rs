//! The r2d2 pool, and the one way handlers reach the database: `Db::run`, which takes the
//! connection and runs the query on actix's blocking thread pool.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};

use super::{Backend, DbConnection, DbError, DbResult};

pub type DbPool = Pool<ConnectionManager<DbConnection>>;
pub type PooledConn = PooledConnection<ConnectionManager<DbConnection>>;

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
        let manager = ConnectionManager::<DbConnection>::new(diesel_url.clone());
        let pool = Pool::builder()
            .max_size(size.max(2))
            .connection_timeout(timeout)
            .connection_customizer(Box::new(SessionSettings))
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
        let conn = self.pool.get();
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        conn.map_err(DbError::from)
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
                f(&mut conn)
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
