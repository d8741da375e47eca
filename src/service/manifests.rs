//! Shipment manifests (电子转移联单): the command a producer sends to create one, its checks, and
//! the use case. (Dispatch, receipt and cancellation move here next.)

pub mod list;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use validator::{Validate, ValidationError};

use crate::auth::principal::Principal;
use crate::auth::principal::{Binding, Role};
use crate::auth::{Decision, Guarded, authorize};
/// What a manifest's party does to it (dispatch, cancel, arrival, receipt, rejection).
pub use crate::db::manifests::ManifestAct;
use crate::db::{
    self, from_db_time,
    manifests::{
        ArrivalReporter, Clock, CreateOutcome, DiscrepancyRow, ManifestContext, ManifestItemRow, ManifestRefusal,
        ManifestRow, NewManifest, PaperTrip, Transport,
    },
};
use crate::domain::Invalid;
use crate::domain::calendar::parse_instant;
use crate::domain::manifest::{Discrepancy, DiscrepancyDecision, DiscrepancyKind};
use crate::domain::quantity::Quantity;
use crate::domain::quantity::grams_to_kg_string;
use crate::service::applications::case::load_visible;
use crate::service::applications::filing::kg_schema;
use crate::service::commands::{instant_schema, text_schema, valid_instant, valid_kg, valid_text, validation_problems};
use crate::service::error::{FieldProblem, Location, validation_error};
use crate::service::{Ctx, Error, Result};
use crate::state::AppState;

/// One line of a trip: an approved line of the application and the quantity on this vehicle.
#[derive(Debug, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ManifestItemInput {
    /// The approved line of the application.
    #[serde(deserialize_with = "crate::service::commands::whole_number")]
    #[validate(range(min = 0))]
    #[schema(minimum = 0, maximum = 2147483647)]
    pub line: i32,
    /// kg above zero, at most 3 decimals.
    #[validate(custom(function = "valid_kg"))]
    #[schema(schema_with = kg_schema)]
    pub quantity_kg: String,
}

/// The carrier of this trip (the filing names the carriers in general).
#[derive(Debug, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShipmentCarrierInput {
    #[validate(custom(function = "valid_text::<200>"))]
    #[schema(schema_with = text_schema::<200>)]
    pub name: String,
    /// 道路运输经营许可证 number.
    #[validate(custom(function = "valid_text::<64>"))]
    #[schema(schema_with = text_schema::<64>)]
    pub permit_number: String,
    /// e.g. 渝A12345.
    #[validate(custom(function = "valid_plate"))]
    #[schema(schema_with = plate_schema)]
    pub vehicle_plate: String,
    #[validate(custom(function = "valid_text::<100>"))]
    #[schema(schema_with = text_schema::<100>)]
    pub driver_name: String,
}

/// The fields of a manifest, written once for the two commands that carry them: a new manifest
/// ([`ManifestInput`]) and a manifest of a batch ([`BatchManifestInput`], which adds its own
/// `idempotency_key`), so the two cannot drift apart.
macro_rules! manifest_command {
    ($(#[$meta:meta])* $name:ident { $($extra:tt)* }) => {
        $(#[$meta])*
        #[derive(Debug, Serialize, Deserialize, Validate, ToSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $($extra)*
            /// The approved application the trip draws on.
            #[validate(custom(function = "valid_text::<64>"))]
            #[schema(schema_with = text_schema::<64>)]
            pub application_id: String,
            #[validate(length(min = 1, max = 50), nested)]
            #[schema(min_items = 1, max_items = 50)]
            pub items: Vec<ManifestItemInput>,
            #[validate(nested)]
            pub carrier: ShipmentCarrierInput,
            #[validate(custom(function = "valid_text::<200>"))]
            #[schema(schema_with = text_schema::<200>)]
            pub route_from: String,
            #[validate(custom(function = "valid_text::<200>"))]
            #[schema(schema_with = text_schema::<200>)]
            pub route_to: String,
            /// Planned departure; for a back-filled paper trip, when it left. Not before the
            /// day of the approval, nor after its validity.
            #[validate(custom(function = "valid_instant"))]
            #[schema(schema_with = instant_schema)]
            pub departure_at: String,
            /// Back-fills a trip made on a paper manifest (第20条): the trip is entered as
            /// dispatched and arrived, flagged `back_filled`; due within 10 working days of
            /// `completed_at`, and flagged overdue when later.
            #[serde(default)]
            #[validate(nested)]
            pub paper: Option<PaperTripInput>,
        }
    };
}

/// A trip made on a paper manifest because the electronic one could not run (第20条).
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaperTripInput {
    /// The paper manifest's number.
    #[validate(custom(function = "valid_text::<64>"))]
    #[schema(schema_with = text_schema::<64>)]
    pub paper_number: String,
    /// When the transfer ended (the load handed over to the operator): not before departure,
    /// not in the future.
    #[validate(custom(function = "valid_instant"))]
    #[schema(schema_with = instant_schema)]
    pub completed_at: String,
}

manifest_command!(
    /// Body of a new manifest.
    ManifestInput {}
);

manifest_command!(
    /// One manifest of a batch: the body of a new manifest, with its own key.
    BatchManifestInput {
        /// This manifest's `Idempotency-Key` (1 to 128 visible ASCII characters): the same key
        /// space as the header of `POST /manifests`, so a manifest sent again with its key, in
        /// a batch or alone, is answered as a duplicate and created once.
        #[serde(default, deserialize_with = "crate::service::commands::present")]
        #[validate(custom(function = "valid_idempotency_key"))]
        #[schema(schema_with = idempotency_key_schema)]
        pub idempotency_key: Option<String>,
    }
);

/// The most manifests one batch carries.
pub const BATCH_MAX: usize = 500;

/// Body of a batch of manifests: up to 500, each created (or refused) on its own.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchInput {
    #[validate(length(min = 1, max = 500), nested)]
    #[schema(min_items = 1, max_items = 500)]
    pub manifests: Vec<BatchManifestInput>,
}

