//! The application layer: one function per use case, called by every door (the JSON API, the web
//! UI, the CLI and the jobs). A use case takes the shared state, a context (who, when, which
//! request) and a typed command, and returns a typed result or one [`Error`]. Nothing here knows
//! HTTP: the doors parse, call and render.

pub mod applications;
pub mod audit;
pub mod calendar;
pub mod case_views;
pub mod catalogue;
pub mod changes;
pub mod commands;
pub mod dashboard;
pub mod destinations;
pub mod error;
pub mod health;
pub mod history;
pub mod manifests;
pub mod passwords;
pub mod reads;
pub mod registry;
pub mod second_factor;
pub mod sessions;
pub mod users;
pub mod webhooks;
pub mod whitelist;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use chrono::{DateTime, Utc};

pub use error::{Error, FieldProblem, Location, Result};

use crate::auth::Principal;
use crate::domain::Invalid;

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

/// The largest page any list returns.
pub const LIMIT_MAX: i64 = 200;

/// Cuts a page fetched with `limit + 1` rows down to `limit`; true when more rows follow.
pub fn cut_page<T>(rows: &mut Vec<T>, limit: i64) -> bool {
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    more
}

/// Unpadded base64url; decoding tolerates trailing bits, so every string of the documented
/// `CURSOR_PATTERN` of the contract decodes (a cursor is a position in a keyset, and any position is valid).
const CURSOR_ENGINE: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

pub fn encode_cursor(key: &str) -> String {
    CURSOR_ENGINE.encode(key.as_bytes())
}

/// The key a cursor names; the page continues after it.
pub fn decode_cursor(s: &str) -> Result<String, Invalid> {
    CURSOR_ENGINE
        .decode(s.as_bytes())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .map_err(|_| Invalid::new("query.cursor", "cursor is not one this service issued"))
}
