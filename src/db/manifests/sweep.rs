//! The sweeper's duties on manifests: late receipts marked, provisional receipt deadlines
//! recomputed.

use super::*;

/// Marks manifests whose receipt is late (a flag and an audit record; nothing else changes).
/// Returns the ids marked; safe to run twice.
pub fn sweep(conn: &mut DbConnection, now: DateTime<Utc>) -> DbResult<Vec<String>> {
    let now_db = to_db_time(now);
    let late: Vec<ManifestRow> = manifests::table
        .filter(manifests::status.eq("in_transit"))
        .filter(manifests::receipt_due_at.lt(now_db))
        .filter(manifests::receipt_overdue_at.is_null())
        // A provisional receipt deadline (a year without the notice) waits for the notice.
        .filter(manifests::receipt_due_provisional.eq(false))
        .select(ManifestRow::as_select())
        .load(conn)?;
    let mut marked = Vec::new();
    for m in late {
        let done = write_tx(conn, |conn| {
            let n = diesel::update(
                manifests::table
                    .find(&m.id)
                    .filter(manifests::status.eq("in_transit"))
                    .filter(manifests::receipt_overdue_at.is_null()),
            )
            .set(manifests::receipt_overdue_at.eq(Some(now_db)))
            .execute(conn)?;
            if n == 1 {
                audit::record(
                    conn,
                    "manifest",
                    &m.id,
                    "receipt_overdue",
                    serde_json::json!({ "receipt_overdue_at": {"from": null, "to": now_db} }),
                )?;
            }
            Ok::<_, DbError>(n == 1)
        })?;
        if done {
            marked.push(m.id);
        }
    }
    Ok(marked)
}

/// Recomputes receipt deadlines that were provisional (after a calendar year is imported).
pub fn recompute_provisional(
    conn: &mut DbConnection,
    cal: &WorkingDayCalendar,
    office_close: NaiveTime,
) -> DbResult<usize> {
    write_tx(conn, |conn| {
        let open: Vec<ManifestRow> = manifests::table
            .filter(manifests::status.eq("in_transit"))
            .filter(manifests::receipt_due_provisional.eq(true))
            .select(ManifestRow::as_select())
            .load(conn)?;
        for m in &open {
            // The clock runs from arrival.
            let Some(arrived) = m.arrived_at else { continue };
            let due = cal.add_working_days(shanghai_date(arrived.and_utc()), RECEIPT_WORKING_DAYS);
            let due_on = due.date.to_string();
            diesel::update(manifests::table.find(&m.id))
                .set((
                    manifests::receipt_due_on.eq(Some(&due_on)),
                    manifests::receipt_due_at.eq(Some(to_db_time(deadline_instant(due.date, office_close)))),
                    manifests::receipt_due_provisional.eq(due.provisional),
                ))
                .execute(conn)?;
            audit::record(
                conn,
                "manifest",
                &m.id,
                "deadline_recomputed",
                serde_json::json!({
                    "receipt_due_on": {"from": m.receipt_due_on, "to": due_on},
                    "receipt_due_provisional": {"from": true, "to": due.provisional},
                }),
            )?;
        }
        Ok(open.len())
    })
}
