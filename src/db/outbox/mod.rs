//! The transactional outbox and webhook subscriptions.
//!
//! A change emits its events with [`emit`] while it works; like audit records they wait on this
//! thread and are inserted by `write_tx` just before the commit, under the audit head lock, so
//! an event exists exactly when its change committed and `seq` grows in commit order. In the
//! same statements every active subscription that hears the event gets a pending delivery. The
//! delivery job (`jobs::delivery`) then posts them, oldest first per subscription and object.

use std::cell::RefCell;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::Value;

use super::applications::AppRow;
use super::schema::{job_leases, outbox_events, webhook_attempts, webhook_deliveries, webhook_subscriptions};
use super::{DbConnection, DbResult, db_now, from_db_time, new_id, to_db_time, write_tx};
use crate::webhooks::{self, Audience, Event, EventObject, EventType, OwnerKind};

mod hearers;
pub(super) use hearers::{Hearers, hearers};

/// An event waiting for its transaction to commit.
#[derive(Debug, Clone)]
pub(super) struct PendingEvent {
    event_type: EventType,
    object: EventObject,
    audience: Audience,
    data: Value,
    occurred_at: NaiveDateTime,
}

thread_local! {
    static PENDING: RefCell<Vec<PendingEvent>> = const { RefCell::new(Vec::new()) };
}

pub(super) fn pending_len() -> usize {
    PENDING.with(|p| p.borrow().len())
}
pub(super) fn truncate_pending(mark: usize) {
    PENDING.with(|p| p.borrow_mut().truncate(mark));
}
pub(super) fn take_pending() -> Vec<PendingEvent> {
    PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()))
}

/// Emits an event about an object to `audience`. Inside a write transaction it is stored when
/// that transaction commits (and dropped when it rolls back); outside one, at once.
pub fn emit(
    conn: &mut DbConnection,
    event_type: EventType,
    object_type: &str,
    object_id: &str,
    audience: Audience,
    data: Value,
) -> DbResult<()> {
    let e = PendingEvent {
        event_type,
        object: EventObject {
            object_type: object_type.to_string(),
            id: object_id.to_string(),
        },
        audience,
        data,
        occurred_at: db_now(),
    };
    if super::audit::in_unit_of_work() {
        PENDING.with(|p| p.borrow_mut().push(e));
        Ok(())
    } else {
        write_tx(conn, |_| {
            PENDING.with(|p| p.borrow_mut().push(e));
            Ok(())
        })
    }
}

/// Emits an event about `object_id` to every province unless one of this type about it was
/// emitted before (an announcement made once, e.g. a missing holiday notice); true when emitted.
/// Call under the sweeper's lock, so replicas do not announce twice.
pub fn announce_once(
    conn: &mut DbConnection,
    event_type: EventType,
    object_type: &str,
    object_id: &str,
    data: Value,
) -> DbResult<bool> {
    use super::schema::outbox_events::dsl as o;
    let before: i64 = o::outbox_events
        .filter(o::event_type.eq(event_type.as_str()))
        .filter(o::object_type.eq(object_type))
        .filter(o::object_id.eq(object_id))
        .count()
        .get_result(conn)?;
    if before > 0 {
        return Ok(false);
    }
    let audience = crate::domain::province::provinces()
        .iter()
        .fold(Audience::new(), |a, p| a.with(OwnerKind::Province, p.code.as_str()));
    emit(conn, event_type, object_type, object_id, audience, data)?;
    Ok(true)
}

/// Every party of an application.
pub fn application_audience(app: &AppRow) -> Audience {
    Audience::new()
        .with(OwnerKind::Enterprise, &app.enterprise_id)
        .with(OwnerKind::Operator, &app.operator_id)
        .with(OwnerKind::Province, &app.source_province)
        .with(OwnerKind::Province, &app.receiving_province)
}

