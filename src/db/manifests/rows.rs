//! The rows of a manifest as stored (the manifest, its lines, the discrepancies found at receipt)
//! and their plain reads.

use super::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = manifests)]
pub struct ManifestRow {
    pub id: String,
    pub number: String,
    pub application_id: String,
    pub enterprise_id: String,
    pub operator_id: String,
    pub source_province: String,
    pub receiving_province: String,
    pub source_city: String,
    pub year: i32,
    pub serial: i32,
    pub status: String,
    pub carrier_name: String,
    pub carrier_permit: String,
    pub vehicle_plate: String,
    pub driver_name: String,
    pub route_from: String,
    pub route_to: String,
    pub departure_at: NaiveDateTime,
    pub dispatched_at: Option<NaiveDateTime>,
    pub receipt_due_on: Option<String>,
    pub receipt_due_at: Option<NaiveDateTime>,
    pub receipt_due_provisional: bool,
    pub receipt_overdue_at: Option<NaiveDateTime>,
    pub received_at: Option<NaiveDateTime>,
    pub received_by: Option<String>,
    pub rejected_reason: Option<String>,
    pub discrepancy: bool,
    pub discrepancy_note: Option<String>,
    pub idempotency_key: Option<String>,
    pub request_hash: String,
    pub created_by: String,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// When the load arrived at the operator: the receipt clock runs from here.
    pub arrived_at: Option<NaiveDateTime>,
    /// Who reported the arrival: `operator`, or `carrier` (through the producer).
    pub arrival_reported_by: Option<String>,
    /// The account that recorded it.
    pub arrival_recorded_by: Option<String>,
    /// 第20条: a trip made on a paper manifest, entered afterwards.
    pub back_filled: bool,
    pub paper_number: Option<String>,
    /// The back-fill was due by this day (10 working days after the trip ended) …
    pub backfill_due_on: Option<String>,
    pub backfill_due_at: Option<NaiveDateTime>,
    /// … and came late (set when it was entered after that instant).
    pub backfill_overdue_at: Option<NaiveDateTime>,
}

/// One discrepancy the operator recorded at receipt, and when it was reported to the receiving
/// province's department.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = manifest_discrepancies)]
pub struct DiscrepancyRow {
    pub manifest_id: String,
    pub seq: i32,
    pub line: i32,
    pub kind: String,
    pub description: String,
    pub decision: String,
    pub recorded_by: String,
    /// The receiving province (GB/T 2260) whose department the report went to.
    pub reported_to: String,
    pub reported_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = manifest_items)]
pub struct ManifestItemRow {
    pub manifest_id: String,
    pub line: i32,
    /// The approved item (its `line` in the application) this quantity draws on.
    pub application_line: i32,
    pub waste_code: String,
    pub quantity_g: i64,
    pub accepted_g: Option<i64>,
}

pub fn by_id(conn: &mut DbConnection, id: &str) -> DbResult<Option<ManifestRow>> {
    Ok(manifests::table
        .find(id)
        .select(ManifestRow::as_select())
        .first(conn)
        .optional()?)
}

/// The discrepancies recorded at receipt, in order.
pub fn discrepancies_of(conn: &mut DbConnection, manifest_id: &str) -> DbResult<Vec<DiscrepancyRow>> {
    Ok(manifest_discrepancies::table
        .filter(manifest_discrepancies::manifest_id.eq(manifest_id))
        .order(manifest_discrepancies::seq.asc())
        .select(DiscrepancyRow::as_select())
        .load(conn)?)
}

pub fn items_of(conn: &mut DbConnection, manifest_id: &str) -> DbResult<Vec<ManifestItemRow>> {
    Ok(manifest_items::table
        .filter(manifest_items::manifest_id.eq(manifest_id))
        .order(manifest_items::line.asc())
        .select(ManifestItemRow::as_select())
        .load(conn)?)
}