impl BatchInput {
    /// Every problem of the command at once, pointers into the batch (`/manifests/3/…`).
    pub fn problems(&self) -> Vec<FieldProblem> {
        self.validate()
            .err()
            .map(|e| validation_problems(&e))
            .unwrap_or_default()
    }
}

impl BatchManifestInput {
    /// The manifest's own command and its key.
    pub fn split(self) -> (ManifestInput, Option<String>) {
        (
            ManifestInput {
                application_id: self.application_id,
                items: self.items,
                carrier: self.carrier,
                route_from: self.route_from,
                route_to: self.route_to,
                departure_at: self.departure_at,
                paper: self.paper,
            },
            self.idempotency_key,
        )
    }
}

/// The rule of the `Idempotency-Key` header, for a key in a body.
pub fn parse_idempotency_key(s: &str) -> std::result::Result<String, Invalid> {
    if !s.is_empty() && s.len() <= 128 && s.chars().all(|c| c.is_ascii_graphic()) {
        Ok(s.to_string())
    } else {
        Err(Invalid::new(
            "idempotency.key",
            "an idempotency key is 1 to 128 visible ASCII characters",
        ))
    }
}

fn valid_idempotency_key(s: &str) -> std::result::Result<(), ValidationError> {
    parse_idempotency_key(s).map(|_| ()).map_err(validation_error)
}

fn idempotency_key_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some("^[!-~]{1,128}$"))
        .description(Some(
            "this manifest's idempotency key: 1 to 128 visible ASCII characters (leave it out for none)",
        ))
        .into()
}

/// [`parse_plate`] as a regular expression for the published contract; a test holds them together.
pub const PLATE_PATTERN: &str = "^[一-鿿][A-Z][A-Z0-9]{4}[A-Z0-9]?[A-Z0-9挂]$";

/// A Chinese vehicle plate: a province character, a letter, then 5 (or 6 for new-energy)
/// letters and digits; trailers end in 挂.
pub fn parse_plate(s: &str) -> std::result::Result<String, Invalid> {
    let chars: Vec<char> = s.chars().collect();
    let ok = (7..=8).contains(&chars.len())
        && ('一'..='鿿').contains(&chars[0])
        && chars[1].is_ascii_uppercase()
        && chars[2..]
            .iter()
            .enumerate()
            .all(|(i, c)| c.is_ascii_uppercase() || c.is_ascii_digit() || (i == chars.len() - 3 && *c == '挂'));
    if ok {
        Ok(s.to_string())
    } else {
        Err(Invalid::new(
            "manifest.vehicle_plate",
            "a vehicle plate such as 渝A12345 (province character, letter, 5 or 6 letters and digits)",
        ))
    }
}

fn valid_plate(s: &str) -> std::result::Result<(), ValidationError> {
    parse_plate(s).map(|_| ()).map_err(validation_error)
}

fn plate_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(PLATE_PATTERN))
        .description(Some(
            "a vehicle plate such as 渝A12345: province character, letter, 5 or 6 letters and digits; trailers end in 挂",
        ))
        .into()
}

