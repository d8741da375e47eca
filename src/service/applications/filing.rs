//! Filing a transfer application (转移申请) and its dry run: the command as clients send it, its
//! checks (every problem at once, the period's cross-field rules included), and the one use case
//! both the JSON API and any other door call.

use chrono::{Duration, NaiveDate, NaiveTime};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ArrayBuilder, Schema};
use validator::{Validate, ValidationError};

use super::case::{ApplicationDto, load_dto};
use crate::auth::principal::{Binding, Principal, Role};
use crate::db::{
    self,
    applications::{Assessment, Carrier, FileOutcome, Filing, FilingItem, Method},
};
use crate::domain::calendar::{WorkingDayCalendar, deadline_instant, parse_date, shanghai_date};
use crate::domain::catalogue::{Hazard, WASTE_CODE_PATTERN, WasteCode};
use crate::domain::quantity::{KG_PATTERN, Quantity, grams_to_kg_string};
use crate::domain::workflow::{Route, StepKind, step_due};
use crate::service::commands::{
    date_schema, enum_schema, present, text_schema, valid_date, valid_kg, valid_text, validation_problems,
};
use crate::service::error::{FieldProblem, Location, validation_error};
use crate::service::{Ctx, Error, Result};
use crate::state::AppState;

/// How the waste is handled: the six spellings `Method::parse` takes.
const METHODS: &[&str] = &["utilise", "dispose", "store", "利用", "处置", "贮存"];

/// One line of waste.
#[derive(Debug, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemInput {
    /// NNN-NNN-NN, in the catalogue edition in force today.
    #[validate(custom(function = "valid_waste_code"))]
    #[schema(schema_with = waste_code_schema)]
    pub waste_code: String,
    #[validate(custom(function = "valid_text::<200>"))]
    #[schema(schema_with = text_schema::<200>)]
    pub waste_name: String,
    /// 固态, 液态, 半固态, 气态 …
    #[validate(custom(function = "valid_text::<50>"))]
    #[schema(schema_with = text_schema::<50>)]
    pub physical_form: String,
    /// Hazard characteristics: T, C, I, R, In; each once. (Checked in
    /// [`ApplicationInput::problems`], which points at the very item of the list.)
    #[schema(schema_with = hazards_schema)]
    pub hazards: Vec<String>,
    #[validate(custom(function = "valid_text::<100>"))]
    #[schema(schema_with = text_schema::<100>)]
    pub packaging: String,
    /// kg above zero, a decimal string with at most 3 decimals.
    #[validate(custom(function = "valid_kg"))]
    #[schema(schema_with = kg_schema)]
    pub quantity_kg: String,
}

/// A carrier named on the filing (the manifest names its own trips' carriers).
#[derive(Debug, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FilingCarrierInput {
    #[validate(custom(function = "valid_text::<200>"))]
    #[schema(schema_with = text_schema::<200>)]
    pub name: String,
    /// 道路运输经营许可证 number.
    #[validate(custom(function = "valid_text::<64>"))]
    #[schema(schema_with = text_schema::<64>)]
    pub permit_number: String,
    /// Leave it out when not known yet.
    #[serde(default, deserialize_with = "present")]
    #[validate(custom(function = "valid_text::<20>"))]
    #[schema(schema_with = text_schema::<20>)]
    pub plate: Option<String>,
}

/// Body of a filing (and of the dry-run check). The period ends on or after its start, within
/// 366 days of it, and not before today.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationInput {
    /// The receiving operator (经营单位).
    #[validate(custom(function = "valid_text::<64>"))]
    #[schema(schema_with = text_schema::<64>)]
    pub operator_id: String,
    /// utilise (利用), dispose (处置) or store (贮存).
    #[validate(custom(function = "valid_method"))]
    #[schema(schema_with = method_schema)]
    pub method: String,
    #[validate(custom(function = "valid_date"))]
    #[schema(schema_with = date_schema)]
    pub period_start: String,
    #[validate(custom(function = "valid_date"))]
    #[schema(schema_with = date_schema)]
    pub period_end: String,
    #[validate(length(min = 1, max = 50), nested)]
    #[schema(min_items = 1, max_items = 50)]
    pub items: Vec<ItemInput>,
    #[validate(length(min = 1), nested)]
    #[schema(min_items = 1)]
    pub carriers: Vec<FilingCarrierInput>,
}

