//! The changes feed: every event the caller's party would hear as a webhook subscriber, in commit
//! order, read with a cursor instead of received at an endpoint — for systems that cannot take
//! webhooks (most enterprise ERPs sit on intranets). See docs/WEBHOOKS.md, "No webhooks? Read
//! the feed".
//!
//! **No gaps.** Events are numbered (`seq`) by the audit flush under the `audit_head` row lock,
//! which is held until the commit, and the head's `event_seq` moves in the same transaction. So
//! `seq` follows commit order over all replicas, and once the head reads `n`, every event up to
//! `n` is committed and visible: no event with a lower `seq` can commit later. The cursor is
//! therefore simply the last `seq` the reader has seen (or the head, when nothing it hears came
//! after its cursor), and it means the same on every replica and after any restart.
//!
//! **Long polling.** With `wait`, an empty read is repeated until an event the caller hears
//! arrives or the time is up. Between reads the request holds no database connection; it
//! checks only the head (one row by key) every `HWT_FEED_POLL_MS`, and reads the feed again
//! when the head moved. Dropping the request (the client went away) drops the wait.

use std::time::Duration;

use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::principal::Scope;
use crate::db;
use crate::domain::Invalid;
use crate::service::{Ctx, Error, Result};
use crate::state::AppState;
use crate::webhooks::{Event, OwnerKind, SEQ_MAX};

/// The longest wait a request may ask for, in seconds.
pub const WAIT_MAX_SECS: u64 = 30;

/// The published shape of a cursor: the decimal `seq` of the last event read (at most 15 digits,
/// so below 2^53 and exact in every JSON reader).
pub const CURSOR_PATTERN: &str = "^[0-9]{1,15}$";

/// A position in the feed: the reader has everything up to this `seq`. Opaque to clients (today
/// the decimal `seq`; `0` is the start).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cursor(i64);

impl Cursor {
    pub const START: Cursor = Cursor(0);

    pub fn parse(s: &str) -> std::result::Result<Cursor, Invalid> {
        let bad = || {
            Invalid::new(
                "changes.cursor",
                "a cursor this feed issued (the `next` of a page), or 0 for the start",
            )
        };
        if s.is_empty() || s.len() > 15 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        s.parse::<i64>()
            .ok()
            .filter(|n| (0..=SEQ_MAX).contains(n))
            .map(Cursor)
            .ok_or_else(bad)
    }

