//! The application layer: one function per use case, called by every door (the JSON API, the web
//! UI, the CLI and the jobs). A use case takes the shared state, a context (who, when, which
//! request) and a typed command, and returns a typed result or one [`Error`]. Nothing here knows
//! HTTP: the doors parse, call and render.

pub mod applications;
pub mod audit;
pub mod calendar;
pub mod catalogue;
pub mod changes;
pub mod commands;
pub mod error;
pub mod manifests;
pub mod reads;
pub mod registry;
pub mod second_factor;
pub mod sessions;
pub mod users;
pub mod webhooks;
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

/// Cuts a page fetched with `limit + 1` rows down to `limit`; true when more rows follow.
pub fn cut_page<T>(rows: &mut Vec<T>, limit: i64) -> bool {
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    more
}