/// The `data` of an application event.
pub fn application_data(app: &AppRow, detail: &Value) -> Value {
    serde_json::to_value(webhooks::ApplicationEventData {
        application_id: app.id.clone(),
        status: app.status.clone(),
        route: app.route.clone(),
        enterprise_id: app.enterprise_id.clone(),
        operator_id: app.operator_id.clone(),
        source_province: app.source_province.clone(),
        receiving_province: app.receiving_province.clone(),
        approval_number: app.approval_number.clone(),
        valid_until: app.valid_until.clone(),
        detail: detail.clone(),
    })
    .unwrap_or(Value::Null)
}

/// The webhook event of a case-timeline entry, if it has one.
pub fn application_event_type(kind: &str) -> Option<EventType> {
    match kind {
        "filed" | "resubmitted" => Some(EventType::ApplicationFiled),
        "accepted" | "deemed_accepted" => Some(EventType::ApplicationAccepted),
        "correction_requested" => Some(EventType::ApplicationCorrectionRequested),
        "overdue" => Some(EventType::StepOverdue),
        "rerouted" => Some(EventType::ApplicationRerouted),
        "revoked" => Some(EventType::ApprovalRevoked),
        "consultation_sent" | "not_accepted" => Some(EventType::ApplicationDecided),
        k if k.starts_with("source_") || k.starts_with("receiving_") => Some(EventType::ApplicationDecided),
        _ => None,
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = outbox_events)]
pub struct OutboxRow {
    pub seq: i64,
    pub id: String,
    pub event_type: String,
    pub object_type: String,
    pub object_id: String,
    pub audience: String,
    pub payload: String,
    pub occurred_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = webhook_subscriptions)]
pub struct SubscriptionRow {
    pub id: String,
    pub owner_kind: String,
    pub owner_id: String,
    pub url: String,
    pub event_types: String,
    pub secret: String,
    pub description: Option<String>,
    pub status: String,
    pub failing_since: Option<NaiveDateTime>,
    pub last_success_at: Option<NaiveDateTime>,
    pub last_failure_at: Option<NaiveDateTime>,
    pub disabled_at: Option<NaiveDateTime>,
    pub disabled_reason: Option<String>,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i32,
}

impl SubscriptionRow {
    pub fn event_types(&self) -> Vec<String> {
        serde_json::from_str(&self.event_types).unwrap_or_default()
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = webhook_deliveries)]
pub struct DeliveryRow {
    pub id: String,
    pub subscription_id: String,
    pub event_seq: i64,
    pub object_id: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub give_up_at: NaiveDateTime,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub delivered_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = webhook_attempts)]
pub struct AttemptRow {
    pub id: String,
    pub delivery_id: String,
    pub attempt: i32,
    pub at: NaiveDateTime,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i32,
}

fn new_delivery(subscription_id: &str, event_seq: i64, object_id: &str, now: NaiveDateTime) -> DeliveryRow {
    DeliveryRow {
        id: new_id(),
        subscription_id: subscription_id.to_string(),
        event_seq,
        object_id: object_id.to_string(),
        status: "pending".into(),
        attempts: 0,
        next_attempt_at: now,
        give_up_at: now + webhooks::RETRY_FOR,
        last_status: None,
        last_error: None,
        delivered_at: None,
        created_at: now,
    }
}

/// What this transaction emitted as rows to insert: its events numbered after `event_seq`, and
/// a delivery for every subscription that hears each; with the last number.
pub(super) fn number_events(
    events: Vec<PendingEvent>,
    mut event_seq: i64,
    hearers: &Hearers,
) -> (Vec<OutboxRow>, Vec<DeliveryRow>, i64) {
    let now = db_now();
    let mut rows = Vec::with_capacity(events.len());
    let mut deliveries = Vec::new();
    for e in events {
        event_seq += 1;
        let event = Event {
            id: new_id(),
            seq: event_seq,
            event_type: e.event_type,
            occurred_at: from_db_time(e.occurred_at),
            object: e.object.clone(),
            data: e.data,
        };
        let payload = serde_json::to_string(&event).unwrap_or_default();
        for subscription in hearers.of(e.event_type, &e.audience) {
            deliveries.push(new_delivery(subscription, event_seq, &e.object.id, now));
        }
        rows.push(OutboxRow {
            seq: event_seq,
            id: event.id,
            event_type: e.event_type.as_str().to_string(),
            object_type: e.object.object_type,
            object_id: e.object.id,
            audience: e.audience.encode(),
            payload,
            occurred_at: e.occurred_at,
        });
    }
    (rows, deliveries, event_seq)
}