impl ManifestInput {
    /// Every problem of the command at once.
    pub fn problems(&self) -> Vec<FieldProblem> {
        self.validate()
            .err()
            .map(|e| validation_problems(&e))
            .unwrap_or_default()
    }
}

/// A manifest that was created, or the first answer to an earlier request with the same key.
pub struct Created {
    pub manifest: ManifestRow,
    pub items: Vec<ManifestItemRow>,
    pub replayed: bool,
}

/// Creates a manifest under an approved application (its producer only). Each item names an
/// approved line and a quantity within what the approval still allows; the number is drawn per
/// source city and year. Another party's application is hidden, like any object the caller may
/// not see.
pub async fn create(
    state: &AppState,
    ctx: &Ctx,
    input: ManifestInput,
    idempotency_key: Option<String>,
    request_hash: String,
) -> Result<Created> {
    let enterprise_id = enterprise_of(ctx)?;
    let problems = input.problems();
    if !problems.is_empty() {
        return Err(Error::Invalid(problems));
    }
    let invalid = |e: Invalid| Error::invalid_field("", &e);
    let mut items = Vec::with_capacity(input.items.len());
    for item in &input.items {
        items.push((
            item.line,
            Quantity::parse_kg(&item.quantity_kg).map_err(invalid)?.grams(),
        ));
    }
    let paper = match &input.paper {
        Some(p) => Some(PaperTrip {
            number: p.paper_number.trim().to_string(),
            completed_at: parse_instant(&p.completed_at).map_err(invalid)?,
        }),
        None => None,
    };
    let new = NewManifest {
        paper,
        application_id: input.application_id.trim().to_string(),
        enterprise_id,
        items,
        transport: Transport {
            carrier_name: input.carrier.name.trim().to_string(),
            carrier_permit: input.carrier.permit_number.trim().to_string(),
            vehicle_plate: input.carrier.vehicle_plate,
            driver_name: input.carrier.driver_name.trim().to_string(),
            route_from: input.route_from.trim().to_string(),
            route_to: input.route_to.trim().to_string(),
            departure_at: parse_instant(&input.departure_at).map_err(invalid)?,
        },
        idempotency_key,
        request_hash,
        created_by: ctx.who.name.clone(),
    };
    load_visible(state, &ctx.who, new.application_id.clone()).await?;
    let now = ctx.now;
    let cal = state.calendar().await?;
    let office_close = state.config.office_close;
    let created = state
        .db
        .run(move |conn| {
            let clock = Clock {
                cal: &cal,
                office_close,
            };
            Ok(match db::manifests::create(conn, &clock, &new, now)? {
                CreateOutcome::Created(m) => Ok((db::manifests::items_of(conn, &m.id)?, m, false)),
                CreateOutcome::Replayed(m) => Ok((db::manifests::items_of(conn, &m.id)?, m, true)),
                CreateOutcome::KeyReused => Err(crate::service::commands::key_reused()),
                CreateOutcome::Refused(list) => Err(Error::Invalid(
                    list.into_iter().map(|(p, i)| FieldProblem::body(p, &i)).collect(),
                )),
            })
        })
        .await??;
    let (items, manifest, replayed) = created;
    if !replayed {
        tracing::info!(manifest = %manifest.number, application = %manifest.application_id, "manifest created");
    }
    Ok(Created {
        manifest,
        items,
        replayed,
    })
}

/// A manifest of a batch, as the door read it: the command, its key, and the fingerprint of its
/// body without the key (what `POST /manifests` keeps for the same body, so a key answers the
/// same way through either).
pub struct BatchItem {
    pub input: ManifestInput,
    pub idempotency_key: Option<String>,
    pub request_hash: String,
}

