//! Building the application: shared state, the actix `App` with its middleware, and the server.

use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::{App, HttpServer, web};
use utoipa::OpenApi;
use utoipa_actix_web::{AppExt, scope};
use utoipa_swagger_ui::SwaggerUi;

use crate::api::{self, ApiDoc, extract};
use crate::db::{self, pool::Db};
pub use crate::state::AppState;

/// Applies migrations and loads the embedded reference data (idempotent; replicas may race). A
/// holiday year that arrives embedded in a new release recomputes every open provisional
/// deadline, as an import does (deadlines end at `office_close`). The database's algorithms
/// are the default suite's (see [`prepare_database_with`]).
pub fn prepare_database(db: &Db, office_close: chrono::NaiveTime) -> anyhow::Result<Vec<String>> {
    prepare_database_with(db, office_close, crate::config::CryptoSuite::Standard)
}

/// [`prepare_database`] for a service configured with `suite` (`HWT_CRYPTO`): right after the
/// migrations, before anything is written to the audit trail, a new database records the suite
/// its chain is hashed with; a database started with the other suite is refused with a message
/// naming both.
pub fn prepare_database_with(
    db: &Db,
    office_close: chrono::NaiveTime,
    suite: crate::config::CryptoSuite,
) -> anyhow::Result<Vec<String>> {
    let mut conn = db
        .get()
        .map_err(|_| anyhow::anyhow!("cannot connect to the database: {}", db.diagnose()))?;
    let outcome = db::migrate::with_setup_lock(&mut conn, |conn| {
        let applied = db::migrate::apply_pending(conn)?;
        if let Err(mismatch) = db::audit::settle_suite(conn, suite)? {
            return Ok(Err(mismatch));
        }
        db::catalogue::ensure_embedded(conn)?;
        if db::calendar::ensure_embedded(conn)? > 0 {
            let moved = db::calendar::recompute_open_deadlines(conn, office_close, chrono::Utc::now())?;
            if moved > 0 {
                tracing::info!(
                    moved,
                    "embedded holiday years loaded: open provisional deadlines recomputed"
                );
            }
        }
        Ok(Ok(applied))
    })
    .map_err(|e| anyhow::anyhow!("preparing the database: {e}"))?;
    Ok(outcome?)
}

/// What a start needs besides the schema, under the set-up lock: webhook secrets that an older
/// database stored in plaintext are sealed. Call after [`prepare_database_with`].
pub fn prepare_state(state: &AppState) -> anyhow::Result<()> {
    let mut conn = state
        .db
        .get()
        .map_err(|_| anyhow::anyhow!("cannot connect to the database: {}", state.db.diagnose()))?;
    let sealer = state.sealer.clone();
    let sealed = db::migrate::with_setup_lock(&mut conn, |conn| db::webhook_secrets::seal_plain_secrets(conn, &sealer))
        .map_err(|e| anyhow::anyhow!("preparing the database: {e}"))?;
    if sealed > 0 {
        tracing::info!(sealed, "webhook secrets stored in plaintext were sealed");
    }
    Ok(())
}

/// The OpenAPI document, generated from the handlers.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, api) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .service(scope::scope("/api/v1").configure(api::api_v1))
        .configure(api::root)
        .split_for_parts();
    api::contract::complete(api)
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
    let api = api::contract::complete(api);
    let routes = web::Data::new(api::routes::Routes::from_document(&api));
    app.app_data(routes)
        .service(SwaggerUi::new("/docs/{_:.*}").url("/api/openapi.json", api))
        .service(web::redirect("/docs", "/docs/"))
        .configure(crate::web::routes)
        .default_service(web::to(api::routes::fallback))
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
