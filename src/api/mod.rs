//! The HTTP API: handlers, request/response DTOs, errors and the OpenAPI document. Handlers parse
//! input into typed commands and queries, call one `service::` use case, and render its answer.

pub mod applications;
pub mod audit;
pub mod auth;
pub mod body;
pub mod calendar;
pub mod changes;
pub mod contract;
pub mod error;
pub mod extract;
#[doc(hidden)]
pub mod fuzzing;
pub mod health;
pub mod history;
pub mod import;
pub mod manifests;
pub mod middleware;
pub mod reference;
pub mod registry;
pub mod routes;
pub mod users;
pub mod webhooks;
pub mod whitelist;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::service_config::ServiceConfig;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "hwtransfer",
        description = "Cross-provincial hazardous-waste transfer whitelist (危险废物跨省转移白名单). \
                       Errors are RFC 9457 problem documents listing every problem at once.",
        license(name = "Apache-2.0")
    ),
    modifiers(&BearerAuth),
    components(schemas(
        error::Problem,
        error::FieldProblem,
        crate::webhooks::Event,
        crate::webhooks::ApplicationEventData,
        crate::webhooks::ManifestEventData,
        crate::webhooks::WhitelistEntryEventData,
    )),
    tags(
        (name = "auth", description = "Tokens and the caller"),
        (name = "reference", description = "Provinces and the waste catalogue"),
        (name = "calendar", description = "Working days and the holiday calendar"),
        (name = "users", description = "Accounts"),
        (name = "registry", description = "Producer enterprises, operators and their licences"),
        (name = "whitelist", description = "Province-pair agreements, whitelist entries and quota usage"),
        (name = "applications", description = "Transfer applications and their five-working-day workflow"),
        (name = "manifests", description = "Shipment manifests (电子转移联单) and receipt"),
        (name = "history", description = "Transfer history and the annual reconciliation"),
        (name = "audit", description = "The hash-chained audit trail"),
        (name = "webhooks", description = "Signed webhooks: subscriptions, deliveries, replay (see docs/WEBHOOKS.md)"),
        (name = "operations", description = "Health, readiness, metrics"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Everything under `/api/v1`.
pub fn api_v1(cfg: &mut ServiceConfig) {
    cfg.service(auth::issue_token)
        .service(auth::me)
        .service(auth::enrol_second_factor)
        .service(auth::confirm_second_factor)
        .service(auth::disable_second_factor)
        .service(auth::reset_second_factor)
        .service(auth::change_password)
        .service(auth::reset_password)
        .service(reference::list_provinces)
        .service(reference::search_waste_codes)
        .service(reference::list_editions)
        .service(reference::import_edition)
        .service(calendar::working_days)
        .service(calendar::overview)
        .service(calendar::get_year)
        .service(calendar::put_year)
        .service(users::list_users)
        .service(users::create_user_handler)
        .service(users::get_user)
        .service(users::disable_user)
        .service(users::enable_user)
        .service(registry::create_enterprise)
        .service(registry::list_enterprises)
        .service(registry::get_enterprise)
        .service(registry::create_operator)
        .service(registry::list_operators)
        .service(registry::get_operator)
        .service(registry::licence_history)
        .service(registry::add_licence)
        .service(registry::suspend_licence)
        .service(registry::reinstate_licence)
        .service(whitelist::propose_agreement)
        .service(whitelist::list_agreements)
        .service(whitelist::confirm_agreement)
        .service(whitelist::terminate_agreement)
        .service(whitelist::propose_entry)
        .service(import::import_entries)
        .service(whitelist::list_entries)
        // Before `/whitelist-entries/{id}` so the literal path wins.
        .service(whitelist::eligible_operators)
        .service(whitelist::get_entry)
        .service(whitelist::entry_versions)
        .service(whitelist::confirm_entry)
        .service(whitelist::suspend_entry)
        .service(whitelist::reinstate_entry)
        .service(whitelist::amend_entry)
        .service(whitelist::entry_usage)
        // `/check` before `/{id}` routes.
        .service(applications::check_application)
        .service(applications::file_application)
        .service(applications::list_applications)
        .service(applications::get_application)
        .service(applications::application_events)
        .service(applications::accept)
        .service(applications::request_correction)
        .service(applications::refuse_acceptance)
        .service(applications::resubmit)
        .service(applications::decide)
        .service(applications::withdraw)
        .service(applications::suspend_clock)
        .service(applications::resume_clock)
        .service(applications::reroute)
        .service(applications::revoke)
        .service(applications::add_attachment)
        .service(applications::list_attachments)
        .service(applications::download_attachment)
        // `/manifests/batch` before `/manifests/{id}` routes.
        .service(manifests::create_manifests_batch)
        .service(manifests::create_manifest)
        .service(manifests::list_manifests)
        .service(manifests::get_manifest)
        .service(manifests::dispatch)
        .service(manifests::arrival)
        .service(manifests::cancel)
        .service(manifests::receipt)
        .service(audit::verify)
        .service(audit::events)
        .service(history::transfers)
        .service(history::annual)
        .service(webhooks::event_types)
        .service(webhooks::create_subscription)
        .service(webhooks::list_subscriptions)
        .service(webhooks::get_subscription)
        .service(webhooks::delete_subscription)
        .service(webhooks::enable_subscription)
        .service(webhooks::list_deliveries)
        .service(webhooks::replay)
        .service(changes::read_changes);
}

/// Routes outside `/api/v1`.
pub fn root(cfg: &mut ServiceConfig) {
    cfg.service(health::healthz)
        .service(health::readyz)
        .service(health::metrics)
        .service(auth::jwks);
}