// ---- subscriptions ----

pub fn insert_subscription(conn: &mut DbConnection, row: &SubscriptionRow) -> DbResult<()> {
    write_tx(conn, |conn| {
        diesel::insert_into(webhook_subscriptions::table)
            .values(row)
            .execute(conn)?;
        super::audit::record_change::<SubscriptionRow>(
            conn,
            "webhook_subscription",
            &row.id,
            "created",
            None,
            Some(row),
        )
    })
}

pub fn subscription(conn: &mut DbConnection, id: &str) -> DbResult<Option<SubscriptionRow>> {
    Ok(webhook_subscriptions::table
        .find(id)
        .filter(webhook_subscriptions::status.ne("deleted"))
        .select(SubscriptionRow::as_select())
        .first(conn)
        .optional()?)
}

/// Subscriptions of one owner (or of everybody), oldest first.
pub fn subscriptions(conn: &mut DbConnection, owner: Option<(&OwnerKind, &str)>) -> DbResult<Vec<SubscriptionRow>> {
    let mut q = webhook_subscriptions::table
        .filter(webhook_subscriptions::status.ne("deleted"))
        .select(SubscriptionRow::as_select())
        .order(webhook_subscriptions::id.asc())
        .into_boxed();
    if let Some((kind, id)) = owner {
        q = q
            .filter(webhook_subscriptions::owner_kind.eq(kind.as_str()))
            .filter(webhook_subscriptions::owner_id.eq(id.to_string()));
    }
    Ok(q.load(conn)?)
}

/// Sets a subscription's status (`active` again clears the failure record, `deleted` hides it).
pub fn set_subscription_status(
    conn: &mut DbConnection,
    id: &str,
    status: &str,
    action: &str,
) -> DbResult<Option<SubscriptionRow>> {
    write_tx(conn, |conn| {
        let Some(before) = subscription(conn, id)? else {
            return Ok(None);
        };
        let now = db_now();
        let target = webhook_subscriptions::table.find(id);
        if status == "active" {
            diesel::update(target)
                .set((
                    webhook_subscriptions::status.eq(status),
                    webhook_subscriptions::failing_since.eq(None::<NaiveDateTime>),
                    webhook_subscriptions::disabled_at.eq(None::<NaiveDateTime>),
                    webhook_subscriptions::disabled_reason.eq(None::<String>),
                    webhook_subscriptions::version.eq(before.version + 1),
                    webhook_subscriptions::updated_at.eq(now),
                ))
                .execute(conn)?;
        } else {
            diesel::update(target)
                .set((
                    webhook_subscriptions::status.eq(status),
                    webhook_subscriptions::version.eq(before.version + 1),
                    webhook_subscriptions::updated_at.eq(now),
                ))
                .execute(conn)?;
        }
        let after = webhook_subscriptions::table
            .find(id)
            .select(SubscriptionRow::as_select())
            .first(conn)?;
        super::audit::record_change(conn, "webhook_subscription", id, action, Some(&before), Some(&after))?;
        Ok(Some(after))
    })
}

/// Counts of a subscription's deliveries by status.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct DeliveryCounts {
    pub pending: i64,
    pub delivered: i64,
    pub failed: i64,
}

