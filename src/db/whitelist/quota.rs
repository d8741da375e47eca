//! The quota guard: each movement (reserve, commit, release, ship, receive) is one conditional
//! UPDATE of the entry plus a ledger row, so `reserved + approved <= quota` holds on both backends.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{quota_ledger, whitelist_entries};
use crate::db::{DbConnection, DbResult, audit, db_now, new_id, write_tx};

/// A quota movement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Movement {
    /// Filed on the whitelist route: hold the quantity.
    Reserve,
    /// Approved: the held quantity becomes approved.
    Commit,
    /// Refused or withdrawn: the held quantity is freed.
    Release,
    /// An approval expired unused: the unused approved quantity is freed.
    ReleaseApproved,
    /// A manifest was dispatched: the quantity is on its way to the operator.
    Ship,
    /// A dispatched load was rejected by the operator and goes back: the shipment is undone.
    Return,
    /// The operator accepted this quantity at receipt.
    Receive,
}

impl Movement {
    pub fn as_str(self) -> &'static str {
        match self {
            Movement::Reserve => "reserve",
            Movement::Commit => "commit",
            Movement::Release => "release",
            Movement::ReleaseApproved => "release_approved",
            Movement::Ship => "ship",
            Movement::Return => "return",
            Movement::Receive => "receive",
        }
    }
}

/// Applies one movement of `grams` to an entry if its guard holds, with its ledger row. Returns
/// false (changing nothing) when it does not: for `Reserve`, when the entry is not confirmed or
/// `reserved + approved + grams` would exceed the quota. Call inside the caller's transaction.
pub fn apply_movement(
    conn: &mut DbConnection,
    entry_id: &str,
    movement: Movement,
    grams: i64,
    application_id: Option<&str>,
    actor: &str,
) -> DbResult<bool> {
    use whitelist_entries::dsl as e;
    if grams <= 0 {
        return Ok(false);
    }
    let now = db_now();
    let target = e::whitelist_entries.find(entry_id);
    // Each movement answers the entry's totals after it (`RETURNING`, one round trip while
    // the row is locked), or nothing when its guard refused it.
    let totals = (e::reserved_g, e::approved_g, e::shipped_g, e::received_g);
    let after: Option<(i64, i64, i64, i64)> = match movement {
        // The guard of DESIGN §2: one conditional UPDATE, atomic on both backends.
        Movement::Reserve => diesel::update(
            target
                .filter(e::status.eq("confirmed"))
                .filter((e::reserved_g + e::approved_g + grams).le(e::quota_g)),
        )
        .set((e::reserved_g.eq(e::reserved_g + grams), e::updated_at.eq(now)))
        .returning(totals)
        .get_result(conn)
        .optional()?,
        Movement::Commit => diesel::update(target.filter(e::reserved_g.ge(grams)))
            .set((
                e::reserved_g.eq(e::reserved_g - grams),
                e::approved_g.eq(e::approved_g + grams),
                e::updated_at.eq(now),
            ))
            .returning(totals)
            .get_result(conn)
            .optional()?,
        Movement::Release => diesel::update(target.filter(e::reserved_g.ge(grams)))
            .set((e::reserved_g.eq(e::reserved_g - grams), e::updated_at.eq(now)))
            .returning(totals)
            .get_result(conn)
            .optional()?,
        Movement::ReleaseApproved => diesel::update(target.filter(e::approved_g.ge(grams)))
            .set((e::approved_g.eq(e::approved_g - grams), e::updated_at.eq(now)))
            .returning(totals)
            .get_result(conn)
            .optional()?,
        Movement::Ship => diesel::update(target)
            .set((e::shipped_g.eq(e::shipped_g + grams), e::updated_at.eq(now)))
            .returning(totals)
            .get_result(conn)
            .optional()?,
        Movement::Return => diesel::update(target.filter(e::shipped_g.ge(grams)))
            .set((e::shipped_g.eq(e::shipped_g - grams), e::updated_at.eq(now)))
            .returning(totals)
            .get_result(conn)
            .optional()?,
        Movement::Receive => diesel::update(target)
            .set((e::received_g.eq(e::received_g + grams), e::updated_at.eq(now)))
            .returning(totals)
            .get_result(conn)
            .optional()?,
    };
    let Some((reserved, approved, shipped, received)) = after else {
        return Ok(false);
    };
    let change =
        |field: &str, after: i64, delta: i64| serde_json::json!({ field: {"from": after - delta, "to": after} });
    let diff = match movement {
        Movement::Reserve => change("reserved_g", reserved, grams),
        Movement::Release => change("reserved_g", reserved, -grams),
        Movement::Commit => serde_json::json!({
            "reserved_g": {"from": reserved + grams, "to": reserved},
            "approved_g": {"from": approved - grams, "to": approved},
        }),
        Movement::ReleaseApproved => change("approved_g", approved, -grams),
        Movement::Ship => change("shipped_g", shipped, grams),
        Movement::Return => change("shipped_g", shipped, -grams),
        Movement::Receive => change("received_g", received, grams),
    };
    audit::record(
        conn,
        "whitelist_entry",
        entry_id,
        &format!("quota_{}", movement.as_str()),
        diff,
    )?;
    diesel::insert_into(quota_ledger::table)
        .values((
            quota_ledger::id.eq(new_id()),
            quota_ledger::entry_id.eq(entry_id),
            quota_ledger::movement.eq(movement.as_str()),
            quota_ledger::amount_g.eq(grams),
            quota_ledger::application_id.eq(application_id),
            quota_ledger::actor.eq(actor),
            quota_ledger::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(true)
}

/// One movement in its own write transaction (what a filing does when it reserves).
pub fn movement_tx(
    conn: &mut DbConnection,
    entry_id: &str,
    movement: Movement,
    grams: i64,
    application_id: Option<&str>,
    actor: &str,
) -> DbResult<bool> {
    write_tx(conn, |conn| {
        apply_movement(conn, entry_id, movement, grams, application_id, actor)
    })
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = quota_ledger)]
pub struct LedgerRow {
    pub id: String,
    pub entry_id: String,
    pub movement: String,
    pub amount_g: i64,
    pub application_id: Option<String>,
    pub actor: String,
    pub created_at: NaiveDateTime,
}

pub fn ledger(conn: &mut DbConnection, entry_id: &str) -> DbResult<Vec<LedgerRow>> {
    Ok(quota_ledger::table
        .filter(quota_ledger::entry_id.eq(entry_id))
        .order(quota_ledger::id.asc())
        .select(LedgerRow::as_select())
        .load(conn)?)
}