fn valid_waste_code(s: &str) -> std::result::Result<(), ValidationError> {
    WasteCode::parse(s).map(|_| ()).map_err(validation_error)
}

fn waste_code_schema() -> Schema {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .pattern(Some(WASTE_CODE_PATTERN))
        .description(Some("a waste code NNN-NNN-NN of the catalogue (国家危险废物名录)"))
        .into()
}

/// The schema of a quantity above zero in kilograms.
pub fn kg_schema() -> Schema {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .pattern(Some(KG_PATTERN))
        .description(Some("kilograms above zero, at most 3 decimals, up to 1000000000"))
        .into()
}

fn valid_method(s: &str) -> std::result::Result<(), ValidationError> {
    Method::parse(s).map(|_| ()).map_err(validation_error)
}

fn method_schema() -> Schema {
    enum_schema(METHODS, "utilise (利用), dispose (处置) or store (贮存)")
}

/// Every problem of a hazard list, each at its item's pointer.
fn hazard_problems(list: &[String], at: &str, out: &mut Vec<FieldProblem>) {
    if list.is_empty() {
        out.push(FieldProblem::new(
            Location::Body,
            at,
            "application.hazards",
            "at least one hazard characteristic",
        ));
    }
    for (j, h) in list.iter().enumerate() {
        let problem = match Hazard::parse(h) {
            Err(invalid) => invalid,
            Ok(_) if list[..j].contains(h) => {
                crate::domain::Invalid::new("hazard.duplicate", format!("hazard {h} is listed twice"))
            }
            Ok(_) => continue,
        };
        out.push(FieldProblem::body(format!("{at}/{j}"), &problem));
    }
}

fn hazards_schema() -> Schema {
    ArrayBuilder::new()
        .items(RefOr::T(enum_schema(
            &["T", "C", "I", "R", "In"],
            "a hazard characteristic",
        )))
        .min_items(Some(1))
        .max_items(Some(5))
        .unique_items(true)
        .into()
}

impl ApplicationInput {
    /// Every problem of the command at once: each field's, then the period's, which depend on
    /// `today`.
    pub fn problems(&self, today: NaiveDate) -> Vec<FieldProblem> {
        let mut problems = self
            .validate()
            .err()
            .map(|e| validation_problems(&e))
            .unwrap_or_default();
        for (i, item) in self.items.iter().enumerate() {
            hazard_problems(&item.hazards, &format!("/items/{i}/hazards"), &mut problems);
        }
        if let (Ok(start), Ok(end)) = (parse_date(&self.period_start), parse_date(&self.period_end)) {
            let mut period = |code: &str, message: &str| {
                problems.push(FieldProblem::new(Location::Body, "/period_end", code, message));
            };
            if end < start {
                period("application.period", "period_end is before period_start");
            } else if end > start + Duration::days(366) {
                period("application.period_too_long", "a requested period is at most one year");
            }
            if end < today {
                period("application.period_past", "the requested period is already over");
            }
        }
        problems.sort_by(|a, b| a.pointer.cmp(&b.pointer));
        problems
    }

    /// [`ApplicationInput::problems`] as of today in Asia/Shanghai.
    pub fn problems_today(&self) -> Vec<FieldProblem> {
        self.problems(shanghai_date(chrono::Utc::now()))
    }

