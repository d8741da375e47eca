//! Appending to and reading the hash-chained audit trail.
//!
//! A write records its changes with [`record`] while it works; the records wait on this thread
//! and are chained and inserted by [`write_tx`](super::write_tx) as the last statements before
//! the commit. So the single `audit_head` row (the lock that orders appends across replicas) is
//! held only for the commit itself, every unit of work takes it last (no lock-order deadlock),
//! and a rolled-back write leaves no record.

use std::cell::{Cell, RefCell};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use serde_json::Value;

use super::outbox::{DeliveryRow, OutboxRow};
use super::schema::{audit_head, audit_log, outbox_events, webhook_deliveries};
use super::{DbConnection, DbResult, db_now, new_id, write_tx};
use crate::audit::{self, Break, Context, Record};
use crate::crypto::suite::CryptoSuite;

/// A change waiting for its transaction to commit.
#[derive(Debug, Clone)]
struct Pending {
    ctx: Context,
    object_type: String,
    object_id: String,
    action: String,
    diff: Value,
}

thread_local! {
    static PENDING: RefCell<Vec<Pending>> = const { RefCell::new(Vec::new()) };
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// Where a unit of work started in the pending audit records and outbox events.
#[derive(Debug, Clone, Copy)]
pub(super) struct Mark {
    records: usize,
    events: usize,
}

/// Bookkeeping for `write_tx`: a unit of work is starting; returns (outermost, mark).
pub(super) fn enter() -> (bool, Mark) {
    let depth = DEPTH.with(|d| {
        let v = d.get();
        d.set(v + 1);
        v
    });
    if depth == 0 {
        PENDING.with(|p| p.borrow_mut().clear());
        super::outbox::truncate_pending(0);
    }
    let mark = Mark {
        records: PENDING.with(|p| p.borrow().len()),
        events: super::outbox::pending_len(),
    };
    (depth == 0, mark)
}

/// Bookkeeping for `write_tx`: the unit of work that `enter` returned `mark` for has ended; a
/// failed one drops what it recorded and emitted.
pub(super) fn leave(ok: bool, mark: Mark) {
    if !ok {
        PENDING.with(|p| p.borrow_mut().truncate(mark.records));
        super::outbox::truncate_pending(mark.events);
    }
    DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
}

/// True inside a `write_tx` on this thread.
pub(super) fn in_unit_of_work() -> bool {
    DEPTH.with(|d| d.get()) > 0
}

/// Records a change of an object by the acting context of this thread. Inside a write
/// transaction it is appended when that transaction commits; outside one, at once.
pub fn record(conn: &mut DbConnection, object_type: &str, object_id: &str, action: &str, diff: Value) -> DbResult<()> {
    append(conn, pending(object_type, object_id, action, diff), false)
}

/// Records a read by the acting context (an auditor's query: who read what, when). Outside a unit
/// of work it is appended at once in a transaction of its own that takes no turn at the write
/// gate (`ungated_tx`): it writes nothing but this record.
pub fn record_read(conn: &mut DbConnection, object_type: &str, object_id: &str, diff: Value) -> DbResult<()> {
    append(conn, pending(object_type, object_id, "read", diff), true)
}

fn pending(object_type: &str, object_id: &str, action: &str, diff: Value) -> Pending {
    Pending {
        ctx: audit::current(),
        object_type: object_type.to_string(),
        object_id: object_id.to_string(),
        action: action.to_string(),
        diff,
    }
}

/// Queues `record` for the unit of work this thread is in, or appends it at once in a transaction
/// of its own — one that waits for a turn at the write gate unless `ungated`.
fn append(conn: &mut DbConnection, record: Pending, ungated: bool) -> DbResult<()> {
    let queue = move |_: &mut DbConnection| -> DbResult<()> {
        PENDING.with(|p| p.borrow_mut().push(record));
        Ok(())
    };
    if in_unit_of_work() {
        queue(conn)
    } else if ungated {
        super::ungated_tx(conn, queue)
    } else {
        write_tx(conn, queue)
    }
}

/// Records a change as the diff between two snapshots (see [`audit::snapshot`]).
pub fn record_change<T: Serialize>(
    conn: &mut DbConnection,
    object_type: &str,
    object_id: &str,
    action: &str,
    before: Option<&T>,
    after: Option<&T>,
) -> DbResult<()> {
    let before = before.map(audit::snapshot);
    let after = after.map(audit::snapshot);
    record(
        conn,
        object_type,
        object_id,
        action,
        audit::diff(before.as_ref(), after.as_ref()),
    )
}

/// Chains and inserts what this transaction recorded, then the outbox events it emitted;
/// called by `write_tx` just before commit.
///
/// The head row is the one lock every write takes, held from here to the commit, so this part
/// is kept to as few round trips as it can be (issue #18): the head is locked and read in one
/// statement, and on PostgreSQL the records, the events, their deliveries and the head's new
/// position go in one more. Who hears the events is decided in between, under the lock (so a
/// subscription committed before these events are numbered hears them), from the subscriptions
/// already read for the head's `subscriptions_version` — read again only when it changed.
pub(super) fn flush(conn: &mut DbConnection) -> QueryResult<()> {
    let pending = PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()));
    let events = super::outbox::take_pending();
    if pending.is_empty() && events.is_empty() {
        return Ok(());
    }
    // Lock the head row (PostgreSQL: until commit; SQLite already holds the write lock).
    let (mut seq, mut prev, event_seq, crypto, hearing): (i64, String, i64, Option<String>, String) =
        diesel::update(audit_head::table.find(1))
            .set(audit_head::seq.eq(audit_head::seq))
            .returning((
                audit_head::seq,
                audit_head::hash,
                audit_head::event_seq,
                audit_head::crypto,
                audit_head::subscriptions_version,
            ))
            .get_result(conn)?;
    let suite = head_suite(crypto.as_deref());
    let at = db_now();
    let mut rows = Vec::with_capacity(pending.len());
    for p in pending {
        seq += 1;
        let r = Record {
            seq,
            id: new_id(),
            at,
            actor: p.ctx.actor,
            actor_name: p.ctx.actor_name,
            role: p.ctx.role,
            request_id: p.ctx.request_id,
            object_type: p.object_type,
            object_id: p.object_id,
            action: p.action,
            diff: audit::canonical_json(&p.diff),
            prev_hash: prev,
        };
        let hash = audit::hash_with(suite, &r);
        prev = hash.clone();
        rows.push(AuditRow::from_record(r, hash));
    }
    let hearers = super::outbox::hearers(conn, &events, &hearing)?;
    // Events are numbered under the same lock, so their `seq` follows commit order too.
    let (outbox, deliveries, event_seq) = super::outbox::number_events(events, event_seq, &hearers);
    let head = Head {
        seq,
        hash: prev,
        event_seq,
    };
    let params = AUDIT_COLUMNS.len() * rows.len()
        + OUTBOX_COLUMNS.len() * outbox.len()
        + DELIVERY_COLUMNS.len() * deliveries.len()
        + 3;
    match conn {
        DbConnection::Postgresql(pg) if params <= PG_MAX_PARAMS => append_pg(pg, &rows, &outbox, &deliveries, &head),
        _ => {
            // One statement per row: multi-row inserts do not compile for the multi-backend
            // connection, SQLite's write lock is the transaction's anyway, and a PostgreSQL
            // transaction this large (an import of thousands of entries) is rare.
            for row in &rows {
                diesel::insert_into(audit_log::table).values(row).execute(conn)?;
            }
            for row in &outbox {
                diesel::insert_into(outbox_events::table).values(row).execute(conn)?;
            }
            for row in &deliveries {
                diesel::insert_into(webhook_deliveries::table)
                    .values(row)
                    .execute(conn)?;
            }
            diesel::update(audit_head::table.find(1))
                .set((
                    audit_head::seq.eq(head.seq),
                    audit_head::hash.eq(&head.hash),
                    audit_head::event_seq.eq(head.event_seq),
                ))
                .execute(conn)?;
            Ok(())
        }
    }
}

