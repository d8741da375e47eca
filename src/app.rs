//! Building the application: shared state, the actix `App` with its middleware, and the server.

use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::{App, HttpResponse, HttpServer, web};
use utoipa::OpenApi;
use utoipa_actix_web::{AppExt, scope};
use utoipa_swagger_ui::SwaggerUi;

use crate::api::{self, ApiDoc, error::ApiError, extract};
use crate::auth::keys::JwtKeys;
use crate::config::Config;
use crate::db::{self, pool::Db};
use crate::domain::calendar::WorkingDayCalendar;
use crate::metrics::Metrics;

/// State shared by every worker; built once, outside `HttpServer::new`.
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub keys: Arc<JwtKeys>,
    pub metrics: Arc<Metrics>,
    pub subject_cache: extract::SubjectCache,
    /// Requests per signed-in subject (see `api::rate_limit`).
    pub rate_limit: Arc<crate::api::rate_limit::SubjectLimiter>,
    /// The working-day calendar, re-read from the database at most every minute (another replica
    /// may have imported a year) and at once after an import here.
    calendar: std::sync::RwLock<Option<(std::time::Instant, Arc<WorkingDayCalendar>)>>,
}

impl AppState {
    /// Connects, loads or generates keys. Does not touch the database yet.
    pub fn new(config: Config) -> anyhow::Result<AppState> {
        let db = Db::connect(
            &config.database_url,
            config.pool_size,
            Duration::from_secs(config.pool_timeout_secs),
        )?;
        let keys = JwtKeys::load_or_generate(&config.private_key_path(), &config.public_key_path())?;
        let rate_limit = Arc::new(crate::api::rate_limit::SubjectLimiter::new(
            config.rate_limit_per_sec,
            config.rate_limit_burst,
        ));
        Ok(AppState {
            config: Arc::new(config),
            db,
            keys: Arc::new(keys),
            metrics: Arc::new(Metrics::new()?),
            subject_cache: extract::SubjectCache::default(),
            rate_limit,
            calendar: std::sync::RwLock::new(None),
        })
    }

    /// The current working-day calendar.
    pub async fn calendar(&self) -> Result<Arc<WorkingDayCalendar>, crate::db::DbError> {
        if let Ok(guard) = self.calendar.read()
            && let Some((at, cal)) = guard.as_ref()
            && at.elapsed() < Duration::from_secs(60)
        {
            return Ok(cal.clone());
        }
        let cal = Arc::new(self.db.run(db::calendar::load).await?);
        if let Ok(mut guard) = self.calendar.write() {
            *guard = Some((std::time::Instant::now(), cal.clone()));
        }
        Ok(cal)
    }

    /// Forgets the cached calendar (after an import).
    pub fn invalidate_calendar(&self) {
        if let Ok(mut guard) = self.calendar.write() {
            *guard = None;
        }
    }
}

/// Applies migrations and loads the embedded reference data (idempotent; replicas may race).
pub fn prepare_database(db: &Db) -> anyhow::Result<Vec<String>> {
    let mut conn = db
        .get()
        .map_err(|_| anyhow::anyhow!("cannot connect to the database: {}", db.diagnose()))?;
    db::migrate::with_setup_lock(&mut conn, |conn| {
        let applied = db::migrate::apply_pending(conn)?;
        db::catalogue::ensure_embedded(conn)?;
        db::calendar::ensure_embedded(conn)?;
        Ok(applied)
    })
    .map_err(|e| anyhow::anyhow!("preparing the database: {e}"))
}

/// The OpenAPI document, generated from the handlers.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, api) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .service(scope::scope("/api/v1").configure(api::api_v1))
        .configure(api::root)
        .split_for_parts();
    api
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

/// The application with all routes and middleware.
pub fn build_app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let max_json = state.config.max_json_bytes;
    let (app, api) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .app_data(state)
        .app_data(
            web::JsonConfig::default()
                .limit(max_json)
                .error_handler(extract::json_error),
        )
        .app_data(web::PathConfig::default().error_handler(extract::path_error))
        .app_data(web::QueryConfig::default().error_handler(extract::query_error))
        .service(scope::scope("/api/v1").configure(api::api_v1))
        .configure(api::root)
        .split_for_parts();
    app.service(SwaggerUi::new("/docs/{_:.*}").url("/api/openapi.json", api))
        .service(web::redirect("/docs", "/docs/"))
        .configure(crate::admin::routes)
        .default_service(web::to(not_found))
        .wrap(
            DefaultHeaders::new()
                .add(("X-Content-Type-Options", "nosniff"))
                .add(("Referrer-Policy", "no-referrer"))
                .add(("X-Frame-Options", "DENY")),
        )
        .wrap(from_fn(api::middleware::request_context))
}

/// Binds and returns the running server (not yet awaited) and the bound address.
pub fn start_server(
    state: web::Data<AppState>,
    listen: &str,
) -> anyhow::Result<(actix_web::dev::Server, std::net::SocketAddr)> {
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .max(2);
    let server_state = state.clone();
    let server = HttpServer::new(move || build_app(server_state.clone()))
        .workers(workers)
        .bind(listen)?;
    let addr = server
        .addrs()
        .first()
        .copied()
        .ok_or_else(|| anyhow::anyhow!("no address bound"))?;
    Ok((server.run(), addr))
}