pub fn delivery_counts(conn: &mut DbConnection, subscription_id: &str) -> DbResult<DeliveryCounts> {
    let rows: Vec<(String, i64)> = webhook_deliveries::table
        .filter(webhook_deliveries::subscription_id.eq(subscription_id))
        .group_by(webhook_deliveries::status)
        .select((webhook_deliveries::status, diesel::dsl::count_star()))
        .load(conn)?;
    let mut c = DeliveryCounts::default();
    for (status, n) in rows {
        match status.as_str() {
            "pending" => c.pending = n,
            "delivered" => c.delivered = n,
            _ => c.failed += n,
        }
    }
    Ok(c)
}

/// A delivery with its event and attempts, for the subscriber's list.
#[derive(Debug, Clone)]
pub struct DeliveryView {
    pub delivery: DeliveryRow,
    pub event: OutboxRow,
    pub attempts: Vec<AttemptRow>,
}

/// A subscription's deliveries in event order after the cursor `after_seq`.
pub fn deliveries(
    conn: &mut DbConnection,
    subscription_id: &str,
    after_seq: i64,
    status: Option<&str>,
    limit: i64,
) -> DbResult<Vec<DeliveryView>> {
    let mut q = webhook_deliveries::table
        .inner_join(outbox_events::table)
        .filter(webhook_deliveries::subscription_id.eq(subscription_id))
        .filter(webhook_deliveries::event_seq.gt(after_seq))
        .order(webhook_deliveries::event_seq.asc())
        .limit(limit)
        .select((DeliveryRow::as_select(), OutboxRow::as_select()))
        .into_boxed();
    if let Some(s) = status {
        q = q.filter(webhook_deliveries::status.eq(s.to_string()));
    }
    let rows: Vec<(DeliveryRow, OutboxRow)> = q.load(conn)?;
    let ids: Vec<String> = rows.iter().map(|(d, _)| d.id.clone()).collect();
    let mut attempts: Vec<AttemptRow> = webhook_attempts::table
        .filter(webhook_attempts::delivery_id.eq_any(&ids))
        .order((webhook_attempts::delivery_id.asc(), webhook_attempts::attempt.asc()))
        .select(AttemptRow::as_select())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(delivery, event)| {
            let mine: Vec<AttemptRow> = attempts
                .iter()
                .filter(|a| a.delivery_id == delivery.id)
                .cloned()
                .collect();
            attempts.retain(|a| a.delivery_id != delivery.id);
            DeliveryView {
                delivery,
                event,
                attempts: mine,
            }
        })
        .collect())
}

/// Queues again every event after `after_seq` that the subscription hears (its owner and event
/// types): existing deliveries go back to pending with a fresh day of retries, missing ones (for
/// example from while it was disabled) are created. Returns how many were queued.
pub fn replay(conn: &mut DbConnection, sub: &SubscriptionRow, after_seq: i64, now: DateTime<Utc>) -> DbResult<i64> {
    let Some(kind) = OwnerKind::parse(&sub.owner_kind) else {
        return Ok(0);
    };
    let types = sub.event_types();
    let pattern = Audience::like_pattern(&kind, &sub.owner_id);
    let now = to_db_time(now);
    write_tx(conn, |conn| {
        let events: Vec<(i64, String)> = outbox_events::table
            .filter(outbox_events::seq.gt(after_seq))
            .filter(outbox_events::event_type.eq_any(&types))
            .filter(outbox_events::audience.like(&pattern).escape('\\'))
            .order(outbox_events::seq.asc())
            .select((outbox_events::seq, outbox_events::object_id))
            .load(conn)?;
        let mut queued = 0i64;
        for (seq, object_id) in &events {
            let n = diesel::update(
                webhook_deliveries::table
                    .filter(webhook_deliveries::subscription_id.eq(&sub.id))
                    .filter(webhook_deliveries::event_seq.eq(seq)),
            )
            .set((
                webhook_deliveries::status.eq("pending"),
                webhook_deliveries::next_attempt_at.eq(now),
                webhook_deliveries::give_up_at.eq(now + webhooks::RETRY_FOR),
            ))
            .execute(conn)?;
            if n == 0 {
                diesel::insert_into(webhook_deliveries::table)
                    .values(new_delivery(&sub.id, *seq, object_id, now))
                    .execute(conn)?;
            }
            queued += 1;
        }
        super::audit::record(
            conn,
            "webhook_subscription",
            &sub.id,
            "replay",
            serde_json::json!({ "replay": {"from": null, "to": {"after": after_seq, "queued": queued}} }),
        )?;
        Ok(queued)
    })
}