    /// The filing the database takes, once [`ApplicationInput::problems`] found nothing.
    fn into_filing(
        self,
        enterprise_id: String,
        filed_by: String,
        idempotency_key: Option<String>,
        request_hash: String,
        today: NaiveDate,
    ) -> Result<Filing> {
        let problems = self.problems(today);
        if !problems.is_empty() {
            return Err(Error::Invalid(problems));
        }
        let invalid = |e: crate::domain::Invalid| Error::invalid_field("", &e);
        let mut items = Vec::with_capacity(self.items.len());
        for item in self.items {
            items.push(FilingItem {
                code: WasteCode::parse(&item.waste_code).map_err(invalid)?,
                name: item.waste_name.trim().to_string(),
                physical_form: item.physical_form.trim().to_string(),
                hazards: Hazard::parse_list(&item.hazards.join("/"))
                    .map_err(invalid)?
                    .iter()
                    .map(|h| h.as_str())
                    .collect::<Vec<_>>()
                    .join("/"),
                packaging: item.packaging.trim().to_string(),
                quantity: Quantity::parse_kg(&item.quantity_kg).map_err(invalid)?,
            });
        }
        Ok(Filing {
            enterprise_id,
            operator_id: self.operator_id.trim().to_string(),
            method: Method::parse(&self.method).map_err(invalid)?,
            period_start: parse_date(&self.period_start).map_err(invalid)?,
            period_end: parse_date(&self.period_end).map_err(invalid)?,
            carriers: self
                .carriers
                .into_iter()
                .map(|c| Carrier {
                    name: c.name.trim().to_string(),
                    permit_number: c.permit_number.trim().to_string(),
                    plate: c.plate.map(|p| p.trim().to_string()),
                })
                .collect(),
            items,
            idempotency_key,
            request_hash,
            filed_by,
        })
    }
}

/// Only a producer enterprise (its people or its API clients) files.
fn enterprise_of(who: &Principal) -> Result<String> {
    match (&who.role, &who.binding) {
        (Role::Enterprise, Binding::Enterprise(id)) => Ok(id.clone()),
        _ => Err(Error::Forbidden(
            "only a producer enterprise files transfer applications".into(),
        )),
    }
}

/// A filing that happened: the case, and whether it is the first answer to an earlier request
/// with the same `Idempotency-Key`.
pub struct Filed {
    pub application: ApplicationDto,
    pub version: i32,
    pub replayed: bool,
}

/// Files a transfer application: routed to the whitelist when every item matches a confirmed
/// entry with quota left (reserved in the same transaction), else to the standard route with the
/// reasons kept. Waste the operator may not take is refused with every reason. A key used before
/// for the same request (`request_hash`) gives the first answer; for another request, a problem.
pub async fn file(
    state: &AppState,
    ctx: &Ctx,
    input: ApplicationInput,
    idempotency_key: Option<String>,
    request_hash: String,
) -> Result<Filed> {
    let enterprise_id = enterprise_of(&ctx.who)?;
    let now = ctx.now;
    let filing = input.into_filing(
        enterprise_id,
        ctx.who.name.clone(),
        idempotency_key,
        request_hash,
        shanghai_date(now),
    )?;
    let cal = state.calendar().await?;
    let close = state.config.office_close;
    let outcome = state
        .db
        .run(move |conn| {
            let (outcome, _) = db::applications::file(conn, &cal, close, &filing, now)?;
            Ok(match outcome {
                FileOutcome::Filed(app) => Ok((app.version, false, load_dto(conn, &cal, app, now)?)),
                FileOutcome::Replayed(app) => Ok((app.version, true, load_dto(conn, &cal, app, now)?)),
                FileOutcome::KeyReused => Err(crate::service::commands::key_reused()),
                FileOutcome::Refused(list) => Err(refusals(list)),
            })
        })
        .await??;
    let (version, replayed, application) = outcome;
    crate::service::catalogue::note_used(state, application.catalogue_edition, shanghai_date(now));
    if !replayed {
        tracing::info!(application = %application.id, route = %application.route, "application filed");
    }
    Ok(Filed {
        application,
        version,
        replayed,
    })
}

