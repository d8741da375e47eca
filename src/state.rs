//! The state every request and job shares: configuration, the pool, the signing keys, the
//! metrics, the subject cache, the request limiter and the working-day calendar cache.

use std::sync::Arc;
use std::time::Duration;

use crate::auth::keys::JwtKeys;
use crate::config::Config;
use crate::db::{self, pool::Db};
use crate::domain::calendar::WorkingDayCalendar;
use crate::metrics::Metrics;

/// The stored calendar's version: years held, last import.
type CalendarVersion = (i64, Option<chrono::NaiveDateTime>);

/// The working-day calendar kept in memory with the stored version it was read at.
#[derive(Default)]
pub struct CalendarCache(std::sync::RwLock<Option<(CalendarVersion, Arc<WorkingDayCalendar>)>>);

impl CalendarCache {
    /// The current calendar, on a connection the caller already holds: checked against the
    /// database's calendar version (`db::calendar::version`: one small read) at every call, so a
    /// year imported on another replica counts in this one's next deadline at once; the day rows
    /// are read again only when the version moved. Asked on the use case's own connection, it
    /// costs no checkout of its own (issue #18).
    pub fn on(&self, conn: &mut db::DbConnection) -> Result<Arc<WorkingDayCalendar>, crate::db::DbError> {
        let cached = self.0.read().ok().and_then(|g| g.clone());
        let version = db::calendar::version(conn)?;
        if let Some((known, cal)) = cached
            && known == version
        {
            return Ok(cal);
        }
        let cal = Arc::new(db::calendar::load(conn)?);
        if let Ok(mut guard) = self.0.write() {
            *guard = Some((version, cal.clone()));
        }
        Ok(cal)
    }

    /// Forgets the cached calendar (after an import).
    pub fn forget(&self) {
        if let Ok(mut guard) = self.0.write() {
            *guard = None;
        }
    }
}

/// The loaded catalogue editions `(edition, in force from)`.
pub type LoadedEditions = Arc<Vec<(i32, chrono::NaiveDate)>>;

/// State shared by every worker; built once, outside `HttpServer::new`.
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub keys: Arc<JwtKeys>,
    /// The key that seals webhook secrets at rest (`crypto::seal`).
    pub sealer: Arc<crate::crypto::seal::Sealer>,
    pub metrics: Arc<Metrics>,
    pub subject_cache: crate::auth::session::SubjectCache,
    /// Requests per signed-in subject (see `auth::rate_limit`).
    pub rate_limit: Arc<crate::auth::rate_limit::SubjectLimiter>,
    /// The hot standby that serves the archive's reads, when one is configured (`db::replica`;
    /// `service::reads` decides who it may serve).
    pub replica: Option<Arc<crate::db::replica::Replica>>,
    /// The working-day calendar with the database's calendar version it was read at.
    pub calendars: Arc<CalendarCache>,
    /// The loaded catalogue editions with their in-force dates, re-read at most every minute (for the
    /// banner and the metric of a missing edition).
    catalogue: std::sync::RwLock<Option<(std::time::Instant, LoadedEditions)>>,
}

impl AppState {
    /// Connects, loads or generates keys. Does not touch the database yet.
    pub fn new(config: Config) -> anyhow::Result<AppState> {
        let db = Db::connect(
            &config.database_url,
            config.pool_size,
            Duration::from_secs(config.pool_timeout_secs),
        )?;
        crate::db::gate::set_limit(config.write_concurrency);
        let keys = JwtKeys::load_or_generate_for(config.crypto, &config.private_key_path(), &config.public_key_path())?;
        let sealer = crate::crypto::seal::Sealer::load_or_generate(&config.webhook_key_path())?;
        let rate_limit = Arc::new(crate::auth::rate_limit::SubjectLimiter::for_database(
            &db,
            config.rate_limit_per_sec,
            config.rate_limit_burst,
        ));
        let replica = match &config.read_database_url {
            Some(url) => {
                if db.backend() != crate::db::Backend::Postgres {
                    anyhow::bail!("a read replica (HWT_READ_DATABASE_URL) needs a PostgreSQL primary");
                }
                Some(Arc::new(crate::db::replica::Replica::connect(
                    url,
                    config.pool_size,
                    Duration::from_millis(config.read_max_lag_ms),
                )?))
            }
            None => None,
        };
        Ok(AppState {
            replica,
            config: Arc::new(config),
            db,
            keys: Arc::new(keys),
            sealer: Arc::new(sealer),
            metrics: Arc::new(Metrics::new()?),
            subject_cache: crate::auth::session::SubjectCache::default(),
            rate_limit,
            calendars: Arc::new(CalendarCache::default()),
            catalogue: std::sync::RwLock::new(None),
        })
    }

    /// The current working-day calendar, on a connection of its own (see [`CalendarCache::on`];
    /// a use case that reads the database anyway asks on its own connection instead).
    pub async fn calendar(&self) -> Result<Arc<WorkingDayCalendar>, crate::db::DbError> {
        let calendars = self.calendars.clone();
        self.db.run(move |conn| calendars.on(conn)).await
    }

    /// Forgets the cached calendar (after an import).
    pub fn invalidate_calendar(&self) {
        self.calendars.forget();
    }

    /// The loaded catalogue editions `(edition, in force from)`, re-read at most every minute.
    pub async fn catalogue_editions(&self) -> Result<LoadedEditions, crate::db::DbError> {
        if let Ok(guard) = self.catalogue.read()
            && let Some((at, eds)) = guard.as_ref()
            && at.elapsed() < Duration::from_secs(60)
        {
            return Ok(eds.clone());
        }
        let eds = Arc::new(self.db.run(db::catalogue::edition_dates).await?);
        if let Ok(mut guard) = self.catalogue.write() {
            *guard = Some((std::time::Instant::now(), eds.clone()));
        }
        Ok(eds)
    }

    /// Forgets the cached editions (after an import).
    pub fn invalidate_catalogue(&self) {
        if let Ok(mut guard) = self.catalogue.write() {
            *guard = None;
        }
    }
}
