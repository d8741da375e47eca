//! Creating manifests: the command of a new manifest and of a batch (written once by a macro),
//! their field rules (idempotency key, plate), and the use cases `create` and `create_batch`.

use super::*;

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
    let calendars = state.calendars.clone();
    let office_close = state.config.office_close;
    let created = state
        .db
        .run(move |conn| {
            let cal = calendars.on(conn)?;
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