/// The most bind parameters one PostgreSQL statement may carry (its protocol counts them in 16 bits).
const PG_MAX_PARAMS: usize = 65_535;

/// The columns `append_pg` writes, in the order it binds them.
const AUDIT_COLUMNS: &[&str] = &[
    "seq",
    "id",
    "at",
    "actor",
    "actor_name",
    "role",
    "request_id",
    "object_type",
    "object_id",
    "action",
    "diff",
    "prev_hash",
    "hash",
];
const OUTBOX_COLUMNS: &[&str] = &[
    "seq",
    "id",
    "event_type",
    "object_type",
    "object_id",
    "audience",
    "payload",
    "occurred_at",
];
const DELIVERY_COLUMNS: &[&str] = &[
    "id",
    "subscription_id",
    "event_seq",
    "object_id",
    "status",
    "attempts",
    "next_attempt_at",
    "give_up_at",
    "last_status",
    "last_error",
    "delivered_at",
    "created_at",
];

/// The head's position after an append.
struct Head {
    seq: i64,
    hash: String,
    event_seq: i64,
}

/// PostgreSQL: the audit records, the outbox events, their deliveries and the head's new
/// position in one statement (data-modifying `WITH`; foreign keys are checked at its end), so
/// the head lock is held for one round trip and the commit.
fn append_pg(
    pg: &mut diesel::PgConnection,
    audit: &[AuditRow],
    outbox: &[OutboxRow],
    deliveries: &[DeliveryRow],
    head: &Head,
) -> QueryResult<()> {
    use diesel::pg::Pg;
    use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamp};

    let mut sql = String::with_capacity(512 * (audit.len() + outbox.len() + deliveries.len()) + 128);
    let mut n = 0usize;
    // `INSERT INTO "t" ("c1", …) VALUES ($1, …), (…)` for `rows` rows of `cols` columns.
    let mut insert = |sql: &mut String, table: &str, cols: &[&str], rows: usize| {
        sql.push_str(if sql.is_empty() { "WITH " } else { ", " });
        sql.push_str(&format!("\"new_{table}\" AS (INSERT INTO \"{table}\" ("));
        sql.push_str(&cols.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", "));
        sql.push_str(") VALUES ");
        for r in 0..rows {
            if r > 0 {
                sql.push_str(", ");
            }
            let params: Vec<String> = (0..cols.len())
                .map(|_| {
                    n += 1;
                    format!("${n}")
                })
                .collect();
            sql.push('(');
            sql.push_str(&params.join(", "));
            sql.push(')');
        }
        sql.push(')');
    };
    if !audit.is_empty() {
        insert(&mut sql, "audit_log", AUDIT_COLUMNS, audit.len());
    }
    if !outbox.is_empty() {
        insert(&mut sql, "outbox_events", OUTBOX_COLUMNS, outbox.len());
    }
    if !deliveries.is_empty() {
        insert(&mut sql, "webhook_deliveries", DELIVERY_COLUMNS, deliveries.len());
    }
    if !sql.is_empty() {
        sql.push(' ');
    }
    sql.push_str(&format!(
        "UPDATE \"audit_head\" SET \"seq\" = ${}, \"hash\" = ${}, \"event_seq\" = ${} WHERE (\"audit_head\".\"id\" = 1)",
        n + 1,
        n + 2,
        n + 3
    ));
    let mut q = diesel::sql_query(sql).into_boxed::<Pg>();
    for r in audit {
        q = q
            .bind::<BigInt, _>(r.seq)
            .bind::<Text, _>(r.id.clone())
            .bind::<Timestamp, _>(r.at)
            .bind::<Text, _>(r.actor.clone())
            .bind::<Text, _>(r.actor_name.clone())
            .bind::<Text, _>(r.role.clone())
            .bind::<Nullable<Text>, _>(r.request_id.clone())
            .bind::<Text, _>(r.object_type.clone())
            .bind::<Text, _>(r.object_id.clone())
            .bind::<Text, _>(r.action.clone())
            .bind::<Text, _>(r.diff.clone())
            .bind::<Text, _>(r.prev_hash.clone())
            .bind::<Text, _>(r.hash.clone());
    }
    for e in outbox {
        q = q
            .bind::<BigInt, _>(e.seq)
            .bind::<Text, _>(e.id.clone())
            .bind::<Text, _>(e.event_type.clone())
            .bind::<Text, _>(e.object_type.clone())
            .bind::<Text, _>(e.object_id.clone())
            .bind::<Text, _>(e.audience.clone())
            .bind::<Text, _>(e.payload.clone())
            .bind::<Timestamp, _>(e.occurred_at);
    }
    for d in deliveries {
        q = q
            .bind::<Text, _>(d.id.clone())
            .bind::<Text, _>(d.subscription_id.clone())
            .bind::<BigInt, _>(d.event_seq)
            .bind::<Text, _>(d.object_id.clone())
            .bind::<Text, _>(d.status.clone())
            .bind::<Integer, _>(d.attempts)
            .bind::<Timestamp, _>(d.next_attempt_at)
            .bind::<Timestamp, _>(d.give_up_at)
            .bind::<Nullable<Integer>, _>(d.last_status)
            .bind::<Nullable<Text>, _>(d.last_error.clone())
            .bind::<Nullable<Timestamp>, _>(d.delivered_at)
            .bind::<Timestamp, _>(d.created_at);
    }
    q = q
        .bind::<BigInt, _>(head.seq)
        .bind::<Text, _>(head.hash.clone())
        .bind::<BigInt, _>(head.event_seq);
    q.execute(pg)?;
    Ok(())
}

