//! The application layer: one function per use case, called by every door (the JSON API, the web
//! UI, the CLI and the jobs). A use case takes the shared state, a context (who, when, which
//! request) and a typed command, and returns a typed result or one [`Error`]. Nothing here knows
//! HTTP: the doors parse, call and render.

pub mod applications;
pub mod error;
pub mod sessions;
pub mod whitelist;

use chrono::{DateTime, Utc};

pub use error::{Error, FieldProblem, Location, Result};

use crate::auth::Principal;

/// Who acts, when, and under which request id.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub who: Principal,
    pub now: DateTime<Utc>,
    pub request_id: Option<String>,
}

impl Ctx {
    /// A context for the caller, now, under the request this task serves (if any).
    pub fn new(who: Principal) -> Ctx {
        let request_id = Some(crate::telemetry::current_request_id()).filter(|s| !s.is_empty());
        Ctx {
            who,
            now: Utc::now(),
            request_id,
        }
    }
}