// ---- the delivery job ----

/// Takes or renews the lease `name` for `holder` until `now + ttl`; false when another holder
/// has an unexpired lease.
pub fn take_lease(
    conn: &mut DbConnection,
    name: &str,
    holder: &str,
    now: DateTime<Utc>,
    ttl: chrono::TimeDelta,
) -> DbResult<bool> {
    let now = to_db_time(now);
    let n = diesel::update(
        job_leases::table
            .filter(job_leases::name.eq(name))
            .filter(job_leases::holder.eq(holder).or(job_leases::expires_at.lt(now))),
    )
    .set((job_leases::holder.eq(holder), job_leases::expires_at.eq(now + ttl)))
    .execute(conn)?;
    Ok(n == 1)
}

/// Gives a lease up (on shutdown), so another replica need not wait for it to expire.
pub fn release_lease(conn: &mut DbConnection, name: &str, holder: &str) -> DbResult<()> {
    diesel::update(
        job_leases::table
            .filter(job_leases::name.eq(name))
            .filter(job_leases::holder.eq(holder)),
    )
    .set(job_leases::expires_at.eq(NaiveDateTime::default()))
    .execute(conn)?;
    Ok(())
}

/// One delivery to attempt now.
#[derive(Debug, Clone)]
pub struct Due {
    pub delivery_id: String,
    pub attempt: i32,
    pub subscription_id: String,
    pub url: String,
    pub secret: String,
    pub event_id: String,
    pub event_type: String,
    pub payload: String,
}

/// Deliveries to attempt at `now`, at most `limit`: pending, due, of an active subscription, and
/// the oldest pending one of their subscription and object (order per object).
pub fn due(conn: &mut DbConnection, now: DateTime<Utc>, limit: i64) -> DbResult<Vec<Due>> {
    let now = to_db_time(now);
    // An earlier pending delivery of the same subscription and object holds a later one back.
    // Excluded in SQL, so that a failing endpoint's held-back deliveries never fill the batch
    // and starve everybody else's.
    let earlier = diesel::alias!(webhook_deliveries as earlier);
    let ready: Vec<DeliveryRow> = webhook_deliveries::table
        .inner_join(webhook_subscriptions::table)
        .filter(webhook_deliveries::status.eq("pending"))
        .filter(webhook_deliveries::next_attempt_at.le(now))
        .filter(webhook_subscriptions::status.eq("active"))
        .filter(diesel::dsl::not(diesel::dsl::exists(
            earlier
                .filter(
                    earlier
                        .field(webhook_deliveries::subscription_id)
                        .eq(webhook_deliveries::subscription_id),
                )
                .filter(
                    earlier
                        .field(webhook_deliveries::object_id)
                        .eq(webhook_deliveries::object_id),
                )
                .filter(earlier.field(webhook_deliveries::status).eq("pending"))
                .filter(
                    earlier
                        .field(webhook_deliveries::event_seq)
                        .lt(webhook_deliveries::event_seq),
                ),
        )))
        .order(webhook_deliveries::event_seq.asc())
        .limit(limit)
        .select(DeliveryRow::as_select())
        .load(conn)?;
    if ready.is_empty() {
        return Ok(Vec::new());
    }
    let seqs: Vec<i64> = ready.iter().map(|d| d.event_seq).collect();
    let sub_ids: Vec<String> = ready.iter().map(|d| d.subscription_id.clone()).collect();
    let events: Vec<OutboxRow> = outbox_events::table
        .filter(outbox_events::seq.eq_any(&seqs))
        .select(OutboxRow::as_select())
        .load(conn)?;
    let subs: Vec<SubscriptionRow> = webhook_subscriptions::table
        .filter(webhook_subscriptions::id.eq_any(&sub_ids))
        .select(SubscriptionRow::as_select())
        .load(conn)?;
    Ok(ready
        .into_iter()
        .filter_map(|d| {
            let e = events.iter().find(|e| e.seq == d.event_seq)?;
            let s = subs.iter().find(|s| s.id == d.subscription_id)?;
            Some(Due {
                delivery_id: d.id,
                attempt: d.attempts + 1,
                subscription_id: s.id.clone(),
                url: s.url.clone(),
                secret: s.secret.clone(),
                event_id: e.id.clone(),
                event_type: e.event_type.clone(),
                payload: e.payload.clone(),
            })
        })
        .collect())
}