/// The suite a head names: what it was started with; none recorded (a chain of a version before
/// the setting, or never started by `serve`) is SHA-256.
fn head_suite(crypto: Option<&str>) -> CryptoSuite {
    crypto.and_then(CryptoSuite::parse).unwrap_or(CryptoSuite::Standard)
}

/// The suite the chain of this database is hashed with.
pub fn chain_suite(conn: &mut DbConnection) -> DbResult<CryptoSuite> {
    let crypto: Option<String> = audit_head::table.find(1).select(audit_head::crypto).first(conn)?;
    Ok(head_suite(crypto.as_deref()))
}

/// A start with a setting the database was not started with.
#[derive(Debug, thiserror::Error)]
#[error(
    "this database was started with HWT_CRYPTO={stored} and its audit chain is hashed with {stored_hash}; it cannot \
     be started with HWT_CRYPTO={wanted}. Start it with HWT_CRYPTO={stored}, or use a new database"
)]
pub struct SuiteMismatch {
    pub stored: &'static str,
    pub stored_hash: &'static str,
    pub wanted: &'static str,
}

fn hash_name(s: CryptoSuite) -> &'static str {
    match s {
        CryptoSuite::Standard => "SHA-256",
        CryptoSuite::Sm => "SM3",
    }
}

/// Records the suite of a database on its first start, and refuses another one later. A chain
/// that already has records before any suite was recorded is SHA-256 (`standard`). Run under
/// the set-up lock.
pub fn settle_suite(conn: &mut DbConnection, wanted: CryptoSuite) -> DbResult<Result<(), SuiteMismatch>> {
    write_tx(conn, |conn| {
        let (seq, crypto): (i64, Option<String>) = audit_head::table
            .find(1)
            .select((audit_head::seq, audit_head::crypto))
            .first(conn)?;
        let stored = match crypto.as_deref().and_then(CryptoSuite::parse) {
            Some(s) => s,
            // Records hashed before the setting existed are SHA-256.
            None if seq > 0 => CryptoSuite::Standard,
            None => wanted,
        };
        if crypto.is_none() && stored == wanted {
            diesel::update(audit_head::table.find(1))
                .set(audit_head::crypto.eq(Some(wanted.as_str())))
                .execute(conn)?;
        }
        if stored != wanted {
            return Ok(Err(SuiteMismatch {
                stored: stored.as_str(),
                stored_hash: hash_name(stored),
                wanted: wanted.as_str(),
            }));
        }
        Ok(Ok(()))
    })
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = audit_log)]
pub struct AuditRow {
    pub seq: i64,
    pub id: String,
    pub at: NaiveDateTime,
    pub actor: String,
    pub actor_name: String,
    pub role: String,
    pub request_id: Option<String>,
    pub object_type: String,
    pub object_id: String,
    pub action: String,
    pub diff: String,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditRow {
    fn from_record(r: Record, hash: String) -> AuditRow {
        AuditRow {
            seq: r.seq,
            id: r.id,
            at: r.at,
            actor: r.actor,
            actor_name: r.actor_name,
            role: r.role,
            request_id: r.request_id,
            object_type: r.object_type,
            object_id: r.object_id,
            action: r.action,
            diff: r.diff,
            prev_hash: r.prev_hash,
            hash,
        }
    }

    fn to_record(&self) -> Record {
        Record {
            seq: self.seq,
            id: self.id.clone(),
            at: self.at,
            actor: self.actor.clone(),
            actor_name: self.actor_name.clone(),
            role: self.role.clone(),
            request_id: self.request_id.clone(),
            object_type: self.object_type.clone(),
            object_id: self.object_id.clone(),
            action: self.action.clone(),
            diff: self.diff.clone(),
            prev_hash: self.prev_hash.clone(),
        }
    }
}

/// The outcome of walking the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Verification {
    /// True when every record up to the head verifies.
    pub intact: bool,
    /// Records checked.
    pub checked: i64,
    /// The last sequence number and hash the head knew when the walk began.
    pub head_seq: i64,
    pub head_hash: String,
    /// The first broken link, when there is one.
    pub first_break: Option<Break>,
}

