//! Request input at the edge: the bearer-token principal, query strings and JSON bodies read into
//! domain types with *every* problem collected, and opaque pagination cursors.

use std::collections::HashMap;

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

use super::error::{ApiError, FieldProblem, Location};
use crate::auth::principal::Principal;
use crate::domain::Invalid;
use crate::service::sessions;
use crate::state::AppState;

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let header = req
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal(anyhow::anyhow!("app state missing")))?;
            let token = bearer(header)?;
            sessions::principal_from_token(&state, &token)
                .await
                .map(|(p, _)| p)
                .map_err(Into::into)
        })
    }
}

fn bearer(header: Option<String>) -> Result<String, ApiError> {
    let header = header.ok_or(ApiError::Unauthorized("a bearer token is required"))?;
    header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .ok_or(ApiError::Unauthorized("a bearer token is required"))
}

/// The caller of a second-factor enrolment operation: a full token, or one that may only enrol.
pub struct Enrolling(pub Principal);

impl FromRequest for Enrolling {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let header = req
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal(anyhow::anyhow!("app state missing")))?;
            let token = bearer(header)?;
            sessions::principal_for_enrolment(&state, &token)
                .await
                .map(|(p, _)| Enrolling(p))
                .map_err(Into::into)
        })
    }
}

/// A parsed query string that refuses parameters the endpoint does not know (a misspelt filter
/// must not silently return everything).
pub struct QueryParams {
    values: HashMap<String, String>,
    pub problems: Vec<FieldProblem>,
}

impl QueryParams {
    pub fn parse(req: &HttpRequest, known: &[&str]) -> Result<Self, ApiError> {
        Self::parse_str(req.query_string(), known)
    }

    /// Like [`QueryParams::parse`], over a query string (the web UI passes its own on).
    pub fn parse_str(query: &str, known: &[&str]) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).map_err(|_| ApiError::Malformed {
            detail: "the query string is not valid URL encoding".into(),
            errors: Vec::new(),
        })?;
        let mut values = HashMap::new();
        let mut problems = Vec::new();
        for (k, v) in pairs {
            if !known.contains(&k.as_str()) {
                problems.push(FieldProblem::new(
                    Location::Query,
                    format!("/{k}"),
                    "query.unknown_parameter",
                    format!("unknown parameter; this endpoint accepts: {}", known.join(", ")),
                ));
            } else if values.insert(k.clone(), v).is_some() {
                problems.push(FieldProblem::new(
                    Location::Query,
                    format!("/{k}"),
                    "query.repeated_parameter",
                    "the parameter is given more than once",
                ));
            }
        }
        Ok(QueryParams { values, problems })
    }

    pub fn raw(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    pub fn required(&mut self, name: &str) -> Option<&str> {
        if !self.values.contains_key(name) {
            self.problems.push(FieldProblem::new(
                Location::Query,
                format!("/{name}"),
                "query.required",
                "this parameter is required",
            ));
        }
        self.values.get(name).map(String::as_str)
    }

    /// Parses an optional parameter with `parse`, recording the problem if it fails.
    pub fn parse_with<T>(&mut self, name: &str, parse: impl FnOnce(&str) -> Result<T, Invalid>) -> Option<T> {
        let raw = self.values.get(name)?.clone();
        match parse(&raw) {
            Ok(v) => Some(v),
            Err(invalid) => {
                self.problems.push(FieldProblem::query(name, &invalid));
                None
            }
        }
    }

    /// `limit` in 1..=max, default `default` (every list: max [`LIMIT_MAX`]).
    pub fn limit(&mut self, default: i64, max: i64) -> i64 {
        self.parse_with("limit", |s| {
            s.parse::<i64>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| Invalid::new("query.limit", format!("limit must be an integer from 1 to {max}")))
        })
        .unwrap_or(default)
    }

    /// The decoded `cursor` parameter.
    pub fn cursor(&mut self) -> Option<String> {
        self.parse_with("cursor", decode_cursor)
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.problems))
        }
    }
}

