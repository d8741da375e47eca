//! The web UI for provincial regulators and auditors (Chinese by default, with an English switch).
//!
//! Pages are rendered on the server with askama; htmx (vendored, embedded) refreshes parts of a
//! page and asks for confirmation before a decision. Every page goes through the same core
//! functions as the API, with the principal taken from a session cookie that carries the same
//! short-lived access token (`session`). Every response carries a CSP without inline script.

mod assets;
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
    cfg.route("/", web::get().to(pages::login::root))
        .route("/verify/{number}", web::get().to(pages::certificate::verify))
        .service(
            web::scope("/ui")
                .app_data(pages::upload_config())
                .route("/static/{file}", web::get().to(assets::serve))
                .route("/login", web::get().to(pages::login::login_form))
                .route("/login", web::post().to(pages::login::login))
                .route("/logout", web::post().to(pages::login::logout))
                .route("/lang/{code}", web::get().to(pages::login::switch_lang))
                .route("/password", web::get().to(pages::account::password_form))
                .route("/password", web::post().to(pages::account::password_change))
                .route("/second-factor", web::get().to(pages::account::second_factor_page))
                .route(
                    "/second-factor/start",
                    web::post().to(pages::account::second_factor_start),
                )
                .route(
                    "/second-factor/confirm",
                    web::post().to(pages::account::second_factor_confirm),
                )
                .route(
                    "/second-factor/disable",
                    web::post().to(pages::account::second_factor_disable),
                )
                .route("/queue", web::get().to(pages::queue::queue))
                .route("/queue/counts", web::get().to(pages::queue::queue_counts))
                .route("/applications/{id}", web::get().to(pages::application::application))
                .route("/applications/{id}/act", web::post().to(pages::application::act))
                .route(
                    "/applications/{id}/certificate",
                    web::get().to(pages::certificate::certificate),
                )
                .route("/applications/{id}/refusal", web::get().to(pages::certificate::refusal))
                .route("/whitelist", web::get().to(pages::whitelist::whitelist))
                .route("/whitelist/new", web::get().to(pages::whitelist_new::whitelist_new))
                .route(
                    "/whitelist/propose",
                    web::post().to(pages::whitelist_new::whitelist_propose),
                )
                .route(
                    "/whitelist/import",
                    web::post().to(pages::whitelist_new::whitelist_import),
                )
                .route(
                    "/whitelist/{id}/{action}",
                    web::post().to(pages::whitelist::whitelist_change),
                )
                .route("/entries/{id}", web::get().to(pages::entry::entry))
                .route("/entries/{id}/amend", web::post().to(pages::entry::entry_amend))
                .route("/agreements", web::get().to(pages::agreements::agreements))
                .route(
                    "/agreements/propose",
                    web::post().to(pages::agreements::agreement_propose),
                )
                .route(
                    "/agreements/{id}/{action}",
                    web::post().to(pages::agreements::agreement_change),
                )
                .route("/manifests/{id}", web::get().to(pages::manifests::manifest))
                .route("/calendar", web::get().to(pages::calendar::calendar))
                .route("/calendar/import", web::post().to(pages::calendar::calendar_import))
                .route("/catalogue", web::get().to(pages::catalogue::catalogue))
                .route("/catalogue/import", web::post().to(pages::catalogue::catalogue_import))
                .route("/history", web::get().to(pages::history::history))
                .route("/history/export", web::get().to(pages::history::history_export))
                .route("/audit", web::get().to(pages::audit::audit))
                .route("/annual", web::get().to(pages::annual::annual))
                .route("/annual/export", web::get().to(pages::annual::annual_export))
                .route("/dashboard", web::get().to(pages::dashboard::dashboard))
                .route("/webhooks", web::get().to(pages::webhooks::webhooks))
                .route("/webhooks/{id}/enable", web::post().to(pages::webhooks::webhook_enable)),
        );
}
