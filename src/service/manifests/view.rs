//! Who sees a manifest, the manifest as clients read it (`ManifestDto`), and `get`.

use super::*;

impl Guarded for ManifestRow {
    type Action = ();
    fn decide(&self, who: &Principal, _: ()) -> Decision {
        let visible = match (&who.role, &who.binding) {
            (Role::Admin, _) | (Role::Auditor, Binding::Nationwide) => true,
            (Role::Regulator | Role::Auditor, Binding::Province(p)) => {
                self.source_province == p.as_str() || self.receiving_province == p.as_str()
            }
            (Role::Enterprise, Binding::Enterprise(id)) => *id == self.enterprise_id,
            (Role::Operator, Binding::Operator(id)) => *id == self.operator_id,
            _ => false,
        };
        if visible { Decision::Allow } else { Decision::Hidden }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ManifestItemDto {
    pub line: i32,
    /// The approved line of the application this quantity draws on.
    pub application_line: i32,
    pub waste_code: String,
    pub quantity_kg: String,
    /// Set at receipt.
    pub accepted_kg: Option<String>,
}

/// One discrepancy found at receipt (第18条), as reported to the receiving province.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DiscrepancyDto {
    pub line: i32,
    /// name, quantity, characteristics, form or packaging.
    pub kind: String,
    pub description: String,
    /// accept or refuse (a refused line is not accepted and goes back).
    pub decision: String,
    /// The receiving province whose department had the report, and when.
    pub reported_to: String,
    pub reported_at: String,
}

impl From<DiscrepancyRow> for DiscrepancyDto {
    fn from(d: DiscrepancyRow) -> Self {
        DiscrepancyDto {
            line: d.line,
            kind: d.kind,
            description: d.description,
            decision: d.decision,
            reported_to: d.reported_to,
            reported_at: instant(d.reported_at),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CarrierPartDto {
    pub name: String,
    /// Road-transport permit number (道路运输经营许可证号).
    pub permit_number: String,
    pub vehicle_plate: String,
    pub driver_name: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ManifestDto {
    pub id: String,
    /// 14 digits: year, source province, source city, serial.
    pub number: String,
    pub application_id: String,
    pub enterprise_id: String,
    pub operator_id: String,
    pub source_province: String,
    pub receiving_province: String,
    /// created, in_transit, received, rejected, cancelled.
    pub status: String,
    pub carrier: CarrierPartDto,
    pub route_from: String,
    pub route_to: String,
    pub departure_at: String,
    pub dispatched_at: Option<String>,
    /// The operator must confirm receipt by this instant (office close, Asia/Shanghai).
    pub receipt_due_at: Option<String>,
    pub receipt_due_on: Option<String>,
    pub receipt_due_provisional: bool,
    pub receipt_overdue: bool,
    pub received_at: Option<String>,
    /// Why the load was rejected or the manifest cancelled.
    pub reason: Option<String>,
    /// Whether the operator found the load different from the manifest (any kind).
    pub discrepancy: bool,
    pub discrepancy_note: Option<String>,
    /// What the operator found different, line by line, with its decision (第18条); given when
    /// one manifest is read or acted on, left out of lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discrepancies: Option<Vec<DiscrepancyDto>>,
    /// When the load arrived at the operator: the five-working-day receipt clock runs from it.
    pub arrived_at: Option<String>,
    /// `operator`, or `carrier` (recorded by the producer for its carrier).
    pub arrival_reported_by: Option<String>,
    /// 第20条: a trip made on a paper manifest and entered afterwards.
    pub back_filled: bool,
    pub paper_number: Option<String>,
    /// The back-fill was due by this day (10 working days after the trip ended).
    pub backfill_due_on: Option<String>,
    /// The back-fill came after its deadline.
    pub backfill_overdue: bool,
    pub items: Vec<ManifestItemDto>,
    /// The ETag value (without quotes) for If-Match.
    pub version: i32,
    pub created_at: String,
}

fn instant(t: chrono::NaiveDateTime) -> String {
    from_db_time(t).to_rfc3339()
}

pub fn to_dto(m: ManifestRow, items: Vec<ManifestItemRow>) -> ManifestDto {
    ManifestDto {
        items: items
            .into_iter()
            .map(|i| ManifestItemDto {
                line: i.line,
                application_line: i.application_line,
                waste_code: i.waste_code,
                quantity_kg: grams_to_kg_string(i.quantity_g),
                accepted_kg: i.accepted_g.map(grams_to_kg_string),
            })
            .collect(),
        carrier: CarrierPartDto {
            name: m.carrier_name,
            permit_number: m.carrier_permit,
            vehicle_plate: m.vehicle_plate,
            driver_name: m.driver_name,
        },
        id: m.id,
        number: m.number,
        application_id: m.application_id,
        enterprise_id: m.enterprise_id,
        operator_id: m.operator_id,
        source_province: m.source_province,
        receiving_province: m.receiving_province,
        status: m.status,
        route_from: m.route_from,
        route_to: m.route_to,
        departure_at: instant(m.departure_at),
        dispatched_at: m.dispatched_at.map(instant),
        receipt_due_at: m.receipt_due_at.map(instant),
        receipt_due_on: m.receipt_due_on,
        receipt_due_provisional: m.receipt_due_provisional,
        receipt_overdue: m.receipt_overdue_at.is_some(),
        received_at: m.received_at.map(instant),
        reason: m.rejected_reason,
        discrepancy: m.discrepancy,
        discrepancy_note: m.discrepancy_note,
        discrepancies: None,
        arrived_at: m.arrived_at.map(instant),
        arrival_reported_by: m.arrival_reported_by,
        back_filled: m.back_filled,
        paper_number: m.paper_number,
        backfill_due_on: m.backfill_due_on,
        backfill_overdue: m.backfill_overdue_at.is_some(),
        version: m.version,
        created_at: instant(m.created_at),
    }
}

/// A manifest with its lines and discrepancies, if the caller may see it.
pub(super) async fn load(
    state: &AppState,
    who: &Principal,
    id: String,
) -> Result<(ManifestRow, Vec<ManifestItemRow>, Vec<DiscrepancyRow>)> {
    let (m, items, found) = state
        .db
        .run(move |conn| {
            let Some(m) = db::manifests::by_id(conn, &id)? else {
                return Ok(None);
            };
            let items = db::manifests::items_of(conn, &m.id)?;
            let found = db::manifests::discrepancies_of(conn, &m.id)?;
            Ok(Some((m, items, found)))
        })
        .await?
        .ok_or(Error::Hidden)?;
    authorize(who, &m, ())?;
    Ok((m, items, found))
}

/// The manifest as one read shows it: with its discrepancies.
pub fn to_full_dto(m: ManifestRow, items: Vec<ManifestItemRow>, found: Vec<DiscrepancyRow>) -> ManifestDto {
    ManifestDto {
        discrepancies: Some(found.into_iter().map(DiscrepancyDto::from).collect()),
        ..to_dto(m, items)
    }
}

/// One manifest, if the caller may see it.
pub async fn get(state: &AppState, ctx: &Ctx, id: String) -> Result<ManifestDto> {
    let (m, items, found) = load(state, &ctx.who, id).await?;
    Ok(to_full_dto(m, items, found))
}
