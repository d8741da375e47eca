//! How long the webhook records are kept. Outbox events are the changes feed and part of the
//! record: they are never deleted here (the feed promises every event as long as the database
//! keeps it). A delivery is a per-subscriber copy with its attempt log: once it is finished
//! (delivered, or failed after its day of retries) for longer than
//! [`webhooks::DELIVERY_RETENTION`](crate::webhooks::DELIVERY_RETENTION), the sweeper deletes it
//! with its attempts. A replay of such events creates fresh deliveries from the kept events.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::{webhook_attempts, webhook_deliveries};
use super::{DbConnection, DbResult, to_db_time, write_tx};

/// Deliveries deleted per call at most, so one sweep's transaction stays short.
const BATCH: i64 = 5000;

/// Deletes up to one batch of deliveries finished before `before`, with their attempts; returns
/// how many deliveries. Pending deliveries are never touched.
pub fn purge_finished(conn: &mut DbConnection, before: DateTime<Utc>) -> DbResult<usize> {
    let before = to_db_time(before);
    write_tx(conn, |conn| {
        // `next_attempt_at` is never after the finishing attempt of a delivered one and at most a
        // backoff after a failed one's, so it bounds the scan through the (status, next_attempt_at)
        // index.
        let delivered: Vec<String> = webhook_deliveries::table
            .filter(webhook_deliveries::status.eq("delivered"))
            .filter(webhook_deliveries::next_attempt_at.lt(before))
            .filter(webhook_deliveries::delivered_at.lt(before))
            .select(webhook_deliveries::id)
            .limit(BATCH)
            .load(conn)?;
        let failed: Vec<String> = webhook_deliveries::table
            .filter(webhook_deliveries::status.eq("failed"))
            .filter(webhook_deliveries::next_attempt_at.lt(before))
            .filter(webhook_deliveries::give_up_at.lt(before))
            .select(webhook_deliveries::id)
            .limit(BATCH)
            .load(conn)?;
        let mut purged = 0;
        for ids in [delivered, failed] {
            for chunk in ids.chunks(500) {
                diesel::delete(webhook_attempts::table.filter(webhook_attempts::delivery_id.eq_any(chunk)))
                    .execute(conn)?;
                purged += diesel::delete(webhook_deliveries::table.filter(webhook_deliveries::id.eq_any(chunk)))
                    .execute(conn)?;
            }
        }
        Ok(purged)
    })
}
