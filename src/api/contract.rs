//! The answers every operation of a kind can give, added to the document once instead of in each
//! handler's annotation: a secured operation can answer 401, 403 and 429; one with a path
//! parameter 404 (absent, or another party's); one that reads a body 400, 413, 415 and 422; one
//! with query parameters 400 and 422; every operation that touches the database 503. What a
//! handler documents itself (with its own description) is kept.

use utoipa::Modify;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};

pub struct StandardAnswers;

/// (status, description) of the answers, each a problem document.
const ANSWERS: &[(&str, &str)] = &[
    (
        "400",
        "The request could not be read: malformed JSON, or a path or query value of the wrong type",
    ),
    ("401", "No valid bearer token (`WWW-Authenticate: Bearer`)"),
    ("403", "The caller's role or binding may not do this"),
    (
        "404",
        "No such object, or one outside the caller's scope (the same answer, no existence leak)",
    ),
    ("413", "The body is larger than the service accepts"),
    ("415", "The body is not `application/json`"),
    (
        "422",
        "The request is invalid: `errors` lists every problem with a JSON pointer",
    ),
    ("429", "Too many requests from this account (`Retry-After`)"),
    ("503", "The database is unavailable (`Retry-After`)"),
];

fn applies(status: &str, op: &Operation, path: &str) -> bool {
    let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let params = op.parameters.as_deref().unwrap_or_default();
    let has_query = params.iter().any(|p| p.parameter_in == ParameterIn::Query);
    let has_path = path.contains('{');
    let has_body = op.request_body.is_some();
    match status {
        "400" => has_body || has_query || has_path,
        "401" | "403" | "429" => secured,
        "404" => has_path,
        "413" | "415" => has_body,
        "422" => has_body || has_query,
        "503" => !matches!(path, "/healthz" | "/metrics" | "/.well-known/jwks.json"),
        _ => false,
    }
}

impl Modify for StandardAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let ops = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in ops.into_iter().flatten() {
                for (status, description) in ANSWERS {
                    if !applies(status, op, path) || op.responses.responses.contains_key(*status) {
                        continue;
                    }
                    let response = ResponseBuilder::new()
                        .description(*description)
                        .content(
                            "application/problem+json",
                            ContentBuilder::new()
                                .schema(Some(Ref::from_schema_name("Problem")))
                                .build(),
                        )
                        .build();
                    op.responses.responses.insert(status.to_string(), RefOr::T(response));
                }
            }
        }
    }
}

/// The document as published: the handlers' paths with the standard answers added.
pub fn complete(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    StandardAnswers.modify(&mut doc);
    doc
}
