//! The read replica: a PostgreSQL hot standby that serves the reads whose cost grows with the
//! archive (history, exports, audit search, dashboards, the annual report), and the two positions
//! that decide whether it may serve a caller: how far it has replayed the primary's log, and where
//! the caller's own last write ended (its *write mark*).
//!
//! A caller is served by the standby only when the standby has replayed past the caller's write
//! mark (so nobody reads a state older than their own last write) and is no further behind than the
//! configured bound; otherwise by the primary. Marks live in the primary (`write_marks`), so every
//! service replica sees every caller's writes.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use diesel::RunQueryDsl;
use diesel::sql_types::{BigInt, Bool, Double, Nullable, Text};

use super::pool::Db;
use super::{Backend, DbConnection, DbError, DbResult};

/// The PostgreSQL connection inside ours: replicas exist only there.
fn pg(conn: &mut DbConnection) -> DbResult<&mut diesel::PgConnection> {
    match conn {
        DbConnection::Postgresql(c) => Ok(c),
        _ => Err(DbError::Other(anyhow::anyhow!("a read replica needs PostgreSQL"))),
    }
}

/// How long one look at the standby's position is reused. Replay only moves forward, so a
/// position seen earlier can only make the choice more careful, never stale.
const STATUS_TTL: Duration = Duration::from_millis(200);
/// How long a standby that did not answer is left alone before the next try.
const DOWN_RETRY: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StandbyState {
    /// Answering and within the lag bound.
    Ok,
    /// Answering, but further behind than the bound: reads go to the primary.
    Lagging,
    /// Not answering (or not in recovery): reads go to the primary.
    Down,
}

impl StandbyState {
    pub fn as_str(self) -> &'static str {
        match self {
            StandbyState::Ok => "ok",
            StandbyState::Lagging => "lagging",
            StandbyState::Down => "down",
        }
    }
}

/// What one look at both servers found.
#[derive(Debug, Clone, Copy)]
pub struct StandbyStatus {
    pub state: StandbyState,
    /// The standby's replayed position (bytes into the log).
    pub replay_lsn: i64,
    /// Seconds the standby is behind: 0 when it has replayed everything the primary had written
    /// when we looked, else the age of the last transaction it replayed.
    pub lag_secs: f64,
}

pub struct Replica {
    db: Db,
    max_lag: Duration,
    last: Mutex<Option<(Instant, StandbyStatus)>>,
}

#[derive(diesel::QueryableByName)]
struct Position {
    #[diesel(sql_type = Bool)]
    in_recovery: bool,
    #[diesel(sql_type = Nullable<BigInt>)]
    replay_lsn: Option<i64>,
    #[diesel(sql_type = Nullable<Double>)]
    replay_age_secs: Option<f64>,
}

#[derive(diesel::QueryableByName)]
struct Lsn {
    #[diesel(sql_type = Nullable<BigInt>)]
    lsn: Option<i64>,
}

/// The primary's current log position, in bytes.
pub fn primary_lsn(conn: &mut DbConnection) -> DbResult<i64> {
    let row: Lsn =
        diesel::sql_query("SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint AS lsn").get_result(pg(conn)?)?;
    Ok(row.lsn.unwrap_or(0))
}

/// Records that `subject` has just written: its mark becomes the primary's current position,
/// which is at or after the end of every transaction it committed before this call.
pub fn mark_write(conn: &mut DbConnection, subject: &str) -> DbResult<()> {
    diesel::sql_query(
        "INSERT INTO write_marks (subject, lsn, marked_at) \
         VALUES ($1, (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint, now()) \
         ON CONFLICT (subject) DO UPDATE SET lsn = EXCLUDED.lsn, marked_at = EXCLUDED.marked_at",
    )
    .bind::<Text, _>(subject)
    .execute(pg(conn)?)?;
    Ok(())
}

/// The position `subject`'s last write ended at, if it wrote since marks were kept.
pub fn write_mark(conn: &mut DbConnection, subject: &str) -> DbResult<Option<i64>> {
    let row: Option<Lsn> = diesel::sql_query("SELECT lsn FROM write_marks WHERE subject = $1")
        .bind::<Text, _>(subject)
        .get_result(pg(conn)?)
        .map(Some)
        .or_else(|e| match e {
            diesel::result::Error::NotFound => Ok(None),
            other => Err(other),
        })?;
    Ok(row.and_then(|r| r.lsn))
}

/// Whether the standby behind `conn` has replayed the primary's log up to `mark` by now.
pub fn replayed_past(conn: &mut DbConnection, mark: i64) -> DbResult<bool> {
    let row: Lsn =
        diesel::sql_query("SELECT (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint AS lsn").get_result(pg(conn)?)?;
    Ok(row.lsn.is_some_and(|lsn| lsn >= mark))
}

fn standby_position(conn: &mut DbConnection) -> DbResult<Position> {
    Ok(diesel::sql_query(
        "SELECT pg_is_in_recovery() AS in_recovery, \
                (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint AS replay_lsn, \
                extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 AS replay_age_secs",
    )
    .get_result(pg(conn)?)?)
}

impl Replica {
    /// A pool on the standby at `url` (PostgreSQL only). Its connection timeout is short: a
    /// standby that does not answer must not hold a read up; the read goes to the primary.
    pub fn connect(url: &str, size: u32, max_lag: Duration) -> anyhow::Result<Replica> {
        let db = Db::connect(url, size, Duration::from_millis(1000))?;
        if db.backend() != Backend::Postgres {
            anyhow::bail!("the read database must be a PostgreSQL hot standby (postgres://…)");
        }
        Ok(Replica {
            db,
            max_lag,
            last: Mutex::new(None),
        })
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The standby's state, looked up at most every 200 ms (a down standby every 2 s).
    pub async fn status(&self, primary: &Db) -> StandbyStatus {
        if let Ok(guard) = self.last.lock()
            && let Some((at, s)) = *guard
        {
            let ttl = if s.state == StandbyState::Down {
                DOWN_RETRY
            } else {
                STATUS_TTL
            };
            if at.elapsed() < ttl {
                return s;
            }
        }
        let status = self.look(primary).await;
        if let Ok(mut guard) = self.last.lock() {
            *guard = Some((Instant::now(), status));
        }
        status
    }

    /// Forgets the last look and notes the standby as down (a read on it just failed).
    pub fn note_down(&self) {
        if let Ok(mut guard) = self.last.lock() {
            *guard = Some((
                Instant::now(),
                StandbyStatus {
                    state: StandbyState::Down,
                    replay_lsn: 0,
                    lag_secs: 0.0,
                },
            ));
        }
    }

    async fn look(&self, primary: &Db) -> StandbyStatus {
        let down = StandbyStatus {
            state: StandbyState::Down,
            replay_lsn: 0,
            lag_secs: 0.0,
        };
        // The primary first: what the standby has replayed is then compared with a position the
        // primary had already reached.
        let Ok(head) = primary.run(primary_lsn).await else {
            return down;
        };
        let Ok(pos) = self.db.run(standby_position).await else {
            return down;
        };
        let (true, Some(replay_lsn)) = (pos.in_recovery, pos.replay_lsn) else {
            return down;
        };
        let lag_secs = if replay_lsn >= head {
            0.0
        } else {
            pos.replay_age_secs.unwrap_or(f64::MAX).max(0.0)
        };
        let state = if lag_secs * 1000.0 > self.max_lag.as_millis() as f64 {
            StandbyState::Lagging
        } else {
            StandbyState::Ok
        };
        StandbyStatus {
            state,
            replay_lsn,
            lag_secs,
        }
    }
}