/// What one attempt gave.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub delivery_id: String,
    pub subscription_id: String,
    pub attempt: i32,
    pub at: DateTime<Utc>,
    /// The HTTP status, when an answer came.
    pub status_code: Option<u16>,
    /// Why it failed without an answer (timeout, refused connection), in words safe to show.
    pub error: Option<String>,
    pub duration_ms: i32,
}

impl Outcome {
    pub fn succeeded(&self) -> bool {
        self.status_code.is_some_and(|s| (200..300).contains(&s))
    }
}

/// Records an attempt: the delivery is done, scheduled again after the backoff, or given up
/// after a day; the subscription's failure record is updated and it is disabled after failing
/// for a day without a success. Returns true when the subscription was disabled now.
pub fn record_outcome(conn: &mut DbConnection, o: &Outcome, base: std::time::Duration) -> DbResult<bool> {
    let at = to_db_time(o.at);
    write_tx(conn, |conn| {
        diesel::insert_into(webhook_attempts::table)
            .values(AttemptRow {
                id: new_id(),
                delivery_id: o.delivery_id.clone(),
                attempt: o.attempt,
                at,
                status_code: o.status_code.map(i32::from),
                error: o.error.clone(),
                duration_ms: o.duration_ms,
            })
            .execute(conn)?;
        let delivery: DeliveryRow = webhook_deliveries::table
            .find(&o.delivery_id)
            .select(DeliveryRow::as_select())
            .first(conn)?;
        let target = webhook_deliveries::table.find(&o.delivery_id);
        let last_status = o.status_code.map(i32::from);
        if o.succeeded() {
            diesel::update(target)
                .set((
                    webhook_deliveries::status.eq("delivered"),
                    webhook_deliveries::attempts.eq(o.attempt),
                    webhook_deliveries::last_status.eq(last_status),
                    webhook_deliveries::last_error.eq(None::<String>),
                    webhook_deliveries::delivered_at.eq(Some(at)),
                ))
                .execute(conn)?;
            diesel::update(webhook_subscriptions::table.find(&o.subscription_id))
                .set((
                    webhook_subscriptions::failing_since.eq(None::<NaiveDateTime>),
                    webhook_subscriptions::last_success_at.eq(Some(at)),
                ))
                .execute(conn)?;
            return Ok(false);
        }
        let wait = webhooks::backoff(base, o.attempt.max(1) as u32);
        let next = at + chrono::TimeDelta::from_std(wait).unwrap_or(chrono::TimeDelta::hours(1));
        let give_up = next > delivery.give_up_at;
        diesel::update(target)
            .set((
                webhook_deliveries::status.eq(if give_up { "failed" } else { "pending" }),
                webhook_deliveries::attempts.eq(o.attempt),
                webhook_deliveries::next_attempt_at.eq(next),
                webhook_deliveries::last_status.eq(last_status),
                webhook_deliveries::last_error.eq(o.error.clone()),
            ))
            .execute(conn)?;
        let sub: SubscriptionRow = webhook_subscriptions::table
            .find(&o.subscription_id)
            .select(SubscriptionRow::as_select())
            .first(conn)?;
        let since = sub.failing_since.unwrap_or(at);
        let disable = sub.status == "active" && at - since >= webhooks::DISABLE_AFTER;
        diesel::update(webhook_subscriptions::table.find(&o.subscription_id))
            .set((
                webhook_subscriptions::failing_since.eq(Some(since)),
                webhook_subscriptions::last_failure_at.eq(Some(at)),
            ))
            .execute(conn)?;
        if disable {
            let reason = format!(
                "every delivery failed since {} (UTC) — the endpoint was disabled after a day; fix it, enable the subscription and replay",
                since.format("%Y-%m-%d %H:%M:%S")
            );
            diesel::update(webhook_subscriptions::table.find(&o.subscription_id))
                .set((
                    webhook_subscriptions::status.eq("disabled"),
                    webhook_subscriptions::disabled_at.eq(Some(at)),
                    webhook_subscriptions::disabled_reason.eq(Some(&reason)),
                    webhook_subscriptions::version.eq(sub.version + 1),
                    webhook_subscriptions::updated_at.eq(at),
                ))
                .execute(conn)?;
            super::audit::record(
                conn,
                "webhook_subscription",
                &sub.id,
                "disabled",
                serde_json::json!({
                    "status": {"from": "active", "to": "disabled"},
                    "disabled_reason": {"from": null, "to": reason},
                }),
            )?;
        }
        Ok(disable)
    })
}

