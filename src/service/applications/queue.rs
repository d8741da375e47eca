//! The regulators' queue (待办): the caller's cases sorted by the open step's due instant, and
//! the cursor that continues it. The API's list and the web UI's queue page both call [`page`].

use chrono::{DateTime, NaiveDateTime, Utc};

use super::case::{ApplicationDto, load_dtos};
use crate::auth::principal::{Principal, Scope};
use crate::db;
pub use crate::db::applications::AppFilter;
/// An instant as the filter holds it (`overdue_at`, `due_before`).
pub use crate::db::to_db_time;
use crate::domain::Invalid;
use crate::service::{Error, Result, cut_page};
use crate::state::AppState;

/// Where a page of the queue continues: after the case `id` due at `due` (cases with no open
/// clock sort last). Written `{micros}~{id}` or `-~{id}`; every string of [`QUEUE_CURSOR_PATTERN`]
/// is a valid position, so a client can only ever get a page of its own scope from one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueCursor {
    pub due: Option<NaiveDateTime>,
    pub id: String,
}

/// The documented form of a queue cursor.
pub const QUEUE_CURSOR_PATTERN: &str = "^(-|[0-9]{1,16})~[A-Za-z0-9_-]{1,64}$";

impl QueueCursor {
    pub fn parse(s: &str) -> std::result::Result<QueueCursor, Invalid> {
        let bad = || Invalid::new("query.cursor", "cursor is not one this service issued");
        let (due, id) = s.split_once('~').ok_or_else(bad)?;
        let id_ok =
            (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !id_ok {
            return Err(bad());
        }
        let due = match due {
            "-" => None,
            d if (1..=16).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) => {
                let micros = d.parse::<i64>().map_err(|_| bad())?;
                Some(
                    DateTime::<Utc>::from_timestamp_micros(micros)
                        .ok_or_else(bad)?
                        .naive_utc(),
                )
            }
            _ => return Err(bad()),
        };
        Ok(QueueCursor {
            due,
            id: id.to_string(),
        })
    }
}

impl std::fmt::Display for QueueCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.due {
            Some(d) => write!(f, "{}~{}", d.and_utc().timestamp_micros(), self.id),
            None => write!(f, "-~{}", self.id),
        }
    }
}

/// One page of the caller's queue: the filter narrowed to the caller's scope, sorted by the open
/// step's due instant. Shared by the API and the web UI's 待办 page.
pub async fn page(
    state: &AppState,
    who: &Principal,
    mut f: AppFilter,
    after: Option<QueueCursor>,
    limit: i64,
) -> Result<(Vec<ApplicationDto>, Option<String>)> {
    let now = Utc::now();
    match who.scope() {
        Scope::All => f.side = None,
        Scope::Province(p) => f.province = Some(p.as_str()),
        Scope::Enterprise(id) => f.enterprise_id = Some(id.to_string()),
        Scope::Operator(id) => f.operator_id = Some(id.to_string()),
        Scope::Nothing => return Err(Error::Forbidden("no application scope".into())),
    }
    if f.province.is_none() {
        f.side = None;
    }
    let calendars = state.calendars.clone();
    let (rows, more) = state
        .db
        .run(move |conn| {
            let cal = calendars.on(conn)?;
            let after = after.map(|c| (c.due, c.id));
            let mut rows = db::applications::list(conn, &f, after, limit + 1)?;
            let more = cut_page(&mut rows, limit);
            let keys: Vec<QueueCursor> = rows
                .iter()
                .map(|r| QueueCursor {
                    due: r.next_due_at,
                    id: r.id.clone(),
                })
                .collect();
            let dtos = load_dtos(conn, &cal, rows, now)?;
            Ok((keys.into_iter().zip(dtos).collect::<Vec<_>>(), more))
        })
        .await?;
    let next_cursor = more.then(|| rows.last().map(|(k, _)| k.to_string())).flatten();
    Ok((rows.into_iter().map(|(_, d)| d).collect(), next_cursor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_what_the_pattern_refuses() {
        let due = DateTime::<Utc>::from_timestamp_micros(1_767_225_600_123_456).map(|d| d.naive_utc());
        for c in [
            QueueCursor {
                due,
                id: "01a233ca-5b33-7246-b3fb-f32002c63276".into(),
            },
            QueueCursor {
                due: None,
                id: "x".into(),
            },
        ] {
            assert_eq!(QueueCursor::parse(&c.to_string()), Ok(c));
        }
        for bad in ["", "~x", "-~", "12~a|b", "x~y", "12345678901234567~a", "-1~a"] {
            assert!(QueueCursor::parse(bad).is_err(), "{bad}");
        }
        assert!(QueueCursor::parse("0~a").is_ok());
    }
}