pub use crate::service::{cut_page, decode_cursor, encode_cursor};

/// The cursor for the page after `rows`, when there is one.
pub fn next_cursor<T>(rows: &[T], more: bool, key: impl Fn(&T) -> &str) -> Option<String> {
    if more {
        rows.last().map(|r| encode_cursor(key(r)))
    } else {
        None
    }
}

/// The version an `If-Match` header names: `"7"` (or `W/"7"`) for an application, `"v3"` for a
/// whitelist entry (`prefix` "v"). Absent is `None`; a value that is no ETag of ours is a malformed
/// header (400); a well-formed but stale one is for the service to refuse (412).
pub fn if_match_version(req: &HttpRequest, prefix: &str, example: &str) -> Result<Option<i32>, ApiError> {
    let Some(v) = req.headers().get(actix_web::http::header::IF_MATCH) else {
        return Ok(None);
    };
    v.to_str()
        .ok()
        .map(|s| s.trim().trim_start_matches("W/").trim_matches('"'))
        .and_then(|s| s.strip_prefix(prefix))
        .filter(|s| (1..=9).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse::<i32>().ok())
        .map(Some)
        .ok_or_else(|| ApiError::Malformed {
            detail: format!("If-Match must be an ETag of this resource, such as {example}"),
            errors: vec![FieldProblem::new(
                Location::Header,
                "/If-Match",
                "header.if_match",
                format!("an ETag such as {example}"),
            )],
        })
}

/// The largest page any list answers.
pub const LIMIT_MAX: i64 = 200;

/// What a keyset cursor looks like: unpadded base64url (never 1 character past a multiple of 4).
pub const CURSOR_PATTERN: &str = "^([A-Za-z0-9_-]{4})*([A-Za-z0-9_-]{2,3})?$";

/// Maps actix's JSON payload errors (bad syntax, wrong content type, too large) to a problem.
pub fn json_error(err: actix_web::error::JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    json_problem(err).into()
}

/// The problem of a JSON body that could not be read (also for bodies read with their own limit).
pub fn json_problem(err: actix_web::error::JsonPayloadError) -> ApiError {
    use actix_web::error::JsonPayloadError as E;
    let detail = match &err {
        E::ContentType => {
            return ApiError::UnsupportedMediaType("the body must be JSON (Content-Type: application/json)".into());
        }
        E::OverflowKnownLength { .. } | E::Overflow { .. } => {
            return ApiError::PayloadTooLarge("the body is too large".into());
        }
        E::Deserialize(e) if e.is_syntax() || e.is_eof() => {
            format!("the body is not valid JSON (line {}, column {})", e.line(), e.column())
        }
        E::Deserialize(e) => format!(
            "the body does not have the expected shape (line {}, column {})",
            e.line(),
            e.column()
        ),
        _ => "the body could not be read".to_string(),
    };
    ApiError::Malformed {
        detail,
        errors: Vec::new(),
    }
}

pub fn path_error(_err: actix_web::error::PathError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::NotFound.into()
}

pub fn query_error(_err: actix_web::error::QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::Malformed {
        detail: "the query string is malformed".into(),
        errors: Vec::new(),
    }
    .into()
}

#[cfg(test)]
mod cursor_tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_any_documented_cursor_decodes() {
        for key in ["", "01a233ca-5b33-7246-b3fb-f32002c63276", "渝|2026"] {
            assert_eq!(decode_cursor(&encode_cursor(key)).unwrap(), key);
        }
        for s in ["", "AB", "ABC", "ABCD", "AB_-xy", "zzzzzz"] {
            assert!(decode_cursor(s).is_ok(), "{s}");
        }
        assert!(decode_cursor("A").is_err());
        assert!(decode_cursor("AB=").is_err());
    }
}
