//! The answers every operation of a kind can give, added to the document once instead of in each
//! handler's annotation: a secured operation can answer 401, 403 and 429; one with a path
//! parameter 404 (absent, or another party's); one that reads a body 400, 413, 415 and 422; one
//! with query parameters 400 and 422; every operation that touches the database 503. What a
//! handler documents itself (with its own description) is kept.

use serde_json::{Value, json};
use utoipa::Modify;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};

use super::extract::{CURSOR_PATTERN, LIMIT_MAX};
use crate::domain::catalogue::{WASTE_CATEGORY_PATTERN, WASTE_CODE_PATTERN};
use crate::domain::province::provinces;
use crate::domain::workflow::Status;
use crate::service::applications::queue::QUEUE_CURSOR_PATTERN;

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
        "422" => has_body || has_query || has_path,
        "503" => !matches!(path, "/healthz" | "/metrics" | "/.well-known/jwks.json"),
        _ => false,
    }
}

/// The operations of a path item that the service declares.
fn operations(item: &mut utoipa::openapi::path::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .flatten()
}

impl Modify for StandardAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            for op in operations(item) {
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

/// The document as published: the handlers' paths with the standard answers added, and every
/// parameter described as the server reads it.
pub fn complete(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    StandardAnswers.modify(&mut doc);
    describe_parameters(&mut doc);
    close_body_choices(&mut doc);
    doc
}

/// Every request body is a typed command that refuses unknown fields. A plain struct says so in
/// its schema (`additionalProperties: false`); the branches of a tagged choice (a decision is
/// approve | refuse) do not get it from utoipa, so it is added here to the bodies' choices.
fn close_body_choices(doc: &mut utoipa::openapi::OpenApi) {
    let mut bodies = std::collections::BTreeSet::new();
    if let Ok(paths) = serde_json::to_value(&doc.paths) {
        collect_body_refs(&paths, &mut bodies);
    }
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    for name in bodies {
        let Some(schema) = components.schemas.get_mut(&name) else {
            continue;
        };
        let Ok(mut value) = serde_json::to_value(&*schema) else {
            continue;
        };
        let Some(branches) = value.get_mut("oneOf").and_then(Value::as_array_mut) else {
            continue;
        };
        for branch in branches {
            if branch.get("properties").is_some() && branch.get("additionalProperties").is_none() {
                branch["additionalProperties"] = Value::Bool(false);
            }
        }
        match serde_json::from_value(value) {
            Ok(closed) => *schema = closed,
            Err(e) => tracing::error!(%name, error = %e, "body schema not closed"),
        }
    }
}

fn collect_body_refs(value: &Value, out: &mut std::collections::BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(body) = map.get("requestBody") {
                let refs = body
                    .pointer("/content/application~1json/schema/$ref")
                    .and_then(Value::as_str);
                if let Some(name) = refs.and_then(|r| r.rsplit('/').next()) {
                    out.insert(name.to_string());
                }
            }
            map.values().for_each(|v| collect_body_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_body_refs(v, out)),
        _ => {}
    }
}

/// A year the service keeps calendars, catalogues and whitelists for.
const YEAR: (i64, i64) = (2000, 2100);