/// Walks the chain from the first record to the head as it was when the walk began, in pages
/// (constant memory), and reports the first broken link.
pub fn verify(conn: &mut DbConnection) -> DbResult<Verification> {
    let (head_seq, head_hash, crypto): (i64, String, Option<String>) = audit_head::table
        .find(1)
        .select((audit_head::seq, audit_head::hash, audit_head::crypto))
        .first(conn)?;
    let suite = head_suite(crypto.as_deref());
    let mut expected = 1i64;
    let mut prev = audit::GENESIS.to_string();
    let mut checked = 0i64;
    let done = |checked, first_break: Option<Break>| Verification {
        intact: first_break.is_none(),
        checked,
        head_seq,
        head_hash: head_hash.clone(),
        first_break,
    };
    loop {
        let page: Vec<AuditRow> = audit_log::table
            .filter(audit_log::seq.ge(expected))
            .filter(audit_log::seq.le(head_seq))
            .order(audit_log::seq.asc())
            .limit(5000)
            .select(AuditRow::as_select())
            .load(conn)?;
        if page.is_empty() {
            break;
        }
        for row in &page {
            if let Some(b) = audit::check_link(suite, &row.to_record(), &row.hash, expected, &prev) {
                return Ok(done(checked, Some(b)));
            }
            checked += 1;
            expected += 1;
            prev = row.hash.clone();
        }
    }
    if expected - 1 != head_seq || prev != head_hash {
        let b = Break {
            seq: expected,
            kind: "head_mismatch".into(),
            detail: format!(
                "the chain ends at record {} but the head records {head_seq}",
                expected - 1
            ),
        };
        return Ok(done(checked, Some(b)));
    }
    Ok(done(checked, None))
}

