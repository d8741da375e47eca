//! The web UI for provincial regulators and auditors (Chinese by default, with an English switch).
//!
//! Pages are rendered on the server with askama; htmx (vendored, embedded) refreshes parts of a
//! page and asks for confirmation before a decision. Every page goes through the same core
//! functions as the API, with the principal taken from a session cookie that carries the same
//! short-lived access token (`session`). Every response carries a CSP without inline script.

mod assets;
mod forms;
mod i18n;
mod pages;
mod session;

use actix_web::web;

pub use i18n::Lang;

/// The Content-Security-Policy of every UI page: nothing inline, nothing from elsewhere.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                       connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
                       form-action 'self'; frame-ancestors 'none'";

/// The UI's routes: `/`, `/ui/…` and the public `/verify/{number}`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(pages::root))
        .route("/verify/{number}", web::get().to(pages::verify))
        .service(
            web::scope("/ui")
                .app_data(forms::upload_config())
                .route("/static/{file}", web::get().to(assets::serve))
                .route("/login", web::get().to(pages::login_form))
                .route("/login", web::post().to(pages::login))
                .route("/logout", web::post().to(pages::logout))
                .route("/lang/{code}", web::get().to(pages::switch_lang))
                .route("/queue", web::get().to(pages::queue))
                .route("/queue/counts", web::get().to(pages::queue_counts))
                .route("/applications/{id}", web::get().to(pages::application))
                .route("/applications/{id}/act", web::post().to(pages::act))
                .route("/applications/{id}/certificate", web::get().to(pages::certificate))
                .route("/applications/{id}/refusal", web::get().to(pages::refusal))
                .route("/whitelist", web::get().to(pages::whitelist))
                .route("/whitelist/new", web::get().to(forms::whitelist_new))
                .route("/whitelist/propose", web::post().to(forms::whitelist_propose))
                .route("/whitelist/import", web::post().to(forms::whitelist_import))
                .route("/whitelist/{id}/{action}", web::post().to(pages::whitelist_change))
                .route("/calendar", web::get().to(pages::calendar))
                .route("/calendar/import", web::post().to(forms::calendar_import))
                .route("/catalogue", web::get().to(pages::catalogue))
                .route("/catalogue/import", web::post().to(forms::catalogue_import))
                .route("/history", web::get().to(pages::history))
                .route("/history/export", web::get().to(pages::history_export))
                .route("/audit", web::get().to(pages::audit))
                .route("/annual", web::get().to(pages::annual))
                .route("/annual/export", web::get().to(pages::annual_export))
                .route("/dashboard", web::get().to(pages::dashboard))
                .route("/webhooks", web::get().to(pages::webhooks))
                .route("/webhooks/{id}/enable", web::post().to(pages::webhook_enable)),
        );
}