fn refusals(list: Vec<(String, crate::domain::Invalid)>) -> Error {
    Error::Invalid(list.into_iter().map(|(p, i)| FieldProblem::body(p, &i)).collect())
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ItemCheck {
    pub line: usize,
    pub entry_id: Option<String>,
    pub entry_version: Option<i32>,
    /// Quota left on the entry after this item (and earlier items on the same entry), kg.
    pub remaining_after_kg: Option<String>,
    pub reasons: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckResult {
    /// Would the filing be accepted at all (no refusal)?
    pub acceptable: bool,
    pub route: String,
    /// Every reason it is not on the whitelist route.
    pub reasons: Vec<String>,
    /// Every reason it would be refused outright.
    pub refusals: Vec<FieldProblem>,
    pub receiving_consent: String,
    pub items: Vec<ItemCheck>,
    /// If filed now: acceptance due (5 working days from today).
    pub acceptance_due_at: String,
    /// If accepted today: the decision due (whitelist 5 WD; standard: the source review, 5 WD).
    pub decision_due_at: String,
    pub provisional: bool,
    /// The catalogue edition the codes were checked against: the one in force today, or, when
    /// its table is not loaded, the latest loaded edition (and `warnings` says so).
    pub catalogue_edition: i32,
    /// `catalogue.edition_missing` when the edition in force today is not loaded.
    pub warnings: Vec<crate::service::catalogue::Warning>,
}

/// The dry run of a filing: the route and why, the matched entries with the quota left, the
/// deadlines, and every reason it would fail. Nothing is stored.
pub async fn check(state: &AppState, ctx: &Ctx, input: ApplicationInput) -> Result<CheckResult> {
    let enterprise_id = enterprise_of(&ctx.who)?;
    let today = shanghai_date(ctx.now);
    let filing = input.into_filing(enterprise_id, ctx.who.name.clone(), None, String::new(), today)?;
    let cal = state.calendar().await?;
    let close = state.config.office_close;
    let assessment = state
        .db
        .run(move |conn| db::applications::assess(conn, &filing, today))
        .await?;
    let warnings = crate::service::catalogue::note_used(state, assessment.edition, today);
    Ok(check_result(assessment, &cal, close, today, warnings))
}

fn check_result(
    a: Assessment,
    cal: &WorkingDayCalendar,
    close: NaiveTime,
    today: NaiveDate,
    warnings: Vec<crate::service::catalogue::Warning>,
) -> CheckResult {
    let acc = step_due(cal, StepKind::Acceptance, today, &[], today);
    let kind = if a.route == Route::Whitelist {
        StepKind::WhitelistDecision
    } else {
        StepKind::SourceReview
    };
    let dec = step_due(cal, kind, today, &[], today);
    CheckResult {
        acceptable: a.refusals.is_empty(),
        route: a.route.as_str().to_string(),
        reasons: a.reasons,
        refusals: a
            .refusals
            .iter()
            .map(|(p, i)| FieldProblem::body(p.clone(), i))
            .collect(),
        receiving_consent: a.receiving_consent,
        items: a
            .items
            .into_iter()
            .map(|m| ItemCheck {
                line: m.line,
                entry_id: m.entry.as_ref().map(|e| e.id.clone()),
                entry_version: m.entry.as_ref().map(|e| e.version),
                remaining_after_kg: m.remaining_after_g.map(grams_to_kg_string),
                reasons: m.reasons,
            })
            .collect(),
        acceptance_due_at: deadline_instant(acc.date, close).to_rfc3339(),
        decision_due_at: deadline_instant(dec.date, close).to_rfc3339(),
        provisional: acc.provisional || dec.provisional,
        catalogue_edition: a.edition,
        warnings,
    }
}