/// The events stored for an object, oldest first (for tests and support).
pub fn events_of(conn: &mut DbConnection, object_id: &str) -> DbResult<Vec<OutboxRow>> {
    Ok(outbox_events::table
        .filter(outbox_events::object_id.eq(object_id))
        .order(outbox_events::seq.asc())
        .select(OutboxRow::as_select())
        .load(conn)?)
}

// ---- the changes feed ----

/// The newest event's `seq` (0 before the first): `audit_head.event_seq`, which moves in the
/// same transaction that inserts the events. Every event up to it is committed and visible, so a
/// reader that has seen everything up to here may move its cursor here.
pub fn event_head(conn: &mut DbConnection) -> DbResult<i64> {
    use super::schema::audit_head;
    Ok(audit_head::table
        .find(1)
        .select(audit_head::event_seq)
        .first::<i64>(conn)
        .optional()?
        .unwrap_or(0))
}

/// One read of the feed: the head before the read, the lowest `seq` still kept, and the events
/// after the cursor that the owner hears (every event when `owner` is `None`), oldest first.
#[derive(Debug, Clone)]
pub struct FeedRead {
    pub head: i64,
    /// The lowest kept `seq`; `head + 1` when none is kept.
    pub kept_from: i64,
    pub rows: Vec<OutboxRow>,
}

/// Reads up to `limit` events after `after` heard by `owner`. The head is read *before* the
/// events: every event up to it was committed with it, so when fewer than `limit` rows come
/// back, nothing the owner hears lies between the last of them and the head.
pub fn feed(conn: &mut DbConnection, after: i64, owner: Option<(&OwnerKind, &str)>, limit: i64) -> DbResult<FeedRead> {
    let head = event_head(conn)?;
    let mut q = outbox_events::table
        .filter(outbox_events::seq.gt(after))
        .order(outbox_events::seq.asc())
        .limit(limit)
        .select(OutboxRow::as_select())
        .into_boxed();
    if let Some((kind, id)) = owner {
        q = q.filter(
            outbox_events::audience
                .like(Audience::like_pattern(kind, id))
                .escape('\\'),
        );
    }
    let rows = q.load(conn)?;
    // After the rows: a pruning that ran before the read shows here, so no gap goes unnoticed.
    let lowest: Option<i64> = outbox_events::table
        .select(diesel::dsl::min(outbox_events::seq))
        .first(conn)?;
    Ok(FeedRead {
        head,
        kept_from: lowest.unwrap_or(head + 1),
        rows,
    })
}