/// Filters of the audit event search.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub actor: Option<String>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
}

/// Records in chain order after `after_seq`.
pub fn events(conn: &mut DbConnection, f: &EventFilter, after_seq: Option<i64>, limit: i64) -> DbResult<Vec<AuditRow>> {
    let mut q = audit_log::table.select(AuditRow::as_select()).into_boxed();
    if let Some(t) = &f.object_type {
        q = q.filter(audit_log::object_type.eq(t.clone()));
    }
    if let Some(o) = &f.object_id {
        q = q.filter(audit_log::object_id.eq(o.clone()));
    }
    if let Some(a) = &f.actor {
        q = q.filter(audit_log::actor.eq(a.clone()));
    }
    if let Some(from) = f.from {
        q = q.filter(audit_log::at.ge(from));
    }
    if let Some(to) = f.to {
        q = q.filter(audit_log::at.lt(to));
    }
    if let Some(s) = after_seq {
        q = q.filter(audit_log::seq.gt(s));
    }
    // A time window becomes a seq range (records are stamped under the head lock, so `at` grows
    // with `seq` up to clock differences between replicas): one probe each on `(at, seq)`, then
    // the walk in chain order stays inside the window instead of crossing the trail up to it.
    const CLOCK_MARGIN: chrono::TimeDelta = chrono::TimeDelta::hours(1);
    if let Some(from) = f.from
        && let Some(lower) = audit_log::table
            .filter(audit_log::at.lt(from - CLOCK_MARGIN))
            .order((audit_log::at.desc(), audit_log::seq.desc()))
            .select(audit_log::seq)
            .first::<i64>(conn)
            .optional()?
    {
        q = q.filter(audit_log::seq.gt(lower));
    }
    if let Some(to) = f.to
        && let Some(upper) = audit_log::table
            .filter(audit_log::at.ge(to + CLOCK_MARGIN))
            .order((audit_log::at.asc(), audit_log::seq.asc()))
            .select(audit_log::seq)
            .first::<i64>(conn)
            .optional()?
    {
        q = q.filter(audit_log::seq.lt(upper));
    }
    Ok(q.order(audit_log::seq.asc()).limit(limit).load(conn)?)
}