    pub fn seq(self) -> i64 {
        self.0
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// `wait`: whole seconds from 0 to [`WAIT_MAX_SECS`].
pub fn parse_wait(s: &str) -> std::result::Result<Duration, Invalid> {
    s.parse::<u64>()
        .ok()
        .filter(|n| *n <= WAIT_MAX_SECS)
        .map(Duration::from_secs)
        .ok_or_else(|| {
            Invalid::new(
                "changes.wait",
                format!("wait is a whole number of seconds from 0 to {WAIT_MAX_SECS}"),
            )
        })
}

/// One page of the feed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChangesPage {
    /// The events, oldest first, each exactly the body a webhook delivery of it posts
    /// (`WebhookEvent`; the same `id` and `seq`).
    #[schema(value_type = Vec<crate::webhooks::Event>)]
    pub items: Vec<Event>,
    /// The cursor to read on from: pass it as `after` next time (also when `items` is empty).
    /// Store it only once the items are processed, and nothing is skipped or read twice.
    #[schema(pattern = "^[0-9]{1,15}$", example = "1042")]
    pub next: String,
}

/// Whose events the caller hears: `None` is everything (admins, nationwide auditors).
fn audience_of(ctx: &Ctx) -> Result<Option<(OwnerKind, String)>> {
    Ok(match ctx.who.scope() {
        Scope::All => None,
        Scope::Province(p) => Some((OwnerKind::Province, p.as_str().to_string())),
        Scope::Enterprise(id) => Some((OwnerKind::Enterprise, id.to_string())),
        Scope::Operator(id) => Some((OwnerKind::Operator, id.to_string())),
        Scope::Nothing => return Err(Error::Forbidden("this caller has no changes feed".into())),
    })
}

fn gone(after: i64, head: i64, kept_from: i64) -> Option<Error> {
    if after > head {
        return Some(Error::Gone(format!(
            "the cursor {after} is ahead of the feed, which ends at {head}: it was not issued here, or the \
             database was restored from an earlier backup; read again from the last event you processed \
             that the feed still has, or from 0, and drop repeated event ids"
        )));
    }
    if after > 0 && after + 1 < kept_from {
        return Some(Error::Gone(format!(
            "the events after cursor {after} are no longer kept (the feed starts at seq {kept_from}); \
             reconcile from the current state (the lists and GET /transfer-applications/{{id}}), then read \
             on from after={}",
            kept_from - 1
        )));
    }
    None
}

/// Reads the feed after `after` (the start when `None`): at most `limit` events the caller's party
/// hears, in commit order. With `wait`, an empty read waits up to that long (capped by
/// `HWT_FEED_MAX_WAIT_SECS`) for the first such event. A cursor older than what is kept, or
/// ahead of the feed, is [`Error::Gone`].
pub async fn feed(
    state: &AppState,
    ctx: &Ctx,
    after: Option<Cursor>,
    limit: i64,
    wait: Option<Duration>,
) -> Result<ChangesPage> {
    let owner = audience_of(ctx)?;
    let wait = wait
        .unwrap_or_default()
        .min(Duration::from_secs(state.config.feed_max_wait_secs));
    let deadline = tokio::time::Instant::now() + wait;
    let poll = Duration::from_millis(state.config.feed_poll_ms.max(1));
    let mut after = after.unwrap_or(Cursor::START).0;
    loop {
        let o = owner.clone();
        let read = state
            .db
            .run(move |c| db::outbox::feed(c, after, o.as_ref().map(|(k, id)| (k, id.as_str())), limit))
            .await?;
        if let Some(e) = gone(after, read.head, read.kept_from) {
            return Err(e);
        }
        if !read.rows.is_empty() {
            let full = read.rows.len() as i64 >= limit;
            let last = read.rows.last().map_or(after, |r| r.seq);
            // A short page holds everything the caller hears up to the head.
            let next = if full { last } else { last.max(read.head) };
            let items = read
                .rows
                .iter()
                .map(|r| serde_json::from_str::<Event>(&r.payload).map_err(Error::internal))
                .collect::<Result<Vec<_>>>()?;
            return Ok(ChangesPage {
                items,
                next: next.to_string(),
            });
        }
        // Nothing heard up to the head: the cursor may move there.
        after = after.max(read.head);
        // Wait for the head to move, without a connection between looks.
        loop {
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(ChangesPage {
                    items: Vec::new(),
                    next: after.to_string(),
                });
            }
            tokio::time::sleep(poll.min(deadline - now)).await;
            let head = state.db.run(db::outbox::event_head).await?;
            if head > after {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_and_waits_parse_as_published() {
        assert_eq!(Cursor::parse("0"), Ok(Cursor(0)));
        assert_eq!(Cursor::parse("1042").map(|c| c.to_string()), Ok("1042".into()));
        assert_eq!(Cursor::parse("999999999999999"), Ok(Cursor(999_999_999_999_999)));
        for bad in ["", "-1", "+1", "1.0", "abc", "1000000000000000", " 1"] {
            assert!(Cursor::parse(bad).is_err(), "{bad:?}");
        }
        let re = regex::Regex::new(CURSOR_PATTERN).unwrap();
        for ok in ["0", "7", "999999999999999"] {
            assert!(re.is_match(ok) && Cursor::parse(ok).is_ok());
        }
        assert_eq!(parse_wait("0"), Ok(Duration::ZERO));
        assert_eq!(parse_wait("30"), Ok(Duration::from_secs(30)));
        for bad in ["31", "-1", "1.5", "", "x"] {
            assert!(parse_wait(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_cursor_before_what_is_kept_or_ahead_of_the_head_is_gone() {
        // Nothing pruned: from 1; head 10.
        assert!(gone(0, 10, 1).is_none());
        assert!(gone(10, 10, 1).is_none());
        assert!(gone(11, 10, 1).is_some());
        // Events 1..=4 pruned: a reader at 4 misses nothing, one at 3 missed 4.
        assert!(gone(4, 10, 5).is_none());
        assert!(gone(3, 10, 5).is_some());
        // The start reads from what is kept.
        assert!(gone(0, 10, 5).is_none());
        // Everything pruned: kept_from = head + 1.
        assert!(gone(10, 10, 11).is_none());
        assert!(gone(9, 10, 11).is_some());
    }
}
