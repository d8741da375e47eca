//! The one API error type. Every failure a client sees is an RFC 9457 `application/problem+json`
//! body with the request id; internal causes are logged once here and never sent.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::permission::Denied;
use crate::service::error::Error as ServiceError;
pub use crate::service::error::{FieldProblem, Location};
use crate::telemetry::current_request_id;

/// The problem document (RFC 9457).
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub request_id: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
    /// The stable code of the domain rule that refused a request in the current state (409),
    /// e.g. `approval.licence_not_valid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// With `/problems/confirmation-required` (422): a filing that would take the standard route
    /// is filed when the same body is sent again with this value in `X-Confirm-Warnings`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirmation_token: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request could not be read at all (malformed JSON, wrong content type).
    #[error("malformed request: {detail}")]
    Malformed { detail: String, errors: Vec<FieldProblem> },
    /// Well-formed but invalid: every problem is listed.
    #[error("validation failed")]
    Validation(Vec<FieldProblem>),
    /// Valid, but it needs the caller's confirmation (a filing onto the standard route): every
    /// reason is listed, with the token that confirms them.
    #[error("confirmation required")]
    ConfirmationRequired { errors: Vec<FieldProblem>, token: String },
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Absent, or belonging to another party (no existence leak).
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    /// A domain rule refuses it in the current state: a conflict with the rule's code.
    #[error("refused: {}", .0.message)]
    Refused(crate::domain::Invalid),
    /// What the request names is no longer kept (410), e.g. a feed cursor older than the events.
    #[error("gone: {0}")]
    Gone(String),
    /// `If-Match` is required here and was not sent.
    #[error("precondition required: {0}")]
    PreconditionRequired(String),
    /// `If-Match` named a version that is no longer current.
    #[error("precondition failed: {0}")]
    PreconditionFailed(String),
    /// The path exists, but not with this method: the methods it has go into `Allow`.
    #[error("method not allowed")]
    MethodNotAllowed(Vec<String>),
    #[error("payload too large")]
    PayloadTooLarge(String),
    #[error("unsupported media type")]
    UnsupportedMediaType(String),
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64, detail: String },
    #[error("service unavailable")]
    Unavailable { retry_after_secs: u64 },
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn validation(errors: Vec<FieldProblem>) -> Self {
        ApiError::Validation(errors)
    }

    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        ApiError::Internal(e.into())
    }

    fn parts(&self) -> (&'static str, &'static str, String) {
        match self {
            ApiError::Malformed { detail, .. } => ("malformed-request", "Malformed request", detail.clone()),
            ApiError::Validation(errs) => (
                "validation-failed",
                "Validation failed",
                format!("{} problem(s) in the request; see errors", errs.len()),
            ),
            ApiError::ConfirmationRequired { errors, .. } => (
                "confirmation-required",
                "Confirmation required",
                format!(
                    "this filing would take the standard route ({} reason(s) in errors); send the same body again \
                     with X-Confirm-Warnings: <confirmation_token> to file it",
                    errors.iter().filter(|e| e.code.starts_with("route.")).count()
                ),
            ),
            ApiError::Unauthorized(why) => ("unauthorized", "Unauthorized", (*why).to_string()),
            ApiError::Forbidden(why) => ("forbidden", "Forbidden", why.clone()),
            ApiError::NotFound => ("not-found", "Not found", "no such resource".into()),
            ApiError::Conflict(why) => ("conflict", "Conflict", why.clone()),
            ApiError::Refused(i) => ("conflict", "Conflict", i.message.clone()),
            ApiError::Gone(why) => ("gone", "Gone", why.clone()),
            ApiError::PreconditionFailed(why) => ("precondition-failed", "Precondition failed", why.clone()),
            ApiError::PreconditionRequired(why) => ("precondition-required", "Precondition required", why.clone()),
            ApiError::MethodNotAllowed(allow) => (
                "method-not-allowed",
                "Method not allowed",
                format!("this path answers {} only", allow.join(", ")),
            ),
            ApiError::PayloadTooLarge(why) => ("payload-too-large", "Payload too large", why.clone()),
            ApiError::UnsupportedMediaType(why) => ("unsupported-media-type", "Unsupported media type", why.clone()),
            ApiError::TooManyRequests { detail, .. } => ("too-many-requests", "Too many requests", detail.clone()),
            ApiError::Unavailable { .. } => (
                "service-unavailable",
                "Service unavailable",
                "the database is unavailable; retry later".into(),
            ),
            ApiError::Internal(_) => ("internal", "Internal server error", "an internal error occurred".into()),
        }
    }

    pub fn problem(&self) -> Problem {
        let (slug, title, detail) = self.parts();
        let errors = match self {
            ApiError::Validation(e)
            | ApiError::Malformed { errors: e, .. }
            | ApiError::ConfirmationRequired { errors: e, .. } => e.clone(),
            _ => Vec::new(),
        };
        Problem {
            type_uri: format!("/problems/{slug}"),
            title: title.into(),
            status: self.status_code().as_u16(),
            detail,
            request_id: current_request_id(),
            errors,
            code: match self {
                ApiError::Refused(i) => Some(i.code.to_string()),
                _ => None,
            },
            confirmation_token: match self {
                ApiError::ConfirmationRequired { token, .. } => Some(token.clone()),
                _ => None,
            },
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Malformed { .. } => StatusCode::BAD_REQUEST,
            ApiError::Validation(_) | ApiError::ConfirmationRequired { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) | ApiError::Refused(_) => StatusCode::CONFLICT,
            ApiError::Gone(_) => StatusCode::GONE,
            ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::PreconditionRequired(_) => StatusCode::PRECONDITION_REQUIRED,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        // The cause is logged once, here; the client gets only the generic text.
        match self {
            ApiError::Internal(cause) => {
                tracing::error!(request_id = %current_request_id(), error = ?cause, "internal error")
            }
            ApiError::Unavailable { .. } => tracing::warn!(request_id = %current_request_id(), "database unavailable"),
            _ => {}
        }
        let mut res = HttpResponse::build(self.status_code());
        res.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        match self {
            ApiError::TooManyRequests { retry_after_secs, .. } | ApiError::Unavailable { retry_after_secs } => {
                res.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            ApiError::Unauthorized(_) => {
                res.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
            }
            ApiError::MethodNotAllowed(allow) => {
                res.insert_header((header::ALLOW, allow.join(", ")));
            }
            _ => {}
        }
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        res.body(body)
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Invalid(problems) => ApiError::Validation(problems),
            ServiceError::Unconfirmed { problems, token } => ApiError::ConfirmationRequired {
                errors: problems,
                token,
            },
            ServiceError::Unauthenticated(why) => ApiError::Unauthorized(why),
            ServiceError::Forbidden(why) => ApiError::Forbidden(why),
            ServiceError::Hidden => ApiError::NotFound,
            ServiceError::Conflict(why) => ApiError::Conflict(why),
            ServiceError::Refused(i) => ApiError::Refused(i),
            ServiceError::Gone(why) => ApiError::Gone(why),
            ServiceError::Stale { detail, .. } => ApiError::PreconditionFailed(detail),
            ServiceError::PreconditionRequired(why) => ApiError::PreconditionRequired(why),
            ServiceError::TooManyRequests {
                retry_after_secs,
                detail,
            } => ApiError::TooManyRequests {
                retry_after_secs,
                detail,
            },
            ServiceError::Unavailable { retry_after_secs } => ApiError::Unavailable { retry_after_secs },
            ServiceError::Internal(cause) => ApiError::Internal(cause),
        }
    }
}

impl From<Denied> for ApiError {
    fn from(d: Denied) -> Self {
        ServiceError::from(d).into()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
