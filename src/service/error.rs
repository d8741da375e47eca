//! The one error of the application layer. Each door maps it: the JSON API to a problem+json
//! answer (`api::error`), the web UI to a page that says why (`web`), the CLI to a message.

use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::permission::Denied;
use crate::db::DbError;
use crate::domain::Invalid;

/// Where a problem was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Location {
    Body,
    Query,
    Path,
    Header,
}

/// One problem with the request: a JSON pointer (into the body, or `/name` of a query or path
/// parameter), a stable machine code and a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldProblem {
    pub pointer: String,
    #[serde(rename = "in")]
    pub location: Location,
    pub code: String,
    pub message: String,
}

impl FieldProblem {
    pub fn new(
        location: Location,
        pointer: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        FieldProblem {
            pointer: pointer.into(),
            location,
            code: code.into(),
            message: message.into(),
        }
    }

    pub fn body(pointer: impl Into<String>, invalid: &Invalid) -> Self {
        Self::new(Location::Body, pointer, invalid.code, invalid.message.clone())
    }

    pub fn query(name: &str, invalid: &Invalid) -> Self {
        Self::new(
            Location::Query,
            format!("/{name}"),
            invalid.code,
            invalid.message.clone(),
        )
    }
}

/// Why a use case did not happen.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command is invalid: every problem is listed.
    #[error("validation failed")]
    Invalid(Vec<FieldProblem>),
    /// The caller is not who it claims, or no longer may act at all.
    #[error("unauthenticated: {0}")]
    Unauthenticated(&'static str),
    /// Visible, but this action is not the caller's to take.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Absent, or another party's (no existence leak).
    #[error("not found")]
    Hidden,
    /// The current state does not allow it.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A rule of the domain forbids it in the current state, with its stable code (e.g.
    /// `approval.licence_not_valid`), so a client can tell why without reading the text.
    #[error("refused: {}", .0.message)]
    Refused(Invalid),
    /// What the caller asks for is no longer kept (a feed cursor older than the retained
    /// events), or was never issued here.
    #[error("gone: {0}")]
    Gone(String),
    /// The filing would take the standard route, and the caller did not confirm that for these
    /// reasons: every reason is listed, with the token that confirms them for this very request.
    #[error("confirmation required")]
    Unconfirmed { problems: Vec<FieldProblem>, token: String },
    /// The caller acted on a version that is no longer current.
    #[error("stale: {detail}")]
    Stale { current: i32, detail: String },
    /// The caller must say which version it acts on, and did not.
    #[error("precondition required: {0}")]
    PreconditionRequired(String),
    /// The caller has used up its request budget for now.
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64, detail: String },
    /// The database is away; retry later.
    #[error("service unavailable")]
    Unavailable { retry_after_secs: u64 },
    /// A bug or an unexpected failure; the cause is logged once by the door, never shown.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        Error::Internal(e.into())
    }

    /// One invalid field of the body.
    pub fn invalid_field(pointer: impl Into<String>, invalid: &Invalid) -> Self {
        Error::Invalid(vec![FieldProblem::body(pointer, invalid)])
    }

    /// The caller's version is not `current`.
    pub fn stale(what: &str, current: i32) -> Self {
        Error::Stale {
            current,
            detail: format!(
                "the {what} changed: it is now at version {current}; reload it, someone may have acted first"
            ),
        }
    }
}

impl From<DbError> for Error {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Unavailable(cause) => {
                tracing::warn!(cause, "database unavailable");
                Error::Unavailable { retry_after_secs: 5 }
            }
            DbError::NotFound => Error::Hidden,
            DbError::Conflict(cause) => {
                tracing::info!(cause, "write refused by a constraint");
                Error::Conflict("the request conflicts with the current state".into())
            }
            DbError::Query(q) => Error::Internal(q.into()),
            DbError::Other(o) => Error::Internal(o),
        }
    }
}

impl From<Denied> for Error {
    fn from(d: Denied) -> Self {
        match d {
            Denied::Hidden => Error::Hidden,
            Denied::Forbidden(why) => Error::Forbidden(why),
        }
    }
}

/// A domain rule's refusal as a `validator` error, keeping its stable code and message.
pub fn validation_error(i: Invalid) -> validator::ValidationError {
    validator::ValidationError::new(i.code).with_message(i.message.into())
}