/// The schema of a parameter as the server parses it: the same parsers for the same name
/// everywhere (`ProvinceCode::parse` for every province, `QueryParams::limit` for every limit, …),
/// with the few names whose meaning depends on the operation told apart by path.
fn parameter_schema(path: &str, location: &str, name: &str) -> Option<Value> {
    let provinces: Vec<String> = provinces().iter().map(|p| p.code.as_str()).collect();
    let year = json!({"type": "integer", "minimum": YEAR.0, "maximum": YEAR.1});
    let boolean = json!({"type": "string", "enum": ["true", "false"]});
    // An RFC 3339 instant (`DateTime::parse_from_rfc3339`).
    let instant = json!({"type": "string", "format": "date-time"});
    // `audit::parse_bound`: an instant, or a date taken as its midnight in Shanghai.
    let bound = json!({"anyOf": [
        {"type": "string", "format": "date-time"},
        {"type": "string", "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
    ]});
    Some(match (location, name) {
        ("path", "year") => year,
        ("header", "If-Match") if path.starts_with("/api/v1/whitelist-entries") => {
            json!({"type": "string", "pattern": "^(W/)?\"?v[0-9]{1,9}\"?$"})
        }
        ("header", "If-Match") => json!({"type": "string", "pattern": "^(W/)?\"?[0-9]{1,9}\"?$"}),
        ("header", "Idempotency-Key") => json!({"type": "string", "pattern": "^[!-~]{1,128}$"}),
        ("header", "X-Confirm-Warnings") => json!({"type": "string", "pattern": "^[A-Za-z0-9_-]{43}$"}),
        ("query", _) => match name {
            "limit" => json!({"type": "integer", "minimum": 1, "maximum": LIMIT_MAX}),
            "cursor" if path == "/api/v1/transfer-applications" => {
                json!({"type": "string", "pattern": QUEUE_CURSOR_PATTERN})
            }
            "cursor" if path == "/api/v1/audit/events" => json!({"type": "string", "pattern": "^[0-9]{1,18}$"}),
            // An event seq, like `after_seq` (at most 2^53 − 1, so every JSON client reads it exactly).
            "cursor" if path.ends_with("/deliveries") => json!({"type": "string", "pattern": "^[0-9]{1,15}$"}),
            "cursor" => json!({"type": "string", "pattern": CURSOR_PATTERN}),
            // The changes feed's cursor (`service::changes::Cursor::parse`) and long-poll wait.
            "after" if path == "/api/v1/changes" => {
                json!({"type": "string", "pattern": crate::service::changes::CURSOR_PATTERN})
            }
            "wait" => json!({"type": "integer", "minimum": 0, "maximum": crate::service::changes::WAIT_MAX_SECS}),
            "after_seq" => json!({"type": "integer", "minimum": 0, "maximum": crate::webhooks::SEQ_MAX}),
            "province" | "source_province" | "receiving_province" => json!({"type": "string", "enum": provinces}),
            "code" => json!({"type": "string", "pattern": WASTE_CODE_PATTERN}),
            "category" => json!({"type": "string", "pattern": WASTE_CATEGORY_PATTERN}),
            "year" | "edition" => year,
            "add" => json!({"type": "integer", "minimum": 0, "maximum": 250}),
            "from" if path == "/api/v1/calendar/working-days" => {
                json!({"type": "string", "format": "date", "pattern": "^(20[0-9]{2}|2100)-[0-9]{2}-[0-9]{2}$"})
            }
            "from" | "to" => bound,
            "due_before" | "as_of" => instant,
            "overdue" | "totals" | "dry_run" => boolean,
            "side" => json!({"type": "string", "enum": ["source", "receiving"]}),
            "route" => json!({"type": "string", "enum": ["whitelist", "standard"]}),
            "by" => json!({"type": "string", "enum": ["code", "category"]}),
            // `service::history::ReportFormat::parse`.
            "format" if path == "/api/v1/reports/annual" => json!({"type": "string", "enum": ["json", "csv", "xlsx"]}),
            "status" if path == "/api/v1/manifests" => {
                json!({"type": "string", "enum": ["created", "in_transit", "received", "rejected", "cancelled"]})
            }
            "status" if path.ends_with("/deliveries") => {
                json!({"type": "string", "enum": ["pending", "delivered", "failed"]})
            }
            "status" if path == "/api/v1/whitelist-entries" => {
                json!({"type": "string", "enum": ["proposed", "confirmed", "suspended", "expired"]})
            }
            "status" => json!({"type": "string", "enum": Status::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>()}),
            // `search_waste_codes`: 1 to 100 characters once trimmed.
            "q" => json!({"type": "string", "pattern": "^\\s*\\S([\\s\\S]{0,98}\\S)?\\s*$"}),
            // Ids match exactly; an id of no object matches nothing (an empty page).
            "operator" | "producer" | "actor" | "object" | "object_type" | "application_id" => {
                json!({"type": "string"})
            }
            _ => return None,
        },
        _ => return None,
    })
}

fn describe_parameters(doc: &mut utoipa::openapi::OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        for op in operations(item) {
            for param in op.parameters.iter_mut().flatten() {
                let location = match param.parameter_in {
                    ParameterIn::Query => "query",
                    ParameterIn::Path => "path",
                    ParameterIn::Header => "header",
                    ParameterIn::Cookie => "cookie",
                };
                let Some(schema) = parameter_schema(path, location, &param.name) else {
                    continue;
                };
                // Each of these schemas is plain JSON Schema, which utoipa reads back as is.
                match serde_json::from_value(schema) {
                    Ok(schema) => param.schema = Some(schema),
                    Err(e) => tracing::error!(%path, name = %param.name, error = %e, "parameter schema not applied"),
                }
            }
        }
    }
}