/// Creates up to [`BATCH_MAX`] manifests, each through [`create`] in its own transaction, in
/// order: one refused does not stop the others. Each answer is the manifest (created, or the
/// first one of its key: `replayed`) or why not, with the pointers of its problems into the
/// batch (`/manifests/3/items/0/quantity_kg`; a reused key at `/manifests/3/idempotency_key`).
/// Once the database is unavailable, the manifests after it are not tried and say so.
/// A problem of the command itself (more than 500, a field of any manifest malformed) refuses the
/// whole batch before anything is created.
pub async fn create_batch(
    state: &AppState,
    ctx: &Ctx,
    input: BatchInput,
    request_hashes: Vec<String>,
) -> Result<Vec<Result<Created>>> {
    enterprise_of(ctx)?;
    let problems = input.problems();
    if !problems.is_empty() {
        return Err(Error::Invalid(problems));
    }
    if input.manifests.len() != request_hashes.len() {
        return Err(Error::internal(anyhow::anyhow!(
            "{} manifests, {} fingerprints",
            input.manifests.len(),
            request_hashes.len()
        )));
    }
    let mut out = Vec::with_capacity(input.manifests.len());
    let mut unavailable: Option<u64> = None;
    for (i, (manifest, request_hash)) in input.manifests.into_iter().zip(request_hashes).enumerate() {
        if let Some(retry_after_secs) = unavailable {
            out.push(Err(Error::Unavailable { retry_after_secs }));
            continue;
        }
        let (input, idempotency_key) = manifest.split();
        let answer = create(state, ctx, input, idempotency_key, request_hash)
            .await
            .map_err(|e| within_batch(i, e));
        if let Err(Error::Unavailable { retry_after_secs }) = &answer {
            unavailable = Some(*retry_after_secs);
        }
        out.push(answer);
    }
    Ok(out)
}

/// A manifest's problems with their pointers into the batch.
fn within_batch(index: usize, e: Error) -> Error {
    match e {
        Error::Invalid(problems) => Error::Invalid(
            problems
                .into_iter()
                .map(|p| match p.location {
                    Location::Header if p.pointer == "/Idempotency-Key" => FieldProblem {
                        location: Location::Body,
                        pointer: format!("/manifests/{index}/idempotency_key"),
                        ..p
                    },
                    Location::Body => FieldProblem {
                        pointer: format!("/manifests/{index}{}", p.pointer),
                        ..p
                    },
                    _ => p,
                })
                .collect(),
        ),
        other => other,
    }
}

fn enterprise_of(ctx: &Ctx) -> Result<String> {
    match (&ctx.who.role, &ctx.who.binding) {
        (Role::Enterprise, Binding::Enterprise(id)) => Ok(id.clone()),
        _ => Err(Error::Forbidden(
            "only the producer enterprise creates manifests".into(),
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Who sees a manifest, the manifest as clients read it, and the acts on it (dispatch, cancel,
// receipt, rejection).

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
async fn load(
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

/// Who may ask `act` of this manifest: the producer dispatches and cancels, the operator
/// receives or rejects; the arrival is recorded by the operator, or by the producer for its
/// carrier (the act says which).
fn may_act(who: &Principal, m: &ManifestRow, act: &ManifestAct) -> bool {
    match (act, &who.role, &who.binding) {
        (
            ManifestAct::Arrive {
                reported_by: ArrivalReporter::Carrier,
                ..
            },
            Role::Enterprise,
            Binding::Enterprise(id),
        ) => *id == m.enterprise_id,
        (
            ManifestAct::Arrive {
                reported_by: ArrivalReporter::Operator,
                ..
            },
            Role::Operator,
            Binding::Operator(id),
        ) => *id == m.operator_id,
        (ManifestAct::Dispatch | ManifestAct::Cancel { .. }, Role::Enterprise, Binding::Enterprise(id)) => {
            *id == m.enterprise_id
        }
        (ManifestAct::Receive { .. } | ManifestAct::Reject { .. }, Role::Operator, Binding::Operator(id)) => {
            *id == m.operator_id
        }
        _ => false,
    }
}

/// Applies one act to a manifest for the caller, with the version it saw when it names one:
/// forbidden when it is not the caller's act, refused with the rule's code when the state does
/// not allow it (an operator without a valid licence, an approval revoked), invalid with every
/// problem of a receipt, stale when someone acted first.
pub async fn act(
    state: &AppState,
    ctx: &Ctx,
    id: String,
    expected: Option<i32>,
    act: ManifestAct,
) -> Result<ManifestDto> {
    let who = &ctx.who;
    let (m, _, _) = load(state, who, id).await?;
    if !may_act(who, &m, &act) {
        return Err(Error::Forbidden(match act {
            ManifestAct::Dispatch | ManifestAct::Cancel { .. } => {
                "only the producer enterprise dispatches or cancels its manifest".into()
            }
            ManifestAct::Arrive { .. } => {
                "only the receiving operator, or the producer for its carrier, records the arrival".into()
            }
            _ => "only the receiving operator confirms receipt".into(),
        }));
    }
    let cal = state.calendar().await?;
    let (close, percent) = (state.config.office_close, state.config.discrepancy_percent);
    let name = who.name.clone();
    let now = ctx.now;
    let result = state
        .db
        .run(move |conn| {
            let ctx = ManifestContext {
                cal: &cal,
                office_close: close,
                discrepancy_percent: percent,
                name: &name,
                now,
            };
            match db::manifests::act(conn, &ctx, &m.id, expected, &act)? {
                Ok(m) => {
                    let items = db::manifests::items_of(conn, &m.id)?;
                    let found = db::manifests::discrepancies_of(conn, &m.id)?;
                    Ok(Ok((m, items, found)))
                }
                Err(r) => Ok(Err(r)),
            }
        })
        .await
        .map_err(|e| match e {
            db::DbError::Conflict(_) => Error::Conflict("someone acted on the manifest first; reload it".into()),
            other => other.into(),
        })?;
    match result {
        Ok((m, items, found)) => Ok(to_full_dto(m, items, found)),
        Err(ManifestRefusal::State(i)) => Err(Error::Refused(i)),
        Err(ManifestRefusal::Invalid(list)) => Err(Error::Invalid(
            list.into_iter().map(|(p, i)| FieldProblem::body(p, &i)).collect(),
        )),
        Err(ManifestRefusal::Stale { current }) => Err(Error::stale("manifest", current)),
    }
}

/// What the operator found different from the manifest on one line (第18条), and its decision.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DiscrepancyInput {
    /// The manifest line.
    #[serde(deserialize_with = "crate::service::commands::whole_number")]
    #[validate(range(min = 0))]
    #[schema(minimum = 0, maximum = 2147483647)]
    pub line: i32,
    /// name (名称), quantity (数量), characteristics (特性), form (形态) or packaging (包装方式).
    #[validate(custom(function = "valid_discrepancy_kind"))]
    #[schema(schema_with = discrepancy_kind_schema)]
    pub kind: String,
    /// What was found, and why.
    #[validate(custom(function = "valid_text::<1000>"))]
    #[schema(schema_with = text_schema::<1000>)]
    pub description: String,
    /// accept: taken as found; refuse: nothing of the line is accepted (0) and it goes back.
    #[validate(custom(function = "valid_discrepancy_decision"))]
    #[schema(schema_with = discrepancy_decision_schema)]
    pub decision: String,
}

fn valid_discrepancy_kind(s: &str) -> std::result::Result<(), ValidationError> {
    DiscrepancyKind::parse(s).map(|_| ()).map_err(validation_error)
}

fn valid_discrepancy_decision(s: &str) -> std::result::Result<(), ValidationError> {
    DiscrepancyDecision::parse(s).map(|_| ()).map_err(validation_error)
}

fn discrepancy_kind_schema() -> Schema {
    let kinds: Vec<&str> = DiscrepancyKind::ALL.iter().map(|k| k.as_str()).collect();
    crate::service::commands::enum_schema(
        &kinds,
        "what differs: name, quantity, characteristics, form or packaging (部令第23号 第18条)",
    )
}

fn discrepancy_decision_schema() -> Schema {
    crate::service::commands::enum_schema(
        &["accept", "refuse"],
        "the operator's decision: accept the waste as found, or refuse the line",
    )
}

impl DiscrepancyInput {
    /// The domain's discrepancy (the fields were validated).
    pub fn to_domain(&self) -> std::result::Result<Discrepancy, Invalid> {
        Ok(Discrepancy {
            line: self.line,
            kind: DiscrepancyKind::parse(&self.kind)?,
            description: self.description.trim().to_string(),
            decision: DiscrepancyDecision::parse(&self.decision)?,
        })
    }
}

/// The arrival of a load at the operator: when (now when left out).
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArrivalInput {
    /// When the load arrived; not before dispatch, not in the future. Now when left out.
    #[serde(default, deserialize_with = "crate::service::commands::present")]
    #[validate(custom(function = "valid_instant"))]
    #[schema(schema_with = instant_schema)]
    pub arrived_at: Option<String>,
}

/// Records the arrival of a load (第18条): the operator, or the producer enterprise for its
/// carrier. The five-working-day receipt clock starts from it.
pub async fn record_arrival(
    state: &AppState,
    ctx: &Ctx,
    id: String,
    expected: Option<i32>,
    input: ArrivalInput,
) -> Result<ManifestDto> {
    if let Err(e) = input.validate() {
        return Err(Error::Invalid(validation_problems(&e)));
    }
    let at = match input.arrived_at.as_deref() {
        Some(s) => parse_instant(s).map_err(|e| Error::invalid_field("/arrived_at", &e))?,
        None => ctx.now,
    };
    let reported_by = match ctx.who.role {
        Role::Enterprise => ArrivalReporter::Carrier,
        _ => ArrivalReporter::Operator,
    };
    act(state, ctx, id, expected, ManifestAct::Arrive { at, reported_by }).await
}
